//! Facts about this process that `connect` reports (`OSVersion`, `ComputerName`, `LocalIP`,
//! `Process`, `CPU`, `PID`) and the administrator sees in `/api/connections`. Gathered from the OS
//! without `unsafe`; what cannot be learnt falls back to a plain placeholder, never an error.

use licence_protocol::key::SeriesId;
use licence_protocol::wire::ConnectRequest;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};

/// What the caller (the Native API layer) knows and the OS does not tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The 1C platform's version, `8.3.25.1257`.
    pub platform_version: String,
    /// True in an application server or web server process.
    pub is_server: bool,
    /// The add-in's file (`ModuleName`).
    pub module_name: String,
    /// The add-in's own version; its major.minor must equal the server's.
    pub version: String,
    pub key_id: SeriesId,
    /// The series public key the configuration pins (`SeriesPublicKey`); without it the client sends
    /// nothing (code 16).
    pub series_public_key: Option<[u8; 32]>,
}

/// The `connect` body for this process; `LocalIP` is `127.0.0.1` until [`local_ip_towards`] fills it
/// for the server actually tried.
pub fn connect_request(caller: &Caller) -> ConnectRequest {
    ConnectRequest {
        os_version: os_version(),
        computer_name: computer_name(),
        local_ip: Ipv4Addr::LOCALHOST.to_string(),
        process: std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
        cpu: cpu().to_owned(),
        pid: std::process::id(),
        is_server: caller.is_server,
        platform_version: caller.platform_version.clone(),
        module_name: caller.module_name.clone(),
        version: caller.version.clone(),
        key_id: caller.key_id,
        client_key: None,
        protocol: licence_protocol::wire::PROTOCOL,
        series_public_key: caller.series_public_key.map(hex::encode),
    }
}

/// The local address this computer would use to reach `host:port` (no packet is sent), or
/// `127.0.0.1` when the name does not resolve.
pub fn local_ip_towards(host: &str, port: u16) -> String {
    let target: Option<SocketAddr> = (host, port).to_socket_addrs().ok().and_then(|mut a| a.next());
    let local = target.and_then(|target| {
        let unspecified: IpAddr =
            if target.is_ipv6() { Ipv6Addr::UNSPECIFIED.into() } else { Ipv4Addr::UNSPECIFIED.into() };
        let socket = UdpSocket::bind((unspecified, 0)).ok()?;
        socket.connect(target).ok()?;
        socket.local_addr().ok().map(|a| a.ip())
    });
    local.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)).to_string()
}

/// `CPU`: the process's architecture in the guide's words (`i386` / `x86_64`).
pub fn cpu() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i386",
        other => other,
    }
}

/// `ComputerName`: the host name, `localhost` when it cannot be told.
pub fn computer_name() -> String {
    let from_env = |name: &str| std::env::var(name).ok();
    let from_file = |path: &str| std::fs::read_to_string(path).ok();
    let candidates = if cfg!(windows) {
        vec![from_env("COMPUTERNAME")]
    } else {
        vec![from_file("/proc/sys/kernel/hostname"), from_file("/etc/hostname"), from_env("HOSTNAME")]
    };
    candidates
        .into_iter()
        .flatten()
        .map(|n| n.trim().to_owned())
        .find(|n| !n.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// `OSVersion`, e.g. `Debian GNU/Linux 12 (bookworm) 6.1.0 (x86_64)`.
pub fn os_version() -> String {
    if cfg!(windows) {
        return format!("Windows ({})", std::env::consts::ARCH);
    }
    let release = std::fs::read_to_string("/etc/os-release").ok();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok();
    describe_os(release.as_deref(), kernel.as_deref(), std::env::consts::ARCH)
}

/// `PRETTY_NAME` of an `os-release` text, the kernel release and the architecture, in one line.
pub fn describe_os(os_release: Option<&str>, kernel: Option<&str>, arch: &str) -> String {
    let name = os_release
        .and_then(|text| text.lines().find_map(|l| l.trim().strip_prefix("PRETTY_NAME=")))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "Linux".to_owned());
    match kernel.map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => format!("{name} {k} ({arch})"),
        None => format!("{name} ({arch})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_line_reads_like_the_protocol_example() {
        let release = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            describe_os(Some(release), Some("6.1.0\n"), "x86_64"),
            "Debian GNU/Linux 12 (bookworm) 6.1.0 (x86_64)"
        );
        assert_eq!(describe_os(None, None, "x86_64"), "Linux (x86_64)");
    }

    #[test]
    fn loopback_server_is_reached_from_loopback() {
        assert_eq!(local_ip_towards("127.0.0.1", 9099), "127.0.0.1");
        assert_eq!(local_ip_towards("no such host.invalid", 9099), "127.0.0.1");
    }

    #[test]
    fn connect_request_carries_this_process() {
        let caller = Caller {
            platform_version: "8.3.25.1257".into(),
            is_server: true,
            module_name: "liblicenceaddin".into(),
            version: "3.0.1.0".into(),
            key_id: "672B".parse().unwrap(),
            series_public_key: Some([7; 32]),
        };
        let req = connect_request(&caller);
        assert_eq!(req.pid, std::process::id());
        assert!(req.is_server);
        assert!(!req.computer_name.is_empty());
        assert!(!req.process.is_empty());
        assert_eq!(req.protocol, 2);
        assert_eq!(req.series_public_key.as_deref(), Some("07".repeat(32).as_str()));
    }
}
