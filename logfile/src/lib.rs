//! The log file of one run, as the licence server and the add-in both keep it:
//! `{program}.{YYYYMMDD-HHNNSS}.{pid}[.{module}].log` (the timestamp is UTC, like every time the
//! system shows) in a folder the caller chooses, appended to, with RFC 3339 times and no thread or
//! target columns. Logs of earlier runs are removed at start unless the caller keeps them
//! (`KeepPreviousLogs=1`); which logs count as earlier is the program's [`Earlier`] rule. The file
//! can be echoed to stderr (the server in the foreground).
//!
//! It depends on `log`, `simplelog` and `time` only, so the add-in, which is loaded into 1C
//! processes, can use it as the server does.
#![forbid(unsafe_code)]

use simplelog::{CombinedLogger, ConfigBuilder, LevelFilter, SharedLogger, WriteLogger};
use std::fs;
use std::path::{Path, PathBuf};
use time::macros::format_description;
use time::OffsetDateTime;

const SUFFIX: &str = ".log";

/// The log file could not be created or opened.
#[derive(Debug, thiserror::Error)]
#[error("log file `{}`: {source}", path.display())]
pub struct Error {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Which logs in the folder are logs of earlier runs, to be removed at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Earlier {
    /// Every log of the program but this run's (the server: one runs per installation).
    Every,
    /// Logs of the same module whose process has ended (the add-in: several 1C processes of one user
    /// share the folder, and a log whose process still runs is left alone).
    SameModuleEnded,
}

/// One program's log: its name, where it goes and what it lets through.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// The file names' first part: `licenceserver`, `licenceaddin`.
    pub program: &'static str,
    /// The add-in's `{modulename}`, the last part of its file names; `None` for the server.
    pub module: Option<String>,
    pub earlier: Earlier,
    pub level: LevelFilter,
    /// Only records whose target starts with one of these are written (empty: all).
    pub allow: &'static [&'static str],
    /// Records whose target starts with one of these are not written.
    pub ignore: &'static [&'static str],
    /// The same lines also go to stderr.
    pub to_stderr: bool,
}

/// `{program}.{YYYYMMDD-HHNNSS}.{pid}[.{module}].log`: `licenceserver.20180403-144658.5736.log`,
/// `licenceaddin.20180403-144658.5736.liblicenceaddin.log`.
pub fn file_name(program: &str, started: OffsetDateTime, pid: u32, module: Option<&str>) -> String {
    let stamp = started
        .format(format_description!("[year][month][day]-[hour][minute][second]"))
        .unwrap_or_else(|_| "00000000-000000".into());
    match module {
        Some(module) => format!("{program}.{stamp}.{pid}.{module}{SUFFIX}"),
        None => format!("{program}.{stamp}.{pid}{SUFFIX}"),
    }
}

/// Whether `name` is a log file of `program` (its prefix and the `.log` suffix).
pub fn is_log_of(program: &str, name: &str) -> bool {
    name.strip_prefix(program).is_some_and(|rest| rest.starts_with('.')) && name.ends_with(SUFFIX)
}

/// The process ID and module of a log file name of `program` with a module; `None` for any other file.
pub fn parse_name<'a>(program: &str, name: &'a str) -> Option<(u32, &'a str)> {
    let inner = name.strip_prefix(program)?.strip_prefix('.')?.strip_suffix(SUFFIX)?;
    let mut parts = inner.splitn(3, '.');
    let stamp = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let module = parts.next()?;
    (stamp.len() == 15 && !module.is_empty()).then_some((pid, module))
}

/// Whether process `pid` is alive, where the OS lets us tell without `unsafe` (Linux `/proc`);
/// elsewhere false, and an open log simply fails to be removed.
pub fn process_is_running(pid: u32) -> bool {
    pid == std::process::id() || (cfg!(target_os = "linux") && Path::new("/proc").join(pid.to_string()).exists())
}

impl LogFile {
    /// This run's file name, for a run started at `started` as process `pid`.
    pub fn file_name(&self, started: OffsetDateTime, pid: u32) -> String {
        file_name(self.program, started, pid, self.module.as_deref())
    }

