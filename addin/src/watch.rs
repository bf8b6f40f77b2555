//! [`KeyWatch`]: the key facts one `Licence` object last fetched (`/licence/keyinfo`), shared with the
//! object's watcher thread, which gives the expiry warnings of [`crate::expiry`] as `ExternalEvent`s
//! while a licence is held — also on days the configuration calls nothing. The facts are fetched by
//! the licence methods (`licensing::Licensing`) on the caller's thread (at `ObtainLicence`, then at most once an
//! hour at `CheckLicence`); the thread only reads them, so it needs no connection of its own. The
//! dependency points one way: licensing uses this module, never the reverse.
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use licence_protocol::time::UtcTime;
use licence_protocol::wire::KeyParameters;

use crate::events::EVENT_SOURCE;
use crate::expiry::{self, Outlook, Warning, WarningLog};
use crate::host::{Events, Host};

/// Key facts older than this are fetched again at the next `CheckLicence`.
pub const REFRESH_AFTER: Duration = Duration::from_secs(3600);

/// How often the watcher thread looks whether a warning is due (a new UTC day, mostly).
const WAKE_EVERY: Duration = Duration::from_secs(300);

#[derive(Default)]
struct State {
    keys: Option<Vec<KeyParameters>>,
    fetched: Option<Instant>,
    held: bool,
    log: WarningLog,
}

/// One object's key facts and warning log; clones share them.
#[derive(Clone, Default)]
pub struct KeyWatch {
    state: Arc<Mutex<State>>,
}

impl KeyWatch {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Facts just fetched from the server.
    pub fn store(&self, keys: Vec<KeyParameters>) {
        let mut state = self.lock();
        state.keys = Some(keys);
        state.fetched = Some(Instant::now());
    }

    /// The facts are missing or older than [`REFRESH_AFTER`].
    pub fn stale(&self) -> bool {
        self.lock().fetched.is_none_or(|at| at.elapsed() >= REFRESH_AFTER)
    }

    /// Facts of another series or server setting no longer apply.
    pub fn forget(&self) {
        let mut state = self.lock();
        state.keys = None;
        state.fetched = None;
    }

    /// Whether a licence is held: warnings are given only then.
    pub fn set_held(&self, held: bool) {
        self.lock().held = held;
    }

    pub fn outlook(&self, held: bool, release: Option<UtcTime>, now: UtcTime) -> Outlook {
        expiry::outlook(self.lock().keys.as_deref(), held, release, now)
    }

    /// Sends the warnings due at `now` (none unless a licence is held).
    pub fn warn(&self, events: Option<&Events>, now: UtcTime) {
        let due: Vec<Warning> = {
            let mut state = self.lock();
            if !state.held {
                return;
            }
            let outlook = expiry::outlook(state.keys.as_deref(), true, None, now);
            state.log.due(&outlook, now)
        };
        for warning in due {
            log::warn!("{} ({} days left)", warning.message(), warning.days());
            if let Some(events) = events {
                events.send(EVENT_SOURCE, warning.message(), &warning.days().to_string());
            }
        }
    }

    /// Starts the watcher thread among the host's threads (joined when the platform is done with the
    /// object). A thread that cannot start only means warnings come at `CheckLicence` alone.
    pub fn start(&self, host: &Host) {
        let (watch, events) = (self.clone(), host.events.clone());
        let started = host.threads.spawn("licence-expiry", move |stop| {
            while !stop.wait(WAKE_EVERY) {
                watch.warn(Some(&events), UtcTime::now());
            }
        });
        if let Err(e) = started {
            log::warn!("the expiry watcher did not start: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::EventTarget;
    use licence_protocol::key::KeyKind;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, String)>>);

    impl EventTarget for Recorder {
        fn external_event(&self, _source: &str, message: &str, data: &str) -> bool {
            self.0.lock().unwrap().push((message.to_owned(), data.to_owned()));
            true
        }
    }

    fn expiring(now: UtcTime, days: u32) -> KeyParameters {
        KeyParameters {
            key_no: 1,
            key_type: KeyKind::Main,
            licence_count: 1,
            counts: true,
            workable: true,
            start_date: now,
            expire_date: Some(now.plus_days(days)),
            days_left: Some(days),
            expired: false,
            flags: 0,
            product_name: String::new(),
            product_version: String::new(),
            article: String::new(),
            article_name: String::new(),
            support_date: None,
        }
    }

    #[test]
    fn warnings_only_while_held_and_once_a_day() {
        let now = UtcTime::parse("2026-11-24T06:00:00Z").unwrap();
        let recorder = Arc::new(Recorder::default());
        let events = Events::new(recorder.clone());
        let watch = KeyWatch::default();
        assert!(watch.stale());
        watch.store(vec![expiring(now, 3)]);
        assert!(!watch.stale());
        watch.warn(Some(&events), now);
        assert!(recorder.0.lock().unwrap().is_empty(), "no licence held");
        watch.set_held(true);
        watch.clone().warn(Some(&events), now);
        watch.warn(Some(&events), now);
        assert_eq!(*recorder.0.lock().unwrap(), vec![("ExpiryWarning".to_owned(), "3".to_owned())]);
        assert_eq!(watch.outlook(true, None, now).days_left, Some(3));
        watch.forget();
        assert_eq!(watch.outlook(true, None, now).days_left, None);
        assert!(watch.stale());
    }
}
