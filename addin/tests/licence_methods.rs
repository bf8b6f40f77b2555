//! The licence methods of `Licence` driven through the add-in's vtables by the fake platform
//! (tests/support) against the real `licenceserver` (tests/server): connect, obtain, check, key
//! parameters, release, the numbered failures BSL sees, the administrator ending a session,
//! destroying an object that holds a licence, demo mode with the expiry warnings (seed 001), and the
//! terminal clients of one computer in file mode (issue 13).
#![allow(unsafe_code)]
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

#[path = "support/licence.rs"]
mod licence;
mod server;
mod support;

use std::sync::MutexGuard;
use std::time::Duration;

use licence_testkit::{holds_for, wait_until, PATIENCE};

use licence::*;
use licence_protocol::time::UtcTime;
use server::{refused_port, TestServer, PRODUCT, SERIES};
use support::*;

const SHORT_LEASES: &str = "ConnectionTimeout=2\nSessionTimeout=3";

fn serial() -> MutexGuard<'static, ()> {
    server::serial_in_home("home")
}

/// Heartbeat threads of the client crate alive in this process (`comm` keeps 15 bytes of the name).
fn heartbeat_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("licence-heartbe"))
        .count()
}

#[test]
fn obtain_check_key_parameters_and_release() {
    let _serial = serial();
    let server = TestServer::start(3, "");
    let l = Licence::of(server.port);
    assert_eq!(l.string("ИспользуемыйСервер"), "");
    l.succeeds("Подключиться", &[]);
    assert_eq!(l.string("ServerInUse"), format!("127.0.0.1:{}", server.port));
    assert!(!l.boolean("ЛицензияПолучена"));
    // The first Connect of the process started the add-in's log in the user's folder.
    let logs = std::path::Path::new(&std::env::var_os("HOME").unwrap()).join(".1C/licence/3.0/logs");
    let names: Vec<String> =
        std::fs::read_dir(&logs).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().any(|n| n.contains("liblicenceaddin")), "{names:?}");

    l.succeeds("ПолучитьЛицензию", &Licence::obtain_args(7, "Иванов"));
    assert!(l.boolean("LicenceHeld"));
    assert_eq!(l.string("ServerInUse"), format!("127.0.0.1:{}", server.port));
    let sessions = server.sessions();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["SessionNumber"], "7");
    assert_eq!(sessions[0]["UserName"], "Иванов");
    assert_eq!(sessions[0]["AppName"], "1CV8C");
    assert_eq!(sessions[0]["SessionStarted"], STARTED);

    l.succeeds("CheckLicence", &[]);
    let (ok, count) = l.call("ПараметрКлюча", &[Arg::S("КоличествоЛицензий")]);
    assert!(ok && count.vt == VT_I4 && count.as_i32() == 3, "{count:?}");
    let (ok, used) = l.call("KeyParameter", &[Arg::S("licencesused")]);
    assert!(ok && used.as_i32() == 1, "{used:?}");
    let (ok, product) = l.call("KeyParameter", &[Arg::S("Продукт")]);
    assert!(ok);
    assert_eq!(l.mem.take_string(&product), PRODUCT);
    let (ok, key_type) = l.call("KeyParameter", &[Arg::S("KeyType")]);
    assert!(ok && key_type.as_i32() == 3, "main key: {key_type:?}");
    for (flag, set) in [(0, true), (1, true), (2, false), (3, true), (63, false)] {
        let (ok, v) = l.call("ЕстьФлаг", &[Arg::N(flag)]);
        assert!(ok && v.vt == VT_BOOL && (v.bytes[0] != 0) == set, "flag {flag}: {v:?}");
    }
    assert!(l.fails("KeyParameter", &[Arg::S("Цвет")], 5).contains("unknown name `Цвет`"));
    assert!(l.addin.call_proc(l.addin.find_method("ResetError"), &mut []));

    l.succeeds("ОсвободитьЛицензию", &[]);
    assert!(!l.boolean("LicenceHeld"));
    assert_eq!(server.sessions().len(), 0);
    l.succeeds("ReleaseLicence", &[]);
    assert_eq!(l.number("LastErrorCode"), 0);
    l.destroy();
}

