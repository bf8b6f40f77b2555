//! The licence methods' arguments and results in BSL's terms: the seven arguments of
//! `ObtainLicence` as the protocol's [`SessionFacts`], the names `KeyParameter` accepts, and 1C's
//! `Дата` ⇄ [`UtcTime`]. A 1C date carries no time zone; the add-in treats it as UTC (the
//! configuration passes `ТекущаяУниверсальнаяДата()`-style values, or accepts the offset as shown).
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{ErrorCode, KeyInfoResponse, KeyParameters, SessionFacts};

use crate::component::{same_name, Params};
use crate::value::Date;
use crate::{Error, Value};

/// A `Дата` read as UTC; `None` outside the protocol's years.
pub fn utc_from_date(date: Date) -> Option<UtcTime> {
    UtcTime::from_unix_millis(date.to_unix_seconds().checked_mul(1000)?)
}

/// A UTC instant as a `Дата` (whole seconds).
pub fn date_from_utc(time: UtcTime) -> Option<Date> {
    Date::from_unix_seconds(time.unix_millis().div_euclid(1000))
}

/// The `ObtainLicence(SessionNumber, InfoBaseConnectionString, AppName, ComputerName, UserName,
/// SessionStarted, AccessCode)` arguments as the session's facts.
pub fn session_facts(params: &Params) -> Result<SessionFacts, Error> {
    let session_number = match params.get(0) {
        Value::Str(s) if !s.trim().is_empty() => s.trim().to_owned(),
        v @ (Value::Int(_) | Value::Double(_)) => v
            .as_integer()
            .filter(|n| *n >= 0)
            .map(|n| n.to_string())
            .ok_or_else(|| Error::bad_value("SessionNumber", "a session number is a whole number from 0"))?,
        Value::Str(_) => return Err(Error::bad_value("SessionNumber", "the session number is empty")),
        other => return Err(Error::wrong_type("SessionNumber", "Number or String (Число или Строка)", other)),
    };
    let session_started = match params.get(5) {
        Value::Date(d) => utc_from_date(*d)
            .ok_or_else(|| Error::bad_value("SessionStarted", "the date is outside years 0000..9999"))?,
        other => return Err(Error::wrong_type("SessionStarted", "Date (Дата)", other)),
    };
    Ok(SessionFacts {
        session_number,
        info_base_connection_string: string(params, 1, "InfoBaseConnectionString")?,
        app_name: string(params, 2, "AppName")?,
        computer_name: string(params, 3, "ComputerName")?,
        user_name: optional_string(params, 4, "UserName")?,
        session_started,
        access_code: optional_string(params, 6, "AccessCode")?,
        terminal_client: None,
    })
}

fn string(params: &Params, index: usize, name: &str) -> Result<String, Error> {
    match params.get(index) {
        Value::Str(s) => Ok(s.clone()),
        other => Err(Error::wrong_type(name, "String (Строка)", other)),
    }
}

/// A string argument that may be left out (`Неопределено` → `None`).
fn optional_string(params: &Params, index: usize, name: &str) -> Result<Option<String>, Error> {
    match params.get(index) {
        Value::Empty => Ok(None),
        Value::Str(s) => Ok(Some(s.clone())),
        other => Err(Error::wrong_type(name, "String or Undefined (Строка или Неопределено)", other)),
    }
}

/// The names `KeyParameter` accepts, English and Russian.
const KEY_PARAMETERS: [(&str, &str); 7] = [
    ("LicenceCount", "КоличествоЛицензий"),
    ("LicencesUsed", "ИспользуетсяЛицензий"),
    ("Flags", "Флаги"),
    ("ProductName", "Продукт"),
    ("ExpireDate", "ДатаОкончания"),
    ("DaysLeft", "ОсталосьДней"),
    ("KeyType", "ТипКлюча"),
];

/// The name argument of `KeyParameter`, checked before anything is asked of the server.
pub fn key_parameter_name(value: &Value) -> Result<&'static str, Error> {
    let name = value.as_str().ok_or_else(|| Error::wrong_type("Name", "String (Строка)", value))?;
    let name = name.trim();
    KEY_PARAMETERS.iter().find(|(en, ru)| same_name(en, name) || same_name(ru, name)).map(|(en, _)| *en).ok_or_else(
        || {
            let known: Vec<&str> = KEY_PARAMETERS.iter().map(|(en, _)| *en).collect();
            Error::usage(
                ErrorCode::BadRequest,
                format!("KeyParameter: unknown name `{name}`; known: {}", known.join(", ")),
            )
        },
    )
}

