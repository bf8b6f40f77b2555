//! The public shape of a licence key: its series, kind and the fields that `/api/licences/{KeyNo}`
//! lists. Key files carry these fields signed; the server adds what only it knows (`FileName`,
//! `Workable`, `DaysLeft`...). Field names here are the API's, so one serde shape serves the file and
//! the API.

use crate::time::UtcTime;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A key series (`KeyID`): exactly four hexadecimal digits, kept upper-case (`672B`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesId([u8; 4]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("series `{0}` is not 4 hex digits")]
pub struct BadSeries(pub String);

impl SeriesId {
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("????")
    }
}

impl FromStr for SeriesId {
    type Err = BadSeries;
    fn from_str(s: &str) -> Result<Self, BadSeries> {
        let bytes = s.as_bytes();
        if bytes.len() != 4 || !bytes.iter().all(u8::is_ascii_hexdigit) {
            return Err(BadSeries(crate::text::shorten(s, 16)));
        }
        let mut id = [0u8; 4];
        for (dst, src) in id.iter_mut().zip(bytes) {
            *dst = src.to_ascii_uppercase();
        }
        Ok(Self(id))
    }
}

impl fmt::Display for SeriesId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SeriesId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeriesId({})", self.as_str())
    }
}

impl Serialize for SeriesId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SeriesId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// `KeyType`: the numbers are the API's and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// 3: a main key; the usual case.
    Main,
    /// 4: adds licences and functions, only beside a main key of the same series.
    Additional,
    /// 5: temporary; never adds to other keys and never stands beside other keys of its series.
    Demo,
}

impl KeyKind {
    pub fn code(self) -> u8 {
        match self {
            KeyKind::Main => 3,
            KeyKind::Additional => 4,
            KeyKind::Demo => 5,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            3 => Some(KeyKind::Main),
            4 => Some(KeyKind::Additional),
            5 => Some(KeyKind::Demo),
            _ => None,
        }
    }
}

impl Serialize for KeyKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for KeyKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = u8::deserialize(d)?;
        KeyKind::from_code(code).ok_or_else(|| serde::de::Error::custom(format!("key type {code} is not 3, 4 or 5")))
    }
}

/// The fields a vendor signs into a key. Names are the REST API's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyFields {
    pub key_no: u64,
    #[serde(rename = "KeyID")]
    pub key_id: SeriesId,
    pub reg_no: String,
    pub key_type: KeyKind,
    pub licence_count: u32,
    pub product_version: String,
    pub blank_key_no: Option<u64>,
    pub activation_code: Option<String>,
    pub activation_date: Option<UtcTime>,
    pub start_date: UtcTime,
    /// Validity in days from `StartDate`; 0 means no period.
    pub period: u32,
    /// An absolute end, if the vendor set one; the key ends at the earlier of this and the period.
    pub expire_date: Option<UtcTime>,
    pub flags: u64,
    #[serde(rename = "ITN")]
    pub itn: Option<String>,
    #[serde(rename = "IEC")]
    pub iec: Option<String>,
    pub product_name: String,
    pub article: String,
    pub article_name: String,
    /// End of the update subscription: releases of the configuration dated after it run in demo mode.
    pub support_date: Option<UtcTime>,
    /// The `ComputerID` the key was issued for.
    #[serde(rename = "ComputerID")]
    pub computer_id: String,
}

/// Where a key stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub expire_date: Option<UtcTime>,
    pub days_left: Option<u32>,
    pub expired: bool,
    /// `StartDate` is still ahead.
    pub not_started: bool,
}

impl KeyFields {
    /// The instant the key stops working, if it ever does.
    pub fn effective_expiry(&self) -> Option<UtcTime> {
        let by_period = (self.period > 0).then(|| self.start_date.plus_days(self.period));
        match (by_period, self.expire_date) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn validity(&self, now: UtcTime) -> Validity {
        let expire_date = self.effective_expiry();
        Validity {
            expire_date,
            days_left: expire_date.map(|end| now.days_until(end)),
            expired: expire_date.is_some_and(|end| now >= end),
            not_started: now < self.start_date,
        }
    }

    /// `{KeyID}.{KeyNo}.licence`, the only name the server loads a key under.
    pub fn file_name(&self) -> String {
        format!("{}.{}.licence", self.key_id, self.key_no)
    }

    /// `Flags` as the API shows them: 64 binary digits, flag 0 rightmost.
    pub fn flags_binary(&self) -> String {
        format!("{:064b}", self.flags)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample_fields() -> KeyFields {
        KeyFields {
            key_no: 7121172,
            key_id: "672b".parse().unwrap(),
            reg_no: "R-1".into(),
            key_type: KeyKind::Main,
            licence_count: 10,
            product_version: "1.0".into(),
            blank_key_no: None,
            activation_code: None,
            activation_date: None,
            start_date: UtcTime::parse("2026-01-01T00:00:00Z").unwrap(),
            period: 30,
            expire_date: None,
            flags: 0b101,
            itn: Some("1234567890".into()),
            iec: None,
            product_name: "Демо".into(),
            article: "A-1".into(),
            article_name: "Основная поставка".into(),
            support_date: None,
            computer_id: "D365ACC38180015CD3A30E62BF1072392D4DD5C1".into(),
        }
    }

    #[test]
    fn series_is_four_hex_digits_upper_cased() {
        assert_eq!("672b".parse::<SeriesId>().unwrap().as_str(), "672B");
        assert_eq!("67ZB".parse::<SeriesId>().unwrap_err().to_string(), "series `67ZB` is not 4 hex digits");
        assert!("672".parse::<SeriesId>().is_err());
        assert!("672BB".parse::<SeriesId>().is_err());
        assert!("６７２B".parse::<SeriesId>().is_err());
    }

    #[test]
    fn expiry_is_the_earlier_of_period_and_date() {
        let mut k = sample_fields();
        let start = k.start_date;
        assert_eq!(k.effective_expiry(), Some(start.plus_days(30)));
        k.expire_date = Some(start.plus_days(10));
        assert_eq!(k.effective_expiry(), Some(start.plus_days(10)));
        k.period = 0;
        k.expire_date = None;
        assert_eq!(k.effective_expiry(), None);
        let v = k.validity(start.plus_days(5000));
        assert!(!v.expired);
        assert_eq!(v.days_left, None);
    }

    #[test]
    fn validity_counts_days_left_and_expiry() {
        let k = sample_fields();
        let v = k.validity(k.start_date.plus_days(16));
        assert_eq!(v.days_left, Some(14));
        assert!(!v.expired);
        let v = k.validity(k.start_date.plus_days(30));
        assert_eq!(v.days_left, Some(0));
        assert!(v.expired);
        assert!(k.validity(UtcTime::parse("2025-12-31T00:00:00Z").unwrap()).not_started);
    }

    #[test]
    fn key_fields_use_api_names() {
        let json = serde_json::to_value(sample_fields()).unwrap();
        for name in ["KeyNo", "KeyID", "RegNo", "KeyType", "LicenceCount", "StartDate", "ITN", "IEC"] {
            assert!(json.get(name).is_some(), "{name} missing in {json}");
        }
        assert_eq!(json["KeyType"], 3);
        assert_eq!(sample_fields().file_name(), "672B.7121172.licence");
    }
}
