//! A deliberately small HTTP/1.1 client: one keep-alive connection, one request in flight, request
//! bytes written by hand and only the status line and the body framing parsed from the answer. On two
//! cores a general-purpose client would spend as much CPU as the server under test; this one spends a
//! few microseconds per request, so the figures describe the server (and nginx) rather than the client.

use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Headers longer than this are not an answer we understand.
const MAX_HEAD: usize = 16 * 1024;
/// How much room each read asks for.
const READ_CHUNK: usize = 16 * 1024;

/// One answer; the body borrows the connection's buffer until the next call.
pub struct Response<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

impl Response<'_> {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A keep-alive connection that reconnects once when the peer closed it between requests (nginx
/// closes after `keepalive_requests`; a closed idle connection is not an error of the server).
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    body: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = connect(addr).await?;
        Ok(Self { addr, stream: Some(stream), buf: Vec::with_capacity(READ_CHUNK), body: Vec::new() })
    }

    /// Sends one complete request and reads its whole answer.
    pub async fn call(&mut self, request: &[u8]) -> io::Result<Response<'_>> {
        let fresh = self.stream.is_none();
        if fresh {
            self.reopen().await?;
        }
        match self.exchange(request).await {
            Ok(status) => Ok(Response { status, body: &self.body }),
            Err(e) if !fresh && is_closed_by_peer(&e) => {
                self.reopen().await?;
                let status = self.exchange(request).await?;
                Ok(Response { status, body: &self.body })
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    async fn reopen(&mut self) -> io::Result<()> {
        self.buf.clear();
        self.stream = Some(connect(self.addr).await?);
        Ok(())
    }

    async fn exchange(&mut self, request: &[u8]) -> io::Result<u16> {
        let Some(stream) = self.stream.as_mut() else { return Err(closed("no connection")) };
        stream.write_all(request).await?;
        let head = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            read_more(stream, &mut self.buf).await?;
        };
        let consumed = loop {
            if let Some(consumed) = take_body(&self.buf, &head, &mut self.body)? {
                break consumed;
            }
            read_more(stream, &mut self.buf).await?;
        };
        self.buf.drain(..consumed);
        if head.close {
            self.stream = None;
        }
        Ok(head.status)
    }
}

async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.reserve(READ_CHUNK);
    if stream.read_buf(buf).await? == 0 {
        return Err(closed("the peer closed the connection"));
    }
    Ok(())
}

fn closed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, what.to_owned())
}

fn is_closed_by_peer(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe)
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// What the status line and headers say about the answer.
#[derive(Debug, PartialEq)]
struct Head {
    status: u16,
    /// Where the body starts in the buffer.
    len: usize,
    framing: Framing,
    close: bool,
}

#[derive(Debug, PartialEq)]
enum Framing {
    Length(usize),
    Chunked,
}

/// The head of the answer once the buffer holds all of it.
fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD { Err(malformed("answer headers too long")) } else { Ok(None) };
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| malformed("answer headers are not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 ").or_else(|| line.strip_prefix("HTTP/1.0 ")))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| malformed("no HTTP/1.x status line"))?;
    let mut framing = Framing::Length(0);
    let mut close = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            framing = Framing::Length(value.parse().map_err(|_| malformed("bad Content-Length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            framing = Framing::Chunked;
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        }
    }
    Ok(Some(Head { status, len: end + 4, framing, close }))
}

/// Copies the body into `body` once the buffer holds all of it; answers how many bytes the whole
/// answer took.
fn take_body(buf: &[u8], head: &Head, body: &mut Vec<u8>) -> io::Result<Option<usize>> {
    body.clear();
    match head.framing {
        Framing::Length(n) => {
            let end = head.len + n;
            if buf.len() < end {
                return Ok(None);
            }
            body.extend_from_slice(&buf[head.len..end]);
            Ok(Some(end))
        }
        Framing::Chunked => take_chunks(buf, head.len, body),
    }
}

/// Decodes a chunked body that starts at `at`; `None` while it is incomplete.
fn take_chunks(buf: &[u8], mut at: usize, body: &mut Vec<u8>) -> io::Result<Option<usize>> {
    loop {
        let Some(line_len) = find(&buf[at..], b"\r\n") else { return Ok(None) };
        let size_text = std::str::from_utf8(&buf[at..at + line_len]).map_err(|_| malformed("bad chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| malformed("bad chunk size"))?;
        let data = at + line_len + 2;
        if size == 0 {
            // No trailers are expected: the last chunk ends with an empty line.
            return Ok((buf.len() >= data + 2).then_some(data + 2));
        }
        if buf.len() < data + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[data..data + size]);
        at = data + size + 2;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `POST path` with a JSON body, keep-alive.
pub fn post_json(host: SocketAddr, path: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// `GET path`, keep-alive, with basic authentication when `authorization` is given.
pub fn get(host: SocketAddr, path: &str, authorization: Option<&str>) -> Vec<u8> {
    let auth = authorization.map(|a| format!("Authorization: Basic {a}\r\n")).unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_with_length_is_read_once_complete() {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(parse_head(&answer[..20]).unwrap(), None);
        let head = parse_head(answer).unwrap().unwrap();
        assert_eq!(head, Head { status: 200, len: 38, framing: Framing::Length(5), close: false });
        let mut body = Vec::new();
        assert_eq!(take_body(&answer[..40], &head, &mut body).unwrap(), None);
        assert_eq!(take_body(answer, &head, &mut body).unwrap(), Some(answer.len()));
        assert_eq!(body, b"hello");
    }

    #[test]
    fn chunked_body_is_joined() {
        let answer = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let head = parse_head(answer).unwrap().unwrap();
        assert_eq!((head.status, &head.framing, head.close), (404, &Framing::Chunked, true));
        let mut body = Vec::new();
        assert_eq!(take_body(&answer[..answer.len() - 1], &head, &mut body).unwrap(), None);
        assert_eq!(take_body(answer, &head, &mut body).unwrap(), Some(answer.len()));
        assert_eq!(body, b"abcde");
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n").is_err());
    }
}
