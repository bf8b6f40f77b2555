//! The installed keys: every `{KeyID}.{KeyNo}.licence` in the data folder, verified and checked
//! against this computer. A broken file never hides the others: it is listed with `Workable: false`
//! and the reason in `OpenError`, and logged with its path. Which keys *count* is `pool`'s business;
//! this module only says what each file is.
//!
//! Unlike the rest of this crate it reads files: the licence server scans its data folder with it,
//! and the add-in's local fallback scans the same folder on its own computer, so both read key files
//! and judge their binding with one piece of code.
//!
//! The folder's `reissued.list` ([`issue_register`]) records, per key, the activation date of the
//! latest issue installed there; a key file of an earlier issue — a copy kept from before a backup code
//! moved or re-bound the key — is listed but not workable, for the server and the local fallback alike.
//!
//! The server also passes the USB keys and blanks plugged in ([`Carrier`]): a hardware key's own key
//! file is listed as a key of `Type` `USB`, and a key file bound to a blank (`BlankKeyNo`) works only
//! while that blank is plugged in. Unplugging makes the key unworkable, which frees its licences;
//! plugging it back restores them.

use crate::identity::{MachineBinding, MachineIdentity};
use crate::key::{KeyFields, SeriesId};
use crate::keyfile;
use crate::pool::PoolKey;
use crate::time::UtcTime;
use crate::wire::KeyParameters;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Key files larger than this are not licence keys.
const MAX_KEY_FILE: u64 = keyfile::MAX_FILE_LEN as u64;

/// Where a key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// A file in the data folder (`Type: "Virtual"`), bound to this computer or to a USB blank.
    File,
    /// Inside a hardware key (`Type: "USB"`) with this device serial.
    Usb(u64),
}

/// A USB key or blank that proved to be genuine, as the scan needs it.
pub struct Carrier<'a> {
    pub serial: u64,
    /// The device's `ComputerID`, which key files bound to it name.
    pub computer_id: &'a str,
    pub binding: &'a MachineBinding,
    /// The key file stored in a hardware key; `None` for a blank.
    pub key_file: Option<&'a [u8]>,
}

#[derive(Debug, Clone)]
pub struct InstalledKey {
    pub storage: Storage,
    /// The key file's path, or `usb:{serial}` for a key inside a hardware key.
    pub path: PathBuf,
    pub key_no: u64,
    pub series: SeriesId,
    /// The signed fields, when the file could be read and verified.
    pub fields: Option<KeyFields>,
    /// The series public key that signed the file, when it could be verified.
    pub signer: Option<[u8; 32]>,
    pub workable: bool,
    pub open_error: Option<String>,
}

impl InstalledKey {
    /// The key as the pool rules see it at `now`; `None` for a file that could not be read at all.
    /// Every installed key is enabled: nothing disables one yet.
    pub fn pool_key(&self, now: UtcTime) -> Option<PoolKey> {
        let f = self.fields.as_ref()?;
        Some(PoolKey {
            key_no: self.key_no,
            series: self.series,
            signer: self.signer?,
            kind: f.key_type,
            licence_count: f.licence_count,
            workable: self.workable,
            enabled: true,
            validity: f.validity(now),
        })
    }
}

impl InstalledKey {
    /// The key as `/licence/keyinfo` describes it at `now`, `counts` being the pool's verdict; `None`
    /// for a file that could not be read at all.
    pub fn parameters(&self, counts: bool, now: UtcTime) -> Option<KeyParameters> {
        let f = self.fields.as_ref()?;
        let v = f.validity(now);
        Some(KeyParameters {
            key_no: self.key_no,
            key_type: f.key_type,
            licence_count: f.licence_count,
            counts,
            workable: self.workable,
            start_date: f.start_date,
            expire_date: v.expire_date,
            days_left: v.days_left,
            expired: v.expired,
            flags: f.flags,
            product_name: f.product_name.clone(),
            product_version: f.product_version.clone(),
            article: f.article.clone(),
            article_name: f.article_name.clone(),
            support_date: f.support_date,
        })
    }
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

/// The file in the data folder that records the latest issue of each key installed there.
pub const REISSUED_FILE: &str = "reissued.list";

/// When a key file was issued: its activation, or its start for a key not made by activation.
pub fn issue_date(fields: &KeyFields) -> UtcTime {
    fields.activation_date.unwrap_or(fields.start_date)
}

/// `KeyNo` → the activation date of its latest issue installed in `dir` ([`REISSUED_FILE`]). Lines that
/// cannot be read are skipped; a missing file is an empty register.
pub fn issue_register(dir: &Path) -> BTreeMap<u64, UtcTime> {
    let text = fs::read_to_string(dir.join(REISSUED_FILE)).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (key_no, date) = line.split_once(' ')?;
            Some((key_no.parse().ok()?, UtcTime::parse(date.trim()).ok()?))
        })
        .collect()
}

