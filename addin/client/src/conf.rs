//! `licenceaddin.conf`: where the add-in looks for it and how its settings combine with the ones the
//! configuration's code set, exactly as the administrator's guide ("Внешняя компонента",
//! "Конфигурационный файл") describes.
//!
//! - A client application (thin or thick client) reads the OS user's file (`~/.1C/licence/3.0/`,
//!   `%LocalAppData%\1C\licence\3.0\`) and, only when the user has none, the common one
//!   (`/var/1C/licence/3.0/`, `%ProgramData%\1C\licence\3.0\`); a server process (application server,
//!   web server) reads only the common one.
//! - `[Common]` holds the defaults; a section named after a series (`[672B]`) wins for that series key
//!   by key.
//! - `ForceUseConfig=1` makes the file's settings override the code's; otherwise the code's settings win
//!   and the file only fills what the code left empty.
//! - Only the configuration's code (its `LocalFallback` property) can let a client process in file mode
//!   use a key installed on its own computer when no server answers (see [`crate::fallback`]): the
//!   file, which any user of the computer can write, can only turn it off (`LocalFallback=0`, whatever
//!   `ForceUseConfig` says); a `LocalFallback=1` there is reported as a [`Problem`] and ignored.
//! - A malformed line or value is reported as a [`Problem`] (`file:line: reason`, to be logged) and
//!   ignored; nothing here is ever fatal.
//!
//! [`resolve`] is pure: the folders come in through [`Places`] and the files through a reader closure,
//! so tests relocate and fake both.

use licence_protocol::ini::Ini;
use licence_protocol::key::SeriesId;
use std::fmt;
use std::path::{Path, PathBuf};

/// The file's name in every folder.
pub const FILE_NAME: &str = "licenceaddin.conf";
/// The licence server's port when none is given.
pub const DEFAULT_PORT: u16 = 9099;
/// The server's address when neither the code nor the file names one.
pub const DEFAULT_ADDR: &str = "localhost";

const COMMON: &str = "Common";
const KNOWN_KEYS: [&str; 6] =
    ["ForceUseConfig", "ServerAddr", "ServerPort", "ReservedServers", "KeepPreviousLogs", "LocalFallback"];

/// One licence server to try: a host name or IP address (IPv6 without brackets) and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self { host: host.into(), port }
    }

    /// `http://host:port` with an IPv6 address in brackets.
    pub fn base_url(&self) -> String {
        format!("http://{self}")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses one `Addr[:Port]` item: `host`, `host:9100`, `10.0.0.1:9100`, `[::1]:9100`, `[::1]` or a
/// bare `::1` (port omitted). A missing port is `default_port`.
pub fn parse_endpoint(item: &str, default_port: u16) -> Result<Endpoint, String> {
    let item = item.trim();
    if item.is_empty() {
        return Err("empty server address".to_owned());
    }
    let (host, port) = if let Some(inside) = item.strip_prefix('[') {
        let (host, after) = inside.split_once(']').ok_or_else(|| format!("`{item}` has no closing `]`"))?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("`{item}` has text after `]` that is not `:port`")),
            },
        }
    } else if item.matches(':').count() > 1 {
        (item, None)
    } else {
        match item.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (item, None),
        }
    };
    let host = host.trim();
    if host.is_empty() {
        return Err(format!("`{item}` has no host"));
    }
    if host.chars().any(|c| c.is_whitespace() || matches!(c, '/' | '@' | '[' | ']' | ',')) {
        return Err(format!("`{host}` is not a host name or IP address"));
    }
    let port = match port {
        None => default_port,
        Some(text) => parse_port(text)?,
    };
    Ok(Endpoint::new(host, port))
}

/// A `ServerAddr` value: a host name or IP address (IPv6 bare or in brackets), without a port —
/// the port is `ServerPort`'s.
pub fn parse_host(text: &str) -> Result<String, String> {
    // No real port is 0, so a port of 0 here means the text named none.
    let endpoint = parse_endpoint(text, 0)?;
    if endpoint.port != 0 {
        return Err(format!("`{}` names a port; give the port in ServerPort", text.trim()));
    }
    Ok(endpoint.host)
}

/// A port number 1–65535.
pub fn parse_port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("port `{}` is not a number from 1 to 65535", text.trim())),
    }
}

/// Parses `Addr1[:Port1],Addr2[:Port2],…`; empty items are skipped, bad ones are returned as reasons
/// and left out.
pub fn parse_server_list(text: &str) -> (Vec<Endpoint>, Vec<String>) {
    let mut servers = Vec::new();
    let mut bad = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match parse_endpoint(item, DEFAULT_PORT) {
            Ok(endpoint) => servers.push(endpoint),
            Err(reason) => bad.push(format!("server `{item}`: {reason}")),
        }
    }
    (servers, bad)
}

