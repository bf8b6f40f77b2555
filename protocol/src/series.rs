//! A vendor's series: the Ed25519 signing key that signs its key files and the 32-byte series secret
//! that key files carry wrapped for one computer. Both live in the vendor's `{KeyID}.cryptkey`, a
//! small JSON file:
//!
//! ```text
//! {"Format":1,"KeyID":"672B","PublicKey":"<64 hex>","SigningKey":"<64 hex>","Secret":"<64 hex>"}
//! ```
//!
//! `PublicKey` is redundant and checked against `SigningKey` on reading, so a damaged file is caught
//! before it signs anything. Secrets are zeroized when dropped and no `Debug` here shows them.

use crate::key::SeriesId;
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    #[error("cryptkey file is malformed: {0}")]
    Malformed(String),
    #[error("cryptkey file is malformed: not the expected JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("cryptkey file is malformed: `KeyID`: {0}")]
    KeyId(#[source] crate::key::BadSeries),
}

pub const SECRET_LEN: usize = 32;

/// The only `Format` of a cryptkey file so far.
const CRYPTKEY_FORMAT: u32 = 1;
/// A cryptkey file is about 250 bytes; refuse to parse anything much larger.
const MAX_CRYPTKEY_LEN: usize = 64 * 1024;

/// The series secret; zeroized on drop, never printed.
pub struct SeriesSecret(pub(crate) zeroize::Zeroizing<[u8; SECRET_LEN]>);

/// Everything a vendor holds for one series.
pub struct SeriesKeys {
    pub series: SeriesId,
    pub(crate) signing: ed25519_dalek::SigningKey,
    pub secret: SeriesSecret,
}

/// The cryptkey file as stored; the hex strings are wiped when it is dropped.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CryptkeyFile {
    format: u32,
    #[serde(rename = "KeyID")]
    key_id: String,
    public_key: String,
    signing_key: String,
    secret: String,
}

impl Drop for CryptkeyFile {
    fn drop(&mut self) {
        self.signing_key.zeroize();
        self.secret.zeroize();
    }
}

impl SeriesSecret {
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }
}

impl fmt::Debug for SeriesSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeriesSecret(<redacted>)")
    }
}

impl SeriesKeys {
    /// A fresh series from the operating system's random source.
    ///
    /// # Panics
    /// If the operating system cannot provide random bytes; nothing safe can be generated then.
    pub fn generate(series: SeriesId) -> Self {
        let seed = random_32();
        let secret = random_32();
        Self { series, signing: ed25519_dalek::SigningKey::from_bytes(&seed), secret: SeriesSecret(secret) }
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.signing
    }

    /// The `{KeyID}.cryptkey` text, ending in a newline.
    pub fn to_cryptkey(&self) -> String {
        let file = CryptkeyFile {
            format: CRYPTKEY_FORMAT,
            key_id: self.series.to_string(),
            public_key: hex::encode(self.public_key()),
            signing_key: hex::encode(self.signing.as_bytes()),
            secret: hex::encode(self.secret.as_bytes()),
        };
        let mut text = serde_json::to_string(&file).expect("a struct of strings always serializes");
        text.push('\n');
        text
    }

    pub fn from_cryptkey(text: &str) -> Result<Self, SeriesError> {
        let malformed = |what: String| SeriesError::Malformed(what);
        if text.len() > MAX_CRYPTKEY_LEN {
            return Err(malformed(format!("larger than {MAX_CRYPTKEY_LEN} bytes")));
        }
        let file: CryptkeyFile = serde_json::from_str(text).map_err(SeriesError::Json)?;
        if file.format != CRYPTKEY_FORMAT {
            return Err(malformed(format!("format {} is not supported (expected {CRYPTKEY_FORMAT})", file.format)));
        }
        let series: SeriesId = file.key_id.parse().map_err(SeriesError::KeyId)?;
        let seed = hex_32("SigningKey", &file.signing_key)?;
        let secret = hex_32("Secret", &file.secret)?;
        let public_key = hex_32("PublicKey", &file.public_key)?;
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        if signing.verifying_key().to_bytes() != *public_key {
            return Err(malformed("`PublicKey` does not belong to `SigningKey`".into()));
        }
        Ok(Self { series, signing, secret: SeriesSecret(secret) })
    }
}

