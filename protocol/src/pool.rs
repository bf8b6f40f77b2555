//! Which installed keys give licences. A key counts when it is enabled, workable and in date, and
//! when its kind allows it beside the other keys of its series: an additional key (kind 4) counts
//! only while a main key (kind 3) of the same series counts on this server; a demo key (kind 5)
//! never adds to other keys, so it stands aside when any workable main or additional key of its
//! series is installed, and of several demo keys only the one with the lowest `KeyNo` counts.
//! [`evaluate`] is pure: the caller passes each key's validity for the moment it cares about. The
//! licence server hands the result to its seat ledger; the add-in's local fallback uses it to tell
//! whether a key installed on its own computer may give the one licence of file mode. One
//! implementation serves both, so a key counts on the fallback exactly when it would on the server.

use crate::key::{KeyKind, SeriesId, Validity};
use crate::wire::ErrorCode;
use std::collections::{BTreeMap, BTreeSet};

/// One installed key as the pool rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolKey {
    pub key_no: u64,
    pub series: SeriesId,
    /// The series public key that signed the key file.
    pub signer: [u8; 32],
    pub kind: KeyKind,
    pub licence_count: u32,
    pub workable: bool,
    pub enabled: bool,
    pub validity: Validity,
}

/// Whether one key gives licences, and in plain words why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStanding {
    pub key_no: u64,
    pub series: SeriesId,
    pub kind: KeyKind,
    pub licence_count: u32,
    pub counts: bool,
    /// Why the key does not count (lower-case English); `None` when it counts.
    pub reason: Option<String>,
}

/// What one series of keys gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesStanding {
    pub series: SeriesId,
    /// Licences of all keys of the series that count.
    pub capacity: u32,
    /// Why no key of the series counts; `None` when one does.
    pub why_none: Option<ErrorCode>,
}

/// The standing of every installed key and series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStanding {
    keys: BTreeMap<u64, KeyStanding>,
    series: BTreeMap<SeriesId, SeriesStanding>,
}

impl PoolStanding {
    pub fn key(&self, key_no: u64) -> Option<&KeyStanding> {
        self.keys.get(&key_no)
    }

    pub fn series(&self, series: SeriesId) -> Option<&SeriesStanding> {
        self.series.get(&series)
    }

    /// Every key, by ascending `KeyNo`.
    pub fn keys(&self) -> impl Iterator<Item = &KeyStanding> {
        self.keys.values()
    }

    /// Every series that has at least one key installed, in order.
    pub fn all_series(&self) -> impl Iterator<Item = &SeriesStanding> {
        self.series.values()
    }

    /// For every series whose keys give no licence, the error a client asking for one gets.
    pub fn why_none(&self) -> BTreeMap<SeriesId, ErrorCode> {
        self.series.values().filter_map(|s| Some((s.series, s.why_none?))).collect()
    }
}

/// Applies the key rules to the installed keys. A `KeyNo` given twice keeps its first entry.
pub fn evaluate(keys: &[PoolKey]) -> PoolStanding {
    evaluate_pinned(keys, &BTreeMap::new())
}

/// [`evaluate`], where a series in `pins` counts only keys signed by its pinned series public key (the
/// one its configurations pin): a key of that series signed by any other key gives nothing and is
/// left out of the series' rules altogether, so it cannot block a demo key or carry an additional one.
pub fn evaluate_pinned(keys: &[PoolKey], pins: &BTreeMap<SeriesId, [u8; 32]>) -> PoolStanding {
    let mut seen = BTreeSet::new();
    let mut by_series: BTreeMap<SeriesId, Vec<&PoolKey>> = BTreeMap::new();
    let mut standing = PoolStanding::default();
    for key in keys.iter().filter(|k| seen.insert(k.key_no)) {
        match pins.get(&key.series) {
            Some(pin) if *pin != key.signer => {
                let reason = other_signer(key.series, pin);
                let (key_no, series, kind, licence_count) = (key.key_no, key.series, key.kind, key.licence_count);
                let standing_of =
                    KeyStanding { key_no, series, kind, licence_count, counts: false, reason: Some(reason) };
                standing.keys.insert(key.key_no, standing_of);
                by_series.entry(key.series).or_default();
            }
            _ => by_series.entry(key.series).or_default().push(key),
        }
    }
    for (series, keys) in by_series {
        let summary = evaluate_series(series, &keys, &mut standing.keys);
        standing.series.insert(series, summary);
    }
    standing
}

