//! The infobase connection string a 1C session reports (`InfoBaseConnectionString`, what
//! `СтрокаСоединенияИнформационнойБазы()` returns) and the counting mode it implies: a server infobase
//! (`Srvr=`) or one reached through a web server (`ws=`) takes one licence per session, a file
//! infobase (`File=`) one per computer or terminal client. Pure; the server decides with it and the
//! add-in may.
//!
//! The parse: the string is a list of `Key=Value` parameters separated by `;` (a trailing `;` and
//! empty parameters are fine). Whitespace around keys and values is ignored. Keys are compared
//! without ASCII case (`srvr` is `Srvr`). A value is either bare text up to the next `;` or quoted in
//! `"…"`, where `""` stands for one `"` and `;` is plain text; after the closing quote only
//! whitespace may come before the `;`. Unknown keys (`Ref`, `Usr`, `Locale`, …) are kept and
//! ignored. A parameter without `=`, with an empty key, an unclosed quote or text after a closing
//! quote makes the whole string unparseable ([`ParseError`]).

use std::fmt;

/// The parameters of a connection string, in the order written; keys as written, values unquoted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionString {
    pub params: Vec<(String, String)>,
}

/// Why a connection string cannot be read; `at` is the byte offset where reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub at: usize,
    pub reason: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.at)
    }
}

impl std::error::Error for ParseError {}

/// How an infobase's sessions are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A 1C server infobase (`Srvr=`) or a web server publication (`ws=`): one licence per session.
    PerSession,
    /// A file infobase (`File=`): one licence per computer, or per terminal client.
    PerComputer,
}

impl ConnectionString {
    /// Reads a connection string; see the module documentation for the syntax.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut params = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b';' {
                i += 1;
            }
            let key = text[start..i].trim();
            if i == bytes.len() || bytes[i] == b';' {
                if !key.is_empty() {
                    return Err(ParseError { at: start, reason: "a parameter without `=`" });
                }
                i += 1;
                continue;
            }
            if key.is_empty() {
                return Err(ParseError { at: start, reason: "a parameter without a name" });
            }
            i += 1; // the `=`
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let value = if bytes.get(i) == Some(&b'"') {
                let (value, end) = quoted(text, i)?;
                i = end;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] != b';' {
                    return Err(ParseError { at: i, reason: "text after a closing quote" });
                }
                value
            } else {
                let start = i;
                while i < bytes.len() && bytes[i] != b';' {
                    i += 1;
                }
                text[start..i].trim().to_owned()
            };
            params.push((key.to_owned(), value));
            i += 1; // the `;`, or past the end
        }
        Ok(Self { params })
    }

    /// The first value of `key` (compared without ASCII case).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }

    /// True when `key` is given with a value that is not blank.
    fn names(&self, key: &str) -> bool {
        self.params.iter().any(|(k, v)| k.eq_ignore_ascii_case(key) && !v.trim().is_empty())
    }

    /// The counting mode the parameters name: `Srvr` or `ws` → per session, else `File` → per
    /// computer, else none. A string naming both a server and a file counts per session, the reading
    /// that never gives more sessions than licences.
    pub fn mode(&self) -> Option<Mode> {
        if self.names("Srvr") || self.names("ws") {
            Some(Mode::PerSession)
        } else if self.names("File") {
            Some(Mode::PerComputer)
        } else {
            None
        }
    }
}

/// True when `process` (the connecting process's file, `Process` of `connect`) is a web server that
/// publishes infobases: Apache (`httpd`, `apache2`, `apache`) or IIS (`w3wp`), by the file's name
/// without `.exe` and without case. A file infobase published there serves every web client from the
/// web server's process, so its sessions count one licence each (the guide's web server case).
pub fn is_web_server_process(process: &str) -> bool {
    let file = process.rsplit(['/', '\\']).next().unwrap_or_default().trim().to_ascii_lowercase();
    let name = file.strip_suffix(".exe").unwrap_or(&file);
    matches!(name, "httpd" | "apache2" | "apache" | "w3wp")
}

/// The counting mode of a connection string; `None` when it is unparseable or names none.
pub fn mode_of(text: &str) -> Option<Mode> {
    ConnectionString::parse(text).ok()?.mode()
}

