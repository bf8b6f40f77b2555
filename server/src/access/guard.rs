//! Who may use the console and the REST API, checked in front of every request to them ([`Guard`]):
//!
//! 1. **Where from**: `LocalAccessOnly=1` admits only this computer; `AllowedAddresses` only the listed
//!    addresses and networks (per `[Console]` and `[API]`).
//! 2. **Which host name**: a browser must reach the server by an IP address, `localhost`, this
//!    computer's name or a name in `AllowedHosts`. Anything else is a page of another site whose name was
//!    pointed at this server (DNS rebinding) and is refused.
//! 3. **Same site**: a request that changes something and comes from a browser must come from a page of
//!    this server (`Origin`, `Sec-Fetch-Site`, `Referer`), so another site cannot make a logged-in
//!    browser post forms here (cross-site request forgery).
//! 4. **Login**, by the seed's modes: 0 — only changes and sensitive reads (a backup code) need it,
//!    1 — everything does, 2 — nothing does. HTTP basic authentication against the argon2 hash of the
//!    password (`passwords`), or, for the API, a bearer token (`token`).
//! 5. **Attempts**: after 3 failed logins from an address, each further attempt must wait 2, 4, 8 …
//!    up to 300 seconds (answered 429 with `Retry-After`, the wait rounded up to whole seconds, never
//!    shorter); a successful login clears the address's count. Failed logins also count per user name
//!    across all addresses, with the same waits, which meet every address that has failed itself (see
//!    [`Guard::check`] for why a fresh address is let through to the password check).
//! 6. **No default password for changes**: while the API's password is still the default
//!    `admin`/`admin`, the API refuses every change, sensitive read and `POST /api/token` that would
//!    need a login, whoever asks (403, saying how to set it); reads keep working as the mode says.
//! 7. **No login, changes from here only**: with `Authorization=2` a change (or a sensitive read) is
//!    accepted only from this computer (loopback) unless `NoLoginChangesFromAnyAddress=1`; the guard
//!    warns in the log when it is made ([`Guard::no_login_warnings`], also shown by the console).
//!
//! The guard reads the access settings from the live settings each time ([`Live`]), so a password or a
//! limit the console saved applies at once; what it keeps itself is derived: failed attempts, logins
//! that verified, whether a stored password is still the default.

use super::passwords::{self, VerifiedCache};
use super::token::{self, Claims, SigningKey};
use crate::clock::Clock;
use crate::config::{Access, AuthMode, Live, Scope};
use axum::http::{header, HeaderMap, Method};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use licence_protocol::text::shorten;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Failed logins an address may make before it has to wait.
const FREE_ATTEMPTS: u32 = 3;
/// The longest wait between attempts.
const MAX_DELAY: Duration = Duration::from_secs(300);
/// Addresses (and, apart, user names) whose failures are remembered at most.
const MAX_TRACKED: usize = 10_000;
/// Failures older than this are forgotten: the count starts again.
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Characters of a tried user name kept as the key of its count.
const USER_KEY: usize = 64;

/// What the API answers to a change while its password is still the default.
pub const DEFAULT_API_PASSWORD: &str = "the REST API still has the default password (admin/admin), so it accepts no \
     change and issues no token: set an API password first — in the console, Parameters → the password form, \
     choose \"REST API\"; or write [API] Password=… into licenceserver.conf (the server replaces it by its hash)";

/// What the guard says of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// No or wrong credentials: 401 with a basic-auth challenge.
    Unauthorized,
    /// Too many failed logins from this address, or for this user name from an address that failed
    /// too: 429, try again after this many seconds.
    Slowed(u64),
    /// Refused whoever asks (address, host name, another site): 403 with the reason.
    Forbidden(String),
}

/// Failed logins of one address or user name, on the guard's monotonic clock.
struct Failures {
    count: u32,
    until: Duration,
    last: Duration,
}

/// Failed logins by key (an address, a user name), bounded: when full, the stale and then the
/// oldest are dropped.
struct Attempts<K>(HashMap<K, Failures>);

impl<K: std::hash::Hash + Eq + Clone> Attempts<K> {
    fn new() -> Self {
        Self(HashMap::new())
    }

