//! [`LicenceHolder`]: one 1C session's licence, kept alive by a background heartbeat thread.
//!
//! Every `HeartbeatSeconds` (the server's figure, or a fixed period for tests) the thread sends a
//! heartbeat through the holder's [`Client`]. When the server in use dies or forgets the connection,
//! the client connects to the next server and obtains the licence again with the same
//! [`SessionFacts`] (so a server that knew the session hands back the same seat); the holder reports
//! that as [`Event::Moved`]. A licence whose lease lapsed (code 8) is obtained once more
//! ([`Event::Recovered`]); one the administrator ended (9), one no server will give back, or one
//! unreachable for longer than its session lease is lost for good ([`Event::Lost`]) and the thread
//! ends.
//!
//! Dropping or releasing the holder stops the thread and joins it: the thread is woken at once, tries
//! no further server, and so finishes within one request time limit. Releasing also ends the
//! connection; dropping leaves the licence and the connection to their leases.

use crate::client::Client;
use crate::conf::Endpoint;
use crate::error::Error;
use licence_protocol::wire::{ErrorCode, LicenceGrant, SessionFacts};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the heartbeat thread tells the add-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The holder reconnected (to `server`, maybe another one) and still holds the licence, now under
    /// `session_id`.
    Moved { server: Endpoint, session_id: String },
    /// The session's lease had lapsed and the licence was obtained again.
    Recovered { session_id: String },
    /// The licence is gone for good; the thread has stopped.
    Lost { code: ErrorCode, message: String },
}

type Callback = Box<dyn Fn(Event) + Send + Sync>;

struct Shared {
    client: Mutex<Client>,
    facts: SessionFacts,
    grant: Mutex<LicenceGrant>,
    stop: Mutex<bool>,
    wake: Condvar,
    cancel: Arc<AtomicBool>,
    period: Option<Duration>,
    on_event: Callback,
}

