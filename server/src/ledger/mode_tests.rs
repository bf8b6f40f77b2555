//! Unit tests of who holds a seat (issue 13): the counting mode from the infobase's connection
//! string rather than `IsServer`, names compared without merging distinct ones, and a file mode
//! computer as its source address and its name.

use super::tests::{assert_consistent, connect_facts, main_key, session_facts, t};
use super::*;

const SERVER_BASE: &str = "Srvr=\"app1\";Ref=\"trade\";";
const FILE_BASE: &str = "File=\"/srv/trade\";";

fn ledger(licences: u32) -> Ledger {
    let mut ledger = Ledger::new(LedgerConfig::default());
    ledger.set_pool(vec![main_key(1, licences)], [], t(0));
    ledger
}

fn of_base(number: u32, computer: &str, base: &str) -> SessionFacts {
    SessionFacts { info_base_connection_string: base.into(), ..session_facts(number, computer, None) }
}

#[test]
fn client_server_sessions_claiming_is_server_false_take_a_seat_each() {
    let mut l = ledger(2);
    l.connect("C1".into(), connect_facts("APP1", false), "10.0.0.5".into(), t(0));
    let granted = (1..=10).filter(|n| l.obtain("C1", of_base(*n, "APP1", SERVER_BASE), format!("S{n}"), t(1)).is_ok());
    assert_eq!(granted.count(), 2);
    assert_eq!(l.used(1), 2);
    assert_eq!(l.disagreed.len(), 1, "the disagreement is noted once for the connection");
    assert_consistent(&l, &[main_key(1, 2)]);
    l.disconnect("C1", t(2)).unwrap();
    assert!(l.disagreed.is_empty());
}

#[test]
fn file_sessions_claiming_is_server_true_share_their_computers_seat() {
    let mut l = ledger(3);
    l.connect("C1".into(), connect_facts("PC1", true), "10.0.0.5".into(), t(0));
    for n in 1..=5 {
        l.obtain("C1", of_base(n, "PC1", FILE_BASE), format!("S{n}"), t(1)).unwrap();
    }
    assert_eq!(l.used(1), 1);
    // A web server publication counts per session whatever the process says.
    for n in 6..=7 {
        l.obtain("C1", of_base(n, "PC1", "ws=\"http://web/trade\";"), format!("S{n}"), t(1)).unwrap();
    }
    assert_eq!(code(l.obtain("C1", of_base(8, "PC1", "WS=http://web/trade"), "S8".into(), t(1))), 2);
    assert_consistent(&l, &[main_key(1, 3)]);
}

fn code(r: Result<Grant, LedgerError>) -> u16 {
    r.unwrap_err().code().number()
}

#[test]
fn a_file_infobase_published_on_a_web_server_counts_per_session() {
    let mut l = ledger(2);
    let web = ConnectRequest { process: "/usr/sbin/apache2".into(), ..connect_facts("WEB1", true) };
    l.connect("C1".into(), web, "10.0.0.5".into(), t(0));
    let granted = (1..=5).filter(|n| l.obtain("C1", of_base(*n, "WEB1", FILE_BASE), format!("S{n}"), t(1)).is_ok());
    assert_eq!(granted.count(), 2);
    let connections: Vec<Connection> = l.connections().cloned().collect();
    let sessions: Vec<Session> = l.sessions().cloned().collect();
    assert!(sessions.iter().all(|s| s.web_server));
    l.restore(connections, sessions, t(5));
    assert_eq!(l.used(1), 2, "restored sessions keep their seats");
    assert_consistent(&l, &[main_key(1, 2)]);
}

#[test]
fn an_unreadable_connection_string_leaves_the_mode_to_is_server() {
    let mut l = ledger(3);
    l.connect("C1".into(), connect_facts("PC1", false), "10.0.0.5".into(), t(0));
    for n in 1..=3 {
        l.obtain("C1", of_base(n, "PC1", "File=\"/srv/unclosed"), format!("S{n}"), t(1)).unwrap();
    }
    assert_eq!(l.used(1), 1);
    assert!(l.disagreed.is_empty());
}

#[test]
fn distinct_names_are_distinct_computers() {
    let mut l = ledger(10);
    l.connect("C1".into(), connect_facts("PC", false), "10.0.0.5".into(), t(0));
    for (n, name) in ["STRASSE", "straße", "FILE", "ﬁle", "strasse", "file"].iter().enumerate() {
        l.obtain("C1", of_base(n as u32, name, FILE_BASE), format!("S{n}"), t(1)).unwrap();
    }
    assert_eq!(l.used(1), 4, "STRASSE = strasse and FILE = file; straße and ﬁle are computers of their own");
}

#[test]
fn a_computer_is_its_address_and_its_name() {
    let mut l = ledger(3);
    for i in 0..4 {
        l.connect(format!("C{i}"), connect_facts("PC", false), format!("10.0.0.{i}"), t(0));
    }
    let results: Vec<bool> = (0..4)
        .map(|i| l.obtain(&format!("C{i}"), of_base(i, "PC", FILE_BASE), format!("S{i}"), t(1)).is_ok())
        .collect();
    assert_eq!(results, [true, true, true, false], "one name from four addresses is four computers");
    // A second process of a computer already seated shares its seat.
    l.connect("C9".into(), connect_facts("pc", false), "10.0.0.1".into(), t(0));
    assert!(l.obtain("C9", of_base(9, "pc", FILE_BASE), "S9".into(), t(1)).is_ok());
    assert_eq!(l.used(1), 3);
    assert_consistent(&l, &[main_key(1, 3)]);
}

#[test]
fn restored_sessions_keep_their_holders() {
    let mut l = ledger(3);
    l.connect("C1".into(), connect_facts("PC", false), "10.0.0.1".into(), t(0));
    l.connect("C2".into(), connect_facts("PC", false), "10.0.0.2".into(), t(0));
    l.obtain("C1", of_base(1, "PC", FILE_BASE), "S1".into(), t(1)).unwrap();
    l.obtain("C2", of_base(2, "PC", FILE_BASE), "S2".into(), t(1)).unwrap();
    l.obtain("C2", of_base(3, "PC", SERVER_BASE), "S3".into(), t(1)).unwrap();
    let connections: Vec<Connection> = l.connections().cloned().collect();
    let mut sessions: Vec<Session> = l.sessions().cloned().collect();
    // A record saved before the address was kept takes its connection's.
    sessions[0].peer_ip.clear();
    l.restore(connections, sessions, t(5));
    assert_eq!((l.used(1), l.session_count()), (3, 3));
    assert_eq!(l.session("S1").unwrap().peer_ip, "10.0.0.1");
    assert_consistent(&l, &[main_key(1, 3)]);
}
