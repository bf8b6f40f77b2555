//! Waiting in tests: on an event, with a deadline, never a bare sleep. A wait that runs out panics
//! naming what it waited for, so a failure says which event never came rather than "assertion failed";
//! the deadlines are generous (a loaded machine only makes the test slower, never makes it fail).

use std::time::{Duration, Instant};

/// How long a test waits for something that takes a moment on an idle machine (a server start, a
/// rescan of the data folder, a heartbeat): long enough that only an event that never comes runs it out.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(20);

/// Waits until `done` holds, looking every few milliseconds; panics after `limit` saying `what` was
/// awaited.
pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    wait_for(limit, what, || done().then_some(()));
}

/// Waits until `found` gives a value and returns it; panics after `limit` saying `what` was awaited.
pub fn wait_for<T>(limit: Duration, what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}: it never happened");
        std::thread::sleep(POLL);
    }
}

/// Checks that `holds` stays true for the whole of `window` (a thing that must *not* happen: no late
/// event, no further connection), panicking at the first look that finds it false. A slow machine
/// looks less often within the window; it never makes this fail.
pub fn holds_for(window: Duration, what: &str, mut holds: impl FnMut() -> bool) {
    let end = Instant::now() + window;
    loop {
        assert!(holds(), "{what} stopped holding within {window:?}");
        if Instant::now() >= end {
            return;
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn a_wait_returns_once_the_condition_holds() {
        let looks = AtomicU32::new(0);
        wait_until(PATIENCE, "the third look", || looks.fetch_add(1, Ordering::SeqCst) == 2);
        assert_eq!(looks.load(Ordering::SeqCst), 3);
        assert_eq!(wait_for(PATIENCE, "a value", || Some(7)), 7);
    }

    #[test]
    #[should_panic(expected = "waited 0ns for the impossible: it never happened")]
    fn a_wait_that_runs_out_names_what_it_waited_for() {
        wait_until(Duration::ZERO, "the impossible", || false);
    }

    #[test]
    #[should_panic(expected = "the quiet stopped holding")]
    fn holds_for_fails_at_the_first_false_look() {
        let looks = AtomicU32::new(0);
        holds_for(PATIENCE, "the quiet", || looks.fetch_add(1, Ordering::SeqCst) < 2);
    }
}
