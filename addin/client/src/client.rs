//! The blocking client of the licence server, with failover across the configured endpoints, that
//! believes only a server able to prove it holds a genuine key of the series the configuration pins.
//!
//! Trust (protocol 2, `licence_protocol::channel`):
//! - **No pin, no call**: without `SeriesPublicKey` ([`Caller::series_public_key`]) nothing is sent to
//!   any server and every call fails with `SeriesKeyNotPinned` (16).
//! - **Connect**: the body carries `Protocol: 2`, the pin and a fresh X25519 `ClientKey`; the client
//!   keeps the exact bytes it sent. The answer must be of protocol 2 (else `VersionMismatch`, 3) and at
//!   least one of its `Proofs` must pass `channel::verify_proof` with the pin, the series, those bytes
//!   and `ConnectResponse::terms()`; else the server is `ServerNotTrusted` (17) and the next endpoint is
//!   tried, as for `ServerBusy`. The KeyNos proved so are kept for the connection.
//! - **Every later call** (heartbeat, obtain, check, release, keyinfo, disconnect, object) is sealed in
//!   the connection's channel and numbered 1, 2, 3…; its answer must be a sealed `SealedAnswer` of the
//!   same number. A sealed answer that does not open, or a plain 2xx answer to a sealed call, is 17; a
//!   plain error answer is only ever a failure (and one of the add-in's own codes from a server is not
//!   believed at all: it reads as a bad answer).
//! - **Grants**: a `LicenceGrant` must name (`UsedLicence`) a key proved at connect; if not, the client
//!   reconnects once to the same server (a key may have been installed since), then gives up with 17.
//!
//! Rules, in the order a call meets them:
//! - **Choosing a server** (`connect`): the endpoints are tried in order, starting with the main one.
//!   No answer (refused, reset, timed out) moves on to the next; so do `ServerBusy` (12: that server's
//!   limits are full, a reserved one may have room), `VersionMismatch` (3: a server of another major
//!   version or protocol cannot serve this add-in at all, as during an upgrade of the main server),
//!   `ServerNotTrusted` (17: it proved no genuine key) and an answer that is not the protocol's (some
//!   other HTTP server on that port). Any other protocol error — no key, say — is the server's verdict
//!   on the licence and is returned at once: a reserved server is a backup, not a second opinion.
//!   When nothing accepted, the first verdict-like answer is returned, else `ServerUnreachable` (1).
//! - **The server in use**: every later call goes to the server that accepted `connect`, and the client
//!   sticks to it until it fails.
//! - **Reconnecting**: when the server in use gives no answer, the client connects again starting
//!   with the *next* endpoint (wrapping round); when it answers `UnknownConnection` (7) or `NoChannel`
//!   (14: it restarted and forgot the channel), it connects again starting with the *same* one. Either
//!   way it then obtains again every session it holds — with the same [`SessionFacts`], so the server
//!   hands back the same seat — and repeats the call once. Session IDs may change across servers; the
//!   client maps the old ones to the new.
//!
//! Sessions lost on the way (no free licence on the reserved server, ended by the administrator, a
//! grant of an unproved key) are collected for [`Client::take_lost`].
//!
//! [`Caller::series_public_key`]: crate::facts::Caller::series_public_key

use crate::conf::Endpoint;
use crate::error::{Attempt, Distrust, Error, Refused, Tried};
use crate::facts::{self, Caller};
use crate::transport::{Answer, HttpTransport, NoAnswer, Timeouts, Transport};
use licence_protocol::channel::{self, Channel, Handshake, Role, SealedAnswer, SealedMessage};
use licence_protocol::datafile::ObjectKeyRequest;
use licence_protocol::text::{self, shorten};
use licence_protocol::wire::{
    path, ConnectRequest, ConnectResponse, ConnectionRequest, ErrorCode, HeartbeatRequest, HeartbeatResponse,
    KeyInfoResponse, LicenceGrant, ObjectGrant, ObjectRequest, ObtainRequest, ReleaseResponse, SessionFacts,
    SessionRequest, WireError, PROTOCOL,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A session this client obtained and will obtain again after a reconnect.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub facts: SessionFacts,
    pub grant: LicenceGrant,
    /// Earlier session IDs of this session (from servers or connections before a reconnect).
    pub aliases: Vec<String>,
}

