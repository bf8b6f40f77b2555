//! The HTTP transport against the real licence server (many requests over one keep-alive connection,
//! a server restarted under an idle connection) and against small hostile servers written here on
//! 127.0.0.1: silent, closing idle connections, ignoring its own `Connection: close`, answering garbage,
//! endless heads, huge lengths, or dripping its answer. Every wait is bounded.

mod common;

use common::*;
use licence_protocol::channel::{Channel, Handshake, Role, SealedAnswer, SealedMessage};
use licence_protocol::wire::{
    path, ConnectRequest, ConnectResponse, ErrorCode, LicenceGrant, ObtainRequest, SessionRequest, WireError,
};
use licenceaddin_client::conf::Endpoint;
use licenceaddin_client::facts;
use licenceaddin_client::http1::Malformed;
use licenceaddin_client::transport::{Answer, HttpTransport, NoAnswer, Timeouts, Transport};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

fn timeouts() -> Timeouts {
    Timeouts { connect: Duration::from_millis(500), request: Duration::from_millis(400) }
}

fn post_json<T: serde::de::DeserializeOwned>(
    transport: &HttpTransport,
    endpoint: &Endpoint,
    path: &str,
    body: &impl serde::Serialize,
) -> T {
    let answer = transport.post(endpoint, path, &serde_json::to_string(body).unwrap()).unwrap();
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    serde_json::from_str(&answer.body).unwrap()
}

/// A held licence: the connection's channel, its last request number and the session's check request.
struct Held {
    channel: Channel,
    seq: u64,
    check: SessionRequest,
}

/// One sealed call in `held`'s channel, as the client makes it: the raw answer.
fn sealed_post(
    transport: &HttpTransport,
    endpoint: &Endpoint,
    held: &mut Held,
    path: &str,
    body: &impl serde::Serialize,
) -> Answer {
    held.seq += 1;
    let sealed = held.channel.seal(path, held.seq, &serde_json::to_vec(body).unwrap());
    transport.post(endpoint, path, &serde_json::to_string(&sealed).unwrap()).unwrap()
}

/// [`sealed_post`] that must succeed: the opened answer.
fn sealed_json<T: serde::de::DeserializeOwned>(
    transport: &HttpTransport,
    endpoint: &Endpoint,
    held: &mut Held,
    path: &str,
    body: &impl serde::Serialize,
) -> T {
    let answer = sealed_post(transport, endpoint, held, path, body);
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    let message: SealedMessage = serde_json::from_str(&answer.body).unwrap();
    let plain = held.channel.open_answer(path, held.seq, &message).unwrap();
    match serde_json::from_slice::<SealedAnswer<T>>(&plain).unwrap() {
        SealedAnswer::Ok(value) => value,
        SealedAnswer::Err(e) => panic!("{path}: {e:?}"),
    }
}

/// Connects (protocol 2, with a channel key) and obtains one licence.
fn hold_licence(transport: &HttpTransport, endpoint: &Endpoint) -> Held {
    let handshake = Handshake::new();
    let hello = ConnectRequest { client_key: Some(handshake.public_hex()), ..facts::connect_request(&caller()) };
    let connected: ConnectResponse = post_json(transport, endpoint, path::CONNECT, &hello);
    assert!(!connected.proofs.is_empty());
    let channel =
        handshake.finish(Role::Client, &connected.connection_id, connected.server_key.as_deref().unwrap()).unwrap();
    let check = SessionRequest { connection_id: connected.connection_id.clone(), session_id: String::new() };
    let mut held = Held { channel, seq: 0, check };
    let obtain = ObtainRequest { connection_id: connected.connection_id.clone(), session: session(1) };
    let grant: LicenceGrant = sealed_json(transport, endpoint, &mut held, path::OBTAIN, &obtain);
    held.check.session_id = grant.session_id;
    held
}

#[test]
fn many_checks_against_the_real_server_answer_over_keep_alive() {
    let server = TestServer::with_licences("transport-keepalive", 1, "");
    let transport = HttpTransport::new(Timeouts::default());
    let mut held = hold_licence(&transport, &server.endpoint());
    let check = held.check.clone();
    for _ in 0..200 {
        let grant: LicenceGrant = sealed_json(&transport, &server.endpoint(), &mut held, path::CHECK, &check);
        assert_eq!(grant.session_id, check.session_id);
        assert!(grant.reused);
    }
    let sessions = server.sessions();
    assert_eq!(sessions["Sessions"].as_array().map(Vec::len), Some(1), "{sessions}");
}