/// Why a key file is an outdated issue of its key, if it is one.
fn superseded(fields: &KeyFields, register: &BTreeMap<u64, UtcTime>) -> Option<String> {
    let latest = register.get(&fields.key_no)?;
    (issue_date(fields) < *latest).then(|| {
        format!(
            "this file is an earlier issue of key {}; the key was re-issued on {latest} (its backup code moved or \
             re-bound it), so this copy no longer works",
            fields.key_no
        )
    })
}

/// Loads every key file of `dir`. Problems (also those of files that are skipped) come back as
/// `path: reason` lines for the log.
pub fn scan(dir: &Path, identity: Option<&MachineIdentity>) -> (BTreeMap<u64, InstalledKey>, Vec<String>) {
    scan_with_usb(dir, identity, &[])
}

/// [`scan`], with the USB keys and blanks plugged in now.
pub fn scan_with_usb(
    dir: &Path,
    identity: Option<&MachineIdentity>,
    carriers: &[Carrier<'_>],
) -> (BTreeMap<u64, InstalledKey>, Vec<String>) {
    let mut keys = BTreeMap::new();
    let mut problems = Vec::new();
    let register = issue_register(dir);
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
        let mut key = open(&path, series, key_no, identity, carriers);
        if let Some(reason) = key.fields.as_ref().and_then(|f| superseded(f, &register)) {
            key.workable = false;
            key.open_error = Some(reason);
        }
        if let Some(reason) = &key.open_error {
            problems.push(format!("{}: {reason}", path.display()));
        }
        keys.insert(key_no, key);
    }
    for carrier in carriers {
        let Some(bytes) = carrier.key_file else { continue };
        let path = PathBuf::from(format!("usb:{}", carrier.serial));
        let verified = match keyfile::verify(bytes) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("USB key {}: {e}", carrier.serial));
                continue;
            }
        };
        let key_no = verified.fields.key_no;
        if let Some(other) = keys.get(&key_no).map(|k: &InstalledKey| k.path.clone()) {
            problems.push(format!(
                "USB key {}: key number {key_no} is already installed from {}; the USB key is not used",
                carrier.serial,
                other.display()
            ));
            continue;
        }
        let open_error = carrier_problem(&verified, carrier);
        if let Some(reason) = &open_error {
            problems.push(format!("USB key {}: {reason}", carrier.serial));
        }
        keys.insert(
            key_no,
            InstalledKey {
                storage: Storage::Usb(carrier.serial),
                path,
                key_no,
                series: verified.fields.key_id,
                workable: open_error.is_none(),
                open_error,
                signer: Some(verified.series_public_key),
                fields: Some(verified.fields),
            },
        );
    }
    (keys, problems)
}

fn open(
    path: &Path,
    series: SeriesId,
    key_no: u64,
    identity: Option<&MachineIdentity>,
    carriers: &[Carrier<'_>],
) -> InstalledKey {
    let mut key = InstalledKey {
        storage: Storage::File,
        path: path.to_owned(),
        key_no,
        series,
        fields: None,
        signer: None,
        workable: false,
        open_error: None,
    };
    match read_and_check(path, series, key_no) {
        Ok(verified) => {
            key.open_error = match verified.fields.blank_key_no {
                Some(serial) => match carriers.iter().find(|c| c.serial == serial && c.key_file.is_none()) {
                    Some(blank) => carrier_problem(&verified, blank),
                    None => Some(format!(
                        "the key is installed on USB blank {serial}, which is not plugged in; plug it in to use the key"
                    )),
                },
                None => binding_problem(&verified, identity),
            };
            key.workable = key.open_error.is_none();
            key.signer = Some(verified.series_public_key);
            key.fields = Some(verified.fields);
        }
        Err(reason) => key.open_error = Some(reason),
    }
    key
}

/// Why a key bound to a USB device does not work with `carrier`, if it does not.
fn carrier_problem(verified: &keyfile::VerifiedKeyFile, carrier: &Carrier<'_>) -> Option<String> {
    if let Err(e) = verified.ensure_issued_for(carrier.computer_id) {
        return Some(format!("{e}; USB device {} is {}", carrier.serial, carrier.computer_id));
    }
    verified.unwrap_secret(carrier.binding).err().map(|e| e.to_string())
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
        return Some(format!(
            "{e}; this computer is {here}. If the key was installed on this computer, its identity changed \
             (the OS was reinstalled or its machine id regenerated): install the key's backup code \
             (POST /api/licences) to bind it again"
        ));
    }
    // Unwrapping proves the file was issued for this machine's raw identity and host secret, not only
    // its ID. A process without the host secret (the add-in's local fallback) cannot unwrap, and needs
    // no secret: it goes by the signed `ComputerID`.
    if !identity.has_host_secret() {
        return None;
    }
    verified.unwrap_secret(&identity.binding()).err().map(|e| e.to_string())
}

