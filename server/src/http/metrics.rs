//! `GET /api/metrics`: the server's counters in the Prometheus text format.

use crate::app::App;
use axum::Router;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
}
