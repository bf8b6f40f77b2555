//! Every console page rendered through the real router with a real `App` over a temporary root:
//! status, the strings an administrator looks for, the access rule, and that saved parameters and
//! passwords reach `licenceserver.conf`.

use crate::app::App;
use crate::config::{self, ServerConfig};
use crate::layout::Layout;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine;
use licence_protocol::identity::MachineIdentity;
use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;
use std::sync::Arc;
use tower::ServiceExt;

const MACHINE: &str = "console-unit-machine";

struct Fixture {
    app: Arc<App>,
    root: std::path::PathBuf,
    series: SeriesKeys,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A server with two keys of series 672B: one for a year, one that ends in 9 days.
fn fixture(tag: &str) -> Fixture {
    let root = licence_testkit::scratch(&format!("console-{tag}"));
    let layout = Layout::new(&root);
    layout.create_dirs().unwrap();
    let machine_file = root.join("machine-id");
    std::fs::write(&machine_file, MACHINE).unwrap();
    // Not the default password: with it every page leads to the form that changes it (tested below).
    let hash = crate::access::passwords::hash(PASSWORD);
    std::fs::write(
        layout.config_file(),
        format!("[Common]\n; the port\nServerPort=9099\n[Console]\nPassword={hash}\n"),
    )
    .unwrap();
    let series = SeriesKeys::generate("672B".parse().unwrap());
    // A known host secret, so the test can issue key files to the server's target key.
    let host = [0x5a; 32];
    std::fs::write(layout.config_dir().join(licence_protocol::identity::HOST_SECRET_FILE), host).unwrap();
    let binding = MachineIdentity::from_material(MACHINE.as_bytes())
        .with_host_secret(licence_protocol::identity::HostSecret::from_bytes(host))
        .binding();
    let year = licence_testkit::main_key(&series, MACHINE, 7_121_172, 10);
    let short =
        licence_protocol::key::KeyFields { period: 10, ..licence_testkit::main_key(&series, MACHINE, 7_121_173, 5) };
    for fields in [year, short] {
        std::fs::write(layout.data_dir().join(fields.file_name()), keyfile::issue(&fields, &series, &binding)).unwrap();
    }
    let mut config = ServerConfig::default();
    config.startup.machine_id_file = Some(machine_file);
    config.settings.usb_enabled = false;
    config.settings.console.password = hash;
    let app = Arc::new(App::start(config, layout).unwrap());
    Fixture { app, root, series }
}

/// The fixture's console password.
const PASSWORD: &str = "console-pass-1";

fn admin() -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}")))
}

