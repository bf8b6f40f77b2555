//! UTC instants as the REST API and the key files write them: ISO 8601 with milliseconds and a `Z`
//! (`2018-04-03T14:06:58.000Z`). Parsing also accepts other RFC 3339 offsets and converts them to UTC,
//! so a client that sends local time with an offset is still understood. Every value lies between
//! years 0000 and 9999 in UTC, so it always prints and always reads back: input outside that range
//! is an error, arithmetic past it stops at its ends.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::{Duration, SystemTime};
use time::format_description::well_known::Rfc3339;
use time::macros::{datetime, format_description};
use time::OffsetDateTime;

/// A UTC instant with millisecond precision.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(OffsetDateTime);

const SHAPE: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

const MILLIS_PER_DAY: i128 = 86_400_000;
const EARLIEST: OffsetDateTime = datetime!(0000-01-01 00:00:00 UTC);
const LATEST: OffsetDateTime = datetime!(9999-12-31 23:59:59.999 UTC);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an ISO 8601 date and time in UTC years 0000 to 9999 (2018-04-03T14:06:58.000Z)")]
pub struct BadTime(pub String);

impl UtcTime {
    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    pub fn from_system(t: SystemTime) -> Self {
        Self::clamped(OffsetDateTime::from(t))
    }

    /// Milliseconds since the Unix epoch; the form the lease store keeps.
    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok().and_then(Self::within_range)
    }

    pub fn unix_millis(self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// In UTC, to the millisecond, if within years 0000..=9999.
    fn within_range(t: OffsetDateTime) -> Option<Self> {
        let utc = t.checked_to_offset(time::UtcOffset::UTC)?;
        let utc = utc.replace_millisecond(utc.millisecond()).ok()?;
        (EARLIEST..=LATEST).contains(&utc).then_some(Self(utc))
    }

    fn clamped(t: OffsetDateTime) -> Self {
        Self::within_range(t).unwrap_or(if t < EARLIEST { Self(EARLIEST) } else { Self(LATEST) })
    }

    pub fn parse(text: &str) -> Result<Self, BadTime> {
        let bad = || BadTime(crate::text::shorten(text, 40));
        let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| bad())?;
        Self::within_range(parsed).ok_or_else(bad)
    }

    pub fn plus(self, d: Duration) -> Self {
        Self::clamped(self.0.saturating_add(time::Duration::try_from(d).unwrap_or(time::Duration::MAX)))
    }

    pub fn plus_days(self, days: u32) -> Self {
        Self::clamped(self.0.saturating_add(time::Duration::days(i64::from(days))))
    }

    /// Whole days from `self` until `later`, rounded up, never negative: a key expiring in 1 hour has
    /// 1 day left, a key that expired has 0.
    pub fn days_until(self, later: UtcTime) -> u32 {
        let ms = (later.0 - self.0).whole_milliseconds();
        if ms <= 0 {
            0
        } else {
            u32::try_from((ms + MILLIS_PER_DAY - 1) / MILLIS_PER_DAY).unwrap_or(u32::MAX)
        }
    }

    /// Time left from `self` until `later`, zero when `later` has passed.
    pub fn until(self, later: UtcTime) -> Duration {
        Duration::try_from(later.0 - self.0).unwrap_or(Duration::ZERO)
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(SHAPE) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl fmt::Debug for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        UtcTime::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("`{text}` is not an ISO 8601 date and time: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_api_examples() {
        let t = UtcTime::parse("2018-04-03T14:06:58Z").unwrap();
        assert_eq!(t.to_string(), "2018-04-03T14:06:58.000Z");
        let t = UtcTime::parse("2018-04-03T17:06:58.1234+03:00").unwrap();
        assert_eq!(t.to_string(), "2018-04-03T14:06:58.123Z");
    }

    #[test]
    fn round_trips_through_millis_and_json() {
        let t = UtcTime::parse("2026-11-24T10:00:00.250Z").unwrap();
        assert_eq!(UtcTime::from_unix_millis(t.unix_millis()), Some(t));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-11-24T10:00:00.250Z\"");
        assert_eq!(serde_json::from_str::<UtcTime>(&json).unwrap(), t);
        assert!(serde_json::from_str::<UtcTime>("\"yesterday\"").is_err());
    }

    /// Regression: found by the `wire_messages` fuzz target.
    #[test]
    fn times_beyond_the_range_are_errors_not_panics() {
        assert!(UtcTime::parse("9999-12-31T23:59:59-01:00").is_err());
        assert!(UtcTime::parse("0000-01-01T00:00:00+00:01").is_err());
        assert_eq!(UtcTime::parse("9999-12-31T23:59:59Z").unwrap().to_string(), "9999-12-31T23:59:59.000Z");
        assert_eq!(UtcTime::parse("0000-01-01T00:00:00Z").unwrap().to_string(), "0000-01-01T00:00:00.000Z");
        let err = serde_json::from_str::<UtcTime>("\"9999-12-31T23:59:59-01:00\"").unwrap_err().to_string();
        assert!(err.contains("years 0000 to 9999"), "{err}");
    }

    #[test]
    fn arithmetic_stops_at_the_ends_and_still_prints() {
        let late = UtcTime::parse("9999-12-01T00:00:00Z").unwrap();
        let end = late.plus_days(u32::MAX);
        assert_eq!(end.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(UtcTime::parse(&end.to_string()), Ok(end));
        assert_eq!(late.plus(Duration::MAX).to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(UtcTime::from_unix_millis(i64::MAX), None);
        assert_eq!(UtcTime::from_unix_millis(i64::MIN), None);
    }

    #[test]
    fn days_until_rounds_up_and_stops_at_zero() {
        let t = UtcTime::parse("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(t.days_until(t.plus_days(14)), 14);
        assert_eq!(t.days_until(t.plus(Duration::from_secs(3600))), 1);
        assert_eq!(t.plus_days(1).days_until(t), 0);
        assert_eq!(t.days_until(t), 0);
    }
}
