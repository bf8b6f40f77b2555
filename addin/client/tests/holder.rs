//! The licence holder against the real licence server: its heartbeat thread follows the session to
//! the reserved server when the main one is killed, reports a session the administrator ended, and
//! stops promptly when dropped.

mod common;

use common::*;
use licence_protocol::wire::ErrorCode;
use licenceaddin_client::client::Client;
use licenceaddin_client::session::{Event, LicenceHolder};
use licenceaddin_client::transport::Timeouts;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(e) = events.lock().unwrap().iter().find(|e| what(e)) {
            return e.clone();
        }
        assert!(Instant::now() < deadline, "no such event within 15 s: {:?}", events.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
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
    let status = ureq::delete(&url).set("Authorization", "Basic YWRtaW46YWRtaW4=").call().map(|r| r.status());
    assert!(matches!(status, Ok(200..=204)), "{status:?}");
    let lost = wait_for(&events, |e| matches!(e, Event::Lost { .. }));
    assert!(matches!(lost, Event::Lost { code: ErrorCode::SessionEnded, .. }), "{lost:?}");
}

#[test]
fn dropping_the_holder_stops_its_thread_within_one_request_time_limit() {
    let server = TestServer::with_licences("holder-drop", 1, "");
    let client = Client::new(vec![server.endpoint()], &caller(), timeouts());
    let (events, on_event) = recorder();
    let holder = LicenceHolder::obtain(client, session(1), BEAT, on_event).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    drop(holder);
    let took = started.elapsed();
    eprintln!("dropping the holder took {took:?}");
    assert!(took <= timeouts().request + Duration::from_millis(500), "{took:?}");
    assert!(events.lock().unwrap().is_empty(), "{:?}", events.lock().unwrap());
}

#[test]
fn dropping_the_holder_mid_failover_waits_for_one_request_at_most() {
    let mut server = TestServer::with_licences("holder-drop-silent", 1, "");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_endpoint = licenceaddin_client::conf::Endpoint::new("127.0.0.1", silent.local_addr().unwrap().port());
    let client = Client::new(vec![server.endpoint(), silent_endpoint], &caller(), timeouts());
    let (_events, on_event) = recorder();
    let holder = LicenceHolder::obtain(client, session(1), BEAT, on_event).unwrap();
    server.kill();
    // The thread is now (or soon) waiting on the silent endpoint.
    std::thread::sleep(Duration::from_millis(250));
    let started = Instant::now();
    drop(holder);
    let took = started.elapsed();
    eprintln!("dropping the holder mid-failover took {took:?}");
    assert!(took <= timeouts().request + Duration::from_millis(500), "{took:?}");
    drop(silent);
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
