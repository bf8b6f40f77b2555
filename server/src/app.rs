//! The running server's state: the ledger and the installed keys under one lock, the lease store
//! behind them, and the background work (lease expiry, picking up key files that appear, change or
//! expire). Every change to leases is committed to the store before the request that made it is
//! answered, in the order the ledger made them.

use crate::activation::{ActivationError, Target};
use crate::config::ServerConfig;
use crate::keystore::{self, Carrier, Fingerprint, InstalledKey};
use crate::layout::Layout;
use crate::ledger::{Change, Connection, Ledger, LedgerConfig, LedgerError, Session};
use crate::pool::{self, PoolKey, PoolStanding};
use crate::store::{LeaseStore, Record};
use crate::sysinfo::ServerInfo;
use licence_protocol::channel::Channel;
use licence_protocol::identity::MachineIdentity;
use licence_protocol::key::SeriesId;
use licence_protocol::series::SeriesSecret;
use licence_protocol::time::UtcTime;
use licence_protocol::usbkey::PluggedKey;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub struct App {
    /// The configuration read at start. Settings the console can change while the server runs are
    /// read through [`App::setting`] instead.
    pub config: ServerConfig,
    /// The configuration in force now: `config`, with the settings the administrator changed since.
    settings: std::sync::RwLock<ServerConfig>,
    /// Who may use the console and the API (passwords, tokens, attempts, addresses).
    pub guard: crate::http::auth::Guard,
    /// Counters, licence use over time and denials (`/api/metrics`, the console).
    pub observe: crate::observe::Observe,
    pub layout: Layout,
    pub info: ServerInfo,
    identity: Option<MachineIdentity>,
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
    pub keys: BTreeMap<u64, InstalledKey>,
    pub standing: PoolStanding,
    fingerprint: Fingerprint,
    /// The USB keys and blanks found at the last reload.
    usb: Vec<PluggedKey>,
    /// What was said about USB at the last reload, so a lasting problem is logged once.
    usb_problems: Vec<String>,
}

/// A failed operation: the ledger's refusal, or the store's failure to keep a change.
#[derive(Debug)]
pub enum AppError {
    Refused(LedgerError),
    Internal(String),
}

