//! What the integration tests of the server, the add-in's client and the add-in share. Each of them
//! starts the real `licenceserver` binary its own way; this crate holds only the pieces that are the
//! same everywhere, so a change to one of them (say, the folder tests write in) is made once.
#![forbid(unsafe_code)]

use licence_protocol::identity::MachineIdentity;
use licence_protocol::key::{KeyFields, KeyKind};
use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// A fresh, empty folder under the system's temporary one, named after `tag`, this process and a
/// counter (removed by its owner).
pub fn scratch(tag: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("licence-it-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback port nothing listens on right now (bound to port 0, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `{target}/debug/licenceserver` (the target folder is `CARGO_TARGET_DIR` when set, else the
/// workspace's `target`), brought up to date with `cargo build -p licenceserver` once per test process
/// (for the crates whose tests cannot name it with `CARGO_BIN_EXE_licenceserver`).
pub fn server_binary() -> PathBuf {
    workspace_binary("licenceserver", "licenceserver")
}

/// `{target}/debug/{name}` of the vendor's kit (`licenceedit`, `licencecentre`), brought up to date
/// once per test process, so a test never runs a binary built from older sources.
pub fn devkit_binary(name: &str) -> PathBuf {
    workspace_binary("licence-devkit", name)
}

fn workspace_binary(package: &str, name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), PathBuf::from);
    let binary = target.join("debug").join(name);
    let mut built = BUILT.get_or_init(Mutex::default).lock().unwrap_or_else(|p| p.into_inner());
    if !built.iter().any(|b| b == name) {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", package, "--bin", name])
            .current_dir(&workspace)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build -p {package} --bin {name} failed");
        built.push(name.to_owned());
    }
    binary
}

/// The fields of a main key `{series}.{key_no}` for the computer whose machine id is `machine`:
/// `count` licences, valid from a day ago for a year, flags `0b1011`, product "Управление складом",
/// article `ART-1`. Tests change what they need with `KeyFields { …, ..main_key(…) }`.
pub fn main_key(series: &SeriesKeys, machine: &str, key_no: u64, count: u32) -> KeyFields {
    KeyFields {
        key_no,
        key_id: series.series,
        reg_no: format!("REG-{key_no}"),
        key_type: KeyKind::Main,
        licence_count: count,
        product_version: "1.0".into(),
        blank_key_no: None,
        activation_code: None,
        activation_date: None,
        start_date: UtcTime::from_unix_millis(UtcTime::now().unix_millis() - 86_400_000).unwrap(),
        period: 365,
        expire_date: None,
        flags: 0b1011,
        itn: None,
        iec: None,
        product_name: "Управление складом".into(),
        article: "ART-1".into(),
        article_name: "Основная поставка".into(),
        support_date: None,
        computer_id: MachineIdentity::from_material(machine.as_bytes()).computer_id(),
    }
}
