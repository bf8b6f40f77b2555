//! The blocking client of the licence server, with failover across the configured endpoints.
//!
//! Rules, in the order a call meets them:
//! - **Choosing a server** (`connect`): the endpoints are tried in order, starting with the main one.
//!   No answer (refused, reset, timed out) moves on to the next; so do `ServerBusy` (12: that server's
//!   limits are full, a reserved one may have room), `VersionMismatch` (3: a server of another major
//!   version cannot serve this add-in at all, as during an upgrade of the main server) and an answer
//!   that is not the protocol's (some other HTTP server on that port). Any other protocol error — no
//!   key, say — is the server's verdict on the licence and is returned at once: a reserved server is a
//!   backup, not a second opinion.
//!   When nothing accepted, the first verdict-like answer is returned, else `ServerUnreachable` (1).
//! - **The server in use**: every later call goes to the server that accepted `connect`, and the client
//!   sticks to it until it fails.
//! - **Reconnecting**: when the server in use gives no answer, the client connects again starting
//!   with the *next* endpoint (wrapping round); when it answers `UnknownConnection` (7), it connects
//!   again starting with the *same* one. Either way it then obtains again every session it holds —
//!   with the same [`SessionFacts`], so the server hands back the same seat — and repeats the call
//!   once. Session IDs may change across servers; the client maps the old ones to the new.
//!
//! Sessions lost on the way (no free licence on the reserved server, ended by the administrator) are
//! collected for [`Client::take_lost`].

use crate::conf::Endpoint;
use crate::error::Error;
use crate::facts::{self, Caller};
use crate::transport::{Answer, HttpTransport, Timeouts, Transport};
use licence_protocol::channel::{Channel, Handshake, Role, SealedMessage};
use licence_protocol::datafile::ObjectKeyRequest;
use licence_protocol::wire::{
    path, ConnectRequest, ConnectResponse, ConnectionRequest, ErrorCode, HeartbeatRequest, HeartbeatResponse,
    KeyInfoResponse, LicenceGrant, ObjectGrant, ObjectRequest, ObtainRequest, ReleaseResponse, SessionFacts,
    SessionRequest, WireError,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
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
    /// The connection's agreed channel, when the server answered the add-in's `ClientKey`.
    channel: Option<Channel>,
    /// The number of the last sealed request sent on the channel.
    sent: u64,
}

pub struct Client {
    transport: Box<dyn Transport>,
    endpoints: Vec<Endpoint>,
    hello: ConnectRequest,
    current: Option<InUse>,
    held: Vec<Held>,
    lost: Vec<Lost>,
    cancel: Arc<AtomicBool>,
}

impl Client {
    /// A client of `endpoints` (tried in order; see `conf::resolve`) over HTTP with `timeouts`.
    pub fn new(endpoints: Vec<Endpoint>, caller: &Caller, timeouts: Timeouts) -> Self {
        Self::with_transport(endpoints, facts::connect_request(caller), Box::new(HttpTransport::new(timeouts)))
    }

