//! The parameters page: the settings of `licenceserver.conf` an administrator changes most, shown
//! as the file has them beside what the running server uses, and written back in place with
//! [`config::update`] (comments and layout kept). A value is checked by the very parser that reads
//! the file at start, so the console never writes what the server would then refuse. Passwords have
//! their own form and are never shown.

use super::html::{error, notice};
use super::{field, Ctx};
use crate::access::{passwords, Scope};
use crate::config::{self, AuthMode, ServerConfig};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};

type Fields = Form<Vec<(String, String)>>;

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Flag,
    Mode,
}

struct Param {
    section: &'static str,
    key: &'static str,
    ru: &'static str,
    en: &'static str,
    kind: Kind,
}

const fn param(section: &'static str, key: &'static str, ru: &'static str, en: &'static str, kind: Kind) -> Param {
    Param { section, key, ru, en, kind }
}

const PARAMS: [Param; 13] = [
    param("Common", "ServerPort", "Порт", "Port", Kind::Text),
    param("Common", "ListenAddress", "Адрес для подключений", "Listen address", Kind::Text),
    param("Common", "KeepPreviousLogs", "Хранить журналы прошлых запусков", "Keep previous logs", Kind::Flag),
    param("Common", "ConnectionTimeout", "Тайм-аут соединения, с", "Connection timeout, s", Kind::Text),
    param("Common", "SessionTimeout", "Тайм-аут сеанса, с", "Session timeout, s", Kind::Text),
    param("Common", "LicenceCenterUrl", "Адрес центра активации", "Activation centre address", Kind::Text),
    param(
        "Common",
        "ReservedServers",
        "Резервные серверы (для компонент)",
        "Reserved servers (for add-ins)",
        Kind::Text,
    ),
    param("Console", "Authorization", "Вход в консоль", "Console login", Kind::Mode),
    param("Console", "UserName", "Пользователь консоли", "Console user name", Kind::Text),
    param("API", "Enabled", "REST API включено", "REST API enabled", Kind::Flag),
    param("API", "Authorization", "Вход в API", "API login", Kind::Mode),
    param("API", "UserName", "Пользователь API", "API user name", Kind::Text),
    param("UPKey", "Enabled", "Искать USB-ключи", "Look for USB keys", Kind::Flag),
];

fn mode(m: AuthMode) -> &'static str {
    match m {
        AuthMode::ChangesOnly => "0",
        AuthMode::Always => "1",
        AuthMode::Off => "2",
    }
}

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// A setting as it is written in the file.
fn value_of(config: &ServerConfig, p: &Param) -> String {
    let (start, c) = (&config.startup, &config.settings);
    match (p.section, p.key) {
        ("Common", "ServerPort") => start.port.to_string(),
        ("Common", "ListenAddress") => start.listen.to_string(),
        ("Common", "KeepPreviousLogs") => flag(start.keep_previous_logs).into(),
        ("Common", "ConnectionTimeout") => c.connection_timeout.to_string(),
        ("Common", "SessionTimeout") => c.session_timeout.to_string(),
        ("Common", "LicenceCenterUrl") => c.licence_center_url.clone().unwrap_or_default(),
        ("Common", "ReservedServers") => c.reserved_servers.join(", "),
        ("Console", "Authorization") => mode(c.console.mode).into(),
        ("Console", "UserName") => c.console.user_name.clone(),
        ("API", "Enabled") => flag(c.api_enabled).into(),
        ("API", "Authorization") => mode(c.api.mode).into(),
        ("API", "UserName") => c.api.user_name.clone(),
        ("UPKey", "Enabled") => flag(c.usb_enabled).into(),
        _ => String::new(),
    }
}

fn options(ctx: &Ctx, kind: Kind) -> Vec<(&'static str, &'static str)> {
    match kind {
        Kind::Text => Vec::new(),
        Kind::Flag => vec![("1", ctx.t("1 — да", "1 — yes")), ("0", ctx.t("0 — нет", "0 — no"))],
        Kind::Mode => vec![
            ("0", ctx.t("0 — только для изменений", "0 — for changes only")),
            ("1", ctx.t("1 — всегда", "1 — always")),
            ("2", ctx.t("2 — отключён (не рекомендуется)", "2 — off (not recommended)")),
        ],
    }
}

