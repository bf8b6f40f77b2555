//! The blocking client against the real licence server: licences through the client, failover past
//! refusing and silent endpoints, the numbered errors a 1C developer sees.

mod common;

use common::*;
use licence_protocol::wire::ErrorCode;
use licenceaddin_client::client::Client;
use licenceaddin_client::facts::Caller;
use licenceaddin_client::transport::Timeouts;
use std::time::{Duration, Instant};

fn timeouts() -> Timeouts {
    Timeouts { connect: Duration::from_secs(2), request: Duration::from_millis(500) }
}

#[test]
fn obtain_check_release_and_key_info_through_the_client() {
    let server = TestServer::with_licences("client-basic", 2, "");
    let mut client = Client::new(vec![server.endpoint()], &caller(), timeouts());
    let connection = client.connect().unwrap();
    assert!(connection.heartbeat_seconds > 0);
    let first = client.obtain(&session(1)).unwrap();
    client.obtain(&session(2)).unwrap();
    let refused = client.obtain(&session(3)).unwrap_err();
    assert_eq!(refused.number(), 2, "{refused}");
    assert!(refused.message_ru().starts_with("Нет свободной лицензии ("), "{}", refused.message_ru());

    let again = client.obtain(&session(1)).unwrap();
    assert_eq!(again.session_id, first.session_id);
    assert!(again.reused);
    assert_eq!(client.check(&first.session_id).unwrap().session_id, first.session_id);
    let info = client.key_info().unwrap();
    assert_eq!((info.licence_count, info.licences_used), (2, 2));

    assert!(client.release(&first.session_id).unwrap());
    client.obtain(&session(3)).unwrap();
    assert_eq!(client.heartbeat().unwrap().lost_sessions, Vec::<String>::new());
    client.disconnect().unwrap();
    assert_eq!(server.sessions()["Sessions"].as_array().map(Vec::len), Some(0), "{}", server.sessions());
}

#[test]
fn a_refusing_main_server_hands_over_to_the_reserved_one_at_once() {
    let server = TestServer::with_licences("client-refused", 1, "");
    // A connect time limit far past the test's patience: a refusal waited out would never end.
    let endless = Timeouts { connect: Duration::from_secs(3600), ..timeouts() };
    let mut client = Client::new(vec![refusing_endpoint(), server.endpoint()], &caller(), endless);
    let (done, obtained) = std::sync::mpsc::channel();
    let endpoint = std::thread::spawn(move || {
        let outcome = client.obtain(&session(1)).map(|_| client.server_in_use().cloned());
        let _ = done.send(());
        outcome
    });
    // A refusal is not waited out: the grant comes from the reserved server long before the limit.
    let limit = licence_testkit::PATIENCE;
    assert!(obtained.recv_timeout(limit).is_ok(), "no grant within {limit:?}: the refusal was waited out");
    assert_eq!(endpoint.join().unwrap().unwrap(), Some(server.endpoint()));
}

#[test]
fn a_silent_server_is_left_after_the_request_time_limit() {
    let server = TestServer::with_licences("client-silent", 1, "");
    // Accepts TCP connections (the kernel's backlog) but never reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_endpoint = licenceaddin_client::conf::Endpoint::new("127.0.0.1", silent.local_addr().unwrap().port());
    let mut client = Client::new(vec![silent_endpoint, server.endpoint()], &caller(), timeouts());
    let started = Instant::now();
    client.connect().unwrap();
    let took = started.elapsed();
    eprintln!("failover past a silent endpoint took {took:?}");
    assert!(took >= timeouts().request, "{took:?}");
    assert_eq!(client.server_in_use(), Some(&server.endpoint()));
    drop(silent);
}

#[test]
fn no_server_answering_is_error_1() {
    let mut client = Client::new(vec![refusing_endpoint(), refusing_endpoint()], &caller(), timeouts());
    let e = client.obtain(&session(1)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServerUnreachable);
    assert_eq!(e.number(), 1);
    assert!(e.to_string().contains("connection refused"), "{e}");
    assert!(e.message_ru().starts_with("Сервер лицензий недоступен"));
}

#[test]
fn an_old_addin_hears_version_mismatch_with_the_servers_words() {
    let server = TestServer::with_licences("client-version", 1, "");
    let old = Caller { version: "2.1.7".into(), ..caller() };
    let mut client = Client::new(vec![server.endpoint()], &old, timeouts());
    let e = client.connect().unwrap_err();
    assert_eq!(e.number(), 3);
    assert_eq!(
        e.to_string(),
        format!("server version {} does not match client version 2.1.7", licence_protocol::VERSION)
    );
}

#[test]
fn a_killed_main_server_hands_the_sessions_to_the_reserved_one() {
    let mut main = TestServer::with_licences("client-main", 2, "");
    let reserve = TestServer::with_licences("client-reserve", 2, "");
    let mut client = Client::new(vec![main.endpoint(), reserve.endpoint()], &caller(), timeouts());
    let grant = client.obtain(&session(1)).unwrap();
    assert_eq!(client.server_in_use(), Some(&main.endpoint()));
    main.kill();
    let moved = client.check(&grant.session_id).unwrap();
    assert_eq!(client.server_in_use(), Some(&reserve.endpoint()));
    let sessions = reserve.sessions();
    let listed = sessions["Sessions"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{sessions}");
    assert_eq!(listed[0]["SessionNumber"], "1");
    assert_eq!(client.held()[0].grant.session_id, moved.session_id);
}

#[test]
fn reserved_servers_announced_by_the_server_take_over_when_it_dies() {
    let reserve = TestServer::with_licences("client-announced-reserve", 2, "");
    let mut main =
        TestServer::with_licences("client-announcing-main", 2, &format!("ReservedServers=127.0.0.1:{}", reserve.port));
    // The configuration names only the main server; the main server names its reserve.
    let mut client = Client::new(vec![main.endpoint()], &caller(), timeouts());
    let grant = client.obtain(&session(1)).unwrap();
    assert_eq!(client.endpoints(), [main.endpoint(), reserve.endpoint()]);
    main.kill();
    let moved = client.check(&grant.session_id).unwrap();
    assert_eq!(client.server_in_use(), Some(&reserve.endpoint()));
    assert_eq!(reserve.sessions()["Sessions"].as_array().unwrap().len(), 1);
    assert_eq!(client.held()[0].grant.session_id, moved.session_id);
}
