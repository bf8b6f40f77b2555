//! Every `/api` request may carry an `Authorization` header, and any client can send one. Whatever
//! bytes the HTTP layer accepts as a header value must be read without a panic; a user name taken
//! from it never holds the `:` that separates it from the password, and the mode checks built on
//! it answer for every method.
#![no_main]
#![forbid(unsafe_code)]

use axum::http::{header, HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use licenceserver::config::{Access, AuthMode};
use licenceserver::http::auth::{allowed, basic_credentials};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else { return };
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value);

    let credentials = basic_credentials(&headers);
    if let Some((user, _password)) = &credentials {
        assert!(!user.contains(':'), "user name `{user}` holds a `:`");
    }
    for mode in [AuthMode::ChangesOnly, AuthMode::Always, AuthMode::Off] {
        let access = Access { mode, user_name: "admin".into(), password: "admin".into() };
        let admitted = allowed(&access, &Method::POST, false, &headers);
        let expected = mode == AuthMode::Off || credentials == Some(("admin".into(), "admin".into()));
        assert_eq!(admitted, expected, "{mode:?} with {credentials:?}");
        // A sensitive read (a backup code) is admitted exactly as a change is.
        assert_eq!(allowed(&access, &Method::GET, true, &headers), expected, "{mode:?} with {credentials:?}");
        let _ = allowed(&access, &Method::GET, false, &headers);
    }
});
