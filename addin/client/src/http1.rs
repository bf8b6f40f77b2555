//! HTTP/1.1 as the add-in speaks it, without I/O: the bytes of one `POST` and a strict, bounded parser
//! of the answer, fed with whatever the socket returned. [`crate::transport`] does the reading.
//!
//! The answer comes from the network, so the parser trusts nothing: the head is at most [`MAX_HEAD`]
//! bytes with at most [`MAX_HEADERS`] fields, the body at most [`MAX_BODY`] (a larger `Content-Length`
//! or chunk size is refused before anything is allocated), framing is `Content-Length`, `chunked` or the
//! end of the connection, and anything ambiguous (both framings, differing lengths, folded or bare-LF
//! lines, other transfer codings, interim `1xx` answers — we never send `Expect`) is [`Malformed`].
//! Memory held at any time is bounded by these limits plus one read.

use crate::conf::Endpoint;

/// The status line and header fields, terminator included.
pub const MAX_HEAD: usize = 16 * 1024;
/// The decoded body.
pub const MAX_BODY: usize = 1024 * 1024;
/// Header fields in the head (and trailer fields after a chunked body).
pub const MAX_HEADERS: usize = 100;
/// A chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 1024;

/// The bytes of `POST path` with a JSON `body`, head and body together so they go out in one write.
pub fn post_request(endpoint: &Endpoint, path: &str, body: &str) -> Vec<u8> {
    debug_assert!(path.starts_with('/') && !path.contains(['\r', '\n', ' ']), "{path:?}");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {endpoint}\r\nUser-Agent: licenceaddin/{}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    let mut request = Vec::with_capacity(head.len() + body.len());
    request.extend_from_slice(head.as_bytes());
    request.extend_from_slice(body.as_bytes());
    request
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// The connection may carry the next request: HTTP/1.1 without `Connection: close` (or 1.0 with
    /// `keep-alive`), a body not delimited by the close, and no stray bytes after the answer.
    pub keep_alive: bool,
}

/// Why the bytes are not an acceptable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("answer head over {MAX_HEAD} bytes or {MAX_HEADERS} fields")]
    HeadTooLong,
    #[error("answer body over {MAX_BODY} bytes")]
    BodyTooLarge,
    #[error("malformed answer: {0}")]
    Syntax(&'static str),
    #[error("answer cut off")]
    CutOff,
}

/// Reads one answer from the pieces the connection delivers.
#[derive(Debug, Default)]
pub struct ResponseParser {
    /// Received and not yet consumed: the head so far, or the unparsed tail of a chunk line.
    pending: Vec<u8>,
    stage: Stage,
}

#[derive(Debug, Default)]
enum Stage {
    #[default]
    Head,
    Body(Body),
    Done,
}

#[derive(Debug)]
struct Body {
    status: u16,
    keep_alive: bool,
    framing: Framing,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
enum Framing {
    /// `Content-Length`: this many bytes still to come.
    Length(usize),
    Chunked(Chunk),
    /// Neither: the body ends when the server closes the connection.
    UntilClose,
}

#[derive(Debug, Clone, Copy)]
enum Chunk {
    SizeLine,
    Data(usize),
    DataEnd,
    /// After the last chunk; counts the trailer fields seen.
    Trailers(usize),
}

impl ResponseParser {
    /// Takes the next bytes read from the connection; `Some` once the answer is complete.
    pub fn push(&mut self, data: &[u8]) -> Result<Option<Response>, Malformed> {
        if matches!(self.stage, Stage::Head) {
            let scanned = self.pending.len().saturating_sub(3);
            self.pending.extend_from_slice(data);
            let Some(end) = find(&self.pending[scanned..], b"\r\n\r\n").map(|i| scanned + i + 4) else {
                return if self.pending.len() > MAX_HEAD { Err(Malformed::HeadTooLong) } else { Ok(None) };
            };
            if end > MAX_HEAD {
                return Err(Malformed::HeadTooLong);
            }
            self.stage = Stage::Body(parse_head(&self.pending[..end])?);
            self.pending.drain(..end);
        } else {
            self.pending.extend_from_slice(data);
        }
        let Stage::Body(body) = &mut self.stage else {
            return Err(Malformed::Syntax("bytes after the answer"));
        };
        let (consumed, complete) = body.take(&self.pending)?;
        self.pending.drain(..consumed);
        if !complete {
            return Ok(None);
        }
        let Stage::Body(body) = std::mem::replace(&mut self.stage, Stage::Done) else { unreachable!() };
        let stray = !self.pending.is_empty();
        Ok(Some(Response { status: body.status, body: body.bytes, keep_alive: body.keep_alive && !stray }))
    }

