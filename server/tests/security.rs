//! The server's own defences on the real binary: the route audit (every route with the access it
//! needs, every state-changing one refused without credentials in modes 0 and 1), API tokens abused in
//! every way, passwords kept only as hashes, addresses and host names limited, other sites' forms
//! refused, path parameters that try to climb out of their place, no change on the API's default
//! password, and guesses from many addresses slowed per user name while the administrator gets in.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use common::{basic, TestServer, ADMIN, DEFAULT_LOGIN};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::io::{Read, Write};

/// What a route needs: nothing ever (the add-in protocol), a login in mode 1 only (reads), or a login
/// in modes 0 and 1 (changes and sensitive reads).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Needs {
    Nothing,
    LoginToRead,
    LoginToChange,
}

/// Every route of the server and the access it needs. `every_route_is_in_the_audit` reads the routers'
/// sources, so a route added without a row here fails it.
const ROUTES: &[(&str, &str, Needs)] = &[
    ("GET", "/api", Needs::LoginToRead),
    ("GET", "/api/serverinfo", Needs::LoginToRead),
    ("GET", "/api/licences", Needs::LoginToRead),
    ("GET", "/api/licences/1", Needs::LoginToRead),
    ("GET", "/api/licences/1/backupcode", Needs::LoginToChange),
    ("POST", "/api/licences", Needs::LoginToChange),
    ("POST", "/api/licences/request", Needs::LoginToChange),
    ("POST", "/api/licences/response", Needs::LoginToChange),
    ("GET", "/api/connections", Needs::LoginToRead),
    ("GET", "/api/connections/X", Needs::LoginToRead),
    ("GET", "/api/sessions", Needs::LoginToRead),
    ("GET", "/api/sessions/X", Needs::LoginToRead),
    ("DELETE", "/api/sessions/X", Needs::LoginToChange),
    ("POST", "/api/token", Needs::LoginToChange),
    ("GET", "/api/metrics", Needs::LoginToRead),
    ("GET", "/", Needs::LoginToRead),
    ("GET", "/console", Needs::LoginToRead),
    ("GET", "/console/licences", Needs::LoginToRead),
    ("GET", "/console/licences/1", Needs::LoginToRead),
    ("POST", "/console/licences/1/backupcode", Needs::LoginToChange),
    ("GET", "/console/install", Needs::LoginToRead),
    ("POST", "/console/install", Needs::LoginToChange),
    ("POST", "/console/install/request", Needs::LoginToChange),
    ("POST", "/console/install/response", Needs::LoginToChange),
    ("GET", "/console/sessions", Needs::LoginToRead),
    ("POST", "/console/sessions/X/end", Needs::LoginToChange),
    ("GET", "/console/connections", Needs::LoginToRead),
    ("GET", "/console/usage", Needs::LoginToRead),
    ("GET", "/console/parameters", Needs::LoginToChange),
    ("POST", "/console/parameters", Needs::LoginToChange),
    ("POST", "/console/parameters/password", Needs::LoginToChange),
    ("GET", "/console/log", Needs::LoginToChange),
    ("POST", "/licence/connect", Needs::Nothing),
    ("POST", "/licence/heartbeat", Needs::Nothing),
    ("POST", "/licence/obtain", Needs::Nothing),
    ("POST", "/licence/check", Needs::Nothing),
    ("POST", "/licence/release", Needs::Nothing),
    ("POST", "/licence/keyinfo", Needs::Nothing),
    ("POST", "/licence/disconnect", Needs::Nothing),
    ("POST", "/licence/object", Needs::Nothing),
];

fn server_with(mode: u8) -> TestServer {
    let server = TestServer::new(&format!("audit-mode-{mode}"), "");
    // A console password of its own: on the default one every console page leads to the password form.
    server.append_config(&format!(
        "[API]\nAuthorization={mode}\n[Console]\nAuthorization={mode}\nPassword=audit-pass-1\n"
    ));
    server.started()
}

