//! The network edge of the client: one blocking `POST` of a JSON body to one endpoint, behind the small
//! [`Transport`] trait so the failover logic is tested with fakes and run with [`HttpTransport`]
//! (ureq 2, no TLS).
//!
//! The line drawn here is the one failover needs: an HTTP answer of any status is an [`Answer`]; no
//! answer at all (refused, reset, timed out, name not resolved) is [`NoAnswer`].

use crate::conf::Endpoint;
use std::time::Duration;

/// Connect and request time limits; ureq has none by default, so a server that accepts the TCP
/// connection and never answers would otherwise hang the 1C process.
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

/// Why an endpoint gave no answer, in words for the log and the error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoAnswer(pub String);

/// Sends one request to one endpoint.
pub trait Transport: Send + Sync {
    fn post(&self, endpoint: &Endpoint, path: &str, body: &str) -> Result<Answer, NoAnswer>;
}

/// The real transport: a ureq agent with explicit timeouts.
pub struct HttpTransport {
    agent: ureq::Agent,
}

impl HttpTransport {
    pub fn new(timeouts: Timeouts) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeouts.connect)
            .timeout(timeouts.request)
            .redirects(0)
            .user_agent(concat!("licenceaddin/", env!("CARGO_PKG_VERSION")))
            .build();
        Self { agent }
    }
}

impl Transport for HttpTransport {
    fn post(&self, endpoint: &Endpoint, path: &str, body: &str) -> Result<Answer, NoAnswer> {
        let url = format!("{}{path}", endpoint.base_url());
        let response = match self.agent.post(&url).set("Content-Type", "application/json").send_string(body) {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(t)) => return Err(NoAnswer(describe(&t))),
        };
        let status = response.status();
        // A body cut off by a reset or the time limit is no answer either.
        let body = response.into_string().map_err(|e| NoAnswer(format!("reading the answer: {e}")))?;
        Ok(Answer { status, body })
    }
}

/// A transport error in a few words: `connection refused`, `timed out`, …
fn describe(t: &ureq::Transport) -> String {
    let mut text = t.to_string();
    if let Some(io) = std::error::Error::source(t).and_then(|s| s.downcast_ref::<std::io::Error>()) {
        text = match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timed out".to_owned(),
            std::io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
            _ => text,
        };
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
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
        assert_eq!(refused, NoAnswer("connection refused".into()));

        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = Endpoint::new("127.0.0.1", silent.local_addr().unwrap().port());
        let started = std::time::Instant::now();
        let no = HttpTransport::new(short()).post(&endpoint, "/", "{}").unwrap_err();
        assert!(started.elapsed() >= short().request, "{no:?}");
        assert_eq!(no, NoAnswer("timed out".into()));
    }
}
