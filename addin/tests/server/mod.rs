//! The real licence server for the add-in's integration tests: `licence_testkit::server_binary` (built
//! once per test process) in a temporary root on a loopback port the system picks (learnt from the
//! server's announcement), for a pinned machine id and the host
//! secret in its root, with a main key issued by `keyfile::issue` — of the genuine series
//! ([`crate::licence::genuine`], which `Licence::of` pins) unless a test brings its own. Nothing of it is
//! mocked.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use licence_protocol::identity::{HostSecret, MachineIdentity, HOST_SECRET_FILE};
use licence_protocol::key::KeyFields;
use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;

pub const SERIES: &str = "672B";
/// The functional flags of the test key: 0, 1 and 3.
pub const FLAGS: u64 = 0b1011;
pub const PRODUCT: &str = licence_testkit::vendor::PRODUCT_NAME;
const ADMIN: &str = licence_testkit::API_AUTHORIZATION;

/// A loopback port where connections are refused, which no test server can take.
#[allow(unused_imports)]
pub use licence_testkit::refused_port;
pub use licence_testkit::scratch;
use licence_testkit::server_binary;

/// One test of this process at a time, with `HOME` set once to a scratch folder named after `tag`: the
/// add-in's logs and a user's licenceaddin.conf live under it, so the machine's own never interfere.
pub fn serial_in_home(tag: &str) -> std::sync::MutexGuard<'static, ()> {
    use std::sync::{Mutex, OnceLock};
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let guard = LOCK.get_or_init(Mutex::default).lock().unwrap_or_else(|p| p.into_inner());
    static HOME: OnceLock<()> = OnceLock::new();
    HOME.get_or_init(|| std::env::set_var("HOME", scratch(tag)));
    guard
}

pub struct TestServer {
    pub root: PathBuf,
    pub port: u16,
    child: Child,
}

impl TestServer {
    /// A running server with one main key of `licences` licences; `common` adds `[Common]` lines.
    pub fn start(licences: u32, common: &str) -> Self {
        Self::start_with(licences, common, |_| {})
    }

    /// [`TestServer::start`] with the key's fields changed by `adjust` before it is issued (its
    /// period, `ExpireDate`, `SupportDate`…).
    pub fn start_with(licences: u32, common: &str, adjust: impl FnOnce(&mut KeyFields)) -> Self {
        Self::start_for(crate::licence::genuine(), licences, common, adjust)
    }

    /// [`TestServer::start_with`] with a key of `series` (whose secret and public key the test knows).
    pub fn start_for(series: &SeriesKeys, licences: u32, common: &str, adjust: impl FnOnce(&mut KeyFields)) -> Self {
        let machine = "addin-methods-test-machine";
        let root = scratch("server");
        std::fs::create_dir_all(root.join("3.0")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        let machine_file = root.join("machine-id");
        std::fs::write(&machine_file, machine).unwrap();
        let config = format!(
            "[Common]\nMachineIdFile={}\n{common}\n[API]\nPassword={}\n",
            machine_file.display(),
            licence_testkit::API_PASSWORD
        );
        std::fs::write(root.join("3.0/licenceserver.conf"), config).unwrap();

        let host = HostSecret::load_or_create(&root.join("3.0").join(HOST_SECRET_FILE)).unwrap();
        let identity = MachineIdentity::from_material(machine.as_bytes()).with_host_secret(host);
        let mut fields = KeyFields {
            flags: FLAGS,
            product_name: PRODUCT.into(),
            ..licence_testkit::main_key(series, machine, 1000, licences)
        };
        adjust(&mut fields);
        let bytes = keyfile::issue(&fields, series, &identity.binding());
        std::fs::write(root.join("data").join(fields.file_name()), bytes).unwrap();

        let (child, port) = Self::spawn(&root, 0);
        let server = TestServer { root, port, child };
        server.wait_for_key();
        server
    }

    /// Starts the server on `port` (0: one the system picks); the process and the port it announced.
    fn spawn(root: &std::path::Path, port: u16) -> (Child, u16) {
        match licence_testkit::server::start(&server_binary(), root, port, &[]) {
            Ok(started) => (started.child, started.address.port()),
            Err(e) => panic!("licenceserver did not start: {e}"),
        }
    }

    fn wait_for_key(&self) {
        licence_testkit::wait_until(licence_testkit::PATIENCE, "licenceserver to list its key", || {
            self.get("/api/licences").and_then(|b| b["Licences"].as_array().map(Vec::len)).unwrap_or(0) > 0
        });
    }

    /// Stops the server (SIGKILL, as an update that replaces the binary might) and starts it again on
    /// the same port (the one its first run announced) and root: its leases come back, its channels
    /// do not.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::spawn(&self.root, self.port).0;
        self.wait_for_key();
    }

    fn agent() -> ureq::Agent {
        ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).build()
    }

    fn get(&self, path: &str) -> Option<serde_json::Value> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        Self::agent().get(&url).set("Authorization", ADMIN).call().ok()?.into_json().ok()
    }

    /// The items of `GET /api/sessions`.
    pub fn sessions(&self) -> Vec<serde_json::Value> {
        let body = self.get("/api/sessions").expect("GET /api/sessions answers");
        body["Sessions"].as_array().cloned().unwrap_or_default()
    }

    /// The `ExpireTime` of the server's only connection (`None` while it has none): a heartbeat
    /// moves it on.
    pub fn connection_expiry(&self) -> Option<serde_json::Value> {
        let body = self.get("/api/connections").expect("GET /api/connections answers");
        let connections = body["Connections"].as_array().cloned().unwrap_or_default();
        assert!(connections.len() <= 1, "more than one connection: {connections:?}");
        connections.first().map(|c| c["ExpireTime"].clone())
    }

    /// `DELETE /api/sessions/{id}`, as the administrator ends a session; the status.
    pub fn end_session(&self, id: &str) -> u16 {
        let url = format!("http://127.0.0.1:{}/api/sessions/{id}", self.port);
        match Self::agent().delete(&url).set("Authorization", ADMIN).call() {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(status, _)) => status,
            Err(e) => panic!("DELETE {url}: {e}"),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}
