//! One `Новый("AddIn.Лицензирование.Licence")` driven as BSL drives it: properties set and read by
//! name, methods called with BSL's argument types, failures checked as BSL sees them. Integration tests
//! include it beside `support` with `#[path = "support/licence.rs"] mod licence;` (the crate's own unit
//! tests include `support` alone, where the crate is not `licenceaddin`).
#![allow(dead_code)]

use std::ffi::{c_long, c_void};

use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use licenceaddin::ffi::{DestroyObject, GetClassObject};

use crate::support::*;

pub const VT_DATE: u16 = 6;
/// `SessionStarted` of every session the tests obtain.
pub const STARTED: &str = "2026-11-24T09:00:00.000Z";

/// An argument as BSL passes it.
pub enum Arg<'a> {
    S(&'a str),
    N(i32),
    Date(&'a str),
    Undefined,
    B(bool),
    /// `ДвоичныеДанные`.
    Blob(&'a [u8]),
}

/// The genuine series of the tests' servers: the vendor's secret, and the public key `Licence::of` pins.
pub fn genuine() -> &'static SeriesKeys {
    static GENUINE: std::sync::OnceLock<SeriesKeys> = std::sync::OnceLock::new();
    GENUINE.get_or_init(|| SeriesKeys::generate("672B".parse().unwrap()))
}

/// One `Новый("AddIn.Лицензирование.Licence")` with its platform.
pub struct Licence {
    pub addin: Addin,
    pub mem: Box<Memory>,
    pub host: Box<Host>,
}

impl Licence {
    pub fn new() -> Self {
        let (mem, host) = (Memory::new(), Host::new());
        let name = wide("Licence");
        let mut object: *mut c_void = std::ptr::null_mut();
        // SAFETY: a NUL-terminated name and a writable out-pointer.
        assert_ne!(unsafe { GetClassObject(name.as_ptr(), &mut object) }, 0);
        let addin = Addin { object };
        assert!(addin.init(&host) && addin.set_mem_manager(&mem));
        Self { addin, mem, host }
    }

    /// An object of the tests' series 672B with `ServerAddr`, `ServerPort`, `KeyID`, `IsServer` (one
    /// licence per session) and `SeriesPublicKey` (the [`genuine`] series' key) set.
    pub fn of(port: u16) -> Self {
        let l = Self::unpinned(port);
        assert!(l.set("SeriesPublicKey", Arg::S(&hex::encode(genuine().public_key()))));
        l
    }

    /// [`Licence::of`] without `SeriesPublicKey`.
    pub fn unpinned(port: u16) -> Self {
        let l = Self::new();
        assert!(l.set("ServerAddr", Arg::S("127.0.0.1")));
        assert!(l.set("ServerPort", Arg::N(i32::from(port))));
        assert!(l.set("KeyID", Arg::S("672B")));
        assert!(l.set("ЭтоСервер", Arg::B(true)));
        l
    }

    pub fn with_variants<R>(args: &[Arg], f: impl FnOnce(&mut [Variant]) -> R) -> R {
        let texts: Vec<Vec<u16>> = args
            .iter()
            .map(|a| match a {
                Arg::S(s) => s.encode_utf16().collect(),
                _ => Vec::new(),
            })
            .collect();
        let mut variants: Vec<Variant> = args
            .iter()
            .zip(&texts)
            .map(|(a, text)| match a {
                Arg::S(_) => Variant::wstr(text),
                Arg::N(n) => Variant::i4(*n),
                Arg::B(b) => Variant::boolean(*b),
                Arg::Undefined => Variant::empty(),
                Arg::Blob(bytes) => Variant::counted(VT_BLOB, bytes.as_ptr().cast(), bytes.len() as u32),
                Arg::Date(iso) => {
                    let ole = UtcTime::parse(iso).unwrap().unix_millis() as f64 / 86_400_000.0 + 25_569.0;
                    let mut v = Variant::r8(ole);
                    v.vt = VT_DATE;
                    v
                }
            })
            .collect();
        f(&mut variants)
    }

    pub fn set(&self, name: &str, value: Arg) -> bool {
        let n = self.addin.find_prop(name);
        assert!(n >= 0, "no property {name}");
        Self::with_variants(&[value], |v| self.addin.set_prop(n, &mut v[0]))
    }

    pub fn string(&self, name: &str) -> String {
        let (ok, v) = self.addin.get_prop(self.addin.find_prop(name));
        assert!(ok, "GetPropVal {name}");
        self.mem.take_string(&v)
    }

    pub fn number(&self, name: &str) -> i32 {
        let (ok, v) = self.addin.get_prop(self.addin.find_prop(name));
        assert!(ok && v.vt == VT_I4, "GetPropVal {name}: {v:?}");
        v.as_i32()
    }

    /// A property that reads `Неопределено`.
    pub fn undefined(&self, name: &str) -> bool {
        let (ok, v) = self.addin.get_prop(self.addin.find_prop(name));
        ok && v.vt == VT_EMPTY
    }

    pub fn boolean(&self, name: &str) -> bool {
        let (ok, v) = self.addin.get_prop(self.addin.find_prop(name));
        assert!(ok && v.vt == VT_BOOL, "GetPropVal {name}: {v:?}");
        v.bytes[0] != 0
    }

    /// `CallAsFunc`: whether it succeeded, and the returned value.
    pub fn call(&self, method: &str, args: &[Arg]) -> (bool, Variant) {
        let n: c_long = self.addin.find_method(method);
        assert!(n >= 0, "no method {method}");
        assert_eq!(self.addin.n_params(n), args.len() as c_long, "{method}");
        Self::with_variants(args, |v| self.addin.call_func(n, v))
    }

    /// A licence method that must answer `Истина`.
    pub fn succeeds(&self, method: &str, args: &[Arg]) {
        let (ok, ret) = self.call(method, args);
        assert!(ok, "{method} failed: {:?} / {}", self.host.take_errors(), self.string("LastError"));
        assert_eq!((ret.vt, ret.bytes[0]), (VT_BOOL, 1), "{method} returns Истина");
    }

    /// A licence method that must fail as BSL sees it: `false`, one `AddError` with a non-zero scode,
    /// `LastErrorCode` = `code`. Returns `LastError`, which is also the AddError's text.
    pub fn fails(&self, method: &str, args: &[Arg], code: i32) -> String {
        let (ok, _) = self.call(method, args);
        assert!(!ok, "{method} succeeded");
        let errors = self.host.take_errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_ne!(errors[0].scode, 0);
        assert_eq!(errors[0].source, "Licence");
        let text = self.string("LastError");
        assert_eq!(errors[0].descr, text);
        assert_eq!(self.number("LastErrorCode"), code, "{method}: {text}");
        text
    }

    pub fn obtain_args(number: i32, user: &str) -> [Arg<'_>; 7] {
        Self::obtain_args_for("Srvr=\"srv\";Ref=\"trade\";", number, user)
    }

    /// `ПолучитьЛицензию`'s arguments for an infobase `connection` string.
    pub fn obtain_args_for<'a>(connection: &'a str, number: i32, user: &'a str) -> [Arg<'a>; 7] {
        [
            Arg::N(number),
            Arg::S(connection),
            Arg::S("1CV8C"),
            Arg::S("HOST1"),
            Arg::S(user),
            Arg::Date(STARTED),
            Arg::Undefined,
        ]
    }

    pub fn events(&self) -> Vec<(String, String, String)> {
        self.host.events.lock().unwrap().clone()
    }

    /// `Done` and `DestroyObject`; every block handed to the platform was freed.
    pub fn destroy(self) -> Box<Host> {
        self.addin.done();
        let mut object = self.addin.object;
        // SAFETY: our live object.
        assert_eq!(unsafe { DestroyObject(&mut object) }, 0);
        assert_eq!(self.mem.outstanding(), 0);
        assert_eq!(self.host.take_errors(), vec![]);
        self.host
    }
}
