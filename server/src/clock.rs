//! The server's clock: the real UTC time, unless the test switch `LICENCESERVER_TEST_CLOCK_SHIFT_DAYS`
//! moves it by a whole number of days (negative moves it back).
//!
//! The switch exists so that expiry, `DaysLeft` and the end of an update subscription are tested on
//! this real binary, days or years ahead, without waiting. Everything the server dates — leases, key
//! validity, activation requests — reads this one clock, so a shifted server is consistent with
//! itself. It logs a warning at start when the switch is set and ignores (with an error) a value that
//! is not a whole number of days within ±100 years.
//!
//! The running server reads time through [`Clock`]: [`SystemClock`] in the binary, a [`ManualClock`]
//! that tests move by hand, so that lease expiry, login waits and token lifetimes are tested without
//! waiting for them.

use licence_protocol::time::UtcTime;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Where the server's parts read the time.
pub trait Clock: Send + Sync {
    /// Now, in UTC (for leases, key validity, tokens).
    fn now(&self) -> UtcTime;
    /// Time since an arbitrary fixed start, never going back (for waits that a change of the system
    /// clock must not shorten, such as the wait after failed logins).
    fn monotonic(&self) -> Duration;
}

/// The real clock, with the test switch applied.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UtcTime {
        now()
    }

    fn monotonic(&self) -> Duration {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }
}

/// A clock that stands still until it is moved: the test fake.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<(UtcTime, Duration)>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn at(start: UtcTime) -> Self {
        Self { state: Mutex::new((start, Duration::ZERO)) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 = state.0.plus(by);
        state.1 += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UtcTime {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    fn monotonic(&self) -> Duration {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

/// The environment variable of the test switch.
pub const SHIFT_VAR: &str = "LICENCESERVER_TEST_CLOCK_SHIFT_DAYS";

const MAX_SHIFT_DAYS: i64 = 36_525;
const MILLIS_PER_DAY: i64 = 86_400_000;

/// Now, as the server sees it.
pub fn now() -> UtcTime {
    let shift = shift_days();
    if shift == 0 {
        return UtcTime::now();
    }
    let real = UtcTime::now();
    UtcTime::from_unix_millis(real.unix_millis() + shift * MILLIS_PER_DAY).unwrap_or(real)
}

fn shift_days() -> i64 {
    static SHIFT: OnceLock<i64> = OnceLock::new();
    *SHIFT.get_or_init(|| std::env::var(SHIFT_VAR).ok().and_then(|v| parse_shift(&v)).unwrap_or(0))
}

fn parse_shift(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|d| d.abs() <= MAX_SHIFT_DAYS)
}

/// Says at start whether the test switch is in force or was given a value it cannot use.
pub fn log_test_switch() {
    let Ok(text) = std::env::var(SHIFT_VAR) else { return };
    match parse_shift(&text) {
        Some(days) => log::warn!("{SHIFT_VAR} is set: this server's clock runs {days} day(s) off (a test switch)"),
        None => log::error!(
            "{SHIFT_VAR}=`{}` is not a whole number of days within ±{MAX_SHIFT_DAYS}; it is ignored",
            licence_protocol::text::shorten(&text, 40)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_days_within_a_century_shift_the_clock() {
        assert_eq!(parse_shift("400"), Some(400));
        assert_eq!(parse_shift(" -30 "), Some(-30));
        assert_eq!(parse_shift("1.5"), None);
        assert_eq!(parse_shift("99999999"), None);
        assert_eq!(parse_shift(""), None);
    }

    #[test]
    fn a_manual_clock_moves_only_when_moved() {
        let start = UtcTime::from_unix_millis(1_800_000_000_000).unwrap();
        let clock = ManualClock::at(start);
        assert_eq!((clock.now(), clock.monotonic()), (start, Duration::ZERO));
        clock.advance(Duration::from_secs(3));
        assert_eq!(clock.now().unix_millis(), start.unix_millis() + 3000);
        assert_eq!(clock.monotonic(), Duration::from_secs(3));
    }
}