    /// A client over any transport, `hello` being the `connect` body (its `LocalIP` is filled per server).
    pub fn with_transport(endpoints: Vec<Endpoint>, hello: ConnectRequest, transport: Box<dyn Transport>) -> Self {
        Self { transport, endpoints, hello, current: None, held: Vec::new(), lost: Vec::new(), cancel: Arc::default() }
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
            c.post_current(path::HEARTBEAT, &HeartbeatRequest { connection_id: conn.to_owned(), sessions })
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
        let grant: LicenceGrant = self.run(&|c: &mut Self, conn: &str| {
            c.post_current(path::OBTAIN, &ObtainRequest { connection_id: conn.to_owned(), session: facts.clone() })
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
        let result: Result<LicenceGrant, Error> = self.run(&|c: &mut Self, conn: &str| {
            let id = c.current_id(session_id)?;
            c.post_current(path::CHECK, &SessionRequest { connection_id: conn.to_owned(), session_id: id })
        });
        match &result {
            Ok(grant) => {
                if let Some(h) = self.find_mut(session_id) {
                    h.grant = grant.clone();
                }
            }
            Err(e) if matches!(e.code(), ErrorCode::LicenceLost | ErrorCode::SessionEnded) => self.forget(session_id),
            Err(_) => {}
        }
        result
    }

    /// Gives the session's licence back; true when the server still held it.
    pub fn release(&mut self, session_id: &str) -> Result<bool, Error> {
        let result = self.run(&|c: &mut Self, conn: &str| {
            let id = c.current_id(session_id)?;
            c.post_current::<_, ReleaseResponse>(
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
            c.post_current(path::KEY_INFO, &ConnectionRequest { connection_id: conn.to_owned() })
        })
    }

    /// Ends the connection and, on the server, every session it holds. Never reconnects.
    pub fn disconnect(&mut self) -> Result<(), Error> {
        let Some(current) = &self.current else { return Ok(()) };
        let request = ConnectionRequest { connection_id: current.connection.connection_id.clone() };
        let result = self.post_current::<_, ReleaseResponse>(path::DISCONNECT, &request).map(|_| ());
        self.current = None;
        self.held.clear();
        result
    }

    /// The key of one protected object for the held session `session_id`, asked for in the
    /// connection's sealed channel (`protocol::channel`): request and answer travel encrypted and
    /// numbered, so an observer learns nothing and a replayed or altered message is refused. Reconnects
    /// like every call when the server forgot the connection or its channel (the session then has a new
    /// ID, which is looked up again).
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
            let plain = serde_json::to_vec(&request).unwrap_or_default();
            client.sealed_once(path::OBJECT, &plain)
        })
    }

