//! The scenarios one benchmark run measures, and the settings they share. The three throughput
//! scenarios use the same client, concurrency and duration, so nginx's static answer and the licence
//! server's calls are measured under the same conditions and their ratio is fair; the sessions
//! scenario holds a large live population and reads the server's memory.

pub mod heartbeat;
pub mod obtain_release;
pub mod sessions;
pub mod static_file;

use crate::procfs::CpuUse;
use crate::stats::Summary;
use licence_protocol::key::SeriesId;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything a scenario needs to know, from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: SocketAddr,
    pub server_pid: Option<u32>,
    pub static_addr: Option<SocketAddr>,
    pub static_path: String,
    pub static_pid: Option<u32>,
    pub series: SeriesId,
    /// The series public key the add-in connections pin (`--series-key`).
    pub pin: Option<[u8; 32]>,
    pub clients: usize,
    pub warmup: Duration,
    pub seconds: Duration,
    pub max_requests: u64,
    pub sessions: usize,
    pub session_connections: usize,
    pub hold: Duration,
    pub heartbeat_every: Option<Duration>,
    pub api_user: String,
}

/// One line of the report's table.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub clients: usize,
    pub summary: Summary,
    pub cpu: CpuUse,
    /// Size of one answer's body, to show that the compared answers are alike.
    pub answer_bytes: Option<usize>,
    /// The licence server's resident memory right after the scenario, in KiB.
    pub server_rss_kib: Option<u64>,
}

impl Settings {
    /// The pin every add-in connection sends; the licence scenarios need one.
    pub fn pin(&self) -> std::io::Result<[u8; 32]> {
        self.pin.ok_or_else(|| {
            std::io::Error::other(
                "no series key to pin: give --series-key (the series' {KeyID}.pub or its 64 hex digits)",
            )
        })
    }
}

/// The licence server's resident memory now, in KiB.
fn server_rss(s: &Settings) -> Option<u64> {
    s.server_pid.and_then(crate::procfs::memory).map(|m| m.rss_kib)
}
