//! Time that cannot be turned back. A clock set back could keep a term key, a demo key or an update
//! subscription alive for ever; so the licence server (and the add-in's local fallback, with what it
//! can keep) holds a *floor*: the latest of the highest time it has seen (its high-water mark, kept in
//! its state) and every installed key's `ActivationDate` (set by the vendor's centre, so a key
//! activated "in the future" is evidence too). When the clock reads more than [`TOLERANCE`] before
//! the floor, time-limited keys stop counting, with the reason in their `OpenError`, until the clock is
//! right again; keys without an end keep counting.

use crate::key::{KeyFields, KeyKind};
use crate::time::UtcTime;
use std::time::Duration;

/// How far behind the floor the clock may be before time-limited keys stop: one day, so that time
/// zones set wrongly and ordinary clock corrections never stop a key, while turning the clock back
/// gains at most a day in all (the floor keeps the highest time seen).
pub const TOLERANCE: Duration = Duration::from_secs(24 * 3600);

/// True for a key whose use depends on the date: a term or an end date, a demo key, or an update
/// subscription.
pub fn is_time_limited(fields: &KeyFields) -> bool {
    fields.effective_expiry().is_some() || fields.key_type == KeyKind::Demo || fields.support_date.is_some()
}

/// The floor from a high-water mark and the activation dates of the keys.
pub fn floor<'a>(high_water: Option<UtcTime>, keys: impl IntoIterator<Item = &'a KeyFields>) -> Option<UtcTime> {
    keys.into_iter().filter_map(|f| f.activation_date).chain(high_water).max()
}

/// Why the clock cannot be trusted at `now` against `floor`, if it cannot.
pub fn behind(now: UtcTime, floor: Option<UtcTime>) -> Option<String> {
    let floor = floor?;
    (now.plus(TOLERANCE) < floor).then(|| {
        format!(
            "the computer's clock ({now}) is behind the latest time this licence server has seen or a key was \
             activated ({floor}) by more than a day: time-limited keys do not count until the clock is set right"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::tests::sample_fields;

    #[test]
    fn a_clock_more_than_a_day_behind_the_floor_is_behind() {
        let t = UtcTime::parse("2026-12-01T00:00:00Z").unwrap();
        assert_eq!(behind(t, None), None);
        assert_eq!(behind(t, Some(t.plus(Duration::from_secs(23 * 3600)))), None);
        let why = behind(t, Some(t.plus_days(2))).unwrap();
        assert!(why.contains("behind the latest time"), "{why}");
        let mut key = sample_fields();
        key.activation_date = Some(t.plus_days(5));
        assert_eq!(floor(Some(t), [&key]), Some(t.plus_days(5)));
        assert_eq!(floor(Some(t.plus_days(9)), [&key]), Some(t.plus_days(9)));
    }

    #[test]
    fn perpetual_keys_are_not_time_limited() {
        let mut key = sample_fields();
        assert!(is_time_limited(&key), "a 30-day term");
        key.period = 0;
        assert!(!is_time_limited(&key));
        key.support_date = Some(key.start_date.plus_days(365));
        assert!(is_time_limited(&key), "an update subscription");
        key.support_date = None;
        key.key_type = KeyKind::Demo;
        assert!(is_time_limited(&key));
    }
}
