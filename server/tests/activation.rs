//! Key lifecycle end to end, with every part real: `licenceedit` creates a series, products and codes in
//! a vendor store, `licencecentre` serves it on loopback, and `licenceserver` installs keys from codes —
//! online, offline by files, by backup codes after its computer changed and onto an emulated USB blank —
//! and hands the licences to sessions. Expiry and `DaysLeft` are checked with the server's test clock.

mod common;

use common::vendor::{Centre, Vendor};
use common::{TestServer, ADMIN};
use licence_protocol::activation::ActivationCode;
use licence_protocol::keyfile;
use licence_protocol::usbkey::{self, SoftwareKey};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;

fn install(server: &TestServer, code: &str, itn: Value, blank: Value) -> (u16, Value) {
    let body = json!({"ActivationCodeString": code, "ITN": itn, "IEC": null, "BlankKeyNo": blank});
    server.request("POST", "/api/licences", Some(&body.to_string()), Some(ADMIN))
}

fn message(body: &Value) -> &str {
    body["Message"].as_str().unwrap_or_else(|| panic!("no error message in {body}"))
}

/// Waits until `/api/licences/{key_no}` satisfies `ready` (the server re-reads keys and devices every
/// few seconds).
fn wait_for_key(server: &TestServer, key_no: u64, ready: impl Fn(&Value) -> bool) -> Value {
    let what = format!("key {key_no} to reach the expected state");
    licence_testkit::wait_for(licence_testkit::PATIENCE, &what, || {
        let (_, key) = server.get(&format!("/api/licences/{key_no}"));
        ready(&key).then_some(key)
    })
}

fn day(time: &Value) -> &str {
    &time.as_str().unwrap()[..10]
}

#[test]
fn from_a_new_series_to_a_session_holding_a_licence_with_every_refusal_said_exactly() {
    let vendor = Vendor::new();
    vendor.product("MAIN-2", "main", 2, &["--period", "365", "--support-months", "12", "--flags", "0,2"]);
    vendor.product("ITN-1", "main", 1, &["--requires-itn"]);
    let centre = Centre::start(&vendor);
    let code = vendor.code("MAIN-2", &[]);
    let server = TestServer::new("activation-pc", &centre.config()).started();

    let (status, key) = install(&server, &code, json!(1234567890u64), Value::Null);
    assert_eq!(status, 201, "{key}");
    assert_eq!(
        (key["Type"].as_str(), key["Workable"].as_bool(), key["Enabled"].as_bool()),
        (Some("Virtual"), Some(true), Some(true))
    );
    assert_eq!(key["KeyID"], "672B");
    assert_eq!(key["KeyType"], 3);
    assert_eq!(key["LicenceCount"], 2);
    assert_eq!(key["ActivationCode"], code.as_str());
    assert_eq!(key["ITN"], "1234567890");
    assert_eq!(key["ProductVersion"], "3.1");
    assert_eq!(key["Flags"].as_str().unwrap().trim_start_matches('0'), "101");
    assert_eq!(key["ComputerID"], server.identity().computer_id().as_str());
    assert_eq!(key["DaysLeft"], 365);
    let activated = day(&key["ActivationDate"]).to_owned();
    let next_year = format!("{}{}", activated[..4].parse::<u32>().unwrap() + 1, &activated[4..]);
    assert_eq!(day(&key["SupportDate"]), next_year, "the subscription ends 12 months after activation: {key}");
    let key_no = key["KeyNo"].as_u64().unwrap();
    let file = server.data_dir().join(format!("672B.{key_no}.licence"));
    assert!(file.exists() && key["FileName"] == file.display().to_string().as_str(), "{key}");

    // A 1C server process takes the key's two licences and no third.
    server.pin("672B", vendor.series().public_key());
    let connection = server.connect("672B", "APPSRV", true);
    assert_eq!(server.obtain(&connection, 1, "APPSRV").0, 200);
    assert_eq!(server.obtain(&connection, 2, "APPSRV").0, 200);
    assert_eq!(server.obtain(&connection, 3, "APPSRV").0, 403);

    // The same code on the same computer installs the same key again; on another computer it is used.
    let (status, again) = install(&server, &code, Value::Null, Value::Null);
    assert_eq!((status, again["KeyNo"].as_u64()), (201, Some(key_no)), "{again}");
    let other = TestServer::new("another-pc", &centre.config()).started();
    let (status, body) = install(&other, &code, Value::Null, Value::Null);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["Exception"], "EHTTPConflict");
    assert!(message(&body).contains("refused"), "{body}");
    assert!(other.get("/api/licences").1["Licences"].as_array().unwrap().is_empty());

    // Unknown, mistyped and revoked codes.
    let (status, body) = install(&other, &ActivationCode::generate().to_string(), Value::Null, Value::Null);
    assert_eq!(status, 404, "{body}");
    let (status, body) = install(&other, "4345-9320-2035-7421-5361", Value::Null, Value::Null);
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("mistyped"), "{body}");
    let revoked = vendor.code("MAIN-2", &[]);
    vendor.edit(&["code", "revoke", &revoked]);
    let (status, body) = install(&other, &revoked, Value::Null, Value::Null);
    assert_eq!((status, body["Exception"].as_str()), (410, Some("EHTTPGone")), "{body}");

    // ITN: required by the product, or fixed when the code was sold.
    let needs_itn = vendor.code("ITN-1", &[]);
    let (status, body) = install(&other, &needs_itn, Value::Null, Value::Null);
    assert_eq!(status, 400, "{body}");
    let sold = vendor.code("MAIN-2", &["--itn", "7701234567"]);
    let (status, body) = install(&other, &sold, json!("7700000000"), Value::Null);
    assert_eq!(status, 403, "{body}");
    let (status, body) = install(&other, &sold, json!(7701234567u64), Value::Null);
    assert_eq!(status, 201, "{body}");

    // No centre at all, and a centre that has stopped: 503 and the way offline.
    drop(centre);
    let (status, body) = install(&other, &vendor.code("MAIN-2", &[]), Value::Null, Value::Null);
    assert_eq!(status, 503, "{body}");
    assert!(message(&body).contains("cannot be reached") && message(&body).contains("offline"), "{body}");
}

