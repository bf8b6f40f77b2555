//! Attacks on the trust chain against the real server binary, each test named after the attack: a
//! self-made series beside a genuine one, a connection pinning another key, a replayed sealed request,
//! an unprivileged user after the series secret, a clock set back, and files of an earlier release.

mod common;

use common::addin::{self, post_bytes};
use common::*;
use licence_protocol::channel;
use licence_protocol::identity::{MachineIdentity, PublicTarget};
use licence_protocol::key::{KeyFields, KeyKind};
use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;
use licence_protocol::wire::ConnectResponse;
use serde_json::{json, Value};
use std::process::Command;

fn series(id: &str) -> SeriesKeys {
    SeriesKeys::generate(id.parse().unwrap())
}

fn listed(server: &TestServer, key_no: u64) -> Value {
    let (status, key) = server.get(&format!("/api/licences/{key_no}"));
    assert_eq!(status, 200, "{key}");
    key
}

fn open_error(server: &TestServer, key_no: u64) -> String {
    listed(server, key_no)["OpenError"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn forged_main_and_additional_keys_of_a_self_made_series_count_nothing_for_a_pinned_connection() {
    let mut server = TestServer::new("trust-forged", "").started();
    let genuine = series("672B");
    server.install_key(&genuine, &key_fields(&genuine, &server.machine, 1, KeyKind::Main, 2));
    // The attacker makes a series of their own with the same KeyID and issues keys to the server's
    // public target key (what `licenceserver identity` prints to anybody who may run it).
    let forged = series("672B");
    let target = server.identity().binding().target_key();
    for (key_no, kind) in [(2, KeyKind::Main), (3, KeyKind::Additional)] {
        let fields = key_fields(&forged, &server.machine, key_no, kind, 500);
        std::fs::write(server.data_dir().join(fields.file_name()), keyfile::issue(&fields, &forged, &target)).unwrap();
    }
    server.wait_for_licences(3);

    let conn = server.connect("672B", "APPSRV", true);
    let granted: Vec<Value> = (1..=6)
        .filter_map(|n| {
            let (status, grant) = server.obtain(&conn, n, "APPSRV");
            (status == 200).then_some(grant)
        })
        .collect();
    assert_eq!(granted.len(), 2, "only the genuine key's 2 licences: {granted:?}");
    assert!(granted.iter().all(|g| g["UsedLicence"] == 1), "{granted:?}");
    let (status, refused) = server.obtain(&conn, 7, "APPSRV");
    assert_eq!((status, refused["Code"].as_u64()), (403, Some(2)), "{refused}");

    // The API (and the console, which reads the same) says why the forged keys give nothing.
    for key_no in [2, 3] {
        let why = open_error(&server, key_no);
        assert!(why.starts_with("signed by another key than"), "key {key_no}: {why}");
        assert_eq!(listed(&server, key_no)["Enabled"], false);
    }
    assert!(open_error(&server, 1).is_empty());
    let (_, info) = server.post("/licence/keyinfo", &json!({"ConnectionID": conn}));
    let numbers: Vec<u64> = info["Keys"].as_array().unwrap().iter().map(|k| k["KeyNo"].as_u64().unwrap()).collect();
    assert_eq!((numbers, info["LicenceCount"].as_u64()), (vec![1], Some(2)), "{info}");

    // With no add-in connected, and after a restart, the server still judges the series against the key
    // its add-ins pinned: the forged keys stay listed as giving nothing.
    let (status, _) = server.post("/licence/disconnect", &json!({"ConnectionID": conn}));
    assert_eq!(status, 200);
    server.stop();
    server.start();
    for key_no in [2, 3] {
        let why = open_error(&server, key_no);
        assert!(why.starts_with("signed by another key than"), "after a restart, key {key_no}: {why}");
        assert_eq!(listed(&server, key_no)["Enabled"], false);
    }
    assert_eq!(listed(&server, 1)["Enabled"], true);
}

#[test]
fn a_connection_pinning_another_key_gets_no_proof_and_no_licence() {
    let server = TestServer::new("trust-other-pin", "").started();
    let genuine = series("672B");
    server.install_key(&genuine, &key_fields(&genuine, &server.machine, 1, KeyKind::Main, 5));
    server.wait_for_licences(1);
    // A configuration pinning a key nobody holds a key of here: no proof, no connection.
    let stranger = series("672B");
    let refused = addin::connect(&server.url(""), &connect_body("672B", "PC", false), &stranger.public_key());
    let (status, body) = refused.err().expect("refused");
    assert_eq!((status, body["Code"].as_u64()), (404, Some(6)), "{body}");
    assert!(body.get("Proofs").is_none(), "{body}");
    assert!(body["Message"].as_str().unwrap().contains("signed by the series key this configuration pins"), "{body}");

    let conn = server.connect("672B", "APPSRV", true);
    let response: ConnectResponse = server.addin(&conn).lock().unwrap().response.clone();
    assert_eq!(response.proofs.len(), 1);

    // Even with a key of that self-made series installed, the series is pinned by the genuine
    // connection: another pin is refused, and gets nothing.
    let fields = key_fields(&stranger, &server.machine, 2, KeyKind::Main, 100);
    let target = server.identity().binding().target_key();
    std::fs::write(server.data_dir().join(fields.file_name()), keyfile::issue(&fields, &stranger, &target)).unwrap();
    server.wait_for_licences(2);
    let refused = addin::connect(&server.url(""), &connect_body("672B", "PC", false), &stranger.public_key());
    let (status, body) = refused.err().expect("refused");
    assert_eq!((status, body["Code"].as_u64()), (404, Some(6)), "{body}");
    assert!(body["Message"].as_str().unwrap().contains("pin another series key"), "{body}");

    // The genuine connection's proof does not pass for a configuration pinning the other key.
    let sent = serde_json::to_vec(&json!({})).unwrap();
    let proof = &response.proofs[0];
    let checked = channel::verify_proof(proof, &stranger.public_key(), genuine.series, &sent, &response.terms());
    assert!(checked.is_err());
    assert_eq!(server.obtain(&conn, 1, "APPSRV").0, 200, "the genuine connection still works");
}

#[test]
fn a_replayed_sealed_request_is_refused() {
    let server = TestServer::new("trust-replay", "").started();
    let s = series("672B");
    server.install_key(&s, &key_fields(&s, &server.machine, 1, KeyKind::Main, 5));
    server.wait_for_licences(1);
    let conn = server.connect("672B", "APPSRV", true);
    let addin = server.addin(&conn);
    let mut addin = addin.lock().unwrap();
    let (status, _) = addin.call("/licence/obtain", &session_body(&conn, 1, "APPSRV"));
    assert_eq!(status, 200);
    // What a listener recorded: the sealed obtain of session 2, sent once and then again.
    addin.seq += 1;
    let recorded =
        addin.channel.seal("/licence/obtain", addin.seq, session_body(&conn, 2, "APPSRV").to_string().as_bytes());
    let bytes = serde_json::to_vec(&recorded).unwrap();
    let url = server.url("/licence/obtain");
    assert_eq!(post_bytes(&url, &bytes).0, 200);
    let (status, body) = post_bytes(&url, &bytes);
    assert_eq!((status, body["Code"].as_u64()), (400, Some(5)), "{body}");
    assert!(body["Message"].as_str().unwrap().contains("replay"), "{body}");
    // An altered one, and one sealed for another call, do not open either.
    addin.seq += 1;
    let mut altered =
        addin.channel.seal("/licence/obtain", addin.seq, session_body(&conn, 3, "APPSRV").to_string().as_bytes());
    // Another first character than the one it had (replacing it with a fixed one left it unaltered 1 time in 64).
    let first = if altered.sealed.starts_with('A') { 'B' } else { 'A' };
    altered.sealed = format!("{first}{}", &altered.sealed[1..]);
    let (status, body) = post_bytes(&url, &serde_json::to_vec(&altered).unwrap());
    assert_eq!((status, body["Code"].as_u64()), (400, Some(5)), "{body}");
    addin.seq += 1;
    let elsewhere =
        addin.channel.seal("/licence/release", addin.seq, session_body(&conn, 3, "APPSRV").to_string().as_bytes());
    let (status, body) = post_bytes(&url, &serde_json::to_vec(&elsewhere).unwrap());
    assert_eq!((status, body["Code"].as_u64()), (400, Some(5)), "{body}");
    // A plain call is not one of the protocol any more.
    let (status, body) = post_bytes(&url, session_body(&conn, 4, "APPSRV").to_string().as_bytes());
    assert_eq!((status, body["Code"].as_u64()), (400, Some(5)), "{body}");
    drop(addin);
    assert_eq!(listed(&server, 1)["LicencesUsed"], 2, "the replay took no licence");
}

/// The effective user id, from `id -u`.
fn uid() -> Option<u32> {
    let out = Command::new("id").arg("-u").output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

#[test]
fn an_unprivileged_user_cannot_unwrap_the_series_secret() {
    if uid() != Some(0) {
        println!("skipped: this test runs the attempt as uid 65534 and so needs root");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        println!("skipped: setpriv (util-linux) is not installed");
        return;
    }
    let mut server = TestServer::new("trust-unprivileged", "");
    // The server's own host secret, created by the server's account (root here), mode 0600.
    let secret = server.root.join("3.0/host.secret");
    std::fs::remove_file(&secret).unwrap();
    let binary = env!("CARGO_BIN_EXE_licenceserver");
    let out = Command::new(binary).arg("identity").arg("--root").arg(&server.root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let target = PublicTarget::from_json(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&secret).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let s = series("672B");
    let fields = key_fields(&s, &server.machine, 1, KeyKind::Main, 5);
    let (_, target_key) = target.parse().unwrap();
    let file = keyfile::issue(&fields, &s, &target_key);
    std::fs::write(server.data_dir().join(fields.file_name()), &file).unwrap();
    server.start();
    assert_eq!(server.wait_for_licences(1)["Licences"][0]["Workable"], true, "licensed");
    server.stop();

    // Another user cannot read the host secret, so cannot compute the binding.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", binary, "identity", "--root"])
        .arg(&server.root)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "uid 65534 read the identity: {}", String::from_utf8_lossy(&out.stdout));
    assert!(said.contains("host secret") && said.contains("cannot be read"), "{said}");
    // The world-readable machine id alone (what that user can read) does not unwrap the key file.
    let material = std::fs::read(server.root.join("machine-id")).unwrap();
    let verified = keyfile::verify(&file).unwrap();
    assert!(verified.unwrap_secrets(&MachineIdentity::from_material(&material).binding()).is_err());
    let host = licence_protocol::identity::HostSecret::load_or_create(&secret).unwrap();
    let own = MachineIdentity::from_material(&material).with_host_secret(host);
    assert!(verified.unwrap_secrets(&own.binding()).is_ok(), "the server's own binding does");
}

/// A key started `started_days_ago` days ago for `period` days.
fn term_key(
    s: &SeriesKeys,
    machine: &str,
    key_no: u64,
    kind: KeyKind,
    started_days_ago: i64,
    period: u32,
) -> KeyFields {
    KeyFields { start_date: days_ago(started_days_ago), period, ..key_fields(s, machine, key_no, kind, 3) }
}

#[test]
fn the_clock_set_back_past_a_demo_keys_end_keeps_it_stopped() {
    let mut server = TestServer::new("trust-clock", "");
    // A demo key that ended 20 days ago, and a term key in date (started 100 days ago, for a year).
    let demo = series("1A2B");
    server.install_key(&demo, &term_key(&demo, "trust-clock", 1, KeyKind::Demo, 50, 30));
    let main = series("672B");
    server.install_key(&main, &term_key(&main, "trust-clock", 2, KeyKind::Main, 100, 365));
    server.start();
    server.wait_for_licences(2);
    assert!(open_error(&server, 1).contains("expired"), "{}", open_error(&server, 1));
    let conn = server.connect("672B", "APPSRV", true);
    assert_eq!(server.obtain(&conn, 1, "APPSRV").0, 200);
    server.stop();

    // Forty days back the demo key would look in date again: it stays stopped, and so does the
    // term key, until the clock is right.
    server.env.push(("LICENCESERVER_TEST_CLOCK_SHIFT_DAYS".into(), "-40".into()));
    server.start();
    for key_no in [1, 2] {
        let why = open_error(&server, key_no);
        assert!(why.contains("behind the latest time this licence server has seen"), "key {key_no}: {why}");
        assert_eq!(listed(&server, key_no)["Workable"], false);
    }
    let (status, body) = server.post("/licence/connect", &connect_body("672B", "APPSRV", true));
    assert_eq!((status, body["Code"].as_u64()), (404, Some(6)), "{body}");
    let (status, body) = server.post("/licence/connect", &connect_body("1A2B", "APPSRV", true));
    assert_eq!((status, body["Code"].as_u64()), (404, Some(6)), "{body}");
    assert_eq!(server.log().matches("behind the latest time").count(), 1, "said once:\n{}", server.log());
    server.stop();

    // With the right clock the term key counts again; the demo key is simply expired.
    server.env.clear();
    server.start();
    assert!(open_error(&server, 2).is_empty(), "{}", open_error(&server, 2));
    assert!(open_error(&server, 1).contains("expired"), "{}", open_error(&server, 1));
    let conn = server.connect("672B", "APPSRV", true);
    assert_eq!(server.obtain(&conn, 1, "APPSRV").0, 200);
    server.stop();

    // An edited high-water mark is detected (its MAC is keyed from the host secret) and ignored.
    let store = rusqlite::Connection::open(server.root.join("3.0/leases.sqlite")).unwrap();
    let edited = store.execute("UPDATE clock SET high_water = high_water - 86400000 * 400", []).unwrap();
    assert_eq!(edited, 1);
    drop(store);
    server.start();
    assert!(server.log().contains("does not match its MAC (it was edited); it is ignored"), "{}", server.log());
}

#[test]
fn a_host_secret_that_cannot_be_used_makes_every_key_unworkable_with_the_reason() {
    let mut server = TestServer::new("trust-damaged-secret", "");
    let s = series("672B");
    server.install_key(&s, &key_fields(&s, &server.machine, 1, KeyKind::Main, 5));
    std::fs::write(server.root.join("3.0/host.secret"), b"short").unwrap();
    server.start();
    server.wait_for_licences(1);
    let why = open_error(&server, 1);
    assert!(why.contains("host secret") && why.contains("is 5 bytes"), "{why}");
    assert_eq!(listed(&server, 1)["Workable"], false);
    let said = server.log().matches("no key bound to this computer can be workable until this is fixed").count();
    assert_eq!(said, 1, "one clear line:\n{}", server.log());
    let (status, body) = server.post("/licence/connect", &connect_body("672B", "APPSRV", true));
    assert_eq!((status, body["Code"].as_u64()), (404, Some(6)), "{body}");
}

#[test]
fn an_old_format_key_file_is_refused_with_what_to_do() {
    let server = TestServer::new("trust-old-format", "").started();
    let s = series("672B");
    let fields = key_fields(&s, &server.machine, 5, KeyKind::Main, 5);
    let text = String::from_utf8(keyfile::issue(&fields, &s, &server.identity().binding())).unwrap();
    let old = text.replacen("\"Format\":2", "\"Format\":1", 1);
    assert_ne!(old, text);
    std::fs::write(server.data_dir().join(fields.file_name()), old).unwrap();
    server.wait_for_licences(1);
    let why = open_error(&server, 5);
    assert!(why.contains("earlier release") && why.contains("backup code"), "{why}");
    assert_eq!(listed(&server, 5)["Workable"], false);

    // An add-in of the first protocol (no `Protocol`, or 1) hears what to do.
    for protocol in [None, Some(1)] {
        let mut body = connect_body("672B", "PC", false);
        match protocol {
            Some(n) => body["Protocol"] = json!(n),
            None => drop(body.as_object_mut().unwrap().remove("Protocol")),
        }
        let (status, answer) = server.request("POST", "/licence/connect", Some(&body.to_string()), None);
        assert_eq!((status, answer["Code"].as_u64()), (409, Some(3)), "{answer}");
        assert!(answer["Message"].as_str().unwrap().contains("earlier release"), "{answer}");
        assert!(answer["Message"].as_str().unwrap().contains("upgrade the add-in"), "{answer}");
    }
}
