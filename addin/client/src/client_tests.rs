//! Unit tests of the failover rules with a fake transport: scripted servers on made-up ports.

use super::*;
use crate::transport::NoAnswer;
use licence_protocol::time::UtcTime;
use serde_json::{json, Value};
use std::sync::atomic::AtomicU32;
use std::sync::Mutex;

/// A scripted licence server: answers like the real one unless told to be down, busy, or to forget
/// its connections.
#[derive(Default)]
struct Script {
    down: AtomicBool,
    busy: AtomicBool,
    mismatch: AtomicBool,
    garbage: AtomicBool,
    forget_connections: AtomicBool,
    connects: AtomicU32,
}

#[derive(Default, Clone)]
struct Fake {
    servers: Arc<Vec<(u16, Arc<Script>)>>,
    calls: Arc<Mutex<Vec<(u16, String)>>>,
}

fn answer(status: u16, body: Value) -> Result<Answer, NoAnswer> {
    Ok(Answer { status, body: body.to_string() })
}

fn error(code: ErrorCode, message: &str) -> Result<Answer, NoAnswer> {
    answer(code.http_status(), serde_json::to_value(WireError::new(code, message)).unwrap())
}

impl Transport for Fake {
    fn post(&self, endpoint: &Endpoint, path: &str, body: &str) -> Result<Answer, NoAnswer> {
        self.calls.lock().unwrap().push((endpoint.port, path.to_owned()));
        let Some((port, s)) = self.servers.iter().find(|(p, _)| *p == endpoint.port) else {
            return Err(NoAnswer("connection refused".into()));
        };
        if s.down.load(Ordering::SeqCst) {
            return Err(NoAnswer("timed out".into()));
        }
        if s.garbage.load(Ordering::SeqCst) {
            return Ok(Answer { status: 404, body: "<html>not found</html>".into() });
        }
        let req: Value = serde_json::from_str(body).unwrap();
        let expire = UtcTime::now();
        match path {
            path::CONNECT if s.busy.load(Ordering::SeqCst) => error(ErrorCode::ServerBusy, "too many connections"),
            path::CONNECT if s.mismatch.load(Ordering::SeqCst) => {
                error(ErrorCode::VersionMismatch, "server version 2.1.0.0 does not match client version 3.0.1.0")
            }
            path::CONNECT => {
                let n = s.connects.fetch_add(1, Ordering::SeqCst);
                s.forget_connections.store(false, Ordering::SeqCst);
                answer(
                    200,
                    json!({"ConnectionID": format!("{port}-C{n}"), "ServerVersion": "3.0.1.0", "ExpireTime": expire,
                        "ConnectionLeaseSeconds": 20, "SessionLeaseSeconds": 60, "HeartbeatSeconds": 5}),
                )
            }
            _ if s.forget_connections.load(Ordering::SeqCst) => {
                error(ErrorCode::UnknownConnection, "unknown connection")
            }
            path::OBTAIN => {
                let id = format!("{port}-S{}", req["Session"]["SessionNumber"].as_str().unwrap());
                answer(
                    200,
                    json!({"SessionID": id, "KeyID": "672B", "UsedLicence": 1, "ExpireTime": expire, "Reused": false}),
                )
            }
            path::CHECK => {
                let id = req["SessionID"].as_str().unwrap();
                if !id.starts_with(&port.to_string()) {
                    return error(ErrorCode::LicenceLost, "no such session");
                }
                answer(
                    200,
                    json!({"SessionID": id, "KeyID": "672B", "UsedLicence": 1, "ExpireTime": expire, "Reused": true}),
                )
            }
            path::HEARTBEAT => answer(200, json!({"ExpireTime": expire, "LostSessions": []})),
            path::RELEASE | path::DISCONNECT => answer(200, json!({"Released": true})),
            _ => error(ErrorCode::BadRequest, "no such call"),
        }
    }
}

fn hello() -> ConnectRequest {
    facts::connect_request(&Caller {
        platform_version: "8.3.25.1257".into(),
        is_server: false,
        module_name: "liblicenceaddin".into(),
        version: "3.0.1.0".into(),
        key_id: "672B".parse().unwrap(),
    })
}

fn session(number: &str) -> SessionFacts {
    SessionFacts {
        session_number: number.into(),
        info_base_connection_string: "File=\"/srv/demo\"".into(),
        app_name: "1CV8C".into(),
        computer_name: "HOST1".into(),
        user_name: None,
        session_started: UtcTime::parse("2026-11-24T09:59:58.000Z").unwrap(),
        access_code: None,
        terminal_client: None,
    }
}

/// A client of endpoints on `ports` where only `live` ports have a scripted server.
fn setup(ports: &[u16], live: &[u16]) -> (Client, Fake, Vec<Arc<Script>>) {
    let scripts: Vec<Arc<Script>> = live.iter().map(|_| Arc::new(Script::default())).collect();
    let fake =
        Fake { servers: Arc::new(live.iter().copied().zip(scripts.iter().cloned()).collect()), calls: Arc::default() };
    let endpoints = ports.iter().map(|p| Endpoint::new("127.0.0.1", *p)).collect();
    (Client::with_transport(endpoints, hello(), Box::new(fake.clone())), fake, scripts)
}

fn calls(fake: &Fake) -> Vec<(u16, String)> {
    std::mem::take(&mut *fake.calls.lock().unwrap())
}

#[test]
fn first_answering_endpoint_becomes_the_server_in_use_and_sticks() {
    let (mut client, fake, _) = setup(&[1, 2, 3], &[2, 3]);
    client.obtain(&session("1")).unwrap();
    assert_eq!(client.server_in_use(), Some(&Endpoint::new("127.0.0.1", 2)));
    client.check("2-S1").unwrap();
    let ports: Vec<u16> = calls(&fake).into_iter().map(|(p, _)| p).collect();
    assert_eq!(ports, [1, 2, 2, 2]);
}

