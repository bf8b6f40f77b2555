//! The running server's state: the ledger and the installed keys under one lock, the lease store
//! behind them, and the background work (lease expiry, picking up key files that appear, change or
//! expire). Every change to leases is committed to the store before the request that made it is
//! answered, in the order the ledger made them. Handlers reach the ledger and the keys through two
//! doors only: [`App::read`] / [`App::refresh`] (under the lock, nothing to commit) and
//! [`App::mutate`] (under the lock, answered once committed); the lock itself stays here.
//!
//! The settings in force are one value ([`crate::config::Live`]) that [`App::save_settings`] replaces
//! whole after writing `licenceserver.conf`; the guard and the ledger's lease lengths follow it. Time
//! comes from an injected [`Clock`] (a manual one in tests).
//!
//! The server's identity includes its host secret (`{root}/3.0/host.secret`, created at first start,
//! readable by its own account only): without it no key bound to this computer unwraps. The per-key
//! signing keys of the workable keys are unwrapped once per change of the folder and kept in memory
//! (zeroized when dropped) for the proofs `connect` gives.
//!
//! A series that live connections pin counts only keys signed by that pin (`pool::evaluate_pinned`).
//! The clock's high-water mark is kept in the lease store under a MAC keyed from the binding, and
//! time-limited keys stop while the clock reads more than a day before it (`clock`).

use crate::access::Guard;
use crate::activation::{ActivationError, Target};
use crate::clock::{Clock, SystemClock};
use crate::config::{Live, ServerConfig, Settings, Startup};
use crate::keystore::{self, Carrier, Fingerprint, InstalledKey};
use crate::layout::Layout;
use crate::ledger::{Change, Connection, Ledger, LedgerError, Session};
use crate::pool::{self, PoolKey, PoolStanding};
use crate::store::{LeaseStore, Record, StoreError};
use crate::sysinfo::ServerInfo;
use hmac::{Hmac, Mac};
use licence_protocol::channel::Channel;
use licence_protocol::identity::{HostSecret, IdentityError, MachineIdentity, HOST_SECRET_FILE};
use licence_protocol::key::SeriesId;
use licence_protocol::keyfile::KeySecrets;
use licence_protocol::time::UtcTime;
use licence_protocol::usbkey::PluggedKey;
use licence_protocol::wire::{ConnectRequest, ErrorCode, WireError};
use sha2::Sha256;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use zeroize::Zeroizing;

/// A workable key's secrets, unwrapped once when the reload found it, with its file's exact text.
pub struct HeldKey {
    pub key_file: String,
    pub secrets: KeySecrets,
}

/// What `connect` hands back when it admits an add-in: the lease's end and the keys that prove it.
pub struct Admitted {
    pub expire_time: UtcTime,
    pub provers: Vec<Arc<HeldKey>>,
}

/// The label of the key the clock high-water mark is authenticated with.
const CLOCK_KEY_LABEL: &[u8] = b"licence server clock high-water key v1\0";

/// This computer's identity with the host secret (`{root}/3.0/host.secret`, created if missing):
/// the one the server unwraps keys and makes activation requests with.
pub fn load_identity(config: &ServerConfig, layout: &Layout) -> Result<MachineIdentity, IdentityError> {
    let identity = MachineIdentity::load(config.startup.machine_id_file.as_deref())?;
    let host = HostSecret::load_or_create(&layout.config_dir().join(HOST_SECRET_FILE))?;
    Ok(identity.with_host_secret(host))
}

