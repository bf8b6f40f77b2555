//! A small add-in client for the integration tests: it speaks protocol 2 exactly as the add-in does —
//! `connect` with a fresh channel key and the pinned series public key, the proofs checked against
//! the pin and the exact bytes sent, every later call sealed in the channel and its answer opened
//! with the same number. Tests that attack the server use its pieces directly.

use licence_protocol::channel::{self, Channel, Handshake, Role, SealedAnswer, SealedMessage};
use licence_protocol::wire::{ConnectResponse, ErrorCode, WireError, PROTOCOL};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpSocket;

/// One connection of the test add-in.
pub struct Addin {
    pub base: String,
    pub connection_id: String,
    pub response: ConnectResponse,
    /// The `KeyNo`s whose proofs passed.
    pub proved: BTreeSet<u64>,
    pub channel: Channel,
    /// The number of the last request sent.
    pub seq: u64,
}

/// What a sealed call came back with.
#[derive(Debug)]
pub enum Reply {
    /// A sealed answer, opened: the call's answer or its refusal.
    Sealed(Result<Value, WireError>),
    /// A plain answer (only ever a failure of the envelope: 5, 7, 14).
    Plain(u16, Value),
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build()
}

/// POSTs `body` as it is; the status and the parsed answer.
pub fn post_bytes(url: &str, body: &[u8]) -> (u16, Value) {
    try_post_bytes(url, body).unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// [`post_bytes`], with a failure to reach the server as an error.
pub fn try_post_bytes(url: &str, body: &[u8]) -> Result<(u16, Value), String> {
    let response = match agent().post(url).set("Content-Type", "application/json").send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = response.status();
    let text = response.into_string().map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

/// What the test add-in says when it does not trust a server (its own code 17).
pub fn not_trusted(why: &str) -> (u16, Value) {
    let e = WireError::new(ErrorCode::ServerNotTrusted, why);
    (e.code.http_status(), json!(e))
}

/// Connects to `base` with the connect body `facts` (the fields the add-in sends about itself),
/// pinning `pin`: `Protocol`, a fresh `ClientKey` and `SeriesPublicKey` are set here. A refusal
/// comes back as its status and body; a server whose proofs do not pass as code 17.
pub fn connect(base: &str, facts: &Value, pin: &[u8; 32]) -> Result<Addin, (u16, Value)> {
    let handshake = Handshake::new();
    let mut body = facts.clone();
    body["Protocol"] = json!(PROTOCOL);
    body["ClientKey"] = json!(handshake.public_hex());
    body["SeriesPublicKey"] = json!(hex::encode(pin));
    connect_raw(base, &body, handshake, pin)
}

/// [`connect`] from the local address `from` (a loopback address such as 127.0.0.2): the server sees
/// the connection come from there. Later calls go the usual way (the server reads the source address
/// at `connect` only).
pub fn connect_from(from: IpAddr, base: &str, facts: &Value, pin: &[u8; 32]) -> Result<Addin, (u16, Value)> {
    let handshake = Handshake::new();
    let mut body = facts.clone();
    body["Protocol"] = json!(PROTOCOL);
    body["ClientKey"] = json!(handshake.public_hex());
    body["SeriesPublicKey"] = json!(hex::encode(pin));
    connect_via(base, &body, handshake, pin, |url, bytes| post_bytes_from(from, url, bytes))
}

/// POSTs `body` to `url` (`http://host:port/path`) over a socket bound to `from` before it connects:
/// a plain HTTP/1.1 request with `Connection: close`; the status and the parsed answer.
pub fn post_bytes_from(from: IpAddr, url: &str, body: &[u8]) -> (u16, Value) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let server: SocketAddr = authority.parse().expect("the server's address as ip:port");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    let stream = runtime.block_on(async {
        let socket = if from.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap_or_else(|e| panic!("bind {from}: {e}"));
        socket.connect(server).await.unwrap_or_else(|e| panic!("connect {server} from {from}: {e}"))
    });
    let mut stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8(answer).expect("a UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    (status, serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())))
}

/// [`connect`] with the body exactly as given (its `ClientKey` must be `handshake`'s).
pub fn connect_raw(base: &str, body: &Value, handshake: Handshake, pin: &[u8; 32]) -> Result<Addin, (u16, Value)> {
    connect_via(base, body, handshake, pin, post_bytes)
}

/// [`connect_raw`], the request sent by `post`.
fn connect_via(
    base: &str,
    body: &Value,
    handshake: Handshake,
    pin: &[u8; 32],
    post: impl Fn(&str, &[u8]) -> (u16, Value),
) -> Result<Addin, (u16, Value)> {
    let sent = serde_json::to_vec(body).unwrap();
    let (status, answer) = post(&format!("{base}/licence/connect"), &sent);
    if status != 200 {
        return Err((status, answer));
    }
    let response: ConnectResponse = serde_json::from_value(answer.clone()).expect("a connect answer");
    if response.protocol != PROTOCOL {
        return Err(not_trusted("the server is of an earlier release"));
    }
    let series = body["KeyID"].as_str().unwrap().parse().unwrap();
    let terms = response.terms();
    let proved: BTreeSet<u64> = response
        .proofs
        .iter()
        .filter_map(|p| channel::verify_proof(p, pin, series, &sent, &terms).ok())
        .map(|key| key.fields.key_no)
        .collect();
    if proved.is_empty() {
        return Err(not_trusted("no proof of a key signed by the pinned series key passed"));
    }
    let server_key = response.server_key.clone().expect("a server key");
    let channel = handshake.finish(Role::Client, &response.connection_id, &server_key).expect("a channel");
    Ok(Addin {
        base: base.to_owned(),
        connection_id: response.connection_id.clone(),
        response,
        proved,
        channel,
        seq: 0,
    })
}

impl Addin {
    /// Seals `inner` as the next request of `path` and opens the answer.
    pub fn call_sealed(&mut self, path: &str, inner: &Value) -> Reply {
        self.try_call_sealed(path, inner).unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// [`Addin::call_sealed`], with a failure to reach the server as an error.
    pub fn try_call_sealed(&mut self, path: &str, inner: &Value) -> Result<Reply, String> {
        self.seq += 1;
        let message = self.channel.seal(path, self.seq, inner.to_string().as_bytes());
        let (status, answer) = try_post_bytes(&format!("{}{path}", self.base), &serde_json::to_vec(&message).unwrap())?;
        Ok(self.open_reply(path, status, answer))
    }

    fn open_reply(&self, path: &str, status: u16, answer: Value) -> Reply {
        if status != 200 {
            return Reply::Plain(status, answer);
        }
        let sealed: SealedMessage = match serde_json::from_value(answer.clone()) {
            Ok(m) => m,
            Err(_) => return Reply::Plain(status, answer),
        };
        let plain = self.channel.open_answer(path, self.seq, &sealed).expect("the answer opens in the channel");
        match serde_json::from_slice::<SealedAnswer<Value>>(&plain).expect("a sealed answer") {
            SealedAnswer::Ok(v) => Reply::Sealed(Ok(v)),
            SealedAnswer::Err(e) => Reply::Sealed(Err(e)),
        }
    }

    /// [`Addin::call_sealed`] as a status and a body: a sealed refusal gets its code's HTTP status, so
    /// tests read it like the plain answers of the protocol's first release. A grant naming a key
    /// the connect did not prove fails the test.
    pub fn call(&mut self, path: &str, inner: &Value) -> (u16, Value) {
        match self.call_sealed(path, inner) {
            Reply::Sealed(Ok(v)) => {
                if let Some(used) = v.get("UsedLicence").and_then(Value::as_u64) {
                    assert!(self.proved.contains(&used), "grant of key {used}, proved were {:?}", self.proved);
                }
                (200, v)
            }
            Reply::Sealed(Err(e)) => (e.code.http_status(), json!(e)),
            Reply::Plain(status, body) => (status, body),
        }
    }
}
