//! What the integration tests of the server, the add-in's client, the add-in and the vendor's kit
//! share: scratch folders, ports nothing can listen on, the real binaries (built once per test process,
//! from the sources being tested), starting the real servers on ports the system picks ([`server`],
//! [`process`]), waits on events with deadlines ([`wait`]), the key fields to issue, and the vendor's
//! side with the one test product ([`vendor`]). Each piece is written here once, so a change to one of
//! them (say, the folder tests write in) is made once.
#![forbid(unsafe_code)]

pub mod process;
pub mod server;
pub mod vendor;
pub mod wait;

pub use wait::{holds_for, wait_for, wait_until, PATIENCE};

use licence_protocol::identity::MachineIdentity;
use licence_protocol::key::{KeyFields, KeyKind};
use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The API password every test server is given (`[API] Password`): the server refuses changes while the
/// API keeps its default `admin`/`admin`.
pub const API_PASSWORD: &str = "test-api-pass-1";
/// `Authorization` for user `admin` with [`API_PASSWORD`].
pub const API_AUTHORIZATION: &str = "Basic YWRtaW46dGVzdC1hcGktcGFzcy0x";

#[cfg(test)]
mod api_login_tests {
    #[test]
    fn the_authorization_is_admin_with_the_test_password() {
        use base64::Engine;
        let encoded = super::API_AUTHORIZATION.strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), format!("admin:{}", super::API_PASSWORD));
    }
}

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

/// Low loopback ports that no registered service uses and that nothing in the test suites can take:
/// every server a test starts binds port 0 (the system then picks from its ephemeral range, far above
/// these), no test binds a fixed port, and an ordinary user cannot bind below 1024 at all.
const REFUSING_PORTS: [u16; 8] = [4, 6, 8, 10, 12, 14, 16, 26];

/// A port on 127.0.0.1 where a connection is refused, for "a server that is not there": one of
/// [`REFUSING_PORTS`] in turn (so two calls give two different endpoints). A port picked free by
/// binding and releasing it could be given to a neighbouring test's server the moment after; these
/// cannot. Checked on every call: if a service of the machine itself listens there, the test says so
/// instead of talking to it.
pub fn refused_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let port = REFUSING_PORTS[NEXT.fetch_add(1, Ordering::SeqCst) % REFUSING_PORTS.len()];
    match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => port,
        Ok(_) => {
            panic!("something on this machine listens on 127.0.0.1:{port}, which the tests use as a refusing port")
        }
        Err(e) => panic!("connecting to 127.0.0.1:{port} was not refused but failed with: {e}"),
    }
}

/// The real `licenceserver`, brought up to date with `cargo build -p licenceserver` once per test
/// process (for the crates whose tests cannot name it with `CARGO_BIN_EXE_licenceserver`).
pub fn server_binary() -> PathBuf {
    workspace_binary("licenceserver", "licenceserver")
}

/// The vendor's kit's `name` (`licenceedit`, `licencecentre`), brought up to date once per test
/// process, so a test never runs a binary built from older sources.
pub fn devkit_binary(name: &str) -> PathBuf {
    workspace_binary("licence-devkit", name)
}

/// `{target}/{profile}/{name}`, built by `cargo build` into the very target folder and profile the
/// running test was built in (read from the test executable's own path, `{target}/{profile}/deps/…`,
/// so neither a `CARGO_TARGET_DIR` missing from the test's environment nor a configured `target-dir`
/// can make it run a binary of another build).
fn workspace_binary(package: &str, name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("the test runs from {target}/{profile}/deps");
    let target = profile_dir.parent().expect("{target}/{profile}");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(other) => other.to_owned(),
    };
    let binary = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mut built = BUILT.get_or_init(Mutex::default).lock().unwrap_or_else(|p| p.into_inner());
    if !built.iter().any(|b| b == name) {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", package, "--bin", name, "--profile", &profile, "--target-dir"])
            .arg(target)
            .current_dir(&workspace)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build -p {package} --bin {name} failed");
        assert!(binary.is_file(), "cargo build -p {package} --bin {name} left no {}", binary.display());
        built.push(name.to_owned());
    }
    binary
}

/// The fields of a main key `{series}.{key_no}` for the computer whose machine id is `machine`:
/// `count` licences, valid from a day ago for a year, flags `0b1011`, the test product
/// ([`vendor::PRODUCT_NAME`], [`vendor::ARTICLE_NAME`]), article `ART-1`. Tests change what they need
/// with `KeyFields { …, ..main_key(…) }`.
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
        product_name: vendor::PRODUCT_NAME.into(),
        article: "ART-1".into(),
        article_name: vendor::ARTICLE_NAME.into(),
        support_date: None,
        computer_id: MachineIdentity::from_material(machine.as_bytes()).computer_id(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusing_ports_are_refused_and_differ_from_call_to_call() {
        let (a, b) = (refused_port(), refused_port());
        assert_ne!(a, b);
        for port in [a, b] {
            let e = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
        }
    }
}
