//! The licence methods' state behind one `Licence` object: the client of the licence server before a
//! licence is obtained, the [`LicenceHolder`] (which owns that same client, so each object keeps one
//! connection) while one is held, the key facts behind demo mode and the expiry warnings
//! ([`KeyWatch`]: fetched at obtain, then at most hourly at check), and the translation of the client
//! crate's errors and events into what BSL sees (`LastErrorCode` = the wire number,
//! `ExternalEvent("Licence", …)`).
//!
//! The optional local fallback ([`licenceaddin_client::fallback`]) lives here too: when `obtain` finds no
//! server answering, a file-mode client with the fallback turned on takes the licence from a key
//! installed on this computer instead ([`Obtained::Local`]); every later `obtain` or `connect` tries the
//! servers first and moves the licence to one as soon as it answers. While on the fallback, check,
//! key information and release work on the local key; there is no heartbeat.
//!
//! The pin: every licence method needs `SeriesPublicKey` ([`Settings::series_public_key`]); without it
//! nothing is sent to any server, the local fallback is not tried, and the method fails with code 16
//! (`SeriesKeyNotPinned`). A server that cannot prove it holds a key signed by the pin is code 17
//! (`ServerNotTrusted`, see `licenceaddin_client::client`), and the local fallback counts only keys
//! signed by it.
//!
//! Threads: the holder's heartbeat thread is the client crate's own, not one of [`crate::host::Threads`],
//! so [`Licensing::shut_down`] (called from `Done`, before `DestroyObject` returns) releases the
//! licence and joins that thread; dropping a `Licensing` joins it as well. No event is sent after.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use licence_protocol::datafile::ObjectKeyRequest;
use licence_protocol::key::SeriesId;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{ErrorCode, KeyInfoResponse, ObjectGrant, SessionFacts};
use licenceaddin_client::client::Client;
use licenceaddin_client::conf::{self, CodeSettings, Endpoint, Places};
use licenceaddin_client::facts::Caller;
use licenceaddin_client::fallback::{self, LocalKeys};
use licenceaddin_client::logfile;
use licenceaddin_client::session::{Event, LicenceHolder};
use licenceaddin_client::transport::Timeouts;

use crate::events::{EVENT_LOST, EVENT_SERVER_CHANGED, EVENT_SOURCE};
use crate::expiry::Outlook;
use crate::host::{Events, Host};
use crate::watch::KeyWatch;
use crate::Error;

/// The module name the add-in gives the server and its log files (the path of the loaded library is
/// not known to safe code; the host process's path would name 1C, not the add-in).
pub const MODULE_NAME: &str = "liblicenceaddin";

/// What the configuration's code set on the object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub addr: String,
    /// `None` until the code sets it, so that licenceaddin.conf may choose the port.
    pub port: Option<u16>,
    pub reserved: String,
    pub series: Option<SeriesId>,
    pub is_server: bool,
    /// The `LocalFallback` property; `None` until the code sets it (then licenceaddin.conf decides).
    pub local_fallback: Option<bool>,
    /// The platform's version as its `IPlatformInfo` tells it; empty when it offers none.
    pub platform_version: String,
    /// The series public key the configuration pins (`SeriesPublicKey`): the servers must prove a key
    /// signed by it, local keys and protected objects must be signed by it. No licence call runs without.
    pub series_public_key: Option<[u8; 32]>,
}

/// Where a licence came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Obtained {
    /// A licence server (or, for `connect`, nothing to obtain).
    Server,
    /// The local fallback; the text explains it for `LastError` (code 13 `LocalFallback`).
    Local(String),
}

/// A licence held from a key installed on this computer.
struct LocalHold {
    facts: SessionFacts,
    series: SeriesId,
    pin: [u8; 32],
    keys: LocalKeys,
}

/// Whether the fallback is on for the current settings, and where its keys are.
#[derive(Clone)]
struct FallbackSetup {
    enabled: bool,
    keys: LocalKeys,
}

/// The folders every new client resolves against: the OS's, unless [`relocate`] set others.
static PLACES: Mutex<Option<Places>> = Mutex::new(None);

/// Makes every later client of this process read licenceaddin.conf, write logs and look for local keys
/// under `places` instead of the OS's folders. For Rust integration tests that load the library in
/// process; the Native API does not reach it, so a 1C configuration cannot move the folders.
pub fn relocate(places: Places) {
    *PLACES.lock().unwrap_or_else(PoisonError::into_inner) = Some(places);
}

fn places() -> Places {
    PLACES.lock().unwrap_or_else(PoisonError::into_inner).clone().unwrap_or_else(Places::from_env)
}

