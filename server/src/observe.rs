//! What the server observes of itself for monitoring and the console: counters for `/api/metrics`
//! (Prometheus text), licence use over time per series, and the recent denials ("no free licence").
//! Everything here is in memory and bounded; a restart starts it afresh.

use licence_protocol::key::SeriesId;
use licence_protocol::time::UtcTime;

/// Licence use of one series at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSample {
    pub time: UtcTime,
    pub series: SeriesId,
    pub used: u32,
    pub total: u32,
}

/// A licence the server refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub time: UtcTime,
    pub series: SeriesId,
    pub computer: String,
    pub user: Option<String>,
    /// The protocol error's name (`NoFreeLicence`, `KeyExpired`…).
    pub reason: String,
}

/// The server's observations.
#[derive(Debug, Default)]
pub struct Observe {}

impl Observe {
    /// Samples of licence use, oldest first.
    pub fn usage_history(&self) -> Vec<UsageSample> {
        Vec::new()
    }

    /// The latest denials, newest first.
    pub fn recent_denials(&self) -> Vec<Denial> {
        Vec::new()
    }
}
