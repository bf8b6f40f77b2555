//! The REST API of the administrator's guide, against the real server binary: every route, its
//! field names and value shapes, every error code, the API switch and basic authentication.

mod common;

use common::*;
use licence_protocol::key::KeyKind;
use licence_protocol::series::SeriesKeys;
use serde_json::{json, Value};

fn error_body_is_documented(status: u16, body: &Value, exception: &str) {
    assert_eq!(body["Code"], status, "{body}");
    assert!(body["Text"].is_string(), "{body}");
    assert_eq!(body["Exception"], exception, "{body}");
    assert!(body["Message"].as_str().unwrap().starts_with(&format!("({exception}) ")), "{body}");
}

#[test]
fn api_root_lists_version_and_urns() {
    let server = TestServer::new("machine-api-root", "").started();
    let (status, body) = server.get("/api");
    assert_eq!(status, 200);
    assert_eq!(body["Version"], licence_protocol::VERSION);
    assert_eq!(body["Urns"], json!(["/api/serverinfo", "/api/licences", "/api/connections", "/api/sessions"]));
}

#[test]
fn serverinfo_has_every_documented_field() {
    let server = TestServer::new("machine-serverinfo", "").started();
    let (status, body) = server.get("/api/serverinfo");
    assert_eq!(status, 200);
    for field in [
        "ComputerName",
        "LocalIP",
        "OSType",
        "OSVersion",
        "ModuleName",
        "PID",
        "CPU",
        "Version",
        "Started",
        "ComputerID",
    ] {
        assert!(body.get(field).is_some(), "{field} missing: {body}");
    }
    assert_eq!(body["ComputerID"], server.identity().computer_id());
    let id = body["ComputerID"].as_str().unwrap();
    assert_eq!(id.len(), 40);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
    assert_eq!(body["OSType"], "Linux");
    assert!(body["PID"].is_u64());
    assert!(body["ModuleName"].as_str().unwrap().ends_with("licenceserver"));
    let started = body["Started"].as_str().unwrap();
    assert!(started.ends_with('Z') && started.len() == 24, "{started}");
}

#[test]
fn licences_show_every_field_of_the_guide() {
    let server = TestServer::new("machine-licences", "").started();
    let series = SeriesKeys::generate("672B".parse().unwrap());
    let path = server.install_key(&series, &key_fields(&series, "machine-licences", 7121172, KeyKind::Main, 10));
    let list = server.wait_for_licences(1);
    let key = &list["Licences"][0];
    for field in [
        "Type",
        "FileName",
        "OpenError",
        "Enabled",
        "Workable",
        "Version",
        "KeyNo",
        "KeyID",
        "RegNo",
        "KeyType",
        "LicenceCount",
        "ProductVersion",
        "BlankKeyNo",
        "ActivationCode",
        "ActivationDate",
        "StartDate",
        "Period",
        "ExpireDate",
        "DaysLeft",
        "Expired",
        "Flags",
        "ITN",
        "IEC",
        "ProductName",
        "Article",
        "ArticleName",
    ] {
        assert!(key.get(field).is_some(), "{field} missing: {key}");
    }
    assert_eq!(key["Type"], "Virtual");
    assert_eq!(key["FileName"], path_str(&path));
    assert_eq!(key["KeyNo"], 7121172);
    assert_eq!(key["KeyID"], "672B");
    assert_eq!(key["KeyType"], 3);
    assert_eq!(key["LicenceCount"], 10);
    assert_eq!(key["Workable"], true);
    assert_eq!(key["Enabled"], true);
    assert_eq!(key["OpenError"], Value::Null);
    assert_eq!(key["Expired"], false);
    assert_eq!(key["Period"], 365);
    assert_eq!(key["DaysLeft"], 364);
    assert!(key["Flags"].as_str().unwrap().ends_with("1011"));
    assert_eq!(key["ProductName"], "Управление складом");

    let (status, one) = server.get("/api/licences/7121172");
    assert_eq!(status, 200);
    assert_eq!(one, *key);

    let (status, body) = server.get("/api/licences/999");
    assert_eq!(status, 404);
    error_body_is_documented(404, &body, "EHTTPNotFound");
    let (status, body) = server.get("/api/licences/abc");
    assert_eq!(status, 400);
    error_body_is_documented(400, &body, "EHTTPBadRequest");
}

