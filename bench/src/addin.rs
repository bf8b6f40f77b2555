//! An add-in instance as the licence server sees it, reduced to what load needs: it connects as a 1C
//! server process (`IsServer: true`, so every session takes its own licence), obtains, heartbeats,
//! releases and disconnects. Requests are built from the protocol crate's own message types, so the
//! benchmark sends exactly what the real add-in sends; answers are read only as far as the loop needs.
//!
//! It speaks protocol 2 as the add-in does, so the figures are those of the authenticated hot path:
//! `connect` sends the pinned series public key and a fresh channel key, and the connection is taken
//! only when at least one of the server's proofs verifies against the pin, the exact request bytes
//! and the answer's terms (once per connection, as the add-in does); every later call is sealed in
//! the connection's channel (`channel::Channel`), numbered 1, 2, 3…, and its answer is opened and
//! checked. A grant must name a proved key. An answer that does not open, or an unsealed success, is
//! an error of the run: a benchmark of a server that does not prove itself measures nothing.

use crate::http::{self, Conn};
use licence_protocol::channel::{self, Channel, Handshake, Role, SealedAnswer, SealedMessage};
use licence_protocol::key::SeriesId;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{
    path, ConnectRequest, ConnectResponse, ConnectionRequest, HeartbeatRequest, ObtainRequest, SessionFacts,
    SessionRequest, PROTOCOL,
};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The part of a `LicenceGrant` the loop needs.
#[derive(Deserialize)]
struct GrantedSession<'a> {
    #[serde(rename = "SessionID", borrow)]
    session_id: &'a str,
    #[serde(rename = "UsedLicence")]
    used_licence: u64,
}

/// The part of a `HeartbeatResponse` the loop needs.
#[derive(Deserialize)]
struct Lost<'a> {
    #[serde(rename = "LostSessions", borrow)]
    lost_sessions: Vec<&'a str>,
}

/// One call's latency, the size of its answer's body and what it gave; `value` is `None` when the
/// server refused the call.
pub struct Timed<T> {
    pub latency: Duration,
    pub bytes: usize,
    pub value: Option<T>,
}

/// A heartbeat's inner message, serialized once; each send seals it under its own number.
pub struct Heartbeat(Vec<u8>);

pub struct AddinClient {
    conn: Conn,
    server: SocketAddr,
    connection_id: String,
    heartbeat_seconds: u32,
    computer: String,
    started: UtcTime,
    channel: Channel,
    /// The number of the last sealed call sent.
    seq: u64,
    /// KeyNos whose proofs verified at `connect`: the only keys a grant may name.
    proved: Vec<u64>,
}

impl AddinClient {
    /// Opens a TCP connection and an add-in connection for `computer`'s 1C server process, pinning
    /// `pin` (the series public key) and checking the server's proofs against it.
    pub async fn connect(server: SocketAddr, computer: String, series: SeriesId, pin: [u8; 32]) -> io::Result<Self> {
        let mut conn = Conn::open(server).await?;
        let handshake = Handshake::new();
        let request = ConnectRequest {
            os_version: "Linux (licencebench)".into(),
            computer_name: computer.clone(),
            local_ip: "127.0.0.1".into(),
            process: "/opt/1cv8/x86_64/8.3.25.1257/rphost".into(),
            cpu: std::env::consts::ARCH.into(),
            pid: std::process::id(),
            is_server: true,
            platform_version: "8.3.25.1257".into(),
            module_name: "licencebench".into(),
            version: licence_protocol::VERSION.into(),
            key_id: series,
            client_key: Some(handshake.public_hex()),
            protocol: PROTOCOL,
            series_public_key: Some(hex::encode(pin)),
        };
        let body = to_json(&request);
        let answer = conn.call(&http::post_json(server, path::CONNECT, &body)).await?;
        if !answer.is_success() {
            return Err(refused("connect", answer.status, answer.body));
        }
        let connected: ConnectResponse = serde_json::from_slice(answer.body).map_err(io::Error::other)?;
        let proved = check_connect(&connected, &pin, series, &body)?;
        let server_key = connected.server_key.as_deref().unwrap_or_default();
        let channel = handshake
            .finish(Role::Client, &connected.connection_id, server_key)
            .map_err(|e| untrusted(format!("the server's channel key: {e}")))?;
        Ok(Self {
            conn,
            server,
            connection_id: connected.connection_id,
            heartbeat_seconds: connected.heartbeat_seconds,
            computer,
            started: UtcTime::now(),
            channel,
            seq: 0,
            proved,
        })
    }

