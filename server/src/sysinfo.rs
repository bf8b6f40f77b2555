//! Facts about this computer and process that `/api/serverinfo` reports.

use serde::Serialize;

/// `ComputerName`.
pub fn computer_name() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `LocalIP`: this computer's IPv4 addresses, loopback excluded, comma-separated.
pub fn local_ipv4() -> String {
    let mut ips: Vec<String> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback())
        .filter_map(|i| match i.ip() {
            std::net::IpAddr::V4(v4) => Some(v4.to_string()),
            std::net::IpAddr::V6(_) => None,
        })
        .collect();
    ips.sort();
    ips.dedup();
    if ips.is_empty() {
        "127.0.0.1".into()
    } else {
        ips.join(",")
    }
}

pub fn os_type() -> &'static str {
    if cfg!(windows) {
        "Windows"
    } else {
        "Linux"
    }
}

/// `CPU`: the process's architecture, in the guide's words (i386 / x86_64).
pub fn cpu() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i386",
        other => other,
    }
}

/// `OSVersion`, e.g. `Debian GNU/Linux 12 (bookworm) 6.1.0 (x86_64)`.
pub fn os_version() -> String {
    let name = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| os_type().to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|k| k.trim().to_owned()).ok();
    match kernel {
        Some(k) => format!("{name} {k} ({})", std::env::consts::ARCH),
        None => format!("{name} ({})", std::env::consts::ARCH),
    }
}

pub fn module_name() -> String {
    std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default()
}

/// The body of `/api/serverinfo`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServerInfo {
    pub computer_name: String,
    #[serde(rename = "LocalIP")]
    pub local_ip: String,
    #[serde(rename = "OSType")]
    pub os_type: &'static str,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    pub module_name: String,
    #[serde(rename = "PID")]
    pub pid: u32,
    #[serde(rename = "CPU")]
    pub cpu: &'static str,
    pub version: &'static str,
    pub started: licence_protocol::time::UtcTime,
    #[serde(rename = "ComputerID")]
    pub computer_id: String,
}

impl ServerInfo {
    pub fn gather(started: licence_protocol::time::UtcTime, computer_id: String) -> Self {
        Self {
            computer_name: computer_name(),
            local_ip: local_ipv4(),
            os_type: os_type(),
            os_version: os_version(),
            module_name: module_name(),
            pid: std::process::id(),
            cpu: cpu(),
            version: crate::version::announced(),
            started,
            computer_id,
        }
    }
}
