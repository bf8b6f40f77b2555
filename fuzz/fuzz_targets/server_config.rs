//! `licenceserver.conf` is edited by hand, and a bad file must never stop the server: any UTF-8 text
//! yields a usable configuration whose values are all within their documented ranges, and every
//! complaint names this file and a line that exists.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licenceserver::config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (config, problems) = config::parse(text, "fuzz.conf");
    let lines = text.lines().count();

    for problem in &problems {
        assert_eq!(problem.file, "fuzz.conf");
        assert!(problem.line <= lines, "problem on line {} of {lines}: {}", problem.line, problem.reason);
        assert!(problem.to_string().starts_with("fuzz.conf:"), "{problem}");
    }
    assert_ne!(config.port, 0);
    assert!((2..=3600).contains(&config.connection_timeout), "ConnectionTimeout {}", config.connection_timeout);
    assert!((2..=86_400).contains(&config.session_timeout), "SessionTimeout {}", config.session_timeout);
    assert!((1..=10_000_000).contains(&config.max_connections), "MaxConnections {}", config.max_connections);
    assert!((1..=10_000_000).contains(&config.max_sessions), "MaxSessions {}", config.max_sessions);
    assert!(config.machine_id_file.as_ref().is_none_or(|path| !path.as_os_str().is_empty()));
});