    /// How often the server wants heartbeats.
    pub fn heartbeat_seconds(&self) -> u32 {
        self.heartbeat_seconds
    }

    /// Obtains a licence for the 1C session numbered `number`; answers its `SessionID`. A grant of a
    /// key the server did not prove is a refusal.
    pub async fn obtain(&mut self, number: &str) -> io::Result<Timed<String>> {
        let request = ObtainRequest {
            connection_id: self.connection_id.clone(),
            session: SessionFacts {
                session_number: number.to_owned(),
                info_base_connection_string: "Srvr=\"bench\";Ref=\"load\";".into(),
                app_name: "1CV8C".into(),
                computer_name: self.computer.clone(),
                user_name: Some("bench".into()),
                session_started: self.started,
                access_code: None,
                terminal_client: None,
            },
        };
        let proved = self.proved.clone();
        self.sealed_call(path::OBTAIN, &to_json(&request), move |inner| {
            match serde_json::from_slice::<SealedAnswer<GrantedSession>>(inner).ok()? {
                SealedAnswer::Ok(grant) if proved.contains(&grant.used_licence) => Some(grant.session_id.to_owned()),
                _ => None,
            }
        })
        .await
    }

    /// Releases a session; `value` says whether the server confirmed it.
    pub async fn release(&mut self, session_id: &str) -> io::Result<Timed<()>> {
        let request = SessionRequest { connection_id: self.connection_id.clone(), session_id: session_id.to_owned() };
        self.sealed_call(path::RELEASE, &to_json(&request), accepted).await
    }

    /// The heartbeat for these sessions; a loop sends it again and again, each time sealed anew.
    pub fn heartbeat_request(&self, sessions: &[String]) -> Heartbeat {
        Heartbeat(to_json(&HeartbeatRequest { connection_id: self.connection_id.clone(), sessions: sessions.to_vec() }))
    }

    /// Sends a heartbeat built by [`Self::heartbeat_request`]; answers how many sessions were lost.
    pub async fn heartbeat(&mut self, request: &Heartbeat) -> io::Result<Timed<usize>> {
        self.sealed_call(path::HEARTBEAT, &request.0, |inner| {
            match serde_json::from_slice::<SealedAnswer<Lost>>(inner).ok()? {
                SealedAnswer::Ok(lost) => Some(lost.lost_sessions.len()),
                SealedAnswer::Err(_) => None,
            }
        })
        .await
    }

    /// Ends the add-in connection, releasing whatever it still holds.
    pub async fn disconnect(mut self) -> io::Result<()> {
        let request = to_json(&ConnectionRequest { connection_id: self.connection_id.clone() });
        let answer = self.sealed_call(path::DISCONNECT, &request, accepted).await?;
        match answer.value {
            Some(()) => Ok(()),
            None => Err(io::Error::other(format!("disconnect of {} was refused", self.connection_id))),
        }
    }

    /// Seals `inner` as the next call on `path`, sends it and opens the answer; `read` gets the opened
    /// answer (`{"Ok": …}` or `{"Err": …}`). Only the HTTP exchange is timed, as before the channel:
    /// the latency is the server's, the client's sealing is its own CPU.
    async fn sealed_call<T>(
        &mut self,
        path: &str,
        inner: &[u8],
        read: impl FnOnce(&[u8]) -> Option<T>,
    ) -> io::Result<Timed<T>> {
        self.seq += 1;
        let seq = self.seq;
        let request = http::post_json(self.server, path, &to_json(&self.channel.seal(path, seq, inner)));
        let started = Instant::now();
        let answer = self.conn.call(&request).await?;
        let latency = started.elapsed();
        let bytes = answer.body.len();
        if !answer.is_success() {
            // A plain error answer: a refusal, never a success.
            return Ok(Timed { latency, bytes, value: None });
        }
        let sealed: SealedMessage = serde_json::from_slice(answer.body)
            .map_err(|_| untrusted(format!("{path} answered {} unsealed", answer.status)))?;
        let opened = self
            .channel
            .open_answer(path, seq, &sealed)
            .map_err(|e| untrusted(format!("the answer to {path} does not open: {e}")))?;
        Ok(Timed { latency, bytes, value: read(&opened) })
    }
}

