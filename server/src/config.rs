//! `licenceserver.conf`: what the administrator can set, its defaults, and how a broken file is
//! handled. A bad line or value never stops the server: it is reported as `file:line: reason`, the
//! default is used for that one setting, and everything else in the file still applies.
//! `packaging/licenceserver.conf` is the commented example of every key read here.

use crate::ledger::LedgerConfig;
use licence_protocol::ini::Ini;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 9099;

/// `[Console] Authorization` / `[API] Authorization`: the seed's three modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// 0: only parameters and service operations (anything that changes state) need a login.
    ChangesOnly,
    /// 1: everything needs a login.
    Always,
    /// 2: no login at all (not recommended).
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub mode: AuthMode,
    pub user_name: String,
    /// An argon2 hash (`$argon2id$…`), or a password written in clear by hand, which the server hashes
    /// and writes back at start (`passwords`).
    pub password: String,
    /// `LocalAccessOnly=1`: only this computer (loopback addresses) may use it.
    pub local_only: bool,
    /// `AllowedAddresses`: if not empty, only these addresses or networks (`10.0.0.0/8`, `::1`).
    pub allowed_addresses: Vec<Network>,
    /// `AllowedHosts`: host names, besides IP addresses, `localhost` and this computer's name, that a
    /// browser may use to reach it (a defence against DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// `NoLoginChangesFromAnyAddress=1`: with `Authorization=2` (no login), changes are accepted from
    /// every address the rules above admit; by default (0) only from this computer (loopback).
    pub no_login_changes_from_any_address: bool,
}

/// An address with a prefix length: one host (`/32`, `/128`) or a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    pub address: IpAddr,
    pub prefix: u8,
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not an address or a network like 10.0.0.0/8");
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => {
                (a.trim().parse::<IpAddr>().map_err(|_| bad())?, Some(p.trim().parse::<u8>().map_err(|_| bad())?))
            }
            None => (text.trim().parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Network { address, prefix })
    }
}

/// Everything `licenceserver.conf` says, split by when it takes effect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerConfig {
    pub startup: Startup,
    pub settings: Settings,
}

/// What only the start reads: the port, the address, the logs, the machine id. A change needs a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup {
    pub port: u16,
    pub listen: IpAddr,
    pub keep_previous_logs: bool,
    pub machine_id_file: Option<PathBuf>,
    /// Seconds a client has to send a request's head (slow or stalled clients are cut off).
    pub header_read_timeout: u32,
}

/// What the running server reads whenever it needs it. The console replaces it whole ([`Live`]), so
/// a setting added here is live without being copied anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Seconds a connection lives past its last use (the seed's example: 20).
    pub connection_timeout: u32,
    /// Seconds a session keeps its licence past its last heartbeat or check.
    pub session_timeout: u32,
    /// Live connections the server accepts at most: a hostile or broken client cannot grow it without bound.
    pub max_connections: u32,
    /// Live sessions at most (file-mode sessions share a seat, so licences alone do not bound them).
    pub max_sessions: u32,
    pub api_enabled: bool,
    pub api: Access,
    pub console: Access,
    /// `[Common] LicenceCenterUrl`: the vendor's activation centre (`http://` or `https://`); `None`
    /// means activation works only offline, by request and response files.
    pub licence_center_url: Option<String>,
    /// `[UPKey] Enabled`: look for USB keys and blanks. With 0 the server never touches libusb.
    pub usb_enabled: bool,
    /// `[Common] ReservedServers`: `host[:port]` of the reserved licence servers, announced to every
    /// add-in at `connect` so it can move there when this server fails, without each configuration
    /// naming them.
    pub reserved_servers: Vec<String>,
}

impl Settings {
    /// The lease lengths the ledger gives.
    pub fn leases(&self) -> LedgerConfig {
        LedgerConfig {
            connection_lease: Duration::from_secs(self.connection_timeout.into()),
            session_lease: Duration::from_secs(self.session_timeout.into()),
        }
    }

    /// The access settings of the console or the API.
    pub fn access(&self, scope: Scope) -> &Access {
        match scope {
            Scope::Console => &self.console,
            Scope::Api => &self.api,
        }
    }
}

/// The console or the API: each has its own access settings (`[Console]`, `[API]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Console,
    Api,
}

impl Scope {
    /// Its section in `licenceserver.conf`.
    pub fn section(self) -> &'static str {
        match self {
            Scope::Console => "Console",
            Scope::Api => "API",
        }
    }
}