#[test]
fn no_free_licence_is_false_with_code_2_and_the_retry_succeeds() {
    let _serial = serial();
    let server = TestServer::start(1, "");
    let (first, second) = (Licence::of(server.port), Licence::of(server.port));
    first.succeeds("ObtainLicence", &Licence::obtain_args(1, "user1"));
    let text = second.fails("ПолучитьЛицензию", &Licence::obtain_args(2, "user2"), 2);
    assert!(text.contains("Нет свободной лицензии"), "{text}");
    assert!(!second.boolean("LicenceHeld"));
    assert_eq!(server.sessions().len(), 1);

    first.succeeds("ReleaseLicence", &[]);
    second.succeeds("ПолучитьЛицензию", &Licence::obtain_args(2, "user2"));
    let sessions = server.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["SessionNumber"], "2");
    second.succeeds("ReleaseLicence", &[]);
    first.destroy();
    second.destroy();
}

#[test]
fn unreachable_server_is_code_1_a_missing_key_id_code_5_and_a_missing_pin_code_16() {
    let _serial = serial();
    let l = Licence::new();
    assert!(l.set("ServerAddr", Arg::S("127.0.0.1")));
    assert!(l.set("ServerPort", Arg::N(i32::from(refused_port()))));
    assert_eq!(l.fails("Connect", &[], 5), "KeyID is not set");
    assert!(l.set("KeyID", Arg::S(SERIES)));
    let text = l.fails("Подключиться", &[], 16);
    assert!(text.starts_with("SeriesPublicKey is not set"), "{text}");
    assert!(l.set("ОткрытыйКлючСерии", Arg::S(&hex::encode(genuine().public_key()))));
    let text = l.fails("Подключиться", &[], 1);
    assert!(text.starts_with("no licence server answered: 127.0.0.1:"), "{text}");
    assert!(text.ends_with("(Сервер лицензий недоступен)"), "{text}");
    l.fails("ObtainLicence", &Licence::obtain_args(3, "user3"), 1);
    l.fails("KeyParameter", &[Arg::S("Flags")], 1);
    assert!(!l.boolean("LicenceHeld"));
    assert_eq!(l.string("ServerInUse"), "");

    // The platform tells the interface language: AddError and LastError follow it.
    l.addin.set_user_language("ru");
    let text = l.fails("Connect", &[], 1);
    assert!(text.starts_with("Сервер лицензий недоступен: no licence server answered: 127.0.0.1:"), "{text}");
    l.addin.set_user_language("en");
    let text = l.fails("Connect", &[], 1);
    assert!(text.starts_with("no licence server answered: 127.0.0.1:"), "{text}");
    assert!(!text.contains("Сервер"), "{text}");
    l.destroy();
}

#[test]
fn wrong_argument_types_are_bad_requests() {
    let _serial = serial();
    let l = Licence::of(refused_port());
    let mut args = Licence::obtain_args(4, "user4");
    args[5] = Arg::S("24.11.2026");
    let text = l.fails("ObtainLicence", &args, 5);
    assert_eq!(text, "SessionStarted: expected Date (Дата), got String (Строка)");
    let mut args = Licence::obtain_args(4, "user4");
    args[0] = Arg::B(true);
    assert!(l.fails("ПолучитьЛицензию", &args, 5).starts_with("SessionNumber: "));
    let mut args = Licence::obtain_args(4, "user4");
    args[2] = Arg::N(1);
    assert!(l.fails("ObtainLicence", &args, 5).starts_with("AppName: "));
    assert!(l.fails("HasFlag", &[Arg::S("1")], 5).starts_with("Number: "));
    assert!(l.fails("ЕстьФлаг", &[Arg::N(64)], 5).contains("flag 64 is not in 0..63"));
    assert!(l.fails("KeyParameter", &[Arg::N(1)], 5).starts_with("Name: "));
    assert!(!l.set("ЭтоСервер", Arg::S("Да")));
    l.host.take_errors();
    assert!(!l.set("ReservedServers", Arg::S("srv2:0")));
    l.host.take_errors();
    assert!(l.set("РезервныеСерверы", Arg::S("srv2:9100, srv3")));
    assert_eq!(l.string("ReservedServers"), "srv2:9100, srv3");
    l.destroy();
}

