//! [`detect`] and [`resolve`] over fake environments: each terminal system's documented variables,
//! what wins when several are set, and the local session that has none.

use super::*;
use std::collections::HashMap;

fn detect_in(os: Os, vars: &[(&str, &str)]) -> Option<Terminal> {
    let env: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    detect(os, |name| env.get(name).cloned())
}

fn client(os: Os, vars: &[(&str, &str)]) -> Option<String> {
    detect_in(os, vars).map(|t| t.client)
}

#[test]
fn a_local_session_has_no_terminal_client() {
    assert_eq!(detect_in(Os::Unix, &[("DISPLAY", ":0"), ("HOME", "/home/anna")]), None);
    assert_eq!(detect_in(Os::Windows, &[("SESSIONNAME", "Console"), ("COMPUTERNAME", "PC1")]), None);
    // CLIENTNAME alone, in the console session, is not a remote desktop.
    assert_eq!(detect_in(Os::Windows, &[("SESSIONNAME", "Console"), ("CLIENTNAME", "Console")]), None);
    assert_eq!(detect_in(Os::Unix, &[]), None);
}

#[test]
fn windows_remote_desktop_is_the_client_computer_name() {
    let rdp = detect_in(Os::Windows, &[("SESSIONNAME", "RDP-Tcp#3"), ("CLIENTNAME", "ANNA-LAPTOP")]);
    assert_eq!(rdp, Some(Terminal { kind: Kind::RemoteDesktop, client: "ANNA-LAPTOP".into() }));
    assert_eq!(client(Os::Windows, &[("SESSIONNAME", "ICA-tcp#0"), ("CLIENTNAME", "THIN7")]), Some("THIN7".into()));
    assert_eq!(client(Os::Windows, &[("SESSIONNAME", "rdp-tcp#12")]), Some("rdp:rdp-tcp#12".into()));
    assert_eq!(
        client(Os::Windows, &[("SESSIONNAME", "RDP-Tcp#4"), ("CLIENTNAME", "  ")]),
        Some("rdp:RDP-Tcp#4".into())
    );
    // Unix variables mean nothing on Windows, and the other way round.
    assert_eq!(detect_in(Os::Windows, &[("XRDP_SESSION", "1"), ("DISPLAY", ":10.0")]), None);
    assert_eq!(detect_in(Os::Unix, &[("SESSIONNAME", "RDP-Tcp#3"), ("CLIENTNAME", "ANNA-LAPTOP")]), None);
}

#[test]
fn xrdp_is_its_display_number() {
    let xrdp =
        detect_in(Os::Unix, &[("XRDP_SESSION", "4242"), ("DISPLAY", ":10.0"), ("XRDP_SOCKET_PATH", "/run/xrdp")]);
    assert_eq!(xrdp, Some(Terminal { kind: Kind::Xrdp, client: "xrdp:10".into() }));
    assert_eq!(client(Os::Unix, &[("XRDP_SESSION", "1"), ("DISPLAY", ":11")]), Some("xrdp:11".into()));
    assert_eq!(client(Os::Unix, &[("XRDP_SESSION", "1"), ("DISPLAY", "unix:12.0")]), Some("xrdp:12".into()));
    // No usable display: the session's own value.
    assert_eq!(client(Os::Unix, &[("XRDP_SESSION", "4242"), ("DISPLAY", "otherhost:3")]), Some("xrdp:4242".into()));
    assert_eq!(client(Os::Unix, &[("XRDP_SESSION", "4242")]), Some("xrdp:4242".into()));
}

#[test]
fn x2go_is_the_address_of_the_ssh_connection_it_runs_over() {
    let vars = [
        ("X2GO_SESSION", "anna-50-1732000000_stDXFCE_dp24"),
        ("X2GO_AGENT_PID", "777"),
        ("SSH_CLIENT", "192.0.2.7 50022 22"),
        ("DISPLAY", ":50"),
    ];
    assert_eq!(detect_in(Os::Unix, &vars), Some(Terminal { kind: Kind::X2Go, client: "192.0.2.7".into() }));
    assert_eq!(
        client(Os::Unix, &[("X2GO_SESSION", "anna-50-1732000000_stDXFCE_dp24")]),
        Some("x2go:anna-50-1732000000_stDXFCE_dp24".into())
    );
}

#[test]
fn ssh_is_the_client_address() {
    let conn = [("SSH_CONNECTION", "2001:db8::5 40000 2001:db8::1 22")];
    assert_eq!(detect_in(Os::Unix, &conn), Some(Terminal { kind: Kind::Ssh, client: "2001:db8::5".into() }));
    assert_eq!(client(Os::Unix, &[("SSH_CLIENT", "198.51.100.3 51515 22")]), Some("198.51.100.3".into()));
    assert_eq!(client(Os::Windows, &[("SSH_CLIENT", "198.51.100.3 51515 22")]), Some("198.51.100.3".into()));
    // A remote desktop beats the SSH it may have been started from.
    let both = [("SESSIONNAME", "RDP-Tcp#1"), ("CLIENTNAME", "THIN1"), ("SSH_CLIENT", "198.51.100.3 1 22")];
    assert_eq!(client(Os::Windows, &both), Some("THIN1".into()));
    assert_eq!(client(Os::Unix, &[("SSH_CLIENT", "   ")]), None);
}

#[test]
fn values_with_control_characters_are_not_used() {
    assert_eq!(
        client(Os::Windows, &[("SESSIONNAME", "RDP-Tcp#3"), ("CLIENTNAME", "A\0B")]),
        Some("rdp:RDP-Tcp#3".into())
    );
    assert_eq!(client(Os::Unix, &[("SSH_CLIENT", "1.2.3.4\n5 22")]), None);
    assert!(refusal("THIN\u{7}").is_some());
    assert!(refusal(&"x".repeat(256)).is_some());
    assert_eq!(refusal("ТОНКИЙ-КЛИЕНТ-7"), None);
}

#[test]
fn the_configurations_value_wins_and_servers_detect_nothing() {
    let found = || Some(Terminal { kind: Kind::Ssh, client: "192.0.2.1".into() });
    assert_eq!(resolve(None, false, found), Some("192.0.2.1".into()));
    assert_eq!(resolve(Some(" THIN9 "), false, found), Some("THIN9".into()));
    assert_eq!(resolve(Some(""), false, found), None, "\"\" says: not a terminal session");
    assert_eq!(resolve(None, true, found), None);
    assert_eq!(resolve(Some("THIN9"), true, found), Some("THIN9".into()));
    assert_eq!(resolve(None, false, || None), None);
}