pub struct App {
    /// What only the start reads (port, address, logs, machine id).
    pub startup: Startup,
    /// The settings in force: replaced whole by [`App::save_settings`], read by everyone.
    live: Arc<Live>,
    /// Who may use the console and the API (passwords, tokens, attempts, addresses).
    pub guard: Arc<Guard>,
    /// Where the server reads the time.
    clock: Arc<dyn Clock>,
    /// Counters, licence use over time and denials (`/api/metrics`, the console).
    pub observe: crate::observe::Observe,
    pub layout: Layout,
    pub info: ServerInfo,
    identity: Option<MachineIdentity>,
    /// Why there is no identity, when there is none (said in every key's `OpenError`).
    identity_problem: Option<String>,
    /// The MAC key of the clock high-water mark; `None` without an identity (nothing is kept then).
    clock_key: Option<Zeroizing<[u8; 32]>>,
    inner: Mutex<Inner>,
    store: LeaseStore,
    /// The agreed channel of each connection that offered one (in memory only: a restart forgets
    /// them and the add-ins connect again).
    channels: Mutex<HashMap<String, Channel>>,
    /// One reload at a time, so a slow scan that started before a key was installed cannot replace
    /// the result of the scan that followed the installation.
    reloading: Mutex<()>,
}

pub struct Inner {
    pub ledger: Ledger,
    /// The keys as listed: the scan, with time-limited keys held back while the clock is behind.
    pub keys: BTreeMap<u64, InstalledKey>,
    /// The keys as the last scan found them.
    scanned: BTreeMap<u64, InstalledKey>,
    /// The unwrapped secrets of the keys the last scan found workable.
    held: BTreeMap<u64, Arc<HeldKey>>,
    /// The latest time this server has seen (kept in the lease store).
    high_water: Option<UtcTime>,
    /// The key each series' add-ins last pinned (kept in the lease store): while no live connection
    /// pins a series, its keys are judged against this one, so a key of another signer is listed as
    /// not counting from the first connection on, not only while an add-in is connected.
    remembered_pins: BTreeMap<SeriesId, [u8; 32]>,
    /// What was last said about the clock, so it is logged once per change.
    clock_behind: Option<String>,
    pub standing: PoolStanding,
    fingerprint: Fingerprint,
    /// The USB keys and blanks found at the last reload.
    usb: Vec<PluggedKey>,
    /// What was said about USB at the last reload, so a lasting problem is logged once.
    usb_problems: Vec<String>,
    /// Records for the store that are not the ledger's (the clock's high-water mark).
    pending: Vec<Record>,
}

impl Inner {
    fn ledger_note(&mut self, record: Record) {
        self.pending.push(record);
    }
}

/// A failed operation: the ledger's refusal, or the server's failure to carry it out.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Refused(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no random identifier: {0}")]
    Random(getrandom::Error),
}

/// Why the settings could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(transparent)]
    Write(#[from] crate::config::UpdateError),
}

impl App {
    /// Opens the store, loads the keys and restores the leases that were live at the last stop.
    pub fn start(config: ServerConfig, layout: Layout) -> anyhow::Result<Self> {
        Self::start_with_clock(config, layout, Arc::new(SystemClock))
    }

