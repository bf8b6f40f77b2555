//! Key files, config and logs against the real server: tampered, foreign, renamed and broken key
//! files are listed as not workable with the reason and do not stop the others; a broken config is
//! reported with file, line and reason; logs are named as documented and old ones are removed unless
//! `KeepPreviousLogs=1`.

mod common;

use common::*;
use licence_protocol::key::KeyKind;
use licence_protocol::series::SeriesKeys;
use serde_json::Value;

fn licence(list: &Value, key_no: u64) -> Value {
    list["Licences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["KeyNo"] == key_no)
        .cloned()
        .unwrap_or_else(|| panic!("no key {key_no} in {list}"))
}

#[test]
fn bad_key_files_are_reported_and_good_ones_still_work() {
    let server = TestServer::new("keys-mixed", "").started();
    let s = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&s, &key_fields(&s, "keys-mixed", 1, KeyKind::Main, 2));

    // Tampered: one byte of the licence count changed.
    let tampered = server.install_key(&s, &key_fields(&s, "keys-mixed", 2, KeyKind::Main, 5));
    let text = std::fs::read_to_string(&tampered).unwrap().replacen("\"LicenceCount\":5", "\"LicenceCount\":9", 1);
    assert!(text.contains("\"LicenceCount\":9"), "the test must really change the count");
    std::fs::write(&tampered, text).unwrap();

    // Foreign: issued for another computer and copied here.
    let foreign = TestServer::new("another-computer", "");
    let copied = foreign.install_key(&s, &key_fields(&s, "another-computer", 3, KeyKind::Main, 5));
    std::fs::copy(&copied, server.data_dir().join("672B.3.licence")).unwrap();

    // Issued with this ComputerID but wrapped for other identity material: still not workable.
    let mut sneaky = key_fields(&s, "keys-mixed", 4, KeyKind::Main, 5);
    sneaky.computer_id = server.identity().computer_id();
    let bytes = licence_protocol::keyfile::issue(
        &sneaky,
        &s,
        &licence_protocol::identity::MachineIdentity::from_material(b"elsewhere").binding(),
    );
    std::fs::write(server.data_dir().join("672B.4.licence"), bytes).unwrap();

    // Renamed: a good file under another number.
    let good = server.install_key(&s, &key_fields(&s, "keys-mixed", 5, KeyKind::Main, 1));
    std::fs::rename(&good, server.data_dir().join("672B.6.licence")).unwrap();

    // Garbage, and a file whose name is not a key's.
    std::fs::write(server.data_dir().join("672B.7.licence"), b"\x00\xffnot a key").unwrap();
    std::fs::write(server.data_dir().join("readme.licence"), b"hello").unwrap();

    let list = server.wait_for_licences(6);
    let ok = licence(&list, 1);
    assert_eq!((ok["Workable"].clone(), ok["Enabled"].clone()), (Value::Bool(true), Value::Bool(true)));
    for (key_no, reason) in [(2, "signature"), (3, "another computer"), (4, "unwrapped"), (6, "file name"), (7, "")] {
        let k = licence(&list, key_no);
        assert_eq!(k["Workable"], false, "key {key_no}: {k}");
        assert_eq!(k["Enabled"], false, "key {key_no}: {k}");
        let error = k["OpenError"].as_str().unwrap_or_else(|| panic!("key {key_no} has no OpenError: {k}"));
        assert!(error.contains(reason), "key {key_no}: {error}");
    }
    // Only the good key's two licences exist.
    let conn = server.connect("672B", "APPSRV", true);
    assert_eq!(server.obtain(&conn, 1, "APPSRV").0, 200);
    assert_eq!(server.obtain(&conn, 2, "APPSRV").0, 200);
    assert_eq!(server.obtain(&conn, 3, "APPSRV").0, 403);

    let log = server.log();
    assert!(log.contains("672B.2.licence"), "the tampered file is named in the log");
    assert!(log.contains("readme.licence"), "the skipped file is named in the log");
}