    fn sealed_once<Resp: DeserializeOwned>(&mut self, path: &str, plain: &[u8]) -> Result<Resp, Error> {
        let refused =
            |code: ErrorCode, message: String, endpoint: String| Error::Server { code, status: 0, message, endpoint };
        let Some(current) = self.current.as_mut() else {
            return Err(refused(ErrorCode::UnknownConnection, "not connected".into(), String::new()));
        };
        let endpoint = self.endpoints[current.index].to_string();
        let Some(channel) = current.channel.as_ref() else {
            return Err(refused(
                ErrorCode::NoChannel,
                "the server did not agree a protected channel for this connection".into(),
                endpoint,
            ));
        };
        current.sent += 1;
        let seq = current.sent;
        let sealed = channel.seal(path, seq, plain);
        let answer: SealedMessage = self.post_current(path, &sealed)?;
        let channel = self.current.as_ref().and_then(|c| c.channel.as_ref());
        let opened = channel
            .ok_or_else(|| refused(ErrorCode::NoChannel, "the connection was lost".into(), endpoint.clone()))?
            .open_answer(path, seq, &answer)
            .map_err(|e| {
                refused(
                    ErrorCode::ObjectRefused,
                    format!("the server's sealed answer was refused: {e}"),
                    endpoint.clone(),
                )
            })?;
        serde_json::from_slice(&opened).map_err(|_| Error::BadAnswer {
            endpoint,
            status: 200,
            body: "a sealed answer of the wrong shape".into(),
        })
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

    /// Connects anew starting at endpoint `start` and obtains every held session again.
    fn reconnect(&mut self, start: usize) -> Result<(), Error> {
        self.current = None;
        self.connect_from(start)?;
        let conn = self.connect()?.connection_id;
        let mut pending = std::mem::take(&mut self.held).into_iter();
        while let Some(mut h) = pending.next() {
            let request = ObtainRequest { connection_id: conn.clone(), session: h.facts.clone() };
            match self.post_current::<_, LicenceGrant>(path::OBTAIN, &request) {
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
        let count = self.endpoints.len();
        let mut unanswered = Vec::new();
        let mut refusal: Option<Error> = None;
        for index in (0..count).map(|i| (start + i) % count) {
            if self.cancel.load(Ordering::SeqCst) {
                unanswered.push("cancelled".to_owned());
                break;
            }
            let endpoint = &self.endpoints[index];
            let handshake = Handshake::new();
            let hello = ConnectRequest {
                local_ip: facts::local_ip_towards(&endpoint.host, endpoint.port),
                client_key: Some(handshake.public_hex()),
                ..self.hello.clone()
            };
            let body = serde_json::to_string(&hello).unwrap_or_default();
            let outcome = match self.transport.post(endpoint, path::CONNECT, &body) {
                Ok(answer) => decode::<ConnectResponse>(endpoint, answer),
                Err(no) => {
                    log::info!("server {endpoint} gave no answer: {}", no.0);
                    unanswered.push(format!("{endpoint} ({})", no.0));
                    continue;
                }
            };
            match outcome {
                Ok(connection) => {
                    log::info!("connected to server {endpoint} as {}", connection.connection_id);
                    let channel = connection.server_key.as_deref().and_then(|server_key| {
                        handshake
                            .finish(Role::Client, &connection.connection_id, server_key)
                            .inspect_err(|e| log::warn!("server {endpoint} offered an unusable channel key: {e}"))
                            .ok()
                    });
                    self.learn_reserved(&connection.reserved_servers);
                    self.current = Some(InUse { index, connection: connection.clone(), channel, sent: 0 });
                    return Ok(connection);
                }
                Err(e) if skips_to_next(&e) => {
                    log::warn!("server {endpoint} did not take the connection: {e}");
                    refusal.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        if count == 0 {
            unanswered.push("no licence server is configured".to_owned());
        }
        Err(refusal.unwrap_or(Error::Unreachable { tried: unanswered.join("; ") }))
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

    /// One request to the server in use, no failover.
    fn post_current<Req: Serialize, Resp: DeserializeOwned>(&self, path: &str, request: &Req) -> Result<Resp, Error> {
        let Some(current) = &self.current else {
            return Err(Error::Server {
                code: ErrorCode::UnknownConnection,
                status: 0,
                message: "not connected".to_owned(),
                endpoint: String::new(),
            });
        };
        let endpoint = &self.endpoints[current.index];
        if self.cancel.load(Ordering::SeqCst) {
            return Err(Error::Unreachable { tried: format!("{endpoint} (cancelled)") });
        }
        let body = serde_json::to_string(request).unwrap_or_default();
        match self.transport.post(endpoint, path, &body) {
            Ok(answer) => decode(endpoint, answer),
            Err(no) => Err(Error::Unreachable { tried: format!("{endpoint} ({})", no.0) }),
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
    fn why_lost(&self, session_id: &str) -> (ErrorCode, String) {
        let conn = self.connection().map(|c| c.connection_id.clone()).unwrap_or_default();
        let request = SessionRequest { connection_id: conn, session_id: session_id.to_owned() };
        match self.post_current::<_, LicenceGrant>(path::CHECK, &request) {
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

/// A 2xx answer's body as `Resp`, or the protocol error of any other status; anything else is a
/// [`Error::BadAnswer`].
/// Answers of a server that cannot serve this add-in at all, so a reserved server is tried: its limits
/// are full (`ServerBusy`), it speaks another major version, or it is not a licence server.
fn skips_to_next(e: &Error) -> bool {
    matches!(e.code(), ErrorCode::ServerBusy | ErrorCode::VersionMismatch) || matches!(e, Error::BadAnswer { .. })
}

fn decode<Resp: DeserializeOwned>(endpoint: &Endpoint, answer: Answer) -> Result<Resp, Error> {
    let bad = |answer: &Answer| Error::BadAnswer {
        endpoint: endpoint.to_string(),
        status: answer.status,
        body: answer.body.chars().take(200).collect(),
    };
    if (200..300).contains(&answer.status) {
        return serde_json::from_str(&answer.body).map_err(|_| bad(&answer));
    }
    match serde_json::from_str::<WireError>(&answer.body) {
        Ok(wire) => Err(Error::Server {
            code: wire.code,
            status: answer.status,
            message: wire.message,
            endpoint: endpoint.to_string(),
        }),
        Err(_) => Err(bad(&answer)),
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
