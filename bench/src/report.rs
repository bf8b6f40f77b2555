//! The summary a run prints (and writes to a file): one table row per measured scenario, then the
//! issue's targets as PASS/MISS lines. The verdicts are information only; nothing fails on a timing.

use crate::procfs::Memory;
use crate::scenario::sessions::SessionsReport;
use crate::scenario::Row;
use std::fmt::Write;

/// The licence server must answer at least this share of nginx's requests per second.
const RATE_TARGET: f64 = 0.5;
/// Its 99th percentile latency must stay under this many milliseconds.
const P99_TARGET_MS: f64 = 5.0;
/// Above this much CPU (100% is one core) used by other processes, a scenario's timings are suspect.
const QUIET_LIMIT_PERCENT: f64 = 25.0;
/// Its resident memory with the sessions held must stay under this many megabytes (10^6 bytes).
const MEMORY_TARGET_MB: f64 = 100.0;

#[derive(Default)]
pub struct Report {
    /// How the run was set up, printed above the table.
    pub context: String,
    pub nginx: Option<Row>,
    pub obtain_release: Option<Row>,
    pub heartbeat: Option<Row>,
    pub sessions: Option<SessionsReport>,
    /// The licence server's memory before the first scenario.
    pub server_at_start: Option<Memory>,
    /// Scenarios that could not finish, with the reason.
    pub failures: Vec<String>,
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.context);
        let _ = writeln!(
            out,
            "{:<16}{:>8}{:>10}{:>10}{:>8}{:>8}{:>8}{:>8}{:>7}{:>9}{:>8}{:>11}{:>6}{:>8}",
            "scenario",
            "clients",
            "requests",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "errors",
            "srv cpu",
            "srv MB",
            "bench cpu",
            "other",
            "body B"
        );
        let session_rows = self.sessions.iter().flat_map(|s| [&s.fill, &s.hold]);
        let rows: Vec<&Row> =
            [&self.nginx, &self.obtain_release, &self.heartbeat].into_iter().flatten().chain(session_rows).collect();
        for row in &rows {
            let _ = writeln!(out, "{}", table_line(row));
        }
        for row in rows.iter().filter(|r| r.cpu.target_threads.len() > 1) {
            let _ = writeln!(out, "{}", threads_line(row));
        }
        for row in rows.iter().filter(|r| r.cpu.other_percent.is_some_and(|p| p > QUIET_LIMIT_PERCENT)) {
            let _ = writeln!(
                out,
                "WARNING other processes used {:.0}% CPU during {}: its timings are not reliable, run again on a quiet machine",
                row.cpu.other_percent.unwrap_or_default(),
                row.name
            );
        }
        for line in self.verdicts() {
            let _ = writeln!(out, "{line}");
        }
        for failure in &self.failures {
            let _ = writeln!(out, "FAILED {failure}");
        }
        out
    }

    fn verdicts(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(or) = &self.obtain_release {
            lines.push(format!(
                "obtain+release: {:.0} pairs/s (each pair is two of the requests above)",
                or.summary.operations_per_second
            ));
        }
        for row in [&self.obtain_release, &self.heartbeat].into_iter().flatten() {
            if let Some(nginx) = &self.nginx {
                let ratio = row.summary.per_second / nginx.summary.per_second.max(1e-9);
                lines.push(format!(
                    "ratio {} / nginx: {ratio:.2} (target >= {RATE_TARGET})  {}",
                    row.name,
                    verdict(ratio >= RATE_TARGET)
                ));
            }
            let p99 = row.summary.p99_ms;
            lines.push(format!(
                "p99 {}: {p99:.2} ms (target < {P99_TARGET_MS} ms)  {}",
                row.name,
                verdict(p99 < P99_TARGET_MS)
            ));
        }
        if let Some(s) = &self.sessions {
            lines.extend(session_verdicts(s, self.server_at_start));
        }
        lines
    }
}

