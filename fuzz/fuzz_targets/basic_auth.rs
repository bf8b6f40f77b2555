//! Every console and `/api` request may carry an `Authorization` header, and any client can send one.
//! Whatever bytes the HTTP layer accepts as a header value must be read without a panic; a user name
//! taken from it never holds the `:` that separates it from the password; and the guard in front of the
//! console and the API admits a change exactly when the mode needs no login or the credentials are
//! right — whether the header is basic credentials, a bearer token or neither — and that the API's
//! default password admits no change at all.
#![no_main]
#![forbid(unsafe_code)]

use axum::http::{header, HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use licenceserver::access::{basic_credentials, Guard, Scope, Verdict};
use licenceserver::clock::SystemClock;
use licenceserver::config::{AuthMode, Live, Settings};
use std::net::IpAddr;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else { return };
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value);

    let credentials = basic_credentials(&headers);
    if let Some((user, _password)) = &credentials {
        assert!(!user.contains(':'), "user name `{user}` holds a `:`");
    }
    let here = IpAddr::from([127, 0, 0, 1]);
    for mode in [AuthMode::ChangesOnly, AuthMode::Always, AuthMode::Off] {
        // The default clear password keeps the run fast; hashes are the passwords module's business.
        let mut settings = Settings::default();
        settings.api.mode = mode;
        settings.console.mode = mode;
        let live = Arc::new(Live::new(settings));
        let guard = Guard::new(live, Arc::new(SystemClock), [9; 32], "licenceserver:FUZZ".into(), "fuzz");
        for scope in [Scope::Api, Scope::Console] {
            // The API's default password changes nothing, whatever the header says.
            let default_api = scope == Scope::Api && mode != AuthMode::Off;
            let expected =
                !default_api && (mode == AuthMode::Off || credentials == Some(("admin".into(), "admin".into())));
            let verdict = guard.check(scope, &Method::POST, false, true, here, &headers);
            assert_eq!(verdict == Verdict::Allowed, expected, "{mode:?} {scope:?} with {credentials:?}: {verdict:?}");
            assert_eq!(matches!(verdict, Verdict::Forbidden(_)), default_api, "{mode:?} {scope:?}: {verdict:?}");
            // A sensitive read (a backup code) is admitted exactly as a change is.
            let verdict = guard.check(scope, &Method::GET, true, true, here, &headers);
            if default_api {
                assert!(matches!(verdict, Verdict::Forbidden(_)), "{mode:?} {scope:?}: {verdict:?}");
            } else {
                assert!(matches!(verdict, Verdict::Allowed | Verdict::Unauthorized | Verdict::Slowed(_)));
            }
        }
    }
});
