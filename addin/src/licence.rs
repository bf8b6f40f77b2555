//! `Licence`, the add-in's one class: its settings (servers, key series, server process or not), its
//! version, the last error, the licence methods (connect, obtain, check, release, key parameters),
//! which [`crate::licensing`] carries out and [`crate::bsl`] translates from and to BSL's values, and
//! the configuration's release date with the demo mode and days left [`crate::expiry`] derives. Each property and method is a variant of [`PropId`] / [`MethodId`]; the tables the platform
//! sees are generated from them, so a name, its index and its handler cannot drift apart.
//!
//! A licence from the local fallback is a success that still tells the 1C code where it came from:
//! `ServerInUse` reads `local` and `LastErrorCode` 13 (`LocalFallback`) with an explanation in
//! `LastError`, until a server gives the licence, it is released, or `ResetError`.
//!
//! `TerminalClient` is what `ObtainLicence` sends as the session's terminal client: the code's value
//! when it set one, else what [`licenceaddin_client::terminal`] detects from the process's
//! environment (never in a server process).
use licence_protocol::key::SeriesId;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::ErrorCode;

use crate::bsl;
use crate::component::{Component, DefaultValue, Method, Names, Params, Prop};
use crate::error::Language;
use crate::host::{Host, PlatformInfo};
use crate::licensing::{Licensing, Obtained, Settings};
use crate::value::Date;
use crate::{Error, Value};
use licenceaddin_client::terminal;

/// The class name `GetClassNames` lists and `RegisterExtensionAs` gives.
pub const CLASS_NAME: &str = "Licence";

/// The port the server listens on by default.
pub const DEFAULT_PORT: u16 = 9099;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropId {
    Version,
    ServerAddr,
    ServerPort,
    KeyId,
    LastError,
    LastErrorCode,
    ReservedServers,
    IsServer,
    ServerInUse,
    LicenceHeld,
    ReleaseDate,
    DemoMode,
    DaysLeft,
    SupportDaysLeft,
    LocalFallback,
    SeriesPublicKey,
    TerminalClient,
}

impl PropId {
    pub const ALL: [PropId; 17] = [
        PropId::Version,
        PropId::ServerAddr,
        PropId::ServerPort,
        PropId::KeyId,
        PropId::LastError,
        PropId::LastErrorCode,
        PropId::ReservedServers,
        PropId::IsServer,
        PropId::ServerInUse,
        PropId::LicenceHeld,
        PropId::ReleaseDate,
        PropId::DemoMode,
        PropId::DaysLeft,
        PropId::SupportDaysLeft,
        PropId::LocalFallback,
        PropId::SeriesPublicKey,
        PropId::TerminalClient,
    ];

    const fn describe(self) -> Prop {
        const fn prop(en: &'static str, ru: &'static str, writable: bool) -> Prop {
            Prop { names: Names { en, ru }, readable: true, writable }
        }
        match self {
            PropId::Version => prop("Version", "Версия", false),
            PropId::ServerAddr => prop("ServerAddr", "АдресСервера", true),
            PropId::ServerPort => prop("ServerPort", "ПортСервера", true),
            PropId::KeyId => prop("KeyID", "СерияКлючей", true),
            PropId::LastError => prop("LastError", "ОписаниеОшибки", false),
            PropId::LastErrorCode => prop("LastErrorCode", "КодОшибки", false),
            PropId::ReservedServers => prop("ReservedServers", "РезервныеСерверы", true),
            PropId::IsServer => prop("IsServer", "ЭтоСервер", true),
            PropId::ServerInUse => prop("ServerInUse", "ИспользуемыйСервер", false),
            PropId::LicenceHeld => prop("LicenceHeld", "ЛицензияПолучена", false),
            PropId::ReleaseDate => prop("ReleaseDate", "ДатаВыпуска", true),
            PropId::DemoMode => prop("DemoMode", "ДемоРежим", false),
            PropId::DaysLeft => prop("DaysLeft", "ОсталосьДней", false),
            PropId::SupportDaysLeft => prop("SupportDaysLeft", "ОсталосьДнейПоддержки", false),
            PropId::LocalFallback => prop("LocalFallback", "ЛокальныйРезерв", true),
            PropId::SeriesPublicKey => prop("SeriesPublicKey", "ОткрытыйКлючСерии", true),
            PropId::TerminalClient => prop("TerminalClient", "ТерминальныйКлиент", true),
        }
    }