    /// The failures of `key` not yet forgotten.
    fn get(&self, key: &K, now: Duration) -> Option<&Failures> {
        self.0.get(key).filter(|f| now.saturating_sub(f.last) < FORGET_AFTER)
    }

    /// The wait `key` is still in at `now`, rounded up to whole seconds (never shorter than it is).
    fn waiting(&self, key: &K, now: Duration) -> Option<u64> {
        let entry = self.get(key, now)?;
        (entry.until > now).then(|| {
            let left = entry.until - now;
            left.as_secs() + u64::from(left.subsec_nanos() > 0)
        })
    }

    /// Counts a failure of `key` at `now`; its count after it.
    fn fail(&mut self, key: K, now: Duration) -> u32 {
        if self.0.len() >= MAX_TRACKED && !self.0.contains_key(&key) {
            self.0.retain(|_, f| now.saturating_sub(f.last) < FORGET_AFTER);
            if self.0.len() >= MAX_TRACKED {
                if let Some(oldest) = self.0.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| k.clone()) {
                    self.0.remove(&oldest);
                }
            }
        }
        let entry = self.0.entry(key).or_insert(Failures { count: 0, until: now, last: now });
        if now.saturating_sub(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        entry.until = now + delay(entry.count);
        entry.count
    }

    fn clear(&mut self, key: &K) {
        self.0.remove(key);
    }
}

/// The attempts of both kinds, under one lock.
struct Ledger {
    by_address: Attempts<IpAddr>,
    by_user: Attempts<String>,
}

/// A tried user name as the key of its count: bounded, so a long one costs no memory.
fn user_key(user: &str) -> String {
    user.chars().take(USER_KEY).collect()
}

/// Who may use the console and the API, by the live settings, with the bookkeeping of attempts.
pub struct Guard {
    live: Arc<Live>,
    clock: Arc<dyn Clock>,
    /// Per stored password (hash or clear text): whether it is the seed's default `admin` of user
    /// `admin` (verifying argon2 costs milliseconds, so it is done once per stored value).
    defaults: Mutex<HashMap<(String, String), bool>>,
    verified: VerifiedCache,
    failures: Mutex<Ledger>,
    token_key: [u8; 32],
    issuer: String,
    /// This computer's names, lower-case, for the host check.
    host_names: Vec<String>,
}

impl Guard {
    /// `issuer` names this server in tokens; `computer_name` is accepted as a host name.
    pub fn new(
        live: Arc<Live>,
        clock: Arc<dyn Clock>,
        token_key: [u8; 32],
        issuer: String,
        computer_name: &str,
    ) -> Self {
        let name = computer_name.trim().to_ascii_lowercase();
        for warning in no_login_warnings(&live.get()) {
            log::warn!("{warning}");
        }
        Self {
            live,
            clock,
            defaults: Mutex::new(HashMap::new()),
            verified: VerifiedCache::default(),
            failures: Mutex::new(Ledger { by_address: Attempts::new(), by_user: Attempts::new() }),
            token_key,
            issuer,
            host_names: if name.is_empty() { Vec::new() } else { vec![name] },
        }
    }

    /// What an administrator must be told about the scopes that need no login (`Authorization=2`).
    pub fn no_login_warnings(&self) -> Vec<String> {
        no_login_warnings(&self.live.get())
    }

    /// The clock the guard dates attempts and tokens by.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The access settings of `scope` now.
    pub fn access(&self, scope: Scope) -> Access {
        self.live.get().access(scope).clone()
    }

    /// The password of `scope` is still the seed's default: the console insists on a new one.
    pub fn needs_new_password(&self, scope: Scope) -> bool {
        let access = self.access(scope);
        let key = (access.user_name, access.password);
        let mut defaults = self.defaults.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = defaults.get(&key) {
            return *known;
        }
        let default = key.0 == passwords::DEFAULT_USER && passwords::verify(&key.1, passwords::DEFAULT_PASSWORD);
        if defaults.len() >= 16 {
            defaults.clear();
        }
        defaults.insert(key, default);
        default
    }

    fn signing_key(&self) -> SigningKey {
        SigningKey::derive(&self.token_key, &self.access(Scope::Api).password)
    }

