//! Shared by the integration tests: starts the real `licenceserver` binary in its own temporary
//! root on a loopback port the system picks (learnt from the server's announcement), issues real signed key files for the computer it pretends to be
//! (its pinned machine-id file and a known host secret written into its root), and talks to it over
//! HTTP — the add-in protocol through the test add-in of [`addin`] (connect proofs checked, every
//! later call sealed). Nothing of the server is mocked.
#![allow(dead_code)]

pub mod addin;
pub mod vendor;

use licence_protocol::identity::{HostSecret, HOST_SECRET_FILE};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use licence_protocol::identity::MachineIdentity;
use licence_protocol::key::{KeyFields, KeyKind};
use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// The API password every test server is given at its first start, unless its config sets one or the
/// test asks for the default ([`TestServer::with_default_api_password`]): on the default `admin` the
/// API refuses every change.
pub use licence_testkit::API_PASSWORD;
/// The API's login in the test servers (and the console's user name with the API's password: the
/// console keeps its default `admin` unless a test sets one).
pub const ADMIN: (&str, &str) = ("admin", API_PASSWORD);
/// The seed's default login, `admin`/`admin`.
pub const DEFAULT_LOGIN: (&str, &str) = ("admin", "admin");

pub struct TestServer {
    pub root: PathBuf,
    /// The port the server announced (0 until it first started).
    pub port: u16,
    pub machine: String,
    /// Environment variables the server is started with.
    pub env: Vec<(String, String)>,
    child: Option<Child>,
    /// The series public key the test add-in pins, per series: the signer of the first key installed
    /// through [`TestServer::install_key`], unless set with [`TestServer::pin`].
    pins: Mutex<HashMap<String, [u8; 32]>>,
    /// The test add-in's connections, by `ConnectionID`.
    addins: Mutex<HashMap<String, Arc<Mutex<addin::Addin>>>>,
    /// Leave `[API] Password` at the default instead of writing [`API_PASSWORD`] at the first start.
    default_api_password: bool,
}

/// The host secret every test server is given (written into `{root}/3.0/host.secret`), so the tests
/// can issue key files to its target key.
pub const HOST_SECRET: [u8; 32] = [0x42; 32];

pub use licence_testkit::scratch;

