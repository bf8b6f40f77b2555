//! Unit tests of the ledger, and the fixtures and consistency check the property tests share.

use super::*;
use std::collections::{BTreeMap, HashSet};

pub(super) fn series() -> SeriesId {
    "672B".parse().unwrap()
}

pub(super) fn t(seconds: u64) -> UtcTime {
    UtcTime::parse("2026-03-01T09:00:00Z").unwrap().plus(Duration::from_secs(seconds))
}

pub(super) fn connect_facts(computer: &str, is_server: bool) -> ConnectRequest {
    ConnectRequest {
        os_version: "Linux".into(),
        computer_name: computer.into(),
        local_ip: "10.0.0.5".into(),
        process: "/opt/1cv8/x86_64/8.3.25/1cv8c".into(),
        cpu: "x86_64".into(),
        pid: 4242,
        is_server,
        platform_version: "8.3.25.1257".into(),
        module_name: "liblicenceaddin.so".into(),
        version: licence_protocol::VERSION.into(),
        key_id: series(),
        client_key: None,
        protocol: licence_protocol::wire::PROTOCOL,
        series_public_key: Some(hex::encode([7u8; 32])),
    }
}

#[test]
fn a_series_is_pinned_while_a_connection_pinning_it_lives() {
    let mut ledger =
        Ledger::new(LedgerConfig { connection_lease: Duration::from_secs(60), session_lease: Duration::from_secs(60) });
    assert!(ledger.pins().is_empty());
    ledger.connect("C1".into(), connect_facts("PC1", false), "10.0.0.5".into(), t(0));
    ledger.connect("C2".into(), connect_facts("PC2", false), "10.0.0.6".into(), t(0));
    assert_eq!(ledger.pin(series()), Some([7; 32]));
    ledger.disconnect("C1", t(1)).unwrap();
    assert_eq!(ledger.pins().get(&series()), Some(&[7; 32]), "C2 still pins it");
    ledger.expire(t(120));
    assert_eq!(ledger.pin(series()), None, "no live connection pins the series any more");
    let restored = vec![Connection {
        id: "C3".into(),
        facts: connect_facts("PC3", false),
        peer_ip: "10.0.0.7".into(),
        created: t(0),
        last_used: t(0),
        expire_time: t(60),
    }];
    ledger.restore(restored, Vec::new(), t(200));
    assert_eq!(ledger.pin(series()), Some([7; 32]), "restored connections pin again");
}

/// A session of an infobase whose connection string names none, so the connection's `IsServer`
/// decides how it is counted (the tests that need a mode from the infobase set the string).
pub(super) fn session_facts(number: u32, computer: &str, terminal: Option<&str>) -> SessionFacts {
    SessionFacts {
        session_number: number.to_string(),
        info_base_connection_string: String::new(),
        app_name: "1CV8C".into(),
        computer_name: computer.into(),
        user_name: Some("Иванов".into()),
        session_started: t(u64::from(number)),
        access_code: None,
        terminal_client: terminal.map(str::to_owned),
    }
}

pub(super) fn main_key(key_no: u64, licence_count: u32) -> KeyCapacity {
    KeyCapacity { key_no, series: series(), kind: KeyKind::Main, licence_count, counts: true }
}

fn ledger_with(keys: Vec<KeyCapacity>) -> Ledger {
    let mut ledger = Ledger::new(LedgerConfig::default());
    ledger.set_pool(keys, [], t(0));
    ledger
}

fn code(r: Result<Grant, LedgerError>) -> ErrorCode {
    r.unwrap_err().code()
}