/// Parameter `name` (an English name from [`key_parameter_name`]) of the series. The per-key ones
/// (`ProductName`, `ExpireDate`, `DaysLeft`, `KeyType`) are the first counting key's.
pub fn key_parameter(info: &KeyInfoResponse, name: &str) -> Value {
    let first: Option<&KeyParameters> = info.keys.iter().find(|k| k.counts);
    let number = |n: u64| if let Ok(i) = i32::try_from(n) { Value::Int(i) } else { Value::Double(n as f64) };
    match name {
        "LicenceCount" => number(u64::from(info.licence_count)),
        "LicencesUsed" => number(u64::from(info.licences_used)),
        "Flags" => number(info.flags),
        "ProductName" => Value::from(first.map_or("", |k| k.product_name.as_str())),
        "ExpireDate" => first.and_then(|k| k.expire_date).and_then(date_from_utc).map_or(Value::Empty, Value::Date),
        "DaysLeft" => first.and_then(|k| k.days_left).map_or(Value::Empty, |d| number(u64::from(d))),
        "KeyType" => first.map_or(Value::Empty, |k| number(u64::from(k.key_type.code()))),
        _ => Value::Empty,
    }
}

/// The flag number argument of `HasFlag`: a whole number 0..63.
pub fn flag_number(value: &Value) -> Result<u32, Error> {
    let n = value.as_integer().ok_or_else(|| Error::wrong_type("Number", "a whole Number (Число)", value))?;
    u32::try_from(n)
        .ok()
        .filter(|n| *n < 64)
        .ok_or_else(|| Error::bad_value("Number", format!("flag {n} is not in 0..63")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Date {
        Date { year, month, day, hour, minute, second }
    }

    fn args(values: Vec<Value>) -> Params {
        Params::new(values)
    }

    #[test]
    fn a_1c_date_is_read_as_utc() {
        let t = utc_from_date(date(2018, 4, 3, 14, 6, 58)).unwrap();
        assert_eq!(t.to_string(), "2018-04-03T14:06:58.000Z");
        assert_eq!(date_from_utc(t), Some(date(2018, 4, 3, 14, 6, 58)));
    }

    #[test]
    fn obtain_arguments_become_session_facts() {
        let p = args(vec![
            Value::Int(17),
            Value::from("Srvr=\"srv\";Ref=\"trade\";"),
            Value::from("1CV8C"),
            Value::from("HOST1"),
            Value::Empty,
            Value::Date(date(2026, 11, 24, 9, 0, 0)),
            Value::from("1234"),
        ]);
        let facts = session_facts(&p).unwrap();
        assert_eq!(facts.session_number, "17");
        assert_eq!(facts.user_name, None);
        assert_eq!(facts.access_code.as_deref(), Some("1234"));
        assert_eq!(facts.session_started.to_string(), "2026-11-24T09:00:00.000Z");
    }

    #[test]
    fn wrong_obtain_arguments_name_the_parameter() {
        let mut values = vec![
            Value::from("5"),
            Value::from(""),
            Value::from(""),
            Value::from(""),
            Value::from("user"),
            Value::from("2026-11-24"),
            Value::Empty,
        ];
        let err = session_facts(&args(values.clone())).unwrap_err();
        assert_eq!(err.to_string(), "SessionStarted: expected Date (Дата), got String (Строка)");
        values[5] = Value::Date(date(2026, 11, 24, 9, 0, 0));
        values[0] = Value::Bool(true);
        assert_eq!(session_facts(&args(values)).unwrap_err().wire_code(), ErrorCode::BadRequest);
    }

    #[test]
    fn key_parameter_names_in_both_languages_and_unknown_ones_refused() {
        assert_eq!(key_parameter_name(&Value::from("количестволицензий")), Ok("LicenceCount"));
        assert_eq!(key_parameter_name(&Value::from("DAYSLEFT")), Ok("DaysLeft"));
        let err = key_parameter_name(&Value::from("Цвет")).unwrap_err();
        assert_eq!(err.wire_code(), ErrorCode::BadRequest);
        assert!(err.to_string().starts_with("KeyParameter: unknown name `Цвет`"));
    }

    #[test]
    fn flags_are_numbered_0_to_63() {
        assert_eq!(flag_number(&Value::Int(0)), Ok(0));
        assert_eq!(flag_number(&Value::Double(63.0)), Ok(63));
        assert!(flag_number(&Value::Int(64)).is_err());
        assert!(flag_number(&Value::Int(-1)).is_err());
        assert!(flag_number(&Value::from("1")).is_err());
    }
}
