//! The console's HTML building blocks: escaping (every piece of text that reaches a page goes
//! through [`escape`]), the choice of language, the page frame with its inline style, and tables.
//! No template engine: the pages are few and small, and plain functions keep every escape visible.

use serde_json::Value;
use std::fmt::Write;

/// Text made safe for HTML content and attribute values (double- or single-quoted).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A path segment or query value made safe inside a URL (which is then escaped for HTML as well).
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

/// The whole page: header with the sections, the language switch, then `body` (already escaped).
pub fn frame(lang: Lang, title: &str, body: &str) -> String {
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
    let mut links = String::new();
    for (href, text) in nav {
        let _ = write!(links, "<a href=\"{href}\">{text}</a>");
    }
    format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} — {server}</title>\
         <style>{STYLE}</style></head><body><header><span class=\"title\">{server}</span>{links}\
         <span class=\"lang\"><a href=\"?lang=ru\">RU</a> | <a href=\"?lang=en\">EN</a></span></header>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        code = lang.code(),
        title = escape(title),
        server = lang.t("Сервер лицензий", "Licence server"),
    )
}

/// A JSON field as text for a cell: null is a dash.
pub fn show(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => escape(s),
        Some(other) => escape(&other.to_string()),
    }
}

/// A leading column: its heading and the cell for each row (HTML).
pub type ExtraColumn<'a> = (&'a str, &'a dyn Fn(&Value) -> String);

/// A table of `items` with `columns` (JSON field names, which are the API's and read the same in
/// both languages); `extra` adds a first cell per row (already HTML): the key's link, the session's
/// button — first, so a wide table still shows it.
pub fn table(items: &[Value], columns: &[&str], extra: Option<ExtraColumn>) -> String {
    let mut out = String::from("<table><tr>");
    if let Some((head, _)) = extra {
        let _ = write!(out, "<th>{}</th>", escape(head));
    }
    for c in columns {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr>");
    for item in items {
        out.push_str("<tr>");
        if let Some((_, cell)) = extra {
            let _ = write!(out, "<td>{}</td>", cell(item));
        }
        for c in columns {
            let _ = write!(out, "<td>{}</td>", show(item.get(*c)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

pub fn notice(text: &str) -> String {
    format!("<p class=\"notice\">{}</p>", escape(text))
}

pub fn error(text: &str) -> String {
    format!("<p class=\"error\">{}</p>", escape(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_both_quotes() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(escape("Иванов"), "Иванов");
        assert_eq!(url_part("a b/<x>"), "a%20b%2F%3Cx%3E");
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

    #[test]
    fn cells_escape_field_values() {
        let items = [serde_json::json!({"A": "<b>", "B": null, "C": 3})];
        let html = table(&items, &["A", "B", "C"], None);
        assert!(html.contains("<td>&lt;b&gt;</td><td>—</td><td>3</td>"), "{html}");
    }
}
