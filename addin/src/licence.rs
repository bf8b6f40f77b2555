//! `Licence`, the add-in's one class: today its settings (server address, port, key series), its
//! version and the last error; the licence methods (connect, obtain, release…) come on top of this
//! table. Each property and method is a variant of [`PropId`] / [`MethodId`]; the tables the platform
//! sees are generated from them, so a name, its index and its handler cannot drift apart.
use licence_protocol::key::SeriesId;
use licence_protocol::wire::ErrorCode;

use crate::component::{Component, Method, Names, Params, Prop};
use crate::host::Host;
use crate::{Error, Value};

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
}

impl PropId {
    pub const ALL: [PropId; 6] = [
        PropId::Version,
        PropId::ServerAddr,
        PropId::ServerPort,
        PropId::KeyId,
        PropId::LastError,
        PropId::LastErrorCode,
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
        }
    }

    fn name(self) -> &'static str {
        self.describe().names.en
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodId {
    ResetError,
}

impl MethodId {
    pub const ALL: [MethodId; 1] = [MethodId::ResetError];

    const fn describe(self) -> Method {
        match self {
            MethodId::ResetError => Method {
                names: Names { en: "ResetError", ru: "СброситьОшибку" },
                params: 0,
                has_ret: false,
                defaults: &[],
            },
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
    server_addr: String,
    server_port: u16,
    key_id: Option<SeriesId>,
    last_error: Option<LastError>,
    host: Option<Host>,
}

impl Default for Licence {
    fn default() -> Self {
        Self::new()
    }
}

impl Licence {
    pub fn new() -> Self {
        Self { server_addr: String::new(), server_port: DEFAULT_PORT, key_id: None, last_error: None, host: None }
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
            PropId::ServerAddr => Value::from(self.server_addr.as_str()),
            PropId::ServerPort => Value::Int(i32::from(self.server_port)),
            PropId::KeyId => Value::from(self.key_id.as_ref().map_or("", SeriesId::as_str)),
            PropId::LastError => Value::from(self.last_error.as_ref().map_or("", |e| e.text.as_str())),
            PropId::LastErrorCode => Value::Int(self.last_error.as_ref().map_or(0, |e| i32::from(e.code.number()))),
        }
    }

    fn write(&mut self, id: PropId, value: Value) -> Result<(), Error> {
        let target = id.name();
        match id {
            PropId::ServerAddr => {
                let addr = value.as_str().ok_or_else(|| Error::wrong_type(target, "String (Строка)", &value))?;
                self.server_addr = addr.trim().to_owned();
            }
            PropId::ServerPort => {
                let n =
                    value.as_integer().ok_or_else(|| Error::wrong_type(target, "a whole Number (Число)", &value))?;
                self.server_port = u16::try_from(n)
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| Error::bad_value(target, format!("port {n} is not in 1..65535")))?;
            }
            PropId::KeyId => {
                let text = value.as_str().ok_or_else(|| Error::wrong_type(target, "String (Строка)", &value))?;
                let series = text.trim().parse::<SeriesId>().map_err(|e| Error::bad_value(target, e.to_string()))?;
                self.key_id = Some(series);
            }
            PropId::Version | PropId::LastError | PropId::LastErrorCode => return Err(Error::ReadOnly(target)),
        }
        Ok(())
    }
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

    fn attach(&mut self, host: Host) {
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

    fn call(&mut self, index: usize, _params: &mut Params) -> Result<Value, Error> {
        match MethodId::ALL.get(index).ok_or(Error::NoSuchMethod(index as i64))? {
            MethodId::ResetError => {
                self.last_error = None;
                Ok(Value::Empty)
            }
        }
    }

    fn failed(&mut self, error: &Error) {
        self.fail(error.wire_code(), error.to_string());
    }

    fn done(&mut self) {
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