/// A session that no longer holds its licence, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    pub session_id: String,
    pub code: ErrorCode,
    pub message: String,
}

/// How many lost sessions [`Client::lost`] remembers.
pub const MAX_LOST: usize = 64;

struct InUse {
    index: usize,
    connection: ConnectResponse,
    /// The connection's agreed channel.
    channel: Channel,
    /// The number of the last sealed request sent on the channel.
    sent: u64,
    /// The KeyNos the server proved at connect: the only keys a grant may name.
    proved: BTreeSet<u64>,
}

pub struct Client {
    transport: Box<dyn Transport>,
    endpoints: Vec<Endpoint>,
    hello: ConnectRequest,
    /// The series public key of `hello`, parsed; `None` when the configuration pins none.
    pin: Option<[u8; 32]>,
    current: Option<InUse>,
    held: Vec<Held>,
    lost: Vec<Lost>,
    cancel: Arc<AtomicBool>,
}

impl Client {
    /// A client of `endpoints` (tried in order; see `conf::resolve`) over HTTP with `timeouts`, for the
    /// series and pin of `caller`.
    pub fn new(endpoints: Vec<Endpoint>, caller: &Caller, timeouts: Timeouts) -> Self {
        Self::with_transport(endpoints, facts::connect_request(caller), Box::new(HttpTransport::new(timeouts)))
    }

    /// A client over any transport, `hello` being the `connect` body (its `LocalIP` and `ClientKey` are
    /// filled per server; its `SeriesPublicKey` is the pin).
    pub fn with_transport(endpoints: Vec<Endpoint>, hello: ConnectRequest, transport: Box<dyn Transport>) -> Self {
        let pin = hello.series_public_key.as_deref().and_then(|hex_key| {
            let mut pin = [0u8; 32];
            hex::decode_to_slice(hex_key.trim(), &mut pin).ok().map(|()| pin)
        });
        let hello = ConnectRequest { protocol: PROTOCOL, series_public_key: pin.map(hex::encode), ..hello };
        Self {
            transport,
            endpoints,
            hello,
            pin,
            current: None,
            held: Vec::new(),
            lost: Vec::new(),
            cancel: Arc::default(),
        }
    }

