//! The console's reading pages: the overview per series, the keys and one key (with its backup code
//! on request), sessions (with the button that ends one), connections, and the server's log.

use super::html::{error, escape, notice, show, table, url_part};
use super::Ctx;
use crate::http::api;
use crate::http::views;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::io::{Read, Seek, SeekFrom};

/// A key whose licences end within this many days stands out on the overview.
pub const EXPIRY_WARNING_DAYS: u64 = 14;

/// How much of the log the log page shows.
const LOG_LINES: usize = 500;
const LOG_TAIL_BYTES: u64 = 512 * 1024;

fn number(item: &Value, name: &str) -> u64 {
    item.get(name).and_then(Value::as_u64).unwrap_or(0)
}

fn flag(item: &Value, name: &str) -> bool {
    item.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// The badges that make a key stand out: expired, expiring soon, demo, disabled, unworkable.
fn key_badges(ctx: &Ctx, key: &Value) -> String {
    let mut out = String::new();
    if flag(key, "Expired") {
        let _ = write!(out, "<span class=\"badge expired\">{}</span>", ctx.t("истёк", "expired"));
    } else if let Some(days) = key.get("DaysLeft").and_then(Value::as_u64).filter(|d| *d <= EXPIRY_WARNING_DAYS) {
        let _ = write!(
            out,
            "<span class=\"badge expiring\">{} {days} {}</span>",
            ctx.t("истекает через", "expires in"),
            ctx.t("дн.", "days")
        );
    }
    if number(key, "KeyType") == 5 {
        let _ = write!(out, "<span class=\"badge demo\">{}</span>", ctx.t("демо", "demo"));
    }
    if !flag(key, "Workable") {
        let _ = write!(out, "<span class=\"badge bad\">{}</span>", ctx.t("неработоспособен", "unworkable"));
    } else if !flag(key, "Enabled") {
        let _ = write!(out, "<span class=\"badge bad\">{}</span>", ctx.t("не используется", "not counted"));
    }
    out
}

fn key_link(key: &Value) -> String {
    let no = number(key, "KeyNo");
    format!("<a href=\"/console/licences/{no}\">{no}</a>")
}

pub async fn overview(ctx: Ctx) -> Response {
    let keys = api::licence_values(&ctx.app, crate::clock::now());
    let mut series: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for key in &keys {
        series.entry(key.get("KeyID").and_then(Value::as_str).unwrap_or("?").to_owned()).or_default().push(key);
    }
    let info = &ctx.app.info;
    let mut body = format!(
        "<p>{} {} · ComputerID <code>{}</code> · {} {}</p>",
        ctx.t("Версия", "Version"),
        escape(crate::version::announced()),
        escape(&info.computer_id),
        ctx.t("сеансов", "sessions"),
        api::session_values(&ctx.app).len()
    );
    if series.is_empty() {
        body.push_str(&notice(ctx.t(
            "Ключи не установлены. Установите лицензию на странице «Установка».",
            "No keys are installed. Install a licence on the Install page.",
        )));
    }
    for (id, keys) in &series {
        let counted = keys.iter().filter(|k| flag(k, "Enabled"));
        let total: u64 = counted.map(|k| number(k, "LicenceCount")).sum();
        let used: u64 = keys.iter().map(|k| number(k, "LicencesUsed")).sum();
        let _ = write!(
            body,
            "<section class=\"series\"><h2>{} {}</h2><p>{}: <b>{total}</b> · {}: <b>{used}</b> · {}: <b>{}</b></p><ul>",
            ctx.t("Серия", "Series"),
            escape(id),
            ctx.t("лицензий всего", "licences in total"),
            ctx.t("занято", "in use"),
            ctx.t("свободно", "free"),
            total.saturating_sub(used)
        );
        for key in keys {
            let _ = write!(
                body,
                "<li>{} {} — {} · {} {}{}",
                ctx.t("ключ", "key"),
                key_link(key),
                show(key.get("ProductName")),
                show(key.get("LicenceCount")),
                ctx.t("лиц.", "licences"),
                key_badges(&ctx, key)
            );
            if key.get("ExpireDate").is_some_and(|d| !d.is_null()) {
                let _ = write!(body, " · {} {}", ctx.t("до", "until"), show(key.get("ExpireDate")));
            }
            if key.get("OpenError").is_some_and(|e| !e.is_null()) {
                let _ = write!(body, "<br><span class=\"hint\">OpenError: {}</span>", show(key.get("OpenError")));
            }
            body.push_str("</li>");
        }
        body.push_str("</ul></section>");
    }
    ctx.page(ctx.t("Обзор", "Overview"), &body)
}

const KEY_COLUMNS: [&str; 10] = [
    "KeyID",
    "Type",
    "KeyType",
    "ProductName",
    "LicenceCount",
    "LicencesUsed",
    "Enabled",
    "Workable",
    "ExpireDate",
    "DaysLeft",
];

pub async fn licences(ctx: Ctx) -> Response {
    let keys = api::licence_values(&ctx.app, crate::clock::now());
    let badges = |k: &Value| format!("{}{}", key_link(k), key_badges(&ctx, k));
    let mut body = table(&keys, &KEY_COLUMNS, Some(("KeyNo", &badges)));
    if keys.is_empty() {
        body = notice(ctx.t("Ключи не установлены.", "No keys are installed."));
    }
    ctx.page(ctx.t("Ключи", "Keys"), &body)
}

/// The key's every field, as `/api/licences/{KeyNo}` has them, and the backup-code button.
fn key_page(ctx: &Ctx, key_no: &str, extra: &str) -> Response {
    let found = api::parse_key_no(key_no).and_then(|n| api::licence_value(&ctx.app, n));
    let key = match found {
        Ok(key) => key,
        Err(e) => return ctx.page_with(e.status, ctx.t("Ключ", "Key"), &error(&e.message)),
    };
    let mut body = String::from(extra);
    let _ = write!(body, "<p>{}</p><table>", key_badges(ctx, &key));
    if let Some(fields) = key.as_object() {
        for (name, value) in fields {
            let _ = write!(body, "<tr><th>{}</th><td>{}</td></tr>", escape(name), show(Some(value)));
        }
    }
    let _ = write!(
        body,
        "</table><form method=\"post\" action=\"/console/licences/{no}/backupcode\">\
         <button type=\"submit\" id=\"show-backup-code\">{}</button> <span class=\"hint\">{}</span></form>",
        ctx.t("Показать резервный код", "Show the backup code"),
        ctx.t(
            "Резервный код переносит ключ на другой компьютер или USB-заготовку; храните его отдельно.",
            "The backup code moves the key to another computer or USB blank; keep it away from this disk."
        ),
        no = number(&key, "KeyNo"),
    );
    ctx.page(&format!("{} {}", ctx.t("Ключ", "Key"), number(&key, "KeyNo")), &body)
}

pub async fn licence(ctx: Ctx, Path(key_no): Path<String>) -> Response {
    key_page(&ctx, &key_no, "")
}

/// Shows the backup code once, on the answer to the button (never on a page a GET can fetch).
pub async fn backup_code(ctx: Ctx, Path(key_no): Path<String>) -> Response {
    match api::parse_key_no(&key_no).and_then(|n| api::backup_code_of(&ctx.app, n)) {
        Ok(code) => {
            let shown = format!(
                "<p>{}</p><p class=\"code\" id=\"backup-code\">{}</p>",
                ctx.t("Резервный код ключа:", "The key's backup code:"),
                escape(&code.to_string())
            );
            key_page(&ctx, &key_no, &shown)
        }
        Err(e) => key_page(&ctx, &key_no, &error(&e.message)),
    }
}

/// `?Field=Value` filters as the API takes them; `lang` belongs to the console.
fn filters(query: Vec<(String, String)>) -> Vec<(String, String)> {
    query.into_iter().filter(|(k, v)| k != "lang" && !v.is_empty()).collect()
}

/// A small GET form for the commonest filters; any other field works in the address too.
fn filter_form(ctx: &Ctx, action: &str, fields: &[&str], query: &[(String, String)]) -> String {
    let mut out = format!("<form method=\"get\" action=\"{action}\" class=\"filters\">");
    for name in fields {
        let value = query.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str());
        let _ = write!(
            out,
            "{name} <input type=\"text\" name=\"{name}\" value=\"{}\" style=\"width:10em\"> ",
            escape(value)
        );
    }
    let _ = write!(
        out,
        "<button type=\"submit\">{}</button> <a href=\"{action}\">{}</a></form>",
        ctx.t("Отобрать", "Filter"),
        ctx.t("все", "all")
    );
    out
}