pub struct LicenceHolder {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LicenceHolder {
    /// Obtains the licence for `facts` through `client` and starts the heartbeat thread, beating every
    /// `period` (`None`: the server's `HeartbeatSeconds`).
    pub fn obtain(
        mut client: Client,
        facts: SessionFacts,
        period: Option<Duration>,
        on_event: impl Fn(Event) + Send + Sync + 'static,
    ) -> Result<Self, Error> {
        let grant = client.obtain(&facts)?;
        let cancel = client.cancel_flag();
        let shared = Arc::new(Shared {
            client: Mutex::new(client),
            facts,
            grant: Mutex::new(grant),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            cancel,
            period,
            on_event: Box::new(on_event),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("licence-heartbeat".into())
            .spawn(move || heartbeat_loop(&worker))
            .map_err(Error::Thread)?;
        Ok(Self { shared, thread: Some(thread) })
    }

    /// The licence as last confirmed (its `SessionID` changes when the holder moves to another server).
    pub fn grant(&self) -> LicenceGrant {
        lock(&self.shared.grant).clone()
    }

    /// The session's identity, the same on every server.
    pub fn facts(&self) -> &SessionFacts {
        &self.shared.facts
    }

    /// The server the licence is held on now.
    pub fn server_in_use(&self) -> Option<Endpoint> {
        lock(&self.shared.client).server_in_use().cloned()
    }

    /// Asks the server whether the licence is still held (moving to another server if need be).
    pub fn check(&self) -> Result<LicenceGrant, Error> {
        let id = self.grant().session_id;
        let grant = lock(&self.shared.client).check(&id)?;
        *lock(&self.shared.grant) = grant.clone();
        Ok(grant)
    }

    /// Runs `f` on the holder's client (key information, say); the heartbeat waits meanwhile.
    pub fn with_client<T>(&self, f: impl FnOnce(&mut Client) -> T) -> T {
        f(&mut lock(&self.shared.client))
    }

    /// Stops the heartbeat, gives the licence back and ends the connection (so the server's
    /// `/api/connections` drops it at once rather than at the end of its lease); true when the server
    /// still held the licence. A failed disconnect is only logged: the lease ends the connection anyway.
    pub fn release(mut self) -> Result<bool, Error> {
        self.stop();
        let id = self.grant().session_id;
        let mut client = lock(&self.shared.client);
        let result = client.release(&id);
        if let Err(e) = client.disconnect() {
            log::info!("disconnect after the release failed: {e}");
        }
        result
    }

    fn stop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        let Some(thread) = self.thread.take() else { return };
        self.shared.cancel.store(true, Ordering::SeqCst);
        let _ = thread.join();
        self.shared.cancel.store(false, Ordering::SeqCst);
    }
}

impl Drop for LicenceHolder {
    /// Stops the heartbeat thread (within one request time limit). The licence itself is left to its
    /// lease or to `disconnect`: call [`LicenceHolder::release`] to give it back at once.
    fn drop(&mut self) {
        self.stop();
    }
}

/// Beats until stopped or the licence is lost for good.
fn heartbeat_loop(shared: &Shared) {
    let mut last_ok = Instant::now();
    loop {
        let period = shared.period.unwrap_or_else(|| {
            let seconds = lock(&shared.client).connection().map_or(5, |c| c.heartbeat_seconds.max(1));
            Duration::from_secs(u64::from(seconds))
        });
        {
            let stop = lock(&shared.stop);
            let (stop, _) =
                shared.wake.wait_timeout_while(stop, period, |stop| !*stop).unwrap_or_else(PoisonError::into_inner);
            if *stop {
                return;
            }
        }
        let (events, keep_going) = tick(shared, &mut last_ok);
        for event in events {
            if *lock(&shared.stop) {
                return;
            }
            if catch_unwind(AssertUnwindSafe(|| (shared.on_event)(event))).is_err() {
                log::error!("the licence event handler panicked");
            }
        }
        if !keep_going {
            return;
        }
    }
}

/// One heartbeat and what came of it: events to report, and whether to go on.
fn tick(shared: &Shared, last_ok: &mut Instant) -> (Vec<Event>, bool) {
    let mut client = lock(&shared.client);
    let old = lock(&shared.grant).clone();
    let before = (client.server_in_use().cloned(), client.connection().map(|c| c.connection_id.clone()));
    let result = client.heartbeat();
    if shared.cancel.load(Ordering::SeqCst) {
        return (Vec::new(), false);
    }
    let lease = Duration::from_secs(u64::from(client.connection().map_or(60, |c| c.session_lease_seconds)));
    let held = client.held().iter().find(|h| h.facts == shared.facts).map(|h| h.grant.clone());
    match (result, held) {
        (Ok(_), Some(grant)) => {
            *last_ok = Instant::now();
            let after = (client.server_in_use().cloned(), client.connection().map(|c| c.connection_id.clone()));
            *lock(&shared.grant) = grant.clone();
            match after.0 {
                Some(server) if after != before => (vec![Event::Moved { server, session_id: grant.session_id }], true),
                _ => (Vec::new(), true),
            }
        }
        (Err(e), Some(_)) => {
            log::warn!("heartbeat failed: {e}");
            if last_ok.elapsed() > lease {
                let message = format!("no licence server answered for longer than the session lease: {e}");
                return (vec![Event::Lost { code: e.code(), message }], false);
            }
            (Vec::new(), true)
        }
        (result, None) => {
            let loss = client.lost().iter().rev().find(|l| l.session_id == old.session_id).cloned();
            let (code, message) = match (loss, result) {
                (Some(loss), _) => (loss.code, loss.message),
                (None, Err(e)) => (e.code(), e.to_string()),
                (None, Ok(_)) => (ErrorCode::LicenceLost, "the session no longer holds a licence".to_owned()),
            };
            if code != ErrorCode::LicenceLost {
                return (vec![Event::Lost { code, message }], false);
            }
            match client.obtain(&shared.facts) {
                Ok(grant) => {
                    *last_ok = Instant::now();
                    *lock(&shared.grant) = grant.clone();
                    (vec![Event::Recovered { session_id: grant.session_id }], true)
                }
                Err(e) => (vec![Event::Lost { code: e.code(), message: e.to_string() }], false),
            }
        }
    }
}