impl TestServer {
    /// A server whose computer identity is `machine` and whose config gets `extra` appended to
    /// the `[Common]` section (short leases for expiry tests, say). Not started yet.
    pub fn new(machine: &str, extra_common: &str) -> Self {
        let root = scratch("server");
        std::fs::create_dir_all(root.join("3.0")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        let machine_file = root.join("machine-id");
        std::fs::write(&machine_file, machine).unwrap();
        let config = format!("[Common]\nMachineIdFile={}\n{extra_common}\n", machine_file.display());
        std::fs::write(root.join("3.0/licenceserver.conf"), config).unwrap();
        std::fs::write(root.join("3.0").join(HOST_SECRET_FILE), HOST_SECRET).unwrap();
        TestServer {
            root,
            port: 0,
            machine: machine.into(),
            env: Vec::new(),
            child: None,
            pins: Mutex::default(),
            addins: Mutex::default(),
            default_api_password: false,
        }
    }

    /// Keeps the API on the default password `admin`/`admin` (the first start writes none).
    pub fn with_default_api_password(mut self) -> Self {
        self.default_api_password = true;
        self
    }

    pub fn append_config(&self, text: &str) {
        let path = self.root.join("3.0/licenceserver.conf");
        let mut config = std::fs::read_to_string(&path).unwrap();
        config.push_str(text);
        std::fs::write(path, config).unwrap();
    }

    pub fn started(mut self) -> Self {
        self.start();
        self
    }

    /// Starts the server on the port the system picks, or, once it has run, on the port its first
    /// run announced (a restart keeps its address, as the add-ins expect), and waits for its
    /// announcement.
    ///
    /// The first start writes `[API] Password=`[`API_PASSWORD`] at the end of the config when it sets
    /// none (so no line a test wrote moves), unless [`TestServer::with_default_api_password`].
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        if self.port == 0 && !self.default_api_password {
            let path = self.root.join("3.0/licenceserver.conf");
            let config = std::fs::read_to_string(&path).unwrap();
            if licence_protocol::ini::Ini::parse(&config).get("API", "Password").is_none() {
                self.append_config(&format!("\n[API]\nPassword={API_PASSWORD}\n"));
            }
        }
        let started = licence_testkit::server::start(
            Path::new(env!("CARGO_BIN_EXE_licenceserver")),
            &self.root,
            self.port,
            &self.env,
        )
        .unwrap_or_else(|e| panic!("licenceserver did not start: {e}\nlog:\n{}", self.log()));
        self.port = started.address.port();
        self.child = Some(started.child);
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait: the way a service manager stops it. The server must end, and end well, of
    /// its own accord.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let exit = licence_testkit::wait_for(licence_testkit::PATIENCE, "the server to stop on SIGTERM", || {
                child.try_wait().unwrap()
            });
            assert!(exit.success(), "stopped on SIGTERM with {exit}; log:\n{}", self.log());
        }
    }

    /// Sends SIGKILL without waiting, so another thread can be mid-request when the server dies.
    pub fn signal_kill(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill").args(["-KILL", &child.id().to_string()]).status();
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("3.0/logs")
    }

    /// Everything the server has logged so far, all runs.
    pub fn log(&self) -> String {
        let mut files: Vec<_> =
            std::fs::read_dir(self.logs_dir()).into_iter().flatten().flatten().map(|e| e.path()).collect();
        files.sort();
        files.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect::<Vec<_>>().join("\n")
    }

    /// The server's identity as it sees it: its machine id and its host secret.
    pub fn identity(&self) -> MachineIdentity {
        MachineIdentity::from_material(self.machine.as_bytes()).with_host_secret(HostSecret::from_bytes(HOST_SECRET))
    }

    /// Makes the test add-in pin `pin` for `series` from now on.
    pub fn pin(&self, series: &str, pin: [u8; 32]) {
        self.pins.lock().unwrap().insert(series.to_owned(), pin);
    }

    /// The key the test add-in pins for `series`.
    pub fn pin_of(&self, series: &str) -> Option<[u8; 32]> {
        self.pins.lock().unwrap().get(series).copied()
    }

    /// The test add-in's connection `id`.
    pub fn addin(&self, id: &str) -> Arc<Mutex<addin::Addin>> {
        self.addins.lock().unwrap().get(id).cloned().expect("a connection of the test add-in")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Sends a request; `auth` adds basic credentials; the answer's status and JSON body.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>, auth: Option<(&str, &str)>) -> (u16, Value) {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();
        let mut req = agent.request(method, &self.url(path));
        if let Some(creds) = auth {
            req = req.set("Authorization", &basic(creds));
        }
        let result = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(b),
            None => req.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = response.status();
        let text = response.into_string().unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    /// [`TestServer::request`] without a body that also returns the answer's `header`, if it has one.
    pub fn request_with_header(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        header: &str,
    ) -> (u16, Option<String>, Value) {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();
        let mut req = agent.request(method, &self.url(path));
        if let Some(creds) = auth {
            req = req.set("Authorization", &basic(creds));
        }
        let response = match req.call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let (status, value) = (response.status(), response.header(header).map(str::to_owned));
        let text = response.into_string().unwrap_or_default();
        (status, value, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, None, Some(ADMIN))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.request("DELETE", path, None, Some(ADMIN))
    }

    /// POSTs `body` to `path`. The add-in protocol goes through the test add-in: `connect` adds the
    /// protocol, a channel key and the pin of the body's series (when one is known) and checks the
    /// proofs; a call naming a connection of the test add-in is sealed in its channel (a sealed
    /// refusal comes back with its code's HTTP status); one naming an unknown connection is sent as a
    /// sealed message that cannot open. Anything else is sent as it is.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        if path == "/licence/connect" {
            let series = body["KeyID"].as_str().unwrap_or_default();
            let Some(pin) = self.pin_of(series) else {
                return self.request("POST", path, Some(&body.to_string()), None);
            };
            return match addin::connect(&self.url(""), body, &pin) {
                Ok(addin) => {
                    let answer = serde_json::to_value(&addin.response).unwrap();
                    self.addins.lock().unwrap().insert(addin.connection_id.clone(), Arc::new(Mutex::new(addin)));
                    (200, answer)
                }
                Err(refused) => refused,
            };
        }
        if path.starts_with("/licence/") {
            if let Some(id) = body["ConnectionID"].as_str() {
                let known = self.addins.lock().unwrap().get(id).cloned();
                return match known {
                    Some(addin) => addin.lock().unwrap().call(path, body),
                    None => {
                        let message = json!({"ConnectionID": id, "Seq": 1, "Sealed": "AAAA"});
                        self.request("POST", path, Some(&message.to_string()), None)
                    }
                };
            }
        }
        self.request("POST", path, Some(&body.to_string()), None)
    }

    /// Writes a key file for this server's computer into its data folder (the first key of a series
    /// sets the pin the test add-in uses for it).
    pub fn install_key(&self, series: &SeriesKeys, fields: &KeyFields) -> PathBuf {
        self.pins.lock().unwrap().entry(series.series.to_string()).or_insert(series.public_key());
        let bytes = keyfile::issue(fields, series, &self.identity().binding());
        let path = self.data_dir().join(fields.file_name());
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Waits until the server lists `count` licences (it rescans its data folder every few seconds).
    pub fn wait_for_licences(&self, count: usize) -> Value {
        let what = format!("the server to list {count} licences");
        licence_testkit::wait_for(licence_testkit::PATIENCE, &what, || {
            let (_, body) = self.get("/api/licences");
            body["Licences"].as_array().is_some_and(|l| l.len() == count).then_some(body)
        })
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

pub fn basic((user, password): (&str, &str)) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// A key of `series` for `machine` with `count` licences, valid from yesterday for a year.
pub fn key_fields(series: &SeriesKeys, machine: &str, key_no: u64, kind: KeyKind, count: u32) -> KeyFields {
    KeyFields {
        key_type: kind,
        itn: Some("7701234567".into()),
        ..licence_testkit::main_key(series, machine, key_no, count)
    }
}

/// The add-in's `connect` body.
pub fn connect_body(series: &str, computer: &str, is_server: bool) -> Value {
    json!({
        "OSVersion": "Debian GNU/Linux 12 (x86_64)", "ComputerName": computer, "LocalIP": "127.0.0.1",
        "Process": "/opt/1cv8/x86_64/8.3.25.1257/1cv8c", "CPU": "x86_64", "PID": 4242, "IsServer": is_server,
        "PlatformVersion": "8.3.25.1257", "ModuleName": "/tmp/v8_3F2F_d.tmp",
        "Version": licence_protocol::VERSION, "KeyID": series, "Protocol": licence_protocol::wire::PROTOCOL
    })
}

pub fn session_body(connection: &str, number: u32, computer: &str) -> Value {
    json!({
        "ConnectionID": connection,
        "Session": {
            "SessionNumber": number.to_string(), "InfoBaseConnectionString": "Srvr=\"srv\";Ref=\"trade\";",
            "AppName": "1CV8C", "ComputerName": computer, "UserName": format!("user{number}"),
            "SessionStarted": "2026-11-24T09:00:00.000Z", "AccessCode": null
        }
    })
}

impl TestServer {
    /// Connects an add-in; returns the connection ID.
    pub fn connect(&self, series: &str, computer: &str, is_server: bool) -> String {
        let (status, body) = self.post("/licence/connect", &connect_body(series, computer, is_server));
        assert_eq!(status, 200, "connect: {body}");
        body["ConnectionID"].as_str().unwrap().to_owned()
    }

    /// Obtains a licence for session `number`; the status and body.
    pub fn obtain(&self, connection: &str, number: u32, computer: &str) -> (u16, Value) {
        self.post("/licence/obtain", &session_body(connection, number, computer))
    }
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

pub fn days_ago(days: i64) -> UtcTime {
    UtcTime::from_unix_millis(UtcTime::now().unix_millis() - days * 86_400_000).unwrap()
}

impl TestServer {
    /// `method path` sent from the loopback address `source` (127.0.0.2 …, so the server sees another
    /// client address) with basic credentials `auth`, no body: the status and the `Retry-After` header.
    pub fn request_from(
        &self,
        source: std::net::Ipv4Addr,
        method: &str,
        path: &str,
        auth: (&str, &str),
    ) -> (u16, Option<String>) {
        assert!(source.is_loopback(), "tests stay on loopback");
        let port = self.port;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
            basic(auth)
        );
        // std cannot bind a source address before connecting; tokio's socket can, then std talks.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let stream = runtime.block_on(async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind((source, 0).into()).unwrap();
            socket.connect(([127, 0, 0, 1], port).into()).await.unwrap().into_std().unwrap()
        });
        let answer = {
            use std::io::{Read, Write};
            let mut stream = stream;
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).unwrap();
            String::from_utf8_lossy(&answer).into_owned()
        };
        let (head, _) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{answer}"));
        let retry = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("retry-after")))
            .map(|(_, v)| v.trim().to_owned());
        (status, retry)
    }
}
