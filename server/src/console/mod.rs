//! The web console at `/`: the administrator's pages, rendered on the server, in Russian and English.
//! Plain HTML with an inline style and inline SVG, nothing fetched from elsewhere, so it works on an
//! air-gapped site. Every page reads the server's state through the same functions as the REST API
//! (`crate::http::api`), so the console and the API never disagree; every change is a POST form.
//!
//! Access is decided in one place, [`may_enter`], so the login scheme can change without touching
//! the pages.

mod html;
mod install;
mod pages;
mod params;
mod usage;

#[cfg(test)]
mod tests;

use crate::app::App;
use crate::config::Access;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
pub use html::{escape, Lang};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/console", get(pages::overview))
        .route("/console/licences", get(pages::licences))
        .route("/console/licences/{key_no}", get(pages::licence))
        .route("/console/licences/{key_no}/backupcode", post(pages::backup_code))
        .route("/console/install", get(install::page).post(install::online))
        .route("/console/install/request", post(install::request_file))
        .route("/console/install/response", post(install::response_file))
        .route("/console/sessions", get(pages::sessions))
        .route("/console/sessions/{id}/end", post(pages::end_session))
        .route("/console/connections", get(pages::connections))
        .route("/console/usage", get(usage::page))
        .route("/console/parameters", get(params::page).post(params::save))
        .route("/console/parameters/password", post(params::change_password))
        .route("/console/log", get(pages::log))
}

/// Pages that need the login even in mode 0 (which otherwise guards only changes): the parameters
/// show who may log in and where the server listens.
const GUARDED: &str = "/console/parameters";

/// Whether this request may see or do what it asks: `[Console] Authorization` with basic auth.
/// The one place that decides console access.
fn may_enter(access: &Access, method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let sensitive = path == GUARDED || path.starts_with("/console/parameters/");
    crate::http::auth::allowed(access, method, sensitive, headers)
}

/// What every console handler starts from: access already checked, and the page language.
pub struct Ctx {
    pub app: Arc<App>,
    pub lang: Lang,
    /// `?lang=` asked for a language: remember it in a cookie.
    remember: bool,
}

impl FromRequestParts<Arc<App>> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        if !may_enter(&app.config.console, &parts.method, parts.uri.path(), &parts.headers) {
            return Err(unauthorized());
        }
        let header_text = |name| parts.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        let (lang, remember) =
            html::choose_lang(parts.uri.query(), header_text(header::COOKIE), header_text(header::ACCEPT_LANGUAGE));
        Ok(Ctx { app: app.clone(), lang, remember })
    }
}

fn unauthorized() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>401</title></head><body>\
         <p>Требуется вход: имя пользователя и пароль консоли.</p>\
         <p>Log in with the console's user name and password.</p></body></html>",
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"licenceserver\", charset=\"UTF-8\""));
    response
}

impl Ctx {
    /// The Russian or the English text.
    pub fn t(&self, ru: &'static str, en: &'static str) -> &'static str {
        self.lang.t(ru, en)
    }

    /// A page with status 200.
    pub fn page(&self, title: &str, body: &str) -> Response {
        self.page_with(StatusCode::OK, title, body)
    }

    /// A page; `body` is HTML whose every piece of text is already escaped.
    pub fn page_with(&self, status: StatusCode, title: &str, body: &str) -> Response {
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
            html::frame(self.lang, title, body),
        )
            .into_response();
        if self.remember {
            let cookie = format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", self.lang.code());
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
        }
        response
    }
}

/// A form's fields, in order; a missing one reads as empty.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}
