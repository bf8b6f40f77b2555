//! The add-in protocol (`protocol/PROTOCOL.md`): connect, heartbeat, obtain/check/release a licence,
//! key parameters, disconnect. Every failure answers a numbered [`WireError`] the add-in can show the
//! 1C developer; nothing here needs a login.

use crate::app::{self, App, AppError};
use crate::ledger::LedgerError;
use crate::observe::Denial;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use licence_protocol::channel::{Handshake, Role, SealedMessage};
use licence_protocol::datafile::derive_object_key;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{
    self, path, ConnectRequest, ConnectResponse, ConnectionRequest, ErrorCode, HeartbeatRequest, HeartbeatResponse,
    KeyInfoResponse, KeyParameters, ObjectGrant, ObjectRequest, ObtainRequest, ReleaseResponse, SessionRequest,
    WireError,
};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;

pub const PREFIX: &str = "/licence/";

pub fn routes() -> Router<Arc<App>> {
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

/// A protocol failure as an HTTP answer.
pub struct Failure(WireError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

impl From<LedgerError> for Failure {
    fn from(e: LedgerError) -> Self {
        Failure(WireError::new(e.code(), e.to_string()))
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Refused(e) => e.into(),
            AppError::Internal(e) => {
                log::error!("add-in request failed: {e}");
                Failure(WireError::new(ErrorCode::Internal, "the server could not keep the change; see its log"))
            }
        }
    }
}

fn busy(message: String) -> Failure {
    Failure(WireError::new(ErrorCode::ServerBusy, message))
}

pub fn bad_request(message: String) -> Failure {
    Failure(WireError::new(ErrorCode::BadRequest, message))
}

pub fn unknown_call(path: &str) -> Failure {
    let path: String = path.chars().take(200).collect();
    Failure(WireError::new(ErrorCode::BadRequest, format!("\"{path}\" is not a call of this server's add-in protocol")))
}

type Answer<T> = Result<Json<T>, Failure>;

async fn body<T: DeserializeOwned>(app: &Arc<App>, request: Request) -> Result<T, Failure> {
    super::read_json(request, app, |_, message| bad_request(message)).await
}

async fn connect(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Answer<ConnectResponse> {
    let facts: ConnectRequest = body(&app, request).await?;
    let ours = crate::version::announced();
    if licence_protocol::compatibility_line(&facts.version) != licence_protocol::compatibility_line(ours) {
        let client: String = facts.version.chars().take(40).collect();
        log::warn!("refused an add-in of version {client} from {peer}: this server is {ours}");
        return Err(Failure(WireError::version_mismatch(ours, &client)));
    }
    let limit = app.setting(|s| s.max_connections) as usize;
    if app.lock().ledger.connection_count() >= limit {
        log::warn!("refused a connection from {peer}: {limit} connections are live ([Common] MaxConnections)");
        return Err(busy(format!("the server already holds {limit} connections; try again later")));
    }
    let id = app::new_id().map_err(Failure::from)?;
    // The channel is agreed before anything is recorded, so a bad key refuses the connection cleanly.
    let channel = match facts.client_key.as_deref() {
        Some(client_key) => {
            let handshake = Handshake::new();
            let server_key = handshake.public_hex();
            let channel =
                handshake.finish(Role::Server, &id, client_key).map_err(|e| bad_request(format!("ClientKey: {e}")))?;
            Some((server_key, channel))
        }
        None => None,
    };
    let peer_ip = peer.ip().to_canonical().to_string();
    let (key_id, computer) = (facts.key_id, facts.computer_name.clone());
    let connection_id = id.clone();
    let expire_time = app
        .mutate(move |ledger, now| Ok::<_, LedgerError>(ledger.connect(id, facts, peer_ip, now).expire_time))
        .await?;
    log::info!("connection {connection_id} from {computer} ({peer}) for series {key_id}");
    let server_key = channel.map(|(server_key, channel)| {
        app.channels().insert(connection_id.clone(), channel);
        server_key
    });
    Ok(Json(lease_terms(&app, connection_id, expire_time, server_key)))
}

fn lease_terms(app: &App, connection_id: String, expire_time: UtcTime, server_key: Option<String>) -> ConnectResponse {
    let (c, s) = app.setting(|s| (s.connection_timeout, s.session_timeout));
    ConnectResponse {
        connection_id,
        server_version: crate::version::announced().to_owned(),
        expire_time,
        connection_lease_seconds: c,
        session_lease_seconds: s,
        heartbeat_seconds: (c.min(s) / 4).max(1),
        server_key,
        reserved_servers: app.setting(|s| s.reserved_servers.clone()),
    }
}

async fn heartbeat(State(app): State<Arc<App>>, request: Request) -> Answer<HeartbeatResponse> {
    let req: HeartbeatRequest = body(&app, request).await?;
    let (expire_time, lost_sessions) = {
        let mut inner = app.lock();
        inner.ledger.heartbeat(&req.connection_id, &req.sessions, crate::clock::now())?
    };
    Ok(Json(HeartbeatResponse { expire_time, lost_sessions }))
}

async fn obtain(State(app): State<Arc<App>>, request: Request) -> Answer<wire::LicenceGrant> {
    let req: ObtainRequest = body(&app, request).await?;
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
                log::info!("refused a licence to {}: {refusal}", who.chars().take(300).collect::<String>());
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
    Ok(Json(grant.into()))
}

/// What a refusal of this obtain is recorded as, read before the request goes into the ledger: the
/// connection's series and the session's computer and user. `None` for an unknown connection.
fn denial_of(app: &App, req: &ObtainRequest) -> Option<Denial> {
    let series = app.lock().ledger.connection(&req.connection_id)?.facts.key_id;
    let (computer, user) = (req.session.computer_name.clone(), req.session.user_name.clone());
    Some(Denial { time: crate::clock::now(), series, computer, user, reason: String::new() })
}

/// Records a refused licence. An ended connection is not one: its add-in connects and asks again.
fn record_denial(app: &App, denial: &Option<Denial>, code: ErrorCode) {
    if let Some(d) = denial.as_ref().filter(|_| code != ErrorCode::UnknownConnection) {
        app.observe.denied(Denial { time: crate::clock::now(), reason: code.name().to_owned(), ..d.clone() });
    }
}

async fn check(State(app): State<Arc<App>>, request: Request) -> Answer<wire::LicenceGrant> {
    let req: SessionRequest = body(&app, request).await?;
    let grant = {
        let mut inner = app.lock();
        inner.ledger.check(&req.connection_id, &req.session_id, crate::clock::now())?
    };
    Ok(Json(grant.into()))
}

async fn release(State(app): State<Arc<App>>, request: Request) -> Answer<ReleaseResponse> {
    let req: SessionRequest = body(&app, request).await?;
    let released = app.mutate(move |ledger, now| ledger.release(&req.connection_id, &req.session_id, now)).await?;
    app.observe.released(usize::from(released));
    Ok(Json(ReleaseResponse { released }))
}

async fn disconnect(State(app): State<Arc<App>>, request: Request) -> Answer<ReleaseResponse> {
    let req: ConnectionRequest = body(&app, request).await?;
    let sessions = app
        .mutate(move |ledger, now| {
            let sessions = ledger.sessions_of(&req.connection_id).count();
            ledger.disconnect(&req.connection_id, now).map(|()| sessions)
        })
        .await?;
    app.observe.released(sessions);
    Ok(Json(ReleaseResponse { released: true }))
}

async fn key_info(State(app): State<Arc<App>>, request: Request) -> Answer<KeyInfoResponse> {
    let req: ConnectionRequest = body(&app, request).await?;
    let now = crate::clock::now();
    let inner = app.lock();
    let series =
        inner.ledger.connection(&req.connection_id).map(|c| c.facts.key_id).ok_or_else(|| {
            Failure(WireError::new(ErrorCode::UnknownConnection, "unknown connection: connect again"))
        })?;
    let keys: Vec<KeyParameters> = inner
        .keys
        .values()
        .filter(|k| k.series == series)
        .filter_map(|k| k.parameters(inner.standing.key(k.key_no).is_some_and(|s| s.counts), now))
        .collect();
    let counting = keys.iter().filter(|k| k.counts);
    Ok(Json(KeyInfoResponse {
        key_id: series,
        licence_count: counting.clone().map(|k| k.licence_count).sum(),
        licences_used: inner.ledger.used_in_series(series),
        flags: counting.fold(0, |acc, k| acc | k.flags),
        keys,
    }))
}

/// A protected object's key, sealed in the connection's channel: only for a session of this
/// connection that holds a licence of the object's series now, and only from a key of that series
/// that counts here (its secret makes the key; without a genuine key there is nothing to give).
async fn object(State(app): State<Arc<App>>, request: Request) -> Result<Json<SealedMessage>, Failure> {
    let sealed: SealedMessage = body(&app, request).await?;
    let connection_id = sealed.connection_id.clone();
    let plain = {
        let mut channels = app.channels();
        let Some(channel) = channels.get_mut(&connection_id) else {
            drop(channels);
            let known = app.lock().ledger.connection(&connection_id).is_some();
            return Err(Failure(if known {
                WireError::new(
                    ErrorCode::NoChannel,
                    "this connection has no protected channel (the server restarted since it connected); connect again",
                )
            } else {
                WireError::new(
                    ErrorCode::UnknownConnection,
                    format!("connection {} is unknown", shorten(&connection_id)),
                )
            }));
        };
        channel.open_request(path::OBJECT, &sealed).map_err(|e| {
            log::warn!("refused a sealed object request on connection {connection_id}: {e}");
            bad_request(format!("the sealed request was refused: {e}"))
        })?
    };
    let req: ObjectRequest =
        serde_json::from_slice(&plain).map_err(|e| bad_request(format!("the sealed request is not valid: {e}")))?;
    let grant = {
        let mut inner = app.lock();
        inner.ledger.check(&connection_id, &req.session_id, crate::clock::now())?
    };
    let series = req.object.series;
    if grant.key_id != series {
        return Err(Failure(WireError::new(
            ErrorCode::ObjectRefused,
            format!("the object is of series {series}; this connection holds a licence of series {}", grant.key_id),
        )));
    }
    let worker = app.clone();
    let found = tokio::task::spawn_blocking(move || worker.series_secret(series))
        .await
        .map_err(|e| Failure::from(AppError::Internal(e.to_string())))?;
    let Some((secret, key_file)) = found else {
        return Err(Failure(WireError::new(
            ErrorCode::NoKey,
            format!("no key of series {series} that counts on this server opens on this computer"),
        )));
    };
    let key = derive_object_key(&secret, &req.object);
    let answer = ObjectGrant { object_key: hex::encode(key.as_bytes()), key_file };
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(&answer).map_err(|e| Failure::from(AppError::Internal(e.to_string())))?,
    );
    log::info!(
        "object \"{}\" of series {series} opened for session {} (connection {connection_id})",
        shorten(&req.name),
        req.session_id
    );
    let channels = app.channels();
    let channel = channels.get(&connection_id).ok_or_else(|| {
        Failure(WireError::new(ErrorCode::NoChannel, "the connection ended while its object was being opened"))
    })?;
    Ok(Json(channel.seal(path::OBJECT, sealed.seq, &plain)))
}

fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}
