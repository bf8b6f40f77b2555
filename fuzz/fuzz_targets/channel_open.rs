//! Every licence call after `connect` is a sealed message (protocol 2), and anyone who can reach the
//! server can send one, or answer the add-in with one: a sealed message must be refused cleanly
//! whatever its bytes, on the server's side (`open_request`, on every call's path) and on the add-in's
//! (`open_answer`), and nothing the fuzzer makes ever opens under a fresh channel (it cannot forge
//! AES-GCM).
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licence_protocol::channel::{Channel, Handshake, Role, SealedAnswer, SealedMessage};
use licence_protocol::wire::{path, ObjectRequest};
use std::sync::{Mutex, OnceLock};

/// Both ends of one channel for the whole run: agreeing keys per input would spend the run on X25519.
fn channels() -> &'static Mutex<(Channel, Channel)> {
    static CHANNELS: OnceLock<Mutex<(Channel, Channel)>> = OnceLock::new();
    CHANNELS.get_or_init(|| {
        let (client, server) = (Handshake::new(), Handshake::new());
        let (client_key, server_key) = (client.public_hex(), server.public_hex());
        let server = server.finish(Role::Server, "FUZZ", &client_key).expect("a fresh key pair agrees");
        let client = client.finish(Role::Client, "FUZZ", &server_key).expect("a fresh key pair agrees");
        Mutex::new((client, server))
    })
}

/// Every path a sealed call travels on.
const PATHS: [&str; 7] =
    [path::OBJECT, path::OBTAIN, path::HEARTBEAT, path::CHECK, path::RELEASE, path::KEY_INFO, path::DISCONNECT];

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = serde_json::from_slice::<SealedMessage>(data) {
        let mut ends = channels().lock().unwrap_or_else(|p| p.into_inner());
        let (client, server) = &mut *ends;
        for path in PATHS {
            assert!(server.open_request(path, &message).is_err(), "a forged sealed request opened on {path}");
            assert!(client.open_answer(path, message.seq, &message).is_err(), "a forged sealed answer opened");
        }
    }
    let _ = serde_json::from_slice::<ObjectRequest>(data);
    let _ = serde_json::from_slice::<SealedAnswer<serde_json::Value>>(data);
    // Any 64 characters as the peer's key: refused or agreed, never a panic.
    if let Ok(text) = std::str::from_utf8(data) {
        if text.len() == 64 {
            let _ = Handshake::new().finish(Role::Client, "FUZZ", text);
        }
    }
});
