//! The server's clock: the real UTC time, unless the test switch `LICENCESERVER_TEST_CLOCK_SHIFT_DAYS`
//! moves it by a whole number of days (negative moves it back).
//!
//! The switch exists so that expiry, `DaysLeft` and the end of an update subscription are tested on
//! this real binary, days or years ahead, without waiting. Everything the server dates — leases, key
//! validity, activation requests — reads this one clock, so a shifted server is consistent with
//! itself. It logs a warning at start when the switch is set and ignores (with an error) a value that
//! is not a whole number of days within ±100 years.

use licence_protocol::time::UtcTime;
use std::sync::OnceLock;

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
            text.chars().take(40).collect::<String>()
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
}
