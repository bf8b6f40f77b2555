//! The command line of `licencebench`: which scenarios to run, where the servers listen and how hard
//! and how long to load them. Every run is bounded: durations and counts have ceilings here, so a
//! typing mistake cannot start an hour-long or unbounded loop.

use crate::scenario::Settings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: licencebench [OPTIONS] [SCENARIO...]

Loads a licence server (and, for comparison, a static HTTP server such as nginx) on this machine over
keep-alive HTTP/1.1 and prints requests per second, latency percentiles and the server's memory.

Scenarios (default: all):
  static           GET --static-path from --static, the yardstick
  obtain-release   each client obtains a licence for a new session and releases it, over and over
  heartbeat        each client holds one session and sends heartbeats for it back to back
  sessions         hold --sessions live sessions with heartbeats; report the server's memory
  all              all four (static only when --static is given)

Options:
  --server ADDR:PORT        the licence server [default: 127.0.0.1:9099]
  --server-pid PID          its process, for memory and CPU figures
  --static ADDR:PORT        the static HTTP server to compare with
  --static-path PATH        what to GET from it [default: /answer.json]
  --static-pid PID          its (master) process, for CPU figures
  --series KEYID            the key series the server has licences of [default: 672B]
  --series-key KEY          the series public key to pin, as the add-in does: the series' {KeyID}.pub
                            file or its 64 hex digits (needed by every scenario but static)
  --clients N               concurrent clients in the throughput scenarios [default: 50]
  --seconds S               measured seconds per throughput scenario [default: 10, at most 600]
  --warmup S                unmeasured seconds before them [default: 1]
  --max-requests N          request budget per throughput scenario [default: 5000000]
  --sessions N              live sessions to hold [default: 10000]
  --session-connections N   add-in connections they are spread over [default: 100]
  --hold S                  seconds to hold them with heartbeats [default: 20, at most 600]
  --heartbeat-every S       heartbeat period while holding [default: the server's HeartbeatSeconds]
  --api-user USER:PASSWORD  credentials for GET /api/sessions [default: admin:admin]
  --threads N               threads of the load generator [default: 1]
  --out FILE                also write the summary to FILE
  -h, --help                print this help
  -V, --version             print the version";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Static,
    ObtainRelease,
    Heartbeat,
    Sessions,
}

impl Scenario {
    const ALL: [Scenario; 4] = [Scenario::Static, Scenario::ObtainRelease, Scenario::Heartbeat, Scenario::Sessions];

    fn parse(name: &str) -> Option<Vec<Scenario>> {
        Some(match name {
            "static" | "nginx" => vec![Scenario::Static],
            "obtain-release" => vec![Scenario::ObtainRelease],
            "heartbeat" => vec![Scenario::Heartbeat],
            "sessions" => vec![Scenario::Sessions],
            "all" => Scenario::ALL.to_vec(),
            _ => return None,
        })
    }
}

#[derive(Debug)]
pub struct Args {
    pub scenarios: Vec<Scenario>,
    pub settings: Settings,
    pub threads: usize,
    pub out: Option<PathBuf>,
}

/// What the command line asks for: a run, or only help or version text (`Ok(None)` after printing).
pub fn parse(args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut scenarios = Vec::new();
    let mut s = Settings {
        server: SocketAddr::from(([127, 0, 0, 1], 9099)),
        server_pid: None,
        static_addr: None,
        static_path: "/answer.json".into(),
        static_pid: None,
        series: "672B".parse().map_err(|_| "the default series is malformed")?,
        pin: None,
        clients: 50,
        warmup: Duration::from_secs(1),
        seconds: Duration::from_secs(10),
        max_requests: 5_000_000,
        sessions: 10_000,
        session_connections: 100,
        hold: Duration::from_secs(20),
        heartbeat_every: None,
        api_user: "admin:admin".into(),
    };
    let mut threads = 1;
    let mut out = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => s.server = address(&value()?)?,
            "--server-pid" => s.server_pid = Some(number(&value()?, 1, u64::from(u32::MAX))? as u32),
            "--static" => s.static_addr = Some(address(&value()?)?),
            "--static-path" => s.static_path = path(value()?)?,
            "--static-pid" => s.static_pid = Some(number(&value()?, 1, u64::from(u32::MAX))? as u32),
            "--series" => s.series = value()?.parse().map_err(|e| format!("--series: {e}"))?,
            "--series-key" => s.pin = Some(series_key(&value()?)?),
            "--clients" => s.clients = number(&value()?, 1, 10_000)? as usize,
            "--seconds" => s.seconds = seconds(&value()?, 600.0)?,
            "--warmup" => s.warmup = seconds(&value()?, 60.0)?,
            "--max-requests" => s.max_requests = number(&value()?, 1, 100_000_000)?,
            "--sessions" => s.sessions = number(&value()?, 1, 1_000_000)? as usize,
            "--session-connections" => s.session_connections = number(&value()?, 1, 10_000)? as usize,
            "--hold" => s.hold = seconds(&value()?, 600.0)?,
            "--heartbeat-every" => s.heartbeat_every = Some(seconds(&value()?, 600.0)?).filter(|d| !d.is_zero()),
            "--api-user" => s.api_user = value()?,
            "--threads" => threads = number(&value()?, 1, 64)? as usize,
            "--out" => out = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("licencebench {}", licence_protocol::VERSION);
                return Ok(None);
            }
            name => scenarios.extend(Scenario::parse(name).ok_or_else(|| format!("unknown argument `{name}`"))?),
        }
    }
    if scenarios.is_empty() {
        scenarios = Scenario::ALL.to_vec();
    }
    scenarios.dedup();
    if s.static_addr.is_none() {
        scenarios.retain(|&sc| sc != Scenario::Static);
    }
    if s.pin.is_none() && scenarios.iter().any(|&sc| sc != Scenario::Static) {
        return Err("give --series-key: the licence server proves its keys to the series key the add-in pins".into());
    }
    Ok(Some(Args { scenarios, settings: s, threads, out }))
}