/// Why the heartbeat gave the licence up, as the heartbeat thread recorded it.
type Loss = Arc<Mutex<Option<(ErrorCode, String)>>>;

/// The connection and the held licence of one `Licence` object.
#[derive(Default)]
pub struct Licensing {
    client: Option<Client>,
    /// Set with the client, from the same resolution of licenceaddin.conf.
    fallback: Option<FallbackSetup>,
    local: Option<LocalHold>,
    holder: Option<LicenceHolder>,
    loss: Loss,
    last_server: Option<Endpoint>,
    watch: KeyWatch,
    /// Where the warnings go: the host's events, kept from the first `obtain`.
    events: Option<Events>,
    watching: bool,
}

/// A client error as the component's error: its wire number and English text (the Russian summary comes with it).
pub fn from_client(e: &licenceaddin_client::Error) -> Error {
    Error::licence(e.code(), e.to_string())
}

/// The series and the pin of `settings`, or why no licence call can be made: `KeyID` not set (5), or
/// `SeriesPublicKey` not set (16).
pub fn pinned(settings: &Settings) -> Result<(SeriesId, [u8; 32]), Error> {
    let series = settings.series.ok_or_else(|| Error::usage(ErrorCode::BadRequest, "KeyID is not set"))?;
    let pin = settings.series_public_key.ok_or_else(|| {
        Error::licence(
            ErrorCode::SeriesKeyNotPinned,
            format!(
                "SeriesPublicKey is not set: the configuration must pin its series' public key (64 hex digits, the \
                 vendor's {series}.pub) before any licence call; nothing was sent to a licence server"
            ),
        )
    })?;
    Ok((series, pin))
}

fn not_held() -> Error {
    Error::licence(ErrorCode::LicenceLost, "no licence is held: call ObtainLicence first")
}

impl Licensing {
    /// The server that answered last, `host:port`; `None` before the first connection.
    pub fn server_in_use(&self) -> Option<String> {
        if self.local.is_some() {
            return Some(fallback::SERVER_IN_USE.to_owned());
        }
        let now = match (&self.holder, &self.client) {
            (Some(holder), _) => holder.server_in_use(),
            (None, Some(client)) => client.server_in_use().cloned(),
            (None, None) => None,
        };
        now.or_else(|| self.last_server.clone()).map(|e| e.to_string())
    }

    /// True while a licence is held and the heartbeat has not given it up.
    pub fn held(&self) -> bool {
        self.local.is_some() || (self.holder.is_some() && self.lock_loss().is_none())
    }

    /// The settings changed: an idle connection is dropped so the next call uses the new ones; a held
    /// licence keeps its connection until it is released.
    pub fn settings_changed(&mut self) {
        if self.holder.is_none() {
            self.disconnect_idle();
            if self.local.is_none() {
                self.watch.forget();
            }
        }
    }

    /// Demo mode and the days left as the last key facts tell them at `now`.
    pub fn outlook(&self, release: Option<UtcTime>, now: UtcTime) -> Outlook {
        self.watch.outlook(self.held(), release, now)
    }

    /// Connects (unless connected) to the first server of the resolved list that accepts. On the local
    /// fallback, tries the servers again and moves the licence to the first that answers.
    pub fn connect(&mut self, settings: &Settings) -> Result<Obtained, Error> {
        pinned(settings)?;
        if let Some(local) = &self.local {
            let facts = local.facts.clone();
            return self.obtain(settings, facts, None);
        }
        self.connect_server(settings).map(|()| Obtained::Server)
    }

    fn connect_server(&mut self, settings: &Settings) -> Result<(), Error> {
        self.forget_lost_holder();
        if self.holder.is_some() {
            return Ok(());
        }
        let client = self.client_for(settings)?;
        let result = client.connect().map(|_| ());
        self.last_server = client.server_in_use().cloned().or(self.last_server.take());
        result.map_err(|e| from_client(&e))
    }

    /// Obtains the licence for `facts` and starts the heartbeat; events go to `host`'s. Then fetches the
    /// key facts and gives the warnings due (a failure there is only logged: the licence is held).
    /// When no server answers, the local fallback may grant it instead.
    pub fn obtain(&mut self, settings: &Settings, facts: SessionFacts, host: Option<&Host>) -> Result<Obtained, Error> {
        pinned(settings)?;
        self.forget_lost_holder();
        if let Some(holder) = &self.holder {
            if holder.facts() == &facts {
                return Ok(Obtained::Server);
            }
            self.release()?;
        }
        if self.local.as_ref().is_some_and(|l| l.facts != facts) {
            self.release()?;
        }
        match self.obtain_from_server(settings, facts.clone(), host) {
            Ok(()) => {
                if self.local.take().is_some() {
                    log::info!("a licence server answered again: the licence moved off the local fallback");
                }
                Ok(Obtained::Server)
            }
            Err(e) if e.wire_code() == ErrorCode::ServerUnreachable => self.obtain_locally(settings, facts, host, e),
            Err(e) => Err(e),
        }
    }