/// The folders of the licence tree: the OS user's (`~/.1C/licence/3.0`) and the common one
/// (`/var/1C/licence/3.0`). Config files sit in them, logs in their `logs` subfolder. `data` is the
/// licence server's data folder on this computer (`/var/1C/licence/data`,
/// `%ProgramData%\1C\Licence\Data`), where the local fallback looks for installed keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    /// `None` when the user's folder cannot be told (no `HOME` / `LOCALAPPDATA`).
    pub user: Option<PathBuf>,
    pub common: PathBuf,
    pub data: PathBuf,
}

impl Places {
    /// The documented folders of this OS, from the process environment.
    pub fn from_env() -> Self {
        Self::from_vars(cfg!(windows), |name| std::env::var_os(name).map(PathBuf::from))
    }

    /// The documented folders for Windows (`windows`) or Linux, with environment variables read through
    /// `var` (pure, for tests).
    pub fn from_vars(windows: bool, var: impl Fn(&str) -> Option<PathBuf>) -> Self {
        let tail = |base: PathBuf, first: &str| base.join(first).join("licence").join("3.0");
        if windows {
            let program_data = var("PROGRAMDATA").unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
            Self {
                user: var("LOCALAPPDATA").map(|p| tail(p, "1C")),
                common: tail(program_data.clone(), "1C"),
                // The server's own spelling (server/src/layout.rs); Windows paths ignore case anyway.
                data: program_data.join("1C").join("Licence").join("Data"),
            }
        } else {
            Self {
                user: var("HOME").filter(|h| !h.as_os_str().is_empty()).map(|p| tail(p, ".1C")),
                common: PathBuf::from("/var/1C/licence/3.0"),
                data: PathBuf::from("/var/1C/licence/data"),
            }
        }
    }

    /// A relocated tree for tests and non-root runs: `root/user`, `root/common` and `root/data`.
    pub fn under_root(root: &Path) -> Self {
        Self { user: Some(root.join("user")), common: root.join("common"), data: root.join("data") }
    }

    /// The licence server's configuration on this computer, whose `[Common] MachineIdFile` says which
    /// identity the keys in [`Places::data`] were issued for.
    pub fn server_config(&self) -> PathBuf {
        self.common.join("licenceserver.conf")
    }

    /// The config files this process reads, in the order tried: the user's then the common one for
    /// a client application, only the common one for a server process.
    pub fn config_candidates(&self, is_server: bool) -> Vec<PathBuf> {
        let mut files = Vec::new();
        if !is_server {
            if let Some(user) = &self.user {
                files.push(user.join(FILE_NAME));
            }
        }
        files.push(self.common.join(FILE_NAME));
        files
    }
}

/// What the configuration's code set; an empty `addr`/`reserved` or `None` port means "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeSettings {
    pub addr: String,
    pub port: Option<u16>,
    /// `Addr1[:Port1],Addr2[:Port2],…` as the file writes it.
    pub reserved: String,
    /// The `LocalFallback` property; `None` until the code sets it.
    pub local_fallback: Option<bool>,
}

/// Where a resolved setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The configuration's code.
    Code,
    /// A line of the config file, in `[section]`.
    File { path: PathBuf, section: String, line: usize },
    /// Nobody set it: the documented default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Code => f.write_str("the configuration's code"),
            Origin::File { path, section, line } => write!(f, "{}:{line} [{section}]", path.display()),
            Origin::Default => f.write_str("the default"),
        }
    }
}

/// A setting's value and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

/// Something wrong in the file or the code's settings: logged and ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file's path, or `configuration` for the code's settings.
    pub source: String,
    /// 1-based line in the file; 0 for the code's settings.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.reason)
    }
}

/// The outcome of [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The servers to try in order: the main one, then the reserved ones (repeats dropped).
    pub endpoints: Vec<Endpoint>,
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    pub force_use_config: bool,
    pub addr: Sourced<String>,
    pub port: Sourced<u16>,
    pub reserved: Sourced<Vec<Endpoint>>,
    pub keep_previous_logs: bool,
    /// Whether the local fallback may be used: on only when the code turned it on and the file did not
    /// turn it off.
    pub local_fallback: Sourced<bool>,
    pub problems: Vec<Problem>,
}

