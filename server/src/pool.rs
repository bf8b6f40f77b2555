//! Which installed keys give licences. The key-kind rules (main, additional only beside a counting
//! main key, demo only alone, dates) live in `licence_protocol::pool`, shared with the add-in's local
//! fallback; this module is the server's glue: it keeps the pool's standing and turns it into the
//! capacities the seat ledger hands out.

use crate::ledger::KeyCapacity;
use std::ops::Deref;

pub use licence_protocol::pool::{KeyStanding, PoolKey, SeriesStanding};

/// The standing of every installed key and series ([`licence_protocol::pool::PoolStanding`]), with
/// what the ledger needs from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStanding(licence_protocol::pool::PoolStanding);

impl Deref for PoolStanding {
    type Target = licence_protocol::pool::PoolStanding;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl PoolStanding {
    /// What the ledger needs to hand out seats: every key, counting or not.
    pub fn capacities(&self) -> Vec<KeyCapacity> {
        self.keys()
            .map(|k| KeyCapacity {
                key_no: k.key_no,
                series: k.series,
                kind: k.kind,
                licence_count: k.licence_count,
                counts: k.counts,
            })
            .collect()
    }
}

/// Applies the key rules to the installed keys (see `licence_protocol::pool::evaluate`).
pub fn evaluate(keys: &[PoolKey]) -> PoolStanding {
    PoolStanding(licence_protocol::pool::evaluate(keys))
}

/// [`evaluate`], where a series in `pins` counts only keys signed by its pin (see
/// `licence_protocol::pool::evaluate_pinned`).
pub fn evaluate_pinned(
    keys: &[PoolKey],
    pins: &std::collections::BTreeMap<licence_protocol::key::SeriesId, [u8; 32]>,
) -> PoolStanding {
    PoolStanding(licence_protocol::pool::evaluate_pinned(keys, pins))
}

#[cfg(test)]
mod tests {
    use super::*;
    use licence_protocol::key::{KeyKind, Validity};

    fn key(key_no: u64, kind: KeyKind, licence_count: u32, workable: bool) -> PoolKey {
        let validity = Validity { expire_date: None, days_left: None, expired: false, not_started: false };
        let series = "672B".parse().unwrap();
        PoolKey { key_no, series, signer: [1; 32], kind, licence_count, workable, enabled: true, validity }
    }

    #[test]
    fn the_ledger_sees_every_key_counting_or_not() {
        let s = evaluate(&[
            key(1, KeyKind::Main, 10, true),
            key(2, KeyKind::Additional, 5, true),
            key(3, KeyKind::Main, 7, false),
        ]);
        let capacities = s.capacities();
        assert_eq!(capacities.len(), 3);
        let counting: u32 = capacities.iter().filter(|c| c.counts).map(|c| c.licence_count).sum();
        assert_eq!(counting, 15);
        assert_eq!(s.series("672B".parse().unwrap()).unwrap().capacity, 15);
        assert!(!capacities.iter().find(|c| c.key_no == 3).unwrap().counts);
    }
}