async fn call(app: &Arc<App>, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = crate::web::router(app.clone()).oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn get(app: &Arc<App>, uri: &str) -> (StatusCode, String) {
    let request = Request::get(uri).header(header::AUTHORIZATION, admin()).body(Body::empty()).unwrap();
    let (status, _, body) = call(app, request).await;
    (status, body)
}

async fn post(app: &Arc<App>, uri: &str, form: &str) -> (StatusCode, String) {
    let request = Request::post(uri)
        .header(header::AUTHORIZATION, admin())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    let (status, _, body) = call(app, request).await;
    (status, body)
}

#[tokio::test]
async fn every_page_renders_with_what_it_is_for() {
    let f = fixture("pages");
    for (uri, wanted) in [
        (
            "/?lang=en",
            vec!["Series 672B", "licences in total: <b>15</b>", "class=\"badge expiring\"", "expires in 9 days"],
        ),
        ("/console/licences?lang=en", vec!["7121172", "7121173", "LicencesUsed", "Управление складом"]),
        (
            "/console/licences/7121172?lang=en",
            vec!["<th>ComputerID</th>", "<th>RegNo</th>", "REG-7121172", "show-backup-code"],
        ),
        (
            "/console/install?lang=en",
            vec!["ActivationCodeString", "ITN", "IEC", "BlankKeyNo", "/console/install/response"],
        ),
        ("/console/sessions?lang=en", vec!["No sessions.", "name=\"KeyID\""]),
        ("/console/connections?lang=en", vec!["No connections.", "name=\"PeerIP\""]),
        ("/console/usage?lang=en", vec!["Refused licences"]),
        (
            "/console/parameters?lang=en",
            vec!["ServerPort", "name=\"Console.UserName\"", "after the server restarts", "new-password"],
        ),
        ("/console/log?lang=en", vec!["<h1>Log</h1>"]),
    ] {
        let (status, body) = get(&f.app, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        for w in wanted {
            assert!(body.contains(w), "{uri} lacks {w}: {body}");
        }
    }
    let (status, body) = get(&f.app, "/console/licences/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("No key with KeyNo 999 is installed."), "{body}");
}

#[tokio::test]
async fn pages_speak_russian_unless_asked_and_remember_the_choice() {
    let f = fixture("lang");
    let (_, body) = get(&f.app, "/").await;
    assert!(body.contains("<html lang=\"ru\">") && body.contains("Обзор"), "{body}");
    let request = Request::get("/console/licences?lang=en").body(Body::empty()).unwrap();
    let (_, headers, body) = call(&f.app, request).await;
    assert!(body.contains("<html lang=\"en\">"));
    assert!(headers[header::SET_COOKIE].to_str().unwrap().starts_with("lang=en;"));
    let request = Request::get("/").header(header::COOKIE, "lang=en").body(Body::empty()).unwrap();
    assert!(call(&f.app, request).await.2.contains("Overview"));
    let request = Request::get("/").header(header::ACCEPT_LANGUAGE, "en-GB,en;q=0.9").body(Body::empty()).unwrap();
    assert!(call(&f.app, request).await.2.contains("<html lang=\"en\">"));
}

#[tokio::test]
async fn mode_0_asks_the_login_for_parameters_and_changes_only() {
    let f = fixture("access");
    let plain = |method: &str, uri: &str| Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();
    assert_eq!(call(&f.app, plain("GET", "/console/sessions")).await.0, StatusCode::OK);
    for (method, uri) in
        [("GET", "/console/parameters"), ("POST", "/console/sessions/X/end"), ("POST", "/console/install")]
    {
        let (status, headers, _) = call(&f.app, plain(method, uri)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert!(headers[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic"));
    }
}

#[tokio::test]
async fn parameters_are_checked_by_the_config_parser_and_written_in_place() {
    let f = fixture("params");
    let path = f.app.layout.config_file();
    let (_, body) =
        post(&f.app, "/console/parameters?lang=en", "Common.ServerPort=70000&Common.SessionTimeout=90").await;
    assert!(body.contains("`70000` is not a port number (1-65535)"), "{body}");
    assert!(!std::fs::read_to_string(&path).unwrap().contains("SessionTimeout"), "nothing is written when one is bad");
    let (_, body) =
        post(&f.app, "/console/parameters?lang=en", "Common.ServerPort=9100&Console.UserName=boss%0APassword%3Dx")
            .await;
    assert!(body.contains("line breaks are not allowed"), "{body}");
    let (_, body) = post(&f.app, "/console/parameters?lang=en", "Common.ServerPort=9100&API.Enabled=0").await;
    assert!(body.contains("Saved: [Common] ServerPort=9100, [API] Enabled=0"), "{body}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("; the port\nServerPort=9100"), "{text}");
    let (saved, problems) = config::load(&path);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!((saved.startup.port, saved.settings.api_enabled), (9100, false));
    // Settings apply at once: the API is off, and a new connection gets the new session lease.
    assert_eq!(get(&f.app, "/api/licences").await.0, StatusCode::SERVICE_UNAVAILABLE);
    let (_, body) = post(&f.app, "/console/parameters?lang=en", "Common.SessionTimeout=90").await;
    assert!(body.contains("Saved: [Common] SessionTimeout=90"), "{body}");
    let connect = serde_json::json!({
        "OSVersion": "Linux", "ComputerName": "PC", "LocalIP": "127.0.0.1", "Process": "1cv8c", "CPU": "x86_64",
        "PID": 1, "IsServer": false, "PlatformVersion": "8.3.25.1257", "ModuleName": "addin",
        "Version": licence_protocol::VERSION, "KeyID": "672B", "Protocol": licence_protocol::wire::PROTOCOL,
        "ClientKey": licence_protocol::channel::Handshake::new().public_hex(),
        "SeriesPublicKey": hex::encode(f.series.public_key())
    });
    let request = Request::post("/licence/connect")
        .header(header::CONTENT_TYPE, "application/json")
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 5000))))
        .body(Body::from(connect.to_string()))
        .unwrap();
    let (status, _, answer) = call(&f.app, request).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("\"SessionLeaseSeconds\":90"), "{answer}");
    // Console access applies at once: mode 1 asks the login even for the key list.
    let (_, body) = post(&f.app, "/console/parameters?lang=en", "Console.Authorization=1").await;
    assert!(body.contains("They apply at once"), "{body}");
    let anonymous = Request::get("/console/licences").body(Body::empty()).unwrap();
    assert_eq!(call(&f.app, anonymous).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_is_changed_only_when_typed_twice_alike() {
    let f = fixture("password");
    let path = f.app.layout.config_file();
    let (_, body) = post(&f.app, "/console/parameters/password?lang=en", "which=Console&password=a&repeat=b").await;
    assert!(body.contains("the two passwords differ"), "{body}");
    let (_, body) =
        post(&f.app, "/console/parameters/password?lang=en", "which=Console&password=short&repeat=short").await;
    assert!(body.contains("at least 8 characters"), "{body}");
    let (_, body) =
        post(&f.app, "/console/parameters/password?lang=en", "which=Console&password=s%3Ccret-99&repeat=s%3Ccret-99")
            .await;
    assert!(body.contains("Password changed: [Console]"), "{body}");
    assert!(!body.contains("s<cret") && !body.contains("s&lt;cret"), "a password is never shown");
    let stored = config::load(&path).0.settings.console.password;
    assert!(
        crate::access::passwords::is_hash(&stored) && crate::access::passwords::verify(&stored, "s<cret-99"),
        "{stored}"
    );
    // It applies at once: the old password no longer opens the parameters.
    assert_eq!(get(&f.app, "/console/parameters").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_default_password_leads_every_page_to_the_form_that_changes_it() {
    let root = licence_testkit::scratch("console-first-login");
    let layout = Layout::new(&root);
    layout.create_dirs().unwrap();
    let app = Arc::new(App::start(ServerConfig { settings: no_usb(), ..ServerConfig::default() }, layout).unwrap());
    let default = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("admin:admin"));
    for uri in ["/", "/console/licences", "/console/log"] {
        let request = Request::get(uri).header(header::AUTHORIZATION, &default).body(Body::empty()).unwrap();
        let (status, headers, _) = call(&app, request).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{uri}");
        assert!(headers[header::LOCATION].to_str().unwrap().starts_with("/console/parameters"));
    }
    let request = Request::get("/console/parameters?lang=en")
        .header(header::AUTHORIZATION, &default)
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("still has the default password"), "{body}");
    let request = Request::post("/console/parameters/password?lang=en")
        .header(header::AUTHORIZATION, &default)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("which=Console&password=brand-new-1&repeat=brand-new-1"))
        .unwrap();
    assert!(call(&app, request).await.2.contains("Password changed"));
    let fresh = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("admin:brand-new-1"));
    let request = Request::get("/console/licences").header(header::AUTHORIZATION, &fresh).body(Body::empty()).unwrap();
    assert_eq!(call(&app, request).await.0, StatusCode::OK);
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn ending_an_unknown_session_says_so() {
    let f = fixture("end");
    let (status, body) = post(&f.app, "/console/sessions/NOPE%3Cb%3E/end?lang=en", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No session with ID &quot;NOPE&lt;b&gt;&quot;."), "{body}");
}

#[tokio::test]
async fn a_mistyped_code_shows_the_apis_error_text() {
    let f = fixture("install");
    let (status, body) = post(&f.app, "/console/install?lang=en", "ActivationCodeString=1234-5678&ITN=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("ActivationCodeString: an activation code has 20 digits"), "{body}");
    assert!(body.contains("value=\"1234-5678\""), "the form keeps what was typed");
}

#[tokio::test]
async fn the_request_file_downloads_and_a_bad_response_file_is_refused_with_the_apis_reason() {
    let f = fixture("offline");
    let code = licence_protocol::activation::ActivationCode::generate().to_string();
    let request = Request::post("/console/install/request")
        .header(header::AUTHORIZATION, admin())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("ActivationCodeString={code}&ITN=7701234567&IEC=&BlankKeyNo=")))
        .unwrap();
    let (status, headers, body) = call(&f.app, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"activation-"), "{disposition}");
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(!body.contains(&code), "the request file carries no code: {body}");
    let parsed: licence_protocol::activation::ActivationCode = code.parse().unwrap();
    assert_eq!(document["CodeDigest"].as_str(), Some(licence_protocol::centre::code_digest(parsed).as_str()));
    assert_eq!(document["ITN"], "7701234567");
    let (status, body) = post(&f.app, "/console/install/response?lang=en", "response=%7B%22not%22%3A1%7D").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("the activation response cannot be installed"), "{body}");
    let (status, body) = post(&f.app, "/console/install/response?lang=en", "response=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("the activation response file is expected"), "{body}");
}

#[tokio::test]
async fn names_an_add_in_sends_are_escaped_on_the_pages_that_show_them() {
    let f = fixture("escape");
    let hostile = "<script>alert(\"x\")</script>&'Иванов";
    let connect = serde_json::json!({
        "OSVersion": "Linux", "ComputerName": hostile, "LocalIP": "127.0.0.1", "Process": "<b>1cv8c</b>",
        "CPU": "x86_64", "PID": 1, "IsServer": false, "PlatformVersion": "8.3.25.1257", "ModuleName": "addin",
        "Version": licence_protocol::VERSION, "KeyID": "672B", "Protocol": licence_protocol::wire::PROTOCOL,
        "ClientKey": licence_protocol::channel::Handshake::new().public_hex(),
        "SeriesPublicKey": hex::encode(f.series.public_key())
    });
    let request = Request::post("/licence/connect")
        .header(header::CONTENT_TYPE, "application/json")
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 5000))))
        .body(Body::from(connect.to_string()))
        .unwrap();
    let (status, _, answer) = call(&f.app, request).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;'Иванов";
    let (status, body) = get(&f.app, "/console/connections?lang=en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&format!("<td>{escaped}</td>")), "{body}");
    assert!(body.contains("<td>&lt;b&gt;1cv8c&lt;/b&gt;</td>"), "{body}");
    assert!(!body.contains("<script>alert") && !body.contains("<b>1cv8c"), "{body}");
    // The filter finds it by the name as typed, and the form shows the name back, escaped.
    let (_, body) =
        get(&f.app, "/console/connections?lang=en&ComputerName=%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E%26%27иванов")
            .await;
    assert!(body.contains(&format!("<td>{escaped}</td>")), "the filter keeps it: {body}");
    assert!(body.contains("value=\"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;'иванов\""), "{body}");
    assert!(!body.contains("<script>alert"), "{body}");
    // The API answers the same name, unescaped JSON.
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("admin:admin"));
    let request = Request::get("/api/connections").header(header::AUTHORIZATION, auth).body(Body::empty()).unwrap();
    let (status, _, json) = call(&f.app, request).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["Connections"][0]["ComputerName"], hostile);
}

fn no_usb() -> crate::config::Settings {
    crate::config::Settings { usb_enabled: false, ..crate::config::Settings::default() }
}