fn table_line(row: &Row) -> String {
    let s = &row.summary;
    let srv = row.cpu.target_percent.map_or("-".to_owned(), |p| format!("{p:.0}%"));
    let body = row.answer_bytes.map_or("-".to_owned(), |b| b.to_string());
    let rss = row.server_rss_kib.map_or("-".to_owned(), mb);
    let other = row.cpu.other_percent.map_or("-".to_owned(), |p| format!("{p:.0}%"));
    format!(
        "{:<16}{:>8}{:>10}{:>10.0}{:>8.2}{:>8.2}{:>8.2}{:>8.1}{:>7}{:>9}{:>8}{:>11}{:>6}{:>8}",
        row.name,
        row.clients,
        s.requests,
        s.per_second,
        s.p50_ms,
        s.p90_ms,
        s.p99_ms,
        s.max_ms,
        s.errors,
        srv,
        rss,
        format!("{:.0}%", row.cpu.client_percent),
        other,
        body
    )
}

/// Where the server's CPU went, by thread: the async runtime's workers or the lease store's writer.
fn threads_line(row: &Row) -> String {
    let threads: Vec<String> =
        row.cpu.target_threads.iter().filter(|(_, p)| *p >= 0.5).map(|(name, p)| format!("{name} {p:.0}%")).collect();
    let idle = row.cpu.machine_idle_percent.map_or(String::new(), |p| format!("; machine idle {p:.0}%"));
    format!("{} server threads: {}{idle}", row.name, threads.join(", "))
}

fn session_verdicts(s: &SessionsReport, at_start: Option<Memory>) -> Vec<String> {
    let count = grouped(s.wanted);
    let mut lines = vec![format!(
        "fill/hold: {count} sessions over {} connections, each heartbeat names {} sessions, one per connection every {:.1} s",
        s.connections,
        s.wanted / s.connections.max(1),
        s.heartbeat_every.as_secs_f64()
    )];
    match s.after {
        Some(after) => {
            let highest = s.max_rss_kib.map_or(String::new(), |k| format!(", highest while held {} MB", mb(k)));
            lines.push(format!(
                "{count} sessions: RSS {} MB (peak {} MB{highest}), target < {MEMORY_TARGET_MB} MB  {}",
                mb(after.rss_kib),
                mb(after.peak_kib),
                verdict(under_memory_target(after))
            ));
            let stages = [
                (at_start, "at start".to_owned()),
                (s.before, "before the fill".to_owned()),
                (Some(after), format!("holding {count} sessions")),
                (s.after_listing, "after GET /api/sessions".to_owned()),
            ];
            let stages: Vec<String> =
                stages.iter().filter_map(|(m, when)| m.map(|m| format!("{} MB {when}", mb(m.rss_kib)))).collect();
            lines.push(format!("server memory (RSS): {}", stages.join(", ")));
        }
        None => lines.push(format!("{count} sessions: server memory unknown (no --server-pid)")),
    }
    let listed = match &s.listed {
        Ok(n) => n.to_string(),
        Err(e) => format!("nothing ({e})"),
    };
    let whole = s.held == s.wanted && s.lost == 0 && s.listed == Ok(s.wanted) && s.hold.summary.errors == 0;
    lines.push(format!(
        "{count} sessions: obtained {}, lost in heartbeats {}, failed heartbeats {}, /api/sessions lists {listed}  {}",
        s.held,
        s.lost,
        s.hold.summary.errors,
        verdict(whole)
    ));
    lines
}

/// The peak counts: the server must never have needed more, not merely have given memory back.
fn under_memory_target(m: Memory) -> bool {
    (m.peak_kib as f64 * 1024.0 / 1e6) < MEMORY_TARGET_MB
}