    /// A fresh token for the API's user, from `now` (Unix seconds).
    pub fn issue_token(&self, now: i64) -> (String, Claims) {
        let claims = token::claims_for(&self.issuer, &self.access(Scope::Api).user_name, now);
        (token::sign(&self.signing_key(), &claims), claims)
    }

    /// The verdict on a request of `method` to `scope` from `peer` with `headers`; `sensitive` marks a
    /// read that needs a login like a change does; `tokens` allows a bearer token instead of a password.
    pub fn check(
        &self,
        scope: Scope,
        method: &Method,
        sensitive: bool,
        tokens: bool,
        peer: IpAddr,
        headers: &HeaderMap,
    ) -> Verdict {
        let access = self.access(scope);
        if let Some(refusal) = self.refuse_origin(scope, &access, method, peer, headers) {
            return Verdict::Forbidden(refusal);
        }
        let change = sensitive || !is_safe(method);
        if access.mode == AuthMode::Off
            && change
            && !access.no_login_changes_from_any_address
            && !peer.to_canonical().is_loopback()
        {
            let section = scope.section();
            return Verdict::Forbidden(format!(
                "with [{section}] Authorization=2 (no login) changes are accepted only from this computer, not from \
                 {}; log in with a mode that asks for a password, or set [{section}] NoLoginChangesFromAnyAddress=1 \
                 (not recommended)",
                peer.to_canonical()
            ));
        }
        let needs_login = match access.mode {
            AuthMode::Off => false,
            AuthMode::Always => true,
            AuthMode::ChangesOnly => change,
        };
        if !needs_login {
            return Verdict::Allowed;
        }
        // A change (or a read guarded like one) on the default password is refused before any
        // password is looked at: `admin`/`admin` is known to everyone, so it proves nothing.
        if scope == Scope::Api && change && self.needs_new_password(Scope::Api) {
            return Verdict::Forbidden(DEFAULT_API_PASSWORD.into());
        }
        let credentials = authorization(headers);
        let user = match &credentials {
            Some(Credentials::Basic(user, _)) => Some(user.as_str()),
            _ => None,
        };
        if let Some(wait) = self.waiting(peer, user) {
            return Verdict::Slowed(wait);
        }
        match credentials {
            Some(Credentials::Basic(user, password)) => {
                if self.password_matches(scope, &access, &user, &password) {
                    self.lock_failures().by_address.clear(&peer.to_canonical());
                    Verdict::Allowed
                } else {
                    self.failed(peer, &user, scope);
                    Verdict::Unauthorized
                }
            }
            Some(Credentials::Bearer(jwt)) if tokens && scope == Scope::Api => {
                // A token cannot be guessed (HMAC-SHA256), so a bad one is refused without counting
                // against the address: it is always plainly 401.
                let now = self.clock.now().unix_millis() / 1000;
                match token::verify(&self.signing_key(), &jwt, &self.issuer, &access.user_name, now) {
                    Ok(_) => Verdict::Allowed,
                    Err(e) => {
                        log::warn!("refused an API token from {peer}: {e}");
                        Verdict::Unauthorized
                    }
                }
            }
            Some(Credentials::Bearer(_)) | None => Verdict::Unauthorized,
        }
    }

    fn password_matches(&self, scope: Scope, access: &Access, user: &str, password: &str) -> bool {
        let user_ok = bool::from(user.as_bytes().ct_eq(access.user_name.as_bytes()));
        let section = scope.section();
        // Remembered under the stored password too: once it changes, no earlier login matches.
        if user_ok && self.verified.contains(section, &access.password, user, password) {
            return true;
        }
        // The hash is checked even for a wrong user name, so timing does not tell user names apart.
        let password_ok = passwords::verify(&access.password, password);
        if user_ok && password_ok {
            self.verified.insert(section, &access.password, user, password);
        }
        user_ok && password_ok
    }