#[test]
fn unknown_url_answers_the_guides_404() {
    let server = TestServer::new("machine-404", "").started();
    let (status, body) = server.get("/api/someurl");
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"Code": 404, "Text": "Not Found", "Message": "(EHTTPNotFound) The requested URL \"/api/someurl\" was not found.", "Exception": "EHTTPNotFound"})
    );
    for path in ["/api/connections/NOPE", "/api/sessions/NOPE", "/nothing/here"] {
        let (status, body) = server.get(path);
        assert_eq!(status, 404, "{path}");
        error_body_is_documented(404, &body, "EHTTPNotFound");
    }
}

#[test]
fn basic_auth_is_required_and_checked() {
    let server = TestServer::new("machine-auth", "").started();
    for path in ["/api", "/api/serverinfo", "/api/licences", "/api/connections", "/api/sessions", "/api/sessions/X"] {
        let (status, body) = server.request("GET", path, None, None);
        assert_eq!(status, 401, "{path} without credentials");
        error_body_is_documented(401, &body, "EHTTPUnauthorized");
    }
    let (status, _) = server.request("DELETE", "/api/sessions/X", None, None);
    assert_eq!(status, 401);
    let (status, _) = server.request("POST", "/api/licences", Some("{}"), None);
    assert_eq!(status, 401);
    // Wrong passwords and wrong users: three free attempts, then this address waits, longer each time.
    let (status, _) = server.request("GET", "/api/licences", None, Some(("admin", "wrong")));
    assert_eq!(status, 401, "a wrong password");
    let (status, _) = server.request("GET", "/api/licences", None, Some(("root", "admin")));
    assert_eq!(status, 401, "a wrong user");
    let (status, _) = server.request("GET", "/api/licences", None, Some(("admin", "wrong again")));
    assert_eq!(status, 401);
    let (status, _) = server.request("GET", "/api/licences", None, Some(("admin", "and again")));
    assert_eq!(status, 401, "the fourth failure is still answered, and starts the wait");
    let (status, retry_after, body) = server.request_with_header("GET", "/api/licences", Some(ADMIN), "Retry-After");
    assert_eq!(status, 429, "even the right password waits: {body}");
    error_body_is_documented(429, &body, "EHTTPTooManyRequests");
    // The first wait is 2 s: the header says how many are left, the message says the same.
    let seconds: u64 = retry_after.as_deref().and_then(|s| s.parse().ok()).expect("a Retry-After in seconds");
    assert!((1..=2).contains(&seconds), "Retry-After: {seconds}");
    let message = body["Message"].as_str().unwrap();
    assert!(message.contains(&format!("try again in {seconds} s")), "{body}");
    // the wait's end is asserted by the guard's unit test with an injected clock
}

#[test]
fn authorization_modes_and_changed_credentials() {
    let server = TestServer::new("machine-auth-modes", "");
    server.append_config("[API]\nAuthorization=0\nUserName=ops\nPassword=s3cret\n");
    let server = server.started();
    let (status, _) = server.request("GET", "/api/licences", None, None);
    assert_eq!(status, 200, "mode 0: reading needs no login");
    let (status, _) = server.request("DELETE", "/api/sessions/X", None, None);
    assert_eq!(status, 401, "mode 0: changes need a login");
    let (status, _) = server.request("DELETE", "/api/sessions/X", None, Some(("admin", "admin")));
    assert_eq!(status, 401, "the default login no longer works");
    let (status, _) = server.request("DELETE", "/api/sessions/X", None, Some(("ops", "s3cret")));
    assert_eq!(status, 404);

    let off = TestServer::new("machine-auth-off", "");
    off.append_config("[API]\nAuthorization=2\n");
    let off = off.started();
    let (status, _) = off.request("DELETE", "/api/sessions/X", None, None);
    assert_eq!(status, 404, "mode 2: no login at all");
    assert!(
        off.log().contains("[API] Authorization=2: no login; changes are accepted only from this computer"),
        "the start warns of it: {}",
        off.log()
    );
}

#[test]
fn switched_off_api_answers_503() {
    let server = TestServer::new("machine-api-off", "");
    server.append_config("[API]\nEnabled=0\n");
    let s = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&s, &key_fields(&s, "machine-api-off", 1, KeyKind::Main, 1));
    let mut server = server;
    // The harness waits for /api to answer anything, 503 included.
    server.start();
    for path in ["/api", "/api/licences", "/api/sessions/X"] {
        let (status, body) = server.get(path);
        assert_eq!(status, 503, "{path}");
        error_body_is_documented(503, &body, "EHTTPServiceUnavailable");
    }
    // The add-in protocol is not part of the API and keeps working.
    let (status, _) = server.post("/licence/connect", &connect_body("672B", "PC1", false));
    assert_eq!(status, 200);
}

