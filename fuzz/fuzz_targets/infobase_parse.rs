//! The infobase connection string is whatever a session reports (`InfoBaseConnectionString`), and it
//! decides how the session's licence is counted. Any UTF-8 text must parse or be refused without a
//! panic, a refusal must point inside the text, every key read must be a non-blank trimmed name,
//! and what was read must read back the same when written out again in quotes.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licence_protocol::infobase::{mode_of, ConnectionString};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mode = mode_of(text);
    match ConnectionString::parse(text) {
        Err(e) => {
            assert!(e.at <= text.len(), "refused at {} of {}", e.at, text.len());
            assert_eq!(mode, None, "an unparseable string names no mode");
        }
        Ok(parsed) => {
            assert_eq!(mode, parsed.mode());
            for (key, _) in &parsed.params {
                assert!(!key.is_empty() && key.trim() == key && !key.contains(['=', ';']), "key {key:?}");
            }
            let written: String =
                parsed.params.iter().map(|(k, v)| format!("{k}=\"{}\";", v.replace('"', "\"\""))).collect();
            let again = ConnectionString::parse(&written).expect("a written string parses");
            assert_eq!(again, parsed, "{written}");
        }
    }
});
