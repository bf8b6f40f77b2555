//! What the server observes of itself for monitoring and the console: counters for `/api/metrics`
//! (Prometheus text), licence use over time per series, and the recent denials ("no free licence").
//! Everything here is in memory and bounded; a restart starts it afresh.
//!
//! Recording is on the request path, so it costs an atomic add or one short lock of a small
//! structure of its own, never the ledger's lock. Anything a client can make grow (series named by a
//! connection, reasons) is bounded: past the bound it is counted under "other" rather than kept.

use licence_protocol::key::SeriesId;
use licence_protocol::text::shorten;
use licence_protocol::time::UtcTime;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

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

/// How many denials [`Observe::recent_denials`] keeps.
pub const RECENT_DENIALS: usize = 200;
/// Samples kept per series: a day at one a minute.
pub const USAGE_SAMPLES: usize = 1440;
/// Series whose use is kept; a server rarely holds keys of more than a handful.
pub const USAGE_SERIES: usize = 64;
/// Distinct (series, reason) denial counters; a connection may name any series, so this is bounded.
pub const DENIAL_COUNTERS: usize = 256;
/// Longest computer or user name kept with a denial (they come from the client).
const NAME_LIMIT: usize = 200;

/// Upper bounds of the request latency histogram, in seconds (0.5 ms … 5 s).
pub const LATENCY_BUCKETS: [f64; 13] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// Which part of the server a request went to; latency is kept per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteGroup {
    /// The REST API under `/api`.
    Api,
    /// The add-in protocol under `/licence/`.
    Licence,
    /// Everything else: the console and unknown paths.
    Console,
}

impl RouteGroup {
    pub const ALL: [RouteGroup; 3] = [RouteGroup::Api, RouteGroup::Licence, RouteGroup::Console];

    pub fn of(path: &str) -> Self {
        if path == "/api" || path.starts_with("/api/") {
            RouteGroup::Api
        } else if path.starts_with("/licence/") {
            RouteGroup::Licence
        } else {
            RouteGroup::Console
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RouteGroup::Api => "api",
            RouteGroup::Licence => "licence",
            RouteGroup::Console => "console",
        }
    }
}

/// The add-in protocol's calls, counted by name; anything else under `/licence/` is `other`.
pub const ADDIN_CALLS: [&str; 9] =
    ["connect", "heartbeat", "obtain", "check", "release", "keyinfo", "disconnect", "object", "other"];

/// Where a request went, told from its path before the request is handled (so that recording it
/// afterwards needs no copy of the path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub group: RouteGroup,
    /// The index in [`ADDIN_CALLS`] of an add-in protocol call.
    call: Option<usize>,
}

impl Route {
    pub fn of(path: &str) -> Self {
        let group = RouteGroup::of(path);
        let call = (group == RouteGroup::Licence).then(|| {
            let name = path.trim_start_matches("/licence/");
            ADDIN_CALLS.iter().position(|&c| c == name).unwrap_or(ADDIN_CALLS.len() - 1)
        });
        Route { group, call }
    }
}

/// A latency histogram with fixed buckets. Buckets count requests at or below their bound but above
/// the previous one; [`Histogram::snapshot`] makes them cumulative, as Prometheus wants.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// A histogram as read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound in seconds, requests at or below it), ascending; `+Inf` is [`Self::count`].
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    fn record(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&bound| seconds <= bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> HistogramSnapshot {
        // The count is read first: a request recorded meanwhile can only raise the buckets, so a
        // bucket may exceed the count read; it is capped so the exposition stays consistent.
        let count = self.count.load(Ordering::Relaxed);
        let mut running = 0;
        let buckets = LATENCY_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(&bound, n)| {
                running += n.load(Ordering::Relaxed);
                (bound, running.min(count))
            })
            .collect();
        let sum_seconds = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        HistogramSnapshot { buckets, count, sum_seconds }
    }
}

