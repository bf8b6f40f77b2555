//! Installing licences from the console: online through the activation centre (the same query as
//! `POST /api/licences`, so the same checks and the same error texts), and offline by files — the
//! request file as a download, the vendor's response file pasted or loaded into the form.

use super::html::{error, notice};
use super::{field, Ctx};
use crate::activation::Installed;
use crate::queries;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup, PreEscaped};
use serde_json::{json, Value};

type Fields = Form<Vec<(String, String)>>;

/// Loads a chosen response file into the text area, so it can be sent as the form's field.
const LOAD_RESPONSE_FILE: &str = "document.getElementById('response-file').onchange=function(e){\
var f=e.target.files[0];if(f){f.text().then(function(t){document.getElementById('response').value=t;});}};";

/// The `POST /api/licences` body from the form: empty fields are absent values.
fn order_body(form: &[(String, String)]) -> Value {
    let optional = |name: &str| {
        let v = field(form, name).trim();
        if v.is_empty() {
            Value::Null
        } else {
            Value::String(v.to_owned())
        }
    };
    json!({
        "ActivationCodeString": field(form, "ActivationCodeString").trim(),
        "ITN": optional("ITN"),
        "IEC": optional("IEC"),
        "BlankKeyNo": optional("BlankKeyNo"),
    })
}

fn order_fields(ctx: &Ctx, form: &[(String, String)]) -> Markup {
    html! {
        @for (name, label, hint) in [
            ("ActivationCodeString", ctx.t("Код активации", "Activation code"), "4345-9320-2035-7421-5369"),
            ("ITN", ctx.t("ИНН", "ITN"), ""),
            ("IEC", ctx.t("КПП", "IEC"), ""),
            ("BlankKeyNo", ctx.t("Номер USB-заготовки", "USB blank number"), ""),
        ] {
            p {
                label for=(name) { (label) }
                input type="text" id=(name) name=(name) value=(field(form, name)) placeholder=(hint);
            }
        }
    }
}

fn install_page(ctx: &Ctx, form: &[(String, String)], message: Markup) -> Response {
    let centre = match ctx.app.setting(|s| s.licence_center_url.clone()) {
        Some(url) => html! { (ctx.t("Центр активации:", "Activation centre:")) " " code { (url) } },
        None => html! {
            (ctx.t(
                "Центр активации не задан ([Common] LicenceCenterUrl): активируйте через файлы.",
                "No activation centre is set ([Common] LicenceCenterUrl): activate by files.",
            ))
        },
    };
    let body = html! {
        (message)
        fieldset {
            legend { (ctx.t("Через центр активации", "Through the activation centre")) }
            p class="hint" { (centre) }
            form method="post" action="/console/install" id="install-online" {
                (order_fields(ctx, form))
                button type="submit" id="install" { (ctx.t("Установить", "Install")) }
                button type="submit" formaction="/console/install/request" id="request-file" {
                    (ctx.t("Файл запроса", "Request file"))
                }
            }
            p class="hint" {
                (ctx.t(
                    "Без связи с центром: скачайте файл запроса, передайте его поставщику и установите его файл ответа ниже.",
                    "Without a link to the centre: download the request \
                     file, give it to the vendor, and install its response file below.",
                ))
            }
        }
        fieldset {
            legend { (ctx.t("Файл ответа поставщика", "The vendor's response file")) }
            form method="post" action="/console/install/response" id="install-response" {
                p { input type="file" id="response-file" accept=".json,application/json"; }
                p {
                    textarea name="response" id="response" rows="10"
                        placeholder=(ctx.t("Вставьте сюда содержимое файла ответа", "Paste the response file here")) {}
                }
                button type="submit" id="install-response-button" { (ctx.t("Установить ответ", "Install the response")) }
            }
        }
        script { (PreEscaped(LOAD_RESPONSE_FILE)) }
    };
    ctx.page(ctx.t("Установка лицензий", "Installing licences"), body)
}

pub async fn page(ctx: Ctx) -> Response {
    install_page(&ctx, &[], html! {})
}

/// What an installation leads to: the new key's page link, or the error exactly as the API says it.
fn outcome(ctx: &Ctx, form: &[(String, String)], result: Result<Installed, queries::Error>) -> Response {
    match result {
        Ok(installed) => {
            let no = installed.fields.key_no;
            let message = html! {
                (notice(&format!(
                    "{} {} ({} {})",
                    ctx.t("Установлен ключ", "Installed key"),
                    no,
                    installed.fields.key_id,
                    installed.fields.product_name
                )))
                p { a href={ "/console/licences/" (no) } id="installed-key" { (ctx.t("Открыть ключ", "Open key")) " " (no) } }
            };
            install_page(ctx, &[], message)
        }
        Err(e) => {
            let shown = html! { div id="install-error" { (error(&e.to_string())) } };
            let mut response = install_page(ctx, form, shown);
            *response.status_mut() = e.status();
            response
        }
    }
}

pub async fn online(ctx: Ctx, Form(form): Fields) -> Response {
    let result = queries::install_online(&ctx.app, &order_body(&form)).await;
    outcome(&ctx, &form, result)
}

/// The request file as a download, named like the API names it.
pub async fn request_file(ctx: Ctx, Form(form): Fields) -> Response {
    match queries::activation_request(&ctx.app, &order_body(&form)).await {
        Ok(request) => {
            let disposition = format!("attachment; filename=\"activation-{}.request.json\"", request.request_id);
            let text = serde_json::to_string_pretty(&request).unwrap_or_default();
            let mut response = ([(header::CONTENT_TYPE, "application/json")], text).into_response();
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(e) => outcome(&ctx, &form, Err(e)),
    }
}

pub async fn response_file(ctx: Ctx, Form(form): Fields) -> Response {
    let text = field(&form, "response").trim().to_owned();
    let result = queries::install_response(&ctx.app, text).await;
    outcome(&ctx, &[], result)
}
