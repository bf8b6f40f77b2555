//! The optional local fallback: when no licence server answers, a client application in file mode may
//! take its licence from a key installed on its own computer, read exactly as the server on this
//! computer would read it.
//!
//! Rules, each one a reason the fallback gives when it does not apply:
//! - only the configuration's code can turn it on (its `LocalFallback` property); licenceaddin.conf can
//!   only turn it off (`LocalFallback=0`; a `LocalFallback=1` there is ignored with a log line), see
//!   `conf::Resolved::local_fallback`; it is only tried when no server answered (code 1);
//! - it needs the pin like every licence call: only keys signed by the series public key the
//!   configuration pins (`SeriesPublicKey`) count (`pool::evaluate_pinned`), so a key of a self-made
//!   series of the same KeyID gives nothing;
//! - a server process (`IsServer`) never falls back: each of its sessions takes a licence of its own,
//!   and only a server can count them;
//! - nor does a client of a client-server or web infobase: its connection string is not `File=…`;
//! - nor does a terminal session, which in file mode also takes a licence of its own.
//!
//! The keys are the licence server's key files in its data folder on this computer
//! ([`conf::Places::data`]), scanned and judged with `licence_protocol::keystore` and `pool` — the same
//! code the server runs: signature, the pin, the signed `ComputerID` of this computer's identity, dates,
//! and the key kinds (additional only beside a counting main key, demo only alone). The identity is the
//! one that server uses (`[Common] MachineIdFile` of its `licenceserver.conf`, else the OS's machine
//! id) *without* the server's host secret, which this process cannot read and does not need: it opens
//! no key's secrets, it only reads signed fields.
//!
//! The clock rule is the server's (`licence_protocol::clock`) with what this process can keep: a
//! high-water mark in the user's add-in folder ([`HIGH_WATER_FILE`]) and the keys' `ActivationDate`s.
//! When the clock reads more than a day before the later of them, time-limited keys do not count.
//!
//! What the fallback gives is the one licence file mode gives a computer, which every process on the
//! computer shares. So nothing is counted across processes: any series with a counting key of at
//! least one licence grants it to every file-mode client on this computer, and `LicencesUsed` reads 1.
//!
//! [`conf::Places::data`]: crate::conf::Places::data
//! [`conf::Resolved::local_fallback`]: crate::conf::Resolved::local_fallback

use crate::conf::Places;
use licence_protocol::identity::MachineIdentity;
use licence_protocol::ini::Ini;
use licence_protocol::key::SeriesId;
use licence_protocol::keystore::{self, InstalledKey};
use licence_protocol::pool;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{KeyInfoResponse, KeyParameters, SessionFacts};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file in the user's add-in folder (`conf::Places::user`) holding the latest time the fallback saw.
pub const HIGH_WATER_FILE: &str = "localfallback.clock";

/// What `ServerInUse` shows while the licence comes from a local key.
pub const SERVER_IN_USE: &str = "local";

/// Why the fallback does not apply to this process and session; `None` when it does.
pub fn refusal(is_server: bool, facts: &SessionFacts) -> Option<String> {
    if is_server {
        Some("a server process (IsServer) never falls back: its sessions must be counted by a licence server".into())
    } else if !is_file_mode(&facts.info_base_connection_string) {
        Some("the infobase is not in file mode (its connection string is not File=…): its sessions must be counted by a licence server".into())
    } else if facts.terminal_client.is_some() {
        Some("a terminal session takes a licence of its own, which only a licence server can count".into())
    } else {
        None
    }
}

/// True for a file infobase's connection string (`File="/srv/base";`): its first parameter is `File`.
pub fn is_file_mode(connection_string: &str) -> bool {
    let first = connection_string.split(';').map(str::trim).find(|p| !p.is_empty());
    first.and_then(|p| p.split_once('=')).is_some_and(|(name, value)| {
        name.trim().eq_ignore_ascii_case("File") && !value.trim().trim_matches('"').trim().is_empty()
    })
}

/// Where this computer's keys are and which identity they must be bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalKeys {
    pub dir: PathBuf,
    /// The licence server's pinned identity file, if its configuration names one.
    pub machine_id_file: Option<PathBuf>,
    /// The high-water mark of the clock ([`HIGH_WATER_FILE`]); `None` when the user's folder is unknown.
    pub high_water_file: Option<PathBuf>,
}

