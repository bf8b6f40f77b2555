//! The console's HTML building blocks: the choice of language, the page frame with its inline
//! style, tables of views, and the notice and error lines. Every page is written with maud's
//! `html!`, which escapes every value it is given (names an add-in sends, values of the settings
//! file, error texts); only the static style and script go in as they are.

use super::cells;
use maud::{html, Markup, PreEscaped};

/// A path segment or query value made safe inside a URL (which the template then escapes for HTML
/// as well).
pub fn url_part(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ru,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        let primary = code.trim().split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("ru") {
            Some(Lang::Ru)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The Russian or the English text.
    pub fn t(self, ru: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Ru => ru,
            Lang::En => en,
        }
    }
}

/// The page language: `?lang=` first (and then it is to be remembered in the cookie), then the
/// `lang` cookie, then the browser's `Accept-Language` by preference, and Russian when none of them
/// names Russian or English — the product's users are Russian first.
pub fn choose_lang(query: Option<&str>, cookie: Option<&str>, accept: Option<&str>) -> (Lang, bool) {
    let asked = query.and_then(|q| {
        q.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == "lang").and_then(|(_, v)| Lang::from_code(v))
    });
    if let Some(lang) = asked {
        return (lang, true);
    }
    let remembered = cookie.and_then(|c| {
        c.split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::from_code(v))
    });
    if let Some(lang) = remembered {
        return (lang, false);
    }
    let mut offered: Vec<(f32, usize, Lang)> = accept
        .unwrap_or("")
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut pieces = part.split(';');
            let lang = Lang::from_code(pieces.next()?)?;
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (q > 0.0).then_some((q, i, lang))
        })
        .collect();
    offered.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    (offered.first().map_or(Lang::Ru, |o| o.2), false)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}\
