//! The network edge of the client: one blocking `POST` of a JSON body to one endpoint, behind the small
//! [`Transport`] trait so the failover logic is tested with fakes and run with [`HttpTransport`].
//!
//! The line drawn here is the one failover needs: an HTTP answer of any status is an [`Answer`]; no
//! answer at all (refused, reset, timed out, name not resolved, an answer that is not HTTP) is
//! [`NoAnswer`].
//!
//! [`HttpTransport`] is our own small HTTP/1.1 client over `std::net::TcpStream` (the parsing is in
//! [`crate::http1`]) rather than ureq 2, which it replaced because ureq's bookkeeping cost more than the
//! check itself. Measured with `scripts/bench-addin.sh` (CheckLicence through the add-in next to the same
//! request as a raw keep-alive round trip from C): with ureq 2.12 the add-in took 36 µs against 19 µs raw
//! (1.88x; the target is 1.5x). strace showed why: per request ureq made about 25 system calls where the
//! raw client makes 2 — it sets both socket timeouts again before every read and when pooling (18
//! `setsockopt`), peeks at the pooled socket, asks for `getsockname`, and sends head and body in two
//! `send`s — and ureq 2 has no hook for plain TCP connections to change that. This transport makes 4:
//! one write timeout, one `send` of head and body together, one read timeout, one `recv`; the same
//! benchmark then gives 21 µs against 19 µs (1.08x).
//!
//! One keep-alive connection per endpoint is kept between requests. A server may close an idle one at
//! any time, so a request that fails on a *reused* connection before any byte of the answer arrived is
//! sent once more on a fresh connection; the server's calls are safe to repeat (an obtain with the same
//! session facts gets the same seat back). All waiting is bounded: the connect time limit, then the
//! request time limit over the whole exchange (a server that drips its answer is cut off at it).

use crate::conf::Endpoint;
use crate::http1::{self, Malformed, Response, ResponseParser};
use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Connect and request time limits, so a server that accepts the TCP connection and never answers
/// cannot hang the 1C process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP connection to one endpoint.
    pub connect: Duration,
    /// The whole request to one endpoint, connection included.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(2), request: Duration::from_secs(5) }
    }
}

/// An HTTP answer: its status and body text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Why an endpoint gave no answer: a few words for the log and the error message (`connection
/// refused`, `timed out`, `answer cut off`), with the socket's or the parser's error as the source.
#[derive(Debug, thiserror::Error)]
pub enum NoAnswer {
    /// The endpoint's name resolved to no address.
    #[error("name not resolved")]
    NotResolved(#[source] Option<io::Error>),
    /// The socket failed: refused, reset, unreachable, …
    #[error("{}", io_words(.0))]
    Io(#[source] io::Error),
    /// The time limit passed.
    #[error("timed out")]
    TimedOut,
    /// The server closed the connection before any byte of an answer.
    #[error("connection closed")]
    Closed,
    /// What came back is not an acceptable HTTP answer.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// The answer's body is not text.
    #[error("answer is not UTF-8")]
    NotUtf8(#[source] std::string::FromUtf8Error),
    /// The client was told to stop before this endpoint answered (see `Client::cancel_flag`).
    #[error("cancelled")]
    Cancelled,
}

/// Sends one request to one endpoint.
pub trait Transport: Send + Sync {
    fn post(&self, endpoint: &Endpoint, path: &str, body: &str) -> Result<Answer, NoAnswer>;
}

/// The real transport: HTTP/1.1 with one idle keep-alive connection per endpoint.
pub struct HttpTransport {
    timeouts: Timeouts,
    idle: Mutex<HashMap<Endpoint, TcpStream>>,
}

impl HttpTransport {
    pub fn new(timeouts: Timeouts) -> Self {
        Self { timeouts, idle: Mutex::default() }
    }

    fn take_idle(&self, endpoint: &Endpoint) -> Option<TcpStream> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).remove(endpoint)
    }

    fn keep_idle(&self, endpoint: &Endpoint, stream: TcpStream) {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).insert(endpoint.clone(), stream);
    }

    fn answer(&self, endpoint: &Endpoint, stream: TcpStream, response: Response) -> Result<Answer, NoAnswer> {
        if response.keep_alive {
            self.keep_idle(endpoint, stream);
        }
        let body = String::from_utf8(response.body).map_err(NoAnswer::NotUtf8)?;
        Ok(Answer { status: response.status, body })
    }
}

impl Transport for HttpTransport {
    fn post(&self, endpoint: &Endpoint, path: &str, body: &str) -> Result<Answer, NoAnswer> {
        let deadline = Instant::now() + self.timeouts.request;
        let request = http1::post_request(endpoint, path, body);
        if let Some(mut stream) = self.take_idle(endpoint) {
            match exchange(&mut stream, &request, deadline) {
                Ok(response) => return self.answer(endpoint, stream, response),
                Err(Failure { stale: true, why }) => {
                    log::debug!("idle connection to {endpoint} lost ({why}), reconnecting")
                }
                Err(Failure { why, .. }) => return Err(why),
            }
        }
        let connect_deadline = deadline.min(Instant::now() + self.timeouts.connect);
        let mut stream = connect(endpoint, connect_deadline)?;
        let response = exchange(&mut stream, &request, deadline).map_err(|failure| failure.why)?;
        self.answer(endpoint, stream, response)
    }
}

/// A failed exchange; `stale` when nothing of an answer arrived because the connection was already
/// closed or reset, which on a reused connection means the server dropped it while it was idle.
struct Failure {
    why: NoAnswer,
    stale: bool,
}

