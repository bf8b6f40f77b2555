//! The HTTP surfaces of the server's one port: the REST API under `/api` and the add-in protocol under
//! `/licence`, with the pieces every route shares (`crate::web` puts them and the console together):
//! the gate in front of `/api` and the console (switched off → 503, then the access checks of
//! `crate::access`), body limits, the answers for unknown paths and methods, and JSON bodies that fail
//! with a clear message instead of a bare rejection.

pub mod addin;
pub mod api;
pub mod error;
pub mod metrics;
pub mod serve;
pub mod token;

use crate::access::{Guard, Scope, Verdict};
use crate::app::App;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use error::ApiError;
use licence_protocol::text::{self, shorten};
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// No request of ours comes near this; anything larger is refused with 413 before it is read whole.
pub const MAX_BODY: usize = 64 * 1024;

/// A bug that panics in a handler still gets an answer (500 with the error body), and the server
/// carries on; the panic itself is logged by the panic hook.
pub(crate) fn answer_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "The server failed to handle the request; see its log.")
        .into_response()
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// In front of every request: a body announced larger than [`MAX_BODY`] is refused before it is
/// read; `/api` may be switched off or need a login.
pub(crate) async fn gate(
    State(app): State<Arc<App>>,
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    if announced_length(&request).is_some_and(|n| n > MAX_BODY as u64) {
        let message = format!("the request body is larger than {MAX_BODY} bytes");
        return if request.uri().path().starts_with(addin::PREFIX) {
            addin::http_refusal(StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
        } else {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
        };
    }
    let path = request.uri().path();
    let scope = if is_api(path) {
        if !app.setting(|s| s.api_enabled) {
            return ApiError::api_disabled().into_response();
        }
        Some(Scope::Api)
    } else if path == "/" || path.starts_with("/console") {
        Some(Scope::Console)
    } else {
        None
    };
    if let Some(scope) = scope {
        // Reads that need a login like a change: a backup code can move a key away; the parameters and
        // the log are the seed's "parameters and service operations".
        let sensitive = path.ends_with(api::BACKUP_CODE_SUFFIX)
            || path.starts_with("/console/parameters")
            || path.starts_with("/console/log");
        // A token cannot buy a token: `/api/token` takes the password only.
        let tokens = path != "/api/token";
        let peer =
            request.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        match guard.check(scope, request.method(), sensitive, tokens, peer, request.headers()) {
            Verdict::Allowed => {}
            Verdict::Unauthorized => return ApiError::unauthorized().into_response(),
            Verdict::Slowed(seconds) => {
                let mut response = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("too many failed logins from this address or for this user name; try again in {seconds} s"),
                )
                .into_response();
                response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
                return response;
            }
            Verdict::Forbidden(why) => {
                log::warn!("refused {} {} from {peer}: {why}", request.method(), shorten(path, text::NAME));
                return ApiError::new(StatusCode::FORBIDDEN, why).into_response();
            }
        }
    }
    next.run(request).await
}

fn announced_length(request: &Request) -> Option<u64> {
    request.headers().get(axum::http::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

pub(crate) async fn not_found(request: Request) -> Response {
    let path = request.uri().path();
    if path.starts_with(addin::PREFIX) {
        addin::unknown_call(path).into_response()
    } else {
        ApiError::not_found_url(path).into_response()
    }
}

pub(crate) async fn method_not_allowed(request: Request) -> Response {
    let (method, path) = (request.method().as_str(), request.uri().path());
    if path.starts_with(addin::PREFIX) {
        addin::wrong_method(method, path).into_response()
    } else {
        ApiError::method_not_allowed(method, path).into_response()
    }
}

/// Reads a JSON body whatever its `Content-Type` (1C's HTTP client often sends none), turning every
/// failure into the caller's own error type with the reason spelled out.
pub async fn read_json<T: DeserializeOwned, E>(
    request: Request,
    fail: impl Fn(StatusCode, String) -> E,
) -> Result<T, E> {
    let bytes = read_body(request, &fail).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, format!("the request body is not valid: {e}")))
}

/// Reads a body's exact bytes (refusing an empty or oversized one), for a caller that needs them as
/// they came (`connect`'s proofs sign them).
pub async fn read_body<E>(request: Request, fail: &impl Fn(StatusCode, String) -> E) -> Result<Bytes, E> {
    let bytes = match Bytes::from_request(request, &()).await {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(fail(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {MAX_BODY} bytes"),
            ))
        }
        Err(rejection) => {
            return Err(fail(StatusCode::BAD_REQUEST, format!("the request body cannot be read: {rejection}")))
        }
    };
    if bytes.is_empty() {
        return Err(fail(StatusCode::BAD_REQUEST, "the request body is empty; a JSON object is expected".into()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::Router;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    #[tokio::test]
    async fn a_panicking_handler_still_answers_with_the_error_body() {
        let router: Router = Router::new()
            .route("/boom", axum::routing::get(|| async { panic!("a bug") as &str }))
            .layer(CatchPanicLayer::custom(answer_panic));
        let response = router.oneshot(Request::builder().uri("/boom").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(response.into_body(), 10_000).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["Exception"], "EHTTPInternalServerError");
        assert!(!json["Message"].as_str().unwrap().contains("a bug"), "internals stay in the log");
    }
}
