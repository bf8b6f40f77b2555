//! A large live population: a hundred add-in connections obtain ten thousand sessions between them,
//! then keep them alive with heartbeats at the pace a real add-in keeps (every `HeartbeatSeconds`)
//! for a bounded time. The report says whether any session was lost, whether `/api/sessions` lists
//! them all, and how much resident memory the server needed to hold them.

use super::{server_rss, Row, Settings};
use crate::addin::AddinClient;
use crate::http::{self, Conn};
use crate::procfs::{self, CpuMeter, Memory};
use crate::stats::Samples;
use base64::Engine;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::io;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// The longest the fill may take before the scenario gives up.
const FILL_LIMIT: Duration = Duration::from_secs(120);
/// The longest listing the sessions or disconnecting them all may take.
const CALL_LIMIT: Duration = Duration::from_secs(30);
/// How often the server's memory is read while the sessions are held.
const MEMORY_EVERY: Duration = Duration::from_millis(250);

pub struct SessionsReport {
    pub wanted: usize,
    pub connections: usize,
    pub heartbeat_every: Duration,
    pub fill: Row,
    pub hold: Row,
    /// Sessions the fill obtained.
    pub held: usize,
    /// Sessions heartbeats reported lost.
    pub lost: usize,
    /// What `GET /api/sessions` listed at the end of the hold, or why it could not be read.
    pub listed: Result<usize, String>,
    /// The server's memory before the fill, at the end of the hold, and after listing the sessions.
    pub before: Option<Memory>,
    pub after: Option<Memory>,
    pub after_listing: Option<Memory>,
    /// The highest `VmRSS` read while the sessions were held.
    pub max_rss_kib: Option<u64>,
}

/// One add-in connection and the sessions it holds.
struct Holder {
    client: AddinClient,
    sessions: Vec<String>,
    samples: Samples,
    /// Sessions heartbeats reported lost.
    lost: usize,
}

pub async fn run(s: &Settings) -> io::Result<SessionsReport> {
    let before = s.server_pid.and_then(procfs::memory);
    let (holders, fill) = fill(s).await?;
    let held = holders.iter().map(|h| h.sessions.len()).sum();
    let heartbeat_every = s
        .heartbeat_every
        .unwrap_or_else(|| Duration::from_secs(holders.first().map_or(5, |h| u64::from(h.client.heartbeat_seconds()))));
    let (holders, hold, lost, max_rss_kib) = hold(s, holders, heartbeat_every).await?;
    let after = s.server_pid.and_then(procfs::memory);
    let listed = match tokio::time::timeout(CALL_LIMIT, count_sessions(s)).await {
        Ok(counted) => counted.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CALL_LIMIT.as_secs())),
    };
    let after_listing = s.server_pid.and_then(procfs::memory);
    let disconnect_all = async {
        for holder in holders {
            holder.client.disconnect().await?;
        }
        Ok::<_, io::Error>(())
    };
    tokio::time::timeout(CALL_LIMIT, disconnect_all)
        .await
        .map_err(|_| io::Error::other("disconnecting the held sessions took too long"))??;
    Ok(SessionsReport {
        wanted: s.sessions,
        connections: s.session_connections,
        heartbeat_every,
        fill,
        hold,
        held,
        lost,
        listed,
        before,
        after,
        after_listing,
        max_rss_kib,
    })
}

/// How many of `total` sessions connection `i` of `n` obtains.
fn share(total: usize, n: usize, i: usize) -> usize {
    total / n + usize::from(i < total % n)
}

async fn fill(s: &Settings) -> io::Result<(Vec<Holder>, Row)> {
    let meter = CpuMeter::start(s.server_pid);
    let started = Instant::now();
    let tasks: Vec<JoinHandle<_>> = (0..s.session_connections)
        .map(|i| {
            let (server, series, count) = (s.server, s.series, share(s.sessions, s.session_connections, i));
            let pin = s.pin;
            tokio::spawn(tokio::time::timeout(FILL_LIMIT, async move {
                let pin = pin.ok_or_else(|| io::Error::other("no series key to pin: give --series-key"))?;
                let client = AddinClient::connect(server, format!("BENCH-HOLD-{i}"), series, pin).await?;
                obtain_sessions(client, i, count).await
            }))
        })
        .collect();
    let mut holders = join_all(tasks, "obtaining the sessions").await?;
    let window = started.elapsed();
    let samples = Samples::merge(holders.iter_mut().map(|h| std::mem::take(&mut h.samples)).collect());
    let row = Row {
        name: "fill: obtain".into(),
        clients: s.session_connections,
        summary: samples.summarise(window),
        cpu: meter.stop(),
        answer_bytes: None,
        server_rss_kib: server_rss(s),
    };
    Ok((holders, row))
}

