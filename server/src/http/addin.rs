//! The add-in protocol (`protocol/PROTOCOL.md`): connect, heartbeat, obtain/check/release a licence,
//! key parameters, disconnect, protected objects. Every failure answers a numbered [`WireError`] the
//! add-in can show the 1C developer; nothing here needs a login.
//!
//! `connect` (protocol 2) carries the series public key the add-in's configuration pins and a fresh
//! channel key. The server admits it only when it holds a workable key of the series signed by that
//! pin, and answers with one proof per such key (`channel::prove` over the exact request bytes and the
//! answer's terms), so a server without a genuine key cannot be taken for one. Every later call is
//! sealed in the connection's channel and answered sealed with the same number
//! (`SealedAnswer`); only the failures that concern the envelope itself answer in plain: an unknown
//! connection (7), a connection without a channel after a restart (14), and a sealed request that does
//! not open — altered, replayed or reordered (5).

use crate::app::{self, App, AppError};
use crate::ledger::LedgerError;
use crate::observe::Denial;
use axum::extract::FromRef;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use licence_protocol::channel::{self, Handshake, Role, SealedAnswer, SealedMessage};
use licence_protocol::datafile::derive_object_key;
use licence_protocol::text::{self, shorten};
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{
    self, path, ConnectRequest, ConnectResponse, ConnectionRequest, ErrorCode, HeartbeatRequest, HeartbeatResponse,
    KeyInfoResponse, KeyParameters, ObjectGrant, ObjectRequest, ObtainRequest, ReleaseResponse, SessionRequest,
    WireError, PROTOCOL,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

pub const PREFIX: &str = "/licence/";

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<App>: FromRef<S>,
{
    Router::new()
        .route(path::CONNECT, post(connect))
        .route(path::HEARTBEAT, post(heartbeat))
        .route(path::OBTAIN, post(obtain))
        .route(path::CHECK, post(check))
        .route(path::RELEASE, post(release))
        .route(path::KEY_INFO, post(key_info))
        .route(path::DISCONNECT, post(disconnect))
        .route(path::OBJECT, post(object))
}

/// A protocol failure as an HTTP answer: the status is the code's own ([`ErrorCode::http_status`]),
/// except for the refusals of the HTTP layer itself ([`http_refusal`]).
pub struct Failure {
    wire: WireError,
    status: StatusCode,
}

impl From<WireError> for Failure {
    fn from(wire: WireError) -> Self {
        let status = StatusCode::from_u16(wire.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { wire, status }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.wire)).into_response();
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response.headers_mut().insert(axum::http::header::ALLOW, axum::http::HeaderValue::from_static("POST"));
        }
        response
    }
}

/// A request the HTTP layer refuses before any call sees it — a body over `MAX_BODY` (413), a path
/// that is no call (404), a method other than `POST` (405, with `Allow: POST`): code 5 (BadRequest)
/// in the protocol's shape, under the HTTP status that says which. Every other status comes from
/// the code ([`ErrorCode::http_status`], the one mapping); the add-in reads the code, not the status.
pub fn http_refusal(status: StatusCode, message: String) -> Failure {
    Failure { wire: WireError::new(ErrorCode::BadRequest, message), status }
}

/// The body-reading failures of `super::read_body`/`read_json` as protocol failures: 413 keeps its
/// status, every other one is code 5's own 400.
fn unreadable(status: StatusCode, message: String) -> Failure {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        http_refusal(status, message)
    } else {
        bad_request(message)
    }
}

impl From<LedgerError> for Failure {
    fn from(e: LedgerError) -> Self {
        Failure::from(WireError::new(e.code(), e.to_string()))
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Refused(e) => e.into(),
            other => internal("add-in request failed", &other),
        }
    }
}

/// A failure of the server itself: the cause goes to the log, the add-in hears code 15.
fn internal(context: &str, cause: &dyn std::error::Error) -> Failure {
    let mut chain = cause.to_string();
    let mut source = cause.source();
    while let Some(s) = source {
        chain = format!("{chain}: {s}");
        source = s.source();
    }
    log::error!("{context}: {chain}");
    Failure::from(WireError::new(ErrorCode::Internal, "the server could not keep the change; see its log"))
}