#[test]
fn a_broken_config_is_located_and_the_rest_applies() {
    let server = TestServer::new("config-broken", "ServerPort=notaport\nthis is not ini\nSessionTimeout=7\n");
    server.append_config("[API]\nEnabled=maybe\nUserName=ops\nPassword=pw\n");
    let s = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&s, &key_fields(&s, "config-broken", 1, KeyKind::Main, 1));
    let server = server.started();
    let conf = server.root.join("3.0/licenceserver.conf");
    let log = server.log();
    let at = |line: usize| format!("{}:{line}: ", conf.display());
    assert!(log.contains(&format!("{}[Common] ServerPort: `notaport` is not a port number", at(3))), "{log}");
    assert!(log.contains(&at(4)), "{log}");
    assert!(log.contains(&format!("{}[API] Enabled: `maybe` is not 0 or 1", at(8))), "{log}");
    // The good settings around the broken ones apply.
    let (status, _) = server.request("GET", "/api", None, Some(("ops", "pw")));
    assert_eq!(status, 200);
    let (status, connect) = server.post("/licence/connect", &connect_body("672B", "PC", false));
    assert_eq!(status, 200);
    assert_eq!(connect["SessionLeaseSeconds"], 7);
}

#[test]
fn logs_are_named_as_documented_and_old_ones_removed() {
    let mut server = TestServer::new("logs-remove", "");
    server.start();
    server.stop();
    server.start();
    let names: Vec<String> =
        std::fs::read_dir(server.logs_dir()).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
    assert_eq!(names.len(), 1, "the first run's log was removed: {names:?}");
    let name = &names[0];
    let parts: Vec<&str> = name.split('.').collect();
    assert_eq!(parts.len(), 4, "{name}");
    assert_eq!(parts[0], "licenceserver");
    assert_eq!(parts[1].len(), 15, "YYYYMMDD-HHNNSS: {name}");
    assert_eq!(&parts[1][8..9], "-");
    assert!(parts[2].parse::<u32>().is_ok(), "pid: {name}");
    assert_eq!(parts[3], "log");

    let mut keep = TestServer::new("logs-keep", "KeepPreviousLogs=1\n");
    keep.start();
    keep.stop();
    let first: Vec<_> = std::fs::read_dir(keep.logs_dir()).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(first.len(), 1, "{first:?}");
    // A log's name is its start second and pid: the second run starts in a later second than the
    // first stopped, so even a reused pid cannot give it the first run's name.
    let second = || licence_protocol::time::UtcTime::now().unix_millis() / 1000;
    let stopped = second();
    licence_testkit::wait_until(licence_testkit::PATIENCE, "the next second", || second() > stopped);
    keep.start();
    let count = std::fs::read_dir(keep.logs_dir()).unwrap().count();
    assert_eq!(count, 2, "KeepPreviousLogs=1 keeps the first run's log");
    assert!(first[0].exists(), "the first run's log is kept: {first:?}");
}

#[test]
fn a_pinned_identity_that_is_missing_is_reported_not_ignored() {
    let server = TestServer::new("pin-missing", "");
    std::fs::remove_file(server.root.join("machine-id")).unwrap();
    let server = server.started();
    assert!(server.log().contains("machine-id"), "{}", server.log());
    let s = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&s, &key_fields(&s, "pin-missing", 1, KeyKind::Main, 1));
    let list = server.wait_for_licences(1);
    assert_eq!(list["Licences"][0]["Workable"], false);
}

#[test]
fn the_bound_port_is_announced_on_stdout_and_in_the_port_file_until_a_clean_stop() {
    // The test server starts with `--port 0` and learns its port from the `listening on` line.
    let mut server = TestServer::new("port-file", "");
    server.start();
    assert_ne!(server.port, 0);
    let file = server.root.join("3.0/licenceserver.port");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("127.0.0.1:{}\n", server.port));
    assert_eq!(server.get("/api").0, 200, "the announced port is the server's");
    // After `kill -9` the file is stale until the next start rewrites it.
    server.kill();
    assert!(file.exists());
    let port = server.port;
    server.start();
    assert_eq!((server.port, std::fs::read_to_string(&file).unwrap()), (port, format!("127.0.0.1:{port}\n")));
    server.stop();
    assert!(!file.exists(), "a clean stop removes the port file");
}