#[derive(Debug, Default)]
struct Denials {
    /// Counts by (series, reason); `None` is every series past [`DENIAL_COUNTERS`].
    counts: BTreeMap<(Option<SeriesId>, String), u64>,
    recent: VecDeque<Denial>,
}

#[derive(Debug, Default)]
struct Usage {
    series: BTreeMap<SeriesId, VecDeque<UsageSample>>,
}

/// The server's counters, as read at one moment (for `/api/metrics`).
#[derive(Debug, Clone, PartialEq)]
pub struct Counters {
    /// ((series, or `None` for "other"), reason, count), by series then reason.
    pub denials: Vec<(Option<SeriesId>, String, u64)>,
    pub expired_connections: u64,
    pub expired_sessions: u64,
    pub granted: u64,
    pub released: u64,
    /// (call name, count) in the order of [`ADDIN_CALLS`].
    pub addin_calls: Vec<(&'static str, u64)>,
    pub latency: Vec<(RouteGroup, HistogramSnapshot)>,
    pub uptime: Duration,
}

/// The server's observations.
#[derive(Debug)]
pub struct Observe {
    started: Instant,
    denials: Mutex<Denials>,
    usage: Mutex<Usage>,
    expired_connections: AtomicU64,
    expired_sessions: AtomicU64,
    granted: AtomicU64,
    released: AtomicU64,
    addin_calls: [AtomicU64; ADDIN_CALLS.len()],
    latency: [Histogram; RouteGroup::ALL.len()],
}

impl Default for Observe {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            denials: Mutex::default(),
            usage: Mutex::default(),
            expired_connections: AtomicU64::new(0),
            expired_sessions: AtomicU64::new(0),
            granted: AtomicU64::new(0),
            released: AtomicU64::new(0),
            addin_calls: Default::default(),
            latency: Default::default(),
        }
    }
}

