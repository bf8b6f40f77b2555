//! The version this server announces: [`licence_protocol::VERSION`], unless the test switch
//! `LICENCESERVER_TEST_VERSION` names another four-part version.
//!
//! The switch exists so that the add-in's handling of a server of another major version is tested
//! against this real binary rather than a fake. It only makes the server refuse add-ins of its own
//! line (and report the other version in `/api`); it grants nothing. The server logs a warning at
//! start when it is set, and ignores (with an error) a value that is not `major.minor.release.build`.

use std::sync::OnceLock;

/// The environment variable of the test switch.
pub const TEST_VERSION_VAR: &str = "LICENCESERVER_TEST_VERSION";

/// The version the server announces and checks add-ins against.
pub fn announced() -> &'static str {
    static ANNOUNCED: OnceLock<String> = OnceLock::new();
    ANNOUNCED.get_or_init(|| match std::env::var(TEST_VERSION_VAR) {
        Ok(text) if is_four_part(&text) => text,
        _ => licence_protocol::VERSION.to_owned(),
    })
}

/// Says at start whether the test switch is in force or was given a value it cannot use.
pub fn log_test_switch() {
    match std::env::var(TEST_VERSION_VAR) {
        Ok(text) if is_four_part(&text) => {
            log::warn!("{TEST_VERSION_VAR} is set: this server announces version {text} (a test switch)")
        }
        Ok(text) => log::error!(
            "{TEST_VERSION_VAR}=`{}` is not a version major.minor.release.build; it is ignored",
            licence_protocol::text::shorten(&text, 40)
        ),
        Err(_) => {}
    }
}

fn is_four_part(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_four_numeric_parts_are_a_version() {
        assert!(is_four_part("4.0.0.0"));
        assert!(is_four_part("2.1.15.7528"));
        assert!(!is_four_part("4.0"));
        assert!(!is_four_part("4.0.0.x"));
        assert!(!is_four_part("4..0.0"));
        assert!(!is_four_part("4.0.0.0.0"));
        assert!(!is_four_part("1234567890.0.0.0"));
    }
}