    /// Why a request is refused before any login is looked at: its address, its host name, or (for a
    /// change) another site's page.
    fn refuse_origin(
        &self,
        scope: Scope,
        access: &Access,
        method: &Method,
        peer: IpAddr,
        headers: &HeaderMap,
    ) -> Option<String> {
        let section = scope.section();
        let peer = peer.to_canonical();
        if access.local_only && !peer.is_loopback() {
            return Some(format!("only this computer may use it ([{section}] LocalAccessOnly=1); {peer} may not"));
        }
        if !access.allowed_addresses.is_empty() && !access.allowed_addresses.iter().any(|n| n.contains(peer)) {
            return Some(format!("{peer} is not in [{section}] AllowedAddresses"));
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
        if let Some(host) = &host {
            let name = host_name(host);
            let known = name.parse::<IpAddr>().is_ok()
                || name == "localhost"
                || self.host_names.iter().any(|n| name == n)
                || access.allowed_hosts.iter().any(|h| h == name);
            if !known {
                return Some(format!(
                    "the host name `{}` is not this server's; add it to [{section}] AllowedHosts to use it",
                    shorten(name, 100)
                ));
            }
        }
        if !is_safe(method) {
            let cross = |value: &str| match (origin_host(value), &host) {
                (Some(origin), Some(host)) => origin != *host,
                _ => true,
            };
            if let Some(origin) = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok()) {
                if cross(origin) {
                    return Some("a request from another site's page is refused (Origin)".into());
                }
            } else if let Some(referer) = headers.get(header::REFERER).and_then(|h| h.to_str().ok()) {
                if cross(referer) {
                    return Some("a request from another site's page is refused (Referer)".into());
                }
            }
            let site = headers.get("sec-fetch-site").and_then(|h| h.to_str().ok()).unwrap_or("none");
            if !matches!(site, "same-origin" | "none") {
                return Some(format!("a request from another site's page is refused (Sec-Fetch-Site: {site})"));
            }
        }
        None
    }