    /// The server closed the connection: the answer if its body was delimited by the close.
    pub fn end(self) -> Result<Response, Malformed> {
        match self.stage {
            Stage::Body(Body { status, framing: Framing::UntilClose, bytes, .. }) => {
                Ok(Response { status, body: bytes, keep_alive: false })
            }
            _ => Err(Malformed::CutOff),
        }
    }
}

impl Body {
    /// Consumes what it can of `input`: how many bytes, and whether the body is complete.
    fn take(&mut self, input: &[u8]) -> Result<(usize, bool), Malformed> {
        match &mut self.framing {
            Framing::Length(left) => {
                let n = (*left).min(input.len());
                self.bytes.extend_from_slice(&input[..n]);
                *left -= n;
                Ok((n, *left == 0))
            }
            Framing::UntilClose => {
                if self.bytes.len() + input.len() > MAX_BODY {
                    return Err(Malformed::BodyTooLarge);
                }
                self.bytes.extend_from_slice(input);
                Ok((input.len(), false))
            }
            Framing::Chunked(chunk) => {
                let mut at = 0;
                loop {
                    let rest = &input[at..];
                    match chunk {
                        Chunk::SizeLine => {
                            let Some(line) = line_in(rest, MAX_CHUNK_LINE, "chunk size line too long")? else {
                                return Ok((at, false));
                            };
                            at += line.len() + 2;
                            let size = chunk_size(line)?;
                            if size > MAX_BODY - self.bytes.len() {
                                return Err(Malformed::BodyTooLarge);
                            }
                            *chunk = if size == 0 { Chunk::Trailers(0) } else { Chunk::Data(size) };
                        }
                        Chunk::Data(left) => {
                            let n = (*left).min(rest.len());
                            self.bytes.extend_from_slice(&rest[..n]);
                            at += n;
                            *left -= n;
                            if *left > 0 {
                                return Ok((at, false));
                            }
                            *chunk = Chunk::DataEnd;
                        }
                        Chunk::DataEnd => match rest {
                            [b'\r', b'\n', ..] => {
                                at += 2;
                                *chunk = Chunk::SizeLine;
                            }
                            [] | [b'\r'] => return Ok((at, false)),
                            _ => return Err(Malformed::Syntax("chunk data not followed by CRLF")),
                        },
                        Chunk::Trailers(seen) => {
                            let Some(line) = line_in(rest, MAX_HEAD, "trailer line too long")? else {
                                return Ok((at, false));
                            };
                            at += line.len() + 2;
                            if line.is_empty() {
                                return Ok((at, true));
                            }
                            *seen += 1;
                            if *seen > MAX_HEADERS {
                                return Err(Malformed::HeadTooLong);
                            }
                            field(line)?;
                        }
                    }
                }
            }
        }
    }
}

/// The line before the first CRLF of `input`, `None` while it has not fully arrived.
fn line_in<'a>(input: &'a [u8], limit: usize, too_long: &'static str) -> Result<Option<&'a [u8]>, Malformed> {
    match find(input, b"\r\n") {
        Some(end) if end <= limit => Ok(Some(&input[..end])),
        None if input.len() <= limit + 1 => Ok(None),
        _ => Err(Malformed::Syntax(too_long)),
    }
}

/// `1a3f` or `1a3f;name=value`: at most 8 hex digits, so no overflow.
fn chunk_size(line: &[u8]) -> Result<usize, Malformed> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = trim(digits);
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(Malformed::Syntax("bad chunk size"));
    }
    if line.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
        return Err(Malformed::Syntax("control byte in chunk size line"));
    }
    let text = std::str::from_utf8(digits).map_err(|_| Malformed::Syntax("bad chunk size"))?;
    usize::from_str_radix(text, 16).map_err(|_| Malformed::Syntax("bad chunk size"))
}