#[test]
fn a_centre_answering_nonsense_installs_nothing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().take(2).flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buffer = [0u8; 8192];
            let _ = stream.read(&mut buffer);
            let body = r#"{"Format":1,"RequestID":"X","KeyFile":"forged","BackupCode":"4345-9320-2035-7421-5369","Signature":"AA=="}"#;
            let _ =
                write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    let server = TestServer::new("nonsense-pc", &format!("LicenceCenterUrl=http://127.0.0.1:{port}")).started();
    let (status, body) = install(&server, &ActivationCode::generate().to_string(), Value::Null, Value::Null);
    assert_eq!((status, body["Exception"].as_str()), (502, Some("EHTTPBadGateway")), "{body}");
    assert!(server.get("/api/licences").1["Licences"].as_array().unwrap().is_empty());
}

#[test]
fn offline_activation_by_files_and_a_tampered_response_is_refused() {
    let vendor = Vendor::new();
    vendor.product("MAIN-5", "main", 5, &[]);
    let code = vendor.code("MAIN-5", &[]);
    let server = TestServer::new("air-gapped-pc", "").started();
    let body = json!({"ActivationCodeString": code, "ITN": "1234567890", "IEC": null, "BlankKeyNo": null});
    let (status, request) = server.request("POST", "/api/licences/request", Some(&body.to_string()), Some(ADMIN));
    assert_eq!(status, 200, "{request}");
    assert_eq!(request["ComputerID"], server.identity().computer_id().as_str());
    // The request file carries nothing secret: no code, no binding; the target's public key only.
    assert!(!request.to_string().contains(&code), "{request}");
    assert!(!request.to_string().contains(&server.identity().binding().to_hex()), "{request}");
    assert_eq!(request["TargetKey"], server.identity().binding().target_key().to_hex().as_str());
    let request_file = vendor.dir.join("request.json");
    let response_file = vendor.dir.join("response.json");
    std::fs::write(&request_file, request.to_string()).unwrap();
    vendor.edit(&["request", "answer", request_file.to_str().unwrap(), "--out", response_file.to_str().unwrap()]);
    let response = std::fs::read_to_string(&response_file).unwrap();

    let post_response = |text: &str| server.request("POST", "/api/licences/response", Some(text), Some(ADMIN));
    let mut tampered: Value = serde_json::from_str(&response).unwrap();
    let sealed = tampered["SealedBackupCode"].as_str().unwrap().to_owned();
    let flipped = if sealed.ends_with('0') { "1" } else { "0" };
    tampered["SealedBackupCode"] = json!(format!("{}{flipped}", &sealed[..sealed.len() - 1]));
    let (status, body) = post_response(&tampered.to_string());
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("altered"), "{body}");
    let (status, body) = post_response("{\"Format\": 1");
    assert_eq!(status, 400, "{body}");
    assert!(server.get("/api/licences").1["Licences"].as_array().unwrap().is_empty());

    // Another computer cannot install this computer's answer.
    let elsewhere = TestServer::new("another-air-gapped-pc", "").started();
    let (status, body) = elsewhere.request("POST", "/api/licences/response", Some(&response), Some(ADMIN));
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("another computer"), "{body}");

    let (status, key) = post_response(&response);
    assert_eq!(status, 201, "{key}");
    assert_eq!((key["Workable"].as_bool(), key["LicenceCount"].as_u64()), (Some(true), Some(5)), "{key}");
    assert_eq!(key["ITN"], "1234567890");
    // A login is needed for the backup code even where reading needs none.
    let key_no = key["KeyNo"].as_u64().unwrap();
    let path = format!("/api/licences/{key_no}/backupcode");
    assert_eq!(server.request("GET", &path, None, None).0, 401);
    let (status, backup) = server.get(&path);
    assert_eq!(status, 200, "{backup}");
    assert_eq!(backup["BackupCode"], sealed_backup_code(&server, &response));
    assert!(!response.contains(backup["BackupCode"].as_str().unwrap()), "the backup code is sealed in the response");
    // Kept beside the key for the server's account only: a backup code moves the key.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let kept = server.data_dir().join(format!("{}.{key_no}.backup", key["KeyID"].as_str().unwrap()));
        assert_eq!(std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777, 0o600, "{}", kept.display());
    }
}

