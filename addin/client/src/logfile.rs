//! The add-in's log: `licenceaddin.{YYYYMMDD-HHNNSS}.{pid}.{modulename}.log` (the guide's log
//! appendix; the timestamp is UTC like the server's) in the OS user's `logs` folder
//! (`~/.1C/licence/3.0/logs/`, `%LocalAppData%\1C\licence\3.0\logs\`), or the common one
//! (`%ProgramData%\1C\licence\3.0\logs\`) for an add-in loaded by a web server publishing file
//! infobases. `{modulename}` is the add-in's file name without its extension.
//!
//! Logs of earlier runs of the same module are removed at start unless `KeepPreviousLogs=1`; a log
//! whose process is still running (another 1C client of the same user) is left alone.

use crate::conf::Places;
use crate::error::Error;
use simplelog::{ConfigBuilder, LevelFilter, WriteLogger};
use std::fs;
use std::path::{Path, PathBuf};
use time::macros::format_description;
use time::OffsetDateTime;

const PREFIX: &str = "licenceaddin.";
const SUFFIX: &str = ".log";

/// `licenceaddin.20180403-144658.5736.liblicenceaddin.log`.
pub fn log_file_name(started: OffsetDateTime, pid: u32, module: &str) -> String {
    let stamp = started
        .format(format_description!("[year][month][day]-[hour][minute][second]"))
        .unwrap_or_else(|_| "00000000-000000".into());
    format!("{PREFIX}{stamp}.{pid}.{module}{SUFFIX}")
}

/// `{modulename}`: the add-in file's name without its extension (`liblicenceaddin_x64`).
pub fn module_name(module_path: &Path) -> String {
    let stem = module_path.file_stem().and_then(|s| s.to_str()).unwrap_or("licenceaddin");
    let clean: String = stem.chars().map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    if clean.is_empty() {
        "licenceaddin".to_owned()
    } else {
        clean
    }
}

/// The folder of the add-in's logs: the user's, or the common one for a web server publishing file
/// infobases (and when the user's folder cannot be told).
pub fn log_dir(places: &Places, in_web_server: bool) -> PathBuf {
    match (&places.user, in_web_server) {
        (Some(user), false) => user.join("logs"),
        _ => places.common.join("logs"),
    }
}

/// The process ID and module of an add-in log's file name; `None` for any other file.
pub fn parse_log_name(name: &str) -> Option<(u32, &str)> {
    let inner = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let mut parts = inner.splitn(3, '.');
    let stamp = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let module = parts.next()?;
    (stamp.len() == 15 && !module.is_empty()).then_some((pid, module))
}

/// Which of `names` (files of the log folder) are earlier logs of `module` to remove: not `own`,
/// and not of a process `is_running` says is alive.
pub fn previous_logs<'a>(
    names: &'a [String],
    module: &str,
    own: &str,
    is_running: impl Fn(u32) -> bool,
) -> Vec<&'a str> {
    names
        .iter()
        .map(String::as_str)
        .filter(|name| *name != own)
        .filter(|name| parse_log_name(name).is_some_and(|(pid, m)| m == module && !is_running(pid)))
        .collect()
}

/// Whether process `pid` is alive, where the OS lets us tell without `unsafe` (Linux `/proc`);
/// elsewhere false, and an open log simply fails to be removed.
pub fn process_is_running(pid: u32) -> bool {
    pid == std::process::id() || (cfg!(target_os = "linux") && Path::new("/proc").join(pid.to_string()).exists())
}

/// Removes earlier logs of `module` in `dir` but `keep` and those of live processes (this one
/// included: a second add-in instance in the process keeps the first one's log); how many were removed.
pub fn remove_previous_logs(dir: &Path, module: &str, keep: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    let names: Vec<String> = entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
    let own = keep.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    previous_logs(&names, module, own, process_is_running)
        .into_iter()
        .filter(|name| fs::remove_file(dir.join(name)).is_ok())
        .count()
}