/// Status line and fields, `head` ending in the empty line.
fn parse_head(head: &[u8]) -> Result<Body, Malformed> {
    // Split at CRLF; a bare CR or LF left inside a line fails the checks of the status line and fields.
    let mut lines = crlf_lines(&head[..head.len() - 4]);
    let status_line = lines.next().unwrap_or_default();
    let (minor, status) = status_line_parts(status_line)?;
    if (100..200).contains(&status) {
        return Err(Malformed::Syntax("interim 1xx answer"));
    }
    let mut length: Option<usize> = None;
    let (mut chunked, mut close, mut keep) = (false, false, false);
    let mut count = 0;
    for line in lines {
        count += 1;
        if count > MAX_HEADERS {
            return Err(Malformed::HeadTooLong);
        }
        let (name, value) = field(line)?;
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = content_length(value)?;
            if length.is_some_and(|l| l != n) {
                return Err(Malformed::Syntax("differing Content-Length fields"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if chunked || !value.eq_ignore_ascii_case(b"chunked") {
                return Err(Malformed::Syntax("transfer coding other than chunked"));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(trim) {
                close |= option.eq_ignore_ascii_case(b"close");
                keep |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let keep_alive = !close && (minor == 1 || keep);
    let framing = match (status, length, chunked) {
        (204 | 304, _, _) => Framing::Length(0),
        (_, Some(_), true) => return Err(Malformed::Syntax("both Content-Length and chunked")),
        (_, Some(n), false) => Framing::Length(n),
        (_, None, true) => Framing::Chunked(Chunk::SizeLine),
        (_, None, false) => Framing::UntilClose,
    };
    let keep_alive = keep_alive && !matches!(framing, Framing::UntilClose);
    let capacity = match framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    Ok(Body { status, keep_alive, framing, bytes: Vec::with_capacity(capacity) })
}

/// `HTTP/1.1 200 OK` → (minor version, status); the reason may be empty or missing.
fn status_line_parts(line: &[u8]) -> Result<(u8, u16), Malformed> {
    let bad = Malformed::Syntax("bad status line");
    let minor = match line.get(..9) {
        Some(b"HTTP/1.1 ") => 1,
        Some(b"HTTP/1.0 ") => 0,
        _ => return Err(bad),
    };
    let code = line.get(9..12).ok_or(bad.clone())?;
    if !code.iter().all(u8::is_ascii_digit) || !(b'1'..=b'5').contains(&code[0]) {
        return Err(bad);
    }
    let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let reason = match &line[12..] {
        [] => &[][..],
        [b' ', reason @ ..] => reason,
        _ => return Err(bad),
    };
    if reason.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
        return Err(bad);
    }
    Ok((minor, status))
}

/// `Name: value` with a token name and no line folding; the value without surrounding blanks.
fn field(line: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let colon = line.iter().position(|&b| b == b':').ok_or(Malformed::Syntax("header line without a colon"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
        return Err(Malformed::Syntax("bad header name"));
    }
    if value.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
        return Err(Malformed::Syntax("control byte in a header value"));
    }
    Ok((name, trim(value)))
}

fn content_length(value: &[u8]) -> Result<usize, Malformed> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(Malformed::Syntax("bad Content-Length"));
    }
    // More than 7 digits is over the limit whatever they say; fewer cannot overflow.
    if value.len() > 7 {
        return Err(Malformed::BodyTooLarge);
    }
    let n = value.iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    if n > MAX_BODY {
        return Err(Malformed::BodyTooLarge);
    }
    Ok(n)
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn crlf_lines(mut rest: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let line = match find(rest, b"\r\n") {
            Some(end) => {
                let line = &rest[..end];
                rest = &rest[end + 2..];
                line
            }
            None => {
                done = true;
                rest
            }
        };
        Some(line)
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[path = "http1_tests.rs"]
mod tests;