/// A quoted value starting at the `"` at `open`: the value and the offset just past its closing quote.
fn quoted(text: &str, open: usize) -> Result<(String, usize), ParseError> {
    let mut value = String::new();
    let mut rest = text[open + 1..].char_indices();
    while let Some((at, c)) = rest.next() {
        if c != '"' {
            value.push(c);
            continue;
        }
        let after = open + 1 + at + 1;
        if text[after..].starts_with('"') {
            value.push('"');
            rest.next();
        } else {
            return Ok((value, after));
        }
    }
    Err(ParseError { at: open, reason: "a quoted value without its closing quote" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        ConnectionString::parse(text).unwrap().params
    }

    #[test]
    fn reads_what_1c_writes() {
        assert_eq!(
            pairs(r#"Srvr="app1";Ref="trade";"#),
            [("Srvr".into(), "app1".into()), ("Ref".into(), "trade".into())]
        );
        assert_eq!(pairs(r#"File="D:\Bases\Demo";"#), [("File".to_owned(), r"D:\Bases\Demo".to_owned())]);
        assert_eq!(pairs(r#"ws="http://web/trade";"#)[0].1, "http://web/trade");
        assert_eq!(pairs(""), []);
        assert_eq!(pairs(" ; ;"), []);
    }

    #[test]
    fn quotes_case_and_whitespace() {
        assert_eq!(pairs(r#" File = "C:\a ""b"";c" ; "#), [("File".to_owned(), r#"C:\a "b";c"#.to_owned())]);
        assert_eq!(
            pairs("srvr=app1:1541;REF=trade"),
            [("srvr".into(), "app1:1541".into()), ("REF".into(), "trade".into())]
        );
        let parsed = ConnectionString::parse(r#"SRVR="a";Ref="b""#).unwrap();
        assert_eq!(parsed.get("srvr"), Some("a"));
        assert_eq!(parsed.get("Locale"), None);
    }

    #[test]
    fn malformed_strings_are_refused() {
        for bad in [r#"File="C:\a"#, r#"File="a"b;"#, "Srvr", "=x;", r#"Srvr="a";Ref"#] {
            assert!(ConnectionString::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_mode_follows_the_infobase() {
        assert_eq!(mode_of(r#"Srvr="app1";Ref="trade";"#), Some(Mode::PerSession));
        assert_eq!(mode_of(r#"ws="http://web/trade";"#), Some(Mode::PerSession));
        assert_eq!(mode_of(r#"File="/srv/base";"#), Some(Mode::PerComputer));
        assert_eq!(mode_of(r#"file="/srv/base";Usr="x""#), Some(Mode::PerComputer));
        assert_eq!(mode_of(r#"File="/srv/base";Srvr="app1";Ref="t""#), Some(Mode::PerSession), "the safe reading");
        assert_eq!(mode_of(r#"File="";"#), None);
        assert_eq!(mode_of(r#"Ref="trade";"#), None);
        assert_eq!(mode_of(""), None);
        assert_eq!(mode_of(r#"File="/srv/base"#), None, "unparseable");
        // A look-alike key (Cyrillic С) is just an unknown key.
        assert_eq!(mode_of("Сrvr=app1;File=/b"), Some(Mode::PerComputer));
    }

    #[test]
    fn web_servers_are_known_by_their_process() {
        for web in ["/usr/sbin/apache2", "/usr/sbin/httpd", r"C:\Windows\System32\inetsrv\w3wp.exe", "HTTPD.EXE"] {
            assert!(is_web_server_process(web), "{web}");
        }
        for not in ["/opt/1cv8/x86_64/8.3.25.1257/1cv8c", r"C:\Program Files\1cv8\bin\1cv8.exe", "rphost", ""] {
            assert!(!is_web_server_process(not), "{not}");
        }
    }

    fn quote(value: &str) -> String {
        format!("\"{}\"", value.replace('"', "\"\""))
    }

    proptest! {
        #[test]
        fn written_parameters_read_back(params in proptest::collection::vec(("[A-Za-z]{1,8}", "\\PC{0,12}"), 0..6)) {
            let text: String = params.iter().map(|(k, v)| format!(" {k} = {} ;", quote(v))).collect();
            let read = ConnectionString::parse(&text).unwrap();
            prop_assert_eq!(read.params, params);
        }

        #[test]
        fn any_text_parses_or_refuses_without_panic(text in "\\PC{0,40}") {
            if let Err(e) = ConnectionString::parse(&text) {
                prop_assert!(e.at <= text.len());
            }
        }
    }
}