#[test]
fn a_server_restarted_under_an_idle_connection_is_reached_on_a_fresh_one() {
    let mut server = TestServer::with_licences("transport-restart", 1, "");
    let transport = HttpTransport::new(Timeouts::default());
    let mut held = hold_licence(&transport, &server.endpoint());
    server.kill();
    server.start();
    // The idle connection died with the old process; the check goes out once more on a new one, and
    // the restarted server, which kept the connection's lease but not its channel, answers 14.
    let check = held.check.clone();
    let answer = sealed_post(&transport, &server.endpoint(), &mut held, path::CHECK, &check);
    assert_eq!(answer.status, 404, "{}", answer.body);
    let error: WireError = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(error.code, ErrorCode::NoChannel, "{}", answer.body);
}

/// A server on 127.0.0.1 run by `script` in its own thread; what the script returns comes back on join.
fn hostile<T: Send + 'static>(script: impl FnOnce(TcpListener) -> T + Send + 'static) -> (Endpoint, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = Endpoint::new("127.0.0.1", listener.local_addr().unwrap().port());
    (endpoint, std::thread::spawn(move || script(listener)))
}

/// The next connection within `limit`, if one comes.
fn accept_within(listener: &TcpListener, limit: Duration) -> Option<TcpStream> {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok((stream, _)) = listener.accept() {
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            return Some(stream);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Reads one whole request (head and `Content-Length` body); false if the client went away.
fn read_request(stream: &mut TcpStream) -> bool {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    for _ in 0..100 {
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) {
            let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
            let length = head.split("content-length: ").nth(1).and_then(|rest| rest.split("\r\n").next()?.parse().ok());
            if request.len() >= end + length.unwrap_or(0) {
                return true;
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return false,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    false
}

fn reply(body: &str, extra: &str) -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{extra}\r\n{body}", body.len())
}

/// Runs one post and returns its outcome with how long it took.
fn timed_post(transport: &HttpTransport, endpoint: &Endpoint) -> (Result<Answer, NoAnswer>, Duration) {
    let started = Instant::now();
    let outcome = transport.post(endpoint, path::CHECK, "{}");
    (outcome, started.elapsed())
}

/// Holds `stream` open, unanswered, until the client hangs up (or the test's patience runs out).
fn until_the_client_hangs_up(mut stream: TcpStream) {
    stream.set_read_timeout(Some(licence_testkit::PATIENCE)).unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
}

#[test]
fn a_server_that_never_answers_times_out_at_the_request_limit() {
    let (endpoint, server) = hostile(|listener| {
        if let Some(mut stream) = accept_within(&listener, licence_testkit::PATIENCE) {
            read_request(&mut stream);
            until_the_client_hangs_up(stream);
        }
    });
    // Only the client's own limit can end the wait: the server neither answers nor closes.
    let (outcome, took) = timed_post(&HttpTransport::new(timeouts()), &endpoint);
    assert!(matches!(outcome, Err(NoAnswer::TimedOut)), "{outcome:?}");
    assert!(took >= timeouts().request, "{took:?}");
    server.join().unwrap();
}

#[test]
fn an_idle_connection_closed_by_the_server_is_replaced_once() {
    let (closed, closing) = std::sync::mpsc::channel();
    let (endpoint, server) = hostile(move |listener| {
        let mut first = accept_within(&listener, Duration::from_secs(2)).unwrap();
        assert!(read_request(&mut first));
        first.write_all(reply("first", "").as_bytes()).unwrap();
        drop(first); // closed while the client keeps it idle
        closed.send(()).unwrap();
        let mut second = accept_within(&listener, Duration::from_secs(2)).unwrap();
        assert!(read_request(&mut second));
        second.write_all(reply("second", "").as_bytes()).unwrap();
        accept_within(&listener, Duration::from_millis(300)).is_none()
    });
    let transport = HttpTransport::new(timeouts());
    assert_eq!(timed_post(&transport, &endpoint).0.unwrap(), Answer { status: 200, body: "first".into() });
    closing.recv_timeout(licence_testkit::PATIENCE).expect("the server closed the idle connection");
    assert_eq!(timed_post(&transport, &endpoint).0.unwrap(), Answer { status: 200, body: "second".into() });
    assert!(server.join().unwrap(), "a third connection was opened");
}

#[test]
fn a_reused_connection_cut_off_mid_answer_is_not_retried() {
    let (endpoint, server) = hostile(|listener| {
        let mut only = accept_within(&listener, Duration::from_secs(2)).unwrap();
        assert!(read_request(&mut only));
        only.write_all(reply("first", "").as_bytes()).unwrap();
        assert!(read_request(&mut only));
        only.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap();
        drop(only);
        accept_within(&listener, Duration::from_millis(300)).is_none()
    });
    let transport = HttpTransport::new(timeouts());
    assert!(timed_post(&transport, &endpoint).0.is_ok());
    let outcome = timed_post(&transport, &endpoint).0;
    assert!(matches!(outcome, Err(NoAnswer::Malformed(Malformed::CutOff))), "{outcome:?}");
    assert!(server.join().unwrap(), "the request was sent again");
}

#[test]
fn connection_close_is_honoured_even_if_the_server_keeps_the_socket_open() {
    let (endpoint, server) = hostile(|listener| {
        let mut first = accept_within(&listener, Duration::from_secs(2)).unwrap();
        assert!(read_request(&mut first));
        first.write_all(reply("first", "Connection: close\r\n").as_bytes()).unwrap();
        // `first` stays open and unread: a request sent on it would never be answered.
        let mut second = accept_within(&listener, Duration::from_secs(2)).unwrap();
        assert!(read_request(&mut second));
        second.write_all(reply("second", "").as_bytes()).unwrap();
        drop(first);
    });
    let transport = HttpTransport::new(timeouts());
    assert!(timed_post(&transport, &endpoint).0.is_ok());
    assert_eq!(timed_post(&transport, &endpoint).0.unwrap(), Answer { status: 200, body: "second".into() });
    server.join().unwrap();
}

/// How a hostile server goes on after its answer.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    /// Closes the connection.
    Close,
    /// Keeps it open, saying nothing more, until the client hangs up: a client that waited for more
    /// would run into its request limit and report a time-out instead.
    Hold,
    /// Drips the answer, one byte every 20 ms (the pace of the hostile server, not a wait).
    Drip,
}

/// A server that answers the first request with `answer`, then goes on as `then` says.
fn answering(answer: Vec<u8>, then: Then) -> (Endpoint, JoinHandle<()>) {
    hostile(move |listener| {
        let Some(mut stream) = accept_within(&listener, Duration::from_secs(2)) else { return };
        if !read_request(&mut stream) {
            return;
        }
        if then != Then::Drip {
            let _ = stream.write_all(&answer);
            if then == Then::Hold {
                until_the_client_hangs_up(stream);
            }
            return;
        }
        for byte in answer.iter().take(100) {
            if stream.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

#[test]
fn hostile_answers_give_no_answer_quickly() {
    let endless_head =
        [b"HTTP/1.1 200 OK\r\n".as_slice(), &b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(2000)].concat();
    // Each verdict comes from the bytes alone, while the server still holds the connection open: a
    // client that waited for more would report a time-out instead. The cut-off answer is cut off by
    // the server closing, which the client must report as that, not wait out.
    for (answer, then, why) in [
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec(), Then::Hold, "malformed answer: bad status line"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(), Then::Close, "answer cut off"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n".to_vec(),
            Then::Hold,
            "answer body over 1048576 bytes",
        ),
        (endless_head, Then::Hold, "answer head over 16384 bytes or 100 fields"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\xff\xfe".to_vec(), Then::Hold, "answer is not UTF-8"),
    ] {
        let (endpoint, server) = answering(answer, then);
        let (outcome, _) = timed_post(&HttpTransport::new(timeouts()), &endpoint);
        assert_eq!(outcome.unwrap_err().to_string(), why);
        server.join().unwrap();
    }
}

#[test]
fn an_answer_dripped_slowly_is_cut_off_at_the_request_limit() {
    // The whole answer would take 41 × 20 ms, twice the request limit: a client that allowed the
    // limit per read instead of for the request would get it and report success.
    let (endpoint, server) = answering(reply("{}", "").into_bytes(), Then::Drip);
    let (outcome, took) = timed_post(&HttpTransport::new(timeouts()), &endpoint);
    assert!(matches!(outcome, Err(NoAnswer::TimedOut)), "{outcome:?}");
    assert!(took >= timeouts().request, "{took:?}");
    server.join().unwrap();
}
