//! Where the server keeps its files. Everything hangs off one root (`/var/1C/licence` on Linux,
//! `%ProgramData%\1C\Licence` on Windows) so that `--root DIR` relocates the whole tree for tests and
//! for runs without administrator rights:
//!
//! | path                          | what                                        |
//! |-------------------------------|---------------------------------------------|
//! | `{root}/3.0/licenceserver.conf` | configuration (INI, UTF-8)                |
//! | `{root}/3.0/logs/`            | `licenceserver.{YYYYMMDD-HHNNSS}.{pid}.log`  |
//! | `{root}/3.0/leases.sqlite`    | live connections and sessions (survives `kill -9`) |
//! | `{root}/3.0/host.secret`      | the host secret keys on this computer are sealed under (0600) |
//! | `{root}/3.0/token.key`        | the key API tokens are signed with (0600)   |
//! | `{root}/3.0/licenceserver.port` | `ADDR:PORT` the running server listens on (removed at a clean stop) |
//! | `{root}/data/`                | installed key files `{KeyID}.{KeyNo}.licence` |

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root the installed server uses.
    pub fn system() -> Self {
        Self::new(system_root())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root.join("3.0")
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir().join("licenceserver.conf")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.config_dir().join("logs")
    }

    pub fn lease_store(&self) -> PathBuf {
        self.config_dir().join("leases.sqlite")
    }

    /// `data` on Linux, `Data` on Windows: the spelling the guide's `FileName` examples show.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join(if cfg!(windows) { "Data" } else { "data" })
    }

    /// Creates the folders the server writes into.
    pub fn create_dirs(&self) -> std::io::Result<()> {
        for dir in [self.config_dir(), self.logs_dir(), self.data_dir()] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(())
    }
}

#[cfg(windows)]
fn system_root() -> PathBuf {
    let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
    PathBuf::from(base).join("1C").join("Licence")
}

#[cfg(not(windows))]
fn system_root() -> PathBuf {
    PathBuf::from("/var/1C/licence")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_hangs_off_the_root() {
        let l = Layout::new("/tmp/x");
        assert_eq!(l.config_file(), Path::new("/tmp/x/3.0/licenceserver.conf"));
        assert_eq!(l.logs_dir(), Path::new("/tmp/x/3.0/logs"));
        assert_eq!(l.data_dir(), Path::new("/tmp/x/data"));
        assert_eq!(l.lease_store(), Path::new("/tmp/x/3.0/leases.sqlite"));
    }

    #[cfg(not(windows))]
    #[test]
    fn system_root_is_the_documented_one() {
        assert_eq!(Layout::system().config_file(), Path::new("/var/1C/licence/3.0/licenceserver.conf"));
    }
}