impl App {
    /// Opens the store, loads the keys and restores the leases that were live at the last stop.
    pub fn start(config: ServerConfig, layout: Layout) -> anyhow::Result<Self> {
        let identity = match MachineIdentity::load(config.machine_id_file.as_deref()) {
            Ok(id) => Some(id),
            Err(e) => {
                log::error!("{e}; no key can be workable until this is fixed");
                None
            }
        };
        let computer_id = identity.as_ref().map(|i| i.computer_id()).unwrap_or_default();
        let started = crate::clock::now();
        let info = ServerInfo::gather(started, computer_id);
        let (store, saved) = LeaseStore::open(&layout.lease_store())?;
        let ledger = Ledger::new(LedgerConfig {
            connection_lease: Duration::from_secs(config.connection_timeout.into()),
            session_lease: Duration::from_secs(config.session_timeout.into()),
        });
        let token_key = crate::http::token::load_or_create_key(&layout.config_dir().join("token.key"))
            .map_err(|e| anyhow::anyhow!("cannot keep the API token key in {}: {e}", layout.config_dir().display()))?;
        let guard = crate::http::auth::Guard::new(
            &config,
            token_key,
            format!("licenceserver:{}", info.computer_id),
            &info.computer_name,
        );
        let app = App {
            guard,
            inner: Mutex::new(Inner {
                ledger,
                keys: BTreeMap::new(),
                standing: PoolStanding::default(),
                fingerprint: Vec::new(),
                usb: Vec::new(),
                usb_problems: Vec::new(),
            }),
            settings: std::sync::RwLock::new(config.clone()),
            config,
            observe: crate::observe::Observe::default(),
            layout,
            info,
            identity,
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

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock is a bug (logged by the panic hook); the state it left is
        // still the best there is, so the lock is taken over rather than failing every later request.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn submit(&self, inner: &mut Inner) -> tokio::sync::oneshot::Receiver<Result<(), String>> {
        let records = inner.ledger.take_changes().into_iter().filter_map(to_record).collect();
        self.store.submit(records)
    }

    /// Runs one ledger operation and answers once its changes are committed.
    pub async fn mutate<T>(
        &self,
        op: impl FnOnce(&mut Ledger, UtcTime) -> Result<T, LedgerError>,
    ) -> Result<T, AppError> {
        let (result, done) = {
            let mut inner = self.lock();
            let result = op(&mut inner.ledger, crate::clock::now());
            (result, self.submit(&mut inner))
        };
        match done.await {
            Ok(Ok(())) => result.map_err(AppError::Refused),
            Ok(Err(e)) => Err(AppError::Internal(e)),
            Err(_) => Err(AppError::Internal("the lease store has stopped".into())),
        }
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
            keystore::scan_with_usb(&dir, self.identity.as_ref(), &carriers)
        });
        let mut inner = self.lock();
        if usb.problems != inner.usb_problems {
            for p in &usb.problems {
                log::warn!("{p}");
            }
            inner.usb_problems = usb.problems;
        }
        if let Some((keys, problems)) = rescanned {
            for p in &problems {
                log::warn!("key file {p}");
            }
            log::info!("{} key(s) in {} and {} USB device(s)", keys.len(), dir.display(), usb.keys.len());
            inner.keys = keys;
            inner.fingerprint = fingerprint;
            inner.usb = usb.keys;
        }
        let standing = pool::evaluate(&pool_keys(&inner.keys, now));
        if standing != inner.standing {
            inner.ledger.set_pool(standing.capacities(), standing.why_none(), now);
            inner.standing = standing;
            drop(self.submit(&mut inner));
        }
    }

    /// Where a key is to be bound: this computer, or the USB blank `blank` plugged into it now.
    pub fn activation_target(&self, blank: Option<u64>) -> Result<Target, ActivationError> {
        crate::activation::resolve_target(self.identity.as_ref(), self.setting(|s| s.usb_enabled), blank)
    }

    /// The secret of `series` from a key of it that counts now, with that key file's text (the add-in
    /// checks its signature against the public key the configuration pins). `None` when no counting key
    /// of the series opens on this computer. The secret is unwrapped afresh each time and zeroized
    /// when dropped; it is never kept.
    pub fn series_secret(&self, series: SeriesId) -> Option<(SeriesSecret, String)> {
        let (candidates, devices) = {
            let inner = self.lock();
            let counting = |k: &&InstalledKey| {
                k.series == series && k.workable && inner.standing.key(k.key_no).is_some_and(|s| s.counts)
            };
            let keys: Vec<InstalledKey> = inner.keys.values().filter(counting).cloned().collect();
            (keys, inner.usb.clone())
        };
        candidates.iter().find_map(|key| {
            let device = |serial: u64| devices.iter().find(|d| d.serial == serial);
            let bytes = match key.storage {
                keystore::Storage::File => std::fs::read(&key.path).ok()?,
                keystore::Storage::Usb(serial) => device(serial)?.key_file.clone()?,
            };
            let verified = licence_protocol::keyfile::verify(&bytes).ok()?;
            let binding = match (key.storage, verified.fields.blank_key_no) {
                (keystore::Storage::Usb(serial), _) | (keystore::Storage::File, Some(serial)) => {
                    device(serial)?.binding().clone()
                }
                (keystore::Storage::File, None) => self.identity.as_ref()?.binding(),
            };
            let secret = verified.unwrap_secret(&binding).ok()?;
            Some((secret, String::from_utf8(bytes).ok()?))
        })
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
    pub fn setting<T>(&self, read: impl FnOnce(&ServerConfig) -> T) -> T {
        read(&self.settings.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Puts the settings of `saved` that can change while the server runs in force: leases, limits, the
    /// API switch, the activation centre, USB, reserved servers, and console and API access. The port,
    /// the listen address, the machine id file and the log settings need a restart.
    pub fn apply_settings(&self, saved: &ServerConfig) {
        {
            let mut settings = self.settings.write().unwrap_or_else(|p| p.into_inner());
            settings.connection_timeout = saved.connection_timeout;
            settings.session_timeout = saved.session_timeout;
            settings.max_connections = saved.max_connections;
            settings.max_sessions = saved.max_sessions;
            settings.api_enabled = saved.api_enabled;
            settings.licence_center_url = saved.licence_center_url.clone();
            settings.usb_enabled = saved.usb_enabled;
            settings.reserved_servers = saved.reserved_servers.clone();
            settings.api = saved.api.clone();
            settings.console = saved.console.clone();
        }
        self.lock().ledger.set_config(LedgerConfig {
            connection_lease: Duration::from_secs(saved.connection_timeout.into()),
            session_lease: Duration::from_secs(saved.session_timeout.into()),
        });
        self.guard.apply(saved);
        log::info!("settings changed by the administrator are in force");
    }

    /// Ends leases whose time is up; called every second.
    pub fn expire(&self) {
        let mut inner = self.lock();
        let (connections, sessions) = inner.ledger.expire(crate::clock::now());
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
        self.observe.sample(crate::clock::now(), uses);
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
                let _ =
                    tokio::task::spawn_blocking(move || guarded("key reload", || app.reload_keys(crate::clock::now())))
                        .await;
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
    getrandom::getrandom(&mut bytes).map_err(|e| AppError::Internal(format!("no random identifier: {e}")))?;
    Ok(hex::encode_upper(bytes))
}