header{background:#2b4a6f;color:#fff;padding:.6em 1.2em;display:flex;flex-wrap:wrap;gap:1em;align-items:center}\
header a{color:#fff;text-decoration:none}header a:hover{text-decoration:underline}\
header .title{font-weight:bold;margin-right:1em}\
header .lang{margin-left:auto}main{padding:1em 1.5em}h1{font-size:1.4em}h2{font-size:1.15em}\
table{border-collapse:collapse;background:#fff;margin:.5em 0 1em}\
th,td{border:1px solid #ccd;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#e8ecf2}.series{background:#fff;border:1px solid #ccd;border-radius:6px;padding:.6em 1em;margin:0 0 1em}\
.badge{display:inline-block;border-radius:4px;padding:0 .4em;font-size:.85em;margin-left:.4em}\
.expiring{background:#ffe08a;color:#5a4300}\
.bad,.expired{background:#f8c4c4;color:#6b0000}.demo{background:#dde3ff;color:#1d2a6b}\
.notice{background:#dff3df;border:1px solid #8c8;padding:.5em 1em}\
.error{background:#fbe3e3;border:1px solid #d88;padding:.5em 1em}\
.code{font-family:monospace;font-size:1.3em;background:#fff;\
border:1px solid #ccd;padding:.4em .8em;display:inline-block}\
pre.log{background:#fff;border:1px solid #ccd;padding:.6em;overflow:auto;max-height:75vh;font-size:.85em}\
form.inline{display:inline}label{display:inline-block;min-width:14em}fieldset{margin:0 0 1em;background:#fff}\
input[type=text],input[type=password],input[type=number]{width:22em}textarea{width:100%;max-width:60em}\
.hint{color:#555;font-size:.9em}";

/// The whole page: header with the sections, the language switch, then `body`.
pub fn frame(lang: Lang, title: &str, body: Markup) -> Markup {
    let nav = [
        ("/", lang.t("Обзор", "Overview")),
        ("/console/licences", lang.t("Ключи", "Keys")),
        ("/console/install", lang.t("Установка", "Install")),
        ("/console/sessions", lang.t("Сеансы", "Sessions")),
        ("/console/connections", lang.t("Соединения", "Connections")),
        ("/console/usage", lang.t("Использование", "Usage")),
        ("/console/parameters", lang.t("Параметры", "Parameters")),
        ("/console/log", lang.t("Журнал", "Log")),
    ];
    let server = lang.t("Сервер лицензий", "Licence server");
    html! {
        (PreEscaped("<!doctype html>"))
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (server) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    span class="title" { (server) }
                    @for (href, text) in nav {
                        a href=(href) { (text) }
                    }
                    span class="lang" { a href="?lang=ru" { "RU" } " | " a href="?lang=en" { "EN" } }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// A column of a table of views: its heading (the API's field name, which reads the same in both
/// languages) and the cell of each row, read from the typed view.
pub type Column<T> = (&'static str, fn(&T) -> String);

/// A leading column whose cells are markup: its heading and the cell of each row.
pub type ExtraColumn<'a, T> = (&'a str, &'a dyn Fn(&T) -> Markup);

/// A table of `items` with `columns`; `extra` adds a first cell per row (the key's link, the
/// session's button) — first, so a wide table still shows it.
pub fn table<T>(items: &[T], columns: &[Column<T>], extra: Option<ExtraColumn<T>>) -> Markup {
    html! {
        table {
            tr {
                @if let Some((head, _)) = extra { th { (head) } }
                @for (head, _) in columns { th { (head) } }
            }
            @for item in items {
                tr {
                    @if let Some((_, cell)) = extra { td { (cell(item)) } }
                    @for (_, cell) in columns { td { (cell(item)) } }
                }
            }
        }
    }
}

/// A table of every field of one view, under the API's names: a row per field.
pub fn every_field<T: serde::Serialize>(view: &T) -> Markup {
    html! {
        table {
            @for (name, value) in cells::fields(view) {
                tr { th { (name) } td { (value) } }
            }
        }
    }
}

pub fn notice(text: &str) -> Markup {
    html! { p class="notice" { (text) } }
}

pub fn error(text: &str) -> Markup {
    html! { p class="error" { (text) } }
}

#[cfg(test)]
mod tests {
    use super::super::cells::shown;
    use super::*;

    #[test]
    fn urls_and_the_frame_escape_what_they_carry() {
        assert_eq!(url_part("a b/<x>"), "a%20b%2F%3Cx%3E");
        let page = frame(Lang::En, "<a href=\"x\">'&'</a>", error("Иванов <b>")).into_string();
        assert!(page.contains("<h1>&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;</h1>"), "{page}");
        assert!(page.contains("<title>&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt; — Licence server</title>"));
        assert!(page.contains("<p class=\"error\">Иванов &lt;b&gt;</p>"), "{page}");
        assert!(page.starts_with("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"), "{page}");
    }

    #[test]
    fn language_follows_query_then_cookie_then_browser_then_russian() {
        assert_eq!(choose_lang(Some("lang=en"), Some("lang=ru"), None), (Lang::En, true));
        assert_eq!(choose_lang(Some("x=1&lang=ru"), None, Some("en")), (Lang::Ru, true));
        assert_eq!(choose_lang(Some("lang=de"), Some("a=b; lang=en"), None), (Lang::En, false));
        assert_eq!(choose_lang(None, None, Some("de-DE,en-US;q=0.8,ru;q=0.5")), (Lang::En, false));
        assert_eq!(choose_lang(None, None, Some("en;q=0.3, ru-RU")), (Lang::Ru, false));
        assert_eq!(choose_lang(None, None, Some("en;q=0")), (Lang::Ru, false));
        assert_eq!(choose_lang(None, None, Some("fr")), (Lang::Ru, false));
        assert_eq!(choose_lang(None, None, None), (Lang::Ru, false));
    }

    #[derive(serde::Serialize)]
    struct Row {
        a: String,
        b: Option<String>,
        c: u32,
    }

    #[test]
    fn cells_escape_field_values() {
        let items = [Row { a: "<b>\"'&".into(), b: None, c: 3 }];
        let columns: [Column<Row>; 3] = [("A", |r| shown(&r.a)), ("B", |r| shown(&r.b)), ("C", |r| shown(&r.c))];
        let link = |r: &Row| html! { a href={ "/x/" (url_part(&r.a)) } title=(r.a) { "go" } };
        let html = table(&items, &columns, Some(("<Go>", &link))).into_string();
        assert!(html.contains("<td>&lt;b&gt;&quot;'&amp;</td><td>—</td><td>3</td>"), "{html}");
        assert!(html.contains("<th>&lt;Go&gt;</th><th>A</th>"), "{html}");
        assert!(html.contains("<a href=\"/x/%3Cb%3E%22%27%26\" title=\"&lt;b&gt;&quot;'&amp;\">go</a>"), "{html}");
        let every = every_field(&items[0]).into_string();
        assert_eq!(
            every,
            "<table><tr><th>a</th><td>&lt;b&gt;&quot;'&amp;</td></tr><tr><th>b</th><td>—</td></tr>\
                           <tr><th>c</th><td>3</td></tr></table>"
        );
    }
}