    /// The local fallback's answer to `unreachable` (see `licenceaddin_client::fallback` for its rules).
    fn obtain_locally(
        &mut self,
        settings: &Settings,
        facts: SessionFacts,
        host: Option<&Host>,
        unreachable: Error,
    ) -> Result<Obtained, Error> {
        let Some(setup) = self.fallback.clone().filter(|f| f.enabled) else { return Err(unreachable) };
        let english = Error::english(&unreachable);
        let refused = |why: String| {
            log::warn!("the local fallback gives no licence: {why}");
            Error::licence(
                ErrorCode::ServerUnreachable,
                format!("{english}; the local fallback gave no licence: {why}"),
            )
        };
        if let Some(why) = fallback::refusal(settings.is_server, &facts) {
            return Err(refused(why));
        }
        let (series, pin) = pinned(settings)?;
        let info = setup.keys.licence(series, &pin, UtcTime::now()).map_err(refused)?;
        let used: Vec<String> =
            info.keys.iter().filter(|k| k.counts).map(|k| format!("{series}.{}.licence", k.key_no)).collect();
        let text = format!(
            "{english}; the licence comes from {} installed on this computer (local fallback)",
            used.join(", ")
        );
        log::warn!("{text}");
        self.local = Some(LocalHold { facts, series, pin, keys: setup.keys });
        self.watch.store(info.keys);
        self.watch.set_held(true);
        if let Some(host) = host {
            self.events = Some(host.events.clone());
            if !self.watching {
                self.watching = true;
                self.watch.start(host);
            }
        }
        self.watch.warn(self.events.as_ref(), UtcTime::now());
        Ok(Obtained::Local(text))
    }

    /// The local key's information now, or why it no longer grants the licence (which is then given up).
    fn local_info(&mut self) -> Option<Result<KeyInfoResponse, Error>> {
        let local = self.local.as_ref()?;
        Some(match local.keys.licence(local.series, &local.pin, UtcTime::now()) {
            Ok(info) => {
                self.watch.store(info.keys.clone());
                Ok(info)
            }
            Err(why) => {
                self.local = None;
                self.watch.set_held(false);
                let code = ErrorCode::LicenceLost;
                Err(Error::licence(code, format!("the local key no longer grants the licence: {why}")))
            }
        })
    }

    /// The server part of [`Licensing::obtain`].
    fn obtain_from_server(
        &mut self,
        settings: &Settings,
        facts: SessionFacts,
        host: Option<&Host>,
    ) -> Result<(), Error> {
        self.connect_server(settings)?;
        let client = self.client.as_mut().ok_or_else(not_connected)?;
        // Obtained here first so that a refusal (no free licence) keeps the connection for a retry;
        // the holder obtains again with the same facts, which the server answers with the same seat.
        client.obtain(&facts).map_err(|e| from_client(&e))?;
        let client = self.client.take().ok_or_else(not_connected)?;
        let loss: Loss = Arc::default();
        self.loss = Arc::clone(&loss);
        let events = host.map(|h| h.events.clone()).or_else(|| self.events.clone());
        let (watch, heartbeat_events) = (self.watch.clone(), events.clone());
        let holder = LicenceHolder::obtain(client, facts, None, move |event| {
            report(&loss, &watch, heartbeat_events.as_ref(), event);
        })
        .map_err(|e| from_client(&e))?;
        self.last_server = holder.server_in_use();
        self.holder = Some(holder);
        self.watch.set_held(true);
        self.events = events;
        if let (Some(host), false) = (host, self.watching) {
            self.watching = true;
            self.watch.start(host);
        }
        self.refresh_key_facts(true);
        Ok(())
    }

    /// Fetches the key facts through the holder (when `always` or when they are stale) and gives the
    /// warnings due.
    fn refresh_key_facts(&mut self, always: bool) {
        let Some(holder) = &self.holder else { return };
        if always || self.watch.stale() {
            match holder.with_client(Client::key_info) {
                Ok(info) => self.watch.store(info.keys),
                Err(e) => log::warn!("the key facts could not be fetched: {e}"),
            }
        }
        self.watch.warn(self.events.as_ref(), UtcTime::now());
    }