/// The settings in force: one value, replaced whole by its one writer (the app, after the console
/// saved the file), read by everyone else as a snapshot that a change cannot tear.
#[derive(Debug)]
pub struct Live {
    current: RwLock<Arc<Settings>>,
}

impl Live {
    pub fn new(settings: Settings) -> Self {
        Self { current: RwLock::new(Arc::new(settings)) }
    }

    /// The settings in force now.
    pub fn get(&self) -> Arc<Settings> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `settings` in force.
    pub(crate) fn replace(&self, settings: Settings) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(settings);
    }
}

impl Default for Startup {
    fn default() -> Self {
        Self {
            port: DEFAULT_PORT,
            listen: IpAddr::from([0, 0, 0, 0]),
            keep_previous_logs: false,
            machine_id_file: None,
            header_read_timeout: 10,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        let admin = |mode| Access {
            mode,
            user_name: "admin".into(),
            password: "admin".into(),
            local_only: false,
            allowed_addresses: Vec::new(),
            allowed_hosts: Vec::new(),
            no_login_changes_from_any_address: false,
        };
        Self {
            connection_timeout: 20,
            session_timeout: 60,
            max_connections: 100_000,
            max_sessions: 100_000,
            api_enabled: true,
            api: admin(AuthMode::Always),
            console: admin(AuthMode::ChangesOnly),
            licence_center_url: None,
            usb_enabled: true,
            reserved_servers: Vec::new(),
        }
    }
}

/// One thing wrong in a config file, located for the administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.reason)
        }
    }
}

/// Reads the config file; a missing file means all defaults.
pub fn load(path: &Path) -> (ServerConfig, Vec<ConfigProblem>) {
    let file = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => parse(&text, &file),
            Err(e) => (
                ServerConfig::default(),
                vec![ConfigProblem {
                    file,
                    line: 0,
                    reason: format!("not UTF-8 text (byte {}); using defaults", e.utf8_error().valid_up_to()),
                }],
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (ServerConfig::default(), Vec::new()),
        Err(e) => (
            ServerConfig::default(),
            vec![ConfigProblem { file, line: 0, reason: format!("cannot be read: {e}; using defaults") }],
        ),
    }
}

/// Sets `key=value` in `section` for every change, keeping the rest of the file as it is (comments
/// included), and replaces the file atomically: a reader sees the old file or the new one. A missing
/// file is created.
pub fn update(path: &Path, changes: &[(&str, &str, &str)]) -> Result<(), UpdateError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| UpdateError::NotText(path.to_owned()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(UpdateError::Read { path: path.to_owned(), source }),
    };
    let text = licence_protocol::ini::set_values(&text, changes).map_err(UpdateError::Edit)?;
    Ok(licence_protocol::keyfile::write_atomically(path, text.as_bytes())?)
}

/// Why `licenceserver.conf` could not be changed (nothing was written then).
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{} is not UTF-8 text", .0.display())]
    NotText(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Edit(String),
    #[error(transparent)]
    Write(#[from] licence_protocol::keyfile::KeyFileError),
}

pub fn parse(text: &str, file: &str) -> (ServerConfig, Vec<ConfigProblem>) {
    let ini = Ini::parse(text);
    let mut reader = Reader { ini: &ini, file, problems: Vec::new() };
    for p in &ini.problems {
        reader.problem(p.line, p.reason.clone());
    }
    let (d, l) = (Startup::default(), Settings::default());
    let startup = Startup {
        port: reader.value("Common", "ServerPort", d.port, parse_port),
        listen: reader.value("Common", "ListenAddress", d.listen, |v| {
            v.parse().map_err(|_| format!("`{v}` is not an IP address"))
        }),
        keep_previous_logs: reader.value("Common", "KeepPreviousLogs", false, parse_flag),
        machine_id_file: reader
            .value("Common", "MachineIdFile", None, |v| Ok((!v.is_empty()).then(|| PathBuf::from(v)))),
        header_read_timeout: reader
            .value("Common", "HeaderReadTimeout", d.header_read_timeout, |v| parse_seconds(v, 1, 300)),
    };
    let settings = Settings {
        connection_timeout: reader
            .value("Common", "ConnectionTimeout", l.connection_timeout, |v| parse_seconds(v, 2, 3600)),
        session_timeout: reader.value("Common", "SessionTimeout", l.session_timeout, |v| parse_seconds(v, 2, 86_400)),
        max_connections: reader.value("Common", "MaxConnections", l.max_connections, |v| parse_count(v, 1, 10_000_000)),
        max_sessions: reader.value("Common", "MaxSessions", l.max_sessions, |v| parse_count(v, 1, 10_000_000)),
        api_enabled: reader.value("API", "Enabled", true, parse_flag),
        api: reader.access("API", l.api),
        console: reader.access("Console", l.console),
        licence_center_url: reader.value("Common", "LicenceCenterUrl", None, parse_url),
        usb_enabled: reader.value("UPKey", "Enabled", true, parse_flag),
        reserved_servers: reader.value("Common", "ReservedServers", Vec::new(), parse_servers),
    };
    let config = ServerConfig { startup, settings };
    (config, reader.problems)
}

struct Reader<'a> {
    ini: &'a Ini,
    file: &'a str,
    problems: Vec<ConfigProblem>,
}

