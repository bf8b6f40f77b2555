//! The server's log: `licenceserver.{YYYYMMDD-HHNNSS}.{pid}.log` in `{root}/3.0/logs/` (the timestamp
//! is UTC, like every time the server shows). Logs of earlier runs are removed at start unless
//! `[Common] KeepPreviousLogs=1`. In the foreground (`-r`) the same lines also go to stderr. The file
//! itself is the one the add-in keeps too (`licence_logfile`); what is the server's own is here: its
//! name, that every earlier log of the server goes, and that the HTTP stack's records stay out.

use licence_logfile::{Earlier, LogFile};
use simplelog::LevelFilter;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// The server's log, echoed to stderr when `to_stderr`.
fn log_file(to_stderr: bool) -> LogFile {
    LogFile {
        program: "licenceserver",
        module: None,
        earlier: Earlier::Every,
        level: LevelFilter::Info,
        allow: &[],
        ignore: &["hyper", "h2"],
        to_stderr,
    }
}

pub fn log_file_name(started: OffsetDateTime, pid: u32) -> String {
    log_file(false).file_name(started, pid)
}

/// Removes logs of earlier runs; returns how many were removed.
pub fn remove_previous_logs(dir: &Path, keep: &Path) -> usize {
    log_file(false).remove_previous(dir, keep)
}

/// Opens this run's log file and installs the logger; returns the file's path.
pub fn start(dir: &Path, keep_previous: bool, to_stderr: bool) -> std::io::Result<PathBuf> {
    log_file(to_stderr).start(dir, keep_previous).map_err(|e| e.source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
