//! The web console in a real browser: Debian's `chromium`, headless, driven through `chromedriver`
//! (WebDriver over plain HTTP), against the real `licenceserver`, with the real `licencecentre` and
//! `licenceedit` behind the activation code it installs. It logs in, installs a key, watches a
//! session appear and ends it with the button, changes a parameter and reads the log — and saves a
//! screenshot of every page under `target/console-screenshots/` for a human to look at.

mod common;

use common::vendor::{Centre, Vendor};
use common::TestServer;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// WebDriver's name for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const WAIT: Duration = Duration::from_secs(20);

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// The port chromedriver says it started on (`ChromeDriver was started successfully on port N.`);
/// the rest of its output is read on, so a full pipe never stalls it.
fn announced_port(stdout: std::process::ChildStdout) -> u16 {
    use std::io::BufRead;
    let (found, port) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let said = line.split("started successfully on port ").nth(1);
            if let Some(port) = said.and_then(|rest| rest.trim_end_matches('.').trim().parse::<u16>().ok()) {
                let _ = found.send(port);
            }
        }
    });
    port.recv_timeout(Duration::from_secs(30)).expect("chromedriver says the port it listens on within 30 s")
}

/// `chromedriver` and a headless `chromium` session with a fresh profile.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    profile: PathBuf,
}

impl Browser {
    fn start() -> Self {
        let (Some(chromium), Some(chromedriver)) = (on_path("chromium"), on_path("chromedriver")) else {
            panic!(
                "the console's browser test needs chromium and chromedriver; install them with \
                 `scripts/setup.sh chromium chromium-driver`"
            );
        };
        // Port 0: chromedriver takes a port the system picks and says which ("… on port N.").
        let mut driver = Command::new(chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let port = announced_port(driver.stdout.take().expect("piped stdout"));
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser { driver, base, session: String::new(), agent, profile: common::scratch("chromium") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !browser.call("GET", "/status", None).map(|v| v["ready"] == true).unwrap_or(false) {
            assert!(Instant::now() < deadline, "chromedriver did not get ready within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1000",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", browser.profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}
        }}});
        let answer = browser.call("POST", "/session", Some(capabilities)).expect("chromium starts a session");
        browser.session = answer["sessionId"].as_str().expect("a session id").to_owned();
        browser
    }

