//! The licence holder against the real licence server: its heartbeat thread follows the session to
//! the reserved server when the main one is killed, reports a session the administrator ended, and
//! stops when dropped: woken at once from its wait, and trying no further server mid-failover.

mod common;

use common::*;
use licence_protocol::wire::ErrorCode;
use licenceaddin_client::client::Client;
use licenceaddin_client::session::{Event, LicenceHolder};
use licenceaddin_client::transport::Timeouts;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BEAT: Option<Duration> = Some(Duration::from_millis(100));

fn timeouts() -> Timeouts {
    Timeouts { connect: Duration::from_secs(1), request: Duration::from_millis(500) }
}

/// A callback that records events, and a way to wait (boundedly) for one.
fn recorder() -> (Arc<Mutex<Vec<Event>>>, impl Fn(Event) + Send + Sync + 'static) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    (events, move |e| sink.lock().unwrap().push(e))
}

fn wait_for(events: &Mutex<Vec<Event>>, what: impl Fn(&Event) -> bool) -> Event {
    licence_testkit::wait_for(licence_testkit::PATIENCE, "the awaited event", || {
        events.lock().unwrap().iter().find(|e| what(e)).cloned()
    })
}

/// A server that accepts connections and never answers on them, counting them.
struct Silent {
    endpoint: licenceaddin_client::conf::Endpoint,
    accepted: Arc<AtomicUsize>,
}

impl Silent {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = licenceaddin_client::conf::Endpoint::new("127.0.0.1", listener.local_addr().unwrap().port());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Silent { endpoint, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Drops `holder` in a thread of its own and waits for the drop to return.
fn dropped(holder: LicenceHolder) {
    let (done, returned) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(holder);
        let _ = done.send(());
    });
    let limit = licence_testkit::PATIENCE;
    assert!(returned.recv_timeout(limit).is_ok(), "dropping the holder did not return within {limit:?}");
}

