//! The licence server's most frequent call: every client holds one session and sends heartbeats for
//! it back to back. A heartbeat that reports the session lost counts as an error.

use super::{server_rss, Row, Settings};
use crate::addin::AddinClient;
use crate::load::{run_workers, Budget};
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
            let mut client = AddinClient::connect(server, format!("BENCH-HB-{id}"), series, pin).await?;
            let session = client.obtain(&format!("hb-{id}")).await?.value.ok_or_else(|| no_licence(id))?;
            let request = client.heartbeat_request(&[session]);
            let mut samples = Samples::default();
            while let Some(turn) = budget.take(1) {
                let beat = client.heartbeat(&request).await?;
                samples.note(turn, beat.latency, beat.value == Some(0));
                seen.store(beat.bytes, Ordering::Relaxed);
            }
            client.disconnect().await?;
            Ok(samples)
        }
    })
    .await?;
    Ok(Row {
        name: "heartbeat".into(),
        clients: s.clients,
        summary: samples.summarise(window),
        cpu: meter.stop(),
        answer_bytes: Some(answer_bytes.load(Ordering::Relaxed)),
        server_rss_kib: server_rss(s),
    })
}

fn no_licence(client: usize) -> io::Error {
    io::Error::other(format!("client {client} could not obtain a licence to send heartbeats for"))
}
