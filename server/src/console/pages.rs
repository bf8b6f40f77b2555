//! The console's reading pages: the overview per series, the keys and one key (with its backup code
//! on request), sessions (with the button that ends one), connections, and the server's log. Each
//! shows the typed views [`crate::queries`] answers with, the API's own.

use super::cells::shown;
use super::html::{error, every_field, notice, table, url_part, Column};
use super::Ctx;
use crate::queries;
use crate::views::{self, ConnectionView, LicenceView, SessionView};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use licence_protocol::key::KeyKind;
use maud::{html, Markup};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};

/// A key whose licences end within this many days stands out on the overview.
pub const EXPIRY_WARNING_DAYS: u64 = 14;

/// How much of the log the log page shows.
const LOG_LINES: usize = 500;
const LOG_TAIL_BYTES: u64 = 512 * 1024;

/// The badges that make a key stand out: expired, expiring soon, demo, disabled, unworkable.
fn key_badges(ctx: &Ctx, key: &LicenceView) -> Markup {
    let expiring = key.days_left.filter(|d| u64::from(*d) <= EXPIRY_WARNING_DAYS);
    html! {
        @if key.expired {
            span class="badge expired" { (ctx.t("истёк", "expired")) }
        } @else if let Some(days) = expiring {
            span class="badge expiring" { (ctx.t("истекает через", "expires in")) " " (days) " " (ctx.t("дн.", "days")) }
        }
        @if key.key_type == Some(KeyKind::Demo.code()) {
            span class="badge demo" { (ctx.t("демо", "demo")) }
        }
        @if !key.workable {
            span class="badge bad" { (ctx.t("неработоспособен", "unworkable")) }
        } @else if !key.enabled {
            span class="badge bad" { (ctx.t("не используется", "not counted")) }
        }
    }
}

fn key_link(key_no: u64) -> Markup {
    html! { a href={ "/console/licences/" (key_no) } { (key_no) } }
}

pub async fn overview(ctx: Ctx) -> Response {
    let keys = queries::licences(&ctx.app);
    let mut series: BTreeMap<&str, Vec<&LicenceView>> = BTreeMap::new();
    for key in &keys {
        series.entry(key.key_id.as_str()).or_default().push(key);
    }
    let sessions = queries::sessions(&ctx.app).len();
    let body = html! {
        p {
            (ctx.t("Версия", "Version")) " " (crate::version::announced())
            " · ComputerID " code { (ctx.app.info.computer_id) }
            " · " (ctx.t("сеансов", "sessions")) " " (sessions)
        }
        @if series.is_empty() {
            (notice(ctx.t(
                "Ключи не установлены. Установите лицензию на странице «Установка».",
                "No keys are installed. Install a licence on the Install page.",
            )))
        }
        @for (id, keys) in &series {
            (series_section(&ctx, id, keys))
        }
    };
    ctx.page(ctx.t("Обзор", "Overview"), body)
}

/// One series on the overview: its licences in total, in use and free, and each of its keys.
fn series_section(ctx: &Ctx, id: &str, keys: &[&LicenceView]) -> Markup {
    let total: u64 = keys.iter().filter(|k| k.enabled).map(|k| u64::from(k.licence_count.unwrap_or(0))).sum();
    let used: u64 = keys.iter().map(|k| u64::from(k.licences_used)).sum();
    html! {
        section class="series" {
            h2 { (ctx.t("Серия", "Series")) " " (id) }
            p {
                (ctx.t("лицензий всего", "licences in total")) ": " b { (total) }
                " · " (ctx.t("занято", "in use")) ": " b { (used) }
                " · " (ctx.t("свободно", "free")) ": " b { (total.saturating_sub(used)) }
            }
            ul {
                @for key in keys {
                    li {
                        (ctx.t("ключ", "key")) " " (key_link(key.key_no)) " — " (shown(&key.product_name))
                        " · " (shown(&key.licence_count)) " " (ctx.t("лиц.", "licences")) (key_badges(ctx, key))
                        @if let Some(date) = key.expire_date {
                            " · " (ctx.t("до", "until")) " " (date)
                        }
                        @if let Some(problem) = &key.open_error {
                            br;
                            span class="hint" { "OpenError: " (problem) }
                        }
                    }
                }
            }
        }
    }
}

const KEY_COLUMNS: [Column<LicenceView>; 10] = [
    ("KeyID", |k| shown(&k.key_id)),
    ("Type", |k| shown(k.kind)),
    ("KeyType", |k| shown(&k.key_type)),
    ("ProductName", |k| shown(&k.product_name)),
    ("LicenceCount", |k| shown(&k.licence_count)),
    ("LicencesUsed", |k| shown(&k.licences_used)),
    ("Enabled", |k| shown(&k.enabled)),
    ("Workable", |k| shown(&k.workable)),
    ("ExpireDate", |k| shown(&k.expire_date)),
    ("DaysLeft", |k| shown(&k.days_left)),
];

