//! What a component may do towards the platform outside a call: send external events and run
//! background threads. Both are safe handles with a lifetime rule built in:
//!
//! * [`Events`] can be cloned into any thread. When the platform is done with the object (`Done` or
//!   `DestroyObject`) the layer *revokes* it: a send that is under way finishes first, later sends
//!   return `false` without touching the platform.
//! * [`Threads`] spawns the component's threads. Before `Done`/`DestroyObject` returns, the layer sets
//!   the stop flag every [`StopToken`] sees and joins every thread, so no code of the add-in runs
//!   after the platform destroys the object (and possibly unloads the library).
//!
//! A component must therefore start its threads only through [`Threads::spawn`] and make them return
//! soon after [`StopToken::is_stopped`] turns true (waiting with [`StopToken::wait`] does both).
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where events go: the platform's `ExternalEvent`, or a test's recorder.
pub trait EventTarget: Send + Sync {
    /// `false` when the platform refused the event or the target is revoked.
    fn external_event(&self, source: &str, message: &str, data: &str) -> bool;
}

/// A cloneable, thread-safe handle for `ExternalEvent`.
#[derive(Clone)]
pub struct Events(Arc<dyn EventTarget>);

impl Events {
    pub fn new(target: Arc<dyn EventTarget>) -> Self {
        Self(target)
    }

    /// Sends an event to the platform's queue; BSL receives it in `ОбработкаВнешнегоСобытия`.
    pub fn send(&self, source: &str, message: &str, data: &str) -> bool {
        self.0.external_event(source, message, data)
    }
}

/// What a component gets at `Init`.
#[derive(Clone)]
pub struct Host {
    pub events: Events,
    pub threads: Threads,
    /// What the platform's `IPlatformInfo` told, when it offers one.
    pub platform: Option<PlatformInfo>,
}

/// The platform's `IPlatformInfo::AppInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformInfo {
    /// `8.3.25.1257`.
    pub version: String,
    pub user_agent: String,
    /// -1 unknown, 0 thin client, 1 thick client, 2 web client, 3 server, 4 external connection,
    /// 5 mobile client, 6 mobile server.
    pub app_type: i32,
}

impl PlatformInfo {
    /// `AppType` of a 1C server process (`rphost`).
    pub const SERVER: i32 = 3;
}

#[derive(Default)]
struct Shared {
    stopped: Mutex<bool>,
    wake: Condvar,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The component's background threads, all joined when the platform is done with the object.
#[derive(Clone, Default)]
pub struct Threads(Arc<Shared>);

/// Tells a component thread that it must return.
#[derive(Clone)]
pub struct StopToken(Arc<Shared>);

impl StopToken {
    pub fn is_stopped(&self) -> bool {
        *lock(&self.0.stopped)
    }

    /// Sleeps up to `timeout`, waking at once on stop; returns whether the thread must stop.
    pub fn wait(&self, timeout: Duration) -> bool {
        let guard = lock(&self.0.stopped);
        let (guard, _) =
            self.0.wake.wait_timeout_while(guard, timeout, |stopped| !*stopped).unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

impl Threads {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a thread that receives a [`StopToken`]. Refused once the object is being destroyed.
    pub fn spawn(&self, name: &str, work: impl FnOnce(StopToken) + Send + 'static) -> std::io::Result<()> {
        let mut handles = lock(&self.0.handles);
        if *lock(&self.0.stopped) {
            return Err(std::io::Error::other("the add-in object is being destroyed"));
        }
        let token = StopToken(Arc::clone(&self.0));
        let handle = std::thread::Builder::new().name(name.to_owned()).spawn(move || work(token))?;
        handles.push(handle);
        Ok(())
    }

    /// Sets the stop flag, wakes waiting threads and joins all of them. Idempotent. Must not be called
    /// from one of these threads.
    pub(crate) fn stop_and_join(&self) {
        *lock(&self.0.stopped) = true;
        self.0.wake.notify_all();
        let handles = std::mem::take(&mut *lock(&self.0.handles));
        for handle in handles {
            // A thread that panicked has ended all the same; its panic stays inside the add-in.
            let _ = handle.join();
        }
    }

    /// Threads started and not yet joined.
    pub fn running(&self) -> usize {
        lock(&self.0.handles).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn stop_wakes_and_joins_every_thread_and_refuses_new_ones() {
        let threads = Threads::new();
        let finished = Arc::new(AtomicUsize::new(0));
        for i in 0..3 {
            let finished = Arc::clone(&finished);
            threads
                .spawn(&format!("t{i}"), move |stop| {
                    while !stop.wait(Duration::from_secs(60)) {}
                    finished.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
        assert_eq!(threads.running(), 3);
        threads.stop_and_join();
        assert_eq!(finished.load(Ordering::SeqCst), 3);
        assert_eq!(threads.running(), 0);
        assert!(threads.spawn("late", |_| {}).is_err());
        threads.stop_and_join();
    }
}
