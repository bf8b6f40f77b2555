//! HTTP basic authentication for the REST API, with the seed's modes: 0 — only requests that change
//! something need a login, 1 — every request does, 2 — none does. Credentials are compared in
//! constant time. (Salted password hashes, tokens and attempt limits belong to the console issue.)

use crate::config::{Access, AuthMode};
use axum::http::{header, HeaderMap, Method};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// Whether a request with these headers may do `method` under `access`. A `sensitive` read (a
/// backup code, which can move a key away) needs a login like a change does.
pub fn allowed(access: &Access, method: &Method, sensitive: bool, headers: &HeaderMap) -> bool {
    let needs_login = match access.mode {
        AuthMode::Off => false,
        AuthMode::Always => true,
        AuthMode::ChangesOnly => sensitive || !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS),
    };
    !needs_login || credentials_match(access, headers)
}

fn credentials_match(access: &Access, headers: &HeaderMap) -> bool {
    let Some((user, password)) = basic_credentials(headers) else { return false };
    let user_ok = user.as_bytes().ct_eq(access.user_name.as_bytes());
    let password_ok = password.as_bytes().ct_eq(access.password.as_bytes());
    bool::from(user_ok & password_ok)
}

/// `Authorization: Basic base64(user:password)` → `(user, password)`.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn access(mode: AuthMode) -> Access {
        Access { mode, user_name: "admin".into(), password: "admin".into() }
    }

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn modes_follow_the_guide() {
        let none = HeaderMap::new();
        let good = with_auth(&format!("Basic {}", STANDARD.encode("admin:admin")));
        let bad = with_auth(&format!("Basic {}", STANDARD.encode("admin:nope")));
        assert!(!allowed(&access(AuthMode::Always), &Method::GET, false, &none));
        assert!(allowed(&access(AuthMode::Always), &Method::GET, false, &good));
        assert!(!allowed(&access(AuthMode::Always), &Method::GET, false, &bad));
        assert!(allowed(&access(AuthMode::ChangesOnly), &Method::GET, false, &none));
        assert!(!allowed(&access(AuthMode::ChangesOnly), &Method::DELETE, false, &none));
        assert!(allowed(&access(AuthMode::ChangesOnly), &Method::DELETE, false, &good));
        assert!(allowed(&access(AuthMode::Off), &Method::POST, false, &none));
        assert!(!allowed(&access(AuthMode::ChangesOnly), &Method::GET, true, &none));
        assert!(allowed(&access(AuthMode::ChangesOnly), &Method::GET, true, &good));
        assert!(allowed(&access(AuthMode::Off), &Method::GET, true, &none));
    }

    #[test]
    fn malformed_headers_are_no_credentials() {
        for v in ["Basic", "Basic !!!", "Bearer abc", "Basic YWRtaW4=", ""] {
            assert_eq!(basic_credentials(&with_auth(v)), None, "{v}");
        }
        let h = with_auth(&format!("basic {}", STANDARD.encode("a:b:c")));
        assert_eq!(basic_credentials(&h), Some(("a".into(), "b:c".into())));
    }
}