    /// Which of `names` (files of the log folder) are logs of earlier runs to remove: not `own`, and
    /// by the [`Earlier`] rule (asking `is_running` whether a process still runs).
    pub fn previous<'a>(&self, names: &'a [String], own: &str, is_running: impl Fn(u32) -> bool) -> Vec<&'a str> {
        names
            .iter()
            .map(String::as_str)
            .filter(|name| *name != own && is_log_of(self.program, name))
            .filter(|name| match (self.earlier, self.module.as_deref()) {
                (Earlier::Every, _) => true,
                (Earlier::SameModuleEnded, module) => parse_name(self.program, name)
                    .is_some_and(|(pid, m)| module.is_none_or(|own| own == m) && !is_running(pid)),
            })
            .collect()
    }

    /// Removes the logs of earlier runs in `dir` but `keep` (see [`LogFile::previous`]); how many were
    /// removed.
    pub fn remove_previous(&self, dir: &Path, keep: &Path) -> usize {
        let Ok(entries) = fs::read_dir(dir) else { return 0 };
        let names: Vec<String> = entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
        let own = keep.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        self.previous(&names, own, process_is_running)
            .into_iter()
            .filter(|name| fs::remove_file(dir.join(name)).is_ok())
            .count()
    }

    /// Creates (or appends to) this run's log in `dir`, removes earlier runs' logs unless
    /// `keep_previous`, and installs the logger of the `log` crate (the first call in a process wins;
    /// later ones only get their path). Returns the log's path.
    pub fn start(&self, dir: &Path, keep_previous: bool) -> Result<PathBuf, Error> {
        let path = dir.join(self.file_name(OffsetDateTime::now_utc(), std::process::id()));
        let failed = |source| Error { path: path.clone(), source };
        fs::create_dir_all(dir).map_err(failed)?;
        let file = fs::OpenOptions::new().create(true).append(true).open(&path).map_err(failed)?;
        let removed = if keep_previous { 0 } else { self.remove_previous(dir, &path) };
        let mut config = ConfigBuilder::new();
        config.set_time_format_rfc3339().set_target_level(LevelFilter::Off).set_thread_level(LevelFilter::Off);
        for allowed in self.allow {
            config.add_filter_allow_str(allowed);
        }
        for ignored in self.ignore {
            config.add_filter_ignore_str(ignored);
        }
        let config = config.build();
        let mut loggers: Vec<Box<dyn SharedLogger>> = vec![WriteLogger::new(self.level, config.clone(), file)];
        if self.to_stderr {
            loggers.push(WriteLogger::new(self.level, config, std::io::stderr()));
        }
        // A second `start` in one process (tests, a second add-in object) keeps the first logger.
        let _ = CombinedLogger::init(loggers);
        if removed > 0 {
            log::info!("removed {removed} log file(s) of earlier runs (KeepPreviousLogs=0)");
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addin(module: &str) -> LogFile {
        LogFile {
            program: "licenceaddin",
            module: Some(module.into()),
            earlier: Earlier::SameModuleEnded,
            level: LevelFilter::Info,
            allow: &["licenceaddin"],
            ignore: &[],
            to_stderr: false,
        }
    }

    fn server() -> LogFile {
        LogFile {
            program: "licenceserver",
            module: None,
            earlier: Earlier::Every,
            level: LevelFilter::Info,
            allow: &[],
            ignore: &["hyper", "h2"],
            to_stderr: false,
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_have_the_documented_shape_and_read_back() {
        let t = OffsetDateTime::from_unix_timestamp(1_522_766_818).unwrap();
        assert_eq!(server().file_name(t, 5736), "licenceserver.20180403-144658.5736.log");
        let name = addin("liblicenceaddin_x64").file_name(t, 5736);
        assert_eq!(name, "licenceaddin.20180403-144658.5736.liblicenceaddin_x64.log");
        assert_eq!(parse_name("licenceaddin", &name), Some((5736, "liblicenceaddin_x64")));
        assert_eq!(parse_name("licenceaddin", "licenceserver.20180403-144658.5736.log"), None);
        assert_eq!(parse_name("licenceaddin", "licenceaddin.20180403-144658.x.m.log"), None);
        assert!(is_log_of("licenceserver", "licenceserver.anything.log"));
        assert!(!is_log_of("licenceserver", "licenceserverx.1.log"));
    }

    #[test]
    fn the_add_in_removes_only_finished_runs_of_the_same_module() {
        let names = names(&[
            "licenceaddin.20260101-000000.1.mod.log",
            "licenceaddin.20260101-000000.2.mod.log",
            "licenceaddin.20260101-000000.3.other.log",
            "licenceaddin.20260101-000000.4.mod.log",
            "licenceserver.20260101-000000.5.log",
            "notes.txt",
        ]);
        let removed = addin("mod").previous(&names, "licenceaddin.20260101-000000.4.mod.log", |pid| pid == 2);
        assert_eq!(removed, ["licenceaddin.20260101-000000.1.mod.log"]);
    }

    #[test]
    fn the_server_removes_every_other_log_of_its_own() {
        let names = names(&[
            "licenceserver.20250101-000000.1.log",
            "licenceserver.20260101-000000.2.log",
            "licenceserver.old.log",
            "licenceaddin.20260101-000000.3.mod.log",
            "notes.txt",
        ]);
        let removed = server().previous(&names, "licenceserver.20260101-000000.2.log", |_| true);
        assert_eq!(removed, ["licenceserver.20250101-000000.1.log", "licenceserver.old.log"]);
    }

    #[test]
    fn start_creates_the_log_and_clears_earlier_ones_unless_kept() {
        let dir = std::env::temp_dir().join(format!("licence-logfile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        // PID 1 is alive on Linux (init); use a number no process has.
        let old = dir.join("licenceaddin.20200101-000000.4000000000.mod.log");
        fs::write(&old, "old").unwrap();
        let path = addin("mod").start(&dir, true).unwrap();
        assert!(path.exists() && old.exists());
        addin("mod").start(&dir, false).unwrap();
        assert!(!old.exists());
        assert!(path.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_folder_that_cannot_be_made_names_the_log() {
        let file = std::env::temp_dir().join(format!("licence-logfile-block-{}", std::process::id()));
        fs::write(&file, "a file, not a folder").unwrap();
        let e = server().start(&file.join("logs"), false).unwrap_err();
        assert!(e.to_string().starts_with(&format!("log file `{}", file.join("logs").display())), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        fs::remove_file(&file).unwrap();
    }
}