fn filtered(ctx: &Ctx, items: Vec<Value>, query: &[(String, String)]) -> (Vec<Value>, String) {
    match views::filter(items, query) {
        Ok(items) => (items, String::new()),
        Err(e) => (Vec::new(), error(&format!("{}: {e}", ctx.t("Отбор не применён", "Filter not applied")))),
    }
}

const SESSION_COLUMNS: [&str; 10] = [
    "SessionNumber",
    "KeyID",
    "ComputerName",
    "UserName",
    "AppName",
    "IsServer",
    "InfoBaseConnectionString",
    "SessionStarted",
    "ExpireTime",
    "UsedLicence",
];

fn sessions_page(ctx: &Ctx, query: Vec<(String, String)>, message: &str) -> Response {
    let query = filters(query);
    let (items, problem) = filtered(ctx, api::session_values(&ctx.app), &query);
    let end = |s: &Value| {
        let id = s.get("ID").and_then(Value::as_str).unwrap_or("");
        format!(
            "<form method=\"post\" class=\"inline\" action=\"/console/sessions/{}/end\">\
             <button type=\"submit\" class=\"end-session\" title=\"{}\">{}</button></form>",
            escape(&url_part(id)),
            escape(id),
            ctx.t("Завершить", "End")
        )
    };
    let mut body = format!(
        "{message}{}{problem}",
        filter_form(ctx, "/console/sessions", &["KeyID", "ComputerName", "UserName"], &query)
    );
    if items.is_empty() {
        body.push_str(&notice(ctx.t("Сеансов нет.", "No sessions.")));
    } else {
        body.push_str(&table(&items, &SESSION_COLUMNS, Some((ctx.t("Действие", "Action"), &end))));
    }
    ctx.page(ctx.t("Сеансы", "Sessions"), &body)
}

