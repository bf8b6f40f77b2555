//! A bounded memory of removed sessions: their ID and how they were lost, so that an add-in calling
//! after its session is gone hears "ended by the administrator" rather than a bare "unknown". The
//! oldest entries are forgotten first once the limit is reached; a forgotten session reads as
//! [`Loss::Unknown`], which the add-in handles the same way (it obtains a licence again).

use super::error::Loss;
use std::collections::{HashMap, VecDeque};

/// How many removed sessions the server remembers.
pub const TOMBSTONE_LIMIT: usize = 100_000;

#[derive(Debug)]
pub(super) struct Tombstones {
    limit: usize,
    losses: HashMap<String, (Loss, u64)>,
    order: VecDeque<(u64, String)>,
    next: u64,
}

impl Tombstones {
    pub fn new(limit: usize) -> Self {
        Self { limit, losses: HashMap::new(), order: VecDeque::new(), next: 0 }
    }

    pub fn bury(&mut self, session_id: &str, loss: Loss) {
        if self.limit == 0 {
            return;
        }
        let stamp = self.next;
        self.next += 1;
        self.losses.insert(session_id.to_owned(), (loss, stamp));
        self.order.push_back((stamp, session_id.to_owned()));
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
        self.losses.get(session_id).map_or(Loss::Unknown, |(loss, _)| *loss)
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
}
