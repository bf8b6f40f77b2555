//! `POST /api/token`: short-lived HS256 JWT access tokens for automation.

use crate::app::App;
use axum::Router;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
}