    /// [`App::start`] with the time read from `clock` (tests move a manual clock).
    pub fn start_with_clock(config: ServerConfig, layout: Layout, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let (identity, identity_problem) = match load_identity(&config, &layout) {
            Ok(id) => (Some(id), None),
            Err(e) => {
                log::error!("{e}; no key bound to this computer can be workable until this is fixed");
                (None, Some(e.to_string()))
            }
        };
        let clock_key = identity.as_ref().map(|i| {
            let binding = Zeroizing::new(i.binding().to_hex());
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(binding.as_bytes()).expect("HMAC takes any key");
            mac.update(CLOCK_KEY_LABEL);
            Zeroizing::new(<[u8; 32]>::from(mac.finalize().into_bytes()))
        });
        let computer_id = identity.as_ref().map(|i| i.computer_id()).unwrap_or_else(|| {
            MachineIdentity::load(config.startup.machine_id_file.as_deref())
                .map(|i| i.computer_id())
                .unwrap_or_default()
        });
        let started = clock.now();
        let info = ServerInfo::gather(started, computer_id);
        let (store, saved) = LeaseStore::open(&layout.lease_store())?;
        let ServerConfig { startup, settings } = config;
        let ledger = Ledger::new(settings.leases());
        let live = Arc::new(Live::new(settings));
        let token_key = crate::access::token::load_or_create_key(&layout.config_dir().join("token.key"))
            .map_err(|e| anyhow::anyhow!("cannot keep the API token key in {}: {e}", layout.config_dir().display()))?;
        let guard = Arc::new(Guard::new(
            live.clone(),
            clock.clone(),
            token_key,
            format!("licenceserver:{}", info.computer_id),
            &info.computer_name,
        ));
        let high_water = saved.high_water.as_ref().and_then(|(millis, mac)| {
            let key = clock_key.as_ref()?;
            if high_water_mac(key, *millis) != *mac {
                log::warn!(
                    "the clock's high-water mark in {} does not match its MAC (it was edited); it is ignored",
                    layout.lease_store().display()
                );
                return None;
            }
            UtcTime::from_unix_millis(*millis)
        });
        let app = App {
            guard,
            inner: Mutex::new(Inner {
                ledger,
                keys: BTreeMap::new(),
                scanned: BTreeMap::new(),
                held: BTreeMap::new(),
                high_water,
                remembered_pins: remembered_pins(&saved.pins),
                clock_behind: None,
                standing: PoolStanding::default(),
                fingerprint: Vec::new(),
                usb: Vec::new(),
                usb_problems: Vec::new(),
                pending: Vec::new(),
            }),
            startup,
            live,
            clock,
            observe: crate::observe::Observe::default(),
            layout,
            info,
            identity,
            identity_problem,
            clock_key,
            store,
            reloading: Mutex::new(()),
            channels: Mutex::new(HashMap::new()),
        };
        app.reload_keys(started);
        let connections = decode_all::<Connection>(&saved.connections, "connection");
        let sessions = decode_all::<Session>(&saved.sessions, "session");
        let (c, s) = (connections.len(), sessions.len());
        let done = {
            let mut inner = app.lock();
            inner.ledger.restore(connections, sessions, started);
            app.submit(&mut inner)
        };
        drop(done);
        if c + s > 0 {
            log::info!("restored {c} connection(s) and {s} session(s) with fresh leases");
        }
        Ok(app)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock is a bug (logged by the panic hook); the state it left is
        // still the best there is, so the lock is taken over rather than failing every later request.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn submit(&self, inner: &mut Inner) -> tokio::sync::oneshot::Receiver<Result<(), StoreError>> {
        let mut records: Vec<Record> = inner.ledger.take_changes().into_iter().filter_map(to_record).collect();
        records.append(&mut inner.pending);
        self.store.submit(records)
    }

    /// Runs one ledger operation and answers once its changes are committed.
    pub async fn mutate<T>(
        &self,
        op: impl FnOnce(&mut Ledger, UtcTime) -> Result<T, LedgerError>,
    ) -> Result<T, AppError> {
        let (result, done) = {
            let mut inner = self.lock();
            let result = op(&mut inner.ledger, self.clock.now());
            (result, self.submit(&mut inner))
        };
        committed(done).await?;
        result.map_err(AppError::Refused)
    }

    /// Runs `read` on the ledger and the keys as they are now, under their lock, without changing them.
    pub fn read<T>(&self, read: impl FnOnce(&Inner, UtcTime) -> T) -> T {
        let inner = self.lock();
        read(&inner, self.clock.now())
    }

    /// Runs `refresh` on the ledger and the keys under their lock, for what renews leases without
    /// changing what the store keeps (heartbeats and checks: lease refreshes are not written).
    pub fn refresh<T>(&self, refresh: impl FnOnce(&mut Inner, UtcTime) -> T) -> T {
        let mut inner = self.lock();
        refresh(&mut inner, self.clock.now())
    }

    /// Now, by the server's clock.
    pub fn now(&self) -> UtcTime {
        self.clock.now()
    }

