//! Restarts: after a clean stop and after `kill -9`, every live session continues with its own
//! licence, none is lost, and none is handed out twice.

mod common;

use common::*;
use licence_protocol::key::KeyKind;
use licence_protocol::series::SeriesKeys;
use serde_json::json;

fn run_restart(machine: &str, crash: bool) {
    let mut server = TestServer::new(machine, "");
    server.start();
    let s = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&s, &key_fields(&s, machine, 500, KeyKind::Main, 3));
    server.wait_for_licences(1);
    let conn = server.connect("672B", "APPSRV", true);
    let sessions: Vec<String> = (1..=3)
        .map(|n| {
            let (status, g) = server.obtain(&conn, n, "APPSRV");
            assert_eq!(status, 200, "{g}");
            g["SessionID"].as_str().unwrap().to_owned()
        })
        .collect();
    // One released just before the stop must stay released.
    let (_, r) = server.post("/licence/release", &json!({"ConnectionID": conn, "SessionID": sessions[2]}));
    assert_eq!(r["Released"], true);

    if crash {
        server.kill();
    } else {
        server.stop();
    }
    server.start();

    let (_, list) = server.get("/api/sessions");
    let ids: Vec<&str> = list["Sessions"].as_array().unwrap().iter().map(|s| s["ID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert!(ids.contains(&sessions[0].as_str()) && ids.contains(&sessions[1].as_str()));
    assert_eq!(server.get("/api/licences/500").1["LicencesUsed"], 2);

    // The live sessions continue on their old connection without noticing.
    for sid in &sessions[..2] {
        let (status, g) = server.post("/licence/check", &json!({"ConnectionID": conn, "SessionID": sid}));
        assert_eq!(status, 200, "session {sid} after restart: {g}");
        assert_eq!(g["UsedLicence"], 500);
    }
    let (status, beat) =
        server.post("/licence/heartbeat", &json!({"ConnectionID": conn, "Sessions": [sessions[0], sessions[1]]}));
    assert_eq!(status, 200);
    assert_eq!(beat["LostSessions"], json!([]));

    // Exactly one licence is free: one newcomer gets it, the next does not.
    let other = server.connect("672B", "APPSRV2", true);
    assert_eq!(server.obtain(&other, 10, "APPSRV2").0, 200);
    assert_eq!(server.obtain(&other, 11, "APPSRV2").0, 403);
    // A restored session re-obtaining gets its own licence back, not a new one.
    let (status, again) = server.obtain(&conn, 1, "APPSRV");
    assert_eq!(status, 200);
    assert_eq!(again["SessionID"], sessions[0].as_str());
    assert_eq!(again["Reused"], true);
}

#[test]
fn sessions_survive_a_clean_restart() {
    run_restart("restart-clean", false);
}

#[test]
fn sessions_survive_kill_9() {
    run_restart("restart-kill9", true);
}

#[test]
fn kill_9_in_the_middle_of_a_burst_never_hands_out_more_than_the_keys_hold() {
    let mut server = TestServer::new("restart-burst", "");
    server.start();
    let s = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&s, &key_fields(&s, "restart-burst", 501, KeyKind::Main, 20));
    server.wait_for_licences(1);
    let conn = server.connect("672B", "APPSRV", true);
    // Clients keep obtaining while the server is killed under them.
    let granted: Vec<String> = std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let mut got = Vec::new();
            for n in 1..=40u32 {
                let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(2)).build();
                let body = session_body(&conn, n, "APPSRV").to_string();
                if let Ok(r) = agent.post(&server.url("/licence/obtain")).send_string(&body) {
                    let v: serde_json::Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
                    got.push(v["SessionID"].as_str().unwrap().to_owned());
                }
            }
            got
        });
        std::thread::sleep(std::time::Duration::from_millis(30));
        worker.join().unwrap()
    });
    server.kill();
    server.start();
    let (_, list) = server.get("/api/sessions");
    let live: Vec<String> =
        list["Sessions"].as_array().unwrap().iter().map(|s| s["ID"].as_str().unwrap().to_owned()).collect();
    assert!(live.len() <= 20, "never more than the key holds");
    for sid in &granted {
        assert!(live.contains(sid), "a session that was granted before the kill was lost: {sid}");
    }
    assert_eq!(server.get("/api/licences/501").1["LicencesUsed"].as_u64().unwrap() as usize, live.len());
}
