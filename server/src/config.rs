//! `licenceserver.conf`: what the administrator can set, its defaults, and how a broken file is
//! handled. A bad line or value never stops the server: it is reported as `file:line: reason`, the
//! default is used for that one setting, and everything else in the file still applies.
//! `packaging/licenceserver.conf` is the commented example of every key read here.

use licence_protocol::ini::Ini;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub port: u16,
    pub listen: IpAddr,
    pub keep_previous_logs: bool,
    pub machine_id_file: Option<PathBuf>,
    /// Seconds a connection lives past its last use (the seed's example: 20).
    pub connection_timeout: u32,
    /// Seconds a session keeps its licence past its last heartbeat or check.
    pub session_timeout: u32,
    /// Seconds a client has to send a request's head (slow or stalled clients are cut off).
    pub header_read_timeout: u32,
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

impl Default for ServerConfig {
    fn default() -> Self {
        let admin = |mode| Access {
            mode,
            user_name: "admin".into(),
            password: "admin".into(),
            local_only: false,
            allowed_addresses: Vec::new(),
            allowed_hosts: Vec::new(),
        };
        Self {
            port: DEFAULT_PORT,
            listen: IpAddr::from([0, 0, 0, 0]),
            keep_previous_logs: false,
            machine_id_file: None,
            connection_timeout: 20,
            session_timeout: 60,
            header_read_timeout: 10,
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
pub fn update(path: &Path, changes: &[(&str, &str, &str)]) -> Result<(), String> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let text = licence_protocol::ini::set_values(&text, changes)?;
    licence_protocol::keyfile::write_atomically(path, text.as_bytes()).map_err(|e| e.to_string())
}

pub fn parse(text: &str, file: &str) -> (ServerConfig, Vec<ConfigProblem>) {
    let ini = Ini::parse(text);
    let mut reader = Reader { ini: &ini, file, problems: Vec::new() };
    for p in &ini.problems {
        reader.problem(p.line, p.reason.clone());
    }
    let d = ServerConfig::default();
    let config = ServerConfig {
        port: reader.value("Common", "ServerPort", d.port, parse_port),
        listen: reader.value("Common", "ListenAddress", d.listen, |v| {
            v.parse().map_err(|_| format!("`{v}` is not an IP address"))
        }),
        keep_previous_logs: reader.value("Common", "KeepPreviousLogs", false, parse_flag),
        machine_id_file: reader
            .value("Common", "MachineIdFile", None, |v| Ok((!v.is_empty()).then(|| PathBuf::from(v)))),
        connection_timeout: reader
            .value("Common", "ConnectionTimeout", d.connection_timeout, |v| parse_seconds(v, 2, 3600)),
        session_timeout: reader.value("Common", "SessionTimeout", d.session_timeout, |v| parse_seconds(v, 2, 86_400)),
        header_read_timeout: reader
            .value("Common", "HeaderReadTimeout", d.header_read_timeout, |v| parse_seconds(v, 1, 300)),
        max_connections: reader.value("Common", "MaxConnections", d.max_connections, |v| parse_count(v, 1, 10_000_000)),
        max_sessions: reader.value("Common", "MaxSessions", d.max_sessions, |v| parse_count(v, 1, 10_000_000)),
        api_enabled: reader.value("API", "Enabled", true, parse_flag),
        api: reader.access("API", d.api),
        console: reader.access("Console", d.console),
        licence_center_url: reader.value("Common", "LicenceCenterUrl", None, parse_url),
        usb_enabled: reader.value("UPKey", "Enabled", true, parse_flag),
        reserved_servers: reader.value("Common", "ReservedServers", Vec::new(), parse_servers),
    };
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
        assert_eq!(c.console.mode, AuthMode::Always);
        assert_eq!(c.console.user_name, "boss");
        assert_eq!(c.console.password, "secret");
        assert!(c.keep_previous_logs);
        assert_eq!(c.port, 9100);
        assert!(!c.api_enabled);
        assert_eq!(c.api.user_name, "admin");
    }

    #[test]
    fn a_bad_value_is_located_and_the_rest_still_applies() {
        let text = "[Common]\nServerPort=99999\nKeepPreviousLogs=1\nthis line is broken\n[Console]\nAuthorization=7\n";
        let (c, problems) = parse(text, "/etc/x.conf");
        assert_eq!(c.port, DEFAULT_PORT);
        assert!(c.keep_previous_logs);
        assert_eq!(c.console.mode, AuthMode::ChangesOnly);
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
        assert_eq!(c.licence_center_url.as_deref(), Some("https://centre.example/api"));
        assert!(!c.usb_enabled);
        let (c, problems) = parse("[Common]\nLicenceCenterUrl=ftp://x\n", "f");
        assert_eq!(c.licence_center_url, None);
        assert!(problems[0].reason.contains("not an http:// or https:// address"), "{problems:?}");
        assert!(parse("", "f").0.usb_enabled);
    }

    #[test]
    fn access_restrictions_are_read() {
        let text =
            "[Console]\nLocalAccessOnly=1\nAllowedAddresses=10.0.0.0/8, ::1, 192.168.1.7\nAllowedHosts=Licence.Corp\n";
        let (c, problems) = parse(text, "f");
        assert!(problems.is_empty(), "{problems:?}");
        assert!(c.console.local_only);
        assert_eq!(c.console.allowed_hosts, vec!["licence.corp"]);
        let nets = &c.console.allowed_addresses;
        assert!(nets[0].contains("10.1.2.3".parse().unwrap()) && !nets[0].contains("11.0.0.1".parse().unwrap()));
        assert!(nets[1].contains("::1".parse().unwrap()));
        assert!(nets[2].contains("::ffff:192.168.1.7".parse().unwrap()));
        let (c, problems) = parse("[API]\nAllowedAddresses=10.0.0.0/40\n", "f");
        assert!(c.api.allowed_addresses.is_empty());
        assert!(problems[0].reason.contains("10.0.0.0/40"), "{problems:?}");
    }

    #[test]
    fn reserved_servers_are_hosts_with_optional_ports() {
        let (c, problems) = parse("[Common]\nReservedServers=lic2, 10.0.0.7:9100 ,[::1]:9099\n", "f");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.reserved_servers, vec!["lic2", "10.0.0.7:9100", "[::1]:9099"]);
        for bad in ["lic2:0", "a b", "http://x", "[::1", "host:port"] {
            let (c, problems) = parse(&format!("[Common]\nReservedServers={bad}\n"), "f");
            assert!(c.reserved_servers.is_empty() && problems.len() == 1, "{bad}: {problems:?}");
        }
    }

    #[test]
    fn the_commented_example_is_read_without_a_complaint() {
        let (c, problems) = parse(include_str!("../../packaging/licenceserver.conf"), "example");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.port, DEFAULT_PORT);
        assert!(!c.console.local_only && c.console.allowed_addresses.is_empty());
    }

    #[test]
    fn missing_file_means_defaults() {
        let (c, problems) = load(Path::new("/nonexistent/licenceserver.conf"));
        assert_eq!(c, ServerConfig::default());
        assert!(problems.is_empty());
    }
}