    fn name(self) -> &'static str {
        self.describe().names.en
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodId {
    ResetError,
    Connect,
    ObtainLicence,
    CheckLicence,
    ReleaseLicence,
    KeyParameter,
    HasFlag,
    OpenObject,
}

/// `ObtainLicence`'s optional parameters: `UserName` (4) and `AccessCode` (6).
const OBTAIN_DEFAULTS: [Option<DefaultValue>; 7] =
    [None, None, None, None, Some(DefaultValue::Empty), None, Some(DefaultValue::Empty)];

impl MethodId {
    pub const ALL: [MethodId; 8] = [
        MethodId::ResetError,
        MethodId::Connect,
        MethodId::ObtainLicence,
        MethodId::CheckLicence,
        MethodId::ReleaseLicence,
        MethodId::KeyParameter,
        MethodId::HasFlag,
        MethodId::OpenObject,
    ];

    const fn describe(self) -> Method {
        const fn function(en: &'static str, ru: &'static str, params: usize) -> Method {
            Method { names: Names { en, ru }, params, has_ret: true, defaults: &[] }
        }
        match self {
            MethodId::ResetError => Method {
                names: Names { en: "ResetError", ru: "СброситьОшибку" },
                params: 0,
                has_ret: false,
                defaults: &[],
            },
            MethodId::Connect => function("Connect", "Подключиться", 0),
            MethodId::ObtainLicence => Method {
                names: Names { en: "ObtainLicence", ru: "ПолучитьЛицензию" },
                params: 7,
                has_ret: true,
                defaults: &OBTAIN_DEFAULTS,
            },
            MethodId::CheckLicence => function("CheckLicence", "ПроверитьЛицензию", 0),
            MethodId::ReleaseLicence => function("ReleaseLicence", "ОсвободитьЛицензию", 0),
            MethodId::KeyParameter => function("KeyParameter", "ПараметрКлюча", 1),
            MethodId::HasFlag => function("HasFlag", "ЕстьФлаг", 1),
            MethodId::OpenObject => function("OpenObject", "ОткрытьОбъект", 2),
        }
    }
}

static PROPS: [Prop; PropId::ALL.len()] = {
    let mut table = [PropId::Version.describe(); PropId::ALL.len()];
    let mut i = 0;
    while i < table.len() {
        table[i] = PropId::ALL[i].describe();
        i += 1;
    }
    table
};

static METHODS: [Method; MethodId::ALL.len()] = {
    let mut table = [MethodId::ResetError.describe(); MethodId::ALL.len()];
    let mut i = 0;
    while i < table.len() {
        table[i] = MethodId::ALL[i].describe();
        i += 1;
    }
    table
};

/// The last failure of a licence operation, shown by `LastError`/`LastErrorCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    pub code: ErrorCode,
    pub text: String,
}

/// One `AddIn.<name>.Licence` object.
pub struct Licence {
    settings: Settings,
    licensing: Licensing,
    last_error: Option<LastError>,
    host: Option<Host>,
    /// The configuration's release date as its code set it (`ReleaseDate`), and as UTC.
    release_date: Option<(Date, UtcTime)>,
    /// The language of `LastError` and `AddError` texts (`SetUserInterfaceLanguageCode`).
    language: Language,
    /// The terminal client the code set (`TerminalClient`; `Some("")`: not a terminal session), or
    /// `None` to detect it.
    terminal_client: Option<String>,
}

impl Default for Licence {
    fn default() -> Self {
        Self::new()
    }
}

impl Licence {
    pub fn new() -> Self {
        Self {
            settings: Settings::default(),
            licensing: Licensing::default(),
            last_error: None,
            host: None,
            release_date: None,
            language: Language::default(),
            terminal_client: None,
        }
    }