/// The backup code a response carries, opened with the server's binding.
fn sealed_backup_code(server: &TestServer, response: &str) -> String {
    let parsed: licence_protocol::centre::ActivationResponse = serde_json::from_str(response).unwrap();
    parsed.backup_code(&server.identity().binding()).unwrap().to_string()
}

#[test]
fn backup_codes_rebind_a_key_after_the_computer_changed_and_move_it_onto_a_usb_blank() {
    let vendor = Vendor::new();
    vendor.product("MAIN-3", "main", 3, &[]);
    let centre = Centre::start(&vendor);
    let usb = common::scratch("usb");
    let mut server = TestServer::new("before-reinstall", &centre.config());
    server.env.push(("LICENCESERVER_TEST_USB_DIR".into(), usb.display().to_string()));
    server.start();
    let (status, key) = install(&server, &vendor.code("MAIN-3", &[]), Value::Null, Value::Null);
    assert_eq!(status, 201, "{key}");
    let key_no = key["KeyNo"].as_u64().unwrap();
    let backup_path = format!("/api/licences/{key_no}/backupcode");
    let first_backup = server.get(&backup_path).1["BackupCode"].as_str().unwrap().to_owned();

    // The OS is reinstalled: a new machine id, so a new ComputerID. The key stays listed, unworkable, and says why.
    server.stop();
    std::fs::write(server.root.join("machine-id"), "after-reinstall").unwrap();
    server.machine = "after-reinstall".into();
    server.start();
    let (_, stale) = server.get(&format!("/api/licences/{key_no}"));
    assert_eq!(stale["Workable"], false, "{stale}");
    assert!(stale["OpenError"].as_str().unwrap().contains("backup code"), "{stale}");
    server.pin("672B", vendor.series().public_key());
    let (status, refused) = server.post("/licence/connect", &common::connect_body("672B", "APPSRV", true));
    assert_eq!((status, refused["Code"].as_u64()), (404, Some(6)), "no workable key: {refused}");

    let (status, rebound) = install(&server, &first_backup, Value::Null, Value::Null);
    assert_eq!(status, 201, "{rebound}");
    assert_eq!((rebound["KeyNo"].as_u64(), rebound["Workable"].as_bool()), (Some(key_no), Some(true)));
    assert_eq!(rebound["ComputerID"], server.identity().computer_id().as_str());
    let connection = server.connect("672B", "APPSRV", true);
    assert_eq!(server.obtain(&connection, 1, "APPSRV").0, 200);
    // Used again here it answers the same (a lost answer can be fetched again); anywhere else it is spent.
    let (status, body) = install(&server, &first_backup, Value::Null, Value::Null);
    assert_eq!((status, body["KeyNo"].as_u64()), (201, Some(key_no)), "{body}");
    let elsewhere = TestServer::new("a-third-computer", &centre.config()).started();
    let (status, body) = install(&elsewhere, &first_backup, Value::Null, Value::Null);
    assert_eq!(status, 409, "a backup code works once: {body}");

    // Moving onto a blank: plug it in, install the (new) backup code on it.
    let second_backup = server.get(&backup_path).1["BackupCode"].as_str().unwrap().to_owned();
    assert_ne!(second_backup, first_backup);
    let (status, body) = install(&server, &second_backup, Value::Null, json!(555));
    assert_eq!(status, 404, "the blank is not plugged in yet: {body}");
    let blank = usb.join("blank.usbkey");
    std::fs::write(&blank, SoftwareKey::manufacture(555, &usbkey::test_root()).to_bytes()).unwrap();
    let computer_bound = std::fs::read(server.data_dir().join(format!("672B.{key_no}.licence"))).unwrap();
    let (status, moved) = install(&server, &second_backup, Value::Null, json!(555));
    assert_eq!(status, 201, "{moved}");
    assert_eq!((moved["BlankKeyNo"].as_u64(), moved["Workable"].as_bool()), (Some(555), Some(true)), "{moved}");
    assert_ne!(moved["ComputerID"], server.identity().computer_id().as_str());
    assert!(server.data_dir().join(format!("672B.{key_no}.licence")).exists());

    // Unplugged, the key stops working and frees its licences; plugged back, it works again.
    let saved = std::fs::read(&blank).unwrap();
    std::fs::remove_file(&blank).unwrap();
    let unplugged = wait_for_key(&server, key_no, |k| k["Workable"] == false);
    assert!(unplugged["OpenError"].as_str().unwrap().contains("not plugged in"), "{unplugged}");
    assert_eq!(server.obtain(&connection, 2, "APPSRV").0, 404, "no workable key");
    std::fs::write(&blank, saved).unwrap();
    wait_for_key(&server, key_no, |k| k["Workable"] == true);
    assert_eq!(server.obtain(&connection, 2, "APPSRV").0, 200);

    // The file bound to the computer, kept from before the move and put back, no longer works here.
    let key_file = server.data_dir().join(format!("672B.{key_no}.licence"));
    std::fs::write(&key_file, &computer_bound).unwrap();
    let restored = wait_for_key(&server, key_no, |k| k["BlankKeyNo"].is_null());
    assert_eq!(restored["Workable"], false, "{restored}");
    assert!(restored["OpenError"].as_str().unwrap().contains("earlier issue"), "{restored}");
    let _ = std::fs::remove_dir_all(&usb);
}