/// Creates this process's log in `dir`, removes earlier ones unless `keep_previous`, and installs it
/// as the `log` crate's logger (the first call in a process wins; later ones only get their path).
pub fn start(dir: &Path, module: &str, keep_previous: bool, level: LevelFilter) -> Result<PathBuf, Error> {
    let path = dir.join(log_file_name(OffsetDateTime::now_utc(), std::process::id(), module));
    let failed = |source| Error::Log { path: path.clone(), source };
    fs::create_dir_all(dir).map_err(failed)?;
    let file = fs::OpenOptions::new().create(true).append(true).open(&path).map_err(failed)?;
    let removed = if keep_previous { 0 } else { remove_previous_logs(dir, module, &path) };
    let config = ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .add_filter_allow_str("licenceaddin")
        .build();
    let _ = WriteLogger::init(level, config, file);
    if removed > 0 {
        log::info!("removed {removed} log file(s) of earlier runs (KeepPreviousLogs=0)");
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_has_the_documented_shape_and_reads_back() {
        let t = OffsetDateTime::from_unix_timestamp(1_522_766_818).unwrap();
        let name = log_file_name(t, 5736, "liblicenceaddin_x64");
        assert_eq!(name, "licenceaddin.20180403-144658.5736.liblicenceaddin_x64.log");
        assert_eq!(parse_log_name(&name), Some((5736, "liblicenceaddin_x64")));
        assert_eq!(parse_log_name("licenceserver.20180403-144658.5736.log"), None);
        assert_eq!(parse_log_name("licenceaddin.20180403-144658.x.m.log"), None);
    }

    #[test]
    fn module_name_is_the_file_name_without_extension() {
        assert_eq!(module_name(Path::new("/tmp/v8_3F2F_d.so")), "v8_3F2F_d");
        assert_eq!(module_name(Path::new("/opt/liblicenceaddin_x64.so")), "liblicenceaddin_x64");
        assert_eq!(module_name(Path::new("")), "licenceaddin");
    }

    #[test]
    fn folders_are_the_users_or_for_web_servers_the_common_one() {
        let places = Places::from_vars(false, |_| Some(PathBuf::from("/home/usr1cv8")));
        assert_eq!(log_dir(&places, false), PathBuf::from("/home/usr1cv8/.1C/licence/3.0/logs"));
        assert_eq!(log_dir(&places, true), PathBuf::from("/var/1C/licence/3.0/logs"));
        let windows = Places::from_vars(true, |v| Some(PathBuf::from(if v == "LOCALAPPDATA" { "L" } else { "P" })));
        assert_eq!(log_dir(&windows, false), Path::new("L").join("1C").join("licence").join("3.0").join("logs"));
        assert_eq!(log_dir(&windows, true), Path::new("P").join("1C").join("licence").join("3.0").join("logs"));
    }

    #[test]
    fn only_finished_runs_of_the_same_module_are_removed() {
        let names: Vec<String> = [
            "licenceaddin.20260101-000000.1.mod.log",
            "licenceaddin.20260101-000000.2.mod.log",
            "licenceaddin.20260101-000000.3.other.log",
            "licenceaddin.20260101-000000.4.mod.log",
            "licenceserver.20260101-000000.5.log",
            "notes.txt",
        ]
        .map(String::from)
        .to_vec();
        let removed = previous_logs(&names, "mod", "licenceaddin.20260101-000000.4.mod.log", |pid| pid == 2);
        assert_eq!(removed, ["licenceaddin.20260101-000000.1.mod.log"]);
    }

    #[test]
    fn start_creates_the_log_and_clears_earlier_ones_unless_kept() {
        let dir = std::env::temp_dir().join(format!("licenceaddin-logs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        // PID 1 is alive on Linux (init); use a number no process has.
        let old = dir.join("licenceaddin.20200101-000000.4000000000.mod.log");
        fs::write(&old, "old").unwrap();
        let path = start(&dir, "mod", true, LevelFilter::Info).unwrap();
        assert!(path.exists() && old.exists());
        start(&dir, "mod", false, LevelFilter::Info).unwrap();
        assert!(!old.exists());
        assert!(path.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