fn mb(kib: u64) -> String {
    format!("{:.1}", kib as f64 * 1024.0 / 1e6)
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

/// `10000` as `10,000`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let first = match digits.len() % 3 {
        0 => digits.len().min(3),
        short => short,
    };
    let mut out = digits[..first].to_owned();
    for group in digits.as_bytes()[first..].chunks(3) {
        out.push(',');
        out.extend(group.iter().map(|&b| char::from(b)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::CpuUse;
    use crate::stats::Summary;

    fn row(name: &str, per_second: f64, p99_ms: f64) -> Row {
        Row {
            name: name.into(),
            clients: 50,
            summary: Summary {
                requests: 1000,
                errors: 0,
                per_second,
                operations_per_second: per_second / 2.0,
                p50_ms: 0.5,
                p90_ms: 1.0,
                p99_ms,
                max_ms: 9.0,
            },
            cpu: CpuUse {
                target_percent: Some(120.0),
                target_threads: vec![("tokio-rt-worker".into(), 100.0), ("lease-store".into(), 20.0)],
                client_percent: 70.0,
                machine_idle_percent: Some(10.0),
                other_percent: Some(5.0),
            },
            answer_bytes: Some(150),
            server_rss_kib: Some(20_000),
        }
    }

    #[test]
    fn ratios_and_latency_are_judged_against_the_targets() {
        let report = Report {
            nginx: Some(row("nginx static", 40_000.0, 1.0)),
            obtain_release: Some(row("obtain+release", 24_000.0, 6.0)),
            heartbeat: Some(row("heartbeat", 10_000.0, 2.0)),
            ..Report::default()
        };
        let text = report.render();
        assert!(text.contains("ratio obtain+release / nginx: 0.60 (target >= 0.5)  PASS"), "{text}");
        assert!(text.contains("ratio heartbeat / nginx: 0.25 (target >= 0.5)  MISS"), "{text}");
        assert!(text.contains("p99 obtain+release: 6.00 ms (target < 5 ms)  MISS"), "{text}");
        assert!(text.contains("obtain+release: 12000 pairs/s"), "{text}");
        assert!(
            text.contains("heartbeat server threads: tokio-rt-worker 100%, lease-store 20%; machine idle 10%"),
            "{text}"
        );
        assert!(!text.contains("WARNING"), "{text}");
    }

    #[test]
    fn sessions_report_memory_stages_and_losses() {
        let kib = |rss_kib, peak_kib| Some(Memory { rss_kib, peak_kib });
        let sessions = SessionsReport {
            wanted: 10_000,
            connections: 100,
            heartbeat_every: std::time::Duration::from_secs(5),
            fill: row("fill: obtain", 20_000.0, 3.0),
            hold: row("hold: heartbeat", 20.0, 0.5),
            held: 10_000,
            lost: 1,
            listed: Ok(10_000),
            before: kib(10_000, 12_000),
            after: kib(40_000, 120_000),
            after_listing: kib(45_000, 120_000),
            max_rss_kib: Some(41_000),
        };
        let report = Report { sessions: Some(sessions), server_at_start: kib(6_000, 6_000), ..Report::default() };
        let text = report.render();
        assert!(
            text.contains(
                "10,000 sessions: RSS 41.0 MB (peak 122.9 MB, highest while held 42.0 MB), target < 100 MB  MISS"
            ),
            "{text}"
        );
        assert!(text.contains("server memory (RSS): 6.1 MB at start, 10.2 MB before the fill, 41.0 MB holding 10,000 sessions, 46.1 MB after GET /api/sessions"), "{text}");
        assert!(text.contains("lost in heartbeats 1, failed heartbeats 0, /api/sessions lists 10000  MISS"), "{text}");
    }

    #[test]
    fn memory_is_judged_on_the_peak() {
        assert!(under_memory_target(Memory { rss_kib: 40_000, peak_kib: 90_000 }));
        assert!(!under_memory_target(Memory { rss_kib: 40_000, peak_kib: 98_000 }));
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(10_000), "10,000");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!((grouped(0), grouped(100_000)), ("0".into(), "100,000".into()));
    }
}