    fn lock_failures(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Seconds `peer`, trying `user`, must still wait before its next attempt, if any (the longer of
    /// the two waits that apply).
    ///
    /// The address's own wait always applies. The user name's wait applies only to an address that
    /// has failed itself (and not been cleared by a success since): a correct password from an
    /// address with no failures of its own is checked and admitted even while someone else guesses
    /// at the user name from elsewhere, so the administrator is not locked out by an attacker. This
    /// still slows the guessing: an attacker's address gets one guess checked while it is fresh; from
    /// then on every guess it makes meets the user name's wait, which grows with every failure from
    /// any address. Rotating addresses therefore buys one guess per fresh address instead of three
    /// free ones and its own growing wait — and a guess still has to be the right password to get in.
    fn waiting(&self, peer: IpAddr, user: Option<&str>) -> Option<u64> {
        let peer = peer.to_canonical();
        let now = self.clock.monotonic();
        let ledger = self.lock_failures();
        let own = ledger.by_address.waiting(&peer, now);
        let failed_before = ledger.by_address.get(&peer, now).is_some();
        let of_user = user.filter(|_| failed_before).and_then(|u| ledger.by_user.waiting(&user_key(u), now));
        own.max(of_user)
    }

    fn failed(&self, peer: IpAddr, user: &str, scope: Scope) {
        let peer = peer.to_canonical();
        let now = self.clock.monotonic();
        let mut ledger = self.lock_failures();
        let count = ledger.by_address.fail(peer, now);
        let of_user = ledger.by_user.fail(user_key(user), now);
        log::warn!(
            "failed login to the {} from {peer} (attempt {count} from this address, {of_user} for user `{}`)",
            scope.section(),
            shorten(user, USER_KEY)
        );
    }
}

/// One line per scope whose `Authorization=2` lets changes in without a login.
fn no_login_warnings(settings: &crate::config::Settings) -> Vec<String> {
    [Scope::Api, Scope::Console]
        .into_iter()
        .filter(|scope| settings.access(*scope).mode == AuthMode::Off)
        .map(|scope| {
            let section = scope.section();
            if settings.access(scope).no_login_changes_from_any_address {
                format!(
                    "[{section}] Authorization=2 and NoLoginChangesFromAnyAddress=1: anyone who reaches this server's \
                     port may change it without a login"
                )
            } else {
                format!(
                    "[{section}] Authorization=2: no login; changes are accepted only from this computer \
                     (NoLoginChangesFromAnyAddress=0)"
                )
            }
        })
        .collect()
}

/// How long an address waits after its `count`-th failed login.
fn delay(count: u32) -> Duration {
    if count <= FREE_ATTEMPTS {
        return Duration::ZERO;
    }
    let exponent = (count - FREE_ATTEMPTS).min(16);
    Duration::from_secs(1u64 << exponent).min(MAX_DELAY)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `host[:port]` → `host` (an IPv6 literal keeps no brackets).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h)
}

/// The `host[:port]` of an `Origin` or `Referer` value, lower-case; `None` for `null` or anything odd.
fn origin_host(value: &str) -> Option<String> {
    let rest = value.strip_prefix("http://").or_else(|| value.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty() && !authority.contains('@')).then(|| authority.to_ascii_lowercase())
}

enum Credentials {
    Basic(String, String),
    Bearer(String),
}

fn authorization(headers: &HeaderMap) -> Option<Credentials> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Credentials::Bearer(rest.trim().to_owned()));
    }
    basic_credentials(headers).map(|(u, p)| Credentials::Basic(u, p))
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
    use crate::clock::{ManualClock, SystemClock};
    use crate::config::Settings;
    use axum::http::HeaderValue;
    use licence_protocol::time::UtcTime;

    fn settings(mode: AuthMode) -> Settings {
        let mut settings = Settings::default();
        settings.api.mode = mode;
        settings.api.password = passwords::hash("s3cret-pass");
        settings.console.mode = mode;
        settings
    }

    fn guard_with(settings: Settings, clock: Arc<dyn Clock>) -> (Guard, Arc<Live>) {
        let live = Arc::new(Live::new(settings));
        (Guard::new(live.clone(), clock, [1; 32], "licenceserver:TEST".into(), "Host1"), live)
    }

    fn guard(mode: AuthMode) -> Guard {
        guard_with(settings(mode), Arc::new(SystemClock)).0
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
    }

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn modes_follow_the_guide() {
        let good = headers(&[("authorization", &basic("admin", "s3cret-pass"))]);
        let none = HeaderMap::new();
        let check = |g: &Guard, m: Method, s: bool, h: &HeaderMap| g.check(Scope::Api, &m, s, true, HERE, h);
        let always = guard(AuthMode::Always);
        assert_eq!(check(&always, Method::GET, false, &none), Verdict::Unauthorized);
        assert_eq!(check(&always, Method::GET, false, &good), Verdict::Allowed);
        let changes = guard(AuthMode::ChangesOnly);
        assert_eq!(check(&changes, Method::GET, false, &none), Verdict::Allowed);
        assert_eq!(check(&changes, Method::GET, true, &none), Verdict::Unauthorized);
        assert_eq!(check(&changes, Method::DELETE, false, &none), Verdict::Unauthorized);
        assert_eq!(check(&changes, Method::DELETE, false, &good), Verdict::Allowed);
        assert_eq!(check(&guard(AuthMode::Off), Method::POST, false, &none), Verdict::Allowed);
        assert!(guard(AuthMode::Always).needs_new_password(Scope::Console));
        assert!(!guard(AuthMode::Always).needs_new_password(Scope::Api));
    }

    #[test]
    fn failed_logins_make_the_address_wait_longer_each_time() {
        let g = guard(AuthMode::Always);
        let bad = headers(&[("authorization", &basic("admin", "wrong"))]);
        let good = headers(&[("authorization", &basic("admin", "s3cret-pass"))]);
        for _ in 0..FREE_ATTEMPTS {
            assert_eq!(g.check(Scope::Api, &Method::GET, false, true, HERE, &bad), Verdict::Unauthorized);
        }
        assert_eq!(g.check(Scope::Api, &Method::GET, false, true, HERE, &bad), Verdict::Unauthorized);
        assert!(matches!(g.check(Scope::Api, &Method::GET, false, true, HERE, &good), Verdict::Slowed(1..=2)));
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(g.check(Scope::Api, &Method::GET, false, true, other, &good), Verdict::Allowed, "per address");
        assert_eq!(delay(4), Duration::from_secs(2));
        assert_eq!(delay(5), Duration::from_secs(4));
        assert_eq!(delay(40), MAX_DELAY);
    }

    fn manual_clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::at(UtcTime::from_unix_millis(1_800_000_000_000).unwrap()))
    }

    #[test]
    fn after_the_wait_the_right_password_works_and_clears_the_count() {
        let clock = manual_clock();
        let (g, _) = guard_with(settings(AuthMode::Always), clock.clone());
        let bad = headers(&[("authorization", &basic("admin", "wrong"))]);
        let good = headers(&[("authorization", &basic("admin", "s3cret-pass"))]);
        let check = |h: &HeaderMap| g.check(Scope::Api, &Method::GET, false, true, HERE, h);
        for _ in 0..=FREE_ATTEMPTS {
            assert_eq!(check(&bad), Verdict::Unauthorized);
        }
        assert_eq!(check(&good), Verdict::Slowed(2), "the fourth failure makes it wait 2 s");
        clock.advance(Duration::from_millis(1));
        assert_eq!(check(&good), Verdict::Slowed(2), "1.999 s left: rounded up, never shorter than the wait");
        clock.advance(Duration::from_millis(1499));
        assert_eq!(check(&good), Verdict::Slowed(1), "0.5 s left");
        clock.advance(Duration::from_millis(499));
        assert_eq!(check(&good), Verdict::Slowed(1), "1 ms left is still a second to wait");
        clock.advance(Duration::from_millis(1));
        assert_eq!(check(&good), Verdict::Allowed, "after the wait the right password works");
        assert_eq!(check(&good), Verdict::Allowed, "and cleared the address's count");
        // The user name's count is the attack's, not the address's: it stays, and meets this address
        // again as soon as it fails again.
        assert_eq!(check(&bad), Verdict::Unauthorized, "an address without failures is checked");
        assert_eq!(check(&good), Verdict::Slowed(4), "the user name's fifth failure: 4 s");
    }

    #[test]
    fn guessing_from_many_addresses_meets_the_user_names_growing_waits() {
        let clock = manual_clock();
        let (g, _) = guard_with(settings(AuthMode::ChangesOnly), clock.clone());
        let bad = headers(&[("authorization", &basic("admin", "guess"))]);
        let good = headers(&[("authorization", &basic("admin", "s3cret-pass"))]);
        let check = |peer: IpAddr, h: &HeaderMap| g.check(Scope::Api, &Method::DELETE, false, true, peer, h);
        let attackers: Vec<IpAddr> = (2..=21u8).map(|n| IpAddr::from([127, 0, 0, n])).collect();
        let mut waits = Vec::new();
        let mut checked = 0;
        for peer in &attackers {
            for _ in 0..3 {
                // Bounded: after waiting what it was told, a guess is checked.
                match check(*peer, &bad) {
                    Verdict::Unauthorized => {}
                    Verdict::Slowed(seconds) => {
                        waits.push(seconds);
                        clock.advance(Duration::from_secs(seconds));
                        assert_eq!(check(*peer, &bad), Verdict::Unauthorized, "after the wait the guess is checked");
                    }
                    other => panic!("{peer}: {other:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 60);
        assert_eq!(waits.len(), 38, "every address but the first waits before its 2nd and 3rd guess: {waits:?}");
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "the waits grow: {waits:?}");
        assert_eq!(waits[0], 2, "{waits:?}");
        assert_eq!(*waits.last().unwrap(), MAX_DELAY.as_secs(), "{waits:?}");
        // While the user name is under attack (in a 300 s wait now), the administrator's own address,
        // which failed nothing, logs in; an attacking address with the right password waits.
        assert!(matches!(check(attackers[19], &good), Verdict::Slowed(_)));
        assert_eq!(check(HERE, &good), Verdict::Allowed);
        assert_eq!(check(HERE, &good), Verdict::Allowed);
    }

    #[test]
    fn without_a_login_changes_come_only_from_this_computer_unless_widened() {
        let mut settings = Settings::default();
        settings.api.mode = AuthMode::Off;
        settings.console.mode = AuthMode::Off;
        settings.console.no_login_changes_from_any_address = true;
        let (g, _) = guard_with(settings, Arc::new(SystemClock));
        let far: IpAddr = "192.168.1.5".parse().unwrap();
        let none = HeaderMap::new();
        let api = |m: Method, s: bool, peer: IpAddr| g.check(Scope::Api, &m, s, true, peer, &none);
        assert_eq!(api(Method::GET, false, far), Verdict::Allowed, "reads from anywhere");
        assert_eq!(api(Method::DELETE, false, HERE), Verdict::Allowed, "changes from this computer");
        assert_eq!(api(Method::POST, false, "::1".parse().unwrap()), Verdict::Allowed);
        for (method, sensitive) in [(Method::DELETE, false), (Method::POST, false), (Method::GET, true)] {
            match api(method.clone(), sensitive, far) {
                Verdict::Forbidden(why) => assert!(why.contains("NoLoginChangesFromAnyAddress=1"), "{why}"),
                other => panic!("{method}: {other:?}"),
            }
        }
        assert_eq!(
            g.check(Scope::Console, &Method::POST, false, false, far, &none),
            Verdict::Allowed,
            "widened for the console"
        );
        let warnings = g.no_login_warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("[API] Authorization=2: no login"), "{warnings:?}");
        assert!(warnings[1].contains("anyone who reaches"), "{warnings:?}");
        assert!(guard(AuthMode::Always).no_login_warnings().is_empty());
    }

    #[test]
    fn the_default_api_password_changes_nothing() {
        let mut settings = Settings::default();
        settings.api.mode = AuthMode::Always;
        let (g, live) = guard_with(settings, Arc::new(SystemClock));
        assert!(g.needs_new_password(Scope::Api));
        let default = headers(&[("authorization", &basic("admin", "admin"))]);
        let check =
            |m: Method, sensitive: bool, tokens: bool| g.check(Scope::Api, &m, sensitive, tokens, HERE, &default);
        assert_eq!(check(Method::GET, false, true), Verdict::Allowed, "reads keep working");
        for (method, sensitive, tokens) in [
            (Method::DELETE, false, true),
            (Method::POST, false, false),
            (Method::PUT, false, true),
            (Method::GET, true, true),
        ] {
            match check(method.clone(), sensitive, tokens) {
                Verdict::Forbidden(why) => assert!(why.contains("[API] Password") && why.contains("REST API"), "{why}"),
                other => panic!("{method} (sensitive {sensitive}): {other:?}"),
            }
        }
        // Not even a guess is checked, so none counts.
        let wrong = headers(&[("authorization", &basic("admin", "wrong"))]);
        for _ in 0..10 {
            assert!(matches!(g.check(Scope::Api, &Method::DELETE, false, true, HERE, &wrong), Verdict::Forbidden(_)));
        }
        // The console's default password is the console's own first-login rule, not this.
        assert_eq!(g.check(Scope::Console, &Method::POST, false, false, HERE, &default), Verdict::Allowed);
        let mut changed = (*live.get()).clone();
        changed.api.password = passwords::hash("a-new-api-pass");
        live.replace(changed);
        let new = headers(&[("authorization", &basic("admin", "a-new-api-pass"))]);
        assert_eq!(g.check(Scope::Api, &Method::DELETE, false, true, HERE, &new), Verdict::Allowed);
    }

    #[test]
    fn other_hosts_and_other_sites_are_refused() {
        let g = guard(AuthMode::Off);
        let verdict = |method: Method, pairs: &[(&'static str, &str)]| {
            g.check(Scope::Console, &method, false, false, HERE, &headers(pairs))
        };
        for host in ["127.0.0.1:9099", "localhost:9099", "host1", "HOST1:9099", "[::1]:9099"] {
            assert_eq!(verdict(Method::GET, &[("host", host)]), Verdict::Allowed, "{host}");
        }
        assert!(matches!(verdict(Method::GET, &[("host", "evil.example:9099")]), Verdict::Forbidden(_)));
        assert!(matches!(verdict(Method::GET, &[("host", "host1.evil.example")]), Verdict::Forbidden(_)));
        let same = [("host", "127.0.0.1:9099"), ("origin", "http://127.0.0.1:9099")];
        assert_eq!(verdict(Method::POST, &same), Verdict::Allowed);
        let cross = [("host", "127.0.0.1:9099"), ("origin", "http://evil.example")];
        assert!(matches!(verdict(Method::POST, &cross), Verdict::Forbidden(_)));
        let null = [("host", "127.0.0.1:9099"), ("origin", "null")];
        assert!(matches!(verdict(Method::POST, &null), Verdict::Forbidden(_)));
        let referer = [("host", "127.0.0.1:9099"), ("referer", "http://evil.example/page")];
        assert!(matches!(verdict(Method::POST, &referer), Verdict::Forbidden(_)));
        let fetch = [("host", "127.0.0.1:9099"), ("sec-fetch-site", "cross-site")];
        assert!(matches!(verdict(Method::POST, &fetch), Verdict::Forbidden(_)));
        assert_eq!(verdict(Method::POST, &[("host", "127.0.0.1:9099")]), Verdict::Allowed, "curl sends no Origin");
    }

    #[test]
    fn addresses_can_be_limited() {
        let mut settings = Settings::default();
        settings.console.local_only = true;
        settings.api.allowed_addresses = vec!["10.0.0.0/8".parse().unwrap()];
        settings.api.mode = AuthMode::Off;
        let (g, _) = guard_with(settings, Arc::new(SystemClock));
        let far: IpAddr = "192.168.1.5".parse().unwrap();
        let none = HeaderMap::new();
        assert!(matches!(g.check(Scope::Console, &Method::GET, false, false, far, &none), Verdict::Forbidden(_)));
        assert_eq!(g.check(Scope::Console, &Method::GET, false, false, HERE, &none), Verdict::Allowed);
        assert!(matches!(g.check(Scope::Api, &Method::GET, false, true, far, &none), Verdict::Forbidden(_)));
        assert_eq!(
            g.check(Scope::Api, &Method::GET, false, true, "10.2.3.4".parse().unwrap(), &none),
            Verdict::Allowed
        );
    }

    #[test]
    fn tokens_work_for_the_api_until_the_password_changes() {
        let (g, live) = guard_with(settings(AuthMode::Always), Arc::new(SystemClock));
        let now = g.clock().now().unix_millis() / 1000;
        let (jwt, _) = g.issue_token(now);
        let bearer = headers(&[("authorization", &format!("Bearer {jwt}"))]);
        assert_eq!(g.check(Scope::Api, &Method::GET, false, true, HERE, &bearer), Verdict::Allowed);
        assert_eq!(g.check(Scope::Api, &Method::GET, false, false, HERE, &bearer), Verdict::Unauthorized);
        assert_eq!(g.check(Scope::Console, &Method::GET, false, true, HERE, &bearer), Verdict::Unauthorized);
        let mut changed = (*live.get()).clone();
        changed.api.password = passwords::hash("another-pass-1");
        live.replace(changed);
        assert_eq!(g.check(Scope::Api, &Method::GET, false, true, HERE, &bearer), Verdict::Unauthorized);
    }

    #[test]
    fn a_password_saved_in_the_live_settings_applies_at_once() {
        let (g, live) = guard_with(Settings::default(), Arc::new(SystemClock));
        let old = headers(&[("authorization", &basic("admin", "admin"))]);
        let delete = |h: &HeaderMap| g.check(Scope::Console, &Method::DELETE, false, false, HERE, h);
        assert!(g.needs_new_password(Scope::Console));
        assert_eq!(delete(&old), Verdict::Allowed, "the remembered login of the default password");
        let mut changed = (*live.get()).clone();
        changed.console.password = passwords::hash("a-new-pass-1");
        live.replace(changed);
        assert!(!g.needs_new_password(Scope::Console), "what the console reads is what the guard checks");
        assert_eq!(delete(&old), Verdict::Unauthorized, "the old password no longer works, remembered or not");
        let new = headers(&[("authorization", &basic("admin", "a-new-pass-1"))]);
        assert_eq!(delete(&new), Verdict::Allowed);
    }

    #[test]
    fn malformed_headers_are_no_credentials() {
        for v in ["Basic", "Basic !!!", "Bearer abc", "Basic YWRtaW4=", ""] {
            let h = headers(&[("authorization", v)]);
            assert_eq!(basic_credentials(&h), None, "{v}");
        }
        let h = headers(&[("authorization", &format!("basic {}", STANDARD.encode("a:b:c")))]);
        assert_eq!(basic_credentials(&h), Some(("a".into(), "b:c".into())));
    }
}