    /// Re-reads the data folder and the USB devices if anything changed, and re-applies the key
    /// rules (expiry moves with the clock, so this also runs when nothing changed).
    pub fn reload_keys(&self, now: UtcTime) {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let dir = self.layout.data_dir();
        let fingerprint = keystore::fingerprint(&dir);
        let mut usb = crate::usb::scan(self.setting(|s| s.usb_enabled));
        usb.keys.sort_by_key(|k| k.serial);
        // The folder and the devices are read, and the files verified, without the lock: requests go on meanwhile.
        let changed = {
            let inner = self.lock();
            inner.fingerprint != fingerprint || !same_devices(&inner.usb, &usb.keys)
        };
        let rescanned = changed.then(|| {
            let carriers: Vec<Carrier<'_>> = usb
                .keys
                .iter()
                .map(|k| Carrier {
                    serial: k.serial,
                    computer_id: &k.computer_id,
                    binding: k.binding(),
                    key_file: k.key_file.as_deref(),
                })
                .collect();
            let (mut keys, problems) = keystore::scan_with_usb(&dir, self.identity.as_ref(), &carriers);
            if let Some(problem) = &self.identity_problem {
                for key in keys.values_mut() {
                    if key.open_error.as_deref().is_some_and(|e| e.starts_with("this computer's identity is unknown")) {
                        key.open_error = Some(format!("this computer's identity cannot be used: {problem}"));
                    }
                }
            }
            let held = self.unwrap_workable(&mut keys, &usb.keys);
            (keys, problems, held)
        });
        let mut inner = self.lock();
        if usb.problems != inner.usb_problems {
            for p in &usb.problems {
                log::warn!("{p}");
            }
            inner.usb_problems = usb.problems;
        }
        if let Some((keys, problems, held)) = rescanned {
            for p in &problems {
                log::warn!("key file {p}");
            }
            log::info!("{} key(s) in {} and {} USB device(s)", keys.len(), dir.display(), usb.keys.len());
            inner.scanned = keys;
            inner.held = held;
            inner.fingerprint = fingerprint;
            inner.usb = usb.keys;
        }
        self.watch_clock(&mut inner, now);
        self.apply_pool(&mut inner, now);
        drop(self.submit(&mut inner));
    }

    /// Unwraps the secrets of every workable key (its own file, or the copy in a hardware key); a key
    /// whose secrets do not open after all is made unworkable with the reason.
    fn unwrap_workable(
        &self,
        keys: &mut BTreeMap<u64, InstalledKey>,
        devices: &[PluggedKey],
    ) -> BTreeMap<u64, Arc<HeldKey>> {
        let mut held = BTreeMap::new();
        for key in keys.values_mut().filter(|k| k.workable) {
            match self.unwrap_one(key, devices) {
                Ok(secrets) => {
                    held.insert(key.key_no, Arc::new(secrets));
                }
                Err(reason) => {
                    key.workable = false;
                    key.open_error = Some(reason);
                }
            }
        }
        held
    }

    fn unwrap_one(&self, key: &InstalledKey, devices: &[PluggedKey]) -> Result<HeldKey, String> {
        let device = |serial: u64| {
            devices.iter().find(|d| d.serial == serial).ok_or_else(|| format!("USB device {serial} is gone"))
        };
        let bytes = match key.storage {
            keystore::Storage::File => std::fs::read(&key.path).map_err(|e| format!("cannot read: {e}"))?,
            keystore::Storage::Usb(serial) => {
                device(serial)?.key_file.clone().ok_or_else(|| format!("USB key {serial} holds no key file"))?
            }
        };
        let verified = licence_protocol::keyfile::verify(&bytes).map_err(|e| e.to_string())?;
        let binding = match (key.storage, verified.fields.blank_key_no) {
            (keystore::Storage::Usb(serial), _) | (keystore::Storage::File, Some(serial)) => {
                device(serial)?.binding().clone()
            }
            (keystore::Storage::File, None) => self
                .identity
                .as_ref()
                .filter(|i| i.has_host_secret())
                .ok_or("this computer's identity is unknown")?
                .binding(),
        };
        let secrets = verified.unwrap_secrets(&binding).map_err(|e| e.to_string())?;
        let key_file = String::from_utf8(bytes).map_err(|_| "the key file is not UTF-8 text".to_owned())?;
        Ok(HeldKey { key_file, secrets })
    }