/// Checks every index against the sessions themselves, and the licence counts against the keys.
pub(super) fn assert_consistent(ledger: &Ledger, keys: &[KeyCapacity]) {
    let mut holders: HashMap<seats::Holder, u64> = HashMap::new();
    let mut per_key: BTreeMap<u64, u32> = BTreeMap::new();
    let mut identities = HashSet::new();
    for (id, entry) in &ledger.sessions {
        let s = &entry.session;
        assert_eq!(id, &s.id);
        assert!(identities.insert(seats::Identity::of(s.series, &s.facts)), "two sessions of one identity");
        assert_eq!(ledger.by_identity.get(&seats::Identity::of(s.series, &s.facts)), Some(id));
        assert!(ledger.by_connection[&s.connection_id].contains(id));
        let seat = ledger.seats.seat(entry.seat).expect("a session's seat exists");
        assert!(seat.sessions.contains(id));
        assert_eq!(seat.key_no, s.used_licence);
        assert_eq!(seat.holder, s.holder());
        match holders.insert(seat.holder.clone(), s.used_licence) {
            Some(key) => assert_eq!(key, s.used_licence, "one holder, one seat"),
            None => *per_key.entry(s.used_licence).or_default() += 1,
        }
        let key = keys.iter().find(|k| k.key_no == s.used_licence).expect("a seat on an installed key");
        assert!(key.counts && key.series == s.series, "a seat on a key that does not count");
    }
    assert_eq!(ledger.by_identity.len(), ledger.sessions.len());
    assert_eq!(ledger.by_connection.values().map(BTreeSet::len).sum::<usize>(), ledger.sessions.len());
    assert_eq!(ledger.seat_count(), holders.len());
    assert_eq!(ledger.seats.all().map(|(_, s)| s.sessions.len()).sum::<usize>(), ledger.sessions.len());
    for k in keys {
        let used = ledger.used(k.key_no);
        assert_eq!(used, per_key.get(&k.key_no).copied().unwrap_or(0));
        assert!(used <= k.licence_count, "key {} carries {used} of {} seats", k.key_no, k.licence_count);
    }
    let mut all_series: Vec<SeriesId> = keys.iter().map(|k| k.series).collect();
    all_series.extend(holders.keys().map(seats::Holder::series));
    for series in all_series {
        let in_series = holders.keys().filter(|h| h.series() == series).count();
        assert_eq!(ledger.used_in_series(series) as usize, in_series);
    }
}

#[test]
fn server_mode_sessions_take_one_seat_each() {
    let mut l = ledger_with(vec![main_key(1, 10)]);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    for n in 1..=3 {
        let g = l.obtain("C1", session_facts(n, "PC1", None), format!("S{n}"), t(1)).unwrap();
        assert_eq!((g.used_licence, g.reused, g.key_id), (1, false, series()));
    }
    assert_eq!((l.used(1), l.used_in_series(series()), l.session_count()), (3, 3, 3));
    assert_consistent(&l, &[main_key(1, 10)]);
}

#[test]
fn file_mode_sessions_of_one_computer_share_a_seat() {
    let mut l = ledger_with(vec![main_key(1, 2)]);
    l.connect("C1".into(), connect_facts("PC1", false), "10.0.0.5".into(), t(0));
    l.connect("C2".into(), connect_facts("pc1", false), "10.0.0.5".into(), t(0));
    l.obtain("C1", session_facts(1, "PC1", None), "S1".into(), t(1)).unwrap();
    l.obtain("C2", session_facts(2, "pc1", None), "S2".into(), t(1)).unwrap();
    assert_eq!((l.used(1), l.session_count()), (1, 2));
    // Terminal clients of one terminal server take a seat each.
    l.obtain("C1", session_facts(3, "PC1", Some("THIN-A")), "S3".into(), t(1)).unwrap();
    assert_eq!(l.used(1), 2);
    assert_eq!(
        code(l.obtain("C1", session_facts(4, "PC1", Some("THIN-B")), "S4".into(), t(1))),
        ErrorCode::NoFreeLicence
    );
    l.obtain("C1", session_facts(5, "PC1", Some("thin-a")), "S5".into(), t(1)).unwrap();
    // The seat stays while any of its sessions does.
    assert!(l.release("C1", "S1", t(2)).unwrap());
    assert_eq!(l.used(1), 2);
    assert!(l.release("C2", "S2", t(2)).unwrap());
    assert_eq!(l.used(1), 1);
    assert_consistent(&l, &[main_key(1, 2)]);
}

#[test]
fn seats_come_from_main_then_additional_then_demo_keys() {
    let kind = |key_no, kind| KeyCapacity { key_no, series: series(), kind, licence_count: 1, counts: true };
    let keys =
        vec![kind(5, KeyKind::Demo), kind(2, KeyKind::Additional), kind(9, KeyKind::Main), kind(7, KeyKind::Main)];
    let mut l = ledger_with(keys);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    let taken: Vec<u64> = (1..=4)
        .map(|n| l.obtain("C1", session_facts(n, "PC", None), format!("S{n}"), t(1)).unwrap().used_licence)
        .collect();
    assert_eq!(taken, [7, 9, 2, 5]);
    let e = l.obtain("C1", session_facts(5, "PC", None), "S5".into(), t(1)).unwrap_err();
    assert_eq!(e.to_string(), "no free licence of series 672B: 4 of 4 in use");
}

