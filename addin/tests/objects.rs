//! Protected objects through the add-in's vtables (the fake platform of tests/support) against the real
//! `licenceserver`: objects open by Cyrillic and Latin names only while a licence is held; a datafile of
//! another series, signed by another key or altered in any byte is refused before any call; a server that
//! answers "granted" to everything gets nothing opened; and a recording relay between add-in and server
//! sees neither the plaintext nor the object key, while a replayed or altered sealed request is refused.
#![allow(unsafe_code)]
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

#[path = "support/attacker.rs"]
mod attacker;
#[path = "support/licence.rs"]
mod licence;
mod server;
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

use attacker::{granting_server, Proof};
use licence::*;
use licence_protocol::channel::SealedMessage;
use licence_protocol::datafile::{self, NewObject, ObjectKind};
use licence_protocol::series::SeriesKeys;
use licence_protocol::wire::path;
use server::{TestServer, SERIES};
use support::*;

fn serial() -> MutexGuard<'static, ()> {
    server::serial_in_home("objects-home")
}

/// What the objects hold; the relay test looks for it on the wire.
const MARKER: &[u8] = b"PROTECTED-PLAINTEXT-7f3a9c";
const MODULE_TEXT: &str = "Функция Сумма(А, Б) Экспорт Возврат А + Б; КонецФункции // PROTECTED-BSL-51e2";

fn processor() -> Vec<u8> {
    let mut bytes = b"EPF\x00".to_vec();
    bytes.extend_from_slice(MARKER);
    bytes.extend((0..2000u32).map(|i| (i % 251) as u8));
    bytes
}

fn datafile(series: &SeriesKeys) -> Vec<u8> {
    let objects = [
        NewObject { name: "Отчёт по складу".into(), kind: ObjectKind::Binary, content: processor() },
        NewObject { name: "Report".into(), kind: ObjectKind::Binary, content: MARKER.to_vec() },
        NewObject {
            name: "ОбщийМодуль".into(), kind: ObjectKind::Text, content: MODULE_TEXT.as_bytes().to_vec()
        },
    ];
    datafile::pack(series, &objects).unwrap()
}

/// A `Licence` of series 672B on `port`, pinned to `series`' public key.
fn pinned(port: u16, series: &SeriesKeys) -> Licence {
    let l = Licence::of(port);
    assert!(l.set("ОткрытыйКлючСерии", Arg::S(&hex::encode(series.public_key()))));
    l
}

/// `ОткрытьОбъект(data, name)` that must succeed: the value.
fn open(l: &Licence, data: &[u8], name: &str) -> Variant {
    let (ok, value) = l.call("ОткрытьОбъект", &[Arg::Blob(data), Arg::S(name)]);
    assert!(ok, "OpenObject({name}) failed: {}", l.string("LastError"));
    value
}

#[test]
fn objects_open_by_either_name_only_while_a_licence_is_held() {
    let _serial = serial();
    let series = SeriesKeys::generate(SERIES.parse().unwrap());
    let server = TestServer::start_for(&series, 2, "", |_| {});
    let data = datafile(&series);
    let l = pinned(server.port, &series);

    let text = l.fails("OpenObject", &[Arg::Blob(&data), Arg::S("Report")], 8);
    assert!(text.contains("ObtainLicence"), "{text}");
    l.succeeds("ПолучитьЛицензию", &Licence::obtain_args(1, "Иванов"));
    let value = open(&l, &data, "Отчёт по складу");
    assert_eq!(l.mem.take_blob(&value), processor());
    let value = open(&l, &data, "report");
    assert_eq!(l.mem.take_blob(&value), MARKER);
    let value = open(&l, &data, "ОБЩИЙМОДУЛЬ");
    assert_eq!(l.mem.take_string(&value), MODULE_TEXT);
    let text = l.fails("OpenObject", &[Arg::Blob(&data), Arg::S("Нет такого")], 15);
    assert!(text.contains("no object named"), "{text}");

    l.succeeds("ОсвободитьЛицензию", &[]);
    l.fails("ОткрытьОбъект", &[Arg::Blob(&data), Arg::S("Report")], 8);
    // Wrong argument types are refused as such.
    let (ok, _) = l.call("ОткрытьОбъект", &[Arg::S("not data"), Arg::S("Report")]);
    assert!(!ok);
    assert!(l.host.take_errors()[0].descr.contains("BinaryData"));
    l.destroy();
}