    /// Asks the server whether the licence is still held.
    pub fn check(&mut self, settings: &Settings) -> Result<(), Error> {
        pinned(settings)?;
        if let Some(result) = self.local_info() {
            result?;
            self.watch.warn(self.events.as_ref(), UtcTime::now());
            return Ok(());
        }
        let loss = self.lock_loss().clone();
        if let Some((code, message)) = loss {
            self.forget_lost_holder();
            return Err(Error::licence(code, message));
        }
        let holder = self.holder.as_ref().ok_or_else(not_held)?;
        let result = holder.check();
        self.last_server = holder.server_in_use();
        match result {
            Ok(_) => {
                self.refresh_key_facts(false);
                Ok(())
            }
            Err(e) => {
                if matches!(e.code(), ErrorCode::LicenceLost | ErrorCode::SessionEnded | ErrorCode::ServerNotTrusted) {
                    *self.lock_loss() = Some((e.code(), e.to_string()));
                    self.forget_lost_holder();
                }
                Err(from_client(&e))
            }
        }
    }

    /// Gives the licence back (nothing held is a success). The holder's connection ends with it; the
    /// next call connects again.
    pub fn release(&mut self) -> Result<(), Error> {
        self.forget_lost_holder();
        self.watch.set_held(false);
        if self.local.take().is_some() {
            return Ok(());
        }
        let Some(holder) = self.holder.take() else { return Ok(()) };
        self.last_server = holder.server_in_use().or(self.last_server.take());
        holder.release().map(|_| ()).map_err(|e| from_client(&e))
    }

    /// The connection's series as `/licence/keyinfo` tells it (connecting first if need be).
    pub fn key_info(&mut self, settings: &Settings) -> Result<KeyInfoResponse, Error> {
        pinned(settings)?;
        if let Some(result) = self.local_info() {
            return result;
        }
        self.forget_lost_holder();
        let result = match &self.holder {
            Some(holder) => holder.with_client(Client::key_info),
            None => {
                self.connect_server(settings)?;
                self.client.as_mut().ok_or_else(not_connected)?.key_info()
            }
        };
        let info = result.map_err(|e| from_client(&e))?;
        self.watch.store(info.keys.clone());
        Ok(info)
    }

    /// The key of a protected object for the licence held from a server (see [`crate::objects`]).
    pub fn object_grant(&mut self, name: &str, request: &ObjectKeyRequest) -> Result<ObjectGrant, Error> {
        self.forget_lost_holder();
        if self.local.is_some() {
            return Err(Error::licence(
                ErrorCode::ObjectRefused,
                "the licence comes from this computer's own key (local fallback); protected objects open only with a \
                 licence from a licence server",
            ));
        }
        let holder = self.holder.as_ref().ok_or_else(not_held)?;
        let session_id = holder.grant().session_id;
        let result = holder.with_client(|client| client.object_key(&session_id, name, request));
        self.last_server = holder.server_in_use().or(self.last_server.take());
        result.map_err(|e| from_client(&e))
    }

    /// The platform is done with the object: give the licence back, end the connection, join the
    /// heartbeat thread. Errors are only logged: nobody is left to report them to.
    pub fn shut_down(&mut self) {
        if let Err(e) = self.release() {
            log::warn!("releasing the licence at the end of the object failed: {e}");
        }
        self.disconnect_idle();
    }

    fn disconnect_idle(&mut self) {
        if let Some(mut client) = self.client.take() {
            if let Err(e) = client.disconnect() {
                log::info!("disconnect failed: {e}");
            }
        }
    }

    /// A holder whose heartbeat gave the licence up has stopped its thread; drop it (the loss stays
    /// recorded for `CheckLicence`).
    fn forget_lost_holder(&mut self) {
        if self.holder.is_some() && self.lock_loss().is_some() {
            self.holder = None;
            self.watch.set_held(false);
        }
    }

    fn lock_loss(&self) -> std::sync::MutexGuard<'_, Option<(ErrorCode, String)>> {
        self.loss.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The idle client, created from licenceaddin.conf and the code's settings if there is none.
    fn client_for(&mut self, settings: &Settings) -> Result<&mut Client, Error> {
        if self.client.is_none() {
            let (client, fallback) = new_client(settings)?;
            self.client = Some(client);
            self.fallback = Some(fallback);
        }
        self.client.as_mut().ok_or_else(not_connected)
    }
}

fn not_connected() -> Error {
    Error::usage(ErrorCode::Internal, "the add-in lost its client of the licence server")
}