    /// Records the failure of a licence operation (the operation itself returns `false`).
    pub fn fail(&mut self, code: ErrorCode, text: impl Into<String>) {
        self.last_error = Some(LastError { code, text: text.into() });
    }

    pub fn last_error(&self) -> Option<&LastError> {
        self.last_error.as_ref()
    }

    /// The handle given at `Init`, for the licence methods' events and heartbeat thread.
    pub fn host(&self) -> Option<&Host> {
        self.host.as_ref()
    }

    fn read(&self, id: PropId) -> Value {
        match id {
            PropId::Version => Value::from(crate::CLIENT_VERSION),
            PropId::ServerAddr => Value::from(self.settings.addr.as_str()),
            PropId::ServerPort => Value::Int(i32::from(self.settings.port.unwrap_or(DEFAULT_PORT))),
            PropId::KeyId => Value::from(self.settings.series.as_ref().map_or("", SeriesId::as_str)),
            PropId::LastError => Value::from(self.last_error.as_ref().map_or("", |e| e.text.as_str())),
            PropId::LastErrorCode => Value::Int(self.last_error.as_ref().map_or(0, |e| i32::from(e.code.number()))),
            PropId::ReservedServers => Value::from(self.settings.reserved.as_str()),
            PropId::IsServer => Value::Bool(self.settings.is_server),
            PropId::ServerInUse => Value::from(self.licensing.server_in_use().unwrap_or_default()),
            PropId::LicenceHeld => Value::Bool(self.licensing.held()),
            PropId::ReleaseDate => self.release_date.map_or(Value::Empty, |(date, _)| Value::Date(date)),
            PropId::DemoMode => Value::Bool(self.outlook().demo),
            PropId::DaysLeft => self.outlook().days_left.map_or(Value::Empty, days),
            PropId::SupportDaysLeft => self.outlook().support_days_left.map_or(Value::Empty, days),
            PropId::LocalFallback => Value::Bool(self.settings.local_fallback.unwrap_or(false)),
            PropId::SeriesPublicKey => {
                Value::from(self.settings.series_public_key.map(hex::encode).unwrap_or_default())
            }
            PropId::TerminalClient => Value::from(self.terminal_client().unwrap_or_default()),
        }
    }

    /// `TerminalClient` of the session facts: the code's value, else the detected one.
    fn terminal_client(&self) -> Option<String> {
        terminal::resolve(self.terminal_client.as_deref(), self.settings.is_server, terminal::this_session)
    }

    fn outlook(&self) -> crate::expiry::Outlook {
        self.licensing.outlook(self.release_date.map(|(_, utc)| utc), UtcTime::now())
    }