fn busy(message: String) -> Failure {
    Failure::from(WireError::new(ErrorCode::ServerBusy, message))
}

pub fn bad_request(message: String) -> Failure {
    Failure::from(WireError::new(ErrorCode::BadRequest, message))
}

pub fn unknown_call(path: &str) -> Failure {
    let path = shorten(path, text::LINE);
    http_refusal(StatusCode::NOT_FOUND, format!("\"{path}\" is not a call of this server's add-in protocol"))
}

pub fn wrong_method(method: &str, path: &str) -> Failure {
    let (method, path) = (shorten(method, text::NAME), shorten(path, text::LINE));
    http_refusal(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed for \"{path}\": every call of the add-in protocol is POST"),
    )
}

type Sealed = Result<Json<SealedMessage>, Failure>;

/// The sealed call being answered.
pub struct Call {
    pub connection_id: String,
    seq: u64,
    path: &'static str,
}

/// A sealed request's inner message: which connection it names, if it names one.
trait Names {
    fn connection_id(&self) -> Option<&str>;
}

macro_rules! names_connection {
    ($($t:ty),*) => {$(
        impl Names for $t {
            fn connection_id(&self) -> Option<&str> {
                Some(&self.connection_id)
            }
        }
    )*};
}
names_connection!(HeartbeatRequest, ObtainRequest, SessionRequest, ConnectionRequest);

impl Names for ObjectRequest {
    fn connection_id(&self) -> Option<&str> {
        None
    }
}

/// Opens the sealed request of `path`, runs `handle` on its inner message and seals what it answers
/// (success or refusal) with the request's number.
async fn sealed<T, R, F, Fut>(app: Arc<App>, request: Request, path: &'static str, handle: F) -> Sealed
where
    T: DeserializeOwned + Names,
    R: Serialize,
    F: FnOnce(Arc<App>, Call, T) -> Fut,
    Fut: Future<Output = Result<R, Failure>>,
{
    let message: SealedMessage = super::read_json(request, |status, m| {
        unreadable(status, format!("{m}; every call after connect is a sealed message {{ConnectionID, Seq, Sealed}}"))
    })
    .await?;
    let connection_id = message.connection_id.clone();
    let plain = {
        let mut channels = app.channels();
        let Some(channel) = channels.get_mut(&connection_id) else {
            drop(channels);
            let known = app.read(|inner, _| inner.ledger.connection(&connection_id).is_some());
            return Err(Failure::from(if known {
                WireError::new(
                    ErrorCode::NoChannel,
                    "this connection has no protected channel (the server restarted since it connected); connect again",
                )
            } else {
                WireError::new(
                    ErrorCode::UnknownConnection,
                    format!("connection {} is unknown; connect again", shorten(&connection_id, text::NAME)),
                )
            }));
        };
        channel.open_request(path, &message).map_err(|e| {
            log::warn!("refused a sealed {path} request on connection {}: {e}", shorten(&connection_id, text::NAME));
            bad_request(format!("the sealed request was refused: {e}"))
        })?
    };
    let call = Call { connection_id: connection_id.clone(), seq: message.seq, path };
    let (seq, path) = (call.seq, call.path);
    let result = match serde_json::from_slice::<T>(&plain) {
        Err(e) => Err(bad_request(format!("the sealed request is not valid: {e}"))),
        Ok(inner) if inner.connection_id().is_some_and(|named| named != connection_id) => {
            Err(bad_request("the sealed request names another connection than the one it is sealed for".into()))
        }
        Ok(inner) => handle(app.clone(), call, inner).await,
    };
    let answer = match result {
        Ok(value) => serde_json::to_vec(&SealedAnswer::Ok(value)),
        Err(Failure { wire: refusal, .. }) => serde_json::to_vec(&SealedAnswer::<()>::Err(refusal)),
    }
    .map(zeroize::Zeroizing::new)
    .map_err(|e| internal("cannot encode an answer", &e))?;
    let mut channels = app.channels();
    let channel = channels.get(&connection_id).ok_or_else(|| {
        Failure::from(WireError::new(ErrorCode::UnknownConnection, "the connection ended while its call was answered"))
    })?;
    let reply = channel.seal(path, seq, &answer);
    if path == wire::path::DISCONNECT {
        channels.remove(&connection_id);
    }
    Ok(Json(reply))
}

/// The series public key named by `SeriesPublicKey`, if it is 64 hex digits.
fn parse_pin(text: &str) -> Option<[u8; 32]> {
    let mut pin = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut pin).ok()?;
    Some(pin)
}