impl LocalKeys {
    /// The licence server's data folder among `places`, and the identity its `licenceserver.conf` pins.
    pub fn at(places: &Places) -> Self {
        let text = std::fs::read_to_string(places.server_config()).ok();
        Self {
            dir: places.data.clone(),
            machine_id_file: text.as_deref().and_then(pinned_identity),
            high_water_file: places.user.as_ref().map(|u| u.join(HIGH_WATER_FILE)),
        }
    }

    /// The key information of `series` when a key installed here and signed by `pin` grants the licence
    /// at `now`, or why none does. Raises the high-water mark to `now`.
    pub fn licence(&self, series: SeriesId, pin: &[u8; 32], now: UtcTime) -> Result<KeyInfoResponse, String> {
        // Without the host secret: the scan checks signatures and the signed ComputerID only.
        let identity = MachineIdentity::load(self.machine_id_file.as_deref())
            .map_err(|e| format!("this computer's identity cannot be told: {e}"))?;
        let (mut keys, _) = keystore::scan(&self.dir, Some(&identity));
        let high_water = self.high_water();
        if let Some(why) = keystore::hold_back_when_clock_is_behind(&mut keys, now, high_water) {
            log::warn!("local fallback: {why}");
        }
        if high_water.is_none_or(|h| now > h) {
            self.raise_high_water(now);
        }
        grant(series, pin, &keys, &self.dir, now)
    }

    /// The latest time the fallback saw, from [`HIGH_WATER_FILE`].
    pub fn high_water(&self) -> Option<UtcTime> {
        let text = std::fs::read_to_string(self.high_water_file.as_ref()?).ok()?;
        UtcTime::parse(text.trim()).ok()
    }

    fn raise_high_water(&self, now: UtcTime) {
        let Some(path) = &self.high_water_file else { return };
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(path, format!("{now}\n")));
        if let Err(e) = written {
            log::warn!("local fallback: the clock's high-water mark {} cannot be written: {e}", path.display());
        }
    }
}

/// `[Common] MachineIdFile` of a `licenceserver.conf` text.
fn pinned_identity(text: &str) -> Option<PathBuf> {
    let ini = Ini::parse(text);
    let value = ini.get("Common", "MachineIdFile")?.value.trim();
    (!value.is_empty()).then(|| PathBuf::from(value))
}

/// Applies the server's key rules to the keys of `series` among `keys` (scanned from `dir`), counting
/// only keys signed by `pin`: the key information when they give at least one licence, else every key's
/// reason in one line.
pub fn grant(
    series: SeriesId,
    pin: &[u8; 32],
    keys: &BTreeMap<u64, InstalledKey>,
    dir: &Path,
    now: UtcTime,
) -> Result<KeyInfoResponse, String> {
    let of_series: Vec<&InstalledKey> = keys.values().filter(|k| k.series == series).collect();
    if of_series.is_empty() {
        return Err(format!("no key of series {series} is installed in {}", dir.display()));
    }
    let pool_keys: Vec<pool::PoolKey> = of_series.iter().filter_map(|k| k.pool_key(now)).collect();
    let standing = pool::evaluate_pinned(&pool_keys, &BTreeMap::from([(series, *pin)]));
    let capacity = standing.series(series).map_or(0, |s| s.capacity);
    if capacity == 0 {
        let reasons: Vec<String> = of_series
            .iter()
            .map(|k| {
                let why = k.open_error.clone().or_else(|| standing.key(k.key_no).and_then(|s| s.reason.clone()));
                let name = format!("{series}.{}.licence", k.key_no);
                format!("{name}: {}", why.unwrap_or_else(|| "its LicenceCount is 0".into()))
            })
            .collect();
        return Err(reasons.join("; "));
    }
    let parameters: Vec<KeyParameters> =
        of_series.iter().filter_map(|k| k.parameters(standing.key(k.key_no).is_some_and(|s| s.counts), now)).collect();
    let flags = parameters.iter().filter(|k| k.counts).fold(0, |all, k| all | k.flags);
    Ok(KeyInfoResponse { key_id: series, licence_count: capacity, licences_used: 1, flags, keys: parameters })
}

#[cfg(test)]
mod tests {
    use super::*;
    use licence_protocol::key::{KeyFields, KeyKind};
    use licence_protocol::keyfile;
    use licence_protocol::series::SeriesKeys;

