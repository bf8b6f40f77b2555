//! `POST /api/token`: gives a short-lived API token (`access::token`) to the API's user, once the
//! gate has checked the basic credentials (a token cannot buy a token).

use crate::access::token::LIFETIME_SECONDS;
use crate::access::Guard;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use licence_protocol::time::UtcTime;
use serde_json::json;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Guard>: axum::extract::FromRef<S>,
{
    Router::new().route("/api/token", post(issue))
}

/// Gives a token; the gate has already checked the basic credentials.
async fn issue(State(guard): State<Arc<Guard>>) -> impl IntoResponse {
    let now = guard.clock().now().unix_millis() / 1000;
    let (token, claims) = guard.issue_token(now);
    log::info!("API token {} issued to `{}`, valid until {}", claims.jti, claims.sub, unix_time(claims.exp));
    (
        StatusCode::OK,
        Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": LIFETIME_SECONDS,
            "ExpireTime": unix_time(claims.exp),
        })),
    )
}

fn unix_time(seconds: i64) -> String {
    UtcTime::from_unix_millis(seconds * 1000).map(|t| t.to_string()).unwrap_or_default()
}
