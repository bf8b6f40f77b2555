//! Protected objects through the add-in's vtables (the fake platform of tests/support) against the real
//! `licenceserver`: objects open by Cyrillic and Latin names only while a licence is held; a datafile of
//! another series, signed by another key or altered in any byte is refused before any call; a server that
//! answers "granted" to everything gets nothing opened; and a recording relay between add-in and server
//! sees neither the plaintext nor the object key, while a replayed or altered sealed request is refused.
#![allow(unsafe_code)]
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

#[path = "support/licence.rs"]
mod licence;
mod server;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use licence::*;
use licence_protocol::channel::{Handshake, Role, SealedMessage};
use licence_protocol::datafile::{self, NewObject, ObjectKind};
use licence_protocol::identity::MachineIdentity;
use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;
use licence_protocol::wire::{path, ConnectResponse, LicenceGrant, ObjectGrant, ObjectRequest};
use server::{scratch, TestServer, SERIES};
use support::*;

/// The tests share the process's `HOME`; one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let guard = LOCK.get_or_init(Mutex::default).lock().unwrap_or_else(|p| p.into_inner());
    static HOME: OnceLock<()> = OnceLock::new();
    HOME.get_or_init(|| std::env::set_var("HOME", scratch("objects-home")));
    guard
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

    // Without the pin nothing opens.
    let unpinned = Licence::of(server.port);
    unpinned.succeeds("ПолучитьЛицензию", &Licence::obtain_args(2, "Сидоров"));
    let text = unpinned.fails("OpenObject", &[Arg::Blob(&small), Arg::S("Отчёт")], 5);
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

/// A fake licence server on loopback that grants everything: it agrees channels, grants every
/// licence, and answers every object request with `grant(request)`.
fn fake_server(grant: impl Fn(&ObjectRequest) -> ObjectGrant + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut channels = std::collections::HashMap::new();
        for stream in listener.incoming().take(8).flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut stream = stream;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    if header.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).unwrap();
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let answer = match path.as_str() {
                    path::CONNECT => {
                        let handshake = Handshake::new();
                        let server_key = handshake.public_hex();
                        let id = format!("FAKE{}", channels.len());
                        let channel = handshake.finish(Role::Server, &id, json["ClientKey"].as_str().unwrap()).unwrap();
                        channels.insert(id.clone(), channel);
                        serde_json::to_string(&ConnectResponse {
                            connection_id: id,
                            server_version: licence_protocol::VERSION.into(),
                            expire_time: licence_protocol::time::UtcTime::now(),
                            connection_lease_seconds: 20,
                            session_lease_seconds: 60,
                            heartbeat_seconds: 5,
                            server_key: Some(server_key),
                            reserved_servers: Vec::new(),
                        })
                        .unwrap()
                    }
                    path::OBTAIN | path::CHECK => serde_json::to_string(&LicenceGrant {
                        session_id: "FAKESESSION".into(),
                        key_id: SERIES.parse().unwrap(),
                        used_licence: 1,
                        expire_time: licence_protocol::time::UtcTime::now(),
                        reused: false,
                    })
                    .unwrap(),
                    path::OBJECT => {
                        let sealed: SealedMessage = serde_json::from_slice(&body).unwrap();
                        let channel = channels.get_mut(&sealed.connection_id).unwrap();
                        let plain = channel.open_request(path::OBJECT, &sealed).unwrap();
                        let request: ObjectRequest = serde_json::from_slice(&plain).unwrap();
                        let grant = serde_json::to_vec(&grant(&request)).unwrap();
                        serde_json::to_string(&channel.seal(path::OBJECT, sealed.seq, &grant)).unwrap()
                    }
                    _ => r#"{"Released": true, "ExpireTime": "2026-11-24T09:00:00.000Z", "LostSessions": []}"#.into(),
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    answer.len()
                );
                if stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(answer.as_bytes())).is_err() {
                    break;
                }
            }
        }
    });
    port
}

#[test]
fn a_server_that_grants_everything_without_a_genuine_key_opens_nothing() {
    let _serial = serial();
    let series = SeriesKeys::generate(SERIES.parse().unwrap());
    let data = datafile(&series);
    // A genuine key file of the series (stolen from some installation) with a made-up object key.
    let machine = MachineIdentity::from_material(b"somewhere else");
    let fields = licence_protocol::key::KeyFields {
        computer_id: machine.computer_id(),
        ..licence_testkit::main_key(&series, "somewhere else", 77, 5)
    };
    let genuine = String::from_utf8(keyfile::issue(&fields, &series, &machine.binding())).unwrap();
    let port = fake_server(move |_| ObjectGrant { object_key: "11".repeat(32), key_file: genuine.clone() });
    let l = pinned(port, &series);
    l.succeeds("ПолучитьЛицензию", &Licence::obtain_args(1, "Иванов"));
    let text = l.fails("OpenObject", &[Arg::Blob(&data), Arg::S("Report")], 15);
    assert!(text.contains("holds no genuine key"), "{text}");
    l.destroy();

    // A key of its own making opens its own objects, but the configuration's pin refuses it.
    let impostor = SeriesKeys::generate(SERIES.parse().unwrap());
    let forged = String::from_utf8(keyfile::issue(&fields, &impostor, &machine.binding())).unwrap();
    let secret = SeriesKeys::from_cryptkey(&impostor.to_cryptkey()).unwrap();
    let port = fake_server(move |request| ObjectGrant {
        object_key: hex::encode(datafile::derive_object_key(&secret.secret, &request.object).as_bytes()),
        key_file: forged.clone(),
    });
    let l = pinned(port, &series);
    l.succeeds("ПолучитьЛицензию", &Licence::obtain_args(1, "Иванов"));
    let text = l.fails("OpenObject", &[Arg::Blob(&data), Arg::S("Report")], 15);
    assert!(text.contains("pinned series key"), "{text}");
    l.destroy();
}
