//! The web console at `/`: the administrator's pages, rendered on the server, in Russian and English.

use crate::app::App;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/", get(home))
}

async fn home(State(app): State<Arc<App>>) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Licence server</title></head>\
         <body><h1>Licence server {}</h1><p>ComputerID {}</p>\
         <p>The REST API is at <a href=\"/api\">/api</a>.</p></body></html>",
        crate::version::announced(),
        app.info.computer_id
    ))
}