#[test]
fn wrong_methods_answer_405_with_the_error_body() {
    let server = TestServer::new("machine-405", "").started();
    for (method, path) in [
        ("POST", "/api/serverinfo"),
        ("PUT", "/api/licences"),
        ("DELETE", "/api/licences/1"),
        ("POST", "/api/connections"),
        ("PATCH", "/api/sessions"),
        ("DELETE", "/api"),
    ] {
        let (status, body) = server.request(method, path, Some("{}"), Some(ADMIN));
        assert_eq!(status, 405, "{method} {path}: {body}");
        error_body_is_documented(405, &body, "EHTTPMethodNotAllowed");
    }
    // The add-in protocol answers in its own shape: code 5 under 405, and 404 for a path that is no call.
    for method in ["GET", "PUT", "DELETE"] {
        let (status, body) = server.request(method, "/licence/obtain", None, None);
        assert_eq!(status, 405, "{method}: {body}");
        assert_eq!(body["Code"], 5, "{body}");
        assert_eq!(body["Error"], "BadRequest", "{body}");
        assert!(body["Message"].as_str().unwrap().contains("POST"), "{body}");
        assert!(body.get("Exception").is_none(), "not the /api shape: {body}");
    }
    for path in ["/licence/nosuchcall", "/licence/", "/licence/connect/extra"] {
        let (status, body) = server.request("POST", path, Some("{}"), None);
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["Code"], 5, "{path}: {body}");
        assert!(body["Message"].as_str().unwrap().contains("not a call"), "{body}");
    }
}

#[test]
fn a_wrong_method_on_the_addin_protocol_says_allow_post() {
    let server = TestServer::new("machine-405-allow", "").started();
    let (status, allow, body) = server.request_with_header("GET", "/licence/connect", None, "Allow");
    assert_eq!(status, 405, "{body}");
    assert_eq!(allow.as_deref(), Some("POST"), "{body}");
    assert_eq!(body["Code"], 5, "{body}");
}