    /// One WebDriver command; its `value`, or the error it answered.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let request = self.agent.request(method, &format!("{}{path}", self.base));
        let result = match body {
            Some(b) => request.send_json(b),
            None => request.call(),
        };
        match result {
            Ok(r) => r.into_json::<Value>().map(|v| v["value"].clone()).map_err(|e| e.to_string()),
            Err(ureq::Error::Status(code, r)) => Err(format!("{code}: {}", r.into_string().unwrap_or_default())),
            Err(e) => Err(e.to_string()),
        }
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body).unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    fn open(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
    }

    fn source(&self) -> String {
        self.command("GET", "/source", None).as_str().unwrap_or_default().to_owned()
    }

    fn find(&self, css: &str) -> Option<String> {
        let path = format!("/session/{}/element", self.session);
        let found = self.call("POST", &path, Some(json!({"using": "css selector", "value": css}))).ok()?;
        found[ELEMENT].as_str().map(str::to_owned)
    }

    /// Waits (bounded) for an element to be on the page.
    fn wait_for(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(id) = self.find(css) {
                return id;
            }
            assert!(Instant::now() < deadline, "no `{css}` on the page within {WAIT:?}:\n{}", self.source());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (bounded) until the page shows `text`.
    fn wait_for_text(&self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let source = self.source();
            if source.contains(text) {
                return source;
            }
            assert!(Instant::now() < deadline, "the page never showed {text:?}:\n{source}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn click(&self, css: &str) {
        let id = self.wait_for(css);
        self.command("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.wait_for(css);
        self.command("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.command("POST", &format!("/element/{id}/value"), Some(json!({ "text": text })));
    }

    fn text(&self, css: &str) -> String {
        let id = self.wait_for(css);
        self.command("GET", &format!("/element/{id}/text"), None).as_str().unwrap_or_default().to_owned()
    }

    /// Saves the page as `target/console-screenshots/{name}.png`.
    fn screenshot(&self, name: &str) {
        use base64::Engine;
        let encoded = self.command("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("a base64 screenshot"))
            .expect("the screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The C harness's demo platform (`test-harness/demo`) holding a licence through the real add-in,
/// loaded as 1C loads it, for as long as its `sleep` runs, its configuration pinning `pin`; built here
/// if need be.
fn harness_holds_a_licence(port: u16, seconds: u32, pin: &[u8; 32]) -> Child {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), PathBuf::from);
    let status =
        Command::new(env!("CARGO")).args(["build", "-q", "-p", "licenceaddin"]).current_dir(&workspace).status();
    assert!(status.is_ok_and(|s| s.success()), "cargo build -p licenceaddin failed");
    let status = Command::new("make").args(["-s", "-C", "test-harness", "demo"]).current_dir(&workspace).status();
    assert!(status.is_ok_and(|s| s.success()), "make -C test-harness demo failed (needs a C compiler)");
    let home = licence_testkit::scratch("console-demo-home");
    Command::new(workspace.join("test-harness/demo"))
        .arg(target.join("debug/liblicenceaddin.so"))
        .args(["127.0.0.1", &port.to_string(), "sleep", &seconds.to_string()])
        .env("HOME", &home)
        .env("LICENCE_SERIES_PUBLIC_KEY", hex::encode(pin))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(home.join("demo.out")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("test-harness/demo starts")
}

#[test]
fn the_administrator_does_the_daily_work_in_a_browser() {
    let browser = Browser::start();
    let vendor = Vendor::new();
    vendor.product("CONSOLE-1", "main", 3, &[]);
    let centre = Centre::start(&vendor);
    let server = TestServer::new("machine-console", &format!("LicenceCenterUrl={}", centre.url())).started();
    let page = |path: &str| format!("http://127.0.0.1:{}{path}", server.port);

    // The first visit leads to the parameters, which need the login: the console insists on a new
    // password while it is the default admin/admin. The browser then logs in with the new one and keeps
    // it for the realm.
    browser.open(&format!("http://admin:admin@127.0.0.1:{}/?lang=en", server.port));
    browser.wait_for_text("still has the default password");
    browser.screenshot("00-first-login");
    browser.type_into("#new-password", "console-pass-1");
    browser.type_into("#repeat-password", "console-pass-1");
    browser.click("#change-password");
    browser.wait_for_text("Password changed");
    let config = std::fs::read_to_string(server.root.join("3.0/licenceserver.conf")).unwrap();
    assert!(config.contains("Password=$argon2id$") && !config.contains("console-pass-1"), "{config}");
    browser.open(&format!("http://admin:console-pass-1@127.0.0.1:{}/console/parameters?lang=en", server.port));
    browser.wait_for_text("ServerPort");

    browser.open(&page("/"));
    browser.wait_for_text("No keys are installed.");
    browser.screenshot("01-overview-empty");

    let code = vendor.code("CONSOLE-1", &[]);
    browser.open(&page("/console/install"));
    browser.type_into("#ActivationCodeString", "1234-5678");
    browser.click("#install");
    assert!(browser.text("#install-error").contains("ActivationCodeString: an activation code has 20 digits"));
    browser.type_into("#ActivationCodeString", &code);
    browser.click("#install");
    let installed = browser.text("#installed-key");
    let key_no: u64 = installed.rsplit(' ').next().and_then(|n| n.parse().ok()).expect("the key's number");
    browser.screenshot("02-install");
    assert_eq!(server.get(&format!("/api/licences/{key_no}")).0, 200);

    browser.open(&page("/"));
    let overview = browser.wait_for_text("Series 672B");
    assert!(overview.contains("licences in total: <b>3</b>"), "{overview}");
    assert!(overview.contains(&format!("/console/licences/{key_no}")), "{overview}");
    browser.screenshot("03-overview");

    browser.open(&page("/console/licences"));
    browser.click(&format!("a[href='/console/licences/{key_no}']"));
    browser.wait_for_text("ActivationCode");
    browser.click("#show-backup-code");
    let backup = browser.text("#backup-code");
    assert_eq!(backup.split('-').count(), 5, "a backup code of five groups: {backup}");
    browser.screenshot("04-key-backup-code");

    // The C harness loads the real add-in as 1C does and obtains a licence; the administrator sees the
    // session and ends it with the button.
    let mut demo = harness_holds_a_licence(server.port, 30, &vendor.series().public_key());
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.get("/api/sessions").1["Sessions"].as_array().is_none_or(Vec::is_empty) {
        assert!(Instant::now() < deadline, "the C harness never obtained a licence");
        std::thread::sleep(Duration::from_millis(100));
    }
    browser.open(&page("/console/connections"));
    browser.wait_for_text("test-harness/demo");
    browser.screenshot("05-connections");
    browser.open(&page("/console/sessions?KeyID=672B"));
    browser.wait_for_text("Администратор");
    browser.screenshot("06-sessions");
    browser.click("button.end-session");
    browser.wait_for_text("Session ended:");
    browser.wait_for_text("No sessions.");
    assert_eq!(server.get("/api/sessions").1["Sessions"], json!([]), "the button ended the session");
    let _ = demo.kill();
    let _ = demo.wait();

    browser.open(&page("/console/usage"));
    browser.wait_for_text("Refused licences");
    browser.screenshot("07-usage");

    browser.open(&page("/console/parameters"));
    browser.type_into("input[name='Common.SessionTimeout']", "120");
    browser.click("#save-parameters");
    browser.wait_for_text("Saved: [Common] SessionTimeout=120");
    let config = std::fs::read_to_string(server.root.join("3.0/licenceserver.conf")).unwrap();
    assert!(config.contains("SessionTimeout=120"), "{config}");
    browser.screenshot("08-parameters");

    browser.open(&page("/console/log"));
    let log = browser.wait_for_text("settings changed in the console");
    assert!(log.contains("ended by the administrator") && log.contains("listening on"), "{log}");
    browser.screenshot("09-log");

    browser.open(&page("/?lang=ru"));
    browser.wait_for_text("Серия 672B");
    browser.screenshot("10-overview-ru");
}
