//! The optional local fallback driven through the add-in's vtables by the fake platform (tests/support):
//! a real key file, signed and bound to a pinned machine id with the protocol's own code, sits in a
//! temporary data folder of the licence server; the add-in's folders are relocated there. No server
//! answers on the port the objects use (a free loopback port) unless a test starts the real one
//! (tests/server).
#![allow(unsafe_code)]
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod server;
mod support;

use std::ffi::{c_long, c_void};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use licence_protocol::identity::MachineIdentity;
use licence_protocol::key::KeyFields;
use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use licenceaddin::ffi::{DestroyObject, GetClassObject};
use licenceaddin_client::conf::Places;
use server::{free_port, scratch, TestServer, SERIES};
use support::*;

const VT_DATE: u16 = 6;
const FILE_BASE: &str = "File=\"/home/user/trade\";";
const CLIENT_SERVER_BASE: &str = "Srvr=\"srv\";Ref=\"trade\";";
const MACHINE: &str = "local-fallback-test-machine";

/// The relocation of the add-in's folders is process-wide: one test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(Mutex::default).lock().unwrap_or_else(|p| p.into_inner())
}

/// A relocated licence tree (`user`, `common`, `data`) whose `licenceserver.conf` pins [`MACHINE`].
struct Tree {
    root: PathBuf,
    places: Places,
}

impl Tree {
    fn new() -> Self {
        let root = scratch("fallback");
        let places = Places::under_root(&root);
        for dir in [places.user.as_ref().unwrap(), &places.common, &places.data] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let machine_file = root.join("machine-id");
        std::fs::write(&machine_file, MACHINE).unwrap();
        std::fs::write(places.server_config(), format!("[Common]\nMachineIdFile={}\n", machine_file.display()))
            .unwrap();
        licenceaddin::licensing::relocate(places.clone());
        Self { root, places }
    }

    /// Issues a main key of series 672B with 5 licences and flags 0 and 2 for `machine`; returns its path.
    fn install_key(&self, machine: &str) -> PathBuf {
        let series = SeriesKeys::generate(SERIES.parse().unwrap());
        let identity = MachineIdentity::from_material(machine.as_bytes());
        let fields = KeyFields {
            flags: 0b101,
            product_name: "Склад".into(),
            article: "ART-2".into(),
            ..licence_testkit::main_key(&series, machine, 2000, 5)
        };
        let path = self.places.data.join(fields.file_name());
        std::fs::write(&path, keyfile::issue(&fields, &series, &identity.binding())).unwrap();
        path
    }

