//! The yardstick: nginx answering `GET` of a small static file (about the size of an obtain answer)
//! on the same machine, driven by the same client at the same concurrency as the licence server.

use super::{Row, Settings};
use crate::http::{self, Conn};
use crate::load::{run_workers, Budget};
use crate::procfs::CpuMeter;
use crate::stats::Samples;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub async fn run(s: &Settings, addr: SocketAddr) -> io::Result<Row> {
    let request: Arc<[u8]> = http::get(addr, &s.static_path, None).into();
    let answer_bytes = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&answer_bytes);
    let budget = Arc::new(Budget::new(s.warmup, s.seconds, s.max_requests));
    let meter = CpuMeter::start(s.static_pid);
    let (samples, window) = run_workers(s.clients, budget, move |_, budget| {
        let (request, seen) = (Arc::clone(&request), Arc::clone(&seen));
        async move {
            let mut conn = Conn::open(addr).await?;
            let mut samples = Samples::default();
            while let Some(turn) = budget.take(1) {
                let started = Instant::now();
                let answer = conn.call(&request).await?;
                samples.note(turn, started.elapsed(), answer.is_success());
                seen.store(answer.body.len(), Ordering::Relaxed);
            }
            Ok(samples)
        }
    })
    .await?;
    Ok(Row {
        name: "nginx static".into(),
        clients: s.clients,
        summary: samples.summarise(window),
        cpu: meter.stop(),
        answer_bytes: Some(answer_bytes.load(Ordering::Relaxed)),
        server_rss_kib: None,
    })
}
