//! Installing licences from the console: online through the activation centre (the same path as
//! `POST /api/licences`, so the same checks and the same error texts), and offline by files — the
//! request file as a download, the vendor's response file pasted or loaded into the form.

use super::html::{error, escape, notice};
use super::{field, Ctx};
use crate::activation::Installed;
use crate::http::api;
use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde_json::{json, Value};
use std::fmt::Write;

type Fields = Form<Vec<(String, String)>>;

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

fn order_fields(ctx: &Ctx, form: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, label, hint) in [
        ("ActivationCodeString", ctx.t("Код активации", "Activation code"), "4345-9320-2035-7421-5369"),
        ("ITN", ctx.t("ИНН", "ITN"), ""),
        ("IEC", ctx.t("КПП", "IEC"), ""),
        ("BlankKeyNo", ctx.t("Номер USB-заготовки", "USB blank number"), ""),
    ] {
        let _ = write!(
            out,
            "<p><label for=\"{name}\">{label}</label><input type=\"text\" id=\"{name}\" name=\"{name}\" value=\"{}\" \
             placeholder=\"{hint}\"></p>",
            escape(field(form, name))
        );
    }
    out
}

fn install_page(ctx: &Ctx, form: &[(String, String)], message: &str) -> Response {
    let centre = match &ctx.app.setting(|s| s.licence_center_url.clone()) {
        Some(url) => format!("{} <code>{}</code>", ctx.t("Центр активации:", "Activation centre:"), escape(url)),
        None => ctx
            .t(
                "Центр активации не задан ([Common] LicenceCenterUrl): активируйте через файлы.",
                "No activation centre is set ([Common] LicenceCenterUrl): activate by files.",
            )
            .to_owned(),
    };
    let body = format!(
        "{message}<fieldset><legend>{online}</legend><p class=\"hint\">{centre}</p>\
         <form method=\"post\" action=\"/console/install\" id=\"install-online\">{fields}\
         <button type=\"submit\" id=\"install\">{install}</button>\
         <button type=\"submit\" formaction=\"/console/install/request\" id=\"request-file\">{request}</button></form>\
         <p class=\"hint\">{request_hint}</p></fieldset>\
         <fieldset><legend>{offline}</legend><form method=\"post\" \
         action=\"/console/install/response\" id=\"install-response\">\
         <p><input type=\"file\" id=\"response-file\" accept=\".json,application/json\"></p>\
         <p><textarea name=\"response\" id=\"response\" rows=\"10\" placeholder=\"{paste}\"></textarea></p>\
         <button type=\"submit\" id=\"install-response-button\">{install_response}</button></form></fieldset>\
         <script>document.getElementById('response-file').onchange=function(e){{var f=e.target.files[0];\
         if(f){{f.text().then(function(t){{document.getElementById('response').value=t;}});}}}};</script>",
        online = ctx.t("Через центр активации", "Through the activation centre"),
        fields = order_fields(ctx, form),
        install = ctx.t("Установить", "Install"),
        request = ctx.t("Файл запроса", "Request file"),
        request_hint = ctx.t(
            "Без связи с центром: скачайте файл запроса, передайте его поставщику и установите его файл ответа ниже.",
            "Without a link to the centre: download the request \
             file, give it to the vendor, and install its response file below."
        ),
        offline = ctx.t("Файл ответа поставщика", "The vendor's response file"),
        paste = ctx.t("Вставьте сюда содержимое файла ответа", "Paste the response file here"),
        install_response = ctx.t("Установить ответ", "Install the response"),
    );
    ctx.page(ctx.t("Установка лицензий", "Installing licences"), &body)
}

pub async fn page(ctx: Ctx) -> Response {
    install_page(&ctx, &[], "")
}

/// What an installation leads to: the new key's page link, or the error exactly as the API says it.
fn outcome(ctx: &Ctx, form: &[(String, String)], result: Result<Installed, crate::http::error::ApiError>) -> Response {
    match result {
        Ok(installed) => {
            let no = installed.fields.key_no;
            let message = format!(
                "{}<p><a href=\"/console/licences/{no}\" id=\"installed-key\">{} {no}</a></p>",
                notice(&format!(
                    "{} {} ({} {})",
                    ctx.t("Установлен ключ", "Installed key"),
                    no,
                    installed.fields.key_id,
                    installed.fields.product_name
                )),
                ctx.t("Открыть ключ", "Open key"),
            );
            install_page(ctx, &[], &message)
        }
        Err(e) => {
            let shown = format!("<div id=\"install-error\">{}</div>", error(&e.message));
            let mut response = install_page(ctx, form, &shown);
            *response.status_mut() = e.status;
            response
        }
    }
}

pub async fn online(ctx: Ctx, Form(form): Fields) -> Response {
    let result = api::install_online(&ctx.app, &order_body(&form)).await;
    outcome(&ctx, &form, result)
}

/// The request file as a download, named like the API names it.
pub async fn request_file(ctx: Ctx, Form(form): Fields) -> Response {
    match api::offline_request(&ctx.app, &order_body(&form)).await {
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
    let result = api::install_response_file(&ctx.app, Bytes::from(text)).await;
    outcome(&ctx, &[], result)
}