/// A client of the servers licenceaddin.conf and the code's settings name, for `settings.series`, and
/// the local fallback as the same resolution sets it.
fn new_client(settings: &Settings) -> Result<(Client, FallbackSetup), Error> {
    let (series, pin) = pinned(settings)?;
    let places = places();
    let code = CodeSettings {
        addr: settings.addr.clone(),
        port: settings.port,
        reserved: settings.reserved.clone(),
        local_fallback: settings.local_fallback,
    };
    let resolved = conf::resolve_from_disk(settings.is_server, series, &code, &places);
    start_log(&places, resolved.keep_previous_logs);
    resolved.log();
    let caller = Caller {
        platform_version: settings.platform_version.clone(),
        is_server: settings.is_server,
        module_name: MODULE_NAME.to_owned(),
        version: licence_protocol::VERSION.to_owned(),
        key_id: series,
        series_public_key: Some(pin),
    };
    let fallback = FallbackSetup { enabled: resolved.local_fallback.value, keys: LocalKeys::at(&places) };
    Ok((Client::new(resolved.endpoints, &caller, Timeouts::default()), fallback))
}

/// Starts the add-in's log once per process; a log that cannot be opened only means no log.
fn start_log(places: &Places, keep_previous: bool) {
    static STARTED: AtomicBool = AtomicBool::new(false);
    if STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let dir = logfile::log_dir(places, false);
    if let Err(e) = logfile::start(&dir, MODULE_NAME, keep_previous, log::LevelFilter::Info) {
        // No logger is installed yet, so this goes nowhere unless a host installed one.
        log::warn!("the add-in log could not be started: {e}");
    }
}

/// The heartbeat thread's event as BSL's `ExternalEvent`.
fn report(loss: &Loss, watch: &KeyWatch, events: Option<&Events>, event: Event) {
    match event {
        Event::Lost { code, message } => {
            log::warn!("licence lost ({}): {message}", code.number());
            *loss.lock().unwrap_or_else(PoisonError::into_inner) = Some((code, message.clone()));
            watch.set_held(false);
            if let Some(events) = events {
                events.send(EVENT_SOURCE, EVENT_LOST, &message);
            }
        }
        Event::Moved { server, session_id } => {
            log::info!("licence moved to server {server} as session {session_id}");
            if let Some(events) = events {
                events.send(EVENT_SOURCE, EVENT_SERVER_CHANGED, &server.to_string());
            }
        }
        Event::Recovered { session_id } => log::info!("licence obtained again as session {session_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_keep_their_wire_number_and_read_in_both_languages() {
        let refused = licenceaddin_client::transport::NoAnswer::Io(std::io::ErrorKind::ConnectionRefused.into());
        let tried = licenceaddin_client::error::Tried::one(&Endpoint::new("127.0.0.1", 9), refused);
        let e = licenceaddin_client::Error::Unreachable { tried };
        let mapped = from_client(&e);
        assert_eq!(mapped.wire_code(), ErrorCode::ServerUnreachable);
        assert_eq!(
            mapped.to_string(),
            "no licence server answered: 127.0.0.1:9 (connection refused) (Сервер лицензий недоступен)"
        );
    }

    #[test]
    fn connect_without_a_series_is_a_bad_request() {
        let err = Licensing::default().connect(&Settings::default()).unwrap_err();
        assert_eq!(err, Error::usage(ErrorCode::BadRequest, "KeyID is not set"));
    }

    #[test]
    fn no_licence_call_runs_without_the_pin() {
        let settings = Settings { series: Some("672B".parse().unwrap()), ..Settings::default() };
        let mut l = Licensing::default();
        for err in
            [l.connect(&settings).unwrap_err(), l.check(&settings).unwrap_err(), l.key_info(&settings).unwrap_err()]
        {
            assert_eq!(err.wire_code(), ErrorCode::SeriesKeyNotPinned);
            assert!(err.to_string().starts_with("SeriesPublicKey is not set"), "{err}");
            assert!(err.to_string().contains("Не задан открытый ключ серии"), "{err}");
        }
        assert_eq!(l.server_in_use(), None, "nothing was sent");
    }

    #[test]
    fn nothing_held_checks_false_and_releases_true() {
        let mut l = Licensing::default();
        assert!(!l.held());
        let pinned =
            Settings { series: Some("672B".parse().unwrap()), series_public_key: Some([1; 32]), ..Settings::default() };
        assert_eq!(l.check(&pinned).unwrap_err().wire_code(), ErrorCode::LicenceLost);
        assert_eq!(l.release(), Ok(()));
        assert_eq!(l.server_in_use(), None);
    }
}
