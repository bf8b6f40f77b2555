//! What Linux's `/proc` tells about the processes under test: resident memory (`VmRSS`, and its peak
//! `VmHWM`) and CPU time, so the report can say how much memory 10,000 sessions cost and which side of
//! the loopback (the load generator or the server) used the two cores.

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant};

/// `USER_HZ`: the unit of the CPU times in `/proc/PID/stat`. Linux fixes it at 100 on every
/// architecture the server ships for.
const TICKS_PER_SECOND: f64 = 100.0;

/// Resident memory of one process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    pub rss_kib: u64,
    pub peak_kib: u64,
}

pub fn memory(pid: u32) -> Option<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_memory(&status)
}

fn parse_memory(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|rest| rest.split_whitespace().next()?.parse().ok())
    };
    Some(Memory { rss_kib: field("VmRSS:")?, peak_kib: field("VmHWM:")? })
}

/// CPU ticks (user + system, all threads) of a process, `None` when it is gone.
fn ticks(pid: &str) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_ticks(&stat)
}

fn parse_ticks(stat: &str) -> Option<u64> {
    // The command name may hold spaces; the fields after its closing parenthesis start with the state
    // (field 3), so utime and stime (fields 14 and 15) are the 12th and 13th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The process and its direct children (nginx's workers), as `/proc` names them.
fn family(pid: u32) -> Vec<String> {
    let mut pids = vec![pid.to_string()];
    let children = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    pids.extend(children.split_whitespace().map(str::to_owned));
    pids
}

fn family_ticks(pid: Option<u32>) -> u64 {
    pid.map_or(0, |pid| family(pid).iter().filter_map(|p| ticks(p)).sum())
}

/// Idle and total CPU ticks of the whole machine, all cores, from `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    parse_machine(stat.lines().next()?)
}

fn parse_machine(line: &str) -> Option<(u64, u64)> {
    // cpu user nice system idle iowait irq softirq steal (guest time is already inside user).
    let ticks: Vec<u64> =
        line.strip_prefix("cpu ")?.split_whitespace().take(8).map(|t| t.parse().ok()).collect::<Option<_>>()?;
    (ticks.len() == 8).then(|| (ticks[3] + ticks[4], ticks.iter().sum()))
}

/// CPU ticks of a process's threads, summed by thread name (`tokio-rt-worker`, `lease-store`, …).
fn thread_ticks(pid: Option<u32>) -> BTreeMap<String, u64> {
    let mut by_name = BTreeMap::new();
    let Some(pid) = pid else { return by_name };
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else { return by_name };
    for task in tasks.flatten() {
        let dir = task.path();
        let name = fs::read_to_string(dir.join("comm")).unwrap_or_default().trim().to_owned();
        let used = fs::read_to_string(dir.join("stat")).ok().as_deref().and_then(parse_ticks);
        *by_name.entry(name).or_insert(0) += used.unwrap_or(0);
    }
    by_name
}

/// CPU used by the process under test (with its children) and by this load generator over a span.
pub struct CpuMeter {
    pid: Option<u32>,
    started: Instant,
    target: u64,
    threads: BTreeMap<String, u64>,
    own: u64,
    machine: Option<(u64, u64)>,
}

/// Share of one core used over the span: 200% is both cores of a two-core machine.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CpuUse {
    pub target_percent: Option<f64>,
    /// The target's own threads by name, busiest first (not its child processes).
    pub target_threads: Vec<(String, f64)>,
    pub client_percent: f64,
    /// Share of the whole machine's capacity (all cores) that stayed idle: when it is large, the
    /// figures were limited by waiting, not by CPU.
    pub machine_idle_percent: Option<f64>,
    /// CPU the rest of the machine used meanwhile (other processes, the kernel's own threads), on the
    /// same scale as the others: when it is large, something else competed for the cores.
    pub other_percent: Option<f64>,
}

impl CpuMeter {
    pub fn start(pid: Option<u32>) -> Self {
        Self {
            pid,
            started: Instant::now(),
            target: family_ticks(pid),
            threads: thread_ticks(pid),
            own: ticks("self").unwrap_or(0),
            machine: machine_ticks(),
        }
    }

    pub fn stop(&self) -> CpuUse {
        let span = self.started.elapsed().max(Duration::from_millis(1)).as_secs_f64();
        let percent = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / span * 100.0;
        let target_percent = self.pid.map(|_| percent(family_ticks(self.pid).saturating_sub(self.target)));
        let client_percent = percent(ticks("self").unwrap_or(0).saturating_sub(self.own));
        let machine = self.machine.zip(machine_ticks()).and_then(|((idle0, total0), (idle1, total1))| {
            let (idle, total) = (idle1.saturating_sub(idle0), total1.saturating_sub(total0));
            (total > 0).then(|| (idle as f64 / total as f64 * 100.0, percent(total - idle.min(total))))
        });
        let ours = target_percent.unwrap_or(0.0) + client_percent;
        CpuUse {
            target_percent,
            target_threads: self.threads_since(percent),
            client_percent,
            machine_idle_percent: machine.map(|(idle, _)| idle),
            other_percent: machine.map(|(_, busy)| (busy - ours).max(0.0)),
        }
    }

    /// The target's threads' CPU since the start, busiest first.
    fn threads_since(&self, percent: impl Fn(u64) -> f64) -> Vec<(String, f64)> {
        let mut threads: Vec<(String, f64)> = thread_ticks(self.pid)
            .into_iter()
            .map(|(name, now)| {
                let before = self.threads.get(&name).copied().unwrap_or(0);
                (name, percent(now.saturating_sub(before)))
            })
            .collect();
        threads.sort_by(|a, b| b.1.total_cmp(&a.1));
        threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_fields_are_read_in_kib() {
        let status = "Name:\tlicenceserver\nVmHWM:\t   41234 kB\nVmRSS:\t   38000 kB\nThreads:\t3\n";
        assert_eq!(parse_memory(status), Some(Memory { rss_kib: 38000, peak_kib: 41234 }));
        assert_eq!(parse_memory("Name:\tx\n"), None);
    }

    #[test]
    fn cpu_ticks_survive_spaces_in_the_name() {
        let stat = "42 (tokio rt) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0";
        assert_eq!(parse_ticks(stat), Some(300));
    }

    #[test]
    fn machine_idle_counts_iowait() {
        assert_eq!(parse_machine("cpu  71634 0 22645 336595 1347 0 4254 23 0 0"), Some((337942, 436498)));
        assert_eq!(parse_machine("cpu0 1 2 3"), None);
    }

    #[test]
    fn this_process_is_visible() {
        let me = std::process::id();
        assert!(memory(me).is_some_and(|m| m.rss_kib > 0 && m.peak_kib >= m.rss_kib));
        assert!(ticks("self").is_some());
        assert!(!thread_ticks(Some(me)).is_empty());
    }
}