/// Why a key of `series` signed by another key than `pin` gives nothing.
pub fn other_signer(series: SeriesId, pin: &[u8; 32]) -> String {
    format!(
        "signed by another key than {}…, the series key the configurations of series {series} pin: it counts for \
         none of them (a key of a self-made series, or of another vendor's series with the same KeyID)",
        hex::encode(&pin[..8])
    )
}

fn evaluate_series(series: SeriesId, keys: &[&PoolKey], out: &mut BTreeMap<u64, KeyStanding>) -> SeriesStanding {
    let usable = |k: &PoolKey| own_reason(k).is_none();
    let main_counts = keys.iter().any(|k| k.kind == KeyKind::Main && usable(k));
    let demo_blocked = keys.iter().any(|k| k.kind != KeyKind::Demo && k.enabled && k.workable);
    let first_demo = keys.iter().filter(|k| k.kind == KeyKind::Demo && usable(k)).map(|k| k.key_no).min();

    let mut capacity = 0u32;
    let mut any_counts = false;
    for key in keys {
        let reason = own_reason(key).or_else(|| match key.kind {
            KeyKind::Main => None,
            KeyKind::Additional if main_counts => None,
            KeyKind::Additional => Some(format!("additional key needs a main key of series {series}")),
            KeyKind::Demo if demo_blocked => {
                Some(format!("demo key cannot be combined with other keys of series {series}"))
            }
            KeyKind::Demo if first_demo != Some(key.key_no) => {
                Some(format!("only one demo key of series {series} counts"))
            }
            KeyKind::Demo => None,
        });
        let counts = reason.is_none();
        if counts {
            any_counts = true;
            capacity = capacity.saturating_add(key.licence_count);
        }
        out.insert(
            key.key_no,
            KeyStanding {
                key_no: key.key_no,
                series,
                kind: key.kind,
                licence_count: key.licence_count,
                counts,
                reason,
            },
        );
    }
    let why_none = (!any_counts).then(|| why_none(keys));
    SeriesStanding { series, capacity, why_none }
}

/// Why a key cannot count whatever else is installed.
fn own_reason(key: &PoolKey) -> Option<String> {
    let v = &key.validity;
    if !key.enabled {
        Some("key is disabled".to_owned())
    } else if !key.workable {
        Some("key is not workable".to_owned())
    } else if v.expired {
        Some(match v.expire_date {
            Some(date) => format!("key expired on {date}"),
            None => "key has expired".to_owned(),
        })
    } else if v.not_started {
        Some("key has not started yet".to_owned())
    } else {
        None
    }
}

