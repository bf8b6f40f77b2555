//! `/licence/object` bodies come from anyone who can reach the server: a sealed message must be
//! refused cleanly whatever its bytes, and whatever opens under a fresh channel must have been sealed by
//! its peer (the fuzzer cannot forge AES-GCM), so nothing it sends is ever accepted twice or as an
//! object request.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licence_protocol::channel::{Channel, Handshake, Role, SealedMessage};
use licence_protocol::wire::{path, ObjectRequest};
use std::sync::{Mutex, OnceLock};

/// One server-side channel for the whole run: agreeing keys per input would spend the run on X25519.
fn channel() -> &'static Mutex<Channel> {
    static CHANNEL: OnceLock<Mutex<Channel>> = OnceLock::new();
    CHANNEL.get_or_init(|| {
        let client_key = Handshake::new().public_hex();
        Mutex::new(Handshake::new().finish(Role::Server, "FUZZ", &client_key).expect("a fresh key pair agrees"))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = serde_json::from_slice::<SealedMessage>(data) {
        let mut channel = channel().lock().unwrap_or_else(|p| p.into_inner());
        assert!(channel.open_request(path::OBJECT, &message).is_err(), "a forged sealed message opened");
    }
    let _ = serde_json::from_slice::<ObjectRequest>(data);
    // Any 64 characters as the peer's key: refused or agreed, never a panic.
    if let Ok(text) = std::str::from_utf8(data) {
        if text.len() == 64 {
            let _ = Handshake::new().finish(Role::Client, "FUZZ", text);
        }
    }
});
