//! The terminal client of this process's session (`TerminalClient` of the session facts): in file
//! mode the server counts one licence per terminal client, so every user of a terminal server needs
//! their own. Detection is a pure function over the environment ([`detect`]), which the add-in feeds
//! with the process's own ([`this_session`]) and the tests with fake ones; the configuration's
//! explicit value, when given, wins ([`resolve`]).
//!
//! What is read (the add-in's README has the table):
//! - Windows: a remote desktop session is `SESSIONNAME` starting with `RDP-` (Citrix: `ICA-`); the
//!   client is `CLIENTNAME`, which the session sets to the client computer's name (`rdp:` and the
//!   session name when it is missing). The system calls (`GetSystemMetrics(SM_REMOTESESSION)`,
//!   `WTSQuerySessionInformation(WTSClientName)`) are not made: they need FFI, which only
//!   `addin/src/ffi` may hold, and a new dependency.
//! - Linux: X2Go (`X2GO_SESSION`; the client is the address of the SSH connection X2Go runs over,
//!   else `x2go:` and the session name), xrdp (`XRDP_SESSION`; xrdp puts no client name or address
//!   in the session's environment, so the client is `xrdp:` and the X display number, one per xrdp
//!   session).
//! - Both: an SSH session (`SSH_CONNECTION`, else `SSH_CLIENT`): the client's address.
//! - Anything else is a local session: no terminal client.

/// The operating system whose conventions apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Windows,
    Unix,
}

impl Os {
    /// The system this add-in was built for.
    pub const fn this() -> Self {
        if cfg!(windows) {
            Os::Windows
        } else {
            Os::Unix
        }
    }
}

/// What kind of terminal session was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Windows Remote Desktop (or Citrix ICA).
    RemoteDesktop,
    X2Go,
    Xrdp,
    Ssh,
}

/// A terminal session and its client's identity, as sent in `TerminalClient`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminal {
    pub kind: Kind,
    pub client: String,
}

/// The terminal session an environment describes (`env` answers a variable's value), or `None` for
/// a local session.
pub fn detect(os: Os, env: impl Fn(&str) -> Option<String>) -> Option<Terminal> {
    let var = |name: &str| env(name).map(|v| v.trim().to_owned()).filter(|v| usable(v));
    let found = |kind, client: String| Some(Terminal { kind, client });
    let ssh_address = || {
        let line = var("SSH_CONNECTION").or_else(|| var("SSH_CLIENT"))?;
        line.split_whitespace().next().map(str::to_owned)
    };
    match os {
        Os::Windows => {
            if let Some(session) = var("SESSIONNAME").filter(|s| is_remote_session_name(s)) {
                let client = var("CLIENTNAME").filter(|c| !c.eq_ignore_ascii_case("Console"));
                return found(Kind::RemoteDesktop, client.unwrap_or_else(|| format!("rdp:{session}")));
            }
        }
        Os::Unix => {
            if let Some(session) = var("X2GO_SESSION") {
                return found(Kind::X2Go, ssh_address().unwrap_or_else(|| format!("x2go:{session}")));
            }
            if let Some(session) = var("XRDP_SESSION") {
                let display = var("DISPLAY").and_then(|d| display_number(&d));
                return found(Kind::Xrdp, format!("xrdp:{}", display.unwrap_or(session)));
            }
        }
    }
    ssh_address().map(|address| Terminal { kind: Kind::Ssh, client: address })
}

/// This process's terminal session, from its own environment.
pub fn this_session() -> Option<Terminal> {
    detect(Os::this(), |name| std::env::var(name).ok())
}

/// The `TerminalClient` to send: the configuration's `explicit` value when it gave one (`""` says
/// "not a terminal session"), else what `detected` finds — except in a server process, whose
/// environment is the 1C server's and whose sessions are counted one by one anyway.
pub fn resolve(explicit: Option<&str>, is_server: bool, detected: impl FnOnce() -> Option<Terminal>) -> Option<String> {
    match explicit {
        Some(value) => Some(value.trim().to_owned()).filter(|v| !v.is_empty()),
        None if is_server => None,
        None => detected().map(|t| t.client),
    }
}

/// Why an explicit terminal client cannot be sent, or `None` when it can.
pub fn refusal(value: &str) -> Option<&'static str> {
    if value.chars().any(char::is_control) {
        Some("a terminal client's name has no control characters")
    } else if value.trim().chars().count() > MAX_LEN {
        Some("a terminal client's name is at most 255 characters")
    } else {
        None
    }
}

const MAX_LEN: usize = 255;

fn usable(value: &str) -> bool {
    !value.is_empty() && refusal(value).is_none()
}

/// `RDP-Tcp#3`, `ICA-tcp#0`: a remote session's name (a local one is `Console`).
fn is_remote_session_name(name: &str) -> bool {
    let prefix = name.get(..4).unwrap_or_default();
    prefix.eq_ignore_ascii_case("RDP-") || prefix.eq_ignore_ascii_case("ICA-")
}

/// The display number of an X `DISPLAY` on this host (`:10.0`, `:10`, `unix:10.0` → `10`).
fn display_number(display: &str) -> Option<String> {
    let (host, rest) = display.rsplit_once(':')?;
    if !(host.is_empty() || host == "unix") {
        return None;
    }
    let number = rest.split('.').next()?;
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then(|| number.to_owned())
}

#[cfg(test)]
#[path = "terminal_tests.rs"]
mod tests;
