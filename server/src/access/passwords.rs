//! Passwords of the console and the API: stored only as salted argon2id hashes (PHC strings,
//! `$argon2id$v=19$…`) in `licenceserver.conf`.
//!
//! The seed's reset procedure — write `Password=admin` into `[Console]` by hand — still works: at start
//! the server hashes any clear password it finds and writes the hash back in its place, so the clear text
//! never stays on disk past that start. A password that verifies as the default `admin` of user `admin`
//! must be changed at the console's first login.
//!
//! Basic authentication sends the password with every request; verifying argon2 each time would make
//! every API call cost tens of milliseconds. A [`VerifiedCache`] remembers, under a key of this process,
//! an HMAC of credentials that verified together with the stored password they verified against, so a
//! repeat costs one HMAC and a changed password matches no earlier entry.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::Mutex;

/// The seed's default credentials.
pub const DEFAULT_USER: &str = "admin";
pub const DEFAULT_PASSWORD: &str = "admin";
/// Fewer characters than this are refused for a new password.
pub const MIN_LENGTH: usize = 8;
/// How many verified credentials the cache keeps.
const CACHE_SIZE: usize = 64;

/// True when `stored` is a password hash rather than a password written in clear.
pub fn is_hash(stored: &str) -> bool {
    stored.starts_with("$argon2")
}

/// A salted argon2id hash of `password`, as a PHC string.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .expect("argon2 with default parameters hashes any password")
}

/// Whether `candidate` is the password `stored` holds (a hash, or a clear password not yet converted).
/// Clear passwords compare in constant time.
pub fn verify(stored: &str, candidate: &str) -> bool {
    if is_hash(stored) {
        return PasswordHash::new(stored)
            .is_ok_and(|parsed| Argon2::default().verify_password(candidate.as_bytes(), &parsed).is_ok());
    }
    subtle::ConstantTimeEq::ct_eq(stored.as_bytes(), candidate.as_bytes()).into()
}

/// Why a new password is refused.
pub fn check_new(user: &str, password: &str, repeated: &str) -> Result<(), String> {
    if password != repeated {
        return Err("the two passwords differ".into());
    }
    if password.chars().count() < MIN_LENGTH {
        return Err(format!("the password must have at least {MIN_LENGTH} characters"));
    }
    if password == DEFAULT_PASSWORD || password.eq_ignore_ascii_case(user) {
        return Err("the password must not be the default one or the user name".into());
    }
    if password.chars().any(char::is_control) {
        return Err("the password must not contain control characters".into());
    }
    Ok(())
}

/// Replaces every password written in clear in `[Console]` and `[API]` of the config file at `path` by
/// its hash, in the file and in `config`; returns what to log. A password the file does not set (the
/// default `admin`) is left alone: there is nothing to hide, and the console insists on a new one.
pub fn hash_clear_passwords(path: &std::path::Path, config: &mut crate::config::ServerConfig) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let ini = licence_protocol::ini::Ini::parse(&text);
    let mut said = Vec::new();
    let settings = &mut config.settings;
    for (section, access) in [("Console", &mut settings.console), ("API", &mut settings.api)] {
        let Some(entry) = ini.get(section, "Password") else { continue };
        if is_hash(&entry.value) {
            continue;
        }
        let hashed = hash(&entry.value);
        match crate::config::update(path, &[(section, "Password", &hashed)]) {
            Ok(()) => said.push(format!("[{section}] Password was written in clear; it is replaced by its hash")),
            Err(e) => said.push(format!("[{section}] Password is written in clear and could not be replaced: {e}")),
        }
        access.password = hashed;
    }
    said
}

/// Credentials that verified recently, remembered as HMACs under a key of this process.
pub struct VerifiedCache {
    key: [u8; 32],
    entries: Mutex<VecDeque<[u8; 32]>>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key).expect("the OS random source works");
        Self { key, entries: Mutex::new(VecDeque::new()) }
    }
}

impl VerifiedCache {
    fn tag(&self, scope: &str, stored: &str, user: &str, password: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key");
        for part in [scope, stored, user, password] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<[u8; 32]>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `user` logged in to `scope` with `password` against the stored password `stored` before.
    pub fn contains(&self, scope: &str, stored: &str, user: &str, password: &str) -> bool {
        let tag = self.tag(scope, stored, user, password);
        self.lock().iter().any(|t| bool::from(subtle::ConstantTimeEq::ct_eq(&t[..], &tag[..])))
    }

    pub fn insert(&self, scope: &str, stored: &str, user: &str, password: &str) {
        let tag = self.tag(scope, stored, user, password);
        let mut entries = self.lock();
        if entries.len() >= CACHE_SIZE {
            entries.pop_front();
        }
        entries.push_back(tag);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_and_verify_only_their_password() {
        let (a, b) = (hash("correct horse"), hash("correct horse"));
        assert!(is_hash(&a) && a.starts_with("$argon2id$"));
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify(&a, "correct horse") && verify(&b, "correct horse"));
        assert!(!verify(&a, "correct horsf") && !verify(&a, ""));
        assert!(verify("admin", "admin") && !verify("admin", "admin2"));
        assert!(!verify("$argon2id$broken", "x"));
    }

    #[test]
    fn new_passwords_are_checked() {
        assert!(check_new("admin", "long enough 1", "long enough 1").is_ok());
        assert!(check_new("admin", "long enough 1", "long enough 2").unwrap_err().contains("differ"));
        assert!(check_new("admin", "short", "short").unwrap_err().contains("at least"));
        assert!(check_new("operator", "Operator", "Operator").is_err());
        assert!(check_new("admin", "line\nbreak!", "line\nbreak!").is_err());
    }

    #[test]
    fn the_cache_remembers_by_scope_and_stored_password_and_forgets_on_clear() {
        let cache = VerifiedCache::default();
        cache.insert("api", "$h1", "admin", "secret-1");
        assert!(cache.contains("api", "$h1", "admin", "secret-1"));
        assert!(!cache.contains("console", "$h1", "admin", "secret-1"));
        assert!(!cache.contains("api", "$h1", "admin", "secret-2"));
        assert!(!cache.contains("api", "$h2", "admin", "secret-1"), "another stored password");
        for n in 0..CACHE_SIZE {
            cache.insert("api", "$h1", "u", &n.to_string());
        }
        assert!(!cache.contains("api", "$h1", "admin", "secret-1"), "bounded: the oldest went");
        cache.clear();
        assert!(!cache.contains("api", "$h1", "u", "1"));
    }
}