impl fmt::Debug for SeriesKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesKeys")
            .field("series", &self.series)
            .field("public_key", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

/// Exactly 32 bytes from 64 hex digits; the error names the field, never its content.
fn hex_32(field: &str, text: &str) -> Result<Zeroizing<[u8; 32]>, SeriesError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, bytes.as_mut())
        .map_err(|_| SeriesError::Malformed(format!("`{field}` is not 64 hex digits")))?;
    Ok(bytes)
}

fn random_32() -> Zeroizing<[u8; 32]> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(bytes.as_mut()).expect("the operating system's random source failed");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> SeriesId {
        "672b".parse().unwrap()
    }

    #[test]
    fn cryptkey_round_trips() {
        let keys = SeriesKeys::generate(series());
        let text = keys.to_cryptkey();
        assert!(text.starts_with("{\"Format\":1,\"KeyID\":\"672B\""), "{text}");
        let back = SeriesKeys::from_cryptkey(&text).unwrap();
        assert_eq!(back.series, keys.series);
        assert_eq!(back.public_key(), keys.public_key());
        assert_eq!(back.secret.as_bytes(), keys.secret.as_bytes());
        assert_eq!(back.signing_key().as_bytes(), keys.signing_key().as_bytes());
    }

    #[test]
    fn generated_series_differ() {
        let a = SeriesKeys::generate(series());
        let b = SeriesKeys::generate(series());
        assert_ne!(a.public_key(), b.public_key());
        assert_ne!(a.secret.as_bytes(), b.secret.as_bytes());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let keys = SeriesKeys::generate(series());
        let debug = format!("{keys:?} {:?}", keys.secret);
        assert!(!debug.contains(&hex::encode(keys.secret.as_bytes())));
        assert!(!debug.contains(&hex::encode(keys.signing_key().as_bytes())));
        assert!(debug.contains("672B"));
    }

    /// What the refusal of `text` says after `cryptkey file is malformed: `.
    fn malformed(text: &str) -> String {
        match SeriesKeys::from_cryptkey(text) {
            Err(e) => e.to_string().strip_prefix("cryptkey file is malformed: ").expect("the message's start").into(),
            Ok(_) => panic!("accepted {text}"),
        }
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        let good: serde_json::Value = serde_json::from_str(&SeriesKeys::generate(series()).to_cryptkey()).unwrap();
        let with = |field: &str, value: serde_json::Value| {
            let mut v = good.clone();
            v[field] = value;
            v.to_string()
        };
        assert!(malformed("").contains("not the expected JSON"));
        assert!(matches!(SeriesKeys::from_cryptkey("{}"), Err(SeriesError::Json(_))));
        assert!(matches!(SeriesKeys::from_cryptkey(&with("KeyID", "67ZB".into())), Err(SeriesError::KeyId(_))));
        assert!(malformed("{}").contains("missing field"));
        assert_eq!(malformed(&with("Format", 2.into())), "format 2 is not supported (expected 1)");
        assert_eq!(malformed(&with("KeyID", "67ZB".into())), "`KeyID`: series `67ZB` is not 4 hex digits");
        assert_eq!(malformed(&with("SigningKey", "abc".into())), "`SigningKey` is not 64 hex digits");
        assert_eq!(malformed(&with("Secret", "00".repeat(33).into())), "`Secret` is not 64 hex digits");
        assert_eq!(
            malformed(&with("PublicKey", "00".repeat(32).into())),
            "`PublicKey` does not belong to `SigningKey`"
        );
        assert!(malformed(&with("Extra", 1.into())).contains("unknown field"));
        assert!(malformed(&" ".repeat(70_000)).contains("larger than"));
    }

    #[test]
    fn secret_from_bytes_round_trips() {
        assert_eq!(SeriesSecret::from_bytes([7; 32]).as_bytes(), &[7; 32]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = SeriesKeys::from_cryptkey(&text);
        }
    }
}
