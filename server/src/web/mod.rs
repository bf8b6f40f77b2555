//! The server's one port, put together: the add-in protocol under `/licence`, the REST API under
//! `/api`, the console at `/`, behind one gate and one set of limits. Each part's handlers take only
//! the piece of the state they need ([`ServerState`]'s sub-states through `FromRef`): the seats and
//! keys (`App`), or access (`Guard`).

use crate::access::Guard;
use crate::app::App;
use crate::http::{self, MAX_BODY};
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::middleware;
use axum::Router;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;

/// Everything a request may need, handed to each handler as the sub-state it asks for.
#[derive(Clone)]
pub struct ServerState {
    pub app: Arc<App>,
    pub guard: Arc<Guard>,
}

impl FromRef<ServerState> for Arc<App> {
    fn from_ref(state: &ServerState) -> Self {
        state.app.clone()
    }
}

impl FromRef<ServerState> for Arc<Guard> {
    fn from_ref(state: &ServerState) -> Self {
        state.guard.clone()
    }
}

/// The routes of every surface, with the gate, the body limit, the panic answer and the metrics timer.
pub fn router(app: Arc<App>) -> Router {
    let state = ServerState { guard: app.guard.clone(), app };
    Router::new()
        .merge(crate::console::routes())
        .merge(http::api::routes())
        .merge(http::token::routes())
        .merge(http::metrics::routes())
        .merge(http::addin::routes())
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), http::gate))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(CatchPanicLayer::custom(http::answer_panic))
        .layer(middleware::from_fn_with_state(state.clone(), http::metrics::timed))
        .with_state(state)
}

#[cfg(test)]
mod console_tests;
