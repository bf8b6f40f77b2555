//! The fixed parts of the `connect_proof` target's seeds, shared by the target and
//! `examples/make_corpus.rs`: a series whose keys are constants (fuzzing only: nothing real is
//! signed by it), the exact `connect` request body the proofs cover, and the terms of the seed answer.
//! The target pins this series and checks that whatever proof verifies covers exactly these terms.
#![allow(dead_code)]

use licence_protocol::key::SeriesId;
use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{ConnectResponse, PROTOCOL};

/// The `connect` body the seed proofs were made for: what an add-in would have sent.
pub const REQUEST_BODY: &[u8] = br#"{"OSVersion":"Linux 6.1","ComputerName":"HOST","LocalIP":"10.0.0.5","Process":"1cv8c","CPU":"x86_64","PID":4242,"IsServer":false,"PlatformVersion":"8.3.25.1257","ModuleName":"liblicenceaddin.so","Version":"3.0.1","KeyID":"672B","ClientKey":"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a","Protocol":2,"SeriesPublicKey":"d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737"}"#;

/// Identity material of the server the seed keys are issued for.
pub const SERVER_MATERIAL: &[u8] = b"fuzz seed server";

pub fn series() -> SeriesId {
    "672B".parse().expect("a valid series")
}

/// The seed series: its signing key and secret are constants.
pub fn seed_series() -> SeriesKeys {
    let seed = [0x11u8; 32];
    let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    let text = format!(
        r#"{{"Format":1,"KeyID":"672B","PublicKey":"{}","SigningKey":"{}","Secret":"{}"}}"#,
        hex::encode(public),
        hex::encode(seed),
        hex::encode([0x22u8; 32])
    );
    SeriesKeys::from_cryptkey(&text).expect("the seed cryptkey is well formed")
}

/// The seed answer without its proofs; its `terms()` are what the seed proofs sign.
pub fn seed_answer() -> ConnectResponse {
    ConnectResponse {
        connection_id: "6f1d2c3b-0000-4000-8000-00000000abcd".into(),
        // A constant, not this build's version: the committed corpus was signed over these exact terms.
        server_version: "3.0.1.0".into(),
        expire_time: UtcTime::parse("2026-11-24T10:00:20.000Z").expect("a valid time"),
        connection_lease_seconds: 20,
        session_lease_seconds: 60,
        heartbeat_seconds: 5,
        server_key: Some("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f".into()),
        reserved_servers: vec!["backup.example:9099".into()],
        protocol: PROTOCOL,
        proofs: Vec::new(),
    }
}
