//! UTC instants as the REST API and the key files write them: ISO 8601 with milliseconds and a `Z`
//! (`2018-04-03T14:06:58.000Z`). Parsing also accepts other RFC 3339 offsets and converts them to UTC,
//! so a client that sends local time with an offset is still understood.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::{Duration, SystemTime};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

/// A UTC instant with millisecond precision.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(OffsetDateTime);

const SHAPE: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

const MILLIS_PER_DAY: i128 = 86_400_000;

impl UtcTime {
    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    pub fn from_system(t: SystemTime) -> Self {
        Self::truncated(OffsetDateTime::from(t))
    }

    /// Milliseconds since the Unix epoch; the form the lease store keeps.
    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok().map(Self)
    }

    pub fn unix_millis(self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    fn truncated(t: OffsetDateTime) -> Self {
        let t = t.to_offset(time::UtcOffset::UTC);
        let ms = t.millisecond();
        Self(t.replace_millisecond(ms).unwrap_or(t))
    }

    pub fn parse(text: &str) -> Result<Self, time::error::Parse> {
        OffsetDateTime::parse(text, &Rfc3339).map(Self::truncated)
    }

    pub fn plus(self, d: Duration) -> Self {
        Self::truncated(self.0.saturating_add(time::Duration::try_from(d).unwrap_or(time::Duration::MAX)))
    }

    pub fn plus_days(self, days: u32) -> Self {
        Self(self.0.saturating_add(time::Duration::days(i64::from(days))))
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

    #[test]
    fn days_until_rounds_up_and_stops_at_zero() {
        let t = UtcTime::parse("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(t.days_until(t.plus_days(14)), 14);
        assert_eq!(t.days_until(t.plus(Duration::from_secs(3600))), 1);
        assert_eq!(t.plus_days(1).days_until(t), 0);
        assert_eq!(t.days_until(t), 0);
    }
}
