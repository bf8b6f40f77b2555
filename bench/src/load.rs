//! The closed loop every throughput scenario shares: N workers, each with its own keep-alive
//! connection and one request in flight, run until the time is up or the request budget is spent,
//! whichever comes first. The first second or so is warm-up and is not counted, so connection set-up
//! and the allocator's first growth do not colour the figures.

use crate::stats::Samples;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Extra time a worker gets past the end of the run before it is abandoned as stuck.
const GRACE: Duration = Duration::from_secs(30);

/// When the run stops and how many requests it may still send.
pub struct Budget {
    measure_from: Instant,
    stop_at: Instant,
    remaining: AtomicI64,
}

/// Whether a request belongs to the warm-up or to the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    Warmup,
    Measured,
}

impl Budget {
    pub fn new(warmup: Duration, run: Duration, max_requests: u64) -> Self {
        let now = Instant::now();
        Self {
            measure_from: now + warmup,
            stop_at: now + warmup + run,
            remaining: AtomicI64::new(i64::try_from(max_requests).unwrap_or(i64::MAX)),
        }
    }

    /// Claims `requests` more requests; `None` once the run is over.
    pub fn take(&self, requests: i64) -> Option<Turn> {
        let now = Instant::now();
        if now >= self.stop_at || self.remaining.fetch_sub(requests, Ordering::Relaxed) < requests {
            return None;
        }
        Some(if now < self.measure_from { Turn::Warmup } else { Turn::Measured })
    }

    fn measured_window(&self, finished: Instant) -> Duration {
        finished.saturating_duration_since(self.measure_from)
    }

    fn deadline(&self) -> Instant {
        self.stop_at + GRACE
    }
}

impl Samples {
    /// Keeps one request's latency and outcome when it falls in the measured window.
    pub fn note(&mut self, turn: Turn, latency: Duration, success: bool) {
        if turn == Turn::Measured {
            self.record(latency);
            self.errors += u64::from(!success);
        }
    }
}

/// Runs `clients` workers to the end of the budget; answers their merged samples and the length of
/// the measured window. A worker that fails or hangs fails the scenario.
pub async fn run_workers<F, Fut>(clients: usize, budget: Arc<Budget>, worker: F) -> io::Result<(Samples, Duration)>
where
    F: Fn(usize, Arc<Budget>) -> Fut,
    Fut: Future<Output = io::Result<Samples>> + Send + 'static,
{
    let deadline = tokio::time::Instant::from_std(budget.deadline());
    let tasks: Vec<_> = (0..clients)
        .map(|id| tokio::spawn(tokio::time::timeout_at(deadline, worker(id, Arc::clone(&budget)))))
        .collect();
    let mut all = Vec::with_capacity(clients);
    for task in tasks {
        let finished = task.await.map_err(|e| io::Error::other(format!("a worker panicked: {e}")))?;
        let samples = finished.map_err(|_| io::Error::other("a worker was stuck past the end of the run"))??;
        all.push(samples);
    }
    Ok((Samples::merge(all), budget.measured_window(Instant::now())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_counts_requests_down_to_zero() {
        let b = Budget::new(Duration::ZERO, Duration::from_secs(60), 5);
        assert_eq!(b.take(2), Some(Turn::Measured));
        assert_eq!(b.take(2), Some(Turn::Measured));
        assert_eq!(b.take(2), None);
        assert_eq!(b.take(1), None);
    }

    #[test]
    fn budget_starts_with_warmup_and_ends_on_time() {
        let b = Budget::new(Duration::from_secs(60), Duration::from_secs(1), 100);
        assert_eq!(b.take(1), Some(Turn::Warmup));
        let over = Budget::new(Duration::ZERO, Duration::ZERO, 100);
        assert_eq!(over.take(1), None);
    }

    #[tokio::test]
    async fn workers_stop_at_the_request_budget() {
        let budget = Arc::new(Budget::new(Duration::ZERO, Duration::from_secs(60), 1000));
        let (samples, _) = run_workers(4, budget, |_, budget| async move {
            let mut s = Samples::default();
            while let Some(turn) = budget.take(1) {
                s.note(turn, Duration::from_micros(10), true);
                tokio::task::yield_now().await;
            }
            Ok(s)
        })
        .await
        .unwrap();
        assert_eq!((samples.len(), samples.errors), (1000, 0));
    }
}
