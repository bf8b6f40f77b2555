//! The one source of "now" for the vendor's tools. Tests of expiry and subscriptions need a later
//! day without waiting for it, so the real clock can be shifted by whole days through
//! `LICENCECENTRE_TEST_CLOCK_SHIFT_DAYS` (a signed integer, e.g. `30` or `-2`). A shift is announced
//! on stderr once, since a centre running with one signs wrong dates; a malformed value is ignored
//! with a warning rather than guessed at.

use licence_protocol::time::UtcTime;
use std::sync::OnceLock;

/// The test switch: days added to the real clock.
pub const CLOCK_SHIFT_ENV: &str = "LICENCECENTRE_TEST_CLOCK_SHIFT_DAYS";

const MILLIS_PER_DAY: i64 = 86_400_000;

/// The real clock plus the test shift, if any.
pub fn now() -> UtcTime {
    static SHIFT: OnceLock<i64> = OnceLock::new();
    let days = *SHIFT.get_or_init(|| shift_from_env(std::env::var(CLOCK_SHIFT_ENV).ok().as_deref()));
    shifted(UtcTime::now(), days)
}

/// `t` moved by `days` (either way), stopping at the ends of the representable range.
pub fn shifted(t: UtcTime, days: i64) -> UtcTime {
    let millis = t.unix_millis().saturating_add(days.saturating_mul(MILLIS_PER_DAY));
    UtcTime::from_unix_millis(millis).unwrap_or(if days < 0 {
        UtcTime::from_unix_millis(-62_167_219_200_000).unwrap_or(t)
    } else {
        UtcTime::from_unix_millis(253_402_300_799_999).unwrap_or(t)
    })
}

/// Reads the switch's value and warns about it; `None` and anything malformed mean no shift.
fn shift_from_env(value: Option<&str>) -> i64 {
    let Some(text) = value else { return 0 };
    match parse_shift(text) {
        Some(0) => 0,
        Some(days) => {
            eprintln!("{}: warning: {CLOCK_SHIFT_ENV}={days}: the clock is shifted by {days} day(s); this is a test switch, never set it in production", program());
            days
        }
        None => {
            eprintln!(
                "{}: warning: {CLOCK_SHIFT_ENV}=`{}` is not a whole number of days; the real clock is used",
                program(),
                licence_protocol::text::shorten(text, 40)
            );
            0
        }
    }
}

/// A signed whole number of days within ±100,000 years' worth, or `None`.
pub fn parse_shift(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    text.parse::<i64>().ok().filter(|days| days.abs() <= 36_500_000)
}

fn program() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg0| std::path::Path::new(&arg0).file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "licence".into())
}

/// `t` plus `months` calendar months, the day clamped to the target month's length (Jan 31 + 1 month
/// is Feb 28 or 29): what "a subscription for N months" means to a customer.
pub fn plus_months(t: UtcTime, months: u32) -> UtcTime {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.unix_millis()) * 1_000_000) else {
        return t;
    };
    let index = i64::from(at.year()) * 12 + i64::from(u8::from(at.month())) - 1 + i64::from(months);
    let Ok(year) = i32::try_from(index.div_euclid(12)) else { return t };
    let month_number = u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1);
    let Ok(month) = time::Month::try_from(month_number) else { return t };
    let day = at.day().min(month.length(year));
    let Ok(date) = time::Date::from_calendar_date(year, month, day) else {
        return UtcTime::from_unix_millis(253_402_300_799_999).unwrap_or(t);
    };
    let moved = at.replace_date(date);
    UtcTime::from_unix_millis((moved.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or_else(|| UtcTime::from_unix_millis(253_402_300_799_999).unwrap_or(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> UtcTime {
        UtcTime::parse(text).unwrap()
    }

    #[test]
    fn shifts_are_signed_whole_days() {
        assert_eq!(parse_shift("30"), Some(30));
        assert_eq!(parse_shift(" -2 "), Some(-2));
        assert_eq!(parse_shift(""), Some(0));
        assert_eq!(parse_shift("1.5"), None);
        assert_eq!(parse_shift("tomorrow"), None);
        assert_eq!(shift_from_env(Some("x")), 0);
        let t = at("2026-01-01T00:00:00Z");
        assert_eq!(shifted(t, 31).to_string(), "2026-02-01T00:00:00.000Z");
        assert_eq!(shifted(t, -1).to_string(), "2025-12-31T00:00:00.000Z");
        assert_eq!(shifted(t, 36_500_000).to_string(), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn months_are_calendar_months_clamped_to_the_month_end() {
        assert_eq!(plus_months(at("2026-01-31T10:00:00Z"), 1).to_string(), "2026-02-28T10:00:00.000Z");
        assert_eq!(plus_months(at("2026-11-15T00:00:00Z"), 12).to_string(), "2027-11-15T00:00:00.000Z");
        assert_eq!(plus_months(at("2026-11-15T00:00:00Z"), 2).to_string(), "2027-01-15T00:00:00.000Z");
        assert_eq!(plus_months(at("9999-11-15T00:00:00Z"), 5).to_string(), "9999-12-31T23:59:59.999Z");
    }
}