async fn connect(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<Json<ConnectResponse>, Failure> {
    let raw = super::read_body(request, &unreadable).await?;
    let facts: ConnectRequest =
        serde_json::from_slice(&raw).map_err(|e| bad_request(format!("the request body is not valid: {e}")))?;
    facts.check_text().map_err(|e| bad_request(e.to_string()))?;
    let ours = crate::version::announced();
    if facts.protocol != PROTOCOL {
        let client: String = shorten(&facts.version, 40);
        log::warn!(
            "refused an add-in of version {client} (protocol {}) from {peer}: this server speaks protocol {PROTOCOL}",
            facts.protocol
        );
        return Err(Failure::from(WireError::new(
            ErrorCode::VersionMismatch,
            format!(
                "the add-in (version {client}, protocol {}) is of an earlier release than this licence server ({ours}, \
                 protocol {PROTOCOL}): upgrade the add-in in the configuration to release {ours}",
                facts.protocol
            ),
        )));
    }
    if licence_protocol::compatibility_line(&facts.version) != licence_protocol::compatibility_line(ours) {
        let client: String = shorten(&facts.version, 40);
        log::warn!("refused an add-in of version {client} from {peer}: this server is {ours}");
        return Err(Failure::from(WireError::version_mismatch(ours, &client)));
    }
    let Some(client_key) = facts.client_key.clone() else {
        return Err(bad_request("ClientKey is required: the add-in's channel key (64 hex digits)".into()));
    };
    let pin = match facts.series_public_key.as_deref() {
        None => {
            return Err(bad_request(
                "SeriesPublicKey is required: the series public key the configuration pins (64 hex digits)".into(),
            ))
        }
        Some(text) => parse_pin(text).ok_or_else(|| bad_request("SeriesPublicKey is not 64 hex digits".into()))?,
    };
    let id = app::new_id().map_err(Failure::from)?;
    // The channel is agreed before anything is recorded, so a bad key refuses the connection cleanly.
    let handshake = Handshake::new();
    let server_key = handshake.public_hex();
    let channel =
        handshake.finish(Role::Server, &id, &client_key).map_err(|e| bad_request(format!("ClientKey: {e}")))?;
    let peer_ip = peer.ip().to_canonical().to_string();
    let (key_id, computer) = (facts.key_id, facts.computer_name.clone());
    let connection_id = id.clone();
    let admitted = match app.admit(id, facts, pin, peer_ip).await? {
        Ok(admitted) => admitted,
        Err(refusal) => {
            log::warn!("refused a connection from {computer} ({peer}) for series {key_id}: {}", refusal.message);
            return Err(Failure::from(refusal));
        }
    };
    log::info!(
        "connection {connection_id} from {computer} ({peer}) for series {key_id} pinning {}…, proved by {} key(s)",
        hex::encode(&pin[..4]),
        admitted.provers.len()
    );
    let mut response = lease_terms(&app, connection_id.clone(), admitted.expire_time, server_key);
    let terms = response.terms();
    response.proofs =
        admitted.provers.iter().map(|held| channel::prove(&held.secrets.key, &held.key_file, &raw, &terms)).collect();
    app.channels().insert(connection_id, channel);
    Ok(Json(response))
}

fn lease_terms(app: &App, connection_id: String, expire_time: UtcTime, server_key: String) -> ConnectResponse {
    let (c, s) = app.setting(|s| (s.connection_timeout, s.session_timeout));
    ConnectResponse {
        connection_id,
        server_version: crate::version::announced().to_owned(),
        expire_time,
        connection_lease_seconds: c,
        session_lease_seconds: s,
        heartbeat_seconds: (c.min(s) / 4).max(1),
        server_key: Some(server_key),
        reserved_servers: app.setting(|s| s.reserved_servers.clone()),
        protocol: PROTOCOL,
        proofs: Vec::new(),
    }
}

async fn heartbeat(State(app): State<Arc<App>>, request: Request) -> Sealed {
    sealed(app, request, path::HEARTBEAT, |app, _, req: HeartbeatRequest| async move {
        let (expire_time, lost_sessions) =
            app.refresh(|inner, now| inner.ledger.heartbeat(&req.connection_id, &req.sessions, now))?;
        Ok(HeartbeatResponse { expire_time, lost_sessions })
    })
    .await
}

async fn obtain(State(app): State<Arc<App>>, request: Request) -> Sealed {
    sealed(app, request, path::OBTAIN, obtain_licence).await
}

async fn obtain_licence(app: Arc<App>, _: Call, req: ObtainRequest) -> Result<wire::LicenceGrant, Failure> {
    req.session.check_text().map_err(|e| bad_request(format!("Session.{e}")))?;
    let session_id = app::new_id().map_err(Failure::from)?;
    let who = format!(
        "session {} of {} (connection {})",
        req.session.session_number, req.session.computer_name, req.connection_id
    );
    let limit = app.setting(|s| s.max_sessions) as usize;
    let denial = denial_of(&app, &req);
    let grant = app
        .mutate(move |ledger, now| {
            if ledger.session_count() >= limit {
                return Ok(Err(limit));
            }
            ledger.obtain(&req.connection_id, req.session, session_id, now).map(Ok)
        })
        .await
        .inspect_err(|e| {
            if let AppError::Refused(refusal) = e {
                log::info!("refused a licence to {}: {refusal}", shorten(&who, 300));
                record_denial(&app, &denial, refusal.code());
            }
        })?
        .map_err(|limit| {
            log::warn!("refused a session: {limit} sessions are live ([Common] MaxSessions)");
            record_denial(&app, &denial, ErrorCode::ServerBusy);
            busy(format!("the server already holds {limit} sessions; try again later"))
        })?;
    if !grant.reused {
        app.observe.granted();
    }
    Ok(grant.into())
}

/// What a refusal of this obtain is recorded as, read before the request goes into the ledger: the
/// connection's series and the session's computer and user. `None` for an unknown connection.
fn denial_of(app: &App, req: &ObtainRequest) -> Option<Denial> {
    let series = app.read(|inner, _| Some(inner.ledger.connection(&req.connection_id)?.facts.key_id))?;
    let (computer, user) = (req.session.computer_name.clone(), req.session.user_name.clone());
    Some(Denial { time: app.now(), series, computer, user, reason: String::new() })
}

/// Records a refused licence. An ended connection is not one: its add-in connects and asks again.
fn record_denial(app: &App, denial: &Option<Denial>, code: ErrorCode) {
    if let Some(d) = denial.as_ref().filter(|_| code != ErrorCode::UnknownConnection) {
        app.observe.denied(Denial { time: app.now(), reason: code.name().to_owned(), ..d.clone() });
    }
}

async fn check(State(app): State<Arc<App>>, request: Request) -> Sealed {
    sealed(app, request, path::CHECK, |app, _, req: SessionRequest| async move {
        let grant = app.refresh(|inner, now| inner.ledger.check(&req.connection_id, &req.session_id, now))?;
        Ok(wire::LicenceGrant::from(grant))
    })
    .await
}

async fn release(State(app): State<Arc<App>>, request: Request) -> Sealed {
    sealed(app, request, path::RELEASE, |app, _, req: SessionRequest| async move {
        let released = app.mutate(move |ledger, now| ledger.release(&req.connection_id, &req.session_id, now)).await?;
        app.observe.released(usize::from(released));
        Ok(ReleaseResponse { released })
    })
    .await
}

async fn disconnect(State(app): State<Arc<App>>, request: Request) -> Sealed {
    sealed(app, request, path::DISCONNECT, |app, _, req: ConnectionRequest| async move {
        let sessions = app
            .mutate(move |ledger, now| {
                let sessions = ledger.sessions_of(&req.connection_id).count();
                ledger.disconnect(&req.connection_id, now).map(|()| sessions)
            })
            .await?;
        app.observe.released(sessions);
        Ok(ReleaseResponse { released: true })
    })
    .await
}

/// The connection's series and the key it pins; unknown (or ended) connections are refused.
fn series_and_pin(
    inner: &app::Inner,
    connection_id: &str,
) -> Result<(licence_protocol::key::SeriesId, [u8; 32]), Failure> {
    let connection = inner.ledger.connection(connection_id).ok_or_else(|| {
        Failure::from(WireError::new(ErrorCode::UnknownConnection, "unknown connection: connect again"))
    })?;
    let pin = crate::ledger::pin_of(&connection.facts).ok_or_else(|| {
        Failure::from(WireError::new(ErrorCode::UnknownConnection, "the connection pins no key: connect again"))
    })?;
    Ok((connection.facts.key_id, pin))
}

async fn key_info(State(app): State<Arc<App>>, request: Request) -> Sealed {
    sealed(app, request, path::KEY_INFO, |app, _, req: ConnectionRequest| async move {
        app.read(|inner, now| {
            let (series, pin) = series_and_pin(inner, &req.connection_id)?;
            let keys: Vec<KeyParameters> = inner
                .keys
                .values()
                .filter(|k| k.series == series && k.signer == Some(pin))
                .filter_map(|k| k.parameters(inner.standing.key(k.key_no).is_some_and(|s| s.counts), now))
                .collect();
            let counting = keys.iter().filter(|k| k.counts);
            Ok(KeyInfoResponse {
                key_id: series,
                licence_count: counting.clone().map(|k| k.licence_count).sum(),
                licences_used: inner.ledger.used_in_series(series),
                flags: counting.fold(0, |acc, k| acc | k.flags),
                keys,
            })
        })
    })
    .await
}

/// A protected object's key: only for a session of this connection that holds a licence of the
/// object's series now, and only from a key of that series that counts here and is signed by the
/// connection's pin (its secret makes the key; without a genuine key there is nothing to give).
async fn object(State(app): State<Arc<App>>, request: Request) -> Sealed {
    sealed(app, request, path::OBJECT, open_object).await
}

async fn open_object(app: Arc<App>, call: Call, req: ObjectRequest) -> Result<ObjectGrant, Failure> {
    let connection_id = call.connection_id;
    let (grant, pin) = app.refresh(|inner, now| {
        let (_, pin) = series_and_pin(inner, &connection_id)?;
        Ok::<_, Failure>((inner.ledger.check(&connection_id, &req.session_id, now)?, pin))
    })?;
    let series = req.object.series;
    if grant.key_id != series {
        return Err(Failure::from(WireError::new(
            ErrorCode::ObjectRefused,
            format!("the object is of series {series}; this connection holds a licence of series {}", grant.key_id),
        )));
    }
    let Some(held) = app.held_key(series, pin, grant.used_licence) else {
        return Err(Failure::from(WireError::new(
            ErrorCode::NoKey,
            format!("no key of series {series} that counts on this server opens on this computer"),
        )));
    };
    let key = derive_object_key(&held.secrets.series, &req.object);
    log::info!(
        "object \"{}\" of series {series} opened for session {} (connection {connection_id})",
        shorten(&req.name, text::NAME),
        req.session_id
    );
    Ok(ObjectGrant { object_key: hex::encode(key.as_bytes()), key_file: held.key_file.clone() })
}
