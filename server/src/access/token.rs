//! Short-lived access tokens for automation (seed 002's shape): an HS256 JWT with `iss`, `aud`,
//! `sub`, `iat`, `nbf`, `exp` and `jti`, given by `POST /api/token` for the API's user name and password
//! (basic authentication) and then accepted by every `/api` route as `Authorization: Bearer …`.
//!
//! Strict on reading: the header must say exactly `HS256` (so `alg: none` and every other algorithm
//! are refused), the signature is compared in constant time, and the issuer, audience, subject and
//! times must all hold. The signing key is HMAC-SHA256 of the server's random token key
//! (`{root}/3.0/token.key`, made at first start) and the API's current password hash, so changing the
//! password — or deleting the file — ends every token given before.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use licence_protocol::text::shorten;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;

/// How long a token lives.
pub const LIFETIME_SECONDS: i64 = 900;
/// The audience every token names: this server's API.
pub const AUDIENCE: &str = "licenceserver-api";
/// Tokens longer than this are not ours.
const MAX_TOKEN_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

/// Why a token is refused (for the log; the client only hears 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a token of three base64url parts")]
    Malformed,
    #[error("algorithm `{0}` is not HS256")]
    Algorithm(String),
    #[error("the signature does not match")]
    Signature,
    #[error("issued by `{0}`, not this server")]
    Issuer(String),
    #[error("meant for `{0}`, not this API")]
    Audience(String),
    #[error("for user `{0}`, not the API's")]
    Subject(String),
    #[error("not valid yet")]
    NotYetValid,
    #[error("expired")]
    Expired,
}

/// The key tokens are signed with: this server's token key bound to the API's password hash.
pub struct SigningKey([u8; 32]);

impl SigningKey {
    pub fn derive(token_key: &[u8; 32], password_hash: &str) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token_key).expect("HMAC takes any key");
        mac.update(b"licence api token key v1\0");
        mac.update(password_hash.as_bytes());
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, signed: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(signed);
        mac
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// The token key of `{root}/3.0/token.key`, made (32 random bytes, owner-only) when missing or damaged.
pub fn load_or_create_key(path: &Path) -> std::io::Result<[u8; 32]> {
    if let Ok(bytes) = std::fs::read(path) {
        if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(key);
        }
        log::warn!("{} is damaged; a new token key is made (earlier tokens end)", path.display());
    }
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
    // Owner-only from its first byte on, not made private after it was written.
    licence_protocol::keyfile::write_secret_atomically(path, &key).map_err(std::io::Error::other)?;
    Ok(key)
}

/// A signed token for `claims`.
pub fn sign(key: &SigningKey, claims: &Claims) -> String {
    let header = B64URL.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = B64URL.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signed = format!("{header}.{payload}");
    let signature = B64URL.encode(key.mac(signed.as_bytes()).finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// The claims of `token` if it is ours, for `issuer`, this API and `user`, and valid at `now` (Unix seconds).
pub fn verify(key: &SigningKey, token: &str, issuer: &str, user: &str, now: i64) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode = |part: &str| B64URL.decode(part).map_err(|_| TokenError::Malformed);
    let parsed: Header = serde_json::from_slice(&decode(header)?).map_err(|_| TokenError::Malformed)?;
    if parsed.alg != "HS256" {
        return Err(TokenError::Algorithm(shorten(&parsed.alg, 20)));
    }
    let signed_len = header.len() + 1 + payload.len();
    key.mac(&token.as_bytes()[..signed_len]).verify_slice(&decode(signature)?).map_err(|_| TokenError::Signature)?;
    let claims: Claims = serde_json::from_slice(&decode(payload)?).map_err(|_| TokenError::Malformed)?;
    let short = |s: &str| shorten(s, 60);
    if claims.iss != issuer {
        return Err(TokenError::Issuer(short(&claims.iss)));
    }
    if claims.aud != AUDIENCE {
        return Err(TokenError::Audience(short(&claims.aud)));
    }
    if claims.sub != user {
        return Err(TokenError::Subject(short(&claims.sub)));
    }
    if now < claims.nbf {
        return Err(TokenError::NotYetValid);
    }
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// Fresh claims for `user`, from `now` (Unix seconds).
pub fn claims_for(issuer: &str, user: &str, now: i64) -> Claims {
    let mut jti = [0u8; 16];
    getrandom::getrandom(&mut jti).expect("the OS random source works");
    Claims {
        iss: issuer.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: user.to_owned(),
        iat: now,
        nbf: now,
        exp: now + LIFETIME_SECONDS,
        jti: hex::encode(jti),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::derive(&[7; 32], "$argon2id$hash")
    }

    #[test]
    fn a_token_verifies_and_every_abuse_is_refused() {
        let claims = claims_for("licenceserver:ABC", "admin", 1_000_000);
        let token = sign(&key(), &claims);
        assert_eq!(verify(&key(), &token, "licenceserver:ABC", "admin", 1_000_100), Ok(claims.clone()));
        let at = |now| verify(&key(), &token, "licenceserver:ABC", "admin", now);
        assert_eq!(at(999_999), Err(TokenError::NotYetValid));
        assert_eq!(at(1_000_000 + LIFETIME_SECONDS), Err(TokenError::Expired));
        assert!(matches!(verify(&key(), &token, "licenceserver:XYZ", "admin", 1_000_100), Err(TokenError::Issuer(_))));
        assert!(matches!(verify(&key(), &token, "licenceserver:ABC", "root", 1_000_100), Err(TokenError::Subject(_))));
        let other_password = SigningKey::derive(&[7; 32], "$argon2id$other");
        assert_eq!(
            verify(&other_password, &token, "licenceserver:ABC", "admin", 1_000_100),
            Err(TokenError::Signature)
        );

        let (header, rest) = token.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let none = format!("{}.{payload}.", B64URL.encode(br#"{"alg":"none","typ":"JWT"}"#));
        assert!(matches!(at_token(&none), Err(TokenError::Algorithm(_))));
        let mut longer = claims.clone();
        longer.exp += 100_000;
        let forged = format!("{header}.{}.{signature}", B64URL.encode(serde_json::to_vec(&longer).unwrap()));
        assert_eq!(at_token(&forged), Err(TokenError::Signature));
        let mut audience = claims;
        audience.aud = "someone-else".into();
        assert!(matches!(at_token(&sign(&key(), &audience)), Err(TokenError::Audience(_))));
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"a".repeat(5000)] {
            assert!(at_token(junk).is_err(), "{junk}");
        }
    }

    fn at_token(token: &str) -> Result<Claims, TokenError> {
        verify(&key(), token, "licenceserver:ABC", "admin", 1_000_100)
    }
}
