//! The REST API's error body, `{Code, Text, Message, Exception}`, as the administrator's guide shows
//! it. Every failure of an `/api` route goes through [`ApiError`]; internals are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use licence_protocol::text::{self, shorten};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Body<'a> {
    code: u16,
    text: &'a str,
    message: String,
    exception: &'static str,
}

/// The exception class the guide's example names, per status.
pub fn exception_class(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "EHTTPBadRequest",
        StatusCode::UNAUTHORIZED => "EHTTPUnauthorized",
        StatusCode::FORBIDDEN => "EHTTPForbidden",
        StatusCode::NOT_FOUND => "EHTTPNotFound",
        StatusCode::METHOD_NOT_ALLOWED => "EHTTPMethodNotAllowed",
        StatusCode::CONFLICT => "EHTTPConflict",
        StatusCode::GONE => "EHTTPGone",
        StatusCode::PAYLOAD_TOO_LARGE => "EHTTPPayloadTooLarge",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "EHTTPUnsupportedMediaType",
        StatusCode::TOO_MANY_REQUESTS => "EHTTPTooManyRequests",
        StatusCode::NOT_IMPLEMENTED => "EHTTPNotImplemented",
        StatusCode::BAD_GATEWAY => "EHTTPBadGateway",
        StatusCode::SERVICE_UNAVAILABLE => "EHTTPServiceUnavailable",
        _ => "EHTTPInternalServerError",
    }
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    pub fn not_found_url(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("The requested URL \"{}\" was not found.", shorten(path, text::LINE)))
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, what)
    }

    pub fn bad_request(why: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, why)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Authorization required: use HTTP basic authentication.")
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("The method {} is not allowed for \"{}\".", shorten(method, text::LINE), shorten(path, text::LINE)),
        )
    }

    pub fn api_disabled() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The API is switched off in the server's parameters ([API] Enabled=0).",
        )
    }

    /// A failure whose details belong in the log only.
    pub fn internal(context: &str, detail: impl std::fmt::Display) -> Self {
        log::error!("{context}: {detail}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{context}; see the server log."))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let exception = exception_class(self.status);
        let body = Body {
            code: self.status.as_u16(),
            text: self.status.canonical_reason().unwrap_or("Error"),
            message: format!("({exception}) {}", self.message),
            exception,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"licenceserver\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn not_found_reads_like_the_guide() {
        let response = ApiError::not_found_url("/api/someurl").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let bytes = axum::body::to_bytes(response.into_body(), 10_000).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["Code"], 404);
        assert_eq!(json["Text"], "Not Found");
        assert_eq!(json["Message"], "(EHTTPNotFound) The requested URL \"/api/someurl\" was not found.");
        assert_eq!(json["Exception"], "EHTTPNotFound");
    }

    #[test]
    fn long_paths_are_cut() {
        let e = ApiError::not_found_url(&"a".repeat(5000));
        assert!(e.message.len() < 400);
    }
}
