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
    let (startup, settings) = (&config.startup, &config.settings);
    assert_ne!(startup.port, 0);
    assert!((2..=3600).contains(&settings.connection_timeout), "ConnectionTimeout {}", settings.connection_timeout);
    assert!((2..=86_400).contains(&settings.session_timeout), "SessionTimeout {}", settings.session_timeout);
    assert!((1..=10_000_000).contains(&settings.max_connections), "MaxConnections {}", settings.max_connections);
    assert!((1..=10_000_000).contains(&settings.max_sessions), "MaxSessions {}", settings.max_sessions);
    assert!(startup.machine_id_file.as_ref().is_none_or(|path| !path.as_os_str().is_empty()));
});
