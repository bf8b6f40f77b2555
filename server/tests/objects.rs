//! `/licence/object` on the real server, spoken directly with the protocol crate's channel: the object
//! key is the one the series secret makes, and only for a session of the connection holding a licence of
//! the object's series; everything else is refused with its number.

mod common;

use common::{connect_body, key_fields, session_body, TestServer};
use licence_protocol::channel::{Channel, Handshake, Role, SealedMessage};
use licence_protocol::datafile::{derive_object_key, ObjectKeyRequest};
use licence_protocol::key::KeyKind;
use licence_protocol::series::SeriesKeys;
use licence_protocol::wire::{path, ObjectGrant, ObjectRequest};
use serde_json::Value;

/// Connects offering a channel key; the connection ID and the agreed channel.
fn connect_sealed(server: &TestServer, series: &str) -> (String, Channel) {
    let handshake = Handshake::new();
    let mut body = connect_body(series, "APPSRV", true);
    body["ClientKey"] = Value::String(handshake.public_hex());
    let (status, answer) = server.post(path::CONNECT, &body);
    assert_eq!(status, 200, "{answer}");
    let id = answer["ConnectionID"].as_str().unwrap().to_owned();
    let channel = handshake.finish(Role::Client, &id, answer["ServerKey"].as_str().unwrap()).unwrap();
    (id, channel)
}

fn request(series: &SeriesKeys, session_id: &str) -> ObjectRequest {
    ObjectRequest {
        session_id: session_id.to_owned(),
        name: "Отчёт".into(),
        object: ObjectKeyRequest { series: series.series, file_id: [7; 16], salt: [9; 16] },
    }
}

/// Sends `request` sealed as message `seq`: the status, and the opened grant or the error body.
fn ask(server: &TestServer, channel: &Channel, seq: u64, request: &ObjectRequest) -> (u16, Result<ObjectGrant, Value>) {
    let sealed = channel.seal(path::OBJECT, seq, &serde_json::to_vec(request).unwrap());
    let (status, body) = server.post(path::OBJECT, &serde_json::to_value(&sealed).unwrap());
    if status != 200 {
        return (status, Err(body));
    }
    let answer: SealedMessage = serde_json::from_value(body).unwrap();
    let plain = channel.open_answer(path::OBJECT, seq, &answer).unwrap();
    (status, Ok(serde_json::from_slice(&plain).unwrap()))
}

#[test]
fn the_object_key_comes_only_to_a_session_holding_a_licence_of_its_series() {
    let server = TestServer::new("objects-server", "").started();
    let series = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&series, &key_fields(&series, &server.machine, 10, KeyKind::Main, 2));
    server.wait_for_licences(1);
    let (connection, channel) = connect_sealed(&server, "672B");
    let (status, grant) = server.post(path::OBTAIN, &session_body(&connection, 1, "APPSRV"));
    assert_eq!(status, 200, "{grant}");
    let session = grant["SessionID"].as_str().unwrap().to_owned();

    let (status, answer) = ask(&server, &channel, 1, &request(&series, &session));
    assert_eq!(status, 200);
    let grant = answer.unwrap();
    let expected = derive_object_key(&series.secret, &request(&series, &session).object);
    assert_eq!(grant.object_key, hex::encode(expected.as_bytes()));
    let key = licence_protocol::keyfile::verify(grant.key_file.as_bytes()).unwrap();
    assert_eq!((key.series_public_key, key.fields.key_no), (series.public_key(), 10));

    // Another series than the connection's: 15. A session that is not held: 7/8. A number used again: 5.
    let other = SeriesKeys::generate("672C".parse().unwrap());
    let (status, body) = ask(&server, &channel, 2, &request(&other, &session));
    assert_eq!((status, body.unwrap_err()["Code"].as_u64()), (403, Some(15)));
    let (status, body) = ask(&server, &channel, 3, &request(&series, "NO-SUCH-SESSION"));
    assert_eq!(status, 404, "{body:?}");
    let (status, body) = ask(&server, &channel, 3, &request(&series, &session));
    let body = body.unwrap_err();
    assert_eq!((status, body["Code"].as_u64()), (400, Some(5)), "{body}");
    assert!(body["Message"].as_str().unwrap().contains("replay"), "{body}");

    // Released, the session gets no key.
    let (status, _) =
        server.post(path::RELEASE, &serde_json::json!({"ConnectionID": connection, "SessionID": session}));
    assert_eq!(status, 200);
    let (status, body) = ask(&server, &channel, 4, &request(&series, &session));
    assert_eq!((status, body.unwrap_err()["Code"].as_u64()), (404, Some(8)));
    assert!(!server.log().contains(&hex::encode(expected.as_bytes())), "the object key reached the log");
}

#[test]
fn without_a_channel_nothing_is_given() {
    let server = TestServer::new("objects-nochannel", "").started();
    let series = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&series, &key_fields(&series, &server.machine, 11, KeyKind::Main, 2));
    server.wait_for_licences(1);

    // A connection that offered no key has no channel: 14.
    let (status, answer) = server.post(path::CONNECT, &connect_body("672B", "APPSRV", true));
    assert_eq!(status, 200);
    assert!(answer.get("ServerKey").is_none(), "{answer}");
    let id = answer["ConnectionID"].as_str().unwrap();
    let stranger = Handshake::new().finish(Role::Client, id, &Handshake::new().public_hex()).unwrap();
    let (status, body) = ask(&server, &stranger, 1, &request(&series, "S"));
    assert_eq!((status, body.unwrap_err()["Code"].as_u64()), (404, Some(14)));

    // A channel key that is not one refuses the connection; an unknown connection is 7.
    let mut bad = connect_body("672B", "APPSRV", true);
    bad["ClientKey"] = Value::String("zz".into());
    assert_eq!(server.post(path::CONNECT, &bad).0, 400);
    let unknown = Handshake::new().finish(Role::Client, "NOPE", &Handshake::new().public_hex()).unwrap();
    let (status, body) = ask(&server, &unknown, 1, &request(&series, "S"));
    assert_eq!((status, body.unwrap_err()["Code"].as_u64()), (404, Some(7)));

    // A sealed connection gets the key, and the key file it shows is the counting key's.
    let (connection, channel) = connect_sealed(&server, "672B");
    let (_, grant) = server.post(path::OBTAIN, &session_body(&connection, 1, "APPSRV"));
    let session = grant["SessionID"].as_str().unwrap();
    let (status, answer) = ask(&server, &channel, 1, &request(&series, session));
    assert_eq!(status, 200);
    assert_eq!(licence_protocol::keyfile::verify(answer.unwrap().key_file.as_bytes()).unwrap().fields.key_no, 11);
}