#[test]
fn no_endpoint_answering_is_server_unreachable_naming_each() {
    let (mut client, _, _) = setup(&[1, 2], &[]);
    let e = client.connect().unwrap_err();
    assert_eq!(e.number(), 1);
    assert_eq!(
        e.to_string(),
        "no licence server answered: 127.0.0.1:1 (connection refused); 127.0.0.1:2 (connection refused)"
    );
}

#[test]
fn a_server_of_another_version_is_passed_over_and_reported_when_alone() {
    let (mut client, fake, scripts) = setup(&[1, 2], &[1, 2]);
    scripts[0].mismatch.store(true, Ordering::SeqCst);
    client.connect().unwrap();
    assert_eq!(client.server_in_use().unwrap().port, 2);
    assert_eq!(calls(&fake).len(), 2);

    let (mut client, _, scripts) = setup(&[1, 2], &[1, 2]);
    scripts[0].mismatch.store(true, Ordering::SeqCst);
    scripts[1].down.store(true, Ordering::SeqCst);
    let e = client.connect().unwrap_err();
    assert_eq!(e.number(), 3);
    assert!(e.to_string().contains("does not match client version 3.0.1.0"));
}

#[test]
fn busy_or_foreign_servers_are_skipped() {
    let (mut client, _, scripts) = setup(&[1, 2, 3], &[1, 2, 3]);
    scripts[0].busy.store(true, Ordering::SeqCst);
    scripts[1].garbage.store(true, Ordering::SeqCst);
    client.connect().unwrap();
    assert_eq!(client.server_in_use().unwrap().port, 3);

    let (mut client, _, scripts) = setup(&[1, 2], &[1, 2]);
    scripts[0].busy.store(true, Ordering::SeqCst);
    scripts[1].down.store(true, Ordering::SeqCst);
    assert_eq!(client.connect().unwrap_err().code(), ErrorCode::ServerBusy);
}

#[test]
fn foreign_answer_to_a_call_is_internal_with_the_status() {
    let (mut client, _, scripts) = setup(&[1], &[1]);
    client.connect().unwrap();
    scripts[0].garbage.store(true, Ordering::SeqCst);
    let e = client.key_info().unwrap_err();
    assert_eq!(e.code(), ErrorCode::Internal);
    assert!(e.to_string().contains("status 404"), "{e}");
}

#[test]
fn unknown_connection_reconnects_to_the_same_server_and_repeats_once() {
    let (mut client, fake, scripts) = setup(&[1, 2], &[1, 2]);
    client.obtain(&session("1")).unwrap();
    calls(&fake);
    scripts[0].forget_connections.store(true, Ordering::SeqCst);
    let grant = client.check("1-S1").unwrap();
    assert_eq!(grant.session_id, "1-S1");
    let paths: Vec<String> = calls(&fake).into_iter().map(|(p, path)| format!("{p}{path}")).collect();
    assert_eq!(paths, ["1/licence/check", "1/licence/connect", "1/licence/obtain", "1/licence/check"]);
    assert_eq!(client.connection().unwrap().connection_id, "1-C1");
}

#[test]
fn dead_server_in_use_moves_to_the_next_and_gets_the_sessions_back() {
    let (mut client, _, scripts) = setup(&[1, 2], &[1, 2]);
    client.obtain(&session("1")).unwrap();
    client.obtain(&session("2")).unwrap();
    scripts[0].down.store(true, Ordering::SeqCst);
    // The old ID still names the session; the grant carries the new server's ID.
    let grant = client.check("1-S2").unwrap();
    assert_eq!(grant.session_id, "2-S2");
    assert_eq!(client.server_in_use().unwrap().port, 2);
    let ids: Vec<&str> = client.held().iter().map(|h| h.grant.session_id.as_str()).collect();
    assert_eq!(ids, ["2-S1", "2-S2"]);
    assert_eq!(client.held()[0].aliases, ["1-S1"]);
    assert!(client.release("1-S1").unwrap());
    assert_eq!(client.held().len(), 1);
}

#[test]
fn reconnect_wraps_round_to_the_main_server() {
    let (mut client, _, scripts) = setup(&[1, 2], &[1, 2]);
    scripts[0].busy.store(true, Ordering::SeqCst);
    client.connect().unwrap();
    assert_eq!(client.server_in_use().unwrap().port, 2);
    scripts[0].busy.store(false, Ordering::SeqCst);
    scripts[1].down.store(true, Ordering::SeqCst);
    client.heartbeat().unwrap();
    assert_eq!(client.server_in_use().unwrap().port, 1);
}

#[test]
fn cancelled_client_tries_no_endpoint() {
    let (mut client, fake, _) = setup(&[1, 2], &[1, 2]);
    client.cancel_flag().store(true, Ordering::SeqCst);
    assert_eq!(client.connect().unwrap_err().number(), 1);
    assert!(calls(&fake).is_empty());
}

#[test]
fn disconnect_forgets_the_connection_and_sessions() {
    let (mut client, _, _) = setup(&[1], &[1]);
    client.obtain(&session("1")).unwrap();
    client.disconnect().unwrap();
    assert!(client.connection().is_none());
    assert!(client.held().is_empty());
    client.disconnect().unwrap();
}

#[test]
fn an_empty_server_list_says_so() {
    let (mut client, _, _) = setup(&[], &[]);
    let e = client.connect().unwrap_err();
    assert_eq!(e.to_string(), "no licence server answered: no licence server is configured");
}
