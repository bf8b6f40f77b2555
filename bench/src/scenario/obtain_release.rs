//! The licence server's busiest write path: every client is a 1C server process that obtains a
//! licence for a new session and releases it at once, over and over. Each HTTP request is one sample;
//! a completed obtain+release pair is one operation.

use super::{server_rss, Row, Settings};
use crate::addin::AddinClient;
use crate::load::{run_workers, Budget, Turn};
use crate::procfs::CpuMeter;
use crate::stats::Samples;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub async fn run(s: &Settings) -> io::Result<Row> {
    let (server, series, pin) = (s.server, s.series, s.pin()?);
    let answer_bytes = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&answer_bytes);
    let budget = Arc::new(Budget::new(s.warmup, s.seconds, s.max_requests));
    let meter = CpuMeter::start(s.server_pid);
    let (samples, window) = run_workers(s.clients, budget, move |id, budget| {
        let seen = Arc::clone(&seen);
        async move {
            let mut client = AddinClient::connect(server, format!("BENCH-OR-{id}"), series, pin).await?;
            let mut samples = Samples::default();
            let mut n = 0u64;
            while let Some(turn) = budget.take(2) {
                n += 1;
                let obtained = client.obtain(&format!("{id}-{n}")).await?;
                samples.note(turn, obtained.latency, obtained.value.is_some());
                seen.store(obtained.bytes, Ordering::Relaxed);
                let Some(session) = obtained.value else { continue };
                let released = client.release(&session).await?;
                samples.note(turn, released.latency, released.value.is_some());
                samples.operations += u64::from(released.value.is_some() && turn == Turn::Measured);
            }
            client.disconnect().await?;
            Ok(samples)
        }
    })
    .await?;
    Ok(Row {
        name: "obtain+release".into(),
        clients: s.clients,
        summary: samples.summarise(window),
        cpu: meter.stop(),
        answer_bytes: Some(answer_bytes.load(Ordering::Relaxed)),
        server_rss_kib: server_rss(s),
    })
}
