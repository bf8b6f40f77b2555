//! The server loads every `*.licence` file in its data folder, whatever it is called, so the file
//! name parser sees arbitrary names. A name it accepts must be the canonical
//! `{KeyID}.{KeyNo}.licence` of what it returned, up to the case of the series.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licenceserver::keystore::parse_file_name;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else { return };
    let Some((series, key_no)) = parse_file_name(name) else { return };
    assert_ne!(key_no, 0, "`{name}` gave key number 0");
    let canonical = format!("{series}.{key_no}.licence");
    assert_eq!(parse_file_name(&canonical), Some((series, key_no)), "`{name}` → `{canonical}`");
    assert!(name.len() >= canonical.len(), "`{name}` is shorter than its canonical form `{canonical}`");
});