#[test]
fn a_hardware_key_is_listed_as_usb_and_counts_only_while_plugged_in() {
    let vendor = Vendor::new();
    let usb = common::scratch("usb-hw");
    let device = usb.join("hardware.usbkey");
    let mut key = SoftwareKey::manufacture(777, &usbkey::test_root());
    let plugged = usbkey::open(&mut key, &[usbkey::test_root().verifying_key().to_bytes()]).unwrap();
    std::fs::write(&device, key.to_bytes()).unwrap();
    let series = vendor.series();
    let fields = licence_protocol::key::KeyFields {
        computer_id: plugged.computer_id.clone(),
        ..licence_testkit::main_key(&series, "unused", 9_100_001, 4)
    };
    licenceserver::usb::program_emulated_key(&device, &keyfile::issue(&fields, &series, plugged.binding())).unwrap();

    let mut server = TestServer::new("hardware-pc", "");
    server.env.push(("LICENCESERVER_TEST_USB_DIR".into(), usb.display().to_string()));
    server.start();
    let listed = wait_for_key(&server, 9_100_001, |k| k["Workable"] == true);
    assert_eq!((listed["Type"].as_str(), listed["Serial"].as_u64()), (Some("USB"), Some(777)), "{listed}");
    assert_eq!(listed["FileName"], Value::Null);
    server.pin(series.series.as_str(), series.public_key());
    let connection = server.connect(series.series.as_str(), "APPSRV", true);
    assert_eq!(server.obtain(&connection, 1, "APPSRV").0, 200);

    // `[UPKey] Enabled=0`: the same device is never looked at (the first look is at start).
    let mut without_usb = TestServer::new("hardware-pc", "");
    without_usb.append_config("[UPKey]\nEnabled=0\n");
    without_usb.env.push(("LICENCESERVER_TEST_USB_DIR".into(), usb.display().to_string()));
    without_usb.start();
    assert_eq!(without_usb.get("/api/licences").1["Licences"], json!([]));
    assert!(!without_usb.log().contains("emulated"), "{}", without_usb.log());
    drop(without_usb);

    std::fs::remove_file(&device).unwrap();
    licence_testkit::wait_until(licence_testkit::PATIENCE, "the unplugged key to leave the list", || {
        server.get("/api/licences").1["Licences"].as_array().is_some_and(|l| l.is_empty())
    });
    assert_eq!(server.obtain(&connection, 2, "APPSRV").0, 404, "no key of the series");
    let _ = std::fs::remove_dir_all(&usb);
}

