//! The add-in's safe core, kept apart from the Native API layer (`addin/src`) so that it is plain,
//! testable Rust: the blocking client of the licence server with failover, `licenceaddin.conf`
//! resolution and the add-in's log files. Being filled by the add-in issue.
#![forbid(unsafe_code)]
