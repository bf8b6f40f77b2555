//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/`: genuinely signed key
//! files of format 2 (which the fuzzer could never forge) and a few broken ones (one of format 1), the
//! example config file, well formed protocol messages of every type (protocol 2: sealed messages and
//! answers, connect proofs), activation documents of format 2, a genuine `connect` answer with its
//! proof, key file names and `Authorization` headers. Run it with
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_corpus` after a format change; the
//! files it writes are small and kept in the repository.
#![forbid(unsafe_code)]

#[path = "../seeds/connect.rs"]
mod connect;

use licence_protocol::channel::{self, Handshake, Role, SealedAnswer};
use licence_protocol::identity::{HostSecret, MachineIdentity};
use licence_protocol::key::{KeyFields, KeyKind, SeriesId};
use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{
    ConnectRequest, ConnectResponse, ConnectionRequest, ErrorCode, HeartbeatRequest, HeartbeatResponse,
    KeyInfoResponse, KeyParameters, LicenceGrant, ObtainRequest, ReleaseResponse, SessionFacts, SessionRequest,
    WireError,
};
use std::path::{Path, PathBuf};

/// Must match `SEED_MATERIAL` in `fuzz_targets/keyfile_verify.rs` and `activation_documents.rs`.
const SEED_MATERIAL: &[u8] = b"fuzz seed computer";
/// Must match `SEED_HOST_SECRET` there.
const SEED_HOST_SECRET: [u8; 32] = [0x5e; 32];

/// The seed server as it sees itself: its machine id and its host secret.
fn seed_server() -> MachineIdentity {
    MachineIdentity::from_material(SEED_MATERIAL).with_host_secret(HostSecret::from_bytes(SEED_HOST_SECRET))
}
const EXAMPLE_CONFIG: &str = include_str!("../../packaging/licenceserver.conf");

fn main() -> std::io::Result<()> {
    let root =
        std::env::args_os().nth(1).map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"), PathBuf::from);
    let mut corpus = Corpus { root, written: 0 };
    key_files(&mut corpus)?;
    ini_texts(&mut corpus)?;
    config_texts(&mut corpus)?;
    wire_messages(&mut corpus)?;
    key_file_names(&mut corpus)?;
    auth_headers(&mut corpus)?;
    activation_documents(&mut corpus)?;
    connect_proofs(&mut corpus)?;
    println!("wrote {} seed files under {}", corpus.written, corpus.root.display());
    Ok(())
}

struct Corpus {
    root: PathBuf,
    written: usize,
}

impl Corpus {
    fn put(&mut self, target: &str, name: &str, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), bytes)?;
        self.written += 1;
        Ok(())
    }
}

fn time(text: &str) -> UtcTime {
    UtcTime::parse(text).expect("seed times are valid")
}

fn series() -> SeriesId {
    "672B".parse().expect("a valid series")
}

fn main_key(computer_id: String) -> KeyFields {
    KeyFields {
        key_no: 7_121_172,
        key_id: series(),
        reg_no: "R-1".into(),
        key_type: KeyKind::Main,
        licence_count: 10,
        product_version: "1.0".into(),
        blank_key_no: None,
        activation_code: None,
        activation_date: None,
        start_date: time("2026-01-01T00:00:00Z"),
        period: 30,
        expire_date: None,
        flags: 0b101,
        itn: Some("1234567890".into()),
        iec: None,
        product_name: "Демо".into(),
        article: "A-1".into(),
        article_name: "Основная поставка".into(),
        support_date: None,
        computer_id,
    }
}

fn key_files(corpus: &mut Corpus) -> std::io::Result<()> {
    const T: &str = "keyfile_verify";
    let keys = SeriesKeys::generate(series());
    let here = seed_server();
    let elsewhere = MachineIdentity::from_material(b"seed computer elsewhere");

    let valid = keyfile::issue(&main_key(here.computer_id()), &keys, &here.binding());
    let verified = keyfile::verify(&valid).expect("a freshly issued key file verifies");
    verified.ensure_issued_for(&here.computer_id()).expect("the seed key is issued for the seed computer");
    verified.unwrap_secrets(&here.binding()).expect("the seed key unwraps on the seed computer");
    assert!(verified.unwrap_secrets(&MachineIdentity::from_material(SEED_MATERIAL).binding()).is_err());
    corpus.put(T, "valid.licence", &valid)?;

    let demo = KeyFields {
        key_no: 2,
        key_type: KeyKind::Demo,
        blank_key_no: Some(1),
        activation_code: Some("1234-5678-9012".into()),
        activation_date: Some(time("2026-01-02T03:04:05.678Z")),
        expire_date: Some(time("2026-03-01T00:00:00Z")),
        iec: Some("770101001".into()),
        support_date: Some(time("2027-01-01T00:00:00Z")),
        ..main_key(here.computer_id().to_ascii_lowercase())
    };
    corpus.put(T, "demo_all_fields.licence", keyfile::issue(&demo, &keys, &here.binding()))?;
    let foreign = keyfile::issue(&main_key(elsewhere.computer_id()), &keys, &elsewhere.binding());
    corpus.put(T, "foreign_computer.licence", foreign)?;

    let text = String::from_utf8(valid.clone()).expect("key files are UTF-8");
    corpus.put(T, "truncated.licence", &valid[..valid.len() / 2])?;
    corpus.put(T, "no_final_newline.licence", &valid[..valid.len() - 1])?;
    corpus.put(T, "altered_field.licence", text.replacen("\"LicenceCount\":10", "\"LicenceCount\":99", 1))?;
    corpus.put(T, "format_1.licence", text.replacen("\"Format\":2", "\"Format\":1", 1))?;
    corpus.put(T, "format_3.licence", text.replacen("\"Format\":2", "\"Format\":3", 1))?;
    // Sealed to the machine id alone (no host secret): verifies, opens for none of the fuzzed targets.
    let bare = MachineIdentity::from_material(SEED_MATERIAL);
    corpus.put(T, "no_host_secret.licence", keyfile::issue(&main_key(bare.computer_id()), &keys, &bare.binding()))?;
    corpus.put(T, "bad_marker.licence", text.replacen("SIGNATURE", "SIGNATUR", 1))?;
    corpus.put(T, "crlf.licence", text.replace('\n', "\r\n"))?;
    corpus.put(T, "empty.licence", "")
}

fn ini_texts(corpus: &mut Corpus) -> std::io::Result<()> {
    const T: &str = "ini_parse";
    corpus.put(T, "example.conf", EXAMPLE_CONFIG)?;
    corpus.put(
        T,
        "bom_crlf.ini",
        "\u{feff}Top = level\r\n; comment\r\n[Common]\r\nPort = 8080\r\n[common]\r\nport=9090\r\n",
    )?;
    corpus.put(
        T,
        "broken.ini",
        "[A]\nno equals sign\n = value\n[B\nk=v\n[]\nx=1\n[C] junk\ny=2\n[D] ; fine\nz=a=b;c\n",
    )?;
    corpus.put(T, "non_ascii.ini", "[Сервер]\nПорт=1\n[сервер]\nпорт = 2\n# конец\n")
}

fn config_texts(corpus: &mut Corpus) -> std::io::Result<()> {
    const T: &str = "server_config";
    corpus.put(T, "example.conf", EXAMPLE_CONFIG)?;
    corpus.put(
        T,
        "bad_values.conf",
        "[Common]\nServerPort=99999\nListenAddress=::1x\nKeepPreviousLogs=yes\nConnectionTimeout=1\n\
         SessionTimeout=86401\nMaxConnections=0\nMaxSessions=10000001\nMachineIdFile=/tmp/id\n\
         [API]\nEnabled=2\nAuthorization=3\n[Console]\nAuthorization=-1\nUserName=\nPassword=a;b\nbroken line\n",
    )?;
    corpus.put(T, "ipv6.conf", "[common]\nlistenaddress = ::\nserverport = 1\n[api]\nauthorization = 2\n")
}

fn wire_messages(corpus: &mut Corpus) -> std::io::Result<()> {
    const T: &str = "wire_messages";
    let now = time("2026-11-24T10:00:00.250Z");
    let connection_id = "6f1d2c3b-0000-4000-8000-00000000abcd".to_owned();
    let session = SessionFacts {
        session_number: "17".into(),
        info_base_connection_string: "File=\"/srv/base\";".into(),
        app_name: "1CV8C".into(),
        computer_name: "HOST".into(),
        user_name: Some("Иванов".into()),
        session_started: now,
        access_code: None,
        terminal_client: Some("TS-CLIENT".into()),
    };
    let key = KeyParameters {
        key_no: 7_121_172,
        key_type: KeyKind::Main,
        licence_count: 10,
        counts: true,
        workable: true,
        start_date: time("2026-01-01T00:00:00Z"),
        expire_date: Some(time("2026-01-31T00:00:00Z")),
        days_left: Some(7),
        expired: false,
        flags: 5,
        product_name: "Демо".into(),
        product_version: "1.0".into(),
        article: "A-1".into(),
        article_name: "Основная поставка".into(),
        support_date: None,
    };
    let here = seed_server();
    let keys = SeriesKeys::generate(series());
    let key_file = String::from_utf8(keyfile::issue(&main_key(here.computer_id()), &keys, &here.binding()))
        .expect("key files are UTF-8");
    let signing = keyfile::verify(key_file.as_bytes())
        .and_then(|k| k.unwrap_secrets(&here.binding()))
        .expect("the seed key opens on the seed server")
        .key;
    let proof = channel::prove(&signing, &key_file, b"connect request", b"terms");
    let (client, server) = (Handshake::new(), Handshake::new());
    let (client_key, server_key) = (client.public_hex(), server.public_hex());
    let server_end = server.finish(Role::Server, &connection_id, &client_key).expect("fresh keys agree");
    let grant = LicenceGrant {
        session_id: "s-1".into(),
        key_id: series(),
        used_licence: 7_121_172,
        expire_time: now,
        reused: false,
    };
    let sealed_answer = json(&SealedAnswer::Ok(grant));
    let refusal = json(&SealedAnswer::<LicenceGrant>::Err(WireError::new(ErrorCode::NoFreeLicence, "none free")));
    let messages: Vec<(&str, Vec<u8>)> = vec![
        (
            "connect.json",
            json(&ConnectRequest {
                os_version: "Linux 6.1".into(),
                computer_name: "HOST".into(),
                local_ip: "10.0.0.5".into(),
                process: "/opt/1cv8/x86_64/8.3.25/1cv8c".into(),
                cpu: "x86_64".into(),
                pid: 4242,
                is_server: false,
                platform_version: "8.3.25.1257".into(),
                module_name: "liblicenceaddin.so".into(),
                version: licence_protocol::VERSION.into(),
                key_id: series(),
                client_key: Some(client_key),
                protocol: licence_protocol::wire::PROTOCOL,
                series_public_key: Some(hex::encode(keys.public_key())),
            }),
        ),
        ("obtain.json", json(&ObtainRequest { connection_id: connection_id.clone(), session })),
        ("session.json", json(&SessionRequest { connection_id: connection_id.clone(), session_id: "s-1".into() })),
        (
            "heartbeat.json",
            json(&HeartbeatRequest {
                connection_id: connection_id.clone(),
                sessions: vec!["s-1".into(), "s-2".into()],
            }),
        ),
        ("connection.json", json(&ConnectionRequest { connection_id: connection_id.clone() })),
        ("sealed_call.json", json(&server_end.seal("/licence/obtain", 1, &sealed_answer))),
        ("sealed_answer.json", sealed_answer.clone()),
        ("sealed_refusal.json", refusal),
        ("key_proof.json", json(&proof)),
        (
            "connect_response.json",
            json(&ConnectResponse {
                connection_id,
                server_version: licence_protocol::VERSION.into(),
                expire_time: now,
                connection_lease_seconds: 20,
                session_lease_seconds: 60,
                heartbeat_seconds: 5,
                server_key: Some(server_key),
                reserved_servers: vec!["backup:9099".into()],
                protocol: licence_protocol::wire::PROTOCOL,
                proofs: vec![proof.clone()],
            }),
        ),
        (
            "grant.json",
            json(&LicenceGrant {
                session_id: "s-1".into(),
                key_id: series(),
                used_licence: 7_121_172,
                expire_time: now,
                reused: true,
            }),
        ),
        ("heartbeat_response.json", json(&HeartbeatResponse { expire_time: now, lost_sessions: vec!["s-2".into()] })),
        ("release_response.json", json(&ReleaseResponse { released: true })),
        (
            "key_info.json",
            json(&KeyInfoResponse { key_id: series(), licence_count: 10, licences_used: 3, flags: 5, keys: vec![key] }),
        ),
        ("error.json", json(&WireError::new(ErrorCode::NoFreeLicence, "no free licence of series 672B"))),
        ("key_fields.json", json(&main_key(here.computer_id()))),
        ("public_target.json", json(&here.public_target())),
        (
            "old_identity.json",
            format!(r#"{{"ComputerID":"{}","Binding":"{}"}}"#, here.computer_id(), "ab".repeat(32)).into_bytes(),
        ),
        ("time.json", b"\"2018-04-03T17:06:58.1234+03:00\"".to_vec()),
        ("series.json", b"\"672b\"".to_vec()),
    ];
    for (name, bytes) in messages {
        corpus.put(T, name, bytes)?;
    }
    Ok(())
}

fn key_file_names(corpus: &mut Corpus) -> std::io::Result<()> {
    const T: &str = "key_file_name";
    for (i, name) in ["672B.7121172.licence", "672b.1.licence", "672B.0.licence", "672B.+1.licence", "67ZB.1.licence"]
        .into_iter()
        .enumerate()
    {
        corpus.put(T, &format!("name_{i}"), name)?;
    }
    Ok(())
}

fn auth_headers(corpus: &mut Corpus) -> std::io::Result<()> {
    const T: &str = "basic_auth";
    for (i, header) in ["Basic YWRtaW46YWRtaW4=", "basic  YTpiOmM= ", "Basic YWRtaW4=", "Bearer abc", "Basic !!!"]
        .into_iter()
        .enumerate()
    {
        corpus.put(T, &format!("header_{i}"), header)?;
    }
    Ok(())
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("protocol messages serialize")
}

/// A request, the signed response to it, the guide's install body and an emulated USB blank.
fn activation_documents(corpus: &mut Corpus) -> std::io::Result<()> {
    use licence_protocol::activation::ActivationCode;
    use licence_protocol::centre::{ActivationRequest, ActivationResponse};
    const TARGET: &str = "activation_documents";
    let seed = seed_server();
    let keys = SeriesKeys::generate(series());
    // Must match `SEED_CODE` in `fuzz_targets/activation_documents.rs`.
    let code: ActivationCode = "4345-9320-2035-7421-5369".parse().expect("a valid code");
    let tax = (Some("1234567890".into()), None);
    let request = ActivationRequest::new(code, &seed.public_target(), None, tax, time("2026-11-24T09:00:00Z"));
    assert!(request.proves(code));
    corpus.put(TARGET, "request.json", serde_json::to_vec_pretty(&request)?)?;
    let blank =
        ActivationRequest::new(code, &seed.public_target(), Some(555), (None, None), time("2026-11-24T09:00:00Z"));
    corpus.put(TARGET, "request_blank.json", serde_json::to_vec(&blank)?)?;
    corpus.put(
        TARGET,
        "request_format_1.json",
        format!(
            r#"{{"Format":1,"RequestID":"{}","Created":"2026-11-24T09:00:00.000Z","ActivationCode":"{code}","ITN":null,"IEC":null,"ComputerID":"{}","Binding":"{}","BlankKeyNo":null,"ServerVersion":"3.0.0"}}"#,
            request.request_id,
            seed.computer_id(),
            "ab".repeat(32)
        ),
    )?;
    let target = seed.binding().target_key();
    let file = keyfile::issue(&main_key(seed.computer_id()), &keys, &target);
    let backup: ActivationCode = "1234-5678-9012-3456-7892".parse().unwrap_or(code);
    let response = ActivationResponse::sign(&request.request_id, &file, backup, &target, &keys);
    assert_eq!(response.backup_code(&seed.binding()).ok(), Some(backup));
    corpus.put(TARGET, "response.json", serde_json::to_vec(&response)?)?;
    corpus.put(
        TARGET,
        "install.json",
        r#"{"ActivationCodeString": "4345-9320-2035-7421-5369", "ITN": 1234567890, "IEC": null, "BlankKeyNo": 555}"#,
    )?;
    let blank = licence_protocol::usbkey::SoftwareKey::manufacture(555, &licence_protocol::usbkey::test_root());
    corpus.put(TARGET, "blank.usbkey", blank.to_bytes())
}

/// A genuine `connect` answer of the seed series (`seeds/connect.rs`) with a proof per key, the proof
/// alone, and answers whose terms or proof were altered.
fn connect_proofs(corpus: &mut Corpus) -> std::io::Result<()> {
    const T: &str = "connect_proof";
    let keys = connect::seed_series();
    let server = MachineIdentity::from_material(connect::SERVER_MATERIAL)
        .with_host_secret(HostSecret::from_bytes(SEED_HOST_SECRET));
    let mut answer = connect::seed_answer();
    let terms = answer.terms();
    for key_no in [7_121_172, 7_121_173] {
        let fields = KeyFields { key_no, ..main_key(server.computer_id()) };
        let file = String::from_utf8(keyfile::issue(&fields, &keys, &server.binding())).expect("UTF-8");
        let signing = keyfile::verify(file.as_bytes())
            .and_then(|k| k.unwrap_secrets(&server.binding()))
            .expect("the seed key opens on the seed server")
            .key;
        answer.proofs.push(channel::prove(&signing, &file, connect::REQUEST_BODY, &terms));
    }
    for proof in &answer.proofs {
        channel::verify_proof(proof, &keys.public_key(), connect::series(), connect::REQUEST_BODY, &terms)
            .expect("the seed proofs verify");
    }
    corpus.put(T, "answer.json", json(&answer))?;
    corpus.put(T, "proof.json", json(&answer.proofs[0]))?;
    let relayed = licence_protocol::wire::ConnectResponse { server_key: Some("00".repeat(32)), ..answer.clone() };
    corpus.put(T, "other_server_key.json", json(&relayed))?;
    let stranger = SeriesKeys::generate(series());
    let fields = main_key(server.computer_id());
    let forged_file = String::from_utf8(keyfile::issue(&fields, &stranger, &server.binding())).expect("UTF-8");
    let forged_key = keyfile::verify(forged_file.as_bytes())
        .and_then(|k| k.unwrap_secrets(&server.binding()))
        .expect("a self-made key opens where it was sealed")
        .key;
    let forged = channel::prove(&forged_key, &forged_file, connect::REQUEST_BODY, &terms);
    let self_made = licence_protocol::wire::ConnectResponse { proofs: vec![forged], ..answer };
    corpus.put(T, "self_made_series.json", json(&self_made))
}