#[test]
fn install_licence_validates_then_needs_a_centre() {
    let server = TestServer::new("machine-nocentre", "").started();
    let post = |body: &str| server.request("POST", "/api/licences", Some(body), Some(ADMIN));
    let (status, body) = post(
        r#"{"ActivationCodeString": "4345-9320-2035-7421-5369", "ITN": 1234567890, "IEC": null, "BlankKeyNo": null}"#,
    );
    assert_eq!(status, 503, "{body}");
    error_body_is_documented(503, &body, "EHTTPServiceUnavailable");
    assert!(body["Message"].as_str().unwrap().contains("POST /api/licences/request"), "{body}");
    // A mistyped code (the guide's example, whose last digit does not check) is refused before anything else.
    let (status, body) = post(r#"{"ActivationCodeString": "4345-9320-2035-7421-5361"}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body["Message"].as_str().unwrap().contains("mistyped"), "{body}");
    let (status, body) = post(r#"{"ActivationCodeString": "4345-9320"}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body["Message"].as_str().unwrap().contains("20 digits"), "{body}");
    for bad in ["{", "[]", "", "{\"ITN\": 1}", "{\"ActivationCodeString\": 5}", "null", "\u{0}"] {
        let (status, body) = post(bad);
        assert_eq!(status, 400, "{bad:?}: {body}");
        error_body_is_documented(400, &body, "EHTTPBadRequest");
    }
}

/// Sends headers announcing a huge body and a little of it, then reads what the server answers:
/// it must refuse at once, without reading (or buffering) the rest.
fn announce_huge_body(server: &TestServer, path: &str) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"ActivationCodeString\": \"",
        basic(ADMIN),
        64 * 1024 * 1024
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(&[b'9'; 8192]);
    stream.write_all(&request).unwrap();
    let mut answer = Vec::new();
    if let Err(e) = stream.read_to_end(&mut answer) {
        assert!(!answer.is_empty(), "no answer before the connection failed: {e}");
    }
    let text = String::from_utf8_lossy(&answer);
    let status =
        text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status line: {text}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn oversized_bodies_are_refused_and_the_server_lives_on() {
    let server = TestServer::new("machine-413", "").started();
    let (status, body) = announce_huge_body(&server, "/api/licences");
    assert_eq!(status, 413, "{body}");
    error_body_is_documented(413, &body, "EHTTPPayloadTooLarge");
    let (status, body) = announce_huge_body(&server, "/licence/connect");
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["Code"], 5);
    assert!(body["Message"].as_str().unwrap().contains("larger than"), "{body}");
    assert_eq!(server.get("/api").0, 200);
}

#[test]
fn malformed_addin_requests_get_numbered_errors() {
    let server = TestServer::new("machine-bad-addin", "").started();
    for (path, body) in [
        ("/licence/connect", "{"),
        ("/licence/connect", "{\"KeyID\": \"67ZB\"}"),
        ("/licence/obtain", "{\"ConnectionID\": 5}"),
        ("/licence/heartbeat", "[1,2,3]"),
        ("/licence/check", ""),
        ("/licence/release", "{\"ConnectionID\": \"x\"}"),
        ("/licence/keyinfo", "\"text\""),
        // Regression: a time past year 9999 once panicked the handler (found by fuzzing).
        (
            "/licence/obtain",
            r#"{"ConnectionID": "C", "Session": {"SessionNumber": "1", "InfoBaseConnectionString": "x", "AppName": "a", "ComputerName": "c", "UserName": null, "SessionStarted": "9999-12-31T23:59:59-01:00", "AccessCode": null}}"#,
        ),
    ] {
        let (status, answer) = server.request("POST", path, Some(body), None);
        assert_eq!(status, 400, "{path} {body:?}: {answer}");
        assert_eq!(answer["Code"], 5, "{answer}");
        assert_eq!(answer["Error"], "BadRequest");
        assert!(answer["Message"].as_str().unwrap().len() > 10, "{answer}");
    }
    let (status, answer) = server.request("POST", "/licence/nonsense", Some("{}"), None);
    assert_eq!(status, 404, "no such call: {answer}");
    assert_eq!(answer["Code"], 5, "{answer}");
    let (status, answer) = server.post("/licence/check", &json!({"ConnectionID": "NOPE", "SessionID": "NOPE"}));
    assert_eq!(status, 404);
    assert_eq!(answer["Code"], 7, "{answer}");
    assert_eq!(server.get("/api").0, 200, "still serving");
}

#[test]
fn other_major_version_is_refused_clearly() {
    let server = TestServer::new("machine-version", "").started();
    let mut body = connect_body("672B", "PC1", false);
    body["Version"] = json!("2.1.7.100");
    let (status, answer) = server.post("/licence/connect", &body);
    assert_eq!(status, 409);
    assert_eq!(answer["Code"], 3);
    assert_eq!(
        answer["Message"],
        format!("server version {} does not match client version 2.1.7.100", licence_protocol::VERSION)
    );
}

#[test]
fn the_test_switch_makes_a_server_of_another_major_version() {
    let mut server = TestServer::new("machine-version-switch", "");
    server.env.push(("LICENCESERVER_TEST_VERSION".into(), "4.0.0.0".into()));
    let server = server.started();
    assert_eq!(server.get("/api").1["Version"], "4.0.0.0");
    let (status, answer) = server.post("/licence/connect", &connect_body("672B", "PC1", false));
    assert_eq!(status, 409, "{answer}");
    assert_eq!(
        answer["Message"],
        format!("server version 4.0.0.0 does not match client version {}", licence_protocol::VERSION)
    );
    assert!(server.log().contains("LICENCESERVER_TEST_VERSION is set"), "{}", server.log());

    let mut server = TestServer::new("machine-version-switch-bad", "");
    server.env.push(("LICENCESERVER_TEST_VERSION".into(), "four".into()));
    let server = server.started();
    assert_eq!(server.get("/api").1["Version"], licence_protocol::VERSION);
    assert!(server.log().contains("is not a version major.minor.release.build"), "{}", server.log());
}

#[test]
fn connections_and_sessions_have_the_guides_fields_and_shapes() {
    let server = TestServer::new("machine-views", "").started();
    let series = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&series, &key_fields(&series, "machine-views", 7131766, KeyKind::Main, 3));
    server.wait_for_licences(1);
    let conn = server.connect("672B", "MORA-HP", false);
    let (status, grant) = server.obtain(&conn, 2, "MORA-HP");
    assert_eq!(status, 200, "{grant}");
    let session_id = grant["SessionID"].as_str().unwrap().to_owned();
    assert_eq!(grant["UsedLicence"], 7131766);

    let (_, list) = server.get("/api/connections");
    assert_eq!(list["Connections"].as_array().unwrap().len(), 1);
    let (status, c) = server.get(&format!("/api/connections/{conn}"));
    assert_eq!(status, 200);
    assert_eq!(c, list["Connections"][0]);
    for field in [
        "ID",
        "PeerIP",
        "Created",
        "LastUsed",
        "OSVersion",
        "ComputerName",
        "LocalIP",
        "Process",
        "CPU",
        "PID",
        "IsServer",
        "PlatformVersion",
        "ModuleName",
        "Version",
        "KeyID",
        "ExpireTime",
        "Expired",
    ] {
        assert!(c.get(field).is_some(), "{field} missing: {c}");
    }
    assert_eq!(c["PeerIP"], "127.0.0.1");
    assert_eq!(c["PID"], "4242", "PID is a string, as in the guide");
    assert_eq!(c["Expired"], "False", "Expired is a string, as in the guide");
    assert_eq!(c["IsServer"], false);
    assert_eq!(c["KeyID"], "672B");

    let (_, list) = server.get("/api/sessions");
    let (status, s) = server.get(&format!("/api/sessions/{session_id}"));
    assert_eq!(status, 200);
    assert_eq!(s, list["Sessions"][0]);
    for field in [
        "ID",
        "SessionNumber",
        "IsServer",
        "InfoBaseConnectionString",
        "AppName",
        "ComputerName",
        "UserName",
        "SessionStarted",
        "SessionConnection",
        "AccessCode",
        "ExpireTime",
        "Expired",
        "KeyID",
        "UsedLicence",
    ] {
        assert!(s.get(field).is_some(), "{field} missing: {s}");
    }
    assert_eq!(s["SessionNumber"], "2");
    assert_eq!(s["SessionConnection"], conn);
    assert_eq!(s["UsedLicence"], 7131766);
    assert_eq!(s["Expired"], "False");
    assert_eq!(s["AccessCode"], Value::Null);
    assert_eq!(s["SessionStarted"], "2026-11-24T09:00:00.000Z");

    let (_, filtered) = server.get("/api/sessions?ComputerName=mora-hp&KeyID=672B");
    assert_eq!(filtered["Sessions"].as_array().unwrap().len(), 1);
    let (_, filtered) = server.get("/api/sessions?ComputerName=OTHER");
    assert_eq!(filtered["Sessions"].as_array().unwrap().len(), 0);
    let (status, body) = server.get("/api/sessions?Bogus=1");
    assert_eq!(status, 400, "{body}");
    let (_, used) = server.get("/api/licences/7131766");
    assert_eq!(used["LicencesUsed"], 1);
}

