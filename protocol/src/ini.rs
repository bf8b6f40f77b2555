//! A small INI reader that remembers line numbers, for `licenceserver.conf` and `licenceaddin.conf`.
//!
//! Our own rather than a crate's so that every setting and every complaint carries the line it came
//! from, and so that a bad line never stops the rest of the file from being read. The dialect:
//! - UTF-8; a leading byte-order mark is skipped; lines end in `\n` or `\r\n`;
//! - `[Section]` headers, optionally followed by a `;` or `#` comment;
//! - `key=value`, split at the first `=`, whitespace trimmed around key and value; the value is taken
//!   literally (no quotes, escapes or trailing comments, so `Password=a;b` keeps `a;b`);
//! - whole-line comments starting with `;` or `#`, and blank lines;
//! - keys before any header belong to the section `""`.
//!
//! A line that is none of these goes into [`Ini::problems`] with its 1-based number and a reason. A
//! malformed header (`[Server`, `[Server] x`, `[]`) is reported too, and the entries after it still
//! belong to the name it spells, so one typo does not silently move settings elsewhere.

use crate::text::shorten;

/// How many characters of a line messages show.
const SHOWN: usize = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniProblem {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniEntry {
    pub section: String,
    pub key: String,
    pub value: String,
    pub line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Ini {
    pub entries: Vec<IniEntry>,
    pub problems: Vec<IniProblem>,
}

const BOM: char = '\u{feff}';

impl Ini {
    pub fn parse(text: &str) -> Ini {
        let text = text.strip_prefix(BOM).unwrap_or(text);
        let mut ini = Ini::default();
        let mut section = String::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with([';', '#']) {
                continue;
            }
            if let Some(inside) = trimmed.strip_prefix('[') {
                let (name, complaint) = parse_header(inside);
                section = name.to_owned();
                if let Some(reason) = complaint {
                    ini.problems.push(IniProblem { line, reason });
                }
                continue;
            }
            match trimmed.split_once('=') {
                Some((key, value)) if !key.trim().is_empty() => ini.entries.push(IniEntry {
                    section: section.clone(),
                    key: key.trim().to_owned(),
                    value: value.trim().to_owned(),
                    line,
                }),
                Some(_) => ini
                    .problems
                    .push(IniProblem { line, reason: format!("empty key in `{}`", shorten(trimmed, SHOWN)) }),
                None => ini.problems.push(IniProblem {
                    line,
                    reason: format!("`{}` is not `key=value`, a `[Section]` or a comment", shorten(trimmed, SHOWN)),
                }),
            }
        }
        ini
    }

    /// The last value of `key` in `section` (both case-insensitive), with its line.
    pub fn get(&self, section: &str, key: &str) -> Option<&IniEntry> {
        self.entries.iter().rev().find(|e| same_name(&e.section, section) && same_name(&e.key, key))
    }

    /// The names of sections that hold at least one entry, each once (case-insensitively), in the
    /// order they first appear and spelled as they first appear. `""` is the part before any header.
    pub fn sections(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for entry in &self.entries {
            if !seen.iter().any(|s| same_name(s, &entry.section)) {
                seen.push(&entry.section);
            }
        }
        seen
    }

    /// Every entry of `section` (case-insensitive), in file order, repeats included; for reporting
    /// keys nobody reads.
    pub fn section<'a>(&'a self, section: &'a str) -> impl Iterator<Item = &'a IniEntry> + 'a {
        self.entries.iter().filter(move |e| same_name(&e.section, section))
    }
}

