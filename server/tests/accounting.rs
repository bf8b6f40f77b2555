//! Seat accounting through the real server: the guide's counting rules, key kinds, leases, the
//! administrator's session ending, and 200 clients racing for the last licence.

mod common;

use common::*;
use licence_protocol::key::KeyKind;
use licence_protocol::series::SeriesKeys;
use serde_json::json;
use std::time::{Duration, Instant};

fn series(id: &str) -> SeriesKeys {
    SeriesKeys::generate(id.parse().unwrap())
}

fn server_with_key(machine: &str, count: u32, extra: &str) -> (TestServer, SeriesKeys) {
    let server = TestServer::new(machine, extra).started();
    let s = series("672B");
    server.install_key(&s, &key_fields(&s, machine, 1000, KeyKind::Main, count));
    server.wait_for_licences(1);
    (server, s)
}

/// A file infobase's connection string, and a 1C server infobase's.
const FILE_BASE: &str = "File=\"/srv/1c/trade\";";
const SERVER_BASE: &str = "Srvr=\"app1\";Ref=\"trade\";";

/// Obtains a licence for session `number` of the infobase `base`.
fn obtain_in(
    server: &TestServer,
    connection: &str,
    number: u32,
    computer: &str,
    base: &str,
) -> (u16, serde_json::Value) {
    let mut body = session_body(connection, number, computer);
    body["Session"]["InfoBaseConnectionString"] = json!(base);
    server.post("/licence/obtain", &body)
}

fn used(server: &TestServer, key_no: u64) -> u64 {
    server.get(&format!("/api/licences/{key_no}")).1["LicencesUsed"].as_u64().unwrap()
}

#[test]
fn client_server_mode_takes_one_licence_per_session() {
    let (server, _) = server_with_key("acc-cs", 3, "");
    let conn = server.connect("672B", "APPSRV", true);
    for n in 1..=3 {
        let (status, grant) = server.obtain(&conn, n, "APPSRV");
        assert_eq!(status, 200, "{grant}");
        assert_eq!(grant["Reused"], false);
    }
    assert_eq!(used(&server, 1000), 3);
    let (status, refused) = server.obtain(&conn, 4, "APPSRV");
    assert_eq!(status, 403);
    assert_eq!(refused["Code"], 2);
    assert_eq!(refused["Error"], "NoFreeLicence");
    assert!(refused["Message"].as_str().unwrap().contains("672B"), "{refused}");
    let log = server.log();
    assert!(
        log.contains("refused a licence to session 4 of APPSRV"),
        "denials are logged for the administrator: {log}"
    );
}

#[test]
fn file_mode_shares_one_licence_per_computer_and_terminal_client() {
    let (server, _) = server_with_key("acc-file", 2, "");
    // Two 1C processes on PC1 (two connections), three sessions: one licence.
    let c1 = server.connect("672B", "PC1", false);
    let c2 = server.connect("672B", "pc1", false);
    for (conn, n) in [(&c1, 1), (&c1, 2), (&c2, 3)] {
        let (status, g) = obtain_in(&server, conn, n, "PC1", FILE_BASE);
        assert_eq!(status, 200, "{g}");
    }
    assert_eq!(used(&server, 1000), 1);
    assert_eq!(server.get("/api/sessions").1["Sessions"].as_array().unwrap().len(), 3);
    // A second computer takes the second licence; a third finds none.
    let c3 = server.connect("672B", "PC2", false);
    assert_eq!(obtain_in(&server, &c3, 1, "PC2", FILE_BASE).0, 200);
    assert_eq!(used(&server, 1000), 2);
    let c4 = server.connect("672B", "PC3", false);
    assert_eq!(obtain_in(&server, &c4, 1, "PC3", FILE_BASE).0, 403);

    // Terminal mode: sessions on one terminal server, one licence per terminal client.
    let (server, _) = server_with_key("acc-term", 2, "");
    let ts = server.connect("672B", "TERMSRV", false);
    let terminal = |n: u32, client: &str| {
        let mut body = session_body(&ts, n, "TERMSRV");
        body["Session"]["InfoBaseConnectionString"] = json!(FILE_BASE);
        body["Session"]["TerminalClient"] = json!(client);
        server.post("/licence/obtain", &body)
    };
    assert_eq!(terminal(1, "LAPTOP-A").0, 200);
    assert_eq!(terminal(2, "LAPTOP-A").0, 200);
    assert_eq!(terminal(3, "LAPTOP-B").0, 200);
    assert_eq!(used(&server, 1000), 2);
    assert_eq!(terminal(4, "LAPTOP-C").0, 403);
}