#[test]
fn administrator_ends_a_session_and_its_licence_is_free_at_once() {
    let server = TestServer::new("machine-end", "").started();
    let series = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&series, &key_fields(&series, "machine-end", 1, KeyKind::Main, 1));
    server.wait_for_licences(1);
    let a = server.connect("672B", "SRV", true);
    let (status, grant) = server.obtain(&a, 1, "PC1");
    assert_eq!(status, 200, "{grant}");
    let sid = grant["SessionID"].as_str().unwrap().to_owned();
    let (status, _) = server.obtain(&a, 2, "PC2");
    assert_eq!(status, 403, "the only licence is taken");

    let (status, ended) = server.delete(&format!("/api/sessions/{sid}"));
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["ID"], sid);
    assert_eq!(server.get(&format!("/api/sessions/{sid}")).0, 404);
    assert_eq!(server.delete(&format!("/api/sessions/{sid}")).0, 404);

    let (status, check) = server.post("/licence/check", &json!({"ConnectionID": a, "SessionID": sid}));
    assert_eq!(status, 410, "{check}");
    assert_eq!(check["Code"], 9);
    let (status, grant) = server.obtain(&a, 2, "PC2");
    assert_eq!(status, 200, "the freed licence goes to the next session: {grant}");
}

#[test]
fn stalled_clients_are_cut_off_after_the_header_read_timeout() {
    use std::io::{ErrorKind, Read, Write};
    let server = TestServer::new("machine-slowloris", "HeaderReadTimeout=1\n").started();
    // The server ends a stalled connection: the read comes back (end of stream, or a reset) rather
    // than running into the test's own generous limit, which only a connection held forever reaches.
    let closed_by_the_server = |partial: &[u8]| {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        stream.set_read_timeout(Some(licence_testkit::PATIENCE)).unwrap();
        stream.write_all(partial).unwrap();
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Err(e),
            Err(_) => Ok(()),
        }
    };
    // Half a request head, then silence; and a connection that never says anything.
    for partial in [&b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\n"[..], &b""[..]] {
        let outcome = closed_by_the_server(partial);
        assert!(outcome.is_ok(), "a stalled client held its connection: {outcome:?}");
    }
    assert_eq!(server.get("/api").0, 200, "ordinary clients are served meanwhile");
}
