//! A bounded memory of removed sessions: their ID and how they were lost, so that an add-in calling
//! after its session is gone hears "ended by the administrator" rather than a bare "unknown". The
//! oldest entries are forgotten first once the limit is reached; a forgotten session reads as
//! [`Loss::Unknown`], which the add-in handles the same way (it obtains a licence again).

use super::error::Loss;
use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

/// How many removed sessions the server remembers.
pub const TOMBSTONE_LIMIT: usize = 100_000;

/// Entries are fixed-size keys, not strings: a long-lived small allocation per released session,
/// interleaved with each request's short-lived buffers, pinned ~1.4 KB of heap per tombstone in the
/// benchmark (fragmentation), where two flat tables cost ~50 bytes.
#[derive(Debug)]
pub(super) struct Tombstones {
    limit: usize,
    losses: HashMap<u128, (Loss, u64)>,
    order: VecDeque<(u64, u128)>,
    next: u64,
}

/// The server's session IDs are 32 hex digits, i.e. exactly a `u128`; any other ID (restored from
/// an older store, or in tests) is hashed to 128 bits — a collision could only change which of two
/// "licence gone" messages a client reads.
fn key(session_id: &str) -> u128 {
    if session_id.len() == 32 {
        if let Ok(k) = u128::from_str_radix(session_id, 16) {
            return k;
        }
    }
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        (salt, session_id).hash(&mut h);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

impl Tombstones {
    pub fn new(limit: usize) -> Self {
        Self { limit, losses: HashMap::new(), order: VecDeque::new(), next: 0 }
    }

    pub fn bury(&mut self, session_id: &str, loss: Loss) {
        if self.limit == 0 {
            return;
        }
        let (stamp, id) = (self.next, key(session_id));
        self.next += 1;
        self.losses.insert(id, (loss, stamp));
        self.order.push_back((stamp, id));
        while self.order.len() > self.limit {
            if let Some((stamp, id)) = self.order.pop_front() {
                // A session buried twice keeps its newer entry.
                if self.losses.get(&id).is_some_and(|(_, s)| *s == stamp) {
                    self.losses.remove(&id);
                }
            }
        }
    }

    pub fn loss(&self, session_id: &str) -> Loss {
        self.losses.get(&key(session_id)).map_or(Loss::Unknown, |(loss, _)| *loss)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.losses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_oldest_beyond_its_limit() {
        let mut t = Tombstones::new(2);
        t.bury("A", Loss::Ended);
        t.bury("B", Loss::Expired);
        t.bury("C", Loss::Revoked);
        assert_eq!(t.loss("A"), Loss::Unknown);
        assert_eq!(t.loss("B"), Loss::Expired);
        assert_eq!(t.loss("C"), Loss::Revoked);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_second_burial_keeps_the_newer_loss() {
        let mut t = Tombstones::new(2);
        t.bury("A", Loss::Released);
        t.bury("A", Loss::Ended);
        t.bury("B", Loss::Expired);
        assert_eq!(t.loss("A"), Loss::Ended);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn server_ids_are_their_own_keys() {
        let id = "DB4AC14978FA4B5815A813550A03142B";
        assert_eq!(key(id), 0xDB4AC14978FA4B5815A813550A03142B);
        assert_ne!(key("A"), key("B"));
        let mut t = Tombstones::new(10);
        t.bury(id, Loss::Ended);
        assert_eq!(t.loss(id), Loss::Ended);
        assert_eq!(t.loss("DB4AC14978FA4B5815A813550A03142C"), Loss::Unknown);
    }
}
