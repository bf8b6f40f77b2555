//! The safe value a property or parameter holds on the Rust side, and the 1C types it stands for.
//! The FFI layer converts the platform's `tVariant` to and from this; components never see variants.

/// A 1C value. Numbers that fit in an `i32` arrive as [`Value::Int`], all others as [`Value::Double`]
/// (1C numbers are decimals; 64-bit integers beyond ±2^53 lose precision, as in 1C's own `Число`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `Неопределено` (also a skipped argument and the platform's NULL).
    Empty,
    Bool(bool),
    Int(i32),
    Double(f64),
    Str(String),
    /// `ДвоичныеДанные`.
    Blob(Vec<u8>),
    Date(Date),
}

/// A calendar date and time without a time zone, as 1C's `Дата` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: i32,
    /// 1..=12
    pub month: u8,
    /// 1..=31
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl Date {
    /// Converts an OLE automation date (days since 1899-12-30, the fraction is the time of day).
    /// `None` for values that are not finite or lie outside years 1..=9999.
    pub fn from_ole(ole: f64) -> Option<Date> {
        if !ole.is_finite() || !(-693_593.0..=2_958_466.0).contains(&ole) {
            return None;
        }
        let total_seconds = (ole * 86_400.0).round() as i64;
        Date::from_unix_seconds(total_seconds - OLE_EPOCH_DAYS_BEFORE_UNIX * 86_400)
    }
}

/// Days from 1899-12-30, day 0 of OLE automation dates, to 1970-01-01.
const OLE_EPOCH_DAYS_BEFORE_UNIX: i64 = 25_569;

/// Days from 0001-01-01 (day 0) to 1970-01-01, the Unix epoch.
const UNIX_EPOCH_ORDINAL: i64 = 719_162;

impl Date {
    /// The date at `seconds` since the Unix epoch, read as UTC; `None` outside years 1..=9999.
    pub fn from_unix_seconds(seconds: i64) -> Option<Date> {
        let (days, secs) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        let (year, month, day) = civil_from_ordinal(days.checked_add(UNIX_EPOCH_ORDINAL)?);
        (1..=9999).contains(&year).then_some(Date {
            year,
            month,
            day,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
        })
    }

    /// Seconds since the Unix epoch of this date read as UTC (fields out of range roll over, as
    /// `mktime` does).
    pub fn to_unix_seconds(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), i64::from(self.month), i64::from(self.day));
        days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
    }
}

/// Days from 1970-01-01 to `year-month-day` in the proleptic Gregorian calendar, counting years from
/// March so that the leap day ends a year.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let months = year * 12 + (month - 1);
    let (year, month) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    let march_year = if month <= 2 { year - 1 } else { year };
    let era = march_year.div_euclid(400);
    let year_of_era = march_year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Year, month and day of `ordinal`, the number of days since 0001-01-01 (day 0).
fn civil_from_ordinal(ordinal: i64) -> (i32, u8, u8) {
    const DAYS_400: i64 = 146_097;
    const DAYS_100: i64 = 36_524;
    const DAYS_4: i64 = 1_461;
    let (q400, rest) = (ordinal.div_euclid(DAYS_400), ordinal.rem_euclid(DAYS_400));
    let q100 = (rest / DAYS_100).min(3);
    let rest = rest - q100 * DAYS_100;
    let q4 = rest / DAYS_4;
    let rest = rest - q4 * DAYS_4;
    let q1 = (rest / 365).min(3);
    let mut day_of_year = rest - q1 * 365;
    let year = 1 + q400 * 400 + q100 * 100 + q4 * 4 + q1;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let lengths = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 1u8;
    for len in lengths {
        if day_of_year < len {
            break;
        }
        day_of_year -= len;
        month += 1;
    }
    (year as i32, month, day_of_year as u8 + 1)
}

impl Value {
    /// The 1C name of the value's type, used in wrong-type messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Empty => "Undefined (Неопределено)",
            Value::Bool(_) => "Boolean (Булево)",
            Value::Int(_) | Value::Double(_) => "Number (Число)",
            Value::Str(_) => "String (Строка)",
            Value::Blob(_) => "BinaryData (ДвоичныеДанные)",
            Value::Date(_) => "Date (Дата)",
        }
    }

    /// The number, whichever representation it arrived in.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(f64::from(i)),
            Value::Double(d) => Some(d),
            _ => None,
        }
    }

    /// The number if it is a whole number in `i64` range.
    pub fn as_integer(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i64::from(i)),
            Value::Double(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Some(d as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Date {
        Date { year, month, day, hour, minute, second }
    }

    #[test]
    fn ole_dates_match_known_days() {
        assert_eq!(Date::from_ole(0.0), Some(date(1899, 12, 30, 0, 0, 0)));
        assert_eq!(Date::from_ole(2.0), Some(date(1900, 1, 1, 0, 0, 0)));
        assert_eq!(Date::from_ole(60.0), Some(date(1900, 2, 28, 0, 0, 0)));
        assert_eq!(Date::from_ole(36_526.5), Some(date(2000, 1, 1, 12, 0, 0)));
        assert_eq!(Date::from_ole(36_585.0), Some(date(2000, 2, 29, 0, 0, 0)));
        assert_eq!(Date::from_ole(45_658.0 + 0.75), Some(date(2025, 1, 1, 18, 0, 0)));
        assert_eq!(Date::from_ole(2_958_465.0), Some(date(9999, 12, 31, 0, 0, 0)));
        assert_eq!(Date::from_ole(f64::NAN), None);
        assert_eq!(Date::from_ole(2_958_466.0), None, "10000-01-01 is outside years 1..=9999");
        assert_eq!(Date::from_ole(-693_593.0), Some(date(1, 1, 1, 0, 0, 0)));
    }

    #[test]
    fn unix_seconds_round_trip_through_dates() {
        assert_eq!(Date::from_unix_seconds(0), Some(date(1970, 1, 1, 0, 0, 0)));
        assert_eq!(date(1970, 1, 1, 0, 0, 0).to_unix_seconds(), 0);
        assert_eq!(date(2018, 4, 3, 14, 6, 58).to_unix_seconds(), 1_522_764_418);
        assert_eq!(date(2000, 2, 29, 0, 0, 0).to_unix_seconds(), 951_782_400);
        assert_eq!(date(1899, 12, 30, 0, 0, 0).to_unix_seconds(), -2_209_161_600);
        for secs in [-2_209_161_600, -1, 0, 951_782_400, 1_522_764_418, 253_402_300_799] {
            assert_eq!(Date::from_unix_seconds(secs).unwrap().to_unix_seconds(), secs);
        }
        assert_eq!(Date::from_unix_seconds(253_402_300_800), None);
    }

    #[test]
    fn integers_are_read_from_both_number_forms() {
        assert_eq!(Value::Int(7).as_integer(), Some(7));
        assert_eq!(Value::Double(9099.0).as_integer(), Some(9099));
        assert_eq!(Value::Double(1.5).as_integer(), None);
        assert_eq!(Value::from("7").as_integer(), None);
    }
}