    fn write(&mut self, id: PropId, value: Value) -> Result<(), Error> {
        let target = id.name();
        match id {
            PropId::ServerAddr => {
                let addr = value.as_str().ok_or_else(|| Error::wrong_type(target, "String (Строка)", &value))?;
                self.settings.addr = addr.trim().to_owned();
            }
            PropId::ServerPort => {
                let n =
                    value.as_integer().ok_or_else(|| Error::wrong_type(target, "a whole Number (Число)", &value))?;
                let port = u16::try_from(n)
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| Error::bad_value(target, format!("port {n} is not in 1..65535")))?;
                self.settings.port = Some(port);
            }
            PropId::KeyId => {
                let text = value.as_str().ok_or_else(|| Error::wrong_type(target, "String (Строка)", &value))?;
                let series = text.trim().parse::<SeriesId>().map_err(|e| Error::bad_value(target, e.to_string()))?;
                self.settings.series = Some(series);
            }
            PropId::ReservedServers => {
                let text = value.as_str().ok_or_else(|| Error::wrong_type(target, "String (Строка)", &value))?;
                let (_, bad) = licenceaddin_client::conf::parse_server_list(text);
                if !bad.is_empty() {
                    return Err(Error::bad_value(target, bad.join("; ")));
                }
                self.settings.reserved = text.trim().to_owned();
            }
            PropId::IsServer => match value {
                Value::Bool(b) => self.settings.is_server = b,
                other => return Err(Error::wrong_type(target, "Boolean (Булево)", &other)),
            },
            PropId::LocalFallback => match value {
                Value::Bool(b) => self.settings.local_fallback = Some(b),
                other => return Err(Error::wrong_type(target, "Boolean (Булево)", &other)),
            },
            PropId::SeriesPublicKey => {
                // A connection setting: an idle connection made under another pin is dropped.
                let text = value.as_str().ok_or_else(|| Error::wrong_type(target, "String (Строка)", &value))?;
                self.settings.series_public_key = match text.trim() {
                    "" => None,
                    key => Some(crate::objects::parse_public_key(key).map_err(|e| Error::bad_value(target, e))?),
                };
            }
            PropId::ReleaseDate => {
                // Not a connection setting: the connection stays.
                self.release_date = match value {
                    Value::Empty => None,
                    Value::Date(date) => {
                        let utc = bsl::utc_from_date(date)
                            .ok_or_else(|| Error::bad_value(target, "the date is outside years 0000..9999"))?;
                        Some((date, utc))
                    }
                    other => {
                        return Err(Error::wrong_type(target, "Date or Undefined (Дата или Неопределено)", &other))
                    }
                };
                return Ok(());
            }
            PropId::TerminalClient => {
                // Not a connection setting either: it goes with the next `ObtainLicence`.
                self.terminal_client = match value {
                    Value::Empty => None,
                    Value::Str(text) => match terminal::refusal(&text) {
                        Some(why) => return Err(Error::bad_value(target, why)),
                        None => Some(text.trim().to_owned()),
                    },
                    other => {
                        return Err(Error::wrong_type(target, "String or Undefined (Строка или Неопределено)", &other))
                    }
                };
                return Ok(());
            }
            PropId::Version
            | PropId::LastError
            | PropId::LastErrorCode
            | PropId::ServerInUse
            | PropId::LicenceHeld
            | PropId::DemoMode
            | PropId::DaysLeft
            | PropId::SupportDaysLeft => return Err(Error::ReadOnly(target)),
        }
        self.licensing.settings_changed();
        Ok(())
    }

    /// Runs a licence method; every one but `ResetError` answers `true` or an error.
    fn run(&mut self, id: MethodId, params: &Params) -> Result<Value, Error> {
        match id {
            MethodId::ResetError => {
                self.last_error = None;
                return Ok(Value::Empty);
            }
            MethodId::Connect => {
                let obtained = self.licensing.connect(&self.settings)?;
                self.note(obtained);
            }
            MethodId::ObtainLicence => {
                let mut facts = bsl::session_facts(params)?;
                facts.terminal_client = self.terminal_client();
                let obtained = self.licensing.obtain(&self.settings, facts, self.host.as_ref())?;
                self.note(obtained);
            }
            MethodId::CheckLicence => self.licensing.check(&self.settings)?,
            MethodId::ReleaseLicence => {
                self.licensing.release()?;
                self.note(Obtained::Server);
            }
            MethodId::KeyParameter => {
                let name = bsl::key_parameter_name(params.get(0))?;
                let info = self.licensing.key_info(&self.settings)?;
                return Ok(bsl::key_parameter(&info, name));
            }
            MethodId::HasFlag => {
                let flag = bsl::flag_number(params.get(0))?;
                let info = self.licensing.key_info(&self.settings)?;
                return Ok(Value::Bool(info.flags >> flag & 1 == 1));
            }
            MethodId::OpenObject => return self.open_object(params.get(0), params.get(1)),
        }
        Ok(Value::Bool(true))
    }
}

impl Licence {
    /// `OpenObject(Datafile, Name)`: see [`crate::objects`].
    fn open_object(&mut self, datafile: &Value, name: &Value) -> Result<Value, Error> {
        let Value::Blob(bytes) = datafile else {
            return Err(Error::wrong_type("Datafile", "BinaryData (ДвоичныеДанные)", datafile));
        };
        let name = name.as_str().ok_or_else(|| Error::wrong_type("Name", "String (Строка)", name))?;
        let (series, pin) = crate::licensing::pinned(&self.settings)?;
        let opening = crate::objects::Opening::prepare(bytes, name, series, &pin)?;
        let grant = self.licensing.object_grant(opening.name(), &opening.key_request())?;
        opening.open(&grant, &pin)
    }