    fn write_user_conf(&self, text: &str) {
        std::fs::write(self.places.user.as_ref().unwrap().join("licenceaddin.conf"), text).unwrap();
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// One `Новый("AddIn.Лицензирование.Licence")` with its platform.
struct Licence {
    addin: Addin,
    mem: Box<Memory>,
    host: Box<Host>,
}

impl Licence {
    /// An object of series 672B whose server is `port` on loopback, a client process unless `is_server`.
    fn of(port: u16, is_server: bool) -> Self {
        let (mem, host) = (Memory::new(), Host::new());
        let name = wide("Licence");
        let mut object: *mut c_void = std::ptr::null_mut();
        // SAFETY: a NUL-terminated name and a writable out-pointer.
        assert_ne!(unsafe { GetClassObject(name.as_ptr(), &mut object) }, 0);
        let addin = Addin { object };
        assert!(addin.init(&host) && addin.set_mem_manager(&mem));
        let l = Self { addin, mem, host };
        l.set_str("ServerAddr", "127.0.0.1");
        l.set("ServerPort", Variant::i4(i32::from(port)));
        l.set_str("KeyID", SERIES);
        l.set("ЭтоСервер", Variant::boolean(is_server));
        l
    }

    fn set(&self, name: &str, mut value: Variant) {
        let n = self.addin.find_prop(name);
        assert!(n >= 0, "no property {name}");
        assert!(self.addin.set_prop(n, &mut value), "set {name}: {:?}", self.host.take_errors());
    }

    fn set_str(&self, name: &str, text: &str) {
        let units: Vec<u16> = text.encode_utf16().collect();
        self.set(name, Variant::wstr(&units));
    }

    /// `KeyParameter(name)`: whether it succeeded, and the value.
    fn key_parameter(&self, name: &str) -> (bool, Variant) {
        let units: Vec<u16> = name.encode_utf16().collect();
        self.call("ПараметрКлюча", &mut [Variant::wstr(&units)])
    }

    fn string(&self, name: &str) -> String {
        let (ok, v) = self.addin.get_prop(self.addin.find_prop(name));
        assert!(ok, "GetPropVal {name}");
        self.mem.take_string(&v)
    }

    fn number(&self, name: &str) -> i32 {
        let (ok, v) = self.addin.get_prop(self.addin.find_prop(name));
        assert!(ok && v.vt == VT_I4, "GetPropVal {name}: {v:?}");
        v.as_i32()
    }

    fn boolean(&self, name: &str) -> bool {
        let (ok, v) = self.addin.get_prop(self.addin.find_prop(name));
        assert!(ok && v.vt == VT_BOOL, "GetPropVal {name}: {v:?}");
        v.bytes[0] != 0
    }

    fn call(&self, method: &str, args: &mut [Variant]) -> (bool, Variant) {
        let n: c_long = self.addin.find_method(method);
        assert!(n >= 0, "no method {method}");
        self.addin.call_func(n, args)
    }

    /// `ПолучитьЛицензию(1, connection, "1CV8C", "HOST1", "user", start, Неопределено)`.
    fn obtain(&self, connection: &str) -> bool {
        let units = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        let (text, app, host, user) = (units(connection), units("1CV8C"), units("HOST1"), units("user"));
        let started = UtcTime::parse("2026-11-24T09:00:00Z").unwrap().unix_millis() as f64 / 86_400_000.0 + 25_569.0;
        let mut date = Variant::r8(started);
        date.vt = VT_DATE;
        let mut args = [
            Variant::i4(1),
            Variant::wstr(&text),
            Variant::wstr(&app),
            Variant::wstr(&host),
            Variant::wstr(&user),
            date,
            Variant::empty(),
        ];
        self.call("ПолучитьЛицензию", &mut args).0
    }

    /// An obtain that must fail with `code`: the text BSL sees.
    fn obtain_fails(&self, connection: &str, code: i32) -> String {
        assert!(!self.obtain(connection), "ObtainLicence succeeded: {}", self.string("LastError"));
        assert_eq!(self.host.take_errors().len(), 1);
        let text = self.string("LastError");
        assert_eq!(self.number("LastErrorCode"), code, "{text}");
        assert!(!self.boolean("LicenceHeld"));
        text
    }

    /// An obtain that must succeed, with no AddError.
    fn obtain_succeeds(&self, connection: &str) {
        assert!(self.obtain(connection), "ObtainLicence failed: {}", self.string("LastError"));
        assert_eq!(self.host.take_errors(), vec![]);
        assert!(self.boolean("ЛицензияПолучена"));
    }

    fn destroy(self) {
        self.addin.done();
        let mut object = self.addin.object;
        // SAFETY: our live object.
        assert_eq!(unsafe { DestroyObject(&mut object) }, 0);
        assert_eq!(self.mem.outstanding(), 0);
    }
}

#[test]
fn fallback_off_means_the_server_is_unreachable() {
    let _serial = serial();
    let tree = Tree::new();
    tree.install_key(MACHINE);
    let l = Licence::of(free_port(), false);
    assert!(!l.boolean("ЛокальныйРезерв"));
    let text = l.obtain_fails(FILE_BASE, 1);
    assert!(text.starts_with("no licence server answered: 127.0.0.1:"), "{text}");
    assert!(!text.contains("local"), "{text}");
    assert_eq!(l.string("ServerInUse"), "");
    l.destroy();
}

#[test]
fn a_file_mode_client_takes_the_licence_of_a_local_key() {
    let _serial = serial();
    let tree = Tree::new();
    tree.install_key(MACHINE);
    let l = Licence::of(free_port(), false);
    l.set("LocalFallback", Variant::boolean(true));
    assert!(l.boolean("ЛокальныйРезерв"));
    l.obtain_succeeds(FILE_BASE);
    assert_eq!(l.string("ИспользуемыйСервер"), "local");
    assert_eq!(l.number("КодОшибки"), 13);
    let text = l.string("LastError");
    assert!(text.starts_with("no licence server answered: 127.0.0.1:"), "{text}");
    assert!(text.contains("the licence comes from 672B.2000.licence installed on this computer (local fallback)"));
    assert!(text.ends_with("установленному на этом компьютере)"), "{text}");

    let (ok, v) = l.call("CheckLicence", &mut []);
    assert!(ok && v.vt == VT_BOOL && v.bytes[0] == 1, "{:?}", l.host.take_errors());
    let (ok, count) = l.key_parameter("LicenceCount");
    assert!(ok && count.as_i32() == 5, "{count:?}");
    let (ok, used) = l.key_parameter("ИспользуетсяЛицензий");
    assert!(ok && used.as_i32() == 1, "the one licence of this computer: {used:?}");
    let (ok, kind) = l.key_parameter("KeyType");
    assert!(ok && kind.as_i32() == 3, "{kind:?}");
    for (flag, set) in [(0, true), (1, false), (2, true)] {
        let (ok, v) = l.call("ЕстьФлаг", &mut [Variant::i4(flag)]);
        assert!(ok && (v.bytes[0] != 0) == set, "flag {flag}: {v:?}");
    }
    assert!(!l.boolean("DemoMode"));

    let (ok, _) = l.call("ОсвободитьЛицензию", &mut []);
    assert!(ok);
    assert!(!l.boolean("LicenceHeld"));
    assert_eq!(l.number("LastErrorCode"), 0);
    l.destroy();
}

#[test]
fn licenceaddin_conf_turns_the_fallback_on_for_its_series() {
    let _serial = serial();
    let tree = Tree::new();
    tree.install_key(MACHINE);
    tree.write_user_conf("[672B]\nLocalFallback=1\n");
    let l = Licence::of(free_port(), false);
    l.obtain_succeeds(FILE_BASE);
    assert_eq!(l.string("ServerInUse"), "local");
    assert_eq!(l.number("LastErrorCode"), 13);
    l.destroy();

    // The code's explicit "no" wins over a file that does not force its settings.
    let l = Licence::of(free_port(), false);
    l.set("ЛокальныйРезерв", Variant::boolean(false));
    l.obtain_fails(FILE_BASE, 1);
    l.destroy();
}

#[test]
fn a_server_process_never_falls_back() {
    let _serial = serial();
    let tree = Tree::new();
    tree.install_key(MACHINE);
    let l = Licence::of(free_port(), true);
    l.set("LocalFallback", Variant::boolean(true));
    let text = l.obtain_fails(FILE_BASE, 1);
    assert!(
        text.contains("the local fallback gave no licence: a server process (IsServer) never falls back"),
        "{text}"
    );
    assert!(text.ends_with("(Сервер лицензий недоступен)"), "{text}");
    l.destroy();
}

#[test]
fn a_client_of_a_client_server_infobase_never_falls_back() {
    let _serial = serial();
    let tree = Tree::new();
    tree.install_key(MACHINE);
    let l = Licence::of(free_port(), false);
    l.set("LocalFallback", Variant::boolean(true));
    let text = l.obtain_fails(CLIENT_SERVER_BASE, 1);
    assert!(text.contains("the infobase is not in file mode"), "{text}");
    l.destroy();
}

#[test]
fn a_tampered_or_foreign_key_gives_nothing_and_says_why() {
    let _serial = serial();
    let tree = Tree::new();
    let path = tree.install_key(MACHINE);
    let text = std::fs::read_to_string(&path).unwrap().replace("\"LicenceCount\":5", "\"LicenceCount\":50");
    std::fs::write(&path, text).unwrap();
    let l = Licence::of(free_port(), false);
    l.set("LocalFallback", Variant::boolean(true));
    let text = l.obtain_fails(FILE_BASE, 1);
    assert!(text.contains("the local fallback gave no licence: 672B.2000.licence: signature does not match"), "{text}");
    l.destroy();

    tree.install_key("some other computer");
    let l = Licence::of(free_port(), false);
    l.set("LocalFallback", Variant::boolean(true));
    let text = l.obtain_fails(FILE_BASE, 1);
    assert!(text.contains("672B.2000.licence: key is bound to another computer"), "{text}");
    l.destroy();

    std::fs::remove_file(&path).unwrap();
    let l = Licence::of(free_port(), false);
    l.set("LocalFallback", Variant::boolean(true));
    let text = l.obtain_fails(FILE_BASE, 1);
    assert!(text.contains("no key of series 672B is installed in "), "{text}");
    l.destroy();
}

#[test]
fn a_server_that_answers_is_used_and_takes_the_licence_over() {
    let _serial = serial();
    let tree = Tree::new();
    tree.install_key(MACHINE);
    let server = TestServer::start(2, "");
    let here = format!("127.0.0.1:{}", server.port);

    let l = Licence::of(server.port, false);
    l.set("LocalFallback", Variant::boolean(true));
    l.obtain_succeeds(FILE_BASE);
    assert_eq!(l.string("ServerInUse"), here);
    assert_eq!(l.number("LastErrorCode"), 0);
    assert_eq!(server.sessions().len(), 1);
    assert!(l.call("ReleaseLicence", &mut []).0);
    l.destroy();

    // On the fallback first; once the server is named and answers, the next obtain moves there.
    let l = Licence::of(free_port(), false);
    l.set("LocalFallback", Variant::boolean(true));
    l.obtain_succeeds(FILE_BASE);
    assert_eq!(l.string("ServerInUse"), "local");
    assert_eq!(server.sessions().len(), 0);
    l.set("ServerPort", Variant::i4(i32::from(server.port)));
    l.obtain_succeeds(FILE_BASE);
    assert_eq!(l.string("ServerInUse"), here);
    assert_eq!(l.number("LastErrorCode"), 0, "the fallback notice is gone: {}", l.string("LastError"));
    assert_eq!(server.sessions().len(), 1);
    assert!(l.call("ReleaseLicence", &mut []).0);
    assert_eq!(server.sessions().len(), 0);
    l.destroy();
    drop(tree);
}