    /// Advances the clock's high-water mark and holds time-limited keys back while the clock reads
    /// more than a day before it or a key's activation (logged once per change).
    fn watch_clock(&self, inner: &mut Inner, now: UtcTime) {
        let seen = inner.high_water;
        let mut keys = inner.scanned.clone();
        let behind = keystore::hold_back_when_clock_is_behind(&mut keys, now, seen);
        if behind != inner.clock_behind {
            match &behind {
                Some(why) => log::warn!("{why}"),
                None if inner.clock_behind.is_some() => {
                    log::info!("the clock is right again: time-limited keys count again")
                }
                None => {}
            }
            inner.clock_behind = behind;
        }
        inner.keys = keys;
        if seen.is_none_or(|seen| now > seen) {
            inner.high_water = Some(now);
            if let Some(key) = &self.clock_key {
                let millis = now.unix_millis();
                inner.ledger_note(Record::HighWater { millis, mac: high_water_mac(key, millis) });
            }
        }
    }

    /// Re-applies the key rules with the pins of the live connections. The caller submits the changes.
    fn apply_pool(&self, inner: &mut Inner, now: UtcTime) {
        let mut pins = inner.remembered_pins.clone();
        pins.extend(inner.ledger.pins());
        let standing = pool::evaluate_pinned(&pool_keys(&inner.keys, now), &pins);
        if standing != inner.standing {
            inner.ledger.set_pool(standing.capacities(), standing.why_none(), now);
            inner.standing = standing;
        }
    }

    /// Admits an add-in's connection `id` pinning `pin`: refused when `MaxConnections` are live, when the
    /// series' live connections pin another key, or when no workable key of the series signed by `pin`
    /// is held here. The
    /// series' keys are judged again when this is its first pin.
    pub async fn admit(
        &self,
        id: String,
        facts: ConnectRequest,
        pin: [u8; 32],
        peer_ip: String,
    ) -> Result<Result<Admitted, WireError>, AppError> {
        let series = facts.key_id;
        let limit = self.setting(|s| s.max_connections) as usize;
        let (admitted, done) = {
            let mut inner = self.lock();
            let now = self.clock.now();
            // Under the same lock as the connection is recorded, so racing connects cannot exceed it.
            let full = inner.ledger.connection_count() >= limit;
            let admitted = match inner.ledger.pin(series) {
                _ if full => Err(WireError::new(
                    ErrorCode::ServerBusy,
                    format!("the server already holds {limit} connections ([Common] MaxConnections); try again later"),
                )),
                Some(other) if other != pin => Err(WireError::new(
                    ErrorCode::NoKey,
                    format!(
                        "the connections of series {series} on this server pin another series key ({}…) than this \
                         configuration ({}…): no key of series {series} counts for it",
                        hex::encode(&other[..4]),
                        hex::encode(&pin[..4])
                    ),
                )),
                _ => {
                    let provers: Vec<Arc<HeldKey>> = inner
                        .keys
                        .values()
                        .filter(|k| k.series == series && k.workable && k.signer == Some(pin))
                        .filter_map(|k| inner.held.get(&k.key_no).cloned())
                        .collect();
                    if provers.is_empty() {
                        Err(WireError::new(
                            ErrorCode::NoKey,
                            format!(
                                "no key of series {series} signed by the series key this configuration pins ({}…) \
                                 is installed on this server",
                                hex::encode(&pin[..4])
                            ),
                        ))
                    } else {
                        let first_pin = inner.ledger.pin(series).is_none();
                        let expire_time = inner.ledger.connect(id, facts, peer_ip, now).expire_time;
                        if inner.remembered_pins.get(&series) != Some(&pin) {
                            inner.remembered_pins.insert(series, pin);
                            inner.ledger_note(Record::Pin { series: series.to_string(), pin: hex::encode(pin) });
                        }
                        if first_pin {
                            self.apply_pool(&mut inner, now);
                        }
                        Ok(Admitted { expire_time, provers })
                    }
                }
            };
            (admitted, self.submit(&mut inner))
        };
        committed(done).await?;
        Ok(admitted)
    }

