//! The add-in reads the licence server's HTTP answers with its own small parser (`http1`), and a
//! hostile or broken server chooses those bytes. The first input byte picks how the rest is cut into
//! reads; the parser must give the same verdict however the bytes arrive, never panic, and never hand
//! back a body over its limit.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licenceaddin_client::http1::{Malformed, Response, ResponseParser, MAX_BODY};

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else { return };
    let whole = read(std::iter::once(bytes));
    let piecewise = read(bytes.chunks(usize::from(split % 32) + 1));
    match (&whole, &piecewise) {
        (Ok(a), Ok(b)) => {
            assert_eq!((a.status, &a.body), (b.status, &b.body), "the same answer however it is cut");
            assert!(a.body.len() <= MAX_BODY);
        }
        (Err(_), Err(_)) => {}
        _ => panic!("whole: {whole:?}, piecewise: {piecewise:?}"),
    }
});

/// What the transport does: push reads until an answer is complete, else the close decides.
fn read<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> Result<Response, Malformed> {
    let mut parser = ResponseParser::default();
    for piece in pieces {
        if let Some(response) = parser.push(piece)? {
            return Ok(response);
        }
    }
    parser.end()
}