#[test]
fn every_route_needs_what_the_audit_says_in_every_mode() {
    for mode in [0u8, 1, 2] {
        let server = server_with(mode);
        for (method, path, needs) in ROUTES {
            let body = (*method != "GET" && *method != "DELETE").then_some("{}");
            let (status, answer) = server.request(method, path, body, None);
            let must_refuse = match needs {
                Needs::Nothing => false,
                Needs::LoginToRead => mode == 1,
                Needs::LoginToChange => mode != 2,
            };
            if must_refuse {
                assert_eq!(status, 401, "mode {mode}: {method} {path} without credentials: {answer}");
            } else {
                assert_ne!(status, 401, "mode {mode}: {method} {path} needs no login: {answer}");
                assert_ne!(status, 405, "mode {mode}: {method} {path} is not a route: {answer}");
            }
        }
    }
}

/// The paths the routers declare: every `.route("…"` in the server's sources, and the add-in protocol's
/// path constants.
fn declared_routes() -> Vec<String> {
    fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split(".route(\"").skip(1) {
                    found.push(piece.split('"').next().unwrap().to_owned());
                }
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    walk(&root.join("src"), &mut found);
    let wire = std::fs::read_to_string(root.join("../protocol/src/wire.rs")).unwrap();
    for line in wire.lines().filter(|l| l.contains(": &str = \"/licence/")) {
        found.push(line.split('"').nth(1).unwrap().to_owned());
    }
    found.retain(|p| !p.starts_with("/boom"));
    found
}

/// Whether an audited path is an instance of a declared pattern (`{name}` matches one segment).
fn instance_of(path: &str, pattern: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (path.split('/').collect(), pattern.split('/').collect());
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || (y.starts_with('{') && y.ends_with('}')))
}

#[test]
fn every_route_is_in_the_audit() {
    let declared = declared_routes();
    assert!(declared.len() >= ROUTES.len() / 2, "the sources were not read: {declared:?}");
    for pattern in &declared {
        let pattern = if pattern == "/api/" { "/api" } else { pattern.as_str() };
        assert!(
            ROUTES.iter().any(|(_, path, _)| instance_of(path, pattern)),
            "route {pattern} has no row in the audit table"
        );
    }
    // And every row is a real route: with credentials it is neither 405 nor an unknown URL.
    let server = server_with(1);
    for (method, path, _) in ROUTES {
        let body = (*method != "GET" && *method != "DELETE").then_some("{}");
        let (status, answer) = server.request(method, path, body, Some(ADMIN));
        assert_ne!(status, 405, "{method} {path}: {answer}");
        assert!(!answer.to_string().contains("was not found"), "{method} {path} is not a route: {answer}");
    }
}

/// Signs `claims` the way the server does: HMAC of its token key and the API password hash.
fn forge(server: &TestServer, header: &Value, claims: &Value) -> String {
    let token_key = std::fs::read(server.root.join("3.0/token.key")).unwrap();
    let config = std::fs::read_to_string(server.root.join("3.0/licenceserver.conf")).unwrap();
    let ini = licence_protocol::ini::Ini::parse(&config);
    let hash = ini.get("API", "Password").map_or("admin".to_owned(), |e| e.value.clone());
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&token_key).unwrap();
    mac.update(b"licence api token key v1\0");
    mac.update(hash.as_bytes());
    let key: [u8; 32] = mac.finalize().into_bytes().into();
    let signed = format!("{}.{}", B64URL.encode(header.to_string()), B64URL.encode(claims.to_string()));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    format!("{signed}.{}", B64URL.encode(mac.finalize().into_bytes()))
}