#[test]
fn datafiles_of_another_series_or_signer_and_altered_ones_are_refused_before_any_call() {
    let _serial = serial();
    let series = SeriesKeys::generate(SERIES.parse().unwrap());
    let server = TestServer::start_for(&series, 2, "", |_| {});
    let l = pinned(server.port, &series);
    l.succeeds("ПолучитьЛицензию", &Licence::obtain_args(1, "Петров"));

    let other_series = SeriesKeys::generate("672C".parse().unwrap());
    let text = l.fails("OpenObject", &[Arg::Blob(&datafile(&other_series)), Arg::S("Report")], 15);
    assert!(text.contains("series 672C"), "{text}");
    let impostor = SeriesKeys::generate(SERIES.parse().unwrap());
    let text = l.fails("OpenObject", &[Arg::Blob(&datafile(&impostor)), Arg::S("Report")], 15);
    assert!(text.contains("not signed by"), "{text}");

    // Every single-byte flip of a small datafile is refused.
    let small = datafile::pack(
        &series,
        &[NewObject { name: "Отчёт".into(), kind: ObjectKind::Binary, content: MARKER.to_vec() }],
    )
    .unwrap();
    for i in 0..small.len() {
        let mut flipped = small.clone();
        flipped[i] ^= 0x20;
        let (ok, _) = l.call("ОткрытьОбъект", &[Arg::Blob(&flipped), Arg::S("Отчёт")]);
        assert!(!ok, "a flip at byte {i} of {} opened", small.len());
        assert_eq!(l.host.take_errors().len(), 1);
        assert_eq!(l.number("LastErrorCode"), 15, "byte {i}: {}", l.string("LastError"));
    }
    let value = open(&l, &small, "Отчёт");
    assert_eq!(l.mem.take_blob(&value), MARKER);

    // Without the pin no licence is obtained and nothing opens.
    let unpinned = Licence::unpinned(server.port);
    unpinned.fails("ПолучитьЛицензию", &Licence::obtain_args(2, "Сидоров"), 16);
    let text = unpinned.fails("OpenObject", &[Arg::Blob(&small), Arg::S("Отчёт")], 16);
    assert!(text.contains("SeriesPublicKey"), "{text}");
    unpinned.destroy();
    l.destroy();
}

#[test]
fn objects_keep_opening_after_the_server_restarts() {
    let _serial = serial();
    let series = SeriesKeys::generate(SERIES.parse().unwrap());
    let mut server = TestServer::start_for(&series, 2, "", |_| {});
    let data = datafile(&series);
    let l = pinned(server.port, &series);
    l.succeeds("ПолучитьЛицензию", &Licence::obtain_args(1, "Иванов"));
    let value = open(&l, &data, "Report");
    assert_eq!(l.mem.take_blob(&value), MARKER);
    // The restarted server knows the connection (its lease was kept) but not its channel: the add-in
    // connects again, gets its own licence back and opens the object without the caller noticing.
    server.restart();
    let value = open(&l, &data, "ОбщийМодуль");
    assert_eq!(l.mem.take_string(&value), MODULE_TEXT);
    assert_eq!(server.sessions().len(), 1, "the same licence, not a second one");
    l.destroy();
}