/// Observations are counters: a panic elsewhere while one was held leaves nothing worth refusing.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Observe {
    /// A licence was refused.
    pub fn denied(&self, denial: Denial) {
        let mut d = lock(&self.denials);
        let key = (Some(denial.series), denial.reason.clone());
        let key = if d.counts.contains_key(&key) || d.counts.len() < DENIAL_COUNTERS { key } else { (None, key.1) };
        *d.counts.entry(key).or_default() += 1;
        if d.recent.len() == RECENT_DENIALS {
            d.recent.pop_front();
        }
        let denial = Denial {
            computer: shorten(&denial.computer, NAME_LIMIT),
            user: denial.user.as_deref().map(|u| shorten(u, NAME_LIMIT)),
            reason: shorten(&denial.reason, NAME_LIMIT),
            ..denial
        };
        d.recent.push_back(denial);
    }

    /// A session was given a licence it did not hold before.
    pub fn granted(&self) {
        self.granted.fetch_add(1, Ordering::Relaxed);
    }

    /// Sessions gave their licences back (released, or their connection disconnected).
    pub fn released(&self, sessions: usize) {
        self.released.fetch_add(sessions as u64, Ordering::Relaxed);
    }

    /// Leases ended by expiry.
    pub fn expired(&self, connections: usize, sessions: usize) {
        self.expired_connections.fetch_add(connections as u64, Ordering::Relaxed);
        self.expired_sessions.fetch_add(sessions as u64, Ordering::Relaxed);
    }

    /// A request took `elapsed`: its group's latency and, for the add-in protocol, its call.
    pub fn request(&self, route: Route, elapsed: Duration) {
        self.latency[route.group as usize].record(elapsed);
        if let Some(i) = route.call {
            self.addin_calls[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records the use of each series at `time`: (series, used, total).
    pub fn sample(&self, time: UtcTime, uses: impl IntoIterator<Item = (SeriesId, u32, u32)>) {
        let mut usage = lock(&self.usage);
        for (series, used, total) in uses {
            if !usage.series.contains_key(&series) && usage.series.len() >= USAGE_SERIES {
                // The series sampled longest ago makes room: a key removed long since.
                let stalest = usage.series.iter().min_by_key(|(_, ring)| ring.back().map(|s| s.time)).map(|(s, _)| *s);
                if let Some(stalest) = stalest {
                    usage.series.remove(&stalest);
                }
            }
            let ring = usage.series.entry(series).or_default();
            if ring.len() == USAGE_SAMPLES {
                ring.pop_front();
            }
            ring.push_back(UsageSample { time, series, used, total });
        }
    }

    /// Samples of licence use, oldest first.
    pub fn usage_history(&self) -> Vec<UsageSample> {
        let usage = lock(&self.usage);
        let mut all: Vec<UsageSample> = usage.series.values().flatten().cloned().collect();
        all.sort_by_key(|s| (s.time, s.series));
        all
    }

    /// The latest denials, newest first.
    pub fn recent_denials(&self) -> Vec<Denial> {
        lock(&self.denials).recent.iter().rev().cloned().collect()
    }

    /// The counters now.
    pub fn counters(&self) -> Counters {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let denials = lock(&self.denials).counts.iter().map(|((s, r), n)| (*s, r.clone(), *n)).collect();
        Counters {
            denials,
            expired_connections: load(&self.expired_connections),
            expired_sessions: load(&self.expired_sessions),
            granted: load(&self.granted),
            released: load(&self.released),
            addin_calls: ADDIN_CALLS.iter().zip(&self.addin_calls).map(|(&c, n)| (c, load(n))).collect(),
            latency: RouteGroup::ALL.iter().map(|&g| (g, self.latency[g as usize].snapshot())).collect(),
            uptime: self.started.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(text: &str) -> SeriesId {
        text.parse().unwrap()
    }

    fn t(seconds: i64) -> UtcTime {
        UtcTime::from_unix_millis(1_800_000_000_000 + seconds * 1000).unwrap()
    }

    fn denial(n: i64, reason: &str) -> Denial {
        Denial {
            time: t(n),
            series: series("672B"),
            computer: format!("PC{n}"),
            user: Some("user".into()),
            reason: reason.into(),
        }
    }

    #[test]
    fn recent_denials_keep_the_latest_200_newest_first() {
        let o = Observe::default();
        for n in 0..250 {
            o.denied(denial(n, "NoFreeLicence"));
        }
        let recent = o.recent_denials();
        assert_eq!(recent.len(), RECENT_DENIALS);
        assert_eq!((recent[0].computer.as_str(), recent[199].computer.as_str()), ("PC249", "PC50"));
        assert_eq!(o.counters().denials, [(Some(series("672B")), "NoFreeLicence".to_owned(), 250)]);
    }

    #[test]
    fn denials_are_counted_per_series_and_reason() {
        let o = Observe::default();
        o.denied(denial(1, "NoFreeLicence"));
        o.denied(denial(2, "KeyExpired"));
        o.denied(Denial { series: series("6700"), ..denial(3, "NoFreeLicence") });
        o.denied(denial(4, "NoFreeLicence"));
        let counts = o.counters().denials;
        assert_eq!(
            counts,
            [
                (Some(series("6700")), "NoFreeLicence".to_owned(), 1),
                (Some(series("672B")), "KeyExpired".to_owned(), 1),
                (Some(series("672B")), "NoFreeLicence".to_owned(), 2),
            ]
        );
    }

    #[test]
    fn denial_counters_stay_bounded_when_clients_name_many_series() {
        let o = Observe::default();
        for n in 0..(DENIAL_COUNTERS as u16 + 100) {
            o.denied(Denial { series: series(&format!("{n:04X}")), ..denial(0, "NoKey") });
        }
        let counts = o.counters().denials;
        assert_eq!(counts.len(), DENIAL_COUNTERS + 1);
        assert_eq!(counts[0], (None, "NoKey".to_owned(), 100), "the overflow sorts first and holds the rest");
    }

    #[test]
    fn a_long_computer_name_is_clipped() {
        let o = Observe::default();
        o.denied(Denial { computer: "x".repeat(10_000), ..denial(0, "NoKey") });
        assert_eq!(o.recent_denials()[0].computer.chars().count(), NAME_LIMIT + 1, "cut, and said to be");
    }

    #[test]
    fn usage_history_is_oldest_first_and_a_day_per_series() {
        let o = Observe::default();
        let (a, b) = (series("672B"), series("6700"));
        for minute in 0..(USAGE_SAMPLES as i64 + 10) {
            o.sample(t(minute * 60), [(a, minute as u32 % 3, 5), (b, 1, 2)]);
        }
        let history = o.usage_history();
        assert_eq!(history.len(), 2 * USAGE_SAMPLES);
        assert!(history.windows(2).all(|w| w[0].time <= w[1].time), "oldest first");
        assert_eq!(history[0].time, t(10 * 60), "the first ten minutes fell out");
        assert_eq!((history[0].series, history[1].series), (b, a), "same moment: by series");
        let last = history.last().unwrap();
        assert_eq!((last.series, last.used, last.total), (a, (USAGE_SAMPLES as u32 + 9) % 3, 5));
    }

    #[test]
    fn usage_keeps_a_bounded_number_of_series_dropping_the_stalest() {
        let o = Observe::default();
        for n in 0..USAGE_SERIES as i64 {
            o.sample(t(n), [(series(&format!("{n:04X}")), 1, 1)]);
        }
        o.sample(t(1000), [(series("FFFF"), 1, 1)]);
        let history = o.usage_history();
        assert_eq!(history.len(), USAGE_SERIES);
        assert!(history.iter().all(|s| s.series != series("0000")), "the stalest series made room");
        assert_eq!(history.last().unwrap().series, series("FFFF"));
    }

    #[test]
    fn latency_buckets_are_cumulative_and_end_at_the_count() {
        let o = Observe::default();
        o.request(Route::of("/licence/obtain"), Duration::from_micros(300));
        o.request(Route::of("/licence/obtain"), Duration::from_millis(3));
        o.request(Route::of("/licence/nonsense"), Duration::from_secs(9));
        o.request(Route::of("/api/metrics"), Duration::from_millis(20));
        o.request(Route::of("/"), Duration::from_millis(1));
        let c = o.counters();
        let (group, licence) = &c.latency[1];
        assert_eq!(*group, RouteGroup::Licence);
        assert_eq!(licence.count, 3);
        assert_eq!(licence.buckets[0], (0.0005, 1));
        assert_eq!(licence.buckets[3], (0.005, 2));
        assert_eq!(licence.buckets.last().unwrap().1, 2, "9 s is only in +Inf");
        assert!(licence.buckets.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!((licence.sum_seconds - 9.0033).abs() < 1e-9);
        assert_eq!((c.latency[0].1.count, c.latency[2].1.count), (1, 1));
        let calls: BTreeMap<_, _> = c.addin_calls.into_iter().collect();
        assert_eq!((calls["obtain"], calls["other"], calls["connect"]), (2, 1, 0));
    }

    #[test]
    fn route_groups_follow_the_path() {
        assert_eq!(RouteGroup::of("/api"), RouteGroup::Api);
        assert_eq!(RouteGroup::of("/api/metrics"), RouteGroup::Api);
        assert_eq!(RouteGroup::of("/apix"), RouteGroup::Console);
        assert_eq!(RouteGroup::of("/licence/connect"), RouteGroup::Licence);
        assert_eq!(RouteGroup::of("/"), RouteGroup::Console);
    }

    #[test]
    fn leases_and_licences_are_counted() {
        let o = Observe::default();
        o.expired(2, 3);
        o.expired(0, 1);
        o.granted();
        o.released(4);
        let c = o.counters();
        assert_eq!((c.expired_connections, c.expired_sessions, c.granted, c.released), (2, 4, 1, 4));
    }
}