#[test]
fn a_session_ended_by_the_administrator_raises_licence_lost() {
    let _serial = serial();
    let server = TestServer::start(2, SHORT_LEASES);
    let l = Licence::of(server.port);
    l.succeeds("ObtainLicence", &Licence::obtain_args(8, "user8"));
    let sessions = server.sessions();
    let id = sessions[0]["ID"].as_str().expect("a session ID").to_owned();
    assert_eq!(server.end_session(&id), 200);

    wait_until(PATIENCE, "a LicenceLost event", || l.events().iter().any(|(_, message, _)| message == "LicenceLost"));
    let events = l.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "Licence");
    assert!(!events[0].2.is_empty());
    assert!(!l.boolean("ЛицензияПолучена"));
    l.fails("CheckLicence", &[], 9);
    l.succeeds("ReleaseLicence", &[]);
    l.destroy();
}

#[test]
fn destroying_a_holding_object_releases_and_leaves_no_thread_or_event() {
    let _serial = serial();
    let server = TestServer::start(2, SHORT_LEASES);
    // A thread joined by an earlier test may still be listed in /proc for a moment: the kernel wakes
    // `pthread_join` before it reaps the task. Every earlier object was destroyed, so none is left.
    wait_until(PATIENCE, "the heartbeat threads of earlier tests to leave", || heartbeat_threads() == 0);
    let l = Licence::of(server.port);
    l.succeeds("ObtainLicence", &Licence::obtain_args(9, "user9"));
    // A new thread names itself once it runs, which may be a moment after it was spawned.
    wait_until(PATIENCE, "one heartbeat thread", || heartbeat_threads() == 1);
    // The object is destroyed once its thread has beaten at least once (the server moved the
    // connection's lease on), so DestroyObject meets a thread that is running, not one just born.
    let leased = server.connection_expiry();
    wait_until(PATIENCE, "a heartbeat to reach the server", || server.connection_expiry() != leased);
    let host = l.destroy();
    // Joined before DestroyObject returned; the same reaping lag as above is allowed for (a thread
    // that outlived it for good would never leave).
    wait_until(PATIENCE, "the heartbeat thread to be gone after DestroyObject", || heartbeat_threads() == 0);
    assert_eq!(server.sessions().len(), 0, "the licence was given back");
    // Longer than the leases (2 s and 3 s): a heartbeat, an expiry or a lost-licence event of the
    // destroyed object would come within it.
    holds_for(Duration::from_secs(4), "the quiet after DestroyObject", || host.events.lock().unwrap().is_empty());
    assert_eq!(host.take_errors(), vec![]);
}

#[test]
fn a_dead_server_moves_the_licence_to_a_reserved_one_with_server_changed() {
    let _serial = serial();
    let main = TestServer::start(2, SHORT_LEASES);
    let reserve = TestServer::start(2, SHORT_LEASES);
    let l = Licence::of(main.port);
    assert!(l.set("ReservedServers", Arg::S(&format!("127.0.0.1:{}", reserve.port))));
    l.succeeds("ObtainLicence", &Licence::obtain_args(10, "user10"));
    assert_eq!(l.string("ServerInUse"), format!("127.0.0.1:{}", main.port));
    drop(main);

    let moved = format!("127.0.0.1:{}", reserve.port);
    wait_until(PATIENCE, "a ServerChanged event", || {
        l.events().iter().any(|(_, message, _)| message == "ServerChanged")
    });
    assert_eq!(l.events(), vec![("Licence".to_owned(), "ServerChanged".to_owned(), moved.clone())]);
    assert_eq!(l.string("ИспользуемыйСервер"), moved);
    assert!(l.boolean("LicenceHeld"));
    let sessions = reserve.sessions();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["SessionNumber"], "10");
    l.succeeds("CheckLicence", &[]);
    l.succeeds("ReleaseLicence", &[]);
    assert_eq!(reserve.sessions().len(), 0);
    l.destroy();
}

