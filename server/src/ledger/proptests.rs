//! Property tests: random sequences of everything clients, the administrator, the clock and the
//! key store do to the ledger, checking after every step that no key carries more seats than its
//! licences, that every index agrees with the sessions, and that the recorded changes rebuild
//! exactly the live state after a restart.

use super::tests::{assert_consistent, connect_facts, session_facts, t, Store};
use super::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Connect { slot: usize, computer: u8, is_server: bool },
    Obtain { slot: usize, number: u8, computer: u8, terminal: Option<u8> },
    Check { slot: usize, session: usize },
    Heartbeat { slot: usize, sessions: Vec<usize> },
    Release { slot: usize, session: usize },
    Disconnect { slot: usize },
    End { session: usize },
    Wait { seconds: u64 },
    SetPool { keys: Vec<(bool, u8, u32, bool)> },
    Restart { seconds: u64 },
}

const SLOTS: usize = 4;

fn slot_series(slot: usize) -> SeriesId {
    if slot == SLOTS - 1 { "1A2B" } else { "672B" }.parse().unwrap()
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    prop_oneof![
        4 => (slot.clone(), 0u8..3, any::<bool>()).prop_map(|(slot, computer, is_server)| Op::Connect { slot, computer, is_server }),
        8 => (slot.clone(), 0u8..5, 0u8..3, proptest::option::of(0u8..2))
            .prop_map(|(slot, number, computer, terminal)| Op::Obtain { slot, number, computer, terminal }),
        3 => (slot.clone(), any::<usize>()).prop_map(|(slot, session)| Op::Check { slot, session }),
        2 => (slot.clone(), proptest::collection::vec(any::<usize>(), 0..4)).prop_map(|(slot, sessions)| Op::Heartbeat { slot, sessions }),
        2 => (slot.clone(), any::<usize>()).prop_map(|(slot, session)| Op::Release { slot, session }),
        1 => slot.clone().prop_map(|slot| Op::Disconnect { slot }),
        1 => any::<usize>().prop_map(|session| Op::End { session }),
        2 => prop_oneof![0u64..10, 0u64..70].prop_map(|seconds| Op::Wait { seconds }),
        2 => proptest::collection::vec((any::<bool>(), 0u8..3, 0u32..5, proptest::bool::weighted(0.8)), 0..5)
            .prop_map(|keys| Op::SetPool { keys }),
        1 => (0u64..200).prop_map(|seconds| Op::Restart { seconds }),
    ]
}

struct World {
    ledger: Ledger,
    now: u64,
    keys: Vec<KeyCapacity>,
    store: Store,
    slots: [String; SLOTS],
    issued: Vec<String>,
    next_id: u32,
}