impl Resolved {
    /// Writes to the log which file was read, where each setting came from, and every problem.
    pub fn log(&self) {
        match &self.file {
            Some(path) => log::info!("read {} (ForceUseConfig={})", path.display(), u8::from(self.force_use_config)),
            None => log::info!("no {FILE_NAME} found; using the configuration's settings"),
        }
        log::info!("ServerAddr={} from {}", self.addr.value, self.addr.origin);
        log::info!("ServerPort={} from {}", self.port.value, self.port.origin);
        let reserved: Vec<String> = self.reserved.value.iter().map(Endpoint::to_string).collect();
        log::info!("ReservedServers={} from {}", reserved.join(","), self.reserved.origin);
        log::info!("LocalFallback={} from {}", u8::from(self.local_fallback.value), self.local_fallback.origin);
        for problem in &self.problems {
            log::warn!("{problem} (ignored)");
        }
    }
}

/// Reads the file for `series` among `places` (through `read`, which answers `None` when a file does
/// not exist) and combines it with the code's settings.
pub fn resolve(
    is_server: bool,
    series: SeriesId,
    code: &CodeSettings,
    places: &Places,
    read: impl Fn(&Path) -> Option<String>,
) -> Resolved {
    let mut problems = Vec::new();
    let found = places.config_candidates(is_server).into_iter().find_map(|path| read(&path).map(|text| (path, text)));
    let file = found.map(|(path, text)| FileSettings::read(path, &text, series, &mut problems));
    let force = file.as_ref().and_then(|f| f.force.clone()).is_some_and(|s| s.value);

    let code_addr = (!code.addr.trim().is_empty()).then(|| code.addr.trim().to_owned());
    let code_addr = code_addr.and_then(|addr| match parse_host(&addr) {
        Ok(host) => Some(Sourced { value: host, origin: Origin::Code }),
        Err(reason) => {
            problems.push(code_problem(format!("ServerAddr: {reason}")));
            None
        }
    });
    let code_port = code.port.filter(|p| *p > 0).map(|value| Sourced { value, origin: Origin::Code });
    let code_reserved = (!code.reserved.trim().is_empty()).then(|| {
        let (list, bad) = parse_server_list(&code.reserved);
        problems.extend(bad.into_iter().map(|reason| code_problem(format!("ReservedServers: {reason}"))));
        Sourced { value: list, origin: Origin::Code }
    });

    let code_fallback = code.local_fallback.map(|value| Sourced { value, origin: Origin::Code });

    let (file_addr, file_port, file_reserved, keep, file_fallback) = match &file {
        Some(f) => (f.addr.clone(), f.port.clone(), f.reserved.clone(), f.keep.clone(), f.local_fallback.clone()),
        None => (None, None, None, None, None),
    };
    let addr = pick(force, code_addr, file_addr)
        .unwrap_or_else(|| Sourced { value: DEFAULT_ADDR.to_owned(), origin: Origin::Default });
    let port = pick(force, code_port, file_port).unwrap_or(Sourced { value: DEFAULT_PORT, origin: Origin::Default });
    let reserved =
        pick(force, code_reserved, file_reserved).unwrap_or(Sourced { value: Vec::new(), origin: Origin::Default });
    let local_fallback = match (file_fallback, code_fallback) {
        (Some(file @ Sourced { value: false, .. }), _) => file,
        (Some(Sourced { value: true, origin }), code) => {
            let (source, line) = match origin {
                Origin::File { path, line, .. } => (path.display().to_string(), line),
                other => (other.to_string(), 0),
            };
            problems.push(Problem {
                source,
                line,
                reason: "LocalFallback=1: only the configuration's code can turn the local fallback on; the file \
                         can only turn it off (LocalFallback=0)"
                    .to_owned(),
            });
            code.unwrap_or(Sourced { value: false, origin: Origin::Default })
        }
        (None, code) => code.unwrap_or(Sourced { value: false, origin: Origin::Default }),
    };

    let mut endpoints = vec![Endpoint::new(addr.value.clone(), port.value)];
    for e in &reserved.value {
        if !endpoints.contains(e) {
            endpoints.push(e.clone());
        }
    }
    Resolved {
        endpoints,
        file: file.as_ref().map(|f| f.path.clone()),
        force_use_config: force,
        addr,
        port,
        reserved,
        keep_previous_logs: keep.is_some_and(|s| s.value),
        local_fallback,
        problems,
    }
}

/// The file's value when it is forced, else the code's; either one when the other is not set.
fn pick<T>(force: bool, from_code: Option<Sourced<T>>, from_file: Option<Sourced<T>>) -> Option<Sourced<T>> {
    if force {
        from_file.or(from_code)
    } else {
        from_code.or(from_file)
    }
}

