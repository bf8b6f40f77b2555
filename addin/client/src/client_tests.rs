//! Unit tests of the failover and trust rules with a fake transport: scripted protocol 2 servers on
//! made-up ports, which prove a genuine key and seal their answers unless told to misbehave.

use super::*;
use crate::transport::NoAnswer;
use licence_protocol::channel::KeyProof;
use licence_protocol::identity::MachineIdentity;
use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::AtomicU32;
use std::sync::{Mutex, OnceLock};

/// The genuine series, its key 1 issued for the fake servers' machine, and that machine.
struct Genuine {
    series: SeriesKeys,
    key_file: String,
    machine: MachineIdentity,
}

fn genuine() -> &'static Genuine {
    static GENUINE: OnceLock<Genuine> = OnceLock::new();
    GENUINE.get_or_init(|| {
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let machine = MachineIdentity::from_material(b"fake servers");
        let fields = licence_testkit::main_key(&series, "fake servers", 1, 10);
        let key_file = String::from_utf8(keyfile::issue(&fields, &series, &machine.binding())).unwrap();
        Genuine { series, key_file, machine }
    })
}

/// A scripted licence server: answers like the real one unless told to be down, busy, of another
/// version, to forget its connections, or to misbehave as an attacker would.
#[derive(Default)]
struct Script {
    down: AtomicBool,
    busy: AtomicBool,
    mismatch: AtomicBool,
    garbage: AtomicBool,
    forget_connections: AtomicBool,
    /// Shows no proof at all (a fake server).
    no_proof: AtomicBool,
    /// Shows the genuine key file with a signature it made up (a fake server with a stolen file).
    stolen_file: AtomicBool,
    /// Answers `protocol` 0 (a server of an earlier release).
    old_protocol: AtomicBool,
    /// Answers sealed calls with plain JSON.
    plain_answers: AtomicBool,
    /// Grants licences of key 2, which it never proved.
    grants_unproved: AtomicBool,
    /// Refuses the next sealed call in plain with code 5, as the real server answers a request number it
    /// has seen already (a request the transport sent again after the first answer was lost).
    refuse_next_sealed: AtomicBool,
    connects: AtomicU32,
    channels: Mutex<HashMap<String, Channel>>,
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

impl Fake {
    fn connect(port: u16, s: &Script, body: &str) -> Result<Answer, NoAnswer> {
        let request: ConnectRequest = serde_json::from_str(body).unwrap();
        assert_eq!(request.protocol, 2);
        assert_eq!(request.series_public_key, Some(hex::encode(genuine().series.public_key())));
        let n = s.connects.fetch_add(1, Ordering::SeqCst);
        s.forget_connections.store(false, Ordering::SeqCst);
        let handshake = Handshake::new();
        let mut response = ConnectResponse {
            connection_id: format!("{port}-C{n}"),
            server_version: "3.0.1.0".into(),
            expire_time: UtcTime::now(),
            connection_lease_seconds: 20,
            session_lease_seconds: 60,
            heartbeat_seconds: 5,
            server_key: Some(handshake.public_hex()),
            reserved_servers: Vec::new(),
            protocol: if s.old_protocol.load(Ordering::SeqCst) { 0 } else { 2 },
            proofs: Vec::new(),
        };
        let secrets = keyfile::verify(genuine().key_file.as_bytes())
            .unwrap()
            .unwrap_secrets(&genuine().machine.binding())
            .unwrap();
        let proof = channel::prove(&secrets.key, &genuine().key_file, body.as_bytes(), &response.terms());
        if s.stolen_file.load(Ordering::SeqCst) {
            let other = channel::prove(&secrets.key, &genuine().key_file, b"another request", &response.terms());
            response.proofs.push(KeyProof { key_file: genuine().key_file.clone(), signature: other.signature });
        } else if !s.no_proof.load(Ordering::SeqCst) {
            response.proofs.push(proof);
        }
        let channel = handshake.finish(Role::Server, &response.connection_id, request.client_key.as_deref().unwrap());
        s.channels.lock().unwrap().insert(response.connection_id.clone(), channel.unwrap());
        answer(200, serde_json::to_value(&response).unwrap())
    }

