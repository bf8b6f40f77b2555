//! The REST API of the administrator's guide: `/api`, `/api/serverinfo`, `/api/licences[/{KeyNo}]`,
//! `/api/connections[/{ID}]`, `/api/sessions[/{ID}]`, and `DELETE /api/sessions/{ID}` to end a
//! session and free its licence at once. Lists take `?Field=Value` filters.
//!
//! Installing licences: `POST /api/licences` (the guide's; online through the activation centre),
//! `POST /api/licences/request` and `POST /api/licences/response` (offline, by files), and
//! `GET /api/licences/{KeyNo}/backupcode` (always behind the login, as it can move a key away).

use super::error::ApiError;
use super::views;
use crate::activation::{self, ActivationError, InstallOrder, Installed};
use crate::app::{App, AppError};
use crate::ledger::LedgerError;
use axum::body::Bytes;
use axum::extract::FromRef;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use licence_protocol::activation::ActivationCode;
use licence_protocol::centre::ActivationRequest;
use licence_protocol::time::UtcTime;
use serde_json::{json, Value};
use std::sync::Arc;

type Answer = Result<Json<Value>, ApiError>;
type Filters = Query<Vec<(String, String)>>;

pub const URNS: [&str; 4] = ["/api/serverinfo", "/api/licences", "/api/connections", "/api/sessions"];

/// The end of the route that shows a key's backup code.
pub const BACKUP_CODE_SUFFIX: &str = "/backupcode";

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<App>: FromRef<S>,
{
    Router::new()
        .route("/api", get(api_root))
        .route("/api/", get(api_root))
        .route("/api/serverinfo", get(server_info))
        .route("/api/licences", get(licences).post(install_licence))
        .route("/api/licences/request", post(activation_request))
        .route("/api/licences/response", post(install_response))
        .route("/api/licences/{key_no}", get(licence))
        .route("/api/licences/{key_no}/backupcode", get(backup_code))
        .route("/api/connections", get(connections))
        .route("/api/connections/{id}", get(connection))
        .route("/api/sessions", get(sessions))
        .route("/api/sessions/{id}", get(session).delete(end_session))
}

async fn api_root() -> Json<Value> {
    Json(json!({ "Version": crate::version::announced(), "Urns": URNS }))
}

async fn server_info(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!(app.info))
}

fn to_values<T: serde::Serialize>(items: impl Iterator<Item = T>) -> Vec<Value> {
    items.filter_map(|i| serde_json::to_value(i).ok()).collect()
}

fn listed(name: &str, items: Vec<Value>, Query(query): Filters) -> Answer {
    let items = views::filter(items, &query).map_err(ApiError::bad_request)?;
    Ok(Json(json!({ name: items })))
}

/// Every installed key as the API lists it (the console shows the same fields).
pub(crate) fn licence_values(app: &App, now: UtcTime) -> Vec<Value> {
    let inner = app.lock();
    to_values(inner.keys.values().map(|k| views::licence(k, &inner.standing, inner.ledger.used(k.key_no), now)))
}

async fn licences(State(app): State<Arc<App>>, query: Filters) -> Answer {
    listed("Licences", licence_values(&app, crate::clock::now()), query)
}

pub(crate) fn parse_key_no(key_no: &str) -> Result<u64, ApiError> {
    key_no.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "KeyNo `{}` is not a key's serial number",
            key_no.chars().take(64).collect::<String>()
        ))
    })
}

async fn licence(State(app): State<Arc<App>>, Path(key_no): Path<String>) -> Answer {
    Ok(Json(licence_value(&app, parse_key_no(&key_no)?)?))
}

/// One installed key as `/api/licences/{KeyNo}` shows it.
pub(crate) fn licence_value(app: &App, number: u64) -> Result<Value, ApiError> {
    let inner = app.lock();
    let key = inner
        .keys
        .get(&number)
        .ok_or_else(|| ApiError::not_found(format!("No key with KeyNo {number} is installed.")))?;
    Ok(json!(views::licence(key, &inner.standing, inner.ledger.used(number), crate::clock::now())))
}

fn activation_error(e: ActivationError) -> ApiError {
    ApiError::from(e)
}

/// Runs blocking activation work (files, the centre, USB) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ActivationError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(activation_error),
        Err(e) => Err(ApiError::internal("the licence could not be installed", e)),
    }
}

/// The guide's `POST /api/licences`: redeems the code at the activation centre and installs the
/// key it answers with; 201 with the key's fields.
async fn install_licence(State(app): State<Arc<App>>, request: Request) -> Result<impl IntoResponse, ApiError> {
    let body: Value = super::read_json(request, ApiError::new).await?;
    let installed = install_online(&app, &body).await?;
    Ok((StatusCode::CREATED, Json(installed_view(&app, &installed))))
}

/// Redeems the code of `body` (the guide's `POST /api/licences` body) at the activation centre and
/// installs the key it answers with; shared by the API and the console so both say the same.
pub(crate) async fn install_online(app: &Arc<App>, body: &Value) -> Result<Installed, ApiError> {
    let order = InstallOrder::from_json(body).map_err(activation_error)?;
    let url =
        app.setting(|s| s.licence_center_url.clone()).ok_or_else(|| activation_error(ActivationError::NoCentre))?;
    let worker = app.clone();
    blocking(move || {
        let target = worker.activation_target(order.blank_key_no)?;
        let request = order.request(&target, crate::clock::now());
        let answer = activation::ask_centre(&url, &request)?;
        let installed = activation::install(&worker.layout.data_dir(), &answer, Some(&request.request_id), |blank| {
            if blank == target.blank_key_no {
                Ok(target)
            } else {
                Err(ActivationError::BadAnswer("the key is for another carrier than the one asked for".into()))
            }
        })?;
        worker.reload_keys(crate::clock::now());
        Ok(installed)
    })
    .await
}