#[test]
fn main_additional_and_demo_keys_count_by_their_kind_and_expire_on_the_shifted_clock() {
    let vendor = Vendor::new();
    vendor.product("MAIN-3", "main", 3, &["--period", "30", "--support-months", "1"]);
    vendor.product("ADD-2", "additional", 2, &[]);
    vendor.product("DEMO-5", "demo", 5, &["--period", "14"]);
    let centre = Centre::start(&vendor);
    let mut server = TestServer::new("counting-pc", &centre.config()).started();
    let key_no = |body: &Value| body["KeyNo"].as_u64().unwrap();
    let (status, main) = install(&server, &vendor.code("MAIN-3", &[]), Value::Null, Value::Null);
    assert_eq!(status, 201, "{main}");
    let (status, additional) = install(&server, &vendor.code("ADD-2", &[]), Value::Null, Value::Null);
    assert_eq!(status, 201, "{additional}");
    assert_eq!(additional["KeyType"], 4);
    let (status, demo) = install(&server, &vendor.code("DEMO-5", &[]), Value::Null, Value::Null);
    assert_eq!(status, 201, "{demo}");
    let demo = wait_for_key(&server, key_no(&demo), |k| k["Enabled"] == false);
    assert!(demo["OpenError"].as_str().is_some_and(|e| !e.is_empty()), "a demo key beside a main key says why: {demo}");
    assert_eq!(main["DaysLeft"], 30);

    server.pin("672B", vendor.series().public_key());
    let connection = server.connect("672B", "APPSRV", true);
    for n in 1..=5 {
        assert_eq!(server.obtain(&connection, n, "APPSRV").0, 200, "session {n} of 3 + 2");
    }
    assert_eq!(server.obtain(&connection, 6, "APPSRV").0, 403);

    // Ten days on: 20 days left. Thirty-one days on: the main key has expired and the additional one with it.
    server.stop();
    server.env.push(("LICENCESERVER_TEST_CLOCK_SHIFT_DAYS".into(), "10".into()));
    server.start();
    let (_, later) = server.get(&format!("/api/licences/{}", key_no(&main)));
    assert_eq!((later["DaysLeft"].as_u64(), later["Expired"].as_bool()), (Some(20), Some(false)), "{later}");
    server.stop();
    server.env.retain(|(name, _)| name != "LICENCESERVER_TEST_CLOCK_SHIFT_DAYS");
    server.env.push(("LICENCESERVER_TEST_CLOCK_SHIFT_DAYS".into(), "31".into()));
    server.start();
    let (_, expired) = server.get(&format!("/api/licences/{}", key_no(&main)));
    assert_eq!((expired["DaysLeft"].as_u64(), expired["Expired"].as_bool()), (Some(0), Some(true)), "{expired}");
    assert_eq!(expired["Enabled"], false);
    let (_, additional) = server.get(&format!("/api/licences/{}", key_no(&additional)));
    assert_eq!(additional["Enabled"], false, "{additional}");
    // The subscription ended a month after activation; the key itself said so from the start.
    assert!(day(&main["SupportDate"]) > day(&main["ActivationDate"]), "{main}");
    server.pin("672B", vendor.series().public_key());
    let fresh = server.connect("672B", "APPSRV2", true);
    let (status, body) = server.obtain(&fresh, 1, "APPSRV2");
    assert_eq!(status, 403, "{body}");
}