impl Reader<'_> {
    fn problem(&mut self, line: usize, reason: String) {
        self.problems.push(ConfigProblem { file: self.file.to_owned(), line, reason });
    }

    fn value<T>(&mut self, section: &str, key: &str, default: T, parse: impl Fn(&str) -> Result<T, String>) -> T {
        let Some(entry) = self.ini.get(section, key) else { return default };
        match parse(&entry.value) {
            Ok(v) => v,
            Err(reason) => {
                let line = entry.line;
                self.problem(line, format!("[{section}] {key}: {reason}; using the default"));
                default
            }
        }
    }

    fn access(&mut self, section: &str, default: Access) -> Access {
        Access {
            mode: self.value(section, "Authorization", default.mode, parse_auth_mode),
            user_name: self.value(section, "UserName", default.user_name, |v| Ok(v.to_owned())),
            password: self.value(section, "Password", default.password, |v| Ok(v.to_owned())),
            local_only: self.value(section, "LocalAccessOnly", default.local_only, parse_flag),
            allowed_addresses: self.value(section, "AllowedAddresses", default.allowed_addresses, |v| {
                v.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::parse).collect()
            }),
            allowed_hosts: self.value(section, "AllowedHosts", default.allowed_hosts, |v| {
                Ok(v.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
            }),
            no_login_changes_from_any_address: self.value(
                section,
                "NoLoginChangesFromAnyAddress",
                default.no_login_changes_from_any_address,
                parse_flag,
            ),
        }
    }
}

fn parse_port(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("`{v}` is not a port number (1-65535)")),
    }
}

fn parse_flag(v: &str) -> Result<bool, String> {
    match v {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(format!("`{v}` is not 0 or 1")),
    }
}

fn parse_seconds(v: &str, min: u32, max: u32) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(s) if (min..=max).contains(&s) => Ok(s),
        _ => Err(format!("`{v}` is not a number of seconds from {min} to {max}")),
    }
}

fn parse_count(v: &str, min: u32, max: u32) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{v}` is not a number from {min} to {max}")),
    }
}

/// `host[:port], …` (an IPv6 address in brackets); each kept as written, trimmed.
pub(crate) fn parse_servers(v: &str) -> Result<Vec<String>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let bad = || format!("`{item}` is not host or host:port");
            let (host, port) = match item.strip_prefix('[') {
                Some(rest) => {
                    let (host, after) = rest.split_once(']').ok_or_else(bad)?;
                    (host, after.strip_prefix(':'))
                }
                None => match item.rsplit_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (item, None),
                },
            };
            if host.is_empty() || host.contains(char::is_whitespace) || host.contains(['/', '@']) {
                return Err(bad());
            }
            if let Some(port) = port {
                parse_port(port).map_err(|_| bad())?;
            }
            Ok(item.to_owned())
        })
        .collect()
}

/// An `http://` or `https://` address with a host; a trailing `/` is dropped. Empty means none.
fn parse_url(v: &str) -> Result<Option<String>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    let rest = v.strip_prefix("http://").or_else(|| v.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !v.contains(char::is_whitespace) => {
            Ok(Some(v.trim_end_matches('/').to_owned()))
        }
        _ => Err(format!("`{v}` is not an http:// or https:// address")),
    }
}