/// The error for a series where no key counts. The keys that decide are the enabled, workable
/// ones that could stand alone: main keys if there are any, else demo keys. When every one of
/// them is out of date, the client hears about dates; otherwise there is simply no usable key.
fn why_none(keys: &[&PoolKey]) -> ErrorCode {
    let standing_alone = |kind: KeyKind| -> Vec<&PoolKey> {
        keys.iter().copied().filter(|k| k.kind == kind && k.enabled && k.workable).collect()
    };
    let mains = standing_alone(KeyKind::Main);
    let decisive = if mains.is_empty() { standing_alone(KeyKind::Demo) } else { mains };
    let out_of_date = |k: &&PoolKey| k.validity.expired || k.validity.not_started;
    if decisive.is_empty() || !decisive.iter().all(out_of_date) {
        ErrorCode::NoKey
    } else if decisive.iter().any(|k| k.validity.expired) {
        ErrorCode::KeyExpired
    } else {
        ErrorCode::KeyNotStarted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::UtcTime;
    use proptest::prelude::*;

    fn series() -> SeriesId {
        "672B".parse().unwrap()
    }

    fn in_date() -> Validity {
        Validity { expire_date: None, days_left: None, expired: false, not_started: false }
    }

    fn key(key_no: u64, kind: KeyKind, licence_count: u32) -> PoolKey {
        let (workable, enabled, validity) = (true, true, in_date());
        PoolKey { key_no, series: series(), signer: [1; 32], kind, licence_count, workable, enabled, validity }
    }

    #[test]
    fn a_pinned_series_counts_only_keys_of_its_signer() {
        let mut forged_main = key(2, KeyKind::Main, 500);
        forged_main.signer = [2; 32];
        let mut forged_extra = key(3, KeyKind::Additional, 500);
        forged_extra.signer = [2; 32];
        let keys = [key(1, KeyKind::Demo, 2), forged_main, forged_extra];
        let pins = BTreeMap::from([(series(), [1u8; 32])]);
        let s = evaluate_pinned(&keys, &pins);
        assert_eq!(s.series(series()).unwrap().capacity, 2, "only the genuine demo key counts, and alone");
        assert!(s.key(1).unwrap().counts);
        for forged in [2, 3] {
            let reason = s.key(forged).unwrap().reason.clone().unwrap();
            assert!(reason.starts_with("signed by another key than 0101010101010101…"), "{reason}");
        }
        let unpinned = evaluate(&keys);
        assert_eq!(unpinned.series(series()).unwrap().capacity, 1000, "without a pin the rules see every key");
        let only_forged = evaluate_pinned(&keys[1..], &pins);
        assert_eq!(only_forged.series(series()).unwrap().why_none, Some(ErrorCode::NoKey));
    }

    fn expired(mut k: PoolKey) -> PoolKey {
        k.validity.expired = true;
        k.validity.expire_date = Some(UtcTime::parse("2026-01-01T00:00:00Z").unwrap());
        k
    }

    fn reason(s: &PoolStanding, key_no: u64) -> Option<&str> {
        s.key(key_no).unwrap().reason.as_deref()
    }

    #[test]
    fn main_and_additional_keys_add_up() {
        let s = evaluate(&[key(1, KeyKind::Main, 10), key(2, KeyKind::Additional, 5)]);
        assert!(s.key(1).unwrap().counts && s.key(2).unwrap().counts);
        let summary = s.series(series()).unwrap();
        assert_eq!(summary.capacity, 15);
        assert_eq!(summary.why_none, None);
        assert!(s.why_none().is_empty());
        assert_eq!(s.keys().count(), 2);
    }

    #[test]
    fn additional_key_alone_gives_nothing() {
        let s = evaluate(&[key(2, KeyKind::Additional, 5)]);
        assert_eq!(reason(&s, 2), Some("additional key needs a main key of series 672B"));
        assert_eq!(s.series(series()).unwrap().capacity, 0);
        assert_eq!(s.why_none().get(&series()), Some(&ErrorCode::NoKey));
    }

    #[test]
    fn additional_key_stops_when_its_main_key_expires() {
        let s = evaluate(&[expired(key(1, KeyKind::Main, 10)), key(2, KeyKind::Additional, 5)]);
        assert_eq!(reason(&s, 1), Some("key expired on 2026-01-01T00:00:00.000Z"));
        assert_eq!(reason(&s, 2), Some("additional key needs a main key of series 672B"));
        assert_eq!(s.series(series()).unwrap().why_none, Some(ErrorCode::KeyExpired));
    }

    #[test]
    fn additional_key_of_another_series_does_not_help() {
        let mut other = key(1, KeyKind::Main, 10);
        other.series = "1A2B".parse().unwrap();
        let s = evaluate(&[other, key(2, KeyKind::Additional, 5)]);
        assert!(!s.key(2).unwrap().counts);
        assert_eq!(s.series("1A2B".parse().unwrap()).unwrap().capacity, 10);
    }

    #[test]
    fn demo_key_stands_aside_beside_other_keys() {
        let s = evaluate(&[key(1, KeyKind::Main, 10), key(3, KeyKind::Demo, 2)]);
        assert_eq!(reason(&s, 3), Some("demo key cannot be combined with other keys of series 672B"));
        assert_eq!(s.series(series()).unwrap().capacity, 10);

        // An expired main key still forbids the demo key: it is installed beside it.
        let s = evaluate(&[expired(key(1, KeyKind::Main, 10)), key(3, KeyKind::Demo, 2)]);
        assert!(!s.key(3).unwrap().counts);
        // A key that is not workable (another computer's file) does not.
        let mut foreign = key(1, KeyKind::Main, 10);
        foreign.workable = false;
        let s = evaluate(&[foreign, key(3, KeyKind::Demo, 2)]);
        assert_eq!(reason(&s, 1), Some("key is not workable"));
        assert!(s.key(3).unwrap().counts);
        assert_eq!(s.series(series()).unwrap().capacity, 2);
    }

    #[test]
    fn only_the_lowest_usable_demo_key_counts() {
        let s = evaluate(&[key(9, KeyKind::Demo, 3), key(4, KeyKind::Demo, 2), key(7, KeyKind::Demo, 5)]);
        assert!(s.key(4).unwrap().counts);
        assert_eq!(reason(&s, 7), Some("only one demo key of series 672B counts"));
        assert_eq!(reason(&s, 9), Some("only one demo key of series 672B counts"));
        assert_eq!(s.series(series()).unwrap().capacity, 2);

        let s = evaluate(&[expired(key(4, KeyKind::Demo, 2)), key(7, KeyKind::Demo, 5)]);
        assert!(s.key(7).unwrap().counts);
        assert_eq!(s.series(series()).unwrap().capacity, 5);
    }

    #[test]
    fn empty_pool_says_why() {
        let mut later = key(1, KeyKind::Main, 10);
        later.validity.not_started = true;
        let s = evaluate(&[later]);
        assert_eq!(reason(&s, 1), Some("key has not started yet"));
        assert_eq!(s.series(series()).unwrap().why_none, Some(ErrorCode::KeyNotStarted));

        let mut off = key(1, KeyKind::Main, 10);
        off.enabled = false;
        let s = evaluate(&[off]);
        assert_eq!(reason(&s, 1), Some("key is disabled"));
        assert_eq!(s.series(series()).unwrap().why_none, Some(ErrorCode::NoKey));

        let s = evaluate(&[expired(key(1, KeyKind::Demo, 1))]);
        assert_eq!(s.series(series()).unwrap().why_none, Some(ErrorCode::KeyExpired));
        assert!(evaluate(&[]).why_none().is_empty());
    }

    #[test]
    fn a_repeated_key_number_keeps_its_first_entry() {
        let s = evaluate(&[key(1, KeyKind::Main, 10), key(1, KeyKind::Main, 99)]);
        assert_eq!(s.series(series()).unwrap().capacity, 10);
    }

    fn any_key() -> impl Strategy<Value = PoolKey> {
        let kinds = prop_oneof![Just(KeyKind::Main), Just(KeyKind::Additional), Just(KeyKind::Demo)];
        let series = prop_oneof![Just("672B"), Just("1A2B")];
        (0u64..12, series, kinds, 0u32..20, any::<[bool; 4]>()).prop_map(
            |(key_no, s, kind, licence_count, [workable, enabled, expired, not_started])| PoolKey {
                key_no,
                series: s.parse().unwrap(),
                signer: [1; 32],
                kind,
                licence_count,
                workable,
                enabled,
                validity: Validity { expire_date: None, days_left: None, expired, not_started },
            },
        )
    }

    proptest! {
        #[test]
        fn standing_follows_the_rules(keys in proptest::collection::vec(any_key(), 0..10)) {
            let s = evaluate(&keys);
            for summary in s.all_series() {
                let counting: Vec<&KeyStanding> =
                    s.keys().filter(|k| k.series == summary.series && k.counts).collect();
                let capacity: u32 = counting.iter().map(|k| k.licence_count).sum();
                prop_assert_eq!(summary.capacity, capacity);
                prop_assert_eq!(summary.why_none.is_none(), !counting.is_empty());
                let demos = counting.iter().filter(|k| k.kind == KeyKind::Demo).count();
                prop_assert!(demos <= 1);
                if demos == 1 {
                    prop_assert_eq!(counting.len(), 1, "a demo key never counts beside others");
                }
                if counting.iter().any(|k| k.kind == KeyKind::Additional) {
                    prop_assert!(counting.iter().any(|k| k.kind == KeyKind::Main));
                }
            }
            for k in s.keys() {
                prop_assert_eq!(k.counts, k.reason.is_none());
                let input = keys.iter().find(|p| p.key_no == k.key_no).unwrap();
                if k.counts {
                    let v = input.validity;
                    prop_assert!(input.enabled && input.workable && !v.expired && !v.not_started);
                }
            }
        }
    }
}