/// `days` whole days from now (negative: ago).
fn days_from_now(days: i64) -> UtcTime {
    UtcTime::from_unix_millis(UtcTime::now().unix_millis() + days * 86_400_000).unwrap()
}

fn event(message: &str, data: &str) -> (String, String, String) {
    ("Licence".to_owned(), message.to_owned(), data.to_owned())
}

#[test]
fn a_key_ending_in_10_days_shows_days_left_and_warns_once_a_day() {
    let _serial = serial();
    let server = TestServer::start_with(2, "", |key| {
        key.period = 0;
        key.expire_date = Some(days_from_now(10));
    });
    let l = Licence::of(server.port);
    assert!(l.undefined("DaysLeft") && l.undefined("ОсталосьДнейПоддержки"));
    assert!(l.boolean("ДемоРежим"), "no licence held");

    l.succeeds("ObtainLicence", &Licence::obtain_args(11, "user11"));
    assert_eq!(l.number("ОсталосьДней"), 10);
    assert!(l.undefined("SupportDaysLeft"));
    assert!(!l.boolean("DemoMode"));
    assert_eq!(l.events(), vec![event("ExpiryWarning", "10")]);
    l.succeeds("CheckLicence", &[]);
    l.succeeds("ПроверитьЛицензию", &[]);
    let (ok, days) = l.call("KeyParameter", &[Arg::S("DaysLeft")]);
    assert!(ok && days.as_i32() == 10, "{days:?}");
    assert_eq!(l.events(), vec![event("ExpiryWarning", "10")], "once a day");

    l.succeeds("ReleaseLicence", &[]);
    assert!(l.boolean("DemoMode"), "no licence held after ReleaseLicence");
    l.destroy();
}

#[test]
fn seed_001_a_release_after_the_update_subscription_runs_in_demo_mode() {
    let _serial = serial();
    let server = TestServer::start_with(2, "", |key| key.support_date = Some(days_from_now(-30)));
    let l = Licence::of(server.port);
    let released = days_from_now(-1).to_string();
    assert!(l.set("ДатаВыпуска", Arg::Date(&released)));
    l.succeeds("ObtainLicence", &Licence::obtain_args(12, "user12"));
    assert!(l.boolean("LicenceHeld"));
    assert!(l.boolean("ДемоРежим"), "released after the subscription ended");
    assert_eq!(l.number("SupportDaysLeft"), 0);
    assert_eq!(l.number("DaysLeft"), 364, "the test key's year, started yesterday");

    let older = days_from_now(-60).to_string();
    assert!(l.set("ReleaseDate", Arg::Date(&older)));
    assert!(!l.boolean("DemoMode"), "a release the subscription covered");
    assert!(l.set("ReleaseDate", Arg::Undefined));
    assert!(l.undefined("ДатаВыпуска"));
    assert!(!l.boolean("DemoMode"), "no release date set");
    assert!(l.set("ReleaseDate", Arg::Date(&released)));
    assert!(l.boolean("DemoMode"));
    assert_eq!(l.events(), vec![], "the subscription ended a month ago: no warning any more");

    l.succeeds("ReleaseLicence", &[]);
    assert!(l.boolean("DemoMode"));
    l.destroy();
}

#[test]
fn a_subscription_ending_in_5_days_warns_support_end() {
    let _serial = serial();
    let server = TestServer::start_with(2, "", |key| key.support_date = Some(days_from_now(5)));
    let l = Licence::of(server.port);
    assert!(l.set("ReleaseDate", Arg::Date(&days_from_now(-1).to_string())));
    l.succeeds("ПолучитьЛицензию", &Licence::obtain_args(13, "user13"));
    assert_eq!(l.number("ОсталосьДнейПоддержки"), 5);
    assert!(!l.boolean("DemoMode"), "this release is covered by the subscription");
    assert_eq!(l.events(), vec![event("SupportEndWarning", "5")]);
    l.succeeds("CheckLicence", &[]);
    assert_eq!(l.events(), vec![event("SupportEndWarning", "5")]);
    l.succeeds("ReleaseLicence", &[]);
    l.destroy();
}

