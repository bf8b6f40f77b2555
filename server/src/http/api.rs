//! The REST API of the administrator's guide: `/api`, `/api/serverinfo`, `/api/licences[/{KeyNo}]`,
//! `/api/connections[/{ID}]`, `/api/sessions[/{ID}]`, and `DELETE /api/sessions/{ID}` to end a
//! session and free its licence at once. Lists take `?Field=Value` filters.

use super::error::ApiError;
use super::views;
use crate::app::{App, AppError};
use crate::ledger::LedgerError;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use licence_protocol::activation::ActivationCode;
use licence_protocol::time::UtcTime;
use serde_json::{json, Value};
use std::sync::Arc;

type Answer = Result<Json<Value>, ApiError>;
type Filters = Query<Vec<(String, String)>>;

pub const URNS: [&str; 4] = ["/api/serverinfo", "/api/licences", "/api/connections", "/api/sessions"];

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api", get(api_root))
        .route("/api/", get(api_root))
        .route("/api/serverinfo", get(server_info))
        .route("/api/licences", get(licences).post(install_licence))
        .route("/api/licences/{key_no}", get(licence))
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

fn licence_values(app: &App, now: UtcTime) -> Vec<Value> {
    let inner = app.lock();
    to_values(inner.keys.values().map(|k| views::licence(k, &inner.standing, inner.ledger.used(k.key_no), now)))
}

async fn licences(State(app): State<Arc<App>>, query: Filters) -> Answer {
    listed("Licences", licence_values(&app, UtcTime::now()), query)
}

async fn licence(State(app): State<Arc<App>>, Path(key_no): Path<String>) -> Answer {
    let number: u64 = key_no.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "KeyNo `{}` is not a key's serial number",
            key_no.chars().take(64).collect::<String>()
        ))
    })?;
    let inner = app.lock();
    let key = inner
        .keys
        .get(&number)
        .ok_or_else(|| ApiError::not_found(format!("No key with KeyNo {number} is installed.")))?;
    Ok(Json(json!(views::licence(key, &inner.standing, inner.ledger.used(number), UtcTime::now()))))
}

/// Installing from an activation code needs the vendor's activation centre, which a later release
/// brings; until then the route answers 501 after checking its body (a mistyped code is a 400: its
/// check digit), so clients get the same 400s.
async fn install_licence(State(app): State<Arc<App>>, request: Request) -> Result<Json<Value>, ApiError> {
    let body: Value = super::read_json(request, &app, ApiError::new).await?;
    match body.get("ActivationCodeString") {
        Some(Value::String(text)) => {
            text.parse::<ActivationCode>().map_err(|e| ApiError::bad_request(format!("ActivationCodeString: {e}")))?;
        }
        Some(_) => {
            return Err(ApiError::bad_request("ActivationCodeString must be a string like 4345-9320-2035-7421-5369"))
        }
        None => return Err(ApiError::bad_request("ActivationCodeString is required")),
    }
    Err(ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "Installing a licence from an activation code is not available in this version; copy the key file into the server's data folder.",
    ))
}

async fn connections(State(app): State<Arc<App>>, query: Filters) -> Answer {
    let now = UtcTime::now();
    let items = {
        let inner = app.lock();
        to_values(inner.ledger.connections().map(|c| views::connection(c, now)))
    };
    listed("Connections", items, query)
}

async fn connection(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let inner = app.lock();
    let c = inner.ledger.connection(&id).ok_or_else(|| not_found("connection", &id))?;
    Ok(Json(json!(views::connection(c, UtcTime::now()))))
}

async fn sessions(State(app): State<Arc<App>>, query: Filters) -> Answer {
    let now = UtcTime::now();
    let items = {
        let inner = app.lock();
        to_values(inner.ledger.sessions().map(|s| views::session(s, now)))
    };
    listed("Sessions", items, query)
}

async fn session(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let inner = app.lock();
    let s = inner.ledger.session(&id).ok_or_else(|| not_found("session", &id))?;
    Ok(Json(json!(views::session(s, UtcTime::now()))))
}

/// Ends a session: its licence is free at once and the add-in learns it at its next call.
async fn end_session(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let key = id.clone();
    let ended = app
        .mutate(move |ledger, now| Ok::<_, LedgerError>(ledger.end_session(&key, now).map(|s| views::session(&s, now))))
        .await
        .map_err(|e| match e {
            AppError::Refused(e) => ApiError::bad_request(e.to_string()),
            AppError::Internal(e) => ApiError::internal("the session could not be ended", e),
        })?;
    match ended {
        Some(view) => {
            log::info!("session {id} ended by the administrator");
            Ok(Json(json!(view)))
        }
        None => Err(not_found("session", &id)),
    }
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("No {what} with ID \"{}\".", id.chars().take(64).collect::<String>()))
}