#[test]
fn an_empty_pool_says_why() {
    let mut l = ledger_with(vec![]);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    let e = l.obtain("C1", session_facts(1, "PC", None), "S1".into(), t(1)).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string().as_str()),
        (ErrorCode::NoKey, "no key of series 672B gives licences on this server")
    );
    let mut expired = main_key(1, 10);
    expired.counts = false;
    l.set_pool(vec![expired], [(series(), ErrorCode::KeyExpired)], t(1));
    assert_eq!(code(l.obtain("C1", session_facts(1, "PC", None), "S1".into(), t(1))), ErrorCode::KeyExpired);
    assert_eq!(code(l.obtain("C9", session_facts(1, "PC", None), "S1".into(), t(1))), ErrorCode::UnknownConnection);
}

#[test]
fn a_reconnect_gets_its_own_seat_back_even_when_the_pool_is_full() {
    let mut l = ledger_with(vec![main_key(1, 1)]);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    let first = l.obtain("C1", session_facts(1, "PC", None), "S1".into(), t(1)).unwrap();
    // The 1C process restarts its add-in: the old connection ends, a new one obtains again.
    l.expire(t(30));
    assert_eq!((l.connection_count(), l.session_count()), (0, 1));
    l.connect("C2".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(30));
    l.take_changes();
    let again = l.obtain("C2", session_facts(1, "PC", None), "S2".into(), t(31)).unwrap();
    assert_eq!((again.session_id.as_str(), again.reused, again.used_licence), ("S1", true, first.used_licence));
    assert_eq!(again.expire_time, t(91));
    assert_eq!((l.used(1), l.session_count()), (1, 1));
    assert_eq!(l.session("S1").unwrap().connection_id, "C2");
    assert!(matches!(&l.take_changes()[..], [Change::SessionSaved(s)] if s.connection_id == "C2"));
    assert_eq!(l.check("C2", "S1", t(40)).unwrap().expire_time, t(100));
    assert_consistent(&l, &[main_key(1, 1)]);
}

#[test]
fn a_session_taken_over_by_another_connection_is_lost_to_the_first() {
    let mut l = ledger_with(vec![main_key(1, 5)]);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    l.connect("C2".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    l.obtain("C1", session_facts(1, "PC", None), "S1".into(), t(1)).unwrap();
    l.obtain("C2", session_facts(1, "PC", None), "S2".into(), t(2)).unwrap();
    let e = l.check("C1", "S1", t(3)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::LicenceLost);
    assert_eq!(e.to_string(), "session `S1` belongs to another connection now; obtain a licence again");
    assert_eq!(l.heartbeat("C1", &["S1".into()], t(3)).unwrap().1, ["S1"]);
    assert!(!l.release("C1", "S1", t(3)).unwrap());
    assert_eq!(l.used(1), 1);
}

#[test]
fn ended_leases_free_their_seats() {
    let mut l = ledger_with(vec![main_key(1, 1)]);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    l.obtain("C1", session_facts(1, "PC", None), "S1".into(), t(0)).unwrap();
    l.connect("C2".into(), connect_facts("APP2", true), "10.0.0.6".into(), t(59));
    assert_eq!(code(l.obtain("C2", session_facts(2, "PC", None), "S2".into(), t(59))), ErrorCode::NoFreeLicence);
    // The connection's lease ends first, the session keeps its seat until its own lease ends.
    assert_eq!(l.expire(t(20)), (1, 0), "one connection ended");
    assert_eq!((l.connection_count(), l.used(1)), (1, 1));
    assert_eq!(l.expire(t(60)), (0, 1), "one session ended");
    assert_eq!((l.session_count(), l.used(1)), (0, 0));
    l.obtain("C2", session_facts(2, "PC", None), "S2".into(), t(60)).unwrap();
    assert_eq!(code(l.check("C2", "S1", t(61))), ErrorCode::LicenceLost);
}

#[test]
fn checks_and_heartbeats_keep_leases_alive_without_recording_changes() {
    let mut l = ledger_with(vec![main_key(1, 2)]);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    l.obtain("C1", session_facts(1, "PC", None), "S1".into(), t(0)).unwrap();
    l.obtain("C1", session_facts(2, "PC", None), "S2".into(), t(0)).unwrap();
    l.take_changes();
    for step in 1..=10 {
        let now = t(step * 15);
        let (expire, lost) = l.heartbeat("C1", &["S1".into(), "S2".into(), "S9".into()], now).unwrap();
        assert_eq!((expire, lost), (t(step * 15 + 20), vec!["S9".to_owned()]));
        l.expire(now);
    }
    assert_eq!(l.check("C1", "S2", t(160)).unwrap().expire_time, t(220));
    assert_eq!(l.connection("C1").unwrap().last_used, t(160));
    assert!(l.take_changes().is_empty());
    assert_eq!(l.used(1), 2);
}

#[test]
fn checks_through_an_ended_connection_are_refused() {
    let mut l = ledger_with(vec![main_key(1, 2)]);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    l.obtain("C1", session_facts(1, "PC", None), "S1".into(), t(0)).unwrap();
    // Not yet swept, but its lease is over.
    assert_eq!(code(l.check("C1", "S1", t(20))), ErrorCode::UnknownConnection);
    assert_eq!(l.heartbeat("C1", &[], t(21)).unwrap_err().code(), ErrorCode::UnknownConnection);
}

#[test]
fn an_ended_session_says_so_at_the_next_check() {
    let mut l = ledger_with(vec![main_key(1, 1)]);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    l.obtain("C1", session_facts(1, "PC", None), "S1".into(), t(0)).unwrap();
    let ended = l.end_session("S1", t(5)).unwrap();
    assert_eq!(ended.id, "S1");
    assert_eq!(l.used(1), 0);
    let e = l.check("C1", "S1", t(6)).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string().as_str()),
        (ErrorCode::SessionEnded, "session `S1` was ended by the administrator; obtain a licence again")
    );
    assert!(l.end_session("S1", t(7)).is_none());
    assert!(!l.release("C1", "S1", t(7)).unwrap());
    assert_eq!(code(l.check("C1", "never", t(7))), ErrorCode::LicenceLost);
}

