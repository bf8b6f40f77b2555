//! The optional local fallback driven through the add-in's vtables by the fake platform (tests/support):
//! a real key file, signed and bound to a pinned machine id with the protocol's own code, sits in a
//! temporary data folder of the licence server; the add-in's folders are relocated there. The keys are
//! of the genuine series the objects pin (`SeriesPublicKey`) unless a test forges one. No server
//! answers on the port the objects use (a loopback port where connections are refused, which no test
//! server can take: `licence_testkit::refused_port`) unless a test starts the real one (tests/server).
#![allow(unsafe_code)]
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

#[path = "support/licence.rs"]
mod licence;
mod server;
mod support;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use licence::*;
use licence_protocol::identity::MachineIdentity;
use licence_protocol::key::KeyFields;
use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;
use licenceaddin_client::conf::Places;
use server::{refused_port, scratch, TestServer, SERIES};
use support::*;

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

    /// Issues a main key of the genuine series 672B with 5 licences and flags 0 and 2 for `machine`;
    /// returns its path.
    fn install_key(&self, machine: &str) -> PathBuf {
        self.install_key_of(genuine(), machine, 5)
    }

    /// Key 2000 of `series` with `licences` licences for `machine`, bound to the machine id alone (the
    /// server's host secret only adds to the sealing of its secrets, which the fallback never opens).
    fn install_key_of(&self, series: &SeriesKeys, machine: &str, licences: u32) -> PathBuf {
        let identity = MachineIdentity::from_material(machine.as_bytes());
        let fields = KeyFields {
            flags: 0b101,
            product_name: "Склад".into(),
            article: "ART-2".into(),
            ..licence_testkit::main_key(series, machine, 2000, licences)
        };
        let path = self.places.data.join(fields.file_name());
        std::fs::write(&path, keyfile::issue(&fields, series, &identity.binding())).unwrap();
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

/// A `Licence` of series 672B whose server is `port` on loopback, a client process unless `is_server`.
fn licence(port: u16, is_server: bool) -> Licence {
    let l = Licence::of(port);
    assert!(l.set("ЭтоСервер", Arg::B(is_server)));
    l
}

/// `ПолучитьЛицензию(1, connection, …)` that must fail with `code`: the text BSL sees.
fn obtain_fails(l: &Licence, connection: &str, code: i32) -> String {
    let text = l.fails("ПолучитьЛицензию", &Licence::obtain_args_for(connection, 1, "user"), code);
    assert!(!l.boolean("LicenceHeld"));
    text
}

/// `ПолучитьЛицензию(1, connection, …)` that must succeed, with no AddError.
fn obtain_succeeds(l: &Licence, connection: &str) {
    l.succeeds("ПолучитьЛицензию", &Licence::obtain_args_for(connection, 1, "user"));
    assert!(l.boolean("ЛицензияПолучена"));
}

#[test]
fn fallback_off_means_the_server_is_unreachable() {
    let _serial = serial();
    let tree = Tree::new();
    tree.install_key(MACHINE);
    let l = licence(refused_port(), false);
    assert!(!l.boolean("ЛокальныйРезерв"));
    let text = obtain_fails(&l, FILE_BASE, 1);
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
    let l = licence(refused_port(), false);
    assert!(l.set("LocalFallback", Arg::B(true)));
    assert!(l.boolean("ЛокальныйРезерв"));
    obtain_succeeds(&l, FILE_BASE);
    assert_eq!(l.string("ИспользуемыйСервер"), "local");
    assert_eq!(l.number("КодОшибки"), 13);
    let text = l.string("LastError");
    assert!(text.starts_with("no licence server answered: 127.0.0.1:"), "{text}");
    assert!(text.contains("the licence comes from 672B.2000.licence installed on this computer (local fallback)"));
    assert!(text.ends_with("установленному на этом компьютере)"), "{text}");

    let (ok, v) = l.call("CheckLicence", &[]);
    assert!(ok && v.vt == VT_BOOL && v.bytes[0] == 1, "{:?}", l.host.take_errors());
    let (ok, count) = l.call("ПараметрКлюча", &[Arg::S("LicenceCount")]);
    assert!(ok && count.as_i32() == 5, "{count:?}");
    let (ok, used) = l.call("ПараметрКлюча", &[Arg::S("ИспользуетсяЛицензий")]);
    assert!(ok && used.as_i32() == 1, "the one licence of this computer: {used:?}");
    let (ok, kind) = l.call("ПараметрКлюча", &[Arg::S("KeyType")]);
    assert!(ok && kind.as_i32() == 3, "{kind:?}");
    for (flag, set) in [(0, true), (1, false), (2, true)] {
        let (ok, v) = l.call("ЕстьФлаг", &[Arg::N(flag)]);
        assert!(ok && (v.bytes[0] != 0) == set, "flag {flag}: {v:?}");
    }
    assert!(!l.boolean("DemoMode"));

    let (ok, _) = l.call("ОсвободитьЛицензию", &[]);
    assert!(ok);
    assert!(!l.boolean("LicenceHeld"));
    assert_eq!(l.number("LastErrorCode"), 0);
    l.destroy();
}

#[test]
fn licenceaddin_conf_can_turn_the_fallback_off_but_not_on() {
    let _serial = serial();
    let tree = Tree::new();
    tree.install_key(MACHINE);
    // A file any user of the computer can write does not turn it on (the line is logged and ignored).
    tree.write_user_conf("[Common]\nForceUseConfig=1\n[672B]\nLocalFallback=1\n");
    let l = licence(refused_port(), false);
    let text = obtain_fails(&l, FILE_BASE, 1);
    assert!(!text.contains("local"), "{text}");
    l.destroy();
    let l = licence(refused_port(), false);
    assert!(l.set("ЛокальныйРезерв", Arg::B(true)));
    obtain_succeeds(&l, FILE_BASE);
    assert_eq!(l.string("ServerInUse"), "local");
    l.destroy();

    // It does turn it off, over the code's "yes".
    tree.write_user_conf("[672B]\nLocalFallback=0\n");
    let l = licence(refused_port(), false);
    assert!(l.set("ЛокальныйРезерв", Arg::B(true)));
    let text = obtain_fails(&l, FILE_BASE, 1);
    assert!(!text.contains("local"), "{text}");
    l.destroy();
}

#[test]
fn a_forged_key_for_the_local_fallback_gives_nothing() {
    let _serial = serial();
    let tree = Tree::new();
    // A self-made series of the same KeyID, a key of 999 licences for this very computer.
    let forger = SeriesKeys::generate(SERIES.parse().unwrap());
    tree.install_key_of(&forger, MACHINE, 999);
    let l = licence(refused_port(), false);
    assert!(l.set("LocalFallback", Arg::B(true)));
    let text = obtain_fails(&l, FILE_BASE, 1);
    assert!(
        text.contains("the local fallback gave no licence: 672B.2000.licence: signed by another key than"),
        "{text}"
    );
    // No key parameter comes from the forged key either.
    l.fails("ПараметрКлюча", &[Arg::S("LicenceCount")], 1);
    l.destroy();
}

#[test]
fn no_pin_no_licence() {
    let _serial = serial();
    let tree = Tree::new();
    tree.install_key(MACHINE);
    let server = TestServer::start(2, "");
    for port in [server.port, refused_port()] {
        let l = Licence::unpinned(port);
        assert!(l.set("ЭтоСервер", Arg::B(false)));
        assert!(l.set("LocalFallback", Arg::B(true)));
        let text = obtain_fails(&l, FILE_BASE, 16);
        assert!(text.starts_with("SeriesPublicKey is not set"), "{text}");
        assert!(text.contains("Не задан открытый ключ серии"), "{text}");
        for (method, args) in [
            ("Подключиться", vec![]),
            ("CheckLicence", vec![]),
            ("KeyParameter", vec![Arg::S("LicenceCount")]),
            ("HasFlag", vec![Arg::N(0)]),
        ] {
            let text = l.fails(method, &args, 16);
            assert!(text.contains("SeriesPublicKey"), "{method}: {text}");
        }
        assert_eq!(l.string("ServerInUse"), "");
        l.destroy();
    }
    assert!(server.sessions().is_empty(), "nothing reached the server");
}

#[test]
fn a_server_process_never_falls_back() {
    let _serial = serial();
    let tree = Tree::new();
    tree.install_key(MACHINE);
    let l = licence(refused_port(), true);
    assert!(l.set("LocalFallback", Arg::B(true)));
    let text = obtain_fails(&l, FILE_BASE, 1);
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
    let l = licence(refused_port(), false);
    assert!(l.set("LocalFallback", Arg::B(true)));
    let text = obtain_fails(&l, CLIENT_SERVER_BASE, 1);
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
    let l = licence(refused_port(), false);
    assert!(l.set("LocalFallback", Arg::B(true)));
    let text = obtain_fails(&l, FILE_BASE, 1);
    assert!(text.contains("the local fallback gave no licence: 672B.2000.licence: signature does not match"), "{text}");
    l.destroy();

    tree.install_key("some other computer");
    let l = licence(refused_port(), false);
    assert!(l.set("LocalFallback", Arg::B(true)));
    let text = obtain_fails(&l, FILE_BASE, 1);
    assert!(text.contains("672B.2000.licence: key is bound to another computer"), "{text}");
    l.destroy();

    std::fs::remove_file(&path).unwrap();
    let l = licence(refused_port(), false);
    assert!(l.set("LocalFallback", Arg::B(true)));
    let text = obtain_fails(&l, FILE_BASE, 1);
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

    let l = licence(server.port, false);
    assert!(l.set("LocalFallback", Arg::B(true)));
    obtain_succeeds(&l, FILE_BASE);
    assert_eq!(l.string("ServerInUse"), here);
    assert_eq!(l.number("LastErrorCode"), 0);
    assert_eq!(server.sessions().len(), 1);
    assert!(l.call("ReleaseLicence", &[]).0);
    l.destroy();

    // On the fallback first; once the server is named and answers, the next obtain moves there.
    let l = licence(refused_port(), false);
    assert!(l.set("LocalFallback", Arg::B(true)));
    obtain_succeeds(&l, FILE_BASE);
    assert_eq!(l.string("ServerInUse"), "local");
    assert_eq!(server.sessions().len(), 0);
    assert!(l.set("ServerPort", Arg::N(i32::from(server.port))));
    obtain_succeeds(&l, FILE_BASE);
    assert_eq!(l.string("ServerInUse"), here);
    assert_eq!(l.number("LastErrorCode"), 0, "the fallback notice is gone: {}", l.string("LastError"));
    assert_eq!(server.sessions().len(), 1);
    assert!(l.call("ReleaseLicence", &[]).0);
    assert_eq!(server.sessions().len(), 0);
    l.destroy();
    drop(tree);
}