impl World {
    fn new() -> Self {
        let other = KeyCapacity { key_no: 2, series: slot_series(SLOTS - 1), ..super::tests::main_key(2, 2) };
        let keys = vec![super::tests::main_key(1, 3), other];
        let mut ledger = Ledger::new(LedgerConfig::default());
        ledger.set_pool(keys.clone(), [], t(0));
        let slots = std::array::from_fn(|i| format!("never-{i}"));
        let mut world = Self { ledger, now: 0, keys, store: Store::default(), slots, issued: Vec::new(), next_id: 0 };
        for slot in 0..SLOTS {
            world.step(Op::Connect { slot, computer: slot as u8 % 3, is_server: slot % 2 == 0 });
        }
        world
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    fn issued(&self, n: usize) -> String {
        if self.issued.is_empty() {
            "none".to_owned()
        } else {
            self.issued[n % self.issued.len()].clone()
        }
    }

    fn capacity(&self, series: SeriesId) -> Option<u32> {
        let counting = self.keys.iter().filter(|k| k.counts && k.series == series);
        counting.clone().next().map(|_| counting.map(|k| k.licence_count).sum())
    }

    fn step(&mut self, op: Op) {
        let now = t(self.now);
        match op {
            Op::Connect { slot, computer, is_server } => {
                let id = self.id("C");
                let mut facts = connect_facts(&format!("PC{computer}"), is_server);
                facts.key_id = slot_series(slot);
                self.ledger.connect(id.clone(), facts, format!("10.0.0.{}", slot % 2), now);
                self.slots[slot] = id;
            }
            Op::Obtain { slot, number, computer, terminal } => self.obtain(slot, number, computer, terminal),
            Op::Check { slot, session } => {
                let id = self.issued(session);
                if let Ok(g) = self.ledger.check(&self.slots[slot], &id, now) {
                    let s = self.ledger.session(&id).unwrap();
                    assert_eq!((g.used_licence, &s.connection_id), (s.used_licence, &self.slots[slot]));
                    assert_eq!(s.expire_time, now.plus(self.ledger.config().session_lease));
                }
            }
            Op::Heartbeat { slot, sessions } => {
                let listed: Vec<String> = sessions.iter().map(|n| self.issued(*n)).collect();
                let connection = &self.slots[slot];
                let held = |id: &String, l: &Ledger| {
                    l.session(id).is_some_and(|s| &s.connection_id == connection && s.expire_time > now)
                };
                let expected: Vec<String> = listed.iter().filter(|id| !held(id, &self.ledger)).cloned().collect();
                if let Ok((_, lost)) = self.ledger.heartbeat(connection, &listed, now) {
                    assert_eq!(lost, expected);
                }
            }
            Op::Release { slot, session } => {
                let id = self.issued(session);
                let held = self.ledger.session(&id).is_some_and(|s| s.connection_id == self.slots[slot]);
                assert_eq!(self.ledger.release(&self.slots[slot], &id, now), Ok(held));
                assert!(self.ledger.session(&id).is_none() || !held);
            }
            Op::Disconnect { slot } => {
                self.ledger.disconnect(&self.slots[slot], now).unwrap();
                assert_eq!(self.ledger.sessions_of(&self.slots[slot]).count(), 0);
            }
            Op::End { session } => {
                let id = self.issued(session);
                if self.ledger.end_session(&id, now).is_some() {
                    let any =
                        self.slots.iter().find(|c| self.ledger.connection(c).is_some_and(|c| c.expire_time > now));
                    if let Some(c) = any.cloned() {
                        assert_eq!(self.ledger.check(&c, &id, now).unwrap_err().code(), ErrorCode::SessionEnded);
                    }
                }
            }
            Op::Wait { seconds } => {
                self.now += seconds;
                self.ledger.expire(t(self.now));
                let now = t(self.now);
                assert!(self.ledger.sessions().all(|s| s.expire_time > now));
                assert!(self.ledger.connections().all(|c| c.expire_time > now));
            }
            Op::SetPool { keys } => {
                self.keys = keys
                    .into_iter()
                    .enumerate()
                    .map(|(i, (other, kind, licence_count, counts))| KeyCapacity {
                        key_no: i as u64 + 1,
                        series: slot_series(if other { SLOTS - 1 } else { 0 }),
                        kind: [KeyKind::Main, KeyKind::Additional, KeyKind::Demo][usize::from(kind)],
                        licence_count,
                        counts,
                    })
                    .collect();
                self.ledger.set_pool(self.keys.clone(), [], now);
            }
            Op::Restart { seconds } => self.restart(seconds),
        }
        self.store.apply(self.ledger.take_changes());
        assert_consistent(&self.ledger, &self.keys);
        self.assert_store_mirrors_the_ledger();
    }

    fn obtain(&mut self, slot: usize, number: u8, computer: u8, terminal: Option<u8>) {
        let now = t(self.now);
        let mut facts =
            session_facts(u32::from(number), &format!("pc{computer}"), terminal.map(|n| ["T1", "T2"][usize::from(n)]));
        // The infobase decides the mode, or (naming none) the connection's IsServer does.
        facts.info_base_connection_string =
            ["", "File=\"/srv/trade\";", "Srvr=\"app1\";Ref=\"trade\";"][usize::from(number) % 3].into();
        let series = slot_series(slot);
        let new_id = self.id("S");
        match self.ledger.obtain(&self.slots[slot], facts, new_id.clone(), now) {
            Ok(g) => {
                assert_eq!(g.reused, g.session_id != new_id);
                assert_eq!(self.ledger.session(&g.session_id).unwrap().connection_id, self.slots[slot]);
                if !g.reused {
                    self.issued.push(g.session_id);
                }
            }
            Err(LedgerError::NoFreeLicence { used, capacity, .. }) => {
                assert_eq!(Some(capacity), self.capacity(series));
                assert_eq!((used, self.ledger.used_in_series(series)), (capacity, capacity), "refused with room left");
            }
            Err(LedgerError::EmptyPool { .. }) => assert_eq!(self.capacity(series), None),
            Err(LedgerError::UnknownConnection(_)) => {
                assert!(self.ledger.connection(&self.slots[slot]).is_none_or(|c| c.expire_time <= now));
            }
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }

    /// A kill -9 and a start `seconds` later: only what the store kept survives.
    fn restart(&mut self, seconds: u64) {
        let before: Vec<(String, u64, String)> =
            self.ledger.sessions().map(|s| (s.id.clone(), s.used_licence, s.connection_id.clone())).collect();
        self.now += seconds;
        let now = t(self.now);
        let mut ledger = Ledger::new(self.ledger.config());
        ledger.set_pool(self.keys.clone(), [], now);
        ledger.restore(self.store.connections(), self.store.sessions(), now);
        let after: Vec<(String, u64, String)> =
            ledger.sessions().map(|s| (s.id.clone(), s.used_licence, s.connection_id.clone())).collect();
        assert_eq!(before, after, "a restart changed who holds which licence");
        let lease = ledger.config().session_lease;
        assert!(ledger.sessions().all(|s| s.expire_time == now.plus(lease)));
        self.ledger = ledger;
    }

    fn assert_store_mirrors_the_ledger(&self) {
        let sessions: Vec<Session> =
            self.ledger.sessions().map(|s| Session { expire_time: t(0), ..s.clone() }).collect();
        let mut stored: Vec<Session> =
            self.store.sessions.values().map(|s| Session { expire_time: t(0), ..s.clone() }).collect();
        stored.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        assert_eq!(sessions, stored, "the store lost track of a session");
        let live: Vec<&String> = self.ledger.connections().map(|c| &c.id).collect();
        let kept: Vec<&String> = self.store.connections.keys().collect();
        let mut live_sorted = live.clone();
        live_sorted.sort();
        assert_eq!(live_sorted, kept, "the store lost track of a connection");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn licences_are_never_over_granted(ops in proptest::collection::vec(op(), 1..80)) {
        let mut world = World::new();
        for op in ops {
            world.step(op);
        }
    }
}
