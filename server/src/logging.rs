//! The server's log: `licenceserver.{YYYYMMDD-HHNNSS}.{pid}.log` in `{root}/3.0/logs/` (the timestamp
//! is UTC, like every time the server shows). Logs of earlier runs are removed at start unless
//! `[Common] KeepPreviousLogs=1`. In the foreground (`-r`) the same lines also go to stderr.

use simplelog::{CombinedLogger, ConfigBuilder, LevelFilter, SharedLogger, WriteLogger};
use std::fs;
use std::path::{Path, PathBuf};
use time::macros::format_description;
use time::OffsetDateTime;

const PREFIX: &str = "licenceserver.";
const SUFFIX: &str = ".log";

pub fn log_file_name(started: OffsetDateTime, pid: u32) -> String {
    let stamp = started
        .format(format_description!("[year][month][day]-[hour][minute][second]"))
        .unwrap_or_else(|_| "00000000-000000".into());
    format!("{PREFIX}{stamp}.{pid}{SUFFIX}")
}

fn is_server_log(name: &str) -> bool {
    name.starts_with(PREFIX) && name.ends_with(SUFFIX)
}

/// Removes logs of earlier runs; returns how many were removed.
pub fn remove_previous_logs(dir: &Path, keep: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .filter(|e| e.path() != keep && e.file_name().to_str().is_some_and(is_server_log))
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

/// Opens this run's log file and installs the logger; returns the file's path.
pub fn start(dir: &Path, keep_previous: bool, to_stderr: bool) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let path = dir.join(log_file_name(OffsetDateTime::now_utc(), std::process::id()));
    let file = fs::OpenOptions::new().create(true).append(true).open(&path)?;
    let removed = if keep_previous { 0 } else { remove_previous_logs(dir, &path) };
    let config = ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .add_filter_ignore_str("hyper")
        .add_filter_ignore_str("h2")
        .build();
    let mut loggers: Vec<Box<dyn SharedLogger>> = vec![WriteLogger::new(LevelFilter::Info, config.clone(), file)];
    if to_stderr {
        loggers.push(WriteLogger::new(LevelFilter::Info, config, std::io::stderr()));
    }
    // A second `start` in one process (tests) keeps the first logger; that is fine.
    let _ = CombinedLogger::init(loggers);
    if removed > 0 {
        log::info!("removed {removed} log file(s) of earlier runs (KeepPreviousLogs=0)");
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_has_the_documented_shape() {
        let t = OffsetDateTime::from_unix_timestamp(1_522_766_818).unwrap();
        assert_eq!(log_file_name(t, 5736), "licenceserver.20180403-144658.5736.log");
    }

    #[test]
    fn only_server_logs_of_other_runs_are_removed() {
        let dir = std::env::temp_dir().join(format!("ls-logs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let ours = dir.join("licenceserver.20260101-000000.2.log");
        for name in ["licenceserver.20250101-000000.1.log", "licenceserver.20260101-000000.2.log", "notes.txt"] {
            fs::write(dir.join(name), "x").unwrap();
        }
        assert_eq!(remove_previous_logs(&dir, &ours), 1);
        assert!(ours.exists());
        assert!(dir.join("notes.txt").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
