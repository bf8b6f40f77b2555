//! Demo mode and the expiry warnings, worked out from the series' key facts (`/licence/keyinfo`), the
//! configuration's release date and the time. Pure: the caller passes `now`, so every rule is tested
//! here without a server or a clock.
//!
//! * Demo mode: no licence is held, or the configuration's release is dated after the end of the
//!   update subscription (`SupportDate`) of every counting key that has one — a perpetual licence
//!   whose subscription ended before this release covers older releases only. A key without a
//!   `SupportDate` never forces demo mode.
//! * Days left: until the latest expiry of the counting keys (none when one of them never expires),
//!   and until the latest `SupportDate` of the counting keys.
//! * Warnings: from [`WARNING_DAYS`] days before an end, including the day of the end itself, at
//!   most once per UTC calendar day each; none once the end's day has passed.
use licence_protocol::time::UtcTime;
use licence_protocol::wire::KeyParameters;

/// A warning is due from this many days before a key or a subscription ends.
pub const WARNING_DAYS: u32 = 14;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// What the configuration sees through `DemoMode`, `DaysLeft` and `SupportDaysLeft`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outlook {
    pub demo: bool,
    /// Until the licence ends; `None` when a counting key never expires or nothing is known.
    pub days_left: Option<u32>,
    /// Until the update subscription ends; `None` when no counting key has one.
    pub support_days_left: Option<u32>,
    /// The ends themselves, which decide whether a warning is still due.
    expiry: Option<UtcTime>,
    support_end: Option<UtcTime>,
}

/// The latest expiry of the counting keys; `None` when there is none or one never expires.
fn licence_end(keys: &[KeyParameters]) -> Option<UtcTime> {
    let ends: Option<Vec<UtcTime>> = keys.iter().filter(|k| k.counts).map(|k| k.expire_date).collect();
    ends?.into_iter().max()
}

/// The latest `SupportDate` of the counting keys that have one.
fn support_end(keys: &[KeyParameters]) -> Option<UtcTime> {
    keys.iter().filter(|k| k.counts).filter_map(|k| k.support_date).max()
}

/// Demo mode and the days left, for `keys` (`None`: never fetched), whether a licence is `held`, the
/// configuration's `release` date and `now`.
pub fn outlook(keys: Option<&[KeyParameters]>, held: bool, release: Option<UtcTime>, now: UtcTime) -> Outlook {
    let keys = keys.unwrap_or_default();
    let expiry = licence_end(keys);
    let support_end = support_end(keys);
    let past_subscription = matches!((release, support_end), (Some(release), Some(end)) if release > end);
    Outlook {
        demo: !held || past_subscription,
        days_left: expiry.map(|end| now.days_until(end)),
        support_days_left: support_end.map(|end| now.days_until(end)),
        expiry,
        support_end,
    }
}

/// One of the two warnings and the days left it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    Expiry(u32),
    SupportEnd(u32),
}

impl Warning {
    /// The `ExternalEvent` message.
    pub fn message(self) -> &'static str {
        match self {
            Warning::Expiry(_) => "ExpiryWarning",
            Warning::SupportEnd(_) => "SupportEndWarning",
        }
    }

    pub fn days(self) -> u32 {
        match self {
            Warning::Expiry(days) | Warning::SupportEnd(days) => days,
        }
    }
}

/// The UTC calendar day of `t`, counted from 1970-01-01.
fn day_of(t: UtcTime) -> i64 {
    t.unix_millis().div_euclid(MILLIS_PER_DAY)
}

/// The UTC days on which each warning was last given, so that each comes at most once a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WarningLog {
    expiry: Option<i64>,
    support_end: Option<i64>,
}

