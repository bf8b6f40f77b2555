//! `/licence/object` on the real server, through the test add-in's channel: the object key is the one
//! the series secret makes, and only for a session of the connection holding a licence of the object's
//! series; everything else is refused with its number, sealed, and the envelope's own failures in
//! plain.

mod common;

use common::addin::{post_bytes, Addin};
use common::{connect_body, key_fields, session_body, TestServer};
use licence_protocol::channel::{Handshake, Role};
use licence_protocol::datafile::{derive_object_key, ObjectKeyRequest};
use licence_protocol::key::KeyKind;
use licence_protocol::series::SeriesKeys;
use licence_protocol::wire::{path, ObjectGrant, ObjectRequest};
use serde_json::Value;

fn request(series: &SeriesKeys, session_id: &str) -> ObjectRequest {
    ObjectRequest {
        session_id: session_id.to_owned(),
        name: "Отчёт".into(),
        object: ObjectKeyRequest { series: series.series, file_id: [7; 16], salt: [9; 16] },
    }
}

/// Sends `request` sealed as the connection's next call: the status, and the grant or the error body.
fn ask(server: &TestServer, connection: &str, request: &ObjectRequest) -> (u16, Result<ObjectGrant, Value>) {
    let addin = server.addin(connection);
    let (status, body) = addin.lock().unwrap().call(path::OBJECT, &serde_json::to_value(request).unwrap());
    match status {
        200 => (status, Ok(serde_json::from_value(body).unwrap())),
        _ => (status, Err(body)),
    }
}

/// Sends `request` again under the number the connection used last: a replay.
fn replay(server: &TestServer, connection: &str, request: &ObjectRequest) -> (u16, Value) {
    let addin = server.addin(connection);
    let addin: &Addin = &addin.lock().unwrap();
    let sealed = addin.channel.seal(path::OBJECT, addin.seq, &serde_json::to_vec(request).unwrap());
    post_bytes(&server.url(path::OBJECT), &serde_json::to_vec(&sealed).unwrap())
}

#[test]
fn the_object_key_comes_only_to_a_session_holding_a_licence_of_its_series() {
    let server = TestServer::new("objects-server", "").started();
    let series = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&series, &key_fields(&series, &server.machine, 10, KeyKind::Main, 2));
    server.wait_for_licences(1);
    let connection = server.connect("672B", "APPSRV", true);
    let (status, grant) = server.post(path::OBTAIN, &session_body(&connection, 1, "APPSRV"));
    assert_eq!(status, 200, "{grant}");
    let session = grant["SessionID"].as_str().unwrap().to_owned();

    let (status, answer) = ask(&server, &connection, &request(&series, &session));
    assert_eq!(status, 200);
    let grant = answer.unwrap();
    let expected = derive_object_key(&series.secret, &request(&series, &session).object);
    assert_eq!(grant.object_key, hex::encode(expected.as_bytes()));
    let key = licence_protocol::keyfile::verify(grant.key_file.as_bytes()).unwrap();
    assert_eq!((key.series_public_key, key.fields.key_no), (series.public_key(), 10));

    // Another series than the connection's: 15. A session that is not held: 8. A number used again: 5.
    let other = SeriesKeys::generate("672C".parse().unwrap());
    let (status, body) = ask(&server, &connection, &request(&other, &session));
    assert_eq!((status, body.unwrap_err()["Code"].as_u64()), (403, Some(15)));
    let (status, body) = ask(&server, &connection, &request(&series, "NO-SUCH-SESSION"));
    assert_eq!(status, 404, "{body:?}");
    let (status, body) = replay(&server, &connection, &request(&series, &session));
    assert_eq!((status, body["Code"].as_u64()), (400, Some(5)), "{body}");
    assert!(body["Message"].as_str().unwrap().contains("replay"), "{body}");

    // Released, the session gets no key.
    let (status, _) =
        server.post(path::RELEASE, &serde_json::json!({"ConnectionID": connection, "SessionID": session}));
    assert_eq!(status, 200);
    let (status, body) = ask(&server, &connection, &request(&series, &session));
    assert_eq!((status, body.unwrap_err()["Code"].as_u64()), (404, Some(8)));
    assert!(!server.log().contains(&hex::encode(expected.as_bytes())), "the object key reached the log");
}

#[test]
fn without_a_channel_nothing_is_given() {
    let mut server = TestServer::new("objects-nochannel", "").started();
    let series = SeriesKeys::generate("672B".parse().unwrap());
    server.install_key(&series, &key_fields(&series, &server.machine, 11, KeyKind::Main, 2));
    server.wait_for_licences(1);

    // A connect that offers no channel key, or one that is not a key, is refused: 5.
    let mut body = connect_body("672B", "APPSRV", true);
    body["SeriesPublicKey"] = Value::String(hex::encode(series.public_key()));
    let (status, answer) = server.request("POST", path::CONNECT, Some(&body.to_string()), None);
    assert_eq!((status, answer["Code"].as_u64()), (400, Some(5)), "{answer}");
    body["ClientKey"] = Value::String("zz".into());
    let (status, answer) = server.request("POST", path::CONNECT, Some(&body.to_string()), None);
    assert_eq!((status, answer["Code"].as_u64()), (400, Some(5)), "{answer}");

    // An unknown connection is 7.
    let unknown = Handshake::new().finish(Role::Client, "NOPE", &Handshake::new().public_hex()).unwrap();
    let sealed = unknown.seal(path::OBJECT, 1, &serde_json::to_vec(&request(&series, "S")).unwrap());
    let (status, body) = post_bytes(&server.url(path::OBJECT), &serde_json::to_vec(&sealed).unwrap());
    assert_eq!((status, body["Code"].as_u64()), (404, Some(7)), "{body}");

    // A sealed connection gets the key, and the key file it shows is the counting key's.
    let connection = server.connect("672B", "APPSRV", true);
    let (_, grant) = server.post(path::OBTAIN, &session_body(&connection, 1, "APPSRV"));
    let session = grant["SessionID"].as_str().unwrap().to_owned();
    let (status, answer) = ask(&server, &connection, &request(&series, &session));
    assert_eq!(status, 200);
    assert_eq!(licence_protocol::keyfile::verify(answer.unwrap().key_file.as_bytes()).unwrap().fields.key_no, 11);

    // After a restart the connection is known but its channel is gone: 14, in plain.
    server.stop();
    server.start();
    let (status, body) = ask(&server, &connection, &request(&series, &session));
    assert_eq!((status, body.unwrap_err()["Code"].as_u64()), (404, Some(14)));
}