async fn obtain_sessions(mut client: AddinClient, connection: usize, count: usize) -> io::Result<Holder> {
    let mut samples = Samples::default();
    let mut sessions = Vec::with_capacity(count);
    for n in 0..count {
        let obtained = client.obtain(&format!("hold-{connection}-{n}")).await?;
        samples.record(obtained.latency);
        match obtained.value {
            Some(id) => sessions.push(id),
            None => samples.errors += 1,
        }
    }
    Ok(Holder { client, sessions, samples, lost: 0 })
}

type Held = (Vec<Holder>, Row, usize, Option<u64>);

async fn hold(s: &Settings, holders: Vec<Holder>, every: Duration) -> io::Result<Held> {
    let meter = CpuMeter::start(s.server_pid);
    let started = Instant::now();
    let end = started + s.hold;
    let sampler = s.server_pid.map(|pid| tokio::spawn(highest_rss(pid, end)));
    let n = holders.len().max(1) as u32;
    let tasks: Vec<JoinHandle<_>> = holders
        .into_iter()
        .zip(0u32..)
        .map(|(holder, i)| {
            let first = started + every * i / n;
            tokio::spawn(tokio::time::timeout_at((end + FILL_LIMIT).into(), beat_until(holder, first, every, end)))
        })
        .collect();
    let mut holders = join_all(tasks, "holding the sessions").await?;
    let lost = holders.iter().map(|h| h.lost).sum();
    let samples = Samples::merge(holders.iter_mut().map(|h| std::mem::take(&mut h.samples)).collect());
    let row = Row {
        name: "hold: heartbeat".into(),
        clients: s.session_connections,
        summary: samples.summarise(started.elapsed()),
        cpu: meter.stop(),
        answer_bytes: None,
        server_rss_kib: server_rss(s),
    };
    let max_rss = match sampler {
        Some(task) => task.await.map_err(io::Error::other)?,
        None => None,
    };
    Ok((holders, row, lost, max_rss))
}

/// Sends this connection's heartbeat every `every` from `first` until `end`, counting the sessions
/// the server reports lost.
async fn beat_until(mut holder: Holder, first: Instant, every: Duration, end: Instant) -> io::Result<Holder> {
    let request = holder.client.heartbeat_request(&holder.sessions);
    let mut next = first;
    while next < end {
        tokio::time::sleep_until(next.into()).await;
        let beat = holder.client.heartbeat(&request).await?;
        holder.samples.record(beat.latency);
        match beat.value {
            Some(lost) => holder.lost += lost,
            None => holder.samples.errors += 1,
        }
        next += every;
    }
    Ok(holder)
}

async fn highest_rss(pid: u32, end: Instant) -> Option<u64> {
    let mut highest = None;
    while Instant::now() < end {
        if let Some(m) = procfs::memory(pid) {
            highest = highest.max(Some(m.rss_kib));
        }
        tokio::time::sleep(MEMORY_EVERY).await;
    }
    highest
}

async fn join_all<T>(
    tasks: Vec<JoinHandle<Result<io::Result<T>, tokio::time::error::Elapsed>>>,
    doing: &str,
) -> io::Result<Vec<T>> {
    let mut done = Vec::with_capacity(tasks.len());
    for task in tasks {
        let finished = task.await.map_err(|e| io::Error::other(format!("{doing}: a task panicked: {e}")))?;
        done.push(finished.map_err(|_| io::Error::other(format!("{doing} took too long")))??);
    }
    Ok(done)
}

/// How many sessions `GET /api/sessions` lists.
async fn count_sessions(s: &Settings) -> io::Result<usize> {
    #[derive(Deserialize)]
    struct Listed {
        #[serde(rename = "Sessions")]
        sessions: Vec<IgnoredAny>,
    }
    let authorization = base64::engine::general_purpose::STANDARD.encode(&s.api_user);
    let mut conn = Conn::open(s.server).await?;
    let answer = conn.call(&http::get(s.server, "/api/sessions", Some(&authorization))).await?;
    if !answer.is_success() {
        return Err(io::Error::other(format!("GET /api/sessions answered {}", answer.status)));
    }
    let listed: Listed = serde_json::from_slice(answer.body).map_err(io::Error::other)?;
    Ok(listed.sessions.len())
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn sessions_are_shared_out_exactly() {
        assert_eq!((0..100).map(|i| share(10_000, 100, i)).sum::<usize>(), 10_000);
        assert_eq!((0..7).map(|i| share(50, 7, i)).collect::<Vec<_>>(), [8, 7, 7, 7, 7, 7, 7]);
        assert_eq!(share(3, 5, 4), 0);
    }
}