    /// The held key to open objects of `series` with for a connection pinning `pin`: `preferred` (the
    /// key the session's licence is counted against) if it counts, else any key of the series that
    /// counts and is signed by the pin.
    pub fn held_key(&self, series: SeriesId, pin: [u8; 32], preferred: u64) -> Option<Arc<HeldKey>> {
        let inner = self.lock();
        let counting = |k: &&InstalledKey| {
            k.series == series
                && k.workable
                && k.signer == Some(pin)
                && inner.standing.key(k.key_no).is_some_and(|s| s.counts)
        };
        let mut keys: Vec<&InstalledKey> = inner.keys.values().filter(counting).collect();
        keys.sort_by_key(|k| k.key_no != preferred);
        keys.into_iter().find_map(|k| inner.held.get(&k.key_no).cloned())
    }

    /// Where a key is to be bound: this computer, or the USB blank `blank` plugged into it now.
    pub fn activation_target(&self, blank: Option<u64>) -> Result<Target, ActivationError> {
        crate::activation::resolve_target(self.identity.as_ref(), self.setting(|s| s.usb_enabled), blank)
    }

    /// The connections' channels.
    pub fn channels(&self) -> MutexGuard<'_, HashMap<String, Channel>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets the channels of connections that ended.
    fn prune_channels(&self) {
        let live: std::collections::HashSet<String> = {
            let channels = self.channels();
            if channels.is_empty() {
                return;
            }
            let inner = self.lock();
            channels.keys().filter(|id| inner.ledger.connection(id).is_some()).cloned().collect()
        };
        self.channels().retain(|id, _| live.contains(id));
    }

    /// Reads one setting in force now.
    pub fn setting<T>(&self, read: impl FnOnce(&Settings) -> T) -> T {
        read(&self.live.get())
    }

    /// The settings in force now, as one snapshot.
    pub fn settings(&self) -> Arc<Settings> {
        self.live.get()
    }

    /// The configuration the server runs with: what it started with and the settings in force.
    pub fn running_config(&self) -> ServerConfig {
        ServerConfig { startup: self.startup.clone(), settings: (*self.live.get()).clone() }
    }

    /// Writes `changes` (`section`, `key`, `value`) into `licenceserver.conf` in place, reads the file
    /// back and puts its settings in force, whole: leases, limits, the API switch, the activation
    /// centre, USB, reserved servers, console and API access and passwords. What only the start reads
    /// (the port, the address, the machine id file, the logs) applies at the next start. The one
    /// writer of the live settings.
    pub fn save_settings(&self, changes: &[(&str, &str, &str)]) -> Result<(), SaveError> {
        let path = self.layout.config_file();
        crate::config::update(&path, changes)?;
        let (saved, problems) = crate::config::load(&path);
        for p in &problems {
            log::error!("config {p}");
        }
        let leases = saved.settings.leases();
        self.live.replace(saved.settings);
        self.lock().ledger.set_config(leases);
        log::info!("settings changed by the administrator are in force");
        Ok(())
    }

    /// Ends leases whose time is up; called every second.
    pub fn expire(&self) {
        let mut inner = self.lock();
        let (connections, sessions) = inner.ledger.expire(self.clock.now());
        drop(self.submit(&mut inner));
        drop(inner);
        self.observe.expired(connections, sessions);
    }