    /// The KeyNos the server in use proved at connect.
    pub fn proved_keys(&self) -> Vec<u64> {
        self.current.as_ref().map(|c| c.proved.iter().copied().collect()).unwrap_or_default()
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The server that accepted the current connection.
    pub fn server_in_use(&self) -> Option<&Endpoint> {
        self.current.as_ref().map(|c| &self.endpoints[c.index])
    }

    /// The current connection's terms (`HeartbeatSeconds`, leases).
    pub fn connection(&self) -> Option<&ConnectResponse> {
        self.current.as_ref().map(|c| &c.connection)
    }

    /// The sessions this client holds.
    pub fn held(&self) -> &[Held] {
        &self.held
    }

    /// Sessions lost since the last `take_lost`, oldest first.
    pub fn take_lost(&mut self) -> Vec<Lost> {
        std::mem::take(&mut self.lost)
    }

    /// The latest sessions lost (at most [`MAX_LOST`]), oldest first, without taking them.
    pub fn lost(&self) -> &[Lost] {
        &self.lost
    }

    /// Setting this flag makes the client stop trying further endpoints (for a prompt shutdown); a
    /// request already under way still runs to its time limit.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Connects unless connected; the answer of the server in use.
    pub fn connect(&mut self) -> Result<ConnectResponse, Error> {
        if let Some(current) = &self.current {
            return Ok(current.connection.clone());
        }
        self.connect_from(0)
    }

    /// Tells the server in use this process is alive and which sessions it holds; sessions the server
    /// reports lost are dropped from [`Client::held`] and reported by [`Client::take_lost`].
    pub fn heartbeat(&mut self) -> Result<HeartbeatResponse, Error> {
        let answer: HeartbeatResponse = self.run(&|c: &mut Self, conn: &str| {
            let sessions = c.held.iter().map(|h| h.grant.session_id.clone()).collect();
            c.call(path::HEARTBEAT, &HeartbeatRequest { connection_id: conn.to_owned(), sessions })
        })?;
        for id in &answer.lost_sessions {
            if let Some(i) = self.held.iter().position(|h| &h.grant.session_id == id) {
                let held = self.held.remove(i);
                let (code, message) = self.why_lost(id);
                self.record_loss(Lost { session_id: held.grant.session_id, code, message });
            }
        }
        Ok(answer)
    }

    /// Takes (or gets back) a licence for the session `facts` describes.
    pub fn obtain(&mut self, facts: &SessionFacts) -> Result<LicenceGrant, Error> {
        let grant = self.run_grant(&|c: &mut Self, conn: &str| {
            c.call(path::OBTAIN, &ObtainRequest { connection_id: conn.to_owned(), session: facts.clone() })
        })?;
        match self.held.iter_mut().find(|h| &h.facts == facts) {
            Some(h) => {
                if h.grant.session_id != grant.session_id {
                    h.aliases.push(std::mem::replace(&mut h.grant.session_id, grant.session_id.clone()));
                }
                h.grant = grant.clone();
            }
            None => self.held.push(Held { facts: facts.clone(), grant: grant.clone(), aliases: Vec::new() }),
        }
        Ok(grant)
    }

    /// Confirms the session still holds its licence. `session_id` may be an ID from before a reconnect;
    /// the grant carries the current one.
    pub fn check(&mut self, session_id: &str) -> Result<LicenceGrant, Error> {
        let result = self.run_grant(&|c: &mut Self, conn: &str| {
            let id = c.current_id(session_id)?;
            c.call(path::CHECK, &SessionRequest { connection_id: conn.to_owned(), session_id: id })
        });
        match &result {
            Ok(grant) => {
                if let Some(h) = self.find_mut(session_id) {
                    h.grant = grant.clone();
                }
            }
            Err(e)
                if matches!(
                    e.code(),
                    ErrorCode::LicenceLost | ErrorCode::SessionEnded | ErrorCode::ServerNotTrusted
                ) =>
            {
                self.forget(session_id)
            }
            Err(_) => {}
        }
        result
    }

    /// Gives the session's licence back; true when the server still held it.
    pub fn release(&mut self, session_id: &str) -> Result<bool, Error> {
        let result = self.run(&|c: &mut Self, conn: &str| {
            let id = c.current_id(session_id)?;
            c.call::<_, ReleaseResponse>(
                path::RELEASE,
                &SessionRequest { connection_id: conn.to_owned(), session_id: id },
            )
        });
        self.forget(session_id);
        result.map(|r| r.released)
    }

    /// The connection's series: licence counts, flags, keys.
    pub fn key_info(&mut self) -> Result<KeyInfoResponse, Error> {
        self.run(&|c: &mut Self, conn: &str| {
            c.call(path::KEY_INFO, &ConnectionRequest { connection_id: conn.to_owned() })
        })
    }

    /// Ends the connection and, on the server, every session it holds. Never reconnects.
    pub fn disconnect(&mut self) -> Result<(), Error> {
        let Some(current) = &self.current else { return Ok(()) };
        let request = ConnectionRequest { connection_id: current.connection.connection_id.clone() };
        let result = self.call::<_, serde_json::Value>(path::DISCONNECT, &request).map(|_| ());
        self.current = None;
        self.held.clear();
        result
    }

    /// The key of one protected object for the held session `session_id`. Reconnects like every call
    /// when the server forgot the connection or its channel (the session then has a new ID, which is
    /// looked up again).
    pub fn object_key(
        &mut self,
        session_id: &str,
        name: &str,
        object: &ObjectKeyRequest,
    ) -> Result<ObjectGrant, Error> {
        self.run(&|client, _| {
            let request = ObjectRequest {
                session_id: client.current_id(session_id)?,
                name: name.to_owned(),
                object: object.clone(),
            };
            client.call(path::OBJECT, &request)
        })
    }

    /// One sealed call to the server in use, no failover: `request` sealed as the connection's next
    /// message, the answer opened as the sealed answer to that number (see the module's "Trust").
    fn call<Req: Serialize, Resp: DeserializeOwned>(&mut self, path: &str, request: &Req) -> Result<Resp, Error> {
        let Some(current) = self.current.as_mut() else { return Err(not_connected()) };
        let endpoint = self.endpoints[current.index].clone();
        if self.cancel.load(Ordering::SeqCst) {
            return Err(Error::Unreachable { tried: Tried::one(&endpoint, NoAnswer::Cancelled) });
        }
        current.sent += 1;
        let seq = current.sent;
        let plain = zeroize_vec(serde_json::to_vec(request).unwrap_or_default());
        let sealed = current.channel.seal(path, seq, &plain);
        let body = serde_json::to_string(&sealed).unwrap_or_default();
        let answer = match self.transport.post(&endpoint, path, &body) {
            Ok(answer) => answer,
            Err(why) => return Err(Error::Unreachable { tried: Tried::one(&endpoint, why) }),
        };
        if !(200..300).contains(&answer.status) {
            return Err(envelope_refused(plain_failure(&endpoint, &answer)));
        }
        let untrusted = |reason| Error::Untrusted { endpoint: endpoint.to_string(), reason };
        let message: SealedMessage = serde_json::from_str(&answer.body)
            .map_err(|source| untrusted(Distrust::PlainAnswer { path: path.to_owned(), source }))?;
        let current = self.current.as_ref().ok_or_else(not_connected)?;
        let opened = current
            .channel
            .open_answer(path, seq, &message)
            .map_err(|source| untrusted(Distrust::NotSealed { path: path.to_owned(), source }))?;
        match serde_json::from_slice::<SealedAnswer<Resp>>(&opened) {
            Ok(SealedAnswer::Ok(value)) => Ok(value),
            Ok(SealedAnswer::Err(wire)) => Err(Error::Server {
                code: wire.code,
                status: answer.status,
                message: wire.message,
                endpoint: endpoint.to_string(),
            }),
            Err(_) => Err(Error::BadAnswer {
                endpoint: endpoint.to_string(),
                status: answer.status,
                body: format!("a sealed answer to {path} of the wrong shape"),
            }),
        }
    }

    /// Runs `op` on the server in use (connecting first if need be); when that server is gone or forgot
    /// the connection, reconnects, obtains the held sessions again and runs `op` once more.
    fn run<T>(&mut self, op: &dyn Fn(&mut Self, &str) -> Result<T, Error>) -> Result<T, Error> {
        let conn = self.connect()?.connection_id;
        match op(self, &conn) {
            Err(e) if e.needs_reconnect() => {
                let index = self.current.as_ref().map_or(0, |c| c.index);
                let same_server = matches!(e.code(), ErrorCode::UnknownConnection | ErrorCode::NoChannel);
                let start = if same_server { index } else { index + 1 };
                log::warn!("server {} failed ({e}); connecting again", self.endpoints[index]);
                self.reconnect(start)?;
                let conn = self.connect()?.connection_id;
                op(self, &conn)
            }
            other => other,
        }
    }

    /// [`Client::run`] for a call that grants a licence: the grant must name a key the server proved at
    /// connect. If it does not, the client reconnects once to the same server (a key may have been
    /// installed since the proofs were made) and asks again; a second such grant is `ServerNotTrusted`.
    fn run_grant(
        &mut self,
        op: &dyn Fn(&mut Self, &str) -> Result<LicenceGrant, Error>,
    ) -> Result<LicenceGrant, Error> {
        let grant = self.run(op)?;
        if self.unproved(&grant).is_none() {
            return Ok(grant);
        }
        let index = self.current.as_ref().map_or(0, |c| c.index);
        log::warn!(
            "server {} granted a licence of key {}, which it did not prove at connect; connecting again",
            self.endpoints[index],
            grant.used_licence
        );
        self.reconnect(index)?;
        let grant = self.run(op)?;
        match self.unproved(&grant) {
            None => Ok(grant),
            Some(e) => Err(e),
        }
    }

    /// Why `grant` cannot be believed: it names a key the server in use did not prove.
    fn unproved(&self, grant: &LicenceGrant) -> Option<Error> {
        let current = self.current.as_ref()?;
        if current.proved.contains(&grant.used_licence) {
            return None;
        }
        Some(Error::Untrusted {
            endpoint: self.endpoints[current.index].to_string(),
            reason: Distrust::UnprovedGrant {
                key_no: grant.used_licence,
                series: grant.key_id,
                proved: current.proved.iter().copied().collect(),
            },
        })
    }

    /// Connects anew starting at endpoint `start` and obtains every held session again.
    fn reconnect(&mut self, start: usize) -> Result<(), Error> {
        self.current = None;
        self.connect_from(start)?;
        let conn = self.connect()?.connection_id;
        let mut pending = std::mem::take(&mut self.held).into_iter();
        while let Some(mut h) = pending.next() {
            let request = ObtainRequest { connection_id: conn.clone(), session: h.facts.clone() };
            let result = self.call::<_, LicenceGrant>(path::OBTAIN, &request);
            let result = result.and_then(|grant| self.unproved(&grant).map_or(Ok(grant), Err));
            match result {
                Ok(grant) => {
                    if grant.session_id != h.grant.session_id {
                        h.aliases.push(std::mem::replace(&mut h.grant.session_id, grant.session_id.clone()));
                    }
                    h.grant = grant;
                    self.held.push(h);
                }
                Err(e) if e.needs_reconnect() => {
                    // The new server failed too: keep every session for the next attempt.
                    self.held.push(h);
                    self.held.extend(pending);
                    self.current = None;
                    return Err(e);
                }
                Err(e) => {
                    log::warn!("session {} lost on reconnect: {e}", h.grant.session_id);
                    self.record_loss(Lost { session_id: h.grant.session_id, code: e.code(), message: e.to_string() });
                }
            }
        }
        Ok(())
    }

    /// Tries the endpoints from `start` round the list (see the module's rules).
    fn connect_from(&mut self, start: usize) -> Result<ConnectResponse, Error> {
        let Some(pin) = self.pin else { return Err(Error::NotPinned { series: self.hello.key_id.to_string() }) };
        let count = self.endpoints.len();
        let mut unanswered = Vec::new();
        let mut refusal: Option<Error> = None;
        for index in (0..count).map(|i| (start + i) % count) {
            let endpoint = self.endpoints[index].clone();
            if self.cancel.load(Ordering::SeqCst) {
                unanswered.push(Attempt { endpoint, why: NoAnswer::Cancelled });
                break;
            }
            let handshake = Handshake::new();
            let hello = ConnectRequest {
                local_ip: facts::local_ip_towards(&endpoint.host, endpoint.port),
                client_key: Some(handshake.public_hex()),
                ..self.hello.clone()
            };
            let body = serde_json::to_string(&hello).unwrap_or_default();
            let outcome = match self.transport.post(&endpoint, path::CONNECT, &body) {
                Ok(answer) => decode::<ConnectResponse>(&endpoint, answer),
                Err(why) => {
                    log::info!("server {endpoint} gave no answer: {why}");
                    unanswered.push(Attempt { endpoint, why });
                    continue;
                }
            };
            let trusted = outcome.and_then(|connection| {
                let (channel, proved) = self.trust(&endpoint, &pin, body.as_bytes(), handshake, &connection)?;
                Ok((connection, channel, proved))
            });
            match trusted {
                Ok((connection, channel, proved)) => {
                    let keys: Vec<String> = proved.iter().map(u64::to_string).collect();
                    log::info!(
                        "connected to server {endpoint} as {}; it proved key(s) {}",
                        connection.connection_id,
                        keys.join(", ")
                    );
                    self.learn_reserved(&connection.reserved_servers);
                    self.current = Some(InUse { index, connection: connection.clone(), channel, sent: 0, proved });
                    return Ok(connection);
                }
                Err(e) if skips_to_next(&e) => {
                    log::warn!("server {endpoint} did not take the connection: {e}");
                    refusal.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(refusal.unwrap_or(Error::Unreachable { tried: Tried(unanswered) }))
    }

    /// The channel and the proved KeyNos of a `connect` answer, or why the server is not believed: its
    /// protocol is not 2, no proof verifies for the pin, the bytes sent and the answer's terms, or it
    /// agreed no usable channel.
    fn trust(
        &self,
        endpoint: &Endpoint,
        pin: &[u8; 32],
        sent: &[u8],
        handshake: Handshake,
        connection: &ConnectResponse,
    ) -> Result<(Channel, BTreeSet<u64>), Error> {
        let series = self.hello.key_id;
        if connection.protocol != PROTOCOL {
            return Err(Error::Server {
                code: ErrorCode::VersionMismatch,
                status: 200,
                message: format!(
                    "the licence server at {endpoint} (version {}) is of an earlier release (protocol {}, this add-in \
                     speaks {PROTOCOL}); upgrade it",
                    connection.server_version, connection.protocol
                ),
                endpoint: endpoint.to_string(),
            });
        }
        let untrusted = |reason| Error::Untrusted { endpoint: endpoint.to_string(), reason };
        let terms = connection.terms();
        let mut proved = BTreeSet::new();
        let mut refused = Vec::new();
        for proof in &connection.proofs {
            match channel::verify_proof(proof, pin, series, sent, &terms) {
                Ok(key) => {
                    proved.insert(key.fields.key_no);
                }
                Err(e) => refused.push(e),
            }
        }
        if proved.is_empty() {
            let pin = hex::encode(&pin[..4]);
            return Err(untrusted(if refused.is_empty() {
                Distrust::NoProof { series, pin }
            } else {
                Distrust::ProofsRefused { series, pin, refused: Refused(refused) }
            }));
        }
        let server_key = connection.server_key.as_deref().ok_or_else(|| untrusted(Distrust::NoServerKey))?;
        let channel = handshake
            .finish(Role::Client, &connection.connection_id, server_key)
            .map_err(|e| untrusted(Distrust::BadChannelKey(e)))?;
        Ok((channel, proved))
    }

    /// Adds the reserved servers a server announced (`ReservedServers` at `connect`) to the end of the
    /// list, skipping those already in it, so failover can reach them even when the configuration did
    /// not name them. Unreadable entries are logged and skipped.
    fn learn_reserved(&mut self, announced: &[String]) {
        if announced.is_empty() {
            return;
        }
        let (servers, bad) = crate::conf::parse_server_list(&announced.join(","));
        for problem in bad {
            log::warn!("the server announced an unusable reserved {problem}");
        }
        for endpoint in servers {
            if !self.endpoints.contains(&endpoint) {
                log::info!("the server announced reserved server {endpoint}; it is added for failover");
                self.endpoints.push(endpoint);
            }
        }
    }

    /// The current ID of a session known by any of its IDs, the recorded loss if it was lost on a
    /// reconnect, or the ID itself for a session this client never obtained.
    fn current_id(&self, session_id: &str) -> Result<String, Error> {
        if let Some(h) =
            self.held.iter().find(|h| h.grant.session_id == session_id || h.aliases.iter().any(|a| a == session_id))
        {
            return Ok(h.grant.session_id.clone());
        }
        if let Some(lost) = self.lost.iter().find(|l| l.session_id == session_id) {
            let endpoint = self.server_in_use().map(|e| e.to_string()).unwrap_or_default();
            return Err(Error::Server { code: lost.code, status: 0, message: lost.message.clone(), endpoint });
        }
        Ok(session_id.to_owned())
    }

    /// Asks the server why a session the heartbeat reported lost is gone: its lease ended (8) or the
    /// administrator ended it (9).
    fn why_lost(&mut self, session_id: &str) -> (ErrorCode, String) {
        let conn = self.connection().map(|c| c.connection_id.clone()).unwrap_or_default();
        let request = SessionRequest { connection_id: conn, session_id: session_id.to_owned() };
        match self.call::<_, LicenceGrant>(path::CHECK, &request) {
            Err(e @ Error::Server { .. }) if matches!(e.code(), ErrorCode::LicenceLost | ErrorCode::SessionEnded) => {
                (e.code(), e.to_string())
            }
            _ => (ErrorCode::LicenceLost, format!("the server no longer holds a licence for session {session_id}")),
        }
    }

    fn record_loss(&mut self, lost: Lost) {
        if self.lost.len() >= MAX_LOST {
            self.lost.remove(0);
        }
        self.lost.push(lost);
    }

    fn find_mut(&mut self, session_id: &str) -> Option<&mut Held> {
        self.held.iter_mut().find(|h| h.grant.session_id == session_id || h.aliases.iter().any(|a| a == session_id))
    }

    fn forget(&mut self, session_id: &str) {
        self.held.retain(|h| h.grant.session_id != session_id && !h.aliases.iter().any(|a| a == session_id));
    }
}

/// Answers of a server that cannot serve this add-in at all, so a reserved server is tried: its limits
/// are full (`ServerBusy`), it speaks another major version or protocol, it proved no genuine key
/// (`ServerNotTrusted`), or it is not a licence server.
fn skips_to_next(e: &Error) -> bool {
    matches!(e.code(), ErrorCode::ServerBusy | ErrorCode::VersionMismatch | ErrorCode::ServerNotTrusted)
        || matches!(e, Error::BadAnswer { .. })
}

fn not_connected() -> Error {
    Error::Server {
        code: ErrorCode::UnknownConnection,
        status: 0,
        message: "not connected".to_owned(),
        endpoint: String::new(),
    }
}

/// The inner JSON of a sealed call, wiped once sent (it holds session facts and object requests).
fn zeroize_vec(bytes: Vec<u8>) -> ZeroOnDrop {
    ZeroOnDrop(bytes)
}

struct ZeroOnDrop(Vec<u8>);

impl std::ops::Deref for ZeroOnDrop {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for ZeroOnDrop {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
    }
}

/// A 2xx answer's body as `Resp` (only `connect` is answered in plain), or the protocol error of any
/// other status; anything else is a [`Error::BadAnswer`].
fn decode<Resp: DeserializeOwned>(endpoint: &Endpoint, answer: Answer) -> Result<Resp, Error> {
    let bad = |answer: &Answer| Error::BadAnswer {
        endpoint: endpoint.to_string(),
        status: answer.status,
        body: shorten(&answer.body, text::LINE),
    };
    if (200..300).contains(&answer.status) {
        return serde_json::from_str(&answer.body).map_err(|_| bad(&answer));
    }
    Err(plain_failure(endpoint, &answer))
}

/// A sealed call refused in plain with code 5: the server could not open it as the connection's next
/// message — most often a request the transport sent again on a fresh socket after the server had
/// taken the first one and the answer was lost. The channels no longer agree, so this is "connect again"
/// (14), which reconnects to the same server and repeats the call once (sessions get their own seats
/// back). A relay that forges it gains nothing but a reconnection.
fn envelope_refused(e: Error) -> Error {
    match e {
        Error::Server { code: ErrorCode::BadRequest, status, message, endpoint } => Error::Server {
            code: ErrorCode::NoChannel,
            status,
            message: format!("the server refused the sealed call ({message}); connecting again"),
            endpoint,
        },
        other => other,
    }
}

/// A plain (unsealed) answer of a non-2xx status: the protocol error it carries. It is only ever a
/// failure; one of the add-in's own codes (1, 13, 16, 17), which no server sends, is not believed and
/// reads as a bad answer, so that no server can steer the add-in into its local fallback.
fn plain_failure(endpoint: &Endpoint, answer: &Answer) -> Error {
    let bad = || Error::BadAnswer {
        endpoint: endpoint.to_string(),
        status: answer.status,
        body: shorten(&answer.body, text::LINE),
    };
    match serde_json::from_str::<WireError>(&answer.body) {
        Ok(wire) if wire.code.is_addin_own() => bad(),
        Ok(wire) => Error::Server {
            code: wire.code,
            status: answer.status,
            message: wire.message,
            endpoint: endpoint.to_string(),
        },
        Err(_) => bad(),
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