/// Issue 13: the mode came from `IsServer`, so ten client-server sessions saying `IsServer=false`
/// shared one licence.
#[test]
fn issue13_client_server_sessions_claiming_is_server_false_take_a_licence_each() {
    let (server, _) = server_with_key("acc-cs-claim", 2, "");
    let conn = server.connect("672B", "APPSRV", false);
    let answers: Vec<u16> = (1..=10).map(|n| obtain_in(&server, &conn, n, "APPSRV", SERVER_BASE).0).collect();
    assert_eq!(answers.iter().filter(|s| **s == 200).count(), 2, "{answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == 403).count(), 8, "{answers:?}");
    assert_eq!(used(&server, 1000), 2);
    let log = server.log();
    assert_eq!(log.matches("says IsServer=false").count(), 1, "the disagreement is logged once: {log}");
    // A file infobase's sessions whose process says IsServer=true share their computer's licence.
    let (server, _) = server_with_key("acc-file-claim", 2, "");
    let conn = server.connect("672B", "PC1", true);
    for n in 1..=5 {
        assert_eq!(obtain_in(&server, &conn, n, "PC1", FILE_BASE).0, 200);
    }
    assert_eq!(used(&server, 1000), 1);
}

/// Issue 13: Unicode upper-casing made `STRASSE` and `straße`, `FILE` and `ﬁle`, one computer each.
#[test]
fn issue13_distinct_computer_names_are_distinct_computers() {
    let (server, _) = server_with_key("acc-names", 4, "");
    for (n, name) in ["STRASSE", "straße", "FILE", "ﬁle"].into_iter().enumerate() {
        let conn = server.connect("672B", name, false);
        let (status, grant) = obtain_in(&server, &conn, n as u32 + 1, name, FILE_BASE);
        assert_eq!(status, 200, "{name}: {grant}");
    }
    assert_eq!(used(&server, 1000), 4, "four computers, four licences");
    // Case alone does not make another computer.
    let conn = server.connect("672B", "strasse", false);
    assert_eq!(obtain_in(&server, &conn, 9, "strasse", FILE_BASE).0, 200);
    assert_eq!(used(&server, 1000), 4);
}

/// Issue 13: twenty computers (their own source addresses) sending one `ComputerName` in file mode
/// held a licence each while `LicencesUsed` stayed 1.
#[test]
fn issue13_one_name_from_twenty_addresses_is_twenty_computers() {
    let (server, s) = server_with_key("acc-addresses", 25, "");
    let base = server.url("");
    let from = |i: u8| std::net::IpAddr::from([127, 0, 0, 2 + i]);
    for i in 0..20 {
        let mut addin = addin::connect_from(from(i), &base, &connect_body("672B", "PC", false), &s.public_key())
            .unwrap_or_else(|e| panic!("connect from {}: {e:?}", from(i)));
        for n in [1, 2] {
            let mut body = session_body(&addin.connection_id, u32::from(i) * 10 + n, "PC");
            body["Session"]["InfoBaseConnectionString"] = json!(FILE_BASE);
            let (status, grant) = addin.call("/licence/obtain", &body);
            assert_eq!(status, 200, "{}: {grant}", from(i));
        }
    }
    assert_eq!(used(&server, 1000), 20, "one licence per address, shared by its two sessions");
    let (_, connections) = server.get("/api/connections");
    let peers: std::collections::BTreeSet<String> = connections["Connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["PeerIP"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(peers.len(), 20, "{peers:?}");
    // Within the count: with 25 licences, five more addresses get one, the sixth none.
    let outcomes: Vec<u16> = (20..26)
        .map(|i| {
            let mut addin =
                addin::connect_from(from(i), &base, &connect_body("672B", "PC", false), &s.public_key()).unwrap();
            let mut body = session_body(&addin.connection_id, 1000 + u32::from(i), "PC");
            body["Session"]["InfoBaseConnectionString"] = json!(FILE_BASE);
            addin.call("/licence/obtain", &body).0
        })
        .collect();
    assert_eq!(outcomes, [200, 200, 200, 200, 200, 403]);
    assert_eq!(used(&server, 1000), 25);
}

/// Issue 13: a NUL escaped in `ComputerName` or `UserName` was stored and shown.
#[test]
fn issue13_control_characters_in_client_fields_are_refused() {
    let (server, _) = server_with_key("acc-controls", 2, "");
    let (status, refused) = server.post("/licence/connect", &connect_body("672B", "PC\u{0}1", false));
    assert_eq!((status, refused["Code"].clone()), (400, json!(5)), "{refused}");
    assert!(refused["Message"].as_str().unwrap().contains("ComputerName"), "{refused}");
    let conn = server.connect("672B", "PC1", false);
    for (field, value) in
        [("ComputerName", "PC\u{0}1"), ("UserName", "Иван\nов"), ("InfoBaseConnectionString", "File=\"a\u{7}\"")]
    {
        let mut body = session_body(&conn, 1, "PC1");
        body["Session"][field] = json!(value);
        let (status, refused) = server.post("/licence/obtain", &body);
        assert_eq!((status, refused["Code"].clone()), (400, json!(5)), "{field}: {refused}");
        assert!(refused["Message"].as_str().unwrap().contains(field), "{refused}");
    }
    assert_eq!(server.get("/api/sessions").1["Sessions"].as_array().unwrap().len(), 0);
}

#[test]
fn a_reconnecting_session_gets_its_own_licence_back_never_a_second() {
    let (server, _) = server_with_key("acc-reconnect", 1, "");
    let first = server.connect("672B", "APPSRV", true);
    let (_, grant) = server.obtain(&first, 7, "APPSRV");
    let sid = grant["SessionID"].clone();
    // The process restarts its add-in: a new connection, the same 1C session.
    let second = server.connect("672B", "APPSRV", true);
    let (status, again) = server.obtain(&second, 7, "APPSRV");
    assert_eq!(status, 200, "the pool is full, yet the session gets its own licence: {again}");
    assert_eq!(again["SessionID"], sid);
    assert_eq!(again["Reused"], true);
    assert_eq!(used(&server, 1000), 1);
    let (_, sessions) = server.get("/api/sessions");
    assert_eq!(sessions["Sessions"].as_array().unwrap().len(), 1);
    assert_eq!(sessions["Sessions"][0]["SessionConnection"], second);
}

#[test]
fn release_check_heartbeat_and_disconnect() {
    let (server, _) = server_with_key("acc-ops", 2, "");
    let conn = server.connect("672B", "APPSRV", true);
    let (_, a) = server.obtain(&conn, 1, "APPSRV");
    let (_, b) = server.obtain(&conn, 2, "APPSRV");
    let (status, checked) = server.post("/licence/check", &json!({"ConnectionID": conn, "SessionID": a["SessionID"]}));
    assert_eq!(status, 200);
    assert_eq!(checked["Reused"], true);
    let (status, beat) = server.post(
        "/licence/heartbeat",
        &json!({"ConnectionID": conn, "Sessions": [a["SessionID"], b["SessionID"], "GONE"]}),
    );
    assert_eq!(status, 200, "{beat}");
    assert_eq!(beat["LostSessions"], json!(["GONE"]));
    let (status, released) =
        server.post("/licence/release", &json!({"ConnectionID": conn, "SessionID": a["SessionID"]}));
    assert_eq!((status, released["Released"].clone()), (200, json!(true)));
    let (_, again) = server.post("/licence/release", &json!({"ConnectionID": conn, "SessionID": a["SessionID"]}));
    assert_eq!(again["Released"], false, "releasing twice is harmless");
    let (status, lost) = server.post("/licence/check", &json!({"ConnectionID": conn, "SessionID": a["SessionID"]}));
    assert_eq!((status, lost["Code"].clone()), (404, json!(8)));
    assert_eq!(used(&server, 1000), 1);
    let (status, _) = server.post("/licence/disconnect", &json!({"ConnectionID": conn}));
    assert_eq!(status, 200);
    assert_eq!(used(&server, 1000), 0);
    assert_eq!(server.get("/api/connections").1["Connections"].as_array().unwrap().len(), 0);
}

#[test]
fn key_parameters_reach_the_addin() {
    let server = TestServer::new("acc-keyinfo", "").started();
    let s = series("672B");
    server.install_key(&s, &key_fields(&s, "acc-keyinfo", 10, KeyKind::Main, 5));
    let mut extra = key_fields(&s, "acc-keyinfo", 11, KeyKind::Additional, 3);
    extra.flags = 0b10000;
    server.install_key(&s, &extra);
    server.wait_for_licences(2);
    let conn = server.connect("672B", "PC1", false);
    let (status, info) = server.post("/licence/keyinfo", &json!({"ConnectionID": conn}));
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["KeyID"], "672B");
    assert_eq!(info["LicenceCount"], 8, "main 5 + additional 3");
    assert_eq!(info["Flags"], 0b11011);
    assert_eq!(info["Keys"].as_array().unwrap().len(), 2);
    assert_eq!(info["Keys"][0]["DaysLeft"], 364);
}

#[test]
fn key_kind_rules() {
    let server = TestServer::new("acc-kinds", "").started();
    let s = series("672B");
    // An additional key alone does not count.
    server.install_key(&s, &key_fields(&s, "acc-kinds", 21, KeyKind::Additional, 4));
    let list = server.wait_for_licences(1);
    assert_eq!(list["Licences"][0]["Enabled"], false);
    assert!(list["Licences"][0]["OpenError"].as_str().unwrap().contains("main key"), "{list}");
    let conn = server.connect("672B", "APPSRV", true);
    let (status, refused) = server.obtain(&conn, 1, "APPSRV");
    assert_eq!((status, refused["Code"].clone()), (404, json!(6)), "{refused}");

    // With a main key both count: 2 + 4.
    server.install_key(&s, &key_fields(&s, "acc-kinds", 20, KeyKind::Main, 2));
    server.wait_for_licences(2);
    // The add-in connects again when a grant names a key its connect did not prove (one installed since).
    let conn = server.connect("672B", "APPSRV", true);
    for n in 1..=6 {
        let (status, g) = server.obtain(&conn, n, "APPSRV");
        assert_eq!(status, 200, "session {n}: {g}");
    }
    assert_eq!(server.obtain(&conn, 7, "APPSRV").0, 403);

    // A demo key beside them is disabled and adds nothing.
    server.install_key(&s, &key_fields(&s, "acc-kinds", 22, KeyKind::Demo, 50));
    let list = server.wait_for_licences(3);
    let demo = list["Licences"].as_array().unwrap().iter().find(|k| k["KeyNo"] == 22).unwrap().clone();
    assert_eq!(demo["Enabled"], false);
    assert!(demo["OpenError"].as_str().unwrap().contains("demo"), "{demo}");
    assert_eq!(server.obtain(&conn, 8, "APPSRV").0, 403);

    // A demo key of another series works alone; other series never mix.
    let other = series("1A2B");
    server.install_key(&other, &key_fields(&other, "acc-kinds", 30, KeyKind::Demo, 1));
    server.wait_for_licences(4);
    let c2 = server.connect("1A2B", "APPSRV", true);
    assert_eq!(server.obtain(&c2, 1, "APPSRV").0, 200);
    assert_eq!(server.obtain(&c2, 2, "APPSRV").0, 403);
}

#[test]
fn expired_and_future_keys_do_not_count() {
    let server = TestServer::new("acc-expiry", "").started();
    let s = series("672B");
    let mut old = key_fields(&s, "acc-expiry", 40, KeyKind::Main, 5);
    old.start_date = days_ago(100);
    old.period = 30;
    server.install_key(&s, &old);
    let list = server.wait_for_licences(1);
    let key = &list["Licences"][0];
    assert_eq!(key["Expired"], true);
    assert_eq!(key["DaysLeft"], 0);
    assert_eq!(key["Enabled"], false);
    let conn = server.connect("672B", "PC", false);
    let (status, refused) = server.obtain(&conn, 1, "PC");
    assert_eq!((status, refused["Code"].clone()), (403, json!(4)), "{refused}");

    let t = TestServer::new("acc-future", "").started();
    let mut future = key_fields(&s, "acc-future", 41, KeyKind::Main, 5);
    future.start_date = licence_protocol::time::UtcTime::now().plus_days(3);
    t.install_key(&s, &future);
    t.wait_for_licences(1);
    let conn = t.connect("672B", "PC", false);
    let (status, refused) = t.obtain(&conn, 1, "PC");
    assert_eq!((status, refused["Code"].clone()), (403, json!(11)), "{refused}");
}

#[test]
fn expired_leases_free_their_licences() {
    let (server, _) = server_with_key("acc-lease", 1, "ConnectionTimeout=2\nSessionTimeout=3\n");
    let conn = server.connect("672B", "APPSRV", true);
    let (status, grant) = server.obtain(&conn, 1, "APPSRV");
    assert_eq!(status, 200);
    let sid = grant["SessionID"].clone();
    // Heartbeats keep both alive past both lease lengths. The pause between them is the client's
    // heartbeat period (a quarter of the connection's lease), not a stand-in for an event.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let (status, beat) = server.post("/licence/heartbeat", &json!({"ConnectionID": conn, "Sessions": [sid]}));
        assert_eq!(status, 200, "{beat}");
        assert_eq!(beat["LostSessions"], json!([]));
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(used(&server, 1000), 1);
    // Silence: the connection ends after 2 s, the session after 3 s, and the licence is free.
    licence_testkit::wait_until(licence_testkit::PATIENCE, "the expired session to free its licence", || {
        used(&server, 1000) == 0
    });
    let (status, gone) = server.post("/licence/heartbeat", &json!({"ConnectionID": conn, "Sessions": [sid]}));
    assert_eq!((status, gone["Code"].clone()), (404, json!(7)));
    let other = server.connect("672B", "APPSRV", true);
    assert_eq!(server.obtain(&other, 2, "APPSRV").0, 200);
}

#[test]
fn two_hundred_clients_race_for_the_last_licence() {
    let (server, _) = server_with_key("acc-race", 10, "");
    let warm = server.connect("672B", "APPSRV", true);
    for n in 1..=9 {
        assert_eq!(server.obtain(&warm, n, "APPSRV").0, 200);
    }
    let connections: Vec<String> = (0..200).map(|i| server.connect("672B", &format!("APP{i}"), true)).collect();
    let barrier = std::sync::Barrier::new(200);
    let granted: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = connections
            .iter()
            .enumerate()
            .map(|(i, conn)| {
                let (server, barrier) = (&server, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    server.obtain(conn, 100 + i as u32, &format!("APP{i}")).0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(granted.iter().filter(|s| **s == 200).count(), 1, "exactly the one free licence is granted");
    assert_eq!(granted.iter().filter(|s| **s == 403).count(), 199);
    assert_eq!(used(&server, 1000), 10);
    assert_eq!(server.get("/api/sessions").1["Sessions"].as_array().unwrap().len(), 10);
}

#[test]
fn connection_and_session_limits_keep_a_flood_out() {
    let (server, _) = server_with_key("acc-limits", 100, "MaxConnections=3\nMaxSessions=4\n");
    let conns: Vec<String> = (0..3).map(|i| server.connect("672B", &format!("PC{i}"), false)).collect();
    let (status, busy) = server.post("/licence/connect", &connect_body("672B", "PC9", false));
    assert_eq!((status, busy["Code"].clone(), busy["Error"].clone()), (503, json!(12), json!("ServerBusy")), "{busy}");
    // File-mode sessions of one computer share one seat, so only MaxSessions bounds them.
    for n in 1..=4 {
        assert_eq!(obtain_in(&server, &conns[0], n, "PC0", FILE_BASE).0, 200);
    }
    let (status, busy) = obtain_in(&server, &conns[0], 5, "PC0", FILE_BASE);
    assert_eq!((status, busy["Code"].clone()), (503, json!(12)), "{busy}");
    assert_eq!(used(&server, 1000), 1);
    // Capacity comes back as soon as connections leave.
    assert_eq!(server.post("/licence/disconnect", &json!({"ConnectionID": conns[0]})).0, 200);
    assert_eq!(server.post("/licence/connect", &connect_body("672B", "PC9", false)).0, 200);
}

/// Issue 12: `MaxConnections` was checked under another lock than the one the connection is recorded
/// under, so connects racing past the check could all be admitted.
#[test]
fn max_connections_holds_under_200_concurrent_connects() {
    let (server, _) = server_with_key("acc-connect-race", 100, "MaxConnections=20\n");
    let answers: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let server = &server;
                scope.spawn(move || server.post("/licence/connect", &connect_body("672B", &format!("PC{i}"), false)).0)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers.iter().filter(|s| **s == 200).count(), 20, "{answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == 503).count(), 180, "{answers:?}");
    assert_eq!(server.get("/api/connections").1["Connections"].as_array().unwrap().len(), 20);
}