#[test]
fn the_holder_moves_to_the_reserved_server_with_the_same_session_when_the_main_one_dies() {
    let mut main = TestServer::with_licences("holder-main", 1, "");
    let reserve = TestServer::with_licences("holder-reserve", 1, "");
    let client = Client::new(vec![main.endpoint(), reserve.endpoint()], &caller(), timeouts());
    let (events, on_event) = recorder();
    let holder = LicenceHolder::obtain(client, session(7), BEAT, on_event).unwrap();
    assert_eq!(holder.server_in_use(), Some(main.endpoint()));

    main.kill();
    let moved = wait_for(&events, |e| matches!(e, Event::Moved { .. }));
    let Event::Moved { server, session_id } = moved else { unreachable!() };
    assert_eq!(server, reserve.endpoint());
    assert_eq!(holder.grant().session_id, session_id);

    let sessions = reserve.sessions();
    let listed = sessions["Sessions"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{sessions}");
    assert_eq!(listed[0]["SessionNumber"], "7");
    assert_eq!(listed[0]["UserName"], "user7");
    assert_eq!(holder.check().unwrap().session_id, session_id);
    assert_eq!(reserve.connections()["Connections"].as_array().map(Vec::len), Some(1));
    assert!(holder.release().unwrap());
    assert_eq!(reserve.sessions()["Sessions"].as_array().map(Vec::len), Some(0));
    // The release ended the connection too, not left it to its lease.
    assert_eq!(reserve.connections()["Connections"].as_array().map(Vec::len), Some(0));
    assert!(!events.lock().unwrap().iter().any(|e| matches!(e, Event::Lost { .. })));
}

#[test]
fn a_session_ended_by_the_administrator_is_lost_for_good() {
    let server = TestServer::with_licences("holder-ended", 1, "");
    let client = Client::new(vec![server.endpoint()], &caller(), timeouts());
    let (events, on_event) = recorder();
    let holder = LicenceHolder::obtain(client, session(1), BEAT, on_event).unwrap();
    let id = holder.grant().session_id;
    let url = format!("http://127.0.0.1:{}/api/sessions/{id}", server.port);
    let status = ureq::delete(&url).set("Authorization", licence_testkit::API_AUTHORIZATION).call().map(|r| r.status());
    assert!(matches!(status, Ok(200..=204)), "{status:?}");
    let lost = wait_for(&events, |e| matches!(e, Event::Lost { .. }));
    assert!(matches!(lost, Event::Lost { code: ErrorCode::SessionEnded, .. }), "{lost:?}");
}

#[test]
fn dropping_a_beating_holder_stops_its_thread_and_raises_no_event() {
    let server = TestServer::with_licences("holder-drop", 1, "");
    let client = Client::new(vec![server.endpoint()], &caller(), timeouts());
    let (events, on_event) = recorder();
    let holder = LicenceHolder::obtain(client, session(1), BEAT, on_event).unwrap();
    // The thread is beating: the server moved the connection's lease on at least once.
    let leased = |s: &TestServer| s.connections()["Connections"][0]["ExpireTime"].clone();
    let first = leased(&server);
    licence_testkit::wait_until(licence_testkit::PATIENCE, "a heartbeat", || leased(&server) != first);
    dropped(holder);
    assert!(events.lock().unwrap().is_empty(), "{:?}", events.lock().unwrap());
}

#[test]
fn dropping_the_holder_wakes_its_thread_rather_than_waiting_out_the_period() {
    let server = TestServer::with_licences("holder-drop-sleeping", 1, "");
    let client = Client::new(vec![server.endpoint()], &caller(), timeouts());
    let (events, on_event) = recorder();
    // A period far past the test's patience: a drop that waited for the next beat would never return.
    let hour = Some(Duration::from_secs(3600));
    let holder = LicenceHolder::obtain(client, session(1), hour, on_event).unwrap();
    dropped(holder);
    assert!(events.lock().unwrap().is_empty(), "{:?}", events.lock().unwrap());
}

#[test]
fn dropping_the_holder_mid_failover_waits_for_one_request_at_most() {
    let mut server = TestServer::with_licences("holder-drop-silent", 1, "");
    let (silent, after) = (Silent::start(), Silent::start());
    let endpoints = vec![server.endpoint(), silent.endpoint.clone(), after.endpoint.clone()];
    // A request limit well past the moment between seeing the request arrive and dropping.
    let patient = Timeouts { request: Duration::from_secs(5), ..timeouts() };
    let client = Client::new(endpoints, &caller(), patient);
    let (_events, on_event) = recorder();
    let holder = LicenceHolder::obtain(client, session(1), BEAT, on_event).unwrap();
    server.kill();
    // Failover has begun: the thread's request waits on the silent endpoint.
    licence_testkit::wait_until(licence_testkit::PATIENCE, "the failover to reach the silent endpoint", || {
        silent.accepted() > 0
    });
    let tried_before = after.accepted();
    dropped(holder);
    // The drop ended the failover with the request in flight: the next server was not tried.
    assert_eq!((tried_before, after.accepted()), (0, 0), "the stopped thread went on to the next server");
}

#[test]
fn a_lapsed_lease_is_obtained_again_with_the_same_seat() {
    let server = TestServer::with_licences("holder-lapsed", 1, "SessionTimeout=2");
    let client = Client::new(vec![server.endpoint()], &caller(), timeouts());
    let (events, on_event) = recorder();
    // Beating slower than the session lease lets the lease lapse before the first heartbeat.
    let holder = LicenceHolder::obtain(client, session(3), Some(Duration::from_millis(3500)), on_event).unwrap();
    let first = holder.grant();
    let recovered = wait_for(&events, |e| matches!(e, Event::Recovered { .. }));
    assert_eq!(recovered, Event::Recovered { session_id: holder.grant().session_id });
    assert_eq!(holder.grant().used_licence, first.used_licence);
    let sessions = server.sessions();
    assert_eq!(sessions["Sessions"].as_array().map(Vec::len), Some(1), "{sessions}");
}
