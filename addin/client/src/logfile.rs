//! The add-in's log: `licenceaddin.{YYYYMMDD-HHNNSS}.{pid}.{modulename}.log` (the guide's log
//! appendix; the timestamp is UTC like the server's) in the OS user's `logs` folder
//! (`~/.1C/licence/3.0/logs/`, `%LocalAppData%\1C\licence\3.0\logs\`), or the common one
//! (`%ProgramData%\1C\licence\3.0\logs\`) for an add-in loaded by a web server publishing file
//! infobases. `{modulename}` is the add-in's file name without its extension.
//!
//! Logs of earlier runs of the same module are removed at start unless `KeepPreviousLogs=1`; a log
//! whose process is still running (another 1C client of the same user) is left alone. The file itself
//! is the one the server keeps too (`licence_logfile`); what is the add-in's own is here: its folders,
//! its module name and what it writes (only its own records).

use crate::conf::Places;
use crate::error::Error;
use licence_logfile::{Earlier, LogFile};
use simplelog::LevelFilter;
use std::path::{Path, PathBuf};

/// The first part of the add-in's log file names.
pub const PROGRAM: &str = "licenceaddin";

/// The add-in's log of `module`, at `level`: only the add-in's own records (not the host's).
pub fn log_file(module: &str, level: LevelFilter) -> LogFile {
    LogFile {
        program: PROGRAM,
        module: Some(module.to_owned()),
        earlier: Earlier::SameModuleEnded,
        level,
        allow: &["licenceaddin"],
        ignore: &[],
        to_stderr: false,
    }
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

/// Creates this process's log in `dir`, removes earlier ones unless `keep_previous`, and installs it
/// as the `log` crate's logger (the first call in a process wins; later ones only get their path).
pub fn start(dir: &Path, module: &str, keep_previous: bool, level: LevelFilter) -> Result<PathBuf, Error> {
    log_file(module, level).start(dir, keep_previous).map_err(|e| Error::Log { path: e.path, source: e.source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use time::OffsetDateTime;

    #[test]
    fn name_has_the_documented_shape_and_reads_back() {
        let t = OffsetDateTime::from_unix_timestamp(1_522_766_818).unwrap();
        let name = log_file("liblicenceaddin_x64", LevelFilter::Info).file_name(t, 5736);
        assert_eq!(name, "licenceaddin.20180403-144658.5736.liblicenceaddin_x64.log");
        assert_eq!(licence_logfile::parse_name(PROGRAM, &name), Some((5736, "liblicenceaddin_x64")));
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
        let removed =
            log_file("mod", LevelFilter::Info)
                .previous(&names, "licenceaddin.20260101-000000.4.mod.log", |pid| pid == 2);
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
