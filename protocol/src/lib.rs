//! What the licence server, the add-in and the vendor's tools share: the version rule, UTC times in
//! the API's ISO 8601 shape, the key's public fields, signed key files, this machine's identity, the
//! add-in wire messages, a line-aware INI reader, the key-kind rules (`pool`) and the scan of a data
//! folder of key files (`keystore`). Everything here is synchronous and, but for reading files in
//! `keystore` and `identity`, pure, so that every part of the system reads key files and messages
//! and decides which keys count with exactly the same code.
#![forbid(unsafe_code)]

pub mod activation;
pub mod centre;
pub mod channel;
pub mod clock;
pub mod datafile;
pub mod identity;
pub mod infobase;
pub mod ini;
pub mod key;
pub mod keyfile;
pub mod keystore;
pub mod pool;
pub mod sealbox;
pub mod series;
pub mod text;
pub mod time;
pub mod usbkey;
pub mod wire;

/// The full product version, `major.minor.release.build`, as `/api` and `/api/serverinfo` show it.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), ".0");

/// The part of a version that must match between server and add-in: `3.0` talks only to `3.0`.
pub fn compatibility_line(version: &str) -> Option<&str> {
    let mut dots = version.match_indices('.');
    let first = dots.next()?.0;
    let major = &version[..first];
    let end = dots.next().map_or(version.len(), |(i, _)| i);
    let minor = &version[first + 1..end];
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor)).then_some(&version[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_line_is_major_and_minor() {
        assert_eq!(compatibility_line("3.0.15.7528"), Some("3.0"));
        assert_eq!(compatibility_line("3.0"), Some("3.0"));
        assert_eq!(compatibility_line("2.1.4"), Some("2.1"));
        assert_eq!(compatibility_line("3"), None);
        assert_eq!(compatibility_line("x.0.1"), None);
        assert_eq!(compatibility_line(""), None);
    }

    #[test]
    fn version_has_four_parts() {
        assert_eq!(VERSION.split('.').count(), 4);
        assert_eq!(compatibility_line(VERSION), Some("3.0"));
    }
}