/// A series public key: 64 hex digits, or a file holding them (`{KeyID}.pub`).
fn series_key(text: &str) -> Result<[u8; 32], String> {
    let hex_key = |s: &str| {
        let mut key = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut key).ok().map(|()| key)
    };
    if let Some(key) = hex_key(text) {
        return Ok(key);
    }
    let contents = std::fs::read_to_string(text).map_err(|e| format!("--series-key: cannot read {text}: {e}"))?;
    hex_key(&contents).ok_or_else(|| format!("--series-key: {text} does not hold a series public key (64 hex digits)"))
}

fn address(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| format!("`{text}` is not ADDR:PORT (127.0.0.1:9099)"))
}

fn number(text: &str, min: u64, max: u64) -> Result<u64, String> {
    text.parse()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("`{text}` is not a number from {min} to {max}"))
}

fn seconds(text: &str, max: f64) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| (0.0..=max).contains(s))
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("`{text}` is not a number of seconds from 0 to {max}"))
}

fn path(text: String) -> Result<String, String> {
    if text.starts_with('/') && !text.contains(char::is_whitespace) {
        Ok(text)
    } else {
        Err(format!("`{text}` is not a URL path such as /answer.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Option<Args>, String> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    const KEY: &str = "--series-key 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn defaults_run_every_scenario_that_has_a_target() {
        let a = args(KEY).unwrap().unwrap();
        assert_eq!(a.scenarios, [Scenario::ObtainRelease, Scenario::Heartbeat, Scenario::Sessions]);
        assert_eq!(a.settings.pin.unwrap()[..2], [0x00, 0x11]);
        let a = args(&format!("--static 127.0.0.1:8080 all {KEY}")).unwrap().unwrap();
        assert_eq!(a.scenarios, Scenario::ALL);
        assert_eq!((a.settings.clients, a.settings.seconds, a.threads), (50, Duration::from_secs(10), 1));
    }

    #[test]
    fn the_licence_scenarios_need_a_series_key_to_pin() {
        assert!(args("").unwrap_err().contains("--series-key"));
        assert!(args("--static 127.0.0.1:8080 static").unwrap().is_some());
        assert!(args("--series-key 0011").unwrap_err().contains("cannot read 0011"));
        let dir = std::env::temp_dir().join(format!("licencebench-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("672B.pub");
        std::fs::write(&file, format!("{}\n", "ab".repeat(32))).unwrap();
        let a = args(&format!("--series-key {}", file.display())).unwrap().unwrap();
        assert_eq!(a.settings.pin, Some([0xab; 32]));
        std::fs::write(&file, "not a key").unwrap();
        assert!(args(&format!("--series-key {}", file.display())).unwrap_err().contains("does not hold"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn options_are_read_and_bounded() {
        let a = args(&format!("--server 127.0.0.1:19099 --server-pid 42 --seconds 2.5 --clients 8 heartbeat {KEY}"))
            .unwrap()
            .unwrap();
        assert_eq!(a.scenarios, [Scenario::Heartbeat]);
        assert_eq!(a.settings.server_pid, Some(42));
        assert_eq!(a.settings.seconds, Duration::from_millis(2500));
        assert!(args("--seconds 3600").is_err());
        assert!(args("--clients 0").is_err());
        assert!(args("--static-path answer.json").is_err());
        assert!(args("--server localhost").is_err());
        assert!(args("--clients").is_err());
        assert!(args("bogus").is_err());
    }
}
