//! The installed keys: every `{KeyID}.{KeyNo}.licence` in the data folder, verified and checked
//! against this computer. A broken file never hides the others: it is listed with `Workable: false`
//! and the reason in `OpenError`, and logged with its path. Which keys *count* is `pool`'s business;
//! this module only says what each file is.

use licence_protocol::identity::MachineIdentity;
use licence_protocol::key::{KeyFields, SeriesId};
use licence_protocol::keyfile;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Key files larger than this are not licence keys.
const MAX_KEY_FILE: u64 = 64 * 1024;

#[derive(Debug, Clone)]
pub struct InstalledKey {
    pub path: PathBuf,
    pub key_no: u64,
    pub series: SeriesId,
    /// The signed fields, when the file could be read and verified.
    pub fields: Option<KeyFields>,
    pub workable: bool,
    pub open_error: Option<String>,
}

/// What identifies the folder's content, to reload only when something changed.
pub type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

pub fn fingerprint(dir: &Path) -> Fingerprint {
    let mut list: Fingerprint = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "licence"))
        .map(|e| {
            let meta = e.metadata().ok();
            (e.path(), meta.as_ref().map_or(0, |m| m.len()), meta.and_then(|m| m.modified().ok()))
        })
        .collect();
    list.sort();
    list
}

/// `{KeyID}.{KeyNo}.licence` → its series and number.
pub fn parse_file_name(name: &str) -> Option<(SeriesId, u64)> {
    let stem = name.strip_suffix(".licence")?;
    let (series, number) = stem.split_once('.')?;
    let key_no = number.parse::<u64>().ok().filter(|n| *n > 0 && !number.starts_with('+'))?;
    Some((series.parse().ok()?, key_no))
}

/// Loads every key file of `dir`. Problems (also those of files that are skipped) come back as
/// `path: reason` lines for the log.
pub fn scan(dir: &Path, identity: Option<&MachineIdentity>) -> (BTreeMap<u64, InstalledKey>, Vec<String>) {
    let mut keys = BTreeMap::new();
    let mut problems = Vec::new();
    for (path, _, _) in fingerprint(dir) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some((series, key_no)) = parse_file_name(name) else {
            problems.push(format!("{}: file name is not {{KeyID}}.{{KeyNo}}.licence; skipped", path.display()));
            continue;
        };
        if let Some(other) = keys.get(&key_no).map(|k: &InstalledKey| k.path.clone()) {
            problems.push(format!(
                "{}: key number {key_no} is already installed from {}; skipped",
                path.display(),
                other.display()
            ));
            continue;
        }
        let key = open(&path, series, key_no, identity);
        if let Some(reason) = &key.open_error {
            problems.push(format!("{}: {reason}", path.display()));
        }
        keys.insert(key_no, key);
    }
    (keys, problems)
}

fn open(path: &Path, series: SeriesId, key_no: u64, identity: Option<&MachineIdentity>) -> InstalledKey {
    let mut key =
        InstalledKey { path: path.to_owned(), key_no, series, fields: None, workable: false, open_error: None };
    match read_and_check(path, series, key_no) {
        Ok(verified) => {
            key.open_error = binding_problem(&verified, identity);
            key.workable = key.open_error.is_none();
            key.fields = Some(verified.fields);
        }
        Err(reason) => key.open_error = Some(reason),
    }
    key
}

fn read_and_check(path: &Path, series: SeriesId, key_no: u64) -> Result<keyfile::VerifiedKeyFile, String> {
    let size = fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?.len();
    if size > MAX_KEY_FILE {
        return Err(format!("{size} bytes is too large for a key file"));
    }
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let verified = keyfile::verify(&bytes).map_err(|e| e.to_string())?;
    let f = &verified.fields;
    if f.key_id != series || f.key_no != key_no {
        return Err(format!("file name does not match the key inside ({}); the file was renamed", f.file_name()));
    }
    Ok(verified)
}

/// Why a verified key does not work on this computer, if it does not.
fn binding_problem(verified: &keyfile::VerifiedKeyFile, identity: Option<&MachineIdentity>) -> Option<String> {
    let Some(identity) = identity else {
        return Some("this computer's identity is unknown (see the log); keys cannot be checked".into());
    };
    let here = identity.computer_id();
    if let Err(e) = verified.ensure_issued_for(&here) {
        return Some(format!("{e}; this computer is {here}"));
    }
    // Unwrapping proves the file was issued for this machine's raw identity, not only its ID.
    verified.unwrap_secret(&identity.binding()).err().map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_documented_pattern() {
        assert_eq!(parse_file_name("672B.7121172.licence"), Some(("672B".parse().unwrap(), 7121172)));
        assert_eq!(parse_file_name("672b.1.licence").map(|k| k.1), Some(1));
        for bad in [
            "672B.licence",
            "672B.0.licence",
            "672B.x.licence",
            "67ZB.1.licence",
            "672B.1.lic",
            "672B.+1.licence",
            "672B.1.2.licence",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }
}