/// Stops time-limited keys while the clock reads more than a day before `high_water` or a key's
/// `ActivationDate` (`clock`): they are listed unworkable with the reason. Returns the reason, for the
/// log, when the clock is behind.
pub fn hold_back_when_clock_is_behind(
    keys: &mut BTreeMap<u64, InstalledKey>,
    now: UtcTime,
    high_water: Option<UtcTime>,
) -> Option<String> {
    let floor = crate::clock::floor(high_water, keys.values().filter_map(|k| k.fields.as_ref()));
    let why = crate::clock::behind(now, floor)?;
    for key in keys.values_mut() {
        if key.workable && key.fields.as_ref().is_some_and(crate::clock::is_time_limited) {
            key.workable = false;
            key.open_error = Some(why.clone());
        }
    }
    Some(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::tests::sample_fields;
    use crate::key::KeyKind;
    use crate::series::SeriesKeys;

    /// A fresh folder of its own under the system's temporary one.
    fn folder(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("licence-keystore-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A key of `key_no` issued for `machine`, written under its own name in `dir`.
    fn install(dir: &Path, series: &SeriesKeys, key_no: u64, machine: &MachineIdentity) -> PathBuf {
        let mut fields = sample_fields();
        fields.key_no = key_no;
        fields.key_id = series.series;
        fields.computer_id = machine.computer_id();
        let path = dir.join(fields.file_name());
        fs::write(&path, keyfile::issue(&fields, series, &machine.binding())).unwrap();
        path
    }

    #[test]
    fn scan_lists_every_file_and_says_why_one_does_not_work_here() {
        let dir = folder("scan");
        let here = MachineIdentity::from_material(b"this computer");
        let elsewhere = MachineIdentity::from_material(b"another computer");
        let series = SeriesKeys::generate("672B".parse().unwrap());
        install(&dir, &series, 1, &here);
        install(&dir, &series, 2, &elsewhere);
        let tampered = install(&dir, &series, 3, &here);
        let text = fs::read_to_string(&tampered).unwrap().replace("\"LicenceCount\":10", "\"LicenceCount\":99");
        fs::write(&tampered, text).unwrap();
        fs::write(dir.join("notes.licence"), "hello").unwrap();
        fs::copy(dir.join("672B.1.licence"), dir.join("672B.4.licence")).unwrap();

        let (keys, problems) = scan(&dir, Some(&here));
        assert_eq!(keys.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert!(keys[&1].workable && keys[&1].open_error.is_none());
        assert_eq!(keys[&1].fields.as_ref().unwrap().key_type, KeyKind::Main);
        let foreign = keys[&2].open_error.as_deref().unwrap();
        assert!(foreign.starts_with("key is bound to another computer"), "{foreign}");
        assert_eq!(keys[&3].open_error.as_deref(), Some("signature does not match: the key file was altered"));
        assert!(keys[&4].open_error.as_deref().unwrap().contains("the file was renamed"));
        assert!(!keys[&2].workable && !keys[&3].workable && !keys[&4].workable);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("notes.licence: file name is not")));

        let (keys, _) = scan(&dir, None);
        assert!(keys.values().all(|k| !k.workable));
        assert!(keys[&1].open_error.as_deref().unwrap().contains("identity is unknown"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_key_unwrapped_for_other_material_with_this_computer_id_is_not_workable() {
        let dir = folder("rewrapped");
        let here = MachineIdentity::from_material(b"this computer")
            .with_host_secret(crate::identity::HostSecret::from_bytes([3; 32]));
        let elsewhere = MachineIdentity::from_material(b"another computer");
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let mut fields = sample_fields();
        fields.key_id = series.series;
        fields.computer_id = here.computer_id();
        fs::write(dir.join(fields.file_name()), keyfile::issue(&fields, &series, &elsewhere.binding())).unwrap();
        let (keys, _) = scan(&dir, Some(&here));
        let key = keys.values().next().unwrap();
        assert!(!key.workable);
        assert_eq!(key.open_error.as_deref(), Some("the series secret cannot be unwrapped on this computer"));
        // Without the host secret (a process of another user) only the signed ComputerID is checked.
        let (keys, _) = scan(&dir, Some(&MachineIdentity::from_material(b"this computer")));
        assert!(keys.values().next().unwrap().workable);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn time_limited_keys_stop_while_the_clock_is_behind() {
        let dir = folder("clock");
        let here = MachineIdentity::from_material(b"this computer");
        let series = SeriesKeys::generate("672B".parse().unwrap());
        install(&dir, &series, 1, &here);
        let (mut keys, _) = scan(&dir, Some(&here));
        let start = sample_fields().start_date;
        assert_eq!(hold_back_when_clock_is_behind(&mut keys, start.plus_days(3), Some(start.plus_days(3))), None);
        assert!(keys[&1].workable);
        let why = hold_back_when_clock_is_behind(&mut keys, start.plus_days(3), Some(start.plus_days(20))).unwrap();
        assert!(!keys[&1].workable);
        assert_eq!(keys[&1].open_error.as_deref(), Some(why.as_str()));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keys_on_usb_devices_work_only_while_plugged_in() {
        let dir = folder("usb");
        let here = MachineIdentity::from_material(b"this computer");
        let blank = MachineIdentity::from_material(b"a blank's device secret");
        let hardware = MachineIdentity::from_material(b"a hardware key's device secret");
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let mut on_blank = sample_fields();
        on_blank.key_no = 10;
        on_blank.key_id = series.series;
        on_blank.blank_key_no = Some(555);
        on_blank.computer_id = blank.computer_id();
        fs::write(dir.join(on_blank.file_name()), keyfile::issue(&on_blank, &series, &blank.binding())).unwrap();
        let mut inside = sample_fields();
        inside.key_no = 11;
        inside.key_id = series.series;
        inside.computer_id = hardware.computer_id();
        let inside_file = keyfile::issue(&inside, &series, &hardware.binding());

        let (keys, _) = scan_with_usb(&dir, Some(&here), &[]);
        assert_eq!(keys.len(), 1);
        assert!(!keys[&10].workable);
        assert!(keys[&10].open_error.as_deref().unwrap().contains("USB blank 555, which is not plugged in"));

        let (blank_id, hardware_id) = (blank.computer_id(), hardware.computer_id());
        let (blank_binding, hardware_binding) = (blank.binding(), hardware.binding());
        let plugged = [
            Carrier { serial: 555, computer_id: &blank_id, binding: &blank_binding, key_file: None },
            Carrier {
                serial: 777,
                computer_id: &hardware_id,
                binding: &hardware_binding,
                key_file: Some(&inside_file),
            },
        ];
        let (keys, problems) = scan_with_usb(&dir, Some(&here), &plugged);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(keys[&10].workable && keys[&10].storage == Storage::File);
        assert!(keys[&11].workable);
        assert_eq!(keys[&11].storage, Storage::Usb(777));
        assert_eq!(keys[&11].path, PathBuf::from("usb:777"));

        // A device that copies the blank's serial but not its secret does not open the key.
        let clone = [Carrier { serial: 555, computer_id: &blank_id, binding: &hardware_binding, key_file: None }];
        let (keys, _) = scan_with_usb(&dir, Some(&here), &clone);
        assert!(!keys[&10].workable);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_earlier_issue_of_a_reissued_key_is_not_workable() {
        let dir = folder("reissued");
        let here = MachineIdentity::from_material(b"this computer");
        let series = SeriesKeys::generate("672B".parse().unwrap());
        install(&dir, &series, 5, &here);
        let (keys, _) = scan(&dir, Some(&here));
        assert!(keys[&5].workable, "no register: nothing superseded");
        let start = sample_fields().start_date;
        fs::write(dir.join(REISSUED_FILE), format!("5 {}\nnot a line\n", start.plus_days(1))).unwrap();
        assert_eq!(issue_register(&dir).len(), 1);
        let (keys, problems) = scan(&dir, Some(&here));
        assert!(!keys[&5].workable);
        assert!(keys[&5].open_error.as_deref().unwrap().contains("earlier issue of key 5"), "{problems:?}");
        fs::write(dir.join(REISSUED_FILE), format!("5 {start}\n")).unwrap();
        assert!(scan(&dir, Some(&here)).0[&5].workable, "the same issue is the latest");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pool_key_carries_the_fields_and_the_validity_at_a_moment() {
        let dir = folder("pool-key");
        let here = MachineIdentity::from_material(b"this computer");
        let series = SeriesKeys::generate("672B".parse().unwrap());
        install(&dir, &series, 1, &here);
        fs::write(dir.join("672B.2.licence"), "not a key").unwrap();
        let (keys, _) = scan(&dir, Some(&here));
        let start = sample_fields().start_date;
        let key = keys[&1].pool_key(start.plus_days(40)).unwrap();
        assert_eq!((key.key_no, key.kind, key.licence_count, key.workable), (1, KeyKind::Main, 10, true));
        assert!(key.validity.expired);
        assert!(!keys[&1].pool_key(start.plus_days(1)).unwrap().validity.expired);
        assert_eq!(keys[&2].pool_key(start), None);
        fs::remove_dir_all(&dir).unwrap();
    }

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
