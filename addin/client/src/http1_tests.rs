//! Unit tests of the answer parser: the answers our server gives, every way of splitting them across
//! reads, and hostile input (garbage, endless heads, huge lengths, ambiguous framing) refused early.

use super::*;
use proptest::prelude::*;

/// Feeds `input` in one piece; `end` says whether the connection then closes.
fn parse(input: &[u8], end: bool) -> Result<Response, Malformed> {
    let mut parser = ResponseParser::default();
    match parser.push(input)? {
        Some(response) => Ok(response),
        None if end => parser.end(),
        None => Err(Malformed::CutOff),
    }
}

/// Feeds `input` in pieces of `size` bytes, then ends the connection.
fn parse_in_pieces(input: &[u8], size: usize) -> Result<Response, Malformed> {
    let mut parser = ResponseParser::default();
    for piece in input.chunks(size) {
        if let Some(response) = parser.push(piece)? {
            return Ok(response);
        }
    }
    parser.end()
}

fn ok(status: u16, body: &str, keep_alive: bool) -> Result<Response, Malformed> {
    Ok(Response { status, body: body.as_bytes().to_vec(), keep_alive })
}

const AXUM_CHECK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\
date: Tue, 24 Nov 2026 09:00:00 GMT\r\n\r\n{\"SessionID\":\"S\"}";

#[test]
fn the_servers_answer_with_content_length_keeps_the_connection() {
    assert_eq!(parse(AXUM_CHECK, false), ok(200, r#"{"SessionID":"S"}"#, true));
}

#[test]
fn every_split_of_an_answer_parses_the_same() {
    let chunked = b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n\
        4;ext=1\r\n{\"Co\r\nA\r\nde\":2,\"X\":\r\n1\r\n}\r\n0\r\nExpires: never\r\n\r\n";
    for (input, expected) in
        [(AXUM_CHECK, ok(200, r#"{"SessionID":"S"}"#, true)), (chunked, ok(409, r#"{"Code":2,"X":}"#, true))]
    {
        for size in 1..=input.len() {
            assert_eq!(parse_in_pieces(input, size), expected, "pieces of {size}");
        }
    }
}

#[test]
fn connection_close_and_http_1_0_end_the_connection() {
    let close = b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, close\r\nContent-Length: 2\r\n\r\n{}";
    assert_eq!(parse(close, false), ok(200, "{}", false));
    let old = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    assert_eq!(parse(old, false), ok(200, "{}", false));
    let old_kept = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}";
    assert_eq!(parse(old_kept, false), ok(200, "{}", true));
}

#[test]
fn a_body_without_length_ends_with_the_connection() {
    let input = b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n\r\nproxy says no";
    assert_eq!(parse_in_pieces(input, 5), ok(502, "proxy says no", false));
    assert_eq!(parse(b"HTTP/1.1 204 No Content\r\n\r\n", false), ok(204, "", true));
}

#[test]
fn a_missing_reason_phrase_is_accepted() {
    assert_eq!(parse(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false), ok(200, "", true));
    assert_eq!(parse(b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", false), ok(200, "", true));
}

#[test]
fn bytes_after_the_answer_make_the_connection_unusable() {
    let input = [AXUM_CHECK, b"HTTP/1.1 200 OK\r\n"].concat();
    assert_eq!(parse(&input, false), ok(200, r#"{"SessionID":"S"}"#, false));
}

#[test]
fn garbage_is_malformed() {
    for input in [
        &b"SSH-2.0-OpenSSH_9.6\r\n\r\n"[..],
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 600 Odd\r\n\r\n",
        b"HTTP/1.1 099 Odd\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"http/1.1 200 OK\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
    ] {
        assert_eq!(
            parse(input, true),
            Err(Malformed::Syntax("bad status line")),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn malformed_fields_are_refused() {
    for (fields, why) in [
        ("Content-Length : 2", "bad header name"),
        (" folded: line", "bad header name"),
        ("no colon here", "header line without a colon"),
        ("X: a\rb", "control byte in a header value"),
        ("X: a\nContent-Length: 2", "control byte in a header value"),
        ("Content-Length: -1", "bad Content-Length"),
        ("Content-Length: 0x10", "bad Content-Length"),
        ("Content-Length: 2, 2", "bad Content-Length"),
        ("Content-Length: 2\r\nContent-Length: 3", "differing Content-Length fields"),
        ("Content-Length: 2\r\nTransfer-Encoding: chunked", "both Content-Length and chunked"),
        ("Transfer-Encoding: gzip, chunked", "transfer coding other than chunked"),
        ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", "transfer coding other than chunked"),
    ] {
        let input = format!("HTTP/1.1 200 OK\r\n{fields}\r\n\r\n{{}}");
        assert_eq!(parse(input.as_bytes(), true), Err(Malformed::Syntax(why)), "{fields:?}");
    }
    let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(parse(interim, false), Err(Malformed::Syntax("interim 1xx answer")));
}

#[test]
fn an_endless_head_is_refused_at_its_limit() {
    let mut parser = ResponseParser::default();
    assert_eq!(parser.push(b"HTTP/1.1 200 OK\r\n"), Ok(None));
    let field = b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut fed = 17;
    let outcome = loop {
        match parser.push(field) {
            Ok(None) => fed += field.len(),
            other => break other,
        }
        assert!(fed <= MAX_HEAD + field.len(), "still reading after {fed} bytes");
    };
    assert_eq!(outcome, Err(Malformed::HeadTooLong));
    assert!(parser.pending.capacity() <= 2 * (MAX_HEAD + field.len()));
}

#[test]
fn too_many_fields_are_refused() {
    let fields = "X: 1\r\n".repeat(MAX_HEADERS + 1);
    let input = format!("HTTP/1.1 200 OK\r\n{fields}Content-Length: 0\r\n\r\n");
    assert_eq!(parse(input.as_bytes(), false), Err(Malformed::HeadTooLong));
}

#[test]
fn a_huge_content_length_is_refused_before_any_body() {
    for length in ["1048577", "99999999", "18446744073709551616", "000000000000000000000000001"] {
        let input = format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n");
        assert_eq!(parse(input.as_bytes(), false), Err(Malformed::BodyTooLarge), "{length}");
    }
    let at_limit = format!("HTTP/1.1 200 OK\r\nContent-Length: {MAX_BODY}\r\n\r\n");
    assert_eq!(parse(at_limit.as_bytes(), false), Err(Malformed::CutOff), "the limit itself is allowed");
}

#[test]
fn chunked_bodies_over_the_limit_are_refused() {
    let huge_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n";
    assert_eq!(parse(huge_chunk, false), Err(Malformed::BodyTooLarge));
    let overflow = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1FFFFFFFFFFFFFFFF\r\n";
    assert_eq!(parse(overflow, false), Err(Malformed::Syntax("bad chunk size")));

    // Many chunks that together pass the limit.
    let mut parser = ResponseParser::default();
    parser.push(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    let chunk = [b"10000\r\n".as_slice(), &[b'x'; 0x10000], b"\r\n"].concat();
    let outcome = (0..=MAX_BODY / 0x10000).map(|_| parser.push(&chunk)).find(|r| r.is_err());
    assert_eq!(outcome, Some(Err(Malformed::BodyTooLarge)));
}

#[test]
fn broken_chunk_framing_is_refused() {
    let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (chunks, expected) in [
        ("2\r\n{}XX0\r\n\r\n", Malformed::Syntax("chunk data not followed by CRLF")),
        ("zz\r\n", Malformed::Syntax("bad chunk size")),
        ("\r\n", Malformed::Syntax("bad chunk size")),
        ("2\r\n{}\r\n0\r\nnot a field\r\n\r\n", Malformed::Syntax("header line without a colon")),
        ("2\r\n{}\r\n", Malformed::CutOff),
    ] {
        assert_eq!(parse(format!("{head}{chunks}").as_bytes(), true), Err(expected), "{chunks:?}");
    }
    let endless_size_line = [head.as_bytes(), &[b'1'; 2000]].concat();
    assert_eq!(parse(&endless_size_line, false), Err(Malformed::Syntax("chunk size line too long")));
}

#[test]
fn an_answer_cut_off_is_not_an_answer() {
    assert_eq!(parse(&AXUM_CHECK[..AXUM_CHECK.len() - 1], true), Err(Malformed::CutOff));
    assert_eq!(parse(b"HTTP/1.1 200 OK\r\nContent-Le", true), Err(Malformed::CutOff));
    assert_eq!(ResponseParser::default().end(), Err(Malformed::CutOff));
}

#[test]
fn the_request_is_one_piece_with_its_length() {
    let request = post_request(&Endpoint::new("::1", 9099), "/licence/check", r#"{"A":"б"}"#);
    let text = String::from_utf8(request).unwrap();
    assert!(text.starts_with("POST /licence/check HTTP/1.1\r\nHost: [::1]:9099\r\n"), "{text}");
    assert!(text.ends_with("Content-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"A\":\"б\"}"), "{text}");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_nor_exceed_the_limits(input in proptest::collection::vec(any::<u8>(), 0..2048), size in 1usize..64) {
        if let Ok(response) = parse_in_pieces(&input, size) {
            prop_assert!(response.body.len() <= MAX_BODY);
            prop_assert!((200..600).contains(&response.status));
        }
    }

    #[test]
    fn any_split_of_a_valid_answer_gives_the_same_answer(
        body in "[ -~]{0,300}", chunk in 1usize..50, size in 1usize..40, chunked in any::<bool>()
    ) {
        let input = if chunked {
            let mut framed = String::from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            for piece in body.as_bytes().chunks(chunk) {
                framed += &format!("{:x}\r\n{}\r\n", piece.len(), std::str::from_utf8(piece).unwrap());
            }
            framed + "0\r\n\r\n"
        } else {
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        };
        prop_assert_eq!(parse_in_pieces(input.as_bytes(), size), ok(200, &body, true));
    }
}