/// Issue 13: file-mode objects of one computer with the code's `ТерминальныйКлиент` take one licence
/// per terminal client: two clients two licences, a second session of a client none more, a third
/// client on a 2-licence key none at all.
#[test]
fn terminal_clients_of_one_computer_take_a_licence_each_in_file_mode() {
    let _serial = serial();
    let server = TestServer::start(2, "");
    const FILE_BASE: &str = "File=\"/srv/1c/trade\";";
    let object = |terminal: &str| {
        let l = Licence::of(server.port);
        assert!(l.set("ЭтоСервер", Arg::B(false)));
        assert!(l.set("ТерминальныйКлиент", Arg::S(terminal)));
        assert_eq!(l.string("TerminalClient"), terminal);
        l
    };
    let used = |l: &Licence| {
        let (ok, used) = l.call("KeyParameter", &[Arg::S("ИспользуетсяЛицензий")]);
        assert!(ok, "{}", l.string("LastError"));
        used.as_i32()
    };
    let (first, second, again) = (object("THIN-1"), object("THIN-2"), object("THIN-1"));
    first.succeeds("ПолучитьЛицензию", &Licence::obtain_args_for(FILE_BASE, 1, "user1"));
    second.succeeds("ПолучитьЛицензию", &Licence::obtain_args_for(FILE_BASE, 2, "user2"));
    assert_eq!(used(&first), 2, "two terminal clients of HOST1: two licences");
    again.succeeds("ПолучитьЛицензию", &Licence::obtain_args_for(FILE_BASE, 3, "user3"));
    assert_eq!(used(&again), 2, "a second session of THIN-1 shares its licence");
    let mut terminals: Vec<String> =
        server.sessions().iter().map(|s| s["TerminalClient"].as_str().unwrap_or_default().to_owned()).collect();
    terminals.sort();
    assert_eq!(terminals, ["THIN-1", "THIN-1", "THIN-2"]);

    let third = object("THIN-3");
    let text = third.fails("ПолучитьЛицензию", &Licence::obtain_args_for(FILE_BASE, 4, "user4"), 2);
    assert!(text.contains("Нет свободной лицензии"), "{text}");
    for l in [first, second, again, third] {
        l.succeeds("ReleaseLicence", &[]);
        l.destroy();
    }
    assert_eq!(server.sessions().len(), 0);
}

/// Issue 13, as it must be shown: ten terminal clients of one terminal server on a 2-licence key in
/// file mode — two are granted, eight answer 2, and `LicencesUsed` is 2.
#[test]
fn ten_terminal_clients_of_one_terminal_server_get_the_two_licences_of_the_key() {
    let _serial = serial();
    let server = TestServer::start(2, "");
    let objects: Vec<Licence> = (1..=10)
        .map(|n| {
            let l = Licence::of(server.port);
            assert!(l.set("IsServer", Arg::B(false)));
            assert!(l.set("TerminalClient", Arg::S(&format!("RDP-CLIENT-{n}"))));
            l
        })
        .collect();
    let granted = objects
        .iter()
        .zip(1..)
        .filter(|(l, n)| {
            let (ok, _) = l.call("ObtainLicence", &Licence::obtain_args_for("File=\"C:\\1C\\trade\";", *n, "user"));
            if !ok {
                assert_eq!(l.number("LastErrorCode"), 2, "{}", l.string("LastError"));
                l.host.take_errors();
            }
            ok
        })
        .count();
    assert_eq!(granted, 2);
    let (ok, used) = objects[0].call("KeyParameter", &[Arg::S("LicencesUsed")]);
    assert!(ok && used.as_i32() == 2, "{used:?}");
    assert_eq!(server.sessions().len(), 2);
    for l in objects {
        l.succeeds("ReleaseLicence", &[]);
        l.destroy();
    }
}