    fn facts(connection: &str) -> SessionFacts {
        SessionFacts {
            session_number: "1".into(),
            info_base_connection_string: connection.into(),
            app_name: "1CV8C".into(),
            computer_name: "HOST1".into(),
            user_name: None,
            session_started: UtcTime::parse("2026-11-24T09:00:00Z").unwrap(),
            access_code: None,
            terminal_client: None,
        }
    }

    #[test]
    fn only_file_infobases_are_file_mode() {
        assert!(is_file_mode("File=\"/home/user/base\";"));
        assert!(is_file_mode(" file = \"C:\\Bases\\Trade\" ; Usr=admin"));
        assert!(!is_file_mode("Srvr=\"srv\";Ref=\"trade\";"));
        assert!(!is_file_mode("ws=\"http://web/trade\";"));
        assert!(!is_file_mode("File=\"\";"));
        assert!(!is_file_mode(""));
        assert!(!is_file_mode("Srvr=\"srv\";File=\"/x\";"));
    }

    #[test]
    fn servers_client_server_and_terminal_sessions_never_fall_back() {
        let file = facts("File=\"/srv/base\";");
        assert_eq!(refusal(false, &file), None);
        assert!(refusal(true, &file).unwrap().contains("server process (IsServer) never falls back"));
        assert!(refusal(false, &facts("Srvr=\"srv\";Ref=\"trade\";")).unwrap().contains("not in file mode"));
        let terminal = SessionFacts { terminal_client: Some("TERM7".into()), ..file };
        assert!(refusal(false, &terminal).unwrap().contains("terminal session"));
    }

    #[test]
    fn the_servers_configuration_names_the_identity() {
        assert_eq!(pinned_identity("[Common]\nMachineIdFile=/srv/id\n"), Some(PathBuf::from("/srv/id")));
        assert_eq!(pinned_identity("[Common]\nMachineIdFile=\n"), None);
        assert_eq!(pinned_identity("[Console]\nMachineIdFile=/x\n"), None);
        let places = Places::under_root(Path::new("/nowhere/at/all"));
        assert_eq!(
            LocalKeys::at(&places),
            LocalKeys {
                dir: PathBuf::from("/nowhere/at/all/data"),
                machine_id_file: None,
                high_water_file: Some(PathBuf::from("/nowhere/at/all/user").join(HIGH_WATER_FILE)),
            }
        );
    }

    struct Folder(PathBuf);

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn fields(key_no: u64, kind: KeyKind, machine: &MachineIdentity, series: &SeriesKeys) -> KeyFields {
        KeyFields {
            key_no,
            key_id: series.series,
            reg_no: format!("R-{key_no}"),
            key_type: kind,
            licence_count: 5,
            product_version: "1.0".into(),
            blank_key_no: None,
            activation_code: None,
            activation_date: None,
            start_date: UtcTime::parse("2026-01-01T00:00:00Z").unwrap(),
            period: 365,
            expire_date: None,
            flags: 1 << key_no,
            itn: None,
            iec: None,
            product_name: "Склад".into(),
            article: "A".into(),
            article_name: "Основная поставка".into(),
            support_date: None,
            computer_id: machine.computer_id(),
        }
    }