fn input(ctx: &Ctx, p: &Param, value: &str) -> Markup {
    let name = format!("{}.{}", p.section, p.key);
    let choices = options(ctx, p.kind);
    html! {
        @if choices.is_empty() {
            input type="text" id=(name) name=(name) value=(value);
        } @else {
            select id=(name) name=(name) {
                @for (v, label) in choices {
                    option value=(v) selected[v == value] { (label) }
                }
            }
        }
    }
}

/// The page; `submitted` refills the form after a refused save.
fn render(ctx: &Ctx, submitted: Option<&[(String, String)]>, message: Markup) -> Response {
    let path = ctx.app.layout.config_file();
    let (saved, _) = config::load(&path);
    let change = ctx.t("Сменить пароль", "Change the password");
    let body = html! {
        (message)
        p class="hint" {
            (ctx.t("Файл параметров", "The settings file")) " " code { (path.display()) } ". "
            (ctx.t(
                "Изменённые параметры записываются в файл и действуют сразу; порт, адрес \
                 и хранение журналов — после перезапуска сервера.",
                "Changed settings are written to the file and apply at once; the port, the address \
                 and keeping logs after the server restarts.",
            ))
        }
        form method="post" action="/console/parameters" id="parameters" {
            table {
                tr {
                    th { (ctx.t("Параметр", "Setting")) }
                    th { (ctx.t("В файле", "In the file")) }
                    th { (ctx.t("Действует сейчас", "In use now")) }
                }
                @for p in &PARAMS {
                    @let name = format!("{}.{}", p.section, p.key);
                    @let value = submitted.map_or_else(|| value_of(&saved, p), |f| field(f, &name).to_owned());
                    tr {
                        th {
                            label for=(name) { (ctx.t(p.ru, p.en)) }
                            br;
                            span class="hint" { "[" (p.section) "] " (p.key) }
                        }
                        td { (input(ctx, p, &value)) }
                        td { (value_of(&ctx.app.running_config(), p)) }
                    }
                }
            }
            button type="submit" id="save-parameters" { (ctx.t("Сохранить", "Save")) }
        }
        fieldset {
            legend { (change) }
            form method="post" action="/console/parameters/password" id="password" {
                p {
                    label for="which" { (ctx.t("Чей пароль", "Whose password")) }
                    select id="which" name="which" {
                        option value="Console" { (ctx.t("Консоль", "Console")) }
                        option value="API" { "REST API" }
                    }
                }
                p {
                    label for="new-password" { (ctx.t("Новый пароль", "New password")) }
                    input type="password" id="new-password" name="password" autocomplete="new-password";
                }
                p {
                    label for="repeat-password" { (ctx.t("Ещё раз", "Again")) }
                    input type="password" id="repeat-password" name="repeat" autocomplete="new-password";
                }
                button type="submit" id="change-password" { (change) }
            }
        }
    };
    ctx.page(ctx.t("Параметры", "Parameters"), body)
}

pub async fn page(ctx: Ctx) -> Response {
    let console = ctx.app.guard.needs_new_password(Scope::Console).then(|| {
        error(ctx.t(
            "Консоль защищена паролем по умолчанию (admin/admin). Задайте новый пароль консоли, чтобы продолжить.",
            "The console still has the default password (admin/admin). Set a new console password to go on.",
        ))
    });
    // The API's default password is shown too: the API refuses every change until it is set.
    let api = ctx.app.guard.needs_new_password(Scope::Api).then(|| {
        error(ctx.t(
            "У REST API пароль по умолчанию (admin/admin): API не примет ни одного изменения и не выдаст токен, \
             пока вы не зададите ему пароль (ниже, «Чей пароль» — REST API).",
            "The REST API still has the default password (admin/admin): it accepts no change and issues no token \
             until you set its password (below, \"Whose password\" — REST API).",
        ))
    });
    let open = ctx.app.guard.no_login_warnings();
    let first = html! {
        @if let Some(c) = console { (c) }
        @if let Some(a) = api { (a) }
        @for warning in &open { (error(warning)) }
    };
    render(&ctx, None, first)
}

