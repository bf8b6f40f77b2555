//! The web console at `/`: the administrator's pages, rendered on the server, in Russian and English.
//! Plain HTML (written with maud, which escapes every value) with an inline style and inline SVG,
//! nothing fetched from elsewhere, so it works on an air-gapped site. Every page reads and changes
//! the server's state through [`crate::queries`] and shows its typed [`crate::views`] — the same
//! calls and the same views as the REST API, so the console and the API never disagree; every
//! change is a POST form. The HTTP layer mounts [`routes`]; the console knows nothing of it.
//!
//! Who may enter is decided in front of every console request by the server's guard
//! (`crate::access`: login per `[Console] Authorization`, address and host limits, same-site
//! changes, waits after failed logins). The console adds one rule of its own, in [`Ctx`]: while the
//! console's password is still the default `admin`, every page leads to the form that changes it.

mod cells;
mod html;
mod install;
mod pages;
mod params;
mod usage;

#[cfg(test)]
mod tests;

use crate::access::Scope;
use crate::app::App;
use axum::extract::FromRef;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
pub use html::Lang;
use maud::Markup;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<App>: FromRef<S>,
{
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

/// Where a console still on the default password may go: the form that changes it, and its POST.
const FIRST_LOGIN_PATHS: [&str; 2] = ["/console/parameters", "/console/parameters/password"];

/// What every console handler starts from: access already checked, and the page language.
pub struct Ctx {
    pub app: Arc<App>,
    pub lang: Lang,
    /// `?lang=` asked for a language: remember it in a cookie.
    remember: bool,
}

impl<S> FromRequestParts<S> for Ctx
where
    S: Send + Sync,
    Arc<App>: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let app = Arc::<App>::from_ref(state);
        if app.guard.needs_new_password(Scope::Console) && !FIRST_LOGIN_PATHS.contains(&parts.uri.path()) {
            return Err(Redirect::to("/console/parameters?first=1#password").into_response());
        }
        let header_text = |name| parts.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        let (lang, remember) =
            html::choose_lang(parts.uri.query(), header_text(header::COOKIE), header_text(header::ACCEPT_LANGUAGE));
        Ok(Ctx { app, lang, remember })
    }
}

impl Ctx {
    /// The Russian or the English text.
    pub fn t(&self, ru: &'static str, en: &'static str) -> &'static str {
        self.lang.t(ru, en)
    }

    /// A page with status 200.
    pub fn page(&self, title: &str, body: Markup) -> Response {
        self.page_with(StatusCode::OK, title, body)
    }

    /// A page: `body` in the frame, with `title` as its heading.
    pub fn page_with(&self, status: StatusCode, title: &str, body: Markup) -> Response {
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
            html::frame(self.lang, title, body).into_string(),
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