/// `text` with `key=value` set in `section` for every `(section, key, value)` of `changes`, everything
/// else — comments, blank lines, order, other keys, line endings — kept as it was. The line that
/// [`Ini::get`] would read (the last one) gets the new value, keeping the key's spelling; a key not there
/// yet is added after the last line of its section's last block, and a section not there yet is added
/// at the end. Values must be one line: a value holding a line break is refused.
pub fn set_values(text: &str, changes: &[(&str, &str, &str)]) -> Result<String, String> {
    for (section, key, value) in changes {
        if value.contains(['\n', '\r']) || key.contains(['\n', '\r', '=']) || section.contains(['\n', '\r', ']']) {
            return Err(format!("[{section}] {key}: a value must be one line"));
        }
    }
    let bom = text.starts_with(BOM);
    let body = text.strip_prefix(BOM).unwrap_or(text);
    let newline = if body.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
    for (section, key, value) in changes {
        let ini = Ini::parse(&lines.join("\n"));
        if let Some(entry) = ini.get(section, key) {
            let raw = &lines[entry.line - 1];
            let indent = &raw[..raw.len() - raw.trim_start().len()];
            lines[entry.line - 1] = format!("{indent}{}={value}", entry.key);
            continue;
        }
        // The end of the section's last block: its header, or the last non-blank line before the next header.
        let mut insert_at = None;
        let mut current = String::new();
        for (index, raw) in lines.iter().enumerate() {
            let trimmed = raw.trim();
            if let Some(inside) = trimmed.strip_prefix('[') {
                current = parse_header(inside).0.to_owned();
                if same_name(&current, section) {
                    insert_at = Some(index + 1);
                }
            } else if same_name(&current, section) && !trimmed.is_empty() {
                insert_at = Some(index + 1);
            }
        }
        let line = format!("{key}={value}");
        match insert_at {
            Some(at) => lines.insert(at, line),
            None => {
                if lines.last().is_some_and(|l| !l.trim().is_empty()) {
                    lines.push(String::new());
                }
                lines.push(format!("[{section}]"));
                lines.push(line);
            }
        }
    }
    let mut out = String::with_capacity(text.len() + 64);
    if bom {
        out.push(BOM);
    }
    for line in &lines {
        out.push_str(line);
        out.push_str(newline);
    }
    Ok(out)
}

/// The section name of a header line whose leading `[` is already gone, and what is wrong with it.
fn parse_header(inside: &str) -> (&str, Option<String>) {
    let Some((name, after)) = inside.split_once(']') else {
        let name = inside.trim();
        return (name, Some(format!("section header `[{}` has no closing `]`", shorten(name, SHOWN))));
    };
    let name = name.trim();
    let after = after.trim();
    if name.is_empty() {
        (name, Some("section header `[]` has no name".to_owned()))
    } else if !after.is_empty() && !after.starts_with([';', '#']) {
        (name, Some(format!("unexpected `{}` after section header `[{name}]`", shorten(after, SHOWN))))
    } else {
        (name, None)
    }
}