fn parse_auth_mode(v: &str) -> Result<AuthMode, String> {
    match v {
        "0" => Ok(AuthMode::ChangesOnly),
        "1" => Ok(AuthMode::Always),
        "2" => Ok(AuthMode::Off),
        _ => Err(format!("`{v}` is not 0, 1 or 2")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_console_section_is_understood() {
        let text = "[Console]\n; comment\nAuthorization=1\nUserName=boss\nPassword=secret\n\n[Common]\nKeepPreviousLogs=1\nServerPort=9100\n[API]\nEnabled=0\n";
        let (c, problems) = parse(text, "licenceserver.conf");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.settings.console.mode, AuthMode::Always);
        assert_eq!(c.settings.console.user_name, "boss");
        assert_eq!(c.settings.console.password, "secret");
        assert!(c.startup.keep_previous_logs);
        assert_eq!(c.startup.port, 9100);
        assert!(!c.settings.api_enabled);
        assert_eq!(c.settings.api.user_name, "admin");
    }

    #[test]
    fn a_bad_value_is_located_and_the_rest_still_applies() {
        let text = "[Common]\nServerPort=99999\nKeepPreviousLogs=1\nthis line is broken\n[Console]\nAuthorization=7\n";
        let (c, problems) = parse(text, "/etc/x.conf");
        assert_eq!(c.startup.port, DEFAULT_PORT);
        assert!(c.startup.keep_previous_logs);
        assert_eq!(c.settings.console.mode, AuthMode::ChangesOnly);
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown.iter().any(|s| s.starts_with("/etc/x.conf:2: [Common] ServerPort: `99999`")), "{shown:?}");
        assert!(shown.iter().any(|s| s.starts_with("/etc/x.conf:4: ")), "{shown:?}");
        assert!(shown.iter().any(|s| s.starts_with("/etc/x.conf:6: [Console] Authorization")), "{shown:?}");
    }

    #[test]
    fn centre_address_and_usb_switch_are_read() {
        let text = "[Common]\nLicenceCenterUrl=https://centre.example/api/\n[UPKey]\nEnabled=0\n";
        let (c, problems) = parse(text, "f");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.settings.licence_center_url.as_deref(), Some("https://centre.example/api"));
        assert!(!c.settings.usb_enabled);
        let (c, problems) = parse("[Common]\nLicenceCenterUrl=ftp://x\n", "f");
        assert_eq!(c.settings.licence_center_url, None);
        assert!(problems[0].reason.contains("not an http:// or https:// address"), "{problems:?}");
        assert!(parse("", "f").0.settings.usb_enabled);
    }

    #[test]
    fn access_restrictions_are_read() {
        let text =
            "[Console]\nLocalAccessOnly=1\nAllowedAddresses=10.0.0.0/8, ::1, 192.168.1.7\nAllowedHosts=Licence.Corp\n";
        let (c, problems) = parse(text, "f");
        assert!(problems.is_empty(), "{problems:?}");
        assert!(c.settings.console.local_only);
        assert_eq!(c.settings.console.allowed_hosts, vec!["licence.corp"]);
        let nets = &c.settings.console.allowed_addresses;
        assert!(nets[0].contains("10.1.2.3".parse().unwrap()) && !nets[0].contains("11.0.0.1".parse().unwrap()));
        assert!(nets[1].contains("::1".parse().unwrap()));
        assert!(nets[2].contains("::ffff:192.168.1.7".parse().unwrap()));
        let (c, problems) = parse("[API]\nAllowedAddresses=10.0.0.0/40\n", "f");
        assert!(c.settings.api.allowed_addresses.is_empty());
        assert!(problems[0].reason.contains("10.0.0.0/40"), "{problems:?}");
    }

    #[test]
    fn reserved_servers_are_hosts_with_optional_ports() {
        let (c, problems) = parse("[Common]\nReservedServers=lic2, 10.0.0.7:9100 ,[::1]:9099\n", "f");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.settings.reserved_servers, vec!["lic2", "10.0.0.7:9100", "[::1]:9099"]);
        for bad in ["lic2:0", "a b", "http://x", "[::1", "host:port"] {
            let (c, problems) = parse(&format!("[Common]\nReservedServers={bad}\n"), "f");
            assert!(c.settings.reserved_servers.is_empty() && problems.len() == 1, "{bad}: {problems:?}");
        }
    }

    #[test]
    fn the_commented_example_is_read_without_a_complaint() {
        let (c, problems) = parse(include_str!("../../packaging/licenceserver.conf"), "example");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.startup.port, DEFAULT_PORT);
        assert!(!c.settings.console.local_only && c.settings.console.allowed_addresses.is_empty());
    }

    #[test]
    fn missing_file_means_defaults() {
        let (c, problems) = load(Path::new("/nonexistent/licenceserver.conf"));
        assert_eq!(c, ServerConfig::default());
        assert!(problems.is_empty());
    }
}