    /// The answer of a sealed call: `Ok` JSON or a protocol error, sealed unless told otherwise.
    fn sealed(port: u16, s: &Script, path: &str, body: &str) -> Result<Answer, NoAnswer> {
        let message: SealedMessage = serde_json::from_str(body).expect("every call after connect is sealed");
        let mut channels = s.channels.lock().unwrap();
        let Some(channel) = channels.get_mut(&message.connection_id) else {
            return error(ErrorCode::UnknownConnection, "unknown connection");
        };
        if s.refuse_next_sealed.swap(false, Ordering::SeqCst) {
            return error(ErrorCode::BadRequest, "the sealed request was refused: message number 1 was already used");
        }
        let req: Value = serde_json::from_slice(&channel.open_request(path, &message).unwrap()).unwrap();
        let expire = UtcTime::now();
        let key = if s.grants_unproved.load(Ordering::SeqCst) { 2 } else { 1 };
        let result: Result<Value, WireError> = match path {
            path::OBTAIN => {
                let id = format!("{port}-S{}", req["Session"]["SessionNumber"].as_str().unwrap());
                Ok(json!({"SessionID": id, "KeyID": "672B", "UsedLicence": key, "ExpireTime": expire, "Reused": false}))
            }
            path::CHECK => {
                let id = req["SessionID"].as_str().unwrap();
                if id.starts_with(&port.to_string()) {
                    Ok(
                        json!({"SessionID": id, "KeyID": "672B", "UsedLicence": key, "ExpireTime": expire, "Reused": true}),
                    )
                } else {
                    Err(WireError::new(ErrorCode::LicenceLost, "no such session"))
                }
            }
            path::HEARTBEAT => Ok(json!({"ExpireTime": expire, "LostSessions": []})),
            path::RELEASE | path::DISCONNECT => Ok(json!({"Released": true})),
            path::KEY_INFO => {
                Ok(json!({"KeyID": "672B", "LicenceCount": 10, "LicencesUsed": 1, "Flags": 11, "Keys": []}))
            }
            _ => Err(WireError::new(ErrorCode::BadRequest, "no such call")),
        };
        if s.plain_answers.load(Ordering::SeqCst) {
            return match result {
                Ok(value) => answer(200, value),
                Err(wire) => answer(wire.code.http_status(), serde_json::to_value(wire).unwrap()),
            };
        }
        let inner = match result {
            Ok(value) => SealedAnswer::Ok(value),
            Err(wire) => SealedAnswer::Err(wire),
        };
        let sealed = channel.seal(path, message.seq, &serde_json::to_vec(&inner).unwrap());
        answer(200, serde_json::to_value(sealed).unwrap())
    }
}

impl Transport for Fake {
    fn post(&self, endpoint: &Endpoint, path: &str, body: &str) -> Result<Answer, NoAnswer> {
        self.calls.lock().unwrap().push((endpoint.port, path.to_owned()));
        let Some((port, s)) = self.servers.iter().find(|(p, _)| *p == endpoint.port) else {
            return Err(NoAnswer::Io(std::io::ErrorKind::ConnectionRefused.into()));
        };
        if s.down.load(Ordering::SeqCst) {
            return Err(NoAnswer::TimedOut);
        }
        if s.garbage.load(Ordering::SeqCst) {
            return Ok(Answer { status: 404, body: "<html>not found</html>".into() });
        }
        match path {
            path::CONNECT if s.busy.load(Ordering::SeqCst) => error(ErrorCode::ServerBusy, "too many connections"),
            path::CONNECT if s.mismatch.load(Ordering::SeqCst) => {
                error(ErrorCode::VersionMismatch, "server version 2.1.0.0 does not match client version 3.0.1.0")
            }
            path::CONNECT => Self::connect(*port, s, body),
            _ if s.forget_connections.load(Ordering::SeqCst) => {
                s.channels.lock().unwrap().clear();
                error(ErrorCode::UnknownConnection, "unknown connection")
            }
            _ => Self::sealed(*port, s, path, body),
        }
    }
}

fn caller(pin: Option<[u8; 32]>) -> Caller {
    Caller {
        platform_version: "8.3.25.1257".into(),
        is_server: false,
        module_name: "liblicenceaddin".into(),
        version: "3.0.1.0".into(),
        key_id: "672B".parse().unwrap(),
        series_public_key: pin,
    }
}

fn hello() -> ConnectRequest {
    facts::connect_request(&caller(Some(genuine().series.public_key())))
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

#[test]
fn without_a_pin_nothing_is_sent() {
    let (_, fake, _) = setup(&[1], &[1]);
    let endpoints = vec![Endpoint::new("127.0.0.1", 1)];
    let mut client = Client::with_transport(endpoints, facts::connect_request(&caller(None)), Box::new(fake.clone()));
    let e = client.obtain(&session("1")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::SeriesKeyNotPinned);
    assert!(e.to_string().contains("SeriesPublicKey is not set"), "{e}");
    assert!(calls(&fake).is_empty());
}

#[test]
fn a_server_that_proves_no_genuine_key_is_passed_over_and_refused_when_alone() {
    for misbehave in [
        |s: &Script| s.no_proof.store(true, Ordering::SeqCst),
        |s: &Script| s.stolen_file.store(true, Ordering::SeqCst),
    ] {
        let (mut client, _, scripts) = setup(&[1, 2], &[1, 2]);
        misbehave(&scripts[0]);
        client.obtain(&session("1")).unwrap();
        assert_eq!(client.server_in_use().unwrap().port, 2, "the genuine reserved server is used");
        assert_eq!(client.proved_keys(), [1]);

        let (mut client, _, scripts) = setup(&[1], &[1]);
        misbehave(&scripts[0]);
        let e = client.obtain(&session("1")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ServerNotTrusted, "{e}");
        assert!(client.held().is_empty());
        assert!(client.connection().is_none());
    }
}

#[test]
fn failures_keep_the_check_or_the_socket_error_that_caused_them() {
    let (mut client, _, scripts) = setup(&[1], &[1]);
    scripts[0].stolen_file.store(true, Ordering::SeqCst);
    let e = client.connect().unwrap_err();
    let Error::Untrusted { reason: Distrust::ProofsRefused { refused, .. }, .. } = &e else { panic!("{e:?}") };
    assert!(matches!(refused.0[..], [licence_protocol::channel::ProofError::BadSignature(1)]), "{refused:?}");
    assert!(e.to_string().ends_with(&refused.0[0].to_string()), "{e}");

    let (mut client, _, _) = setup(&[1, 2], &[]);
    let e = client.connect().unwrap_err();
    let Error::Unreachable { tried } = &e else { panic!("{e:?}") };
    let ports: Vec<u16> = tried.0.iter().map(|a| a.endpoint.port).collect();
    assert_eq!(ports, [1, 2]);
    assert!(tried
        .0
        .iter()
        .all(|a| matches!(&a.why, NoAnswer::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)));
}

#[test]
fn a_server_of_an_earlier_protocol_is_a_version_mismatch_saying_to_upgrade_it() {
    let (mut client, _, scripts) = setup(&[1], &[1]);
    scripts[0].old_protocol.store(true, Ordering::SeqCst);
    let e = client.connect().unwrap_err();
    assert_eq!(e.code(), ErrorCode::VersionMismatch);
    assert!(e.to_string().contains("earlier release") && e.to_string().contains("upgrade it"), "{e}");
}

#[test]
fn a_plain_answer_to_a_sealed_call_is_not_trusted() {
    let (mut client, _, scripts) = setup(&[1], &[1]);
    client.connect().unwrap();
    scripts[0].plain_answers.store(true, Ordering::SeqCst);
    let e = client.obtain(&session("1")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServerNotTrusted, "{e}");
    assert!(client.held().is_empty());
    // A plain refusal is still only a refusal.
    let e = client.check("9-S9").unwrap_err();
    assert_eq!(e.code(), ErrorCode::LicenceLost);
}

#[test]
fn a_grant_of_an_unproved_key_reconnects_once_then_is_not_trusted() {
    let (mut client, fake, scripts) = setup(&[1, 2], &[1, 2]);
    client.connect().unwrap();
    calls(&fake);
    scripts[0].grants_unproved.store(true, Ordering::SeqCst);
    let e = client.obtain(&session("1")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServerNotTrusted, "{e}");
    assert!(e.to_string().contains("key 2"), "{e}");
    let paths: Vec<String> = calls(&fake).into_iter().map(|(p, path)| format!("{p}{path}")).collect();
    assert_eq!(paths, ["1/licence/obtain", "1/licence/connect", "1/licence/obtain"]);
    assert!(client.held().is_empty());
}

#[test]
fn the_add_ins_own_codes_from_a_server_are_not_believed() {
    let (mut client, _, scripts) = setup(&[1], &[1]);
    client.connect().unwrap();
    scripts[0].plain_answers.store(true, Ordering::SeqCst);
    // A server may not claim "unreachable" to push the add-in onto its local fallback.
    let wire = WireError::new(ErrorCode::ServerUnreachable, "nobody here");
    let e = plain_failure(
        &Endpoint::new("127.0.0.1", 1),
        &Answer { status: 502, body: serde_json::to_string(&wire).unwrap() },
    );
    assert_eq!(e.code(), ErrorCode::Internal);
}

#[test]
fn a_sealed_call_refused_in_plain_connects_again_and_is_repeated_once() {
    let (mut client, _, scripts) = setup(&[1], &[1]);
    client.obtain(&session("1")).unwrap();
    scripts[0].refuse_next_sealed.store(true, Ordering::SeqCst);
    let grant = client.check("1-S1").unwrap();
    assert_eq!(grant.used_licence, 1);
    assert_eq!(scripts[0].connects.load(Ordering::SeqCst), 2, "a new connection and channel");
}