impl WarningLog {
    /// The warnings due at `now` for `outlook`, recorded as given.
    pub fn due(&mut self, outlook: &Outlook, now: UtcTime) -> Vec<Warning> {
        let today = day_of(now);
        let mut due = Vec::new();
        for (end, last, warning) in [
            (outlook.expiry, &mut self.expiry, Warning::Expiry as fn(u32) -> Warning),
            (outlook.support_end, &mut self.support_end, Warning::SupportEnd),
        ] {
            let Some(end) = end else { continue };
            let days = now.days_until(end);
            if days <= WARNING_DAYS && day_of(end) >= today && *last != Some(today) {
                *last = Some(today);
                due.push(warning(days));
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use licence_protocol::key::KeyKind;

    fn at(text: &str) -> UtcTime {
        UtcTime::parse(text).unwrap()
    }

    fn key(counts: bool, expire: Option<&str>, support: Option<&str>) -> KeyParameters {
        KeyParameters {
            key_no: 1,
            key_type: KeyKind::Main,
            licence_count: 5,
            counts,
            workable: true,
            start_date: at("2026-01-01T00:00:00Z"),
            expire_date: expire.map(at),
            days_left: None,
            expired: false,
            flags: 0,
            product_name: String::new(),
            product_version: String::new(),
            article: String::new(),
            article_name: String::new(),
            support_date: support.map(at),
        }
    }

    const NOW: &str = "2026-11-24T06:00:00Z";

    #[test]
    fn no_licence_or_no_facts_is_demo_mode_with_nothing_known() {
        let o = outlook(None, false, None, at(NOW));
        assert!(o.demo);
        assert_eq!((o.days_left, o.support_days_left), (None, None));
        let o = outlook(None, true, Some(at(NOW)), at(NOW));
        assert!(!o.demo, "a held licence without facts is not demo mode");
        let keys = [key(true, Some("2026-12-04T06:00:00Z"), None)];
        assert!(outlook(Some(&keys), false, None, at(NOW)).demo);
    }

    #[test]
    fn seed_001_a_release_after_every_subscription_end_runs_in_demo_mode() {
        let keys = [
            key(true, None, Some("2026-06-01T00:00:00Z")),
            key(true, None, Some("2026-09-01T00:00:00Z")),
            key(true, None, None),
        ];
        let demo = |release: &str| outlook(Some(&keys), true, Some(at(release)), at(NOW)).demo;
        assert!(demo("2026-10-01T00:00:00Z"));
        assert!(!demo("2026-08-01T00:00:00Z"), "covered by the later subscription");
        assert!(!demo("2026-09-01T00:00:00Z"), "released on the subscription's last day");
        assert!(!outlook(Some(&keys), true, None, at(NOW)).demo, "no release date set");
    }

    #[test]
    fn keys_without_a_support_date_or_not_counting_never_force_demo_mode() {
        let keys = [key(true, None, None), key(false, None, Some("2020-01-01T00:00:00Z"))];
        let o = outlook(Some(&keys), true, Some(at("2030-01-01T00:00:00Z")), at(NOW));
        assert!(!o.demo);
        assert_eq!(o.support_days_left, None);
    }

    #[test]
    fn days_left_are_until_the_latest_end_and_unknown_when_a_key_never_expires() {
        let keys = [
            key(true, Some("2026-12-04T06:00:00Z"), Some("2026-11-29T00:00:00Z")),
            key(true, Some("2026-12-01T00:00:00Z"), None),
            key(false, Some("2027-12-01T00:00:00Z"), None),
        ];
        let o = outlook(Some(&keys), true, None, at(NOW));
        assert_eq!(o.days_left, Some(10));
        assert_eq!(o.support_days_left, Some(5), "rounded up, as the server counts");
        let mut with_perpetual = keys.to_vec();
        with_perpetual.push(key(true, None, None));
        assert_eq!(outlook(Some(&with_perpetual), true, None, at(NOW)).days_left, None);
        assert_eq!(outlook(Some(&keys[2..]), true, None, at(NOW)).days_left, None, "no counting key");
    }

    #[test]
    fn each_warning_comes_once_a_day_from_14_days_before_the_end() {
        let keys = [key(true, Some("2026-12-04T06:00:00Z"), Some("2026-12-18T00:00:00Z"))];
        let mut log = WarningLog::default();
        let o = outlook(Some(&keys), true, None, at(NOW));
        assert_eq!(log.due(&o, at(NOW)), vec![Warning::Expiry(10)]);
        assert_eq!(log.due(&o, at("2026-11-24T23:59:59Z")), vec![], "same UTC day");
        let next = at("2026-11-25T00:00:01Z");
        assert_eq!(log.due(&outlook(Some(&keys), true, None, next), next), vec![Warning::Expiry(10)]);
        let later = at("2026-12-04T07:00:00Z");
        let due = log.due(&outlook(Some(&keys), true, None, later), later);
        assert_eq!(due, vec![Warning::Expiry(0), Warning::SupportEnd(14)]);
        assert_eq!((due[1].message(), due[1].days()), ("SupportEndWarning", 14));
    }

    #[test]
    fn the_end_day_itself_warns_with_0_and_a_past_end_no_more() {
        let keys = [key(true, None, Some("2026-11-24T03:00:00Z"))];
        let mut log = WarningLog::default();
        let o = outlook(Some(&keys), true, None, at(NOW));
        assert_eq!(log.due(&o, at(NOW)), vec![Warning::SupportEnd(0)]);
        let next = at("2026-11-25T08:00:00Z");
        assert_eq!(log.due(&outlook(Some(&keys), true, None, next), next), vec![]);
        let far = [key(true, Some("2026-12-09T06:00:01Z"), None)];
        assert_eq!(log.due(&outlook(Some(&far), true, None, at(NOW)), at(NOW)), vec![], "15 days left");
    }
}