pub async fn licences(ctx: Ctx) -> Response {
    let keys = queries::licences(&ctx.app);
    let badges = |k: &LicenceView| html! { (key_link(k.key_no)) (key_badges(&ctx, k)) };
    let body = if keys.is_empty() {
        notice(ctx.t("Ключи не установлены.", "No keys are installed."))
    } else {
        table(&keys, &KEY_COLUMNS, Some(("KeyNo", &badges)))
    };
    ctx.page(ctx.t("Ключи", "Keys"), body)
}

/// The key's every field, as `/api/licences/{KeyNo}` has them, and the backup-code button.
fn key_page(ctx: &Ctx, key_no: &str, extra: Markup) -> Response {
    let key = match queries::parse_key_no(key_no).and_then(|n| queries::licence(&ctx.app, n)) {
        Ok(key) => key,
        Err(e) => return ctx.page_with(e.status(), ctx.t("Ключ", "Key"), error(&e.to_string())),
    };
    let body = html! {
        (extra)
        p { (key_badges(ctx, &key)) }
        (every_field(&key))
        form method="post" action={ "/console/licences/" (key.key_no) "/backupcode" } {
            button type="submit" id="show-backup-code" { (ctx.t("Показать резервный код", "Show the backup code")) }
            " "
            span class="hint" {
                (ctx.t(
                    "Резервный код переносит ключ на другой компьютер или USB-заготовку; храните его отдельно.",
                    "The backup code moves the key to another computer or USB blank; keep it away from this disk.",
                ))
            }
        }
    };
    ctx.page(&format!("{} {}", ctx.t("Ключ", "Key"), key.key_no), body)
}

pub async fn licence(ctx: Ctx, Path(key_no): Path<String>) -> Response {
    key_page(&ctx, &key_no, html! {})
}

/// Shows the backup code once, on the answer to the button (never on a page a GET can fetch).
pub async fn backup_code(ctx: Ctx, Path(key_no): Path<String>) -> Response {
    let shown = match queries::parse_key_no(&key_no).and_then(|n| queries::backup_code(&ctx.app, n)) {
        Ok(code) => html! {
            p { (ctx.t("Резервный код ключа:", "The key's backup code:")) }
            p class="code" id="backup-code" { (code.backup_code) }
        },
        Err(e) => error(&e.to_string()),
    };
    key_page(&ctx, &key_no, shown)
}

/// `?Field=Value` filters as the API takes them; `lang` belongs to the console.
fn filters(query: Vec<(String, String)>) -> Vec<(String, String)> {
    query.into_iter().filter(|(k, v)| k != "lang" && !v.is_empty()).collect()
}

/// A small GET form for the commonest filters; any other field works in the address too.
fn filter_form(ctx: &Ctx, action: &str, fields: &[&str], query: &[(String, String)]) -> Markup {
    let value = |name: &str| query.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str()).to_owned();
    html! {
        form method="get" action=(action) class="filters" {
            @for name in fields {
                (name) " " input type="text" name=(name) value=(value(name)) style="width:10em"; " "
            }
            button type="submit" { (ctx.t("Отобрать", "Filter")) } " " a href=(action) { (ctx.t("все", "all")) }
        }
    }
}

/// The items the filters keep, or none and why.
fn filtered<T: Serialize>(ctx: &Ctx, items: Vec<T>, query: &[(String, String)]) -> (Vec<T>, Markup) {
    match views::filter(items, query) {
        Ok(items) => (items, html! {}),
        Err(e) => (Vec::new(), error(&format!("{}: {e}", ctx.t("Отбор не применён", "Filter not applied")))),
    }
}

const SESSION_COLUMNS: [Column<SessionView>; 10] = [
    ("SessionNumber", |s| shown(&s.session_number)),
    ("KeyID", |s| shown(&s.key_id)),
    ("ComputerName", |s| shown(&s.computer_name)),
    ("UserName", |s| shown(&s.user_name)),
    ("AppName", |s| shown(&s.app_name)),
    ("IsServer", |s| shown(&s.is_server)),
    ("InfoBaseConnectionString", |s| shown(&s.info_base_connection_string)),
    ("SessionStarted", |s| shown(&s.session_started)),
    ("ExpireTime", |s| shown(&s.expire_time)),
    ("UsedLicence", |s| shown(&s.used_licence)),
];

