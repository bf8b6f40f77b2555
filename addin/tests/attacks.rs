//! The attacks of issue 11 ("licences that cannot be faked") driven through the add-in's vtables by the
//! fake platform: a fake server that grants everything, a recorded genuine conversation played back, a
//! relay that swaps the channel keys at `connect`. Each test is named after its attack and asserts what
//! the configuration's code sees: `ObtainLicence` false with code 17 (`ServerNotTrusted`), no key
//! parameter, no flag. The attackers are in tests/support/attacker.rs; the genuine server is the real
//! one (tests/server).
#![allow(unsafe_code)]
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

#[path = "support/attacker.rs"]
mod attacker;
#[path = "support/licence.rs"]
mod licence;
mod server;
mod support;

use std::sync::MutexGuard;

use attacker::{granting_server, replaying_server, Proof, Relay};
use licence::*;
use server::TestServer;

fn serial() -> MutexGuard<'static, ()> {
    server::serial_in_home("attacks-home")
}

/// A user name to look for on the wire.
const USER: &str = "user-name-on-the-wire-4d1c";

/// What the configuration's code sees of a server it must not believe: no licence, no key facts.
fn nothing_is_granted(l: &Licence) -> String {
    let text = l.fails("ПолучитьЛицензию", &Licence::obtain_args(1, USER), 17);
    assert!(text.contains("is not trusted"), "{text}");
    assert!(text.contains("Сервер лицензий не доказал"), "{text}");
    assert!(!l.boolean("LicenceHeld"));
    l.fails("Подключиться", &[], 17);
    l.fails("ПараметрКлюча", &[Arg::S("LicenceCount")], 17);
    l.fails("ЕстьФлаг", &[Arg::N(0)], 17);
    l.fails("CheckLicence", &[], 8);
    text
}

#[test]
fn a_fake_server_granting_everything_gives_no_licence() {
    let _serial = serial();
    for (proof, why) in [
        (Proof::None, "proved no key of series 672B"),
        (Proof::Stolen, "does not cover this connection"),
        (Proof::SelfMade, "signed by another key than the series key this configuration pins"),
    ] {
        let port = granting_server(genuine(), proof);
        let l = Licence::of(port);
        let text = nothing_is_granted(&l);
        assert!(text.contains(why), "{text}");
        l.destroy();
    }
}

#[test]
fn a_fake_server_is_passed_over_for_a_genuine_reserved_one() {
    let _serial = serial();
    let server = TestServer::start(2, "");
    let fake = granting_server(genuine(), Proof::Stolen);
    let l = Licence::of(fake);
    assert!(l.set("ReservedServers", Arg::S(&format!("127.0.0.1:{}", server.port))));
    l.succeeds("ПолучитьЛицензию", &Licence::obtain_args(1, USER));
    assert_eq!(l.string("ServerInUse"), format!("127.0.0.1:{}", server.port));
    assert_eq!(server.sessions().len(), 1);
    l.destroy();
}

#[test]
fn a_replaying_server_gives_no_licence() {
    let _serial = serial();
    let recorded = {
        let server = TestServer::start(2, "");
        let relay = Relay::start(server.port, false);
        let l = Licence::of(relay.port);
        l.succeeds("ПолучитьЛицензию", &Licence::obtain_args(1, USER));
        l.succeeds("ПроверитьЛицензию", &[]);
        let (ok, count) = l.call("ПараметрКлюча", &[Arg::S("LicenceCount")]);
        assert!(ok && count.as_i32() == 2, "{count:?}");
        l.succeeds("ОсвободитьЛицензию", &[]);
        l.destroy();
        relay.exchanges()
    };
    assert!(recorded.iter().any(|e| e.path == "/licence/obtain" && e.status == 200), "{recorded:?}");
    // The genuine server is gone; its recorded answers are all the attacker has.
    let port = replaying_server(recorded);
    let l = Licence::of(port);
    let text = nothing_is_granted(&l);
    assert!(text.contains("does not cover this connection"), "{text}");
    l.destroy();
}

#[test]
fn a_key_swapping_relay_at_connect_is_refused() {
    let _serial = serial();
    let server = TestServer::start(2, "");

    // A relay that only passes bytes on sees the calls, but no field of them.
    let relay = Relay::start(server.port, false);
    let l = Licence::of(relay.port);
    l.succeeds("ПолучитьЛицензию", &Licence::obtain_args(1, USER));
    l.succeeds("CheckLicence", &[]);
    l.destroy();
    let wire = relay.bytes();
    assert!(wire.contains("/licence/obtain") && wire.contains("/licence/check"), "{wire}");
    assert!(!wire.contains(USER), "the user name crossed the wire in clear");
    assert!(!wire.contains("UsedLicence"), "a grant crossed the wire in clear");
    assert!(!wire.contains("SessionNumber"), "the session's facts crossed the wire in clear");

    // One that swaps the channel keys to read the channel is refused at connect: nothing more is sent.
    let relay = Relay::start(server.port, true);
    let l = Licence::of(relay.port);
    let text = nothing_is_granted(&l);
    assert!(text.contains("does not cover this connection"), "{text}");
    l.destroy();
    let exchanges = relay.exchanges();
    assert!(!exchanges.is_empty() && exchanges.iter().all(|e| e.path == "/licence/connect"), "{exchanges:?}");
    let wire = relay.bytes();
    assert!(!wire.contains(USER) && !wire.contains("UsedLicence"), "{wire}");
    assert!(server.sessions().is_empty());
}