#[test]
fn disconnect_releases_the_connections_sessions() {
    let mut l = ledger_with(vec![main_key(1, 5)]);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    l.connect("C2".into(), connect_facts("APP2", true), "10.0.0.6".into(), t(0));
    l.obtain("C1", session_facts(1, "PC", None), "S1".into(), t(0)).unwrap();
    l.obtain("C1", session_facts(2, "PC", None), "S2".into(), t(0)).unwrap();
    l.obtain("C2", session_facts(3, "PC", None), "S3".into(), t(0)).unwrap();
    assert_eq!(l.sessions_of("C1").count(), 2);
    l.disconnect("C1", t(1)).unwrap();
    l.disconnect("C1", t(1)).unwrap();
    assert_eq!((l.connection_count(), l.session_count(), l.used(1)), (1, 1, 1));
    assert_eq!(code(l.check("C2", "S1", t(2))), ErrorCode::LicenceLost);
}

#[test]
fn shrinking_keys_move_seats_and_revoke_the_newest() {
    let extra = KeyCapacity { key_no: 2, series: series(), kind: KeyKind::Additional, licence_count: 2, counts: true };
    let mut l = ledger_with(vec![main_key(1, 2), extra]);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    for n in 1..=4 {
        l.obtain("C1", session_facts(n, "PC", None), format!("S{n}"), t(u64::from(n))).unwrap();
    }
    assert_eq!((l.used(1), l.used(2)), (2, 2));
    l.take_changes();
    // The main key shrinks to one licence: 3 licences for 4 seats. The newest seat goes, and the
    // main key's second seat moves to the additional key.
    let keys = vec![main_key(1, 1), extra];
    l.set_pool(keys.clone(), [], t(10));
    assert_eq!((l.used(1), l.used(2), l.session_count()), (1, 2, 3));
    assert!(l.session("S4").is_none());
    assert_eq!(l.session("S2").unwrap().used_licence, 2, "the second seat moved to the additional key");
    assert_eq!(code(l.check("C1", "S4", t(11))), ErrorCode::LicenceLost);
    assert_consistent(&l, &keys);
    // The main key stops counting: the additional key stops too, everyone goes.
    let none = vec![KeyCapacity { counts: false, ..main_key(1, 1) }];
    l.set_pool(none.clone(), [(series(), ErrorCode::KeyExpired)], t(12));
    assert_eq!((l.session_count(), l.seat_count()), (0, 0));
    assert_consistent(&l, &none);
}

#[test]
fn growing_keys_take_seats_back_onto_a_new_key() {
    let mut l = ledger_with(vec![main_key(1, 1)]);
    l.connect("C1".into(), connect_facts("APP1", true), "10.0.0.5".into(), t(0));
    l.obtain("C1", session_facts(1, "PC", None), "S1".into(), t(0)).unwrap();
    // Key 1 is replaced by key 3: the seat moves.
    l.set_pool(vec![main_key(3, 5)], [], t(1));
    assert_eq!((l.used(1), l.used(3)), (0, 1));
    assert_eq!(l.check("C1", "S1", t(2)).unwrap().used_licence, 3);
}