fn sessions_page(ctx: &Ctx, query: Vec<(String, String)>, message: Markup) -> Response {
    let query = filters(query);
    let (items, problem) = filtered(ctx, queries::sessions(&ctx.app), &query);
    let end = |s: &SessionView| {
        html! {
            form method="post" class="inline" action={ "/console/sessions/" (url_part(&s.id)) "/end" } {
                button type="submit" class="end-session" title=(s.id) { (ctx.t("Завершить", "End")) }
            }
        }
    };
    let body = html! {
        (message)
        (filter_form(ctx, "/console/sessions", &["KeyID", "ComputerName", "UserName"], &query))
        (problem)
        @if items.is_empty() {
            (notice(ctx.t("Сеансов нет.", "No sessions.")))
        } @else {
            (table(&items, &SESSION_COLUMNS, Some((ctx.t("Действие", "Action"), &end))))
        }
    };
    ctx.page(ctx.t("Сеансы", "Sessions"), body)
}

pub async fn sessions(ctx: Ctx, Query(query): Query<Vec<(String, String)>>) -> Response {
    sessions_page(&ctx, query, html! {})
}

/// Ends a session at once (its licence is free); the list follows with what happened.
pub async fn end_session(ctx: Ctx, Path(id): Path<String>, Form(_): Form<Vec<(String, String)>>) -> Response {
    let message = match queries::end_session(&ctx.app, &id).await {
        Ok(s) => notice(&format!(
            "{} {} ({} {})",
            ctx.t("Сеанс завершён:", "Session ended:"),
            s.session_number,
            s.computer_name,
            s.user_name.unwrap_or_default()
        )),
        Err(e) => error(&e.to_string()),
    };
    sessions_page(&ctx, Vec::new(), message)
}

const CONNECTION_COLUMNS: [Column<ConnectionView>; 10] = [
    ("ID", |c| shown(&c.id)),
    ("ComputerName", |c| shown(&c.computer_name)),
    ("PeerIP", |c| shown(&c.peer_ip)),
    ("KeyID", |c| shown(&c.key_id)),
    ("IsServer", |c| shown(&c.is_server)),
    ("PlatformVersion", |c| shown(&c.platform_version)),
    ("Process", |c| shown(&c.process)),
    ("Created", |c| shown(&c.created)),
    ("LastUsed", |c| shown(&c.last_used)),
    ("ExpireTime", |c| shown(&c.expire_time)),
];

pub async fn connections(ctx: Ctx, Query(query): Query<Vec<(String, String)>>) -> Response {
    let query = filters(query);
    let (items, problem) = filtered(&ctx, queries::connections(&ctx.app), &query);
    let body = html! {
        (filter_form(&ctx, "/console/connections", &["KeyID", "ComputerName", "PeerIP"], &query))
        (problem)
        @if items.is_empty() {
            (notice(ctx.t("Соединений нет.", "No connections.")))
        } @else {
            (table(&items, &CONNECTION_COLUMNS, None))
        }
    };
    ctx.page(ctx.t("Соединения", "Connections"), body)
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
        Ok(Ok((path, text))) => html! {
            p class="hint" {
                (ctx.t("Файл", "File")) " " code { (path.display()) } " ("
                (ctx.t("последние", "the last")) " " (LOG_LINES) " " (ctx.t("строк", "lines")) ")"
            }
            pre class="log" id="log" { (text) }
        },
        Ok(Err(e)) => error(&e),
        Err(e) => return ctx.page_with(StatusCode::INTERNAL_SERVER_ERROR, "log", error(&e.to_string())),
    };
    ctx.page(ctx.t("Журнал", "Log"), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use licence_protocol::time::UtcTime;

    #[test]
    fn the_session_table_shows_typed_fields_escaped_and_null_as_a_dash() {
        let at = UtcTime::from_unix_millis(1_700_000_000_000).unwrap();
        let session = SessionView {
            id: "S\"1".into(),
            session_number: "7".into(),
            is_server: false,
            info_base_connection_string: "File=\"C:\\base\";".into(),
            app_name: "1CV8C".into(),
            computer_name: "<i>PC</i>".into(),
            user_name: None,
            session_started: at,
            session_connection: "C1".into(),
            access_code: None,
            expire_time: at,
            expired: "False",
            key_id: "672B".into(),
            used_licence: 7_121_172,
            terminal_client: None,
        };
        let html = table(&[session], &SESSION_COLUMNS, None).into_string();
        assert!(
            html.contains(&format!(
                "<tr><td>7</td><td>672B</td><td>&lt;i&gt;PC&lt;/i&gt;</td><td>—</td><td>1CV8C</td><td>false</td>\
                 <td>File=&quot;C:\\base&quot;;</td><td>{at}</td><td>{at}</td><td>7121172</td></tr>"
            )),
            "{html}"
        );
        assert!(html.starts_with("<table><tr><th>SessionNumber</th><th>KeyID</th><th>ComputerName</th>"), "{html}");
    }
}