pub async fn sessions(ctx: Ctx, Query(query): Query<Vec<(String, String)>>) -> Response {
    sessions_page(&ctx, query, "")
}

/// Ends a session at once (its licence is free); the list follows with what happened.
pub async fn end_session(ctx: Ctx, Path(id): Path<String>, Form(_): Form<Vec<(String, String)>>) -> Response {
    let message = match api::end_session_by_id(&ctx.app, &id).await {
        Ok(s) => notice(&format!(
            "{} {} ({} {})",
            ctx.t("Сеанс завершён:", "Session ended:"),
            s.session_number,
            s.computer_name,
            s.user_name.unwrap_or_default()
        )),
        Err(e) => error(&e.message),
    };
    sessions_page(&ctx, Vec::new(), &message)
}

const CONNECTION_COLUMNS: [&str; 10] = [
    "ID",
    "ComputerName",
    "PeerIP",
    "KeyID",
    "IsServer",
    "PlatformVersion",
    "Process",
    "Created",
    "LastUsed",
    "ExpireTime",
];

pub async fn connections(ctx: Ctx, Query(query): Query<Vec<(String, String)>>) -> Response {
    let query = filters(query);
    let (items, problem) = filtered(&ctx, api::connection_values(&ctx.app), &query);
    let mut body =
        format!("{}{problem}", filter_form(&ctx, "/console/connections", &["KeyID", "ComputerName", "PeerIP"], &query));
    if items.is_empty() {
        body.push_str(&notice(ctx.t("Соединений нет.", "No connections.")));
    } else {
        body.push_str(&table(&items, &CONNECTION_COLUMNS, None));
    }
    ctx.page(ctx.t("Соединения", "Connections"), &body)
}

/// The newest of the server's log files (`licenceserver.{stamp}.{pid}.log`): names sort by their
/// start time, and the modification time settles runs started in the same second.
fn newest_log(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("licenceserver.") && n.ends_with(".log")))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.file_name(), e.path())))
        .max()
        .map(|(_, _, path)| path)
}

/// The last [`LOG_LINES`] lines of a file, reading only its end.
fn tail(path: &std::path::Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    let start = length.saturating_sub(LOG_TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(LOG_TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().skip(usize::from(start > 0)).collect();
    Ok(lines[lines.len().saturating_sub(LOG_LINES)..].join("\n"))
}

pub async fn log(ctx: Ctx) -> Response {
    let dir = ctx.app.layout.logs_dir();
    let shown = tokio::task::spawn_blocking(move || {
        let path = newest_log(&dir).ok_or_else(|| format!("no log file in {}", dir.display()))?;
        let text = tail(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok::<_, String>((path, text))
    })
    .await;
    let body = match shown {
        Ok(Ok((path, text))) => format!(
            "<p class=\"hint\">{} <code>{}</code> ({} {LOG_LINES} {})</p><pre class=\"log\" id=\"log\">{}</pre>",
            ctx.t("Файл", "File"),
            escape(&path.display().to_string()),
            ctx.t("последние", "the last"),
            ctx.t("строк", "lines"),
            escape(&text)
        ),
        Ok(Err(e)) => error(&e),
        Err(e) => return ctx.page_with(StatusCode::INTERNAL_SERVER_ERROR, "log", &error(&e.to_string())),
    };
    ctx.page(ctx.t("Журнал", "Log"), &body)
}