/// Offline, step 1: the activation request file for the vendor, from the same body as
/// `POST /api/licences`.
async fn activation_request(State(app): State<Arc<App>>, request: Request) -> Result<impl IntoResponse, ApiError> {
    let body: Value = super::read_json(request, ApiError::new).await?;
    let request = offline_request(&app, &body).await?;
    let disposition = format!("attachment; filename=\"activation-{}.request.json\"", request.request_id);
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(json!(request))))
}

/// The activation request document for the order in `body` (the `POST /api/licences` body).
pub(crate) async fn offline_request(app: &Arc<App>, body: &Value) -> Result<ActivationRequest, ApiError> {
    let order = InstallOrder::from_json(body).map_err(activation_error)?;
    let worker = app.clone();
    let request =
        blocking(move || Ok(order.request(&worker.activation_target(order.blank_key_no)?, crate::clock::now())))
            .await?;
    log::info!("activation request {} written for {}", request.request_id, request.code_label());
    Ok(request)
}

/// Offline, step 2: installs the vendor's response file (the body, as it is).
async fn install_response(State(app): State<Arc<App>>, body: Bytes) -> Result<impl IntoResponse, ApiError> {
    let installed = install_response_file(&app, body).await?;
    Ok((StatusCode::CREATED, Json(installed_view(&app, &installed))))
}

/// Installs the vendor's activation response file.
pub(crate) async fn install_response_file(app: &Arc<App>, body: Bytes) -> Result<Installed, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty; the activation response file is expected"));
    }
    let worker = app.clone();
    blocking(move || {
        let installed =
            activation::install(&worker.layout.data_dir(), &body, None, |blank| worker.activation_target(blank))?;
        worker.reload_keys(crate::clock::now());
        Ok(installed)
    })
    .await
}

fn installed_view(app: &App, installed: &Installed) -> Value {
    let inner = app.lock();
    match inner.keys.get(&installed.fields.key_no) {
        Some(key) => json!(views::licence(key, &inner.standing, inner.ledger.used(key.key_no), crate::clock::now())),
        None => json!(installed.fields),
    }
}

/// The backup code of an installed key, which re-installs it after a disk loss or a change of this
/// computer's identity, or moves it onto a USB blank.
async fn backup_code(State(app): State<Arc<App>>, Path(key_no): Path<String>) -> Answer {
    let number = parse_key_no(&key_no)?;
    let code = backup_code_of(&app, number)?;
    Ok(Json(json!({ "KeyNo": number, "BackupCode": code.to_string() })))
}

/// The backup code of key `number`, logged as shown (the API and the console both show it).
pub(crate) fn backup_code_of(app: &App, number: u64) -> Result<ActivationCode, ApiError> {
    let series = app
        .lock()
        .keys
        .get(&number)
        .map(|k| k.series)
        .ok_or_else(|| ApiError::not_found(format!("No key with KeyNo {number} is installed.")))?;
    let code = activation::backup_code(&app.layout.data_dir(), series, number).ok_or_else(|| {
        ApiError::not_found(format!(
            "The server has no backup code for key {number}: it was not installed from an activation code here. \
             The vendor can tell it."
        ))
    })?;
    log::info!("backup code of key {number} shown to the administrator");
    Ok(code)
}

async fn connections(State(app): State<Arc<App>>, query: Filters) -> Answer {
    listed("Connections", connection_values(&app), query)
}

/// Every live connection as the API lists it.
pub(crate) fn connection_values(app: &App) -> Vec<Value> {
    let now = crate::clock::now();
    let inner = app.lock();
    to_values(inner.ledger.connections().map(|c| views::connection(c, now)))
}

async fn connection(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let inner = app.lock();
    let c = inner.ledger.connection(&id).ok_or_else(|| not_found("connection", &id))?;
    Ok(Json(json!(views::connection(c, crate::clock::now()))))
}

async fn sessions(State(app): State<Arc<App>>, query: Filters) -> Answer {
    listed("Sessions", session_values(&app), query)
}

/// Every live session as the API lists it.
pub(crate) fn session_values(app: &App) -> Vec<Value> {
    let now = crate::clock::now();
    let inner = app.lock();
    to_values(inner.ledger.sessions().map(|s| views::session(s, now)))
}

async fn session(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let inner = app.lock();
    let s = inner.ledger.session(&id).ok_or_else(|| not_found("session", &id))?;
    Ok(Json(json!(views::session(s, crate::clock::now()))))
}

/// Ends a session: its licence is free at once and the add-in learns it at its next call.
async fn end_session(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    Ok(Json(json!(end_session_by_id(&app, &id).await?)))
}

/// Ends session `id` for the administrator (the API's `DELETE` and the console's button).
pub(crate) async fn end_session_by_id(app: &App, id: &str) -> Result<views::SessionView, ApiError> {
    let key = id.to_owned();
    let ended = app
        .mutate(move |ledger, now| Ok::<_, LedgerError>(ledger.end_session(&key, now).map(|s| views::session(&s, now))))
        .await
        .map_err(|e| match e {
            AppError::Refused(e) => ApiError::bad_request(e.to_string()),
            other => ApiError::internal("the session could not be ended", other),
        })?;
    match ended {
        Some(view) => {
            log::info!("session {id} ended by the administrator");
            app.observe.released(1);
            Ok(view)
        }
        None => Err(not_found("session", id)),
    }
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("No {what} with ID \"{}\".", id.chars().take(64).collect::<String>()))
}