impl From<NoAnswer> for Failure {
    fn from(why: NoAnswer) -> Self {
        Self { why, stale: false }
    }
}

/// The first address of `endpoint` that accepts a connection before `deadline`.
fn connect(endpoint: &Endpoint, deadline: Instant) -> Result<TcpStream, NoAnswer> {
    let addresses =
        (endpoint.host.as_str(), endpoint.port).to_socket_addrs().map_err(|e| NoAnswer::NotResolved(Some(e)))?;
    let mut last = NoAnswer::NotResolved(None);
    for address in addresses {
        match TcpStream::connect_timeout(&address, time_left(deadline)?) {
            Ok(stream) => {
                stream.set_nodelay(true).map_err(describe)?;
                return Ok(stream);
            }
            Err(e) => last = describe(e),
        }
    }
    Err(last)
}

/// Writes `request` and reads one answer, all before `deadline`.
fn exchange(stream: &mut TcpStream, request: &[u8], deadline: Instant) -> Result<Response, Failure> {
    stream.set_write_timeout(Some(time_left(deadline)?)).map_err(describe)?;
    if let Err(e) = stream.write_all(request) {
        return Err(Failure { stale: is_closed(&e), why: describe(e) });
    }
    let mut parser = ResponseParser::default();
    let mut buffer = [0u8; 8192];
    let mut received = false;
    loop {
        stream.set_read_timeout(Some(time_left(deadline)?)).map_err(describe)?;
        match stream.read(&mut buffer) {
            Ok(0) if !received => return Err(Failure { why: NoAnswer::Closed, stale: true }),
            Ok(0) => return parser.end().map_err(|e| NoAnswer::from(e).into()),
            Ok(n) => {
                received = true;
                if let Some(response) = parser.push(&buffer[..n]).map_err(NoAnswer::from)? {
                    return Ok(response);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure { stale: !received && is_closed(&e), why: describe(e) }),
        }
    }
}

/// The time until `deadline`; none left is `timed out`.
fn time_left(deadline: Instant) -> Result<Duration, NoAnswer> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(NoAnswer::TimedOut);
    }
    Ok(left)
}

/// The server had closed or reset the connection.
fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe | ErrorKind::NotConnected
    )
}

/// A socket error as a [`NoAnswer`]: a timeout is [`NoAnswer::TimedOut`], a closed connection
/// [`NoAnswer::Closed`], anything else [`NoAnswer::Io`] with the error kept.
fn describe(e: io::Error) -> NoAnswer {
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => NoAnswer::TimedOut,
        ErrorKind::BrokenPipe | ErrorKind::NotConnected => NoAnswer::Closed,
        _ => NoAnswer::Io(e),
    }
}

/// A socket error in a few words: `connection refused`, `connection reset`, … (the error's own text
/// for kinds without words of ours).
fn io_words(e: &io::Error) -> String {
    let words = match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused",
        ErrorKind::TimedOut | ErrorKind::WouldBlock => "timed out",
        ErrorKind::ConnectionReset => "connection reset",
        ErrorKind::ConnectionAborted => "connection aborted",
        ErrorKind::BrokenPipe | ErrorKind::NotConnected => "connection closed",
        ErrorKind::NetworkUnreachable => "network unreachable",
        ErrorKind::HostUnreachable => "host unreachable",
        ErrorKind::AddrNotAvailable => "address not available",
        _ => return e.to_string(),
    };
    words.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// Answers one request on `listener` with `status` and `body`, then closes.
    fn answer_once(listener: TcpListener, status: &'static str, body: &'static str) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Read until the JSON body's closing brace has arrived (bounded by the read timeout).
            while !request.ends_with(b"}") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let reply = format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            stream.write_all(reply.as_bytes()).unwrap();
        })
    }

    fn short() -> Timeouts {
        Timeouts { connect: Duration::from_millis(500), request: Duration::from_millis(300) }
    }

    #[test]
    fn an_error_status_is_an_answer_with_its_body() {
        for host in ["127.0.0.1", "::1"] {
            let Ok(listener) = TcpListener::bind((host, 0)) else { continue };
            let endpoint = Endpoint::new(host, listener.local_addr().unwrap().port());
            let server = answer_once(listener, "409 Conflict", r#"{"Code":3}"#);
            let answer = HttpTransport::new(short()).post(&endpoint, "/licence/connect", "{}").unwrap();
            assert_eq!(answer, Answer { status: 409, body: r#"{"Code":3}"#.into() });
            server.join().unwrap();
        }
    }

    #[test]
    fn refused_and_silent_endpoints_give_no_answer() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let refused = HttpTransport::new(short()).post(&Endpoint::new("127.0.0.1", port), "/", "{}").unwrap_err();
        assert!(matches!(&refused, NoAnswer::Io(e) if e.kind() == ErrorKind::ConnectionRefused), "{refused:?}");
        assert_eq!(refused.to_string(), "connection refused");

        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = Endpoint::new("127.0.0.1", silent.local_addr().unwrap().port());
        let started = Instant::now();
        let no = HttpTransport::new(short()).post(&endpoint, "/", "{}").unwrap_err();
        assert!(started.elapsed() >= short().request, "{no:?}");
        assert!(matches!(no, NoAnswer::TimedOut), "{no:?}");
    }

    #[test]
    fn an_unresolvable_name_gives_no_answer() {
        let no = HttpTransport::new(short()).post(&Endpoint::new("no-such-host.invalid", 9099), "/", "{}").unwrap_err();
        assert!(matches!(no, NoAnswer::NotResolved(_)), "{no:?}");
        assert_eq!(no.to_string(), "name not resolved");
    }
}