/// A TCP relay from a port of its own to `target`, keeping every byte that passes in either direction.
struct Relay {
    port: u16,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Relay {
    fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        std::thread::spawn(move || {
            for client in listener.incoming().take(16).flatten() {
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else { return };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                    (upstream.try_clone().unwrap(), client.try_clone().unwrap()),
                ] {
                    let record = Arc::clone(&record);
                    std::thread::spawn(move || {
                        let mut buffer = [0u8; 16 * 1024];
                        while let Ok(n @ 1..) = from.read(&mut buffer) {
                            record.lock().unwrap().extend_from_slice(&buffer[..n]);
                            if to.write_all(&buffer[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, seen }
    }

    fn seen(&self) -> Vec<u8> {
        self.seen.lock().unwrap().clone()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_wire_shows_no_plaintext_and_sealed_requests_cannot_be_replayed_or_altered() {
    let _serial = serial();
    let series = SeriesKeys::generate(SERIES.parse().unwrap());
    let server = TestServer::start_for(&series, 2, "", |_| {});
    let relay = Relay::start(server.port);
    let data = datafile(&series);
    let l = pinned(relay.port, &series);
    l.succeeds("ПолучитьЛицензию", &Licence::obtain_args(1, "Иванов"));
    let value = open(&l, &data, "Отчёт по складу");
    assert_eq!(l.mem.take_blob(&value), processor());
    let value = open(&l, &data, "ОбщийМодуль");
    assert_eq!(l.mem.take_string(&value), MODULE_TEXT);

    let wire = relay.seen();
    assert!(contains(&wire, path::OBJECT.as_bytes()), "the object calls went through the relay");
    assert!(!contains(&wire, MARKER), "the plaintext crossed the wire");
    assert!(!contains(&wire, "PROTECTED-BSL-51e2".as_bytes()), "the BSL text crossed the wire");
    let file = datafile::parse(&data).unwrap();
    for entry in file.objects() {
        let key = datafile::derive_object_key(&series.secret, &entry.key_request(&file));
        for shape in [hex::encode(key.as_bytes()), hex::encode_upper(key.as_bytes())] {
            assert!(!contains(&wire, shape.as_bytes()), "the object key of {} crossed the wire", entry.name);
        }
    }

    // The recorded sealed request, sent again, is a replay; altered, it does not open.
    let text = String::from_utf8_lossy(&wire).into_owned();
    let start = text.find("POST /licence/object").expect("a recorded object call");
    let body_start = start + text[start..].find("\r\n\r\n").unwrap() + 4;
    let sealed: SealedMessage = serde_json::Deserializer::from_str(&text[body_start..])
        .into_iter()
        .next()
        .expect("a body")
        .expect("a sealed message");
    let post = |body: &SealedMessage| {
        let url = format!("http://127.0.0.1:{}{}", server.port, path::OBJECT);
        match ureq::post(&url).send_string(&serde_json::to_string(body).unwrap()) {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(status, r)) => (status, r.into_string().unwrap()),
            Err(e) => panic!("{e}"),
        }
    };
    let (status, body) = post(&sealed);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("replay"), "{body}");
    let mut altered = sealed.clone();
    altered.seq += 100;
    let (status, body) = post(&altered);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("altered"), "{body}");
    l.destroy();
}

#[test]
fn protected_objects_are_refused_without_a_genuine_key() {
    let _serial = serial();
    let data = datafile(genuine());
    // A server granting everything, showing a stolen genuine key file or a key of its own making: it
    // gets no licence accepted, so no object request is even sent.
    for proof in [Proof::Stolen, Proof::SelfMade, Proof::None] {
        let port = granting_server(genuine(), proof);
        let l = Licence::of(port);
        l.fails("ПолучитьЛицензию", &Licence::obtain_args(1, "Иванов"), 17);
        let text = l.fails("OpenObject", &[Arg::Blob(&data), Arg::S("Report")], 8);
        assert!(text.contains("ObtainLicence"), "{text}");
        l.destroy();
    }
}
