//! Shared by the client's integration tests: starts the real `licenceserver` binary in a temporary root
//! on a loopback port the system picks (learnt from the server's announcement; a restart asks for the
//! same port again), with real signed key files for the computer
//! it pretends to be (a pinned machine-id file and the host secret the server keeps in its root), all of
//! one series whose public key [`caller`] pins. Nothing of the server is mocked.
//!
//! The binary is `licence_testkit::server_binary` (built once per test process, into the target folder
//! and profile of the test itself).
#![allow(dead_code)]

use licence_protocol::identity::{HostSecret, MachineIdentity, HOST_SECRET_FILE};
use licence_protocol::key::KeyFields;
use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::SessionFacts;
use licenceaddin_client::conf::Endpoint;
use licenceaddin_client::facts::Caller;
use std::path::PathBuf;
use std::process::Child;
use std::sync::OnceLock;
use std::time::Duration;

pub const SERIES: &str = "672B";

pub use licence_testkit::{refused_port, scratch, server_binary};

/// The genuine series of every test server: the vendor's secret and the public key the add-in pins.
pub fn series() -> &'static SeriesKeys {
    static SERIES_KEYS: OnceLock<SeriesKeys> = OnceLock::new();
    SERIES_KEYS.get_or_init(|| SeriesKeys::generate(SERIES.parse().unwrap()))
}

pub struct TestServer {
    pub root: PathBuf,
    /// The port the server announced (0 until it first started).
    pub port: u16,
    pub machine: String,
    child: Option<Child>,
}

impl TestServer {
    /// A running server of computer `machine` with a main key of `licences` licences of [`SERIES`].
    pub fn with_licences(machine: &str, licences: u32, extra_common: &str) -> Self {
        let root = scratch("server");
        std::fs::create_dir_all(root.join("3.0")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        let machine_file = root.join("machine-id");
        std::fs::write(&machine_file, machine).unwrap();
        let config = format!(
            "[Common]\nMachineIdFile={}\n{extra_common}\n[API]\nPassword={}\n",
            machine_file.display(),
            licence_testkit::API_PASSWORD
        );
        std::fs::write(root.join("3.0/licenceserver.conf"), config).unwrap();
        let mut server = TestServer { root, port: 0, machine: machine.into(), child: None };
        server.install_key(series(), &key_fields(series(), machine, 1000, licences));
        server.start();
        server
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new("127.0.0.1", self.port)
    }

    /// Starts the server on the port the system picks, or, once it has run, on the port its first
    /// run announced, and waits until it lists its key.
    pub fn start(&mut self) {
        let started = licence_testkit::server::start(&server_binary(), &self.root, self.port, &[])
            .unwrap_or_else(|e| panic!("licenceserver did not start: {e}"));
        self.port = started.address.port();
        self.child = Some(started.child);
        licence_testkit::wait_until(licence_testkit::PATIENCE, "licenceserver to list its key", || {
            self.licence_count().is_some_and(|n| n > 0)
        });
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How many licence keys `/api/licences` lists; `None` while the server does not answer.
    fn licence_count(&self) -> Option<usize> {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(2)).build();
        let url = format!("http://127.0.0.1:{}/api/licences", self.port);
        let response = agent.get(&url).set("Authorization", licence_testkit::API_AUTHORIZATION).call().ok()?;
        let body: serde_json::Value = response.into_json().ok()?;
        body["Licences"].as_array().map(Vec::len)
    }

    /// `/api/sessions` as JSON.
    pub fn sessions(&self) -> serde_json::Value {
        self.api("/api/sessions")
    }

    /// `/api/connections` as JSON.
    pub fn connections(&self) -> serde_json::Value {
        self.api("/api/connections")
    }

    fn api(&self, path: &str) -> serde_json::Value {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).build();
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        agent.get(&url).set("Authorization", licence_testkit::API_AUTHORIZATION).call().unwrap().into_json().unwrap()
    }

    /// Issues `fields` for this server's computer: its machine id and the host secret in its root
    /// (created here when the server has not created it yet).
    pub fn install_key(&self, series: &SeriesKeys, fields: &KeyFields) {
        let host = HostSecret::load_or_create(&self.root.join("3.0").join(HOST_SECRET_FILE)).unwrap();
        let binding = MachineIdentity::from_material(self.machine.as_bytes()).with_host_secret(host).binding();
        let bytes = keyfile::issue(fields, series, &binding);
        std::fs::write(self.root.join("data").join(fields.file_name()), bytes).unwrap();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// A main key of `series` for `machine`, valid from yesterday for a year.
pub fn key_fields(series: &SeriesKeys, machine: &str, key_no: u64, count: u32) -> KeyFields {
    licence_testkit::main_key(series, machine, key_no, count)
}

/// An application-server process (one licence per session) of this add-in's version.
pub fn caller() -> Caller {
    Caller {
        platform_version: "8.3.25.1257".into(),
        is_server: true,
        module_name: "liblicenceaddin".into(),
        version: licence_protocol::VERSION.into(),
        key_id: SERIES.parse().unwrap(),
        series_public_key: Some(series().public_key()),
    }
}

pub fn session(number: u32) -> SessionFacts {
    SessionFacts {
        session_number: number.to_string(),
        info_base_connection_string: "Srvr=\"srv\";Ref=\"trade\";".into(),
        app_name: "1CV8C".into(),
        computer_name: "HOST1".into(),
        user_name: Some(format!("user{number}")),
        session_started: UtcTime::parse("2026-11-24T09:00:00.000Z").unwrap(),
        access_code: None,
        terminal_client: None,
    }
}

/// A port where nothing listens (connections are refused): see `licence_testkit::refused_port`.
pub fn refusing_endpoint() -> Endpoint {
    Endpoint::new("127.0.0.1", refused_port())
}