/// The KeyNos the server proved at `connect`, or why the connection cannot be trusted.
fn check_connect(connected: &ConnectResponse, pin: &[u8; 32], series: SeriesId, body: &[u8]) -> io::Result<Vec<u64>> {
    if connected.protocol != PROTOCOL {
        return Err(untrusted(format!(
            "the server speaks protocol {}, not {PROTOCOL}: it is of another release",
            connected.protocol
        )));
    }
    let terms = connected.terms();
    let mut why = Vec::new();
    let mut proved = Vec::new();
    for proof in &connected.proofs {
        match channel::verify_proof(proof, pin, series, body, &terms) {
            Ok(key) => proved.push(key.fields.key_no),
            Err(e) => why.push(e.to_string()),
        }
    }
    if proved.is_empty() {
        let why = if why.is_empty() { "it sent no proof".to_owned() } else { why.join("; ") };
        return Err(untrusted(format!("no key of series {series} signed by the pinned series key: {why}")));
    }
    Ok(proved)
}

/// A sealed `{"Ok": …}` of a call whose answer the loop does not read.
fn accepted(inner: &[u8]) -> Option<()> {
    match serde_json::from_slice::<SealedAnswer<IgnoredAny>>(inner).ok()? {
        SealedAnswer::Ok(_) => Some(()),
        SealedAnswer::Err(_) => None,
    }
}

fn to_json(message: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(message).expect("protocol messages always serialise")
}

fn refused(call: &str, status: u16, body: &[u8]) -> io::Error {
    io::Error::other(format!("{call} answered {status}: {}", String::from_utf8_lossy(body)))
}

fn untrusted(why: String) -> io::Error {
    io::Error::other(format!("the licence server is not trusted: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use licence_protocol::identity::{HostSecret, MachineIdentity};
    use licence_protocol::keyfile;
    use licence_protocol::series::SeriesKeys;

    /// A `connect` answer with the proof of key 7 of `series`, issued to a server with a host secret.
    fn answer(series: &SeriesKeys, body: &[u8]) -> ConnectResponse {
        let server = MachineIdentity::from_material(b"bench server").with_host_secret(HostSecret::from_bytes([3; 32]));
        let fields = licence_testkit::main_key(series, "bench server", 7, 10);
        let file = String::from_utf8(keyfile::issue(&fields, series, &server.binding())).unwrap();
        let key = keyfile::verify(file.as_bytes()).unwrap().unwrap_secrets(&server.binding()).unwrap().key;
        let mut answer = ConnectResponse {
            connection_id: "C1".into(),
            server_version: licence_protocol::VERSION.into(),
            expire_time: UtcTime::now(),
            connection_lease_seconds: 20,
            session_lease_seconds: 60,
            heartbeat_seconds: 5,
            server_key: Some(Handshake::new().public_hex()),
            reserved_servers: Vec::new(),
            protocol: PROTOCOL,
            proofs: Vec::new(),
        };
        let terms = answer.terms();
        answer.proofs.push(channel::prove(&key, &file, body, &terms));
        answer
    }

    #[test]
    fn a_connection_is_taken_only_with_a_proof_for_the_pin_this_request_and_these_terms() {
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let pin = series.public_key();
        let genuine = answer(&series, b"request");
        assert_eq!(check_connect(&genuine, &pin, series.series, b"request").unwrap(), [7]);

        let other_request = check_connect(&genuine, &pin, series.series, b"another request").unwrap_err();
        assert!(other_request.to_string().contains("does not cover this connection"), "{other_request}");
        let other_pin = SeriesKeys::generate(series.series).public_key();
        let err = check_connect(&genuine, &other_pin, series.series, b"request").unwrap_err();
        assert!(err.to_string().contains("signed by another key"), "{err}");
        let relayed = ConnectResponse { server_key: Some(Handshake::new().public_hex()), ..genuine.clone() };
        assert!(check_connect(&relayed, &pin, series.series, b"request").is_err(), "a swapped ServerKey passed");
        let none = ConnectResponse { proofs: Vec::new(), ..genuine.clone() };
        assert!(check_connect(&none, &pin, series.series, b"request").unwrap_err().to_string().contains("no proof"));
        let old = ConnectResponse { protocol: 1, ..genuine };
        assert!(check_connect(&old, &pin, series.series, b"request").unwrap_err().to_string().contains("protocol 1"));
    }
}
