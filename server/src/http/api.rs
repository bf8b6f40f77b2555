//! The REST API of the administrator's guide: `/api`, `/api/serverinfo`, `/api/licences[/{KeyNo}]`,
//! `/api/connections[/{ID}]`, `/api/sessions[/{ID}]`, and `DELETE /api/sessions/{ID}` to end a
//! session and free its licence at once. Lists take `?Field=Value` filters.
//!
//! Installing licences: `POST /api/licences` (the guide's; online through the activation centre),
//! `POST /api/licences/request` and `POST /api/licences/response` (offline, by files), and
//! `GET /api/licences/{KeyNo}/backupcode` (always behind the login, as it can move a key away).
//!
//! Each handler asks [`crate::queries`] (which the console asks too) and serializes the typed view
//! it answers with; a query's failure becomes the error body with the status the query gives.

use super::error::ApiError;
use crate::app::App;
use crate::queries;
use crate::views::{self, ApiRoot, BackupCodeView, Connections, InstalledView, Licences, Sessions};
use axum::body::Bytes;
use axum::extract::FromRef;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use licence_protocol::centre::ActivationRequest;
use serde_json::Value;
use std::sync::Arc;

type Answer<T> = Result<Json<T>, ApiError>;
type Filters = Query<Vec<(String, String)>>;

pub const URNS: [&str; 4] = ["/api/serverinfo", "/api/licences", "/api/connections", "/api/sessions"];

/// The end of the route that shows a key's backup code.
pub const BACKUP_CODE_SUFFIX: &str = "/backupcode";

/// A query's failure as the API answers it: its status, its message in the error body.
impl From<queries::Error> for ApiError {
    fn from(e: queries::Error) -> Self {
        ApiError::new(e.status(), e.to_string())
    }
}

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

async fn api_root() -> Json<ApiRoot> {
    Json(ApiRoot { version: crate::version::announced(), urns: URNS })
}

async fn server_info(State(app): State<Arc<App>>) -> Json<crate::sysinfo::ServerInfo> {
    Json(app.info.clone())
}

/// The items the `?Field=Value` filters keep.
fn filtered<T: serde::Serialize>(items: Vec<T>, Query(query): Filters) -> Result<Vec<T>, ApiError> {
    views::filter(items, &query).map_err(|e| ApiError::bad_request(e.to_string()))
}

async fn licences(State(app): State<Arc<App>>, query: Filters) -> Answer<Licences> {
    let licences = filtered(queries::licences(&app), query)?;
    Ok(Json(Licences { licences }))
}

async fn licence(State(app): State<Arc<App>>, Path(key_no): Path<String>) -> Answer<views::LicenceView> {
    Ok(Json(queries::licence(&app, queries::parse_key_no(&key_no)?)?))
}

/// The guide's `POST /api/licences`: redeems the code at the activation centre and installs the
/// key it answers with; 201 with the key's fields.
async fn install_licence(
    State(app): State<Arc<App>>,
    request: Request,
) -> Result<(StatusCode, Json<InstalledView>), ApiError> {
    let body: Value = super::read_json(request, ApiError::new).await?;
    let installed = queries::install_online(&app, &body).await?;
    Ok((StatusCode::CREATED, Json(queries::installed(&app, &installed))))
}

/// Offline, step 1: the activation request file for the vendor, from the same body as
/// `POST /api/licences`.
async fn activation_request(State(app): State<Arc<App>>, request: Request) -> Result<impl IntoResponse, ApiError> {
    let body: Value = super::read_json(request, ApiError::new).await?;
    let request: ActivationRequest = queries::activation_request(&app, &body).await?;
    let disposition = format!("attachment; filename=\"activation-{}.request.json\"", request.request_id);
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(request)))
}

/// Offline, step 2: installs the vendor's response file (the body, as it is).
async fn install_response(
    State(app): State<Arc<App>>,
    body: Bytes,
) -> Result<(StatusCode, Json<InstalledView>), ApiError> {
    let installed = queries::install_response(&app, body).await?;
    Ok((StatusCode::CREATED, Json(queries::installed(&app, &installed))))
}

/// The backup code of an installed key (always behind the login: it can move the key away).
async fn backup_code(State(app): State<Arc<App>>, Path(key_no): Path<String>) -> Answer<BackupCodeView> {
    Ok(Json(queries::backup_code(&app, queries::parse_key_no(&key_no)?)?))
}

async fn connections(State(app): State<Arc<App>>, query: Filters) -> Answer<Connections> {
    Ok(Json(Connections { connections: filtered(queries::connections(&app), query)? }))
}

async fn connection(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer<views::ConnectionView> {
    Ok(Json(queries::connection(&app, &id)?))
}

async fn sessions(State(app): State<Arc<App>>, query: Filters) -> Answer<Sessions> {
    Ok(Json(Sessions { sessions: filtered(queries::sessions(&app), query)? }))
}

async fn session(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer<views::SessionView> {
    Ok(Json(queries::session(&app, &id)?))
}

/// Ends a session: its licence is free at once and the add-in learns it at its next call.
async fn end_session(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer<views::SessionView> {
    Ok(Json(queries::end_session(&app, &id).await?))
}
