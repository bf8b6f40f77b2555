//! The attackers of issue 11 on loopback, for the add-in's integration tests: a fake licence server
//! that grants everything (with no proof, with a stolen genuine key file shown as a proof, or with a key
//! of a self-made series and its own valid proof), an HTTP relay that records every exchange and may
//! swap the channel keys at `connect`, and a server that plays a recorded conversation back. Tests
//! include it beside `support` with `#[path = "support/attacker.rs"] mod attacker;`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use licence_protocol::channel::{self, Channel, Handshake, KeyProof, Role, SealedAnswer, SealedMessage};
use licence_protocol::identity::MachineIdentity;
use licence_protocol::keyfile::{self, KeySecrets};
use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{
    path, ConnectRequest, ConnectResponse, HeartbeatResponse, KeyInfoResponse, KeyParameters, LicenceGrant,
    ObjectGrant, ObjectRequest, ReleaseResponse, PROTOCOL,
};

/// How many TCP connections one of these servers accepts before it stops (bounded, as test traffic is).
const MAX_CONNECTIONS: usize = 64;

/// One HTTP exchange as it crossed a relay.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub path: String,
    pub request: String,
    pub status: u16,
    pub answer: String,
}

/// Serves HTTP/1.1 with keep-alive on a free loopback port: every `POST path` with its body goes to
/// `handle`, which answers a status and a JSON body. Returns the port.
pub fn serve(handle: impl Fn(&str, &str) -> (u16, String) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(MAX_CONNECTIONS).flatten() {
            let handle = Arc::clone(&handle);
            std::thread::spawn(move || serve_one(stream, &*handle));
        }
    });
    port
}

fn serve_one(stream: TcpStream, handle: &(dyn Fn(&str, &str) -> (u16, String) + Send + Sync)) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, answer) = handle(&path, &String::from_utf8_lossy(&body));
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        if stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(answer.as_bytes())).is_err() {
            return;
        }
    }
}

/// What a fake server shows as proof at `connect`.
pub enum Proof {
    /// Nothing.
    None,
    /// A genuine key file of the pinned series (stolen from another installation), signed with a
    /// per-key key of the attacker's own: it cannot unwrap the genuine one.
    Stolen,
    /// A key of a self-made series of the same KeyID, proved with its own per-key key: a valid proof,
    /// but not signed by the pin.
    SelfMade,
}

/// A key file of `series` for a made-up computer, and its secrets (the per-key signing key among them).
fn key_of(series: &SeriesKeys, key_no: u64) -> (String, KeySecrets) {
    let machine = MachineIdentity::from_material(b"the attacker's computer");
    let fields = licence_testkit::main_key(series, "the attacker's computer", key_no, 999);
    let file = String::from_utf8(keyfile::issue(&fields, series, &machine.binding())).unwrap();
    let secrets = keyfile::verify(file.as_bytes()).unwrap().unwrap_secrets(&machine.binding()).unwrap();
    (file, secrets)
}

/// A fake licence server of series 672B that grants everything: every connect (with `proof`), every
/// obtain and check (key 1), key information of 999 licences, and every object (a made-up key with the
/// stolen genuine key file). It seals its answers in whatever channel it agreed. Returns its port.
pub fn granting_server(genuine: &SeriesKeys, proof: Proof) -> u16 {
    let (stolen_file, _) = key_of(genuine, 1);
    let forger = SeriesKeys::generate(genuine.series);
    let (forged_file, forged_key) = key_of(&forger, 1);
    let channels: Mutex<HashMap<String, Channel>> = Mutex::default();
    serve(move |path, body| {
        let mut channels = channels.lock().unwrap();
        if path == path::CONNECT {
            let request: ConnectRequest = serde_json::from_str(body).unwrap();
            let handshake = Handshake::new();
            let id = format!("FAKE{}", channels.len());
            let mut response = connect_response(&id, &handshake);
            let terms = response.terms();
            response.proofs = match proof {
                Proof::None => Vec::new(),
                Proof::Stolen => {
                    let made_up = channel::prove(&forged_key.key, &stolen_file, body.as_bytes(), &terms);
                    vec![KeyProof { key_file: stolen_file.clone(), signature: made_up.signature }]
                }
                Proof::SelfMade => vec![channel::prove(&forged_key.key, &forged_file, body.as_bytes(), &terms)],
            };
            if let Some(client_key) = request.client_key.as_deref() {
                channels.insert(id, handshake.finish(Role::Server, &response.connection_id, client_key).unwrap());
            }
            return (200, serde_json::to_string(&response).unwrap());
        }
        let granted = granted(path, body, &stolen_file);
        match serde_json::from_str::<SealedMessage>(body)
            .ok()
            .and_then(|m| Some((channels.get_mut(&m.connection_id)?, m)))
        {
            Some((channel, message)) => {
                let plain = channel.open_request(path, &message).unwrap();
                let answer = granted_sealed(path, &plain, &stolen_file);
                (200, serde_json::to_string(&channel.seal(path, message.seq, &answer)).unwrap())
            }
            None => (200, granted),
        }
    })
}