#[test]
fn a_restart_keeps_seats_and_grants_fresh_leases() {
    let keys = vec![main_key(1, 3)];
    let mut l = ledger_with(keys.clone());
    l.connect("C1".into(), connect_facts("PC1", false), "10.0.0.5".into(), t(0));
    l.connect("C2".into(), connect_facts("APP", true), "10.0.0.6".into(), t(0));
    l.obtain("C1", session_facts(1, "PC1", None), "S1".into(), t(1)).unwrap();
    l.obtain("C1", session_facts(2, "PC1", None), "S2".into(), t(2)).unwrap();
    l.obtain("C2", session_facts(3, "PC2", None), "S3".into(), t(3)).unwrap();
    let mut store = Store::default();
    store.apply(l.take_changes());

    // Killed, and started again long after every lease would have ended.
    let mut again = ledger_with(keys.clone());
    again.restore(store.connections(), store.sessions(), t(1000));
    assert_eq!((again.session_count(), again.used(1), again.connection_count()), (3, 2, 2));
    assert!(again.sessions().all(|s| s.expire_time == t(1060)));
    assert!(again.connections().all(|c| c.expire_time == t(1020)));
    let g = again.check("C1", "S2", t(1001)).unwrap();
    assert_eq!((g.reused, g.used_licence), (true, 1));
    assert_consistent(&again, &keys);

    // Restored under fewer licences: the newest seat goes.
    let mut smaller = ledger_with(vec![main_key(1, 1)]);
    smaller.restore(store.connections(), store.sessions(), t(1000));
    assert_eq!(smaller.sessions().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["S1", "S2"]);
    assert!(smaller.take_changes().contains(&Change::SessionRemoved("S3".into())));
}

#[test]
fn listings_are_in_creation_order() {
    let mut l = ledger_with(vec![main_key(1, 5)]);
    for (n, id) in ["CB", "CA", "CC"].iter().enumerate() {
        l.connect((*id).into(), connect_facts("APP", true), "10.0.0.5".into(), t(if n == 2 { 0 } else { 1 }));
    }
    assert_eq!(l.connections().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["CC", "CA", "CB"]);
}

/// Regression: many clients racing for the last seat under the server's one lock get exactly one.
#[test]
fn two_hundred_obtains_for_the_last_free_seat_grant_exactly_one() {
    let mut l = ledger_with(vec![main_key(1, 10)]);
    l.connect("C0".into(), connect_facts("APP", true), "10.0.0.5".into(), t(0));
    for n in 0..9 {
        l.obtain("C0", session_facts(n, "PC", None), format!("S{n}"), t(1)).unwrap();
    }
    for c in 1..=8 {
        l.connect(format!("C{c}"), connect_facts("APP", true), "10.0.0.5".into(), t(1));
    }
    let shared = std::sync::Mutex::new(l);
    let granted: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (1..=8u32)
            .map(|c| {
                let shared = &shared;
                scope.spawn(move || {
                    (0..25u32)
                        .filter(|i| {
                            let n = 1000 + c * 100 + i;
                            let mut l = shared.lock().unwrap();
                            match l.obtain(&format!("C{c}"), session_facts(n, "PC", None), format!("X{n}"), t(2)) {
                                Ok(_) => true,
                                Err(e) => {
                                    assert_eq!(e.to_string(), "no free licence of series 672B: 10 of 10 in use");
                                    false
                                }
                            }
                        })
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(granted, 1);
    let l = shared.into_inner().unwrap();
    assert_eq!((l.used(1), l.session_count()), (10, 10));
}

/// What the server's store would hold after applying the changes.
#[derive(Default)]
pub(super) struct Store {
    pub connections: BTreeMap<String, Connection>,
    pub sessions: BTreeMap<String, Session>,
}

impl Store {
    pub fn apply(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::ConnectionSaved(c) => drop(self.connections.insert(c.id.clone(), c)),
                Change::ConnectionRemoved(id) => drop(self.connections.remove(&id)),
                Change::SessionSaved(s) => drop(self.sessions.insert(s.id.clone(), s)),
                Change::SessionRemoved(id) => drop(self.sessions.remove(&id)),
            }
        }
    }

    /// The saved leases as the store hands them back: through JSON.
    pub fn connections(&self) -> Vec<Connection> {
        self.connections.values().map(|c| serde_json::from_str(&serde_json::to_string(c).unwrap()).unwrap()).collect()
    }

    pub fn sessions(&self) -> Vec<Session> {
        self.sessions.values().map(|s| serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap()).collect()
    }
}