#[test]
fn a_key_activated_long_ago_has_expired_and_its_subscription_ended() {
    let vendor = Vendor::new();
    vendor.product("YEAR", "main", 2, &["--period", "365", "--support-months", "6"]);
    let centre = Centre::start_with_clock(&vendor, -400);
    let server = TestServer::new("long-ago-pc", &centre.config()).started();
    let (status, key) = install(&server, &vendor.code("YEAR", &[]), Value::Null, Value::Null);
    assert_eq!(status, 201, "{key}");
    assert_eq!((key["Expired"].as_bool(), key["DaysLeft"].as_u64()), (Some(true), Some(0)), "{key}");
    assert_eq!(key["Enabled"], false, "{key}");
    let now = licence_protocol::time::UtcTime::now().to_string();
    assert!(day(&key["SupportDate"]) < &now[..10], "the subscription ended long ago: {key}");
    assert!(day(&key["ActivationDate"]) < day(&key["SupportDate"]), "{key}");
    server.pin("672B", vendor.series().public_key());
    let connection = server.connect("672B", "APPSRV", true);
    assert_eq!(server.obtain(&connection, 1, "APPSRV").0, 403, "an expired key gives no licence");
}

#[test]
fn offline_activation_from_the_command_line_without_the_server_running() {
    let vendor = Vendor::new();
    vendor.product("MAIN-4", "main", 4, &[]);
    let code = vendor.code("MAIN-4", &["--itn", "7701234567"]);
    let mut server = TestServer::new("command-line-pc", "");
    let licenceserver = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_licenceserver"))
            .args(args)
            .arg("--root")
            .arg(&server.root)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (status, _, stderr) = licenceserver(&["activation-request", "4345-9320-2035-7421-5361"]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stderr.contains("mistyped"), "{stderr}");
    let (status, request, stderr) = licenceserver(&["activation-request", &code, "--itn", "7701234567"]);
    assert_eq!(status, Some(0), "{stderr}");
    let request_file = vendor.dir.join("cli-request.json");
    let response_file = vendor.dir.join("cli-response.json");
    std::fs::write(&request_file, request).unwrap();
    vendor.edit(&["request", "answer", request_file.to_str().unwrap(), "--out", response_file.to_str().unwrap()]);
    let (status, out, stderr) = licenceserver(&["activation-install", response_file.to_str().unwrap()]);
    assert_eq!(status, Some(0), "{stderr}");
    assert!(out.contains("backup code: "), "{out}");
    server.start();
    let listed = server.wait_for_licences(1);
    let key = &listed["Licences"][0];
    assert_eq!((key["Workable"].as_bool(), key["LicenceCount"].as_u64()), (Some(true), Some(4)), "{key}");
    assert_eq!(key["ITN"], "7701234567");
}