fn connect_response(id: &str, handshake: &Handshake) -> ConnectResponse {
    ConnectResponse {
        connection_id: id.to_owned(),
        server_version: licence_protocol::VERSION.into(),
        expire_time: UtcTime::now(),
        connection_lease_seconds: 20,
        session_lease_seconds: 60,
        heartbeat_seconds: 5,
        server_key: Some(handshake.public_hex()),
        reserved_servers: Vec::new(),
        protocol: PROTOCOL,
        proofs: Vec::new(),
    }
}

/// "Granted" for every call, as plain JSON.
fn granted(path: &str, _body: &str, key_file: &str) -> String {
    let now = UtcTime::now();
    match path {
        path::OBTAIN | path::CHECK => serde_json::to_string(&LicenceGrant {
            session_id: "FAKESESSION".into(),
            key_id: "672B".parse().unwrap(),
            used_licence: 1,
            expire_time: now,
            reused: false,
        })
        .unwrap(),
        path::KEY_INFO => serde_json::to_string(&key_info()).unwrap(),
        path::HEARTBEAT => {
            serde_json::to_string(&HeartbeatResponse { expire_time: now, lost_sessions: Vec::new() }).unwrap()
        }
        path::OBJECT => {
            serde_json::to_string(&ObjectGrant { object_key: "11".repeat(32), key_file: key_file.to_owned() }).unwrap()
        }
        _ => serde_json::to_string(&ReleaseResponse { released: true }).unwrap(),
    }
}

/// "Granted" for every call, as the inner JSON of a sealed answer.
fn granted_sealed(path: &str, plain: &[u8], key_file: &str) -> Vec<u8> {
    if path == path::OBJECT {
        let _: ObjectRequest = serde_json::from_slice(plain).expect("an object request");
    }
    let value: serde_json::Value = serde_json::from_str(&granted(path, "", key_file)).unwrap();
    serde_json::to_vec(&SealedAnswer::Ok(value)).unwrap()
}

fn key_info() -> KeyInfoResponse {
    KeyInfoResponse {
        key_id: "672B".parse().unwrap(),
        licence_count: 999,
        licences_used: 0,
        flags: u64::MAX,
        keys: vec![KeyParameters {
            key_no: 1,
            key_type: licence_protocol::key::KeyKind::Main,
            licence_count: 999,
            counts: true,
            workable: true,
            start_date: UtcTime::now(),
            expire_date: None,
            days_left: None,
            expired: false,
            flags: u64::MAX,
            product_name: "Forged".into(),
            product_version: "1.0".into(),
            article: "A".into(),
            article_name: "A".into(),
            support_date: None,
        }],
    }
}

/// An HTTP relay from a port of its own to `target`, recording every exchange. With `swap_keys` it
/// replaces `ClientKey` in `connect` requests and `ServerKey` in their answers with keys of its own, as a
/// man in the middle that wants to read the channel would.
pub struct Relay {
    pub port: u16,
    log: Arc<Mutex<Vec<Exchange>>>,
}

impl Relay {
    pub fn start(target: u16, swap_keys: bool) -> Self {
        let log: Arc<Mutex<Vec<Exchange>>> = Arc::default();
        let record = Arc::clone(&log);
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
        let port = serve(move |path, body| {
            let mut request = body.to_owned();
            if swap_keys && path == path::CONNECT {
                let mut json: serde_json::Value = serde_json::from_str(body).unwrap();
                json["ClientKey"] = Handshake::new().public_hex().into();
                request = json.to_string();
            }
            let url = format!("http://127.0.0.1:{target}{path}");
            let (status, mut answer) =
                match agent.post(&url).set("Content-Type", "application/json").send_string(&request) {
                    Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
                    Err(ureq::Error::Status(status, r)) => (status, r.into_string().unwrap_or_default()),
                    Err(_) => (502, String::new()),
                };
            if swap_keys && path == path::CONNECT && status == 200 {
                let mut json: serde_json::Value = serde_json::from_str(&answer).unwrap();
                json["ServerKey"] = Handshake::new().public_hex().into();
                answer = json.to_string();
            }
            let exchange = Exchange { path: path.to_owned(), request, status, answer: answer.clone() };
            record.lock().unwrap().push(exchange);
            (status, answer)
        });
        Relay { port, log }
    }

    /// Every exchange so far, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().unwrap().clone()
    }

    /// Every byte of every body that crossed, both ways.
    pub fn bytes(&self) -> String {
        self.exchanges().iter().map(|e| format!("{}\n{}\n{}\n", e.path, e.request, e.answer)).collect()
    }
}

/// A server that answers each path with the answers recorded for it, in order (the last one again once
/// they run out): a recorded genuine conversation played back with the genuine server gone.
pub fn replaying_server(recorded: Vec<Exchange>) -> u16 {
    let queues: Mutex<HashMap<String, Vec<(u16, String)>>> = Mutex::default();
    for e in recorded {
        queues.lock().unwrap().entry(e.path).or_default().push((e.status, e.answer));
    }
    serve(move |path, _| {
        let mut queues = queues.lock().unwrap();
        match queues.get_mut(path) {
            Some(queue) if queue.len() > 1 => queue.remove(0),
            Some(queue) if !queue.is_empty() => queue[0].clone(),
            _ => (404, String::new()),
        }
    })
}