    /// A data folder with the given keys, all issued for `machine`, and the keys as the scan sees them here.
    fn scanned(tag: &str, keys: &[KeyFields], series: &SeriesKeys) -> (Folder, BTreeMap<u64, InstalledKey>) {
        let dir = std::env::temp_dir().join(format!("licence-fallback-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let here = MachineIdentity::from_material(b"this computer");
        for f in keys {
            std::fs::write(dir.join(f.file_name()), keyfile::issue(f, series, &here.binding())).unwrap();
        }
        // As the add-in scans: the identity without the server's host secret.
        let (found, _) = keystore::scan(&dir, Some(&here));
        (Folder(dir), found)
    }

    #[test]
    fn a_main_key_grants_with_its_parameters_and_additional_keys_add() {
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let here = MachineIdentity::from_material(b"this computer");
        let mut additional = fields(2, KeyKind::Additional, &here, &series);
        additional.period = 1000;
        let (dir, found) = scanned("grant", &[fields(1, KeyKind::Main, &here, &series), additional], &series);
        let now = UtcTime::parse("2026-03-01T00:00:00Z").unwrap();
        let info = grant(series.series, &series.public_key(), &found, &dir.0, now).unwrap();
        assert_eq!((info.licence_count, info.licences_used, info.flags), (10, 1, 0b110));
        assert_eq!(info.keys.len(), 2);
        assert!(info.keys.iter().all(|k| k.counts && k.workable));
        assert_eq!(info.keys[0].days_left, Some(306));

        let later = UtcTime::parse("2027-06-01T00:00:00Z").unwrap();
        let why = grant(series.series, &series.public_key(), &found, &dir.0, later).unwrap_err();
        assert!(why.starts_with("672B.1.licence: key expired on 2027-01-01"), "{why}");
        assert!(why.contains("672B.2.licence: additional key needs a main key of series 672B"), "{why}");
        let other = grant("1A2B".parse().unwrap(), &series.public_key(), &found, &dir.0, now).unwrap_err();
        assert!(other.starts_with("no key of series 1A2B is installed in "), "{other}");
    }

    #[test]
    fn foreign_and_lone_additional_keys_grant_nothing() {
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let elsewhere = MachineIdentity::from_material(b"another computer");
        let here = MachineIdentity::from_material(b"this computer");
        let mut foreign = fields(1, KeyKind::Main, &elsewhere, &series);
        foreign.computer_id = elsewhere.computer_id();
        let (dir, found) = scanned("refuse", &[foreign, fields(2, KeyKind::Additional, &here, &series)], &series);
        let now = UtcTime::parse("2026-03-01T00:00:00Z").unwrap();
        let why = grant(series.series, &series.public_key(), &found, &dir.0, now).unwrap_err();
        assert!(why.starts_with("672B.1.licence: key is bound to another computer"), "{why}");
        assert!(why.contains("672B.2.licence: additional key needs a main key"), "{why}");
    }

    #[test]
    fn a_key_signed_by_another_series_key_than_the_pin_gives_nothing() {
        let genuine = SeriesKeys::generate("672B".parse().unwrap());
        let forged = SeriesKeys::generate("672B".parse().unwrap());
        let here = MachineIdentity::from_material(b"this computer");
        let mut many = fields(1, KeyKind::Main, &here, &forged);
        many.licence_count = 999;
        let (dir, found) = scanned("forged", &[many], &forged);
        let now = UtcTime::parse("2026-03-01T00:00:00Z").unwrap();
        let why = grant(genuine.series, &genuine.public_key(), &found, &dir.0, now).unwrap_err();
        assert!(why.starts_with("672B.1.licence: signed by another key than"), "{why}");
        // The same key counts for a configuration that pins its own signer: only the pin decides.
        assert_eq!(grant(forged.series, &forged.public_key(), &found, &dir.0, now).unwrap().licence_count, 999);
    }

    #[test]
    fn a_clock_set_back_stops_time_limited_keys_and_the_mark_only_rises() {
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let root = std::env::temp_dir().join(format!("licence-fallback-clock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let places = Places::under_root(&root);
        std::fs::create_dir_all(&places.data).unwrap();
        std::fs::create_dir_all(&places.common).unwrap();
        let _cleanup = Folder(root.clone());
        let id_file = root.join("machine-id");
        std::fs::write(&id_file, "this computer").unwrap();
        std::fs::write(places.server_config(), format!("[Common]\nMachineIdFile={}\n", id_file.display())).unwrap();
        let here = MachineIdentity::from_material(b"this computer");
        let key = fields(1, KeyKind::Main, &here, &series);
        std::fs::write(places.data.join(key.file_name()), keyfile::issue(&key, &series, &here.binding())).unwrap();
        let keys = LocalKeys::at(&places);
        let pin = series.public_key();
        let june = UtcTime::parse("2026-06-01T00:00:00Z").unwrap();
        assert_eq!(keys.licence(series.series, &pin, june).unwrap().licence_count, 5);
        assert_eq!(keys.high_water(), Some(june));
        let march = UtcTime::parse("2026-03-01T00:00:00Z").unwrap();
        let why = keys.licence(series.series, &pin, march).unwrap_err();
        assert!(why.contains("clock"), "{why}");
        assert_eq!(keys.high_water(), Some(june), "the mark never goes down");
        let half_day_back = UtcTime::parse("2026-05-31T12:00:00Z").unwrap();
        assert!(keys.licence(series.series, &pin, half_day_back).is_ok(), "a day's tolerance");
    }
}
