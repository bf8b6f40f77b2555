//! Latency samples and what the report says about them: request counts, rate and percentiles. Every
//! request's latency is kept (a few MB for a ten-second run), so the percentiles are exact rather than
//! read off a histogram.

use std::time::Duration;

/// The latencies one worker measured, in microseconds, how many answers were not 2xx, and how many
/// whole operations (an obtain+release pair: two requests) it completed, for scenarios that count them.
#[derive(Debug, Default)]
pub struct Samples {
    micros: Vec<u32>,
    pub errors: u64,
    pub operations: u64,
}

impl Samples {
    pub fn record(&mut self, latency: Duration) {
        self.micros.push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    pub fn merge(mut all: Vec<Samples>) -> Samples {
        let mut merged = all.pop().unwrap_or_default();
        for s in all {
            merged.micros.extend_from_slice(&s.micros);
            merged.errors += s.errors;
            merged.operations += s.operations;
        }
        merged
    }

    /// Counts, rate over the measured window, and percentiles.
    pub fn summarise(mut self, window: Duration) -> Summary {
        self.micros.sort_unstable();
        let secs = window.as_secs_f64().max(1e-9);
        Summary {
            requests: self.micros.len() as u64,
            errors: self.errors,
            per_second: self.micros.len() as f64 / secs,
            operations_per_second: self.operations as f64 / secs,
            p50_ms: percentile(&self.micros, 50.0),
            p90_ms: percentile(&self.micros, 90.0),
            p99_ms: percentile(&self.micros, 99.0),
            max_ms: self.micros.last().map_or(0.0, |&m| f64::from(m) / 1000.0),
        }
    }
}

/// One scenario's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub operations_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut s = Samples::default();
        for us in (1..=100).rev() {
            s.record(Duration::from_micros(us * 1000));
        }
        s.errors = 2;
        let sum = s.summarise(Duration::from_secs(2));
        assert_eq!(sum.requests, 100);
        assert_eq!(sum.errors, 2);
        assert_eq!(sum.per_second, 50.0);
        assert_eq!((sum.p50_ms, sum.p90_ms, sum.p99_ms, sum.max_ms), (50.0, 90.0, 99.0, 100.0));
    }

    #[test]
    fn merging_keeps_every_sample() {
        let mut a = Samples::default();
        a.record(Duration::from_micros(5));
        let mut b = Samples::default();
        b.record(Duration::from_micros(7));
        b.errors = 1;
        b.operations = 3;
        let m = Samples::merge(vec![a, b, Samples::default()]);
        assert_eq!((m.len(), m.errors, m.operations), (2, 1, 3));
    }

    #[test]
    fn no_samples_give_zeros() {
        let sum = Samples::default().summarise(Duration::ZERO);
        assert_eq!((sum.requests, sum.p99_ms, sum.max_ms), (0, 0.0, 0.0));
    }
}