/// [`resolve`] with the files read from disk; a file that exists but cannot be read (permissions,
/// not UTF-8) is reported and treated as missing.
pub fn resolve_from_disk(is_server: bool, series: SeriesId, code: &CodeSettings, places: &Places) -> Resolved {
    let unreadable = std::cell::RefCell::new(Vec::new());
    let mut resolved = resolve(is_server, series, code, places, |path| match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            let source = path.display().to_string();
            unreadable.borrow_mut().push(Problem { source, line: 0, reason: format!("cannot read the file: {e}") });
            None
        }
    });
    resolved.problems.splice(0..0, unreadable.into_inner());
    resolved
}

fn code_problem(reason: String) -> Problem {
    Problem { source: "configuration".to_owned(), line: 0, reason }
}

/// The settings one file gives one series, each already merged series-section-over-`[Common]`.
struct FileSettings {
    path: PathBuf,
    force: Option<Sourced<bool>>,
    addr: Option<Sourced<String>>,
    port: Option<Sourced<u16>>,
    reserved: Option<Sourced<Vec<Endpoint>>>,
    keep: Option<Sourced<bool>>,
    local_fallback: Option<Sourced<bool>>,
}

/// What parsing one non-empty value gave: the setting (a list may come with complaints about some of
/// its items), or why it is bad.
type Parsed<T> = Result<(T, Vec<String>), String>;

impl FileSettings {
    fn read(path: PathBuf, text: &str, series: SeriesId, problems: &mut Vec<Problem>) -> Self {
        let ini = Ini::parse(text);
        let mut file = FileReader { ini: &ini, path: &path, series: series.as_str(), problems };
        file.report_syntax();
        Self {
            force: file.lookup("ForceUseConfig", parse_flag),
            keep: file.lookup("KeepPreviousLogs", parse_flag),
            local_fallback: file.lookup("LocalFallback", parse_flag),
            addr: file.lookup("ServerAddr", |v| Ok((parse_host(v)?, Vec::new()))),
            port: file.lookup("ServerPort", |v| Ok((parse_port(v)?, Vec::new()))),
            reserved: file.lookup("ReservedServers", |v| match parse_server_list(v) {
                // Some good servers are kept with complaints about the rest; none at all is a bad value.
                (list, bad) if list.is_empty() => Err(bad.join("; ")),
                (list, bad) => Ok((list, bad)),
            }),
            path,
        }
    }
}

struct FileReader<'a> {
    ini: &'a Ini,
    path: &'a Path,
    series: &'a str,
    problems: &'a mut Vec<Problem>,
}

impl FileReader<'_> {
    fn complain(&mut self, line: usize, reason: String) {
        self.problems.push(Problem { source: self.path.display().to_string(), line, reason });
    }

    /// Lines that are not INI, sections that are neither `[Common]` nor a series, unknown keys.
    fn report_syntax(&mut self) {
        let ini = self.ini;
        for p in &ini.problems {
            self.complain(p.line, p.reason.clone());
        }
        for entry in &ini.entries {
            let section_ok = entry.section.eq_ignore_ascii_case(COMMON) || entry.section.parse::<SeriesId>().is_ok();
            if !section_ok {
                let reason =
                    format!("section `[{}]` is neither `[Common]` nor a key series like `[672B]`", entry.section);
                self.complain(entry.line, reason);
            } else if !KNOWN_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&entry.key)) {
                self.complain(entry.line, format!("unknown key `{}` in `[{}]`", entry.key, entry.section));
            }
        }
    }

    /// `key` from the series' section, else from `[Common]`; an empty value is "not set" and a bad one
    /// is reported and skipped, so `[Common]` still applies.
    fn lookup<T>(&mut self, key: &str, parse: impl Fn(&str) -> Parsed<T>) -> Option<Sourced<T>> {
        let ini = self.ini;
        for section in [self.series, COMMON] {
            let Some(entry) = ini.get(section, key) else { continue };
            if entry.value.is_empty() {
                continue;
            }
            match parse(&entry.value) {
                Ok((value, complaints)) => {
                    for reason in complaints {
                        self.complain(entry.line, format!("{key}: {reason}"));
                    }
                    let origin =
                        Origin::File { path: self.path.to_owned(), section: entry.section.clone(), line: entry.line };
                    return Some(Sourced { value, origin });
                }
                Err(reason) => self.complain(entry.line, format!("{key}: {reason}")),
            }
        }
        None
    }
}

fn parse_flag(value: &str) -> Parsed<bool> {
    match value {
        "0" => Ok((false, Vec::new())),
        "1" => Ok((true, Vec::new())),
        other => Err(format!("`{other}` is not 0 or 1")),
    }
}

#[cfg(test)]
#[path = "conf_tests.rs"]
mod tests;