    /// Records each series' licence use for the console's chart; called once a minute.
    pub fn sample_usage(&self) {
        let uses: Vec<(SeriesId, u32, u32)> = {
            let inner = self.lock();
            inner.standing.all_series().map(|s| (s.series, inner.ledger.used_in_series(s.series), s.capacity)).collect()
        };
        self.observe.sample(self.clock.now(), uses);
    }

    /// The background work, until the runtime stops.
    pub async fn housekeeping(self: std::sync::Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            guarded("lease expiry", || self.expire());
            // At start (the first tick is at once) and then once a minute.
            if n.is_multiple_of(60) {
                guarded("usage sampling", || self.sample_usage());
            }
            n += 1;
            if n.is_multiple_of(5) {
                guarded("channel pruning", || self.prune_channels());
                let app = self.clone();
                let _ = tokio::task::spawn_blocking(move || guarded("key reload", || app.reload_keys(app.now()))).await;
            }
        }
    }
}

/// Runs one round of background work so that a bug in it is logged and the next round still runs,
/// instead of ending lease expiry for the rest of the server's life.
fn guarded(what: &str, work: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).is_err() {
        log::error!("{what} failed (a bug; see the message above); it runs again in a moment");
    }
}

/// The same devices with the same content (a hardware key can be re-programmed while plugged in).
fn same_devices(a: &[PluggedKey], b: &[PluggedKey]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.serial == y.serial && x.computer_id == y.computer_id && x.key_file == y.key_file)
}

pub fn pool_keys(keys: &BTreeMap<u64, InstalledKey>, now: UtcTime) -> Vec<PoolKey> {
    keys.values().filter_map(|k| k.pool_key(now)).collect()
}

/// The MAC the high-water mark `millis` is kept with.
/// The remembered pins as the lease store keeps them; unreadable rows are skipped.
fn remembered_pins(saved: &[(String, String)]) -> BTreeMap<SeriesId, [u8; 32]> {
    saved
        .iter()
        .filter_map(|(series, pin)| {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(pin, &mut bytes).ok()?;
            Some((series.parse().ok()?, bytes))
        })
        .collect()
}

fn high_water_mac(key: &[u8; 32], millis: i64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(&millis.to_be_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn to_record(change: Change) -> Option<Record> {
    Some(match change {
        Change::ConnectionSaved(c) => Record::Connection { id: c.id.clone(), json: encode(&c)? },
        Change::SessionSaved(s) => Record::Session { id: s.id.clone(), json: encode(&s)? },
        Change::ConnectionRemoved(id) => Record::RemoveConnection(id),
        Change::SessionRemoved(id) => Record::RemoveSession(id),
    })
}

fn encode<T: serde::Serialize>(lease: &T) -> Option<String> {
    serde_json::to_string(lease).map_err(|e| log::error!("cannot encode a lease: {e}")).ok()
}

fn decode_all<T: serde::de::DeserializeOwned>(rows: &[String], what: &str) -> Vec<T> {
    rows.iter()
        .filter_map(|row| {
            serde_json::from_str(row)
                .map_err(|e| log::error!("lease store: a saved {what} cannot be read ({e}); dropped"))
                .ok()
        })
        .collect()
}

/// A new connection or session identifier: 32 upper-case hex digits from the OS's random source
/// (identifiers are not secrets, but a guessable one would let a client release another's licence).
pub fn new_id() -> Result<String, AppError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(AppError::Random)?;
    Ok(hex::encode_upper(bytes))
}

/// Waits until the store has committed what was submitted.
async fn committed(done: tokio::sync::oneshot::Receiver<Result<(), StoreError>>) -> Result<(), StoreError> {
    done.await.unwrap_or(Err(StoreError::Stopped))
}

#[cfg(test)]
mod tests;
