//! The INI reader behind both config files sees whatever an administrator (or a broken editor) saved.
//! Any UTF-8 text must parse without a panic, every complaint and every entry must point at a line
//! that exists, and what was read must be findable again through `get`, `sections` and `section`.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licence_protocol::ini::Ini;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let ini = Ini::parse(text);
    let lines = text.lines().count();

    for problem in &ini.problems {
        assert!((1..=lines).contains(&problem.line), "problem on line {} of {lines}: {}", problem.line, problem.reason);
        assert!(!problem.reason.is_empty());
    }
    for entry in &ini.entries {
        assert!((1..=lines).contains(&entry.line), "entry on line {} of {lines}", entry.line);
        assert!(!entry.key.is_empty());
        assert_eq!(entry.key.trim(), entry.key);
        assert_eq!(entry.value.trim(), entry.value);
        let found = ini.get(&entry.section, &entry.key).expect("an entry that was read is found by `get`");
        assert!(found.line >= entry.line, "`get` returned line {} before line {}", found.line, entry.line);
    }

    let sections = ini.sections();
    let mut counted = 0;
    for name in &sections {
        let in_section = ini.section(name).count();
        assert!(in_section > 0, "section `{name}` is listed but holds no entry");
        counted += in_section;
    }
    assert!(counted >= ini.entries.len(), "{counted} entries by section, {} in all", ini.entries.len());
});