/// Names compare without letter case, symmetrically (`K`, the Kelvin sign, and `k` are the same
/// name whichever side is asked first).
fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || ((!a.is_ascii() || !b.is_ascii()) && a.to_lowercase() == b.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: found by the `ini_parse` fuzz target (U+212A KELVIN SIGN lower-cases to `k`).
    #[test]
    fn section_names_match_symmetrically() {
        let ini = Ini::parse("[\u{212A}]\na=1\n[k]\nb=2\n");
        assert_eq!(ini.sections().len(), 1);
        assert_eq!(ini.section("\u{212A}").count(), 2);
        assert_eq!(ini.section("k").count(), 2);
        assert_eq!(ini.get("k", "a").map(|e| e.value.as_str()), Some("1"));
    }
    use proptest::prelude::*;

    const SAMPLE: &str = "\u{feff}Top = level\r\n\
        ; comment\n\
        # another\n\
        \n\
        [Common]\n\
        Port = 8080\n\
        LogLevel=info ; not a comment\n\
        [Server]   ; a comment after the header\n\
        Name=one\n\
        name = two\n\
        [common]\n\
        port=9090\n";

    #[test]
    fn reads_sections_keys_and_line_numbers() {
        let ini = Ini::parse(SAMPLE);
        assert!(ini.problems.is_empty(), "{:?}", ini.problems);
        let top = ini.get("", "top").unwrap();
        assert_eq!((top.key.as_str(), top.value.as_str(), top.line), ("Top", "level", 1));
        assert_eq!(ini.get("COMMON", "loglevel").unwrap().value, "info ; not a comment");
        assert_eq!(ini.get("server", "NAME").unwrap().value, "two");
        assert_eq!(ini.get("server", "NAME").unwrap().line, 10);
        assert_eq!(ini.get("Common", "Port").unwrap().value, "9090");
        assert_eq!(ini.get("Common", "Port").unwrap().line, 12);
        assert!(ini.get("Server", "Port").is_none());
        assert_eq!(ini.sections(), vec!["", "Common", "Server"]);
        assert_eq!(ini.section("server").count(), 2);
    }

    #[test]
    fn bad_lines_are_reported_and_parsing_goes_on() {
        let ini = Ini::parse("[A]\nno equals sign\n = value\n[B\nk=v\n[]\nx=1\n[C] junk\ny=2\n");
        let lines: Vec<usize> = ini.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 6, 8]);
        assert_eq!(ini.problems[0].reason, "`no equals sign` is not `key=value`, a `[Section]` or a comment");
        assert_eq!(ini.problems[1].reason, "empty key in `= value`");
        assert_eq!(ini.problems[2].reason, "section header `[B` has no closing `]`");
        assert_eq!(ini.get("B", "k").unwrap().line, 5);
        assert_eq!(ini.get("", "x").unwrap().line, 7);
        assert_eq!(ini.get("C", "y").unwrap().value, "2");
    }

    #[test]
    fn values_may_contain_equals_and_be_empty() {
        let ini = Ini::parse("a = b=c\nempty=\n");
        assert_eq!(ini.get("", "a").unwrap().value, "b=c");
        assert_eq!(ini.get("", "empty").unwrap().value, "");
    }

    #[test]
    fn non_ascii_names_are_case_insensitive() {
        let ini = Ini::parse("[Сервер]\nПорт=1\n");
        assert_eq!(ini.get("сервер", "ПОРТ").unwrap().value, "1");
    }

    #[test]
    fn long_bad_lines_are_shortened_in_reasons() {
        let ini = Ini::parse(&"x".repeat(500));
        assert!(ini.problems[0].reason.chars().count() < 120);
    }

    /// What a line must become, judged only from its first character.
    fn must_be_reported(line: &str) -> Option<bool> {
        let t = line.trim();
        if t.is_empty() || t.starts_with([';', '#']) {
            Some(false)
        } else if t.starts_with('[') {
            None // a header: either fine or a problem, never an entry
        } else {
            Some(true)
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_accounts_for_every_line(text in "(\\PC|[\r\n\t \\[\\]=;#\u{feff}]){0,200}") {
            let ini = Ini::parse(&text);
            let body = text.strip_prefix(BOM).unwrap_or(&text);
            for (index, raw) in body.lines().enumerate() {
                let line = index + 1;
                let entries = ini.entries.iter().filter(|e| e.line == line).count();
                let problems = ini.problems.iter().filter(|p| p.line == line).count();
                match must_be_reported(raw) {
                    Some(true) => prop_assert_eq!(entries + problems, 1, "line {}: {:?}", line, raw),
                    Some(false) => prop_assert_eq!(entries + problems, 0, "line {}: {:?}", line, raw),
                    None => prop_assert!(entries == 0 && problems <= 1, "line {}: {:?}", line, raw),
                }
            }
            for entry in &ini.entries {
                prop_assert!(!entry.key.is_empty());
                prop_assert_eq!(entry.key.trim(), entry.key.as_str());
                prop_assert_eq!(entry.value.trim(), entry.value.as_str());
            }
        }

        #[test]
        fn written_settings_read_back(
            settings in proptest::collection::vec(("[A-Za-z][A-Za-z0-9_]{0,8}", "[A-Za-z][A-Za-z0-9]{0,8}", "[^\r\n]{0,20}"), 0..20)
        ) {
            let mut text = String::new();
            for (section, key, value) in &settings {
                text.push_str(&format!("[{section}]\n  {key} =  {value}\n"));
            }
            let ini = Ini::parse(&text);
            prop_assert!(ini.problems.is_empty(), "{:?}", ini.problems);
            for (section, key, _) in &settings {
                let last = settings
                    .iter()
                    .rev()
                    .find(|(s, k, _)| s.eq_ignore_ascii_case(section) && k.eq_ignore_ascii_case(key))
                    .unwrap();
                prop_assert_eq!(&ini.get(section, key).unwrap().value, last.2.trim());
            }
        }
    }

    #[test]
    fn set_values_keeps_everything_else() {
        let text = "; licence server\r\n[Common]\r\n; the port\r\nserverport = 9099\r\n\r\n[Console]\r\nUserName=admin\r\nPassword=admin\r\n";
        let out = set_values(
            text,
            &[
                ("Common", "ServerPort", "9100"),
                ("console", "Password", "$argon2id$x"),
                ("Console", "Authorization", "1"),
                ("API", "Enabled", "0"),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            "; licence server\r\n[Common]\r\n; the port\r\nserverport=9100\r\n\r\n[Console]\r\nUserName=admin\r\nPassword=$argon2id$x\r\nAuthorization=1\r\n\r\n[API]\r\nEnabled=0\r\n"
        );
        let ini = Ini::parse(&out);
        assert_eq!(ini.get("common", "SERVERPORT").unwrap().value, "9100");
        assert!(ini.problems.is_empty());
        assert!(set_values("", &[("A", "k", "two\nlines")]).is_err());
        assert_eq!(set_values("", &[("A", "k", "v")]).unwrap(), "[A]\nk=v\n");
        assert_eq!(set_values("\u{feff}[A]\nk=1\nk=2\n", &[("A", "k", "3")]).unwrap(), "\u{feff}[A]\nk=1\nk=3\n");
    }
}