    /// Shows a licence from the local fallback as code 13; clears that notice once it no longer holds.
    fn note(&mut self, obtained: Obtained) {
        match obtained {
            Obtained::Local(text) => {
                let text = self.language.licence_text(ErrorCode::LocalFallback, &text);
                self.fail(ErrorCode::LocalFallback, text);
            }
            Obtained::Server => {
                if self.last_error.as_ref().is_some_and(|e| e.code == ErrorCode::LocalFallback) {
                    self.last_error = None;
                }
            }
        }
    }
}

/// A count of days as a BSL `Число`.
fn days(n: u32) -> Value {
    i32::try_from(n).map_or(Value::Double(f64::from(n)), Value::Int)
}

impl Component for Licence {
    fn extension_name(&self) -> &'static str {
        CLASS_NAME
    }

    fn props(&self) -> &'static [Prop] {
        &PROPS
    }

    fn methods(&self) -> &'static [Method] {
        &METHODS
    }

    /// Keeps the host; the platform's version goes to the server with `connect`, and a server process
    /// (`AppType` 3) is `IsServer` until the code says otherwise.
    fn attach(&mut self, host: Host) {
        if let Some(platform) = &host.platform {
            self.settings.platform_version = platform.version.clone();
            self.settings.is_server |= platform.app_type == PlatformInfo::SERVER;
        }
        self.host = Some(host);
    }

    fn get_prop(&mut self, index: usize) -> Result<Value, Error> {
        let id = PropId::ALL.get(index).ok_or(Error::NoSuchProperty(index as i64))?;
        Ok(self.read(*id))
    }

    fn set_prop(&mut self, index: usize, value: Value) -> Result<(), Error> {
        let id = PropId::ALL.get(index).ok_or(Error::NoSuchProperty(index as i64))?;
        self.write(*id, value)
    }

    fn call(&mut self, index: usize, params: &mut Params) -> Result<Value, Error> {
        let id = *MethodId::ALL.get(index).ok_or(Error::NoSuchMethod(index as i64))?;
        self.run(id, params)
    }

    fn failed(&mut self, error: &Error) -> String {
        let text = error.text(self.language);
        self.fail(error.wire_code(), text.clone());
        text
    }

    fn set_user_language(&mut self, code: &str) {
        self.language = Language::from_code(code);
    }

    /// Releases a held licence and joins the heartbeat thread (not one of `Host::threads`), so that no
    /// thread or event of this object outlives `DestroyObject`.
    fn done(&mut self) {
        self.licensing.shut_down();
        self.host = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::find;

    fn index(name: &str) -> usize {
        find(PROPS.iter().map(|p| &p.names), name).unwrap()
    }

    #[test]
    fn tables_follow_the_ids() {
        for (i, id) in PropId::ALL.iter().enumerate() {
            assert_eq!(PROPS[i], id.describe());
        }
        assert_eq!(find(METHODS.iter().map(|m| &m.names), "сброситьошибку"), Some(0));
    }

    #[test]
    fn port_accepts_whole_numbers_in_range_only() {
        let mut l = Licence::new();
        let port = index("ПортСервера");
        assert_eq!(l.get_prop(port), Ok(Value::Int(9099)));
        l.set_prop(port, Value::Double(8080.0)).unwrap();
        assert_eq!(l.get_prop(port), Ok(Value::Int(8080)));
        for bad in [Value::Int(0), Value::Int(65536), Value::Int(-1), Value::Double(80.5)] {
            assert!(l.set_prop(port, bad).is_err());
        }
        let err = l.set_prop(port, Value::Int(70000)).unwrap_err();
        assert_eq!(err.to_string(), "ServerPort: port 70000 is not in 1..65535");
        assert!(matches!(l.set_prop(port, Value::from("80")), Err(Error::WrongType { .. })));
        assert_eq!(l.get_prop(port), Ok(Value::Int(8080)));
    }

    #[test]
    fn key_id_must_be_four_hex_digits() {
        let mut l = Licence::new();
        let key = index("KeyID");
        l.set_prop(key, Value::from("672b")).unwrap();
        assert_eq!(l.get_prop(key), Ok(Value::from("672B")));
        let err = l.set_prop(key, Value::from("67ZB")).unwrap_err();
        assert_eq!(err.to_string(), "KeyID: series `67ZB` is not 4 hex digits");
        assert_eq!(l.get_prop(key), Ok(Value::from("672B")));
    }

    #[test]
    fn release_date_takes_a_date_or_undefined_and_nothing_held_is_demo_mode() {
        let mut l = Licence::new();
        let release = index("ДатаВыпуска");
        assert_eq!(l.get_prop(release), Ok(Value::Empty));
        let date = Date { year: 2026, month: 11, day: 1, hour: 0, minute: 0, second: 0 };
        l.set_prop(release, Value::Date(date)).unwrap();
        assert_eq!(l.get_prop(index("ReleaseDate")), Ok(Value::Date(date)));
        let err = l.set_prop(release, Value::from("01.11.2026")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ReleaseDate: expected Date or Undefined (Дата или Неопределено), got String (Строка)"
        );
        assert_eq!(l.get_prop(release), Ok(Value::Date(date)));
        l.set_prop(release, Value::Empty).unwrap();
        assert_eq!(l.get_prop(release), Ok(Value::Empty));

        assert_eq!(l.get_prop(index("ДемоРежим")), Ok(Value::Bool(true)));
        assert_eq!(l.get_prop(index("DaysLeft")), Ok(Value::Empty));
        assert_eq!(l.get_prop(index("ОсталосьДнейПоддержки")), Ok(Value::Empty));
        for ro in ["DemoMode", "ОсталосьДней", "SupportDaysLeft"] {
            assert_eq!(l.set_prop(index(ro), Value::Int(1)), Err(Error::ReadOnly(PropId::ALL[index(ro)].name())));
        }
    }

    #[test]
    fn terminal_client_is_the_codes_value_or_the_detected_one() {
        let mut l = Licence::new();
        let terminal = index("ТерминальныйКлиент");
        let detected = Value::from(terminal::this_session().map(|t| t.client).unwrap_or_default());
        assert_eq!(l.get_prop(terminal), Ok(detected.clone()));
        l.set_prop(terminal, Value::from(" THIN-7 ")).unwrap();
        assert_eq!(l.get_prop(index("TerminalClient")), Ok(Value::from("THIN-7")));
        l.set_prop(terminal, Value::from("")).unwrap();
        assert_eq!(l.get_prop(terminal), Ok(Value::from("")), "\"\" says: not a terminal session");
        let err = l.set_prop(terminal, Value::from("THIN\u{0}7")).unwrap_err();
        assert_eq!(err.wire_code(), ErrorCode::BadRequest);
        assert!(matches!(l.set_prop(terminal, Value::Int(7)), Err(Error::WrongType { .. })));
        assert_eq!(l.get_prop(terminal), Ok(Value::from("")));
        l.set_prop(terminal, Value::Empty).unwrap();
        assert_eq!(l.get_prop(terminal), Ok(detected));
        // A server process detects nothing: its environment is the 1C server's.
        l.set_prop(index("IsServer"), Value::Bool(true)).unwrap();
        assert_eq!(l.get_prop(terminal), Ok(Value::from("")));
    }

    #[test]
    fn reset_error_clears_the_last_error() {
        let mut l = Licence::new();
        l.fail(ErrorCode::NoFreeLicence, "no free licence of series 672B");
        assert_eq!(l.get_prop(index("КодОшибки")), Ok(Value::Int(2)));
        assert_eq!(l.get_prop(index("LastError")), Ok(Value::from("no free licence of series 672B")));
        l.call(0, &mut Params::new(vec![])).unwrap();
        assert_eq!(l.get_prop(index("LastErrorCode")), Ok(Value::Int(0)));
        assert_eq!(l.get_prop(index("ОписаниеОшибки")), Ok(Value::from("")));
    }
}