/// Why `value` cannot be written as `[section] key`: the config parser's own reason, or a line break
/// (which would write a second setting into the file).
fn refusal(p: &Param, value: &str) -> Option<String> {
    if value.chars().any(char::is_control) {
        return Some(format!("[{}] {}: control characters and line breaks are not allowed", p.section, p.key));
    }
    if p.key == "UserName" && value.is_empty() {
        return Some(format!("[{}] {}: the user name cannot be empty", p.section, p.key));
    }
    let (_, problems) = config::parse(&format!("[{}]\n{}={value}\n", p.section, p.key), "form");
    problems.first().map(|problem| problem.reason.trim_end_matches("; using the default").to_owned())
}

pub async fn save(ctx: Ctx, Form(form): Fields) -> Response {
    let path = ctx.app.layout.config_file();
    let (saved, _) = config::load(&path);
    let mut changes = Vec::new();
    let mut refused = Vec::new();
    for p in &PARAMS {
        let name = format!("{}.{}", p.section, p.key);
        // A field the form did not send is left as it is (a form of an older page, say).
        let Some((_, value)) = form.iter().find(|(k, _)| *k == name) else { continue };
        let value = value.trim().to_owned();
        if value == value_of(&saved, p) {
            continue;
        }
        match refusal(p, &value) {
            Some(reason) => refused.push(reason),
            None => changes.push((p, value)),
        }
    }
    if !refused.is_empty() {
        let shown = html! { @for reason in &refused { (error(reason)) } };
        return render(&ctx, Some(&form), shown);
    }
    if changes.is_empty() {
        return render(&ctx, None, notice(ctx.t("Ничего не изменено.", "Nothing changed.")));
    }
    let written: Vec<(&str, &str, &str)> = changes.iter().map(|(p, v)| (p.section, p.key, v.as_str())).collect();
    let names: Vec<String> = changes.iter().map(|(p, v)| format!("[{}] {}={v}", p.section, p.key)).collect();
    let message = match ctx.app.save_settings(&written) {
        Ok(()) => {
            log::info!("settings changed in the console: {}", names.join(", "));
            notice(&format!(
                "{} {}. {}",
                ctx.t("Записано:", "Saved:"),
                names.join(", "),
                ctx.t(
                    "Действуют сразу; порт, адрес и хранение журналов — после перезапуска сервера.",
                    "They apply at once; the port, the address and keeping logs after the server restarts.",
                )
            ))
        }
        Err(e) => {
            log::error!("the console could not write {}: {e}", path.display());
            error(&format!("{}: {e}", ctx.t("Не записано", "Not saved")))
        }
    };
    render(&ctx, None, message)
}

pub async fn change_password(ctx: Ctx, Form(form): Fields) -> Response {
    let (scope, section) =
        if field(&form, "which") == "API" { (Scope::Api, "API") } else { (Scope::Console, "Console") };
    let (password, repeat) = (field(&form, "password"), field(&form, "repeat"));
    let user = ctx.app.guard.access(scope).user_name;
    if let Err(why) = passwords::check_new(&user, password, repeat) {
        return render(&ctx, None, error(&why));
    }
    let hash = passwords::hash(password);
    let message = match ctx.app.save_settings(&[(section, "Password", &hash)]) {
        Ok(()) => {
            log::info!("the [{section}] password was changed in the console");
            notice(&format!(
                "{} [{section}]. {}",
                ctx.t("Пароль изменён:", "Password changed:"),
                ctx.t(
                    "Действует сразу; в файле хранится только его хэш.",
                    "It applies at once; the file keeps only its hash."
                )
            ))
        }
        Err(e) => {
            log::error!("the console could not write the password: {e}");
            error(ctx.t("Пароль не записан; см. журнал сервера.", "The password was not saved; see the server log."))
        }
    };
    render(&ctx, None, message)
}