fn with_bearer(server: &TestServer, token: &str) -> u16 {
    match ureq::get(&server.url("/api/licences")).set("Authorization", &format!("Bearer {token}")).call() {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(status, _)) => status,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn api_tokens_work_and_every_abuse_is_refused() {
    let mut server = TestServer::new("tokens", "");
    server.append_config("[API]\nPassword=first-secret-1\n");
    server.start();
    let (status, issued) = server.request("POST", "/api/token", Some(""), Some(("admin", "first-secret-1")));
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["token_type"], "Bearer");
    let token = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(with_bearer(&server, &token), 200);

    // Its claims are the documented ones.
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&B64URL.decode(payload).unwrap()).unwrap();
    for name in ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"] {
        assert!(claims.get(name).is_some(), "{name} missing in {claims}");
    }
    let now = claims["iat"].as_i64().unwrap();
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims.clone();
        change(&mut c);
        c
    };
    assert_eq!(with_bearer(&server, &forge(&server, &header, &claims)), 200, "the forge helper signs as the server");
    let cases: Vec<(&str, String)> = vec![
        ("expired", forge(&server, &header, &with(&|c| c["exp"] = json!(now - 1)))),
        ("not yet valid", forge(&server, &header, &with(&|c| c["nbf"] = json!(now + 600)))),
        ("another audience", forge(&server, &header, &with(&|c| c["aud"] = json!("another-api")))),
        ("another issuer", forge(&server, &header, &with(&|c| c["iss"] = json!("someone")))),
        ("another user", forge(&server, &header, &with(&|c| c["sub"] = json!("root")))),
        ("alg none", format!("{}.{payload}.", B64URL.encode(r#"{"alg":"none","typ":"JWT"}"#))),
        ("alg HS512", forge(&server, &json!({"alg": "HS512"}), &claims)),
        ("altered", token.replacen(payload, &B64URL.encode(with(&|c| c["exp"] = json!(now + 99_999)).to_string()), 1)),
        ("truncated", token[..token.len() - 3].to_owned()),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (what, bad) in &cases {
        assert_eq!(with_bearer(&server, bad), 401, "{what}");
    }
    // A token cannot buy a token.
    let refused = ureq::post(&server.url("/api/token")).set("Authorization", &format!("Bearer {token}")).call();
    assert!(matches!(refused, Err(ureq::Error::Status(401 | 429, _))), "{refused:?}");
    // The password is kept only as a hash, and a new password ends the old tokens.
    let config = std::fs::read_to_string(server.root.join("3.0/licenceserver.conf")).unwrap();
    assert!(!config.contains("first-secret-1") && config.contains("Password=$argon2id$"), "{config}");
    server.stop();
    licenceserver::config::update(
        &server.root.join("3.0/licenceserver.conf"),
        &[("API", "Password", "second-secret-2")],
    )
    .unwrap();
    server.start();
    assert_eq!(with_bearer(&server, &token), 401, "a new password ends the old tokens");
}

#[test]
fn addresses_host_names_and_other_sites_are_refused() {
    let server = TestServer::new("access-limits", "");
    server.append_config("[API]\nAllowedAddresses=10.0.0.0/8\n[Console]\nAuthorization=2\n");
    let s = licence_protocol::series::SeriesKeys::generate("672B".parse().unwrap());
    let fields = common::key_fields(&s, "access-limits", 1, licence_protocol::key::KeyKind::Main, 1);
    server.install_key(&s, &fields);
    let server = server.started();
    let (status, body) = server.get("/api/licences");
    assert_eq!(status, 403, "loopback is not in 10.0.0.0/8: {body}");
    assert!(body["Message"].as_str().unwrap().contains("AllowedAddresses"), "{body}");
    // The add-in protocol is never limited.
    let (status, _) = server.post("/licence/connect", &common::connect_body("672B", "PC", false));
    assert_eq!(status, 200);

    // A browser that reached the console by a foreign name (DNS rebinding), and another site's form.
    let raw = |request: String| -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    };
    let answer = raw("GET / HTTP/1.1\r\nHost: evil.example:9099\r\nConnection: close\r\n\r\n".into());
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("AllowedHosts"), "{answer}");
    let host = format!("127.0.0.1:{}", server.port);
    let answer = raw(format!("GET /console/licences HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));
    assert!(!answer.starts_with("HTTP/1.1 403"), "the server's own address is fine: {answer}");
    let form = format!(
        "POST /console/x HTTP/1.1\r\nHost: {host}\r\nOrigin: http://evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let answer = raw(form);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

#[test]
fn path_parameters_cannot_climb_out() {
    let server = TestServer::new("traversal", "").started();
    let raw = |path: &str| -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
            basic(ADMIN)
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer).into_owned();
        (text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), text)
    };
    for path in [
        "/api/licences/..%2F..%2F3.0%2Flicenceserver.conf",
        "/api/licences/../../3.0/licenceserver.conf",
        "/api/licences/%2e%2e%2f%2e%2e%2fetc%2fpasswd/backupcode",
        "/api/sessions/..%2F..%2Fetc%2Fpasswd",
        "/api/connections/%00",
        "/api/licences/1%2F..%2F..%2Fdata",
        "/console/../3.0/token.key",
        "/%2e%2e/3.0/token.key",
    ] {
        let (status, text) = raw(path);
        assert!((400..500).contains(&status), "{path}: {text}");
        assert!(!text.contains("[Common]") && !text.contains("argon2") && !text.contains("root:"), "{path}: {text}");
    }
}

#[test]
fn the_default_api_password_changes_nothing_until_it_is_set() {
    let server = TestServer::new("default-api-password", "").with_default_api_password();
    server.append_config("[API]\nAuthorization=1\n");
    let s = licence_protocol::series::SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&s, &common::key_fields(&s, "default-api-password", 1, licence_protocol::key::KeyKind::Main, 2));
    let server = server.started();
    let conn = server.connect("672B", "PC1", false);
    let (status, obtained) = server.obtain(&conn, 1, "PC1");
    assert_eq!(status, 200, "{obtained}");
    let session = obtained["SessionID"].as_str().unwrap_or_else(|| panic!("{obtained}")).to_owned();
    // Reads keep working with the default login (mode 1 asks for it on every request).
    let (status, body) = server.request("GET", "/api/sessions", None, Some(DEFAULT_LOGIN));
    assert_eq!(status, 200, "{body}");
    // A change and a token are refused, saying what to do; the session is still there.
    for (method, path) in [("DELETE", format!("/api/sessions/{session}")), ("POST", "/api/token".to_owned())] {
        let (status, body) = server.request(method, &path, (method == "POST").then_some(""), Some(DEFAULT_LOGIN));
        assert_eq!(status, 403, "{method} {path}: {body}");
        let message = body["Message"].as_str().unwrap();
        assert!(message.contains("default password") && message.contains("[API] Password"), "{body}");
    }
    let (status, body) = server.request("GET", &format!("/api/sessions/{session}"), None, Some(DEFAULT_LOGIN));
    assert_eq!(status, 200, "the session was not ended: {body}");
    // The console shows it on the parameters page (its own password is the default too).
    let (status, page) = server.request("GET", "/console/parameters?lang=en", None, Some(DEFAULT_LOGIN));
    assert_eq!(status, 200);
    let page = page.as_str().unwrap_or_default().to_owned();
    assert!(page.contains("The console still has the default password"), "{page}");
    assert!(page.contains("The REST API still has the default password"), "{page}");
}

#[test]
fn guessing_from_twenty_addresses_meets_the_user_names_waits_and_the_administrator_still_logs_in() {
    let server = TestServer::new("guessing", "");
    server.append_config("[API]\nAuthorization=0\n");
    let server = server.started();
    let mut answers = Vec::new();
    for n in 2..=21u8 {
        for _ in 0..3 {
            let source = std::net::Ipv4Addr::new(127, 0, 0, n);
            answers.push((n, server.request_from(source, "DELETE", "/api/sessions/X", ("admin", "a-guess"))));
        }
    }
    assert_eq!(answers.len(), 60);
    for (n, (status, retry)) in &answers {
        assert!(*status == 401 || *status == 429, "127.0.0.{n}: {status}");
        assert_eq!(*status == 429, retry.is_some(), "127.0.0.{n}: 429 with Retry-After");
    }
    // Per address alone, all 60 would be checked (3 each). The user name's count makes every address
    // that failed wait: by the 12th failure the wait is 300 s, so the second and third guesses of the
    // last ten addresses are all refused unchecked, told to wait minutes.
    for (n, (status, retry)) in answers.iter().skip(30) {
        if *status == 401 {
            continue; // a fresh address's first guess reaches the password check
        }
        let seconds: u64 = retry.as_deref().unwrap().parse().unwrap();
        assert!(seconds > 200, "127.0.0.{n}: Retry-After {seconds}");
    }
    let slowed = answers.iter().skip(30).filter(|(_, (s, _))| *s == 429).count();
    assert_eq!(slowed, 20, "{answers:?}");
    // The administrator's own address, which failed nothing, gets in meanwhile (404: no such session).
    let (status, _) = server.request_from(std::net::Ipv4Addr::LOCALHOST, "DELETE", "/api/sessions/X", ADMIN);
    assert_eq!(status, 404);
    // An attacking address with the right password waits like any guess of it.
    let (status, _) = server.request_from(std::net::Ipv4Addr::new(127, 0, 0, 21), "DELETE", "/api/sessions/X", ADMIN);
    assert_eq!(status, 429);
}
