//! The add-in reads a `connect` answer from whatever answers at the server's address, and accepts the
//! connection only if one of its proofs verifies ([`channel::verify_proof`]) against the series key it
//! pins, the exact bytes it sent and the answer's terms. Any bytes must be read and refused cleanly, the
//! terms of any answer that parses must be stable (they are recomputed from the parsed value), and a
//! proof that verifies must be of a key file signed by the pin, of the pinned series, made for exactly
//! the seed answer's terms and this request: the fuzzer cannot forge the per-key signature, so a
//! mutated answer (another `ServerKey`, `ConnectionID`, lease or protocol) is never accepted.
#![no_main]
#![forbid(unsafe_code)]

#[path = "../seeds/connect.rs"]
mod connect;

use libfuzzer_sys::fuzz_target;
use licence_protocol::channel::{self, KeyProof};
use licence_protocol::wire::ConnectResponse;
use std::sync::OnceLock;

/// The pinned series key and the seed answer's terms, computed once.
fn pinned() -> &'static ([u8; 32], Vec<u8>) {
    static PINNED: OnceLock<([u8; 32], Vec<u8>)> = OnceLock::new();
    PINNED.get_or_init(|| (connect::seed_series().public_key(), connect::seed_answer().terms()))
}

fuzz_target!(|data: &[u8]| {
    let (pin, seed_terms) = pinned();
    if let Ok(answer) = serde_json::from_slice::<ConnectResponse>(data) {
        let terms = answer.terms();
        let reread: ConnectResponse = serde_json::from_slice(&terms).expect("the terms of an answer read back");
        assert!(reread.proofs.is_empty(), "the terms carry proofs");
        assert_eq!(reread.terms(), terms, "the terms change when read back");
        for proof in &answer.proofs {
            check(proof, pin, &terms, seed_terms);
        }
    }
    if let Ok(proof) = serde_json::from_slice::<KeyProof>(data) {
        check(&proof, pin, seed_terms, seed_terms);
    }
});

fn check(proof: &KeyProof, pin: &[u8; 32], terms: &[u8], seed_terms: &[u8]) {
    let Ok(key) = channel::verify_proof(proof, pin, connect::series(), connect::REQUEST_BODY, terms) else { return };
    assert!(key.signed_by(pin), "a proof of a key file not signed by the pin verified");
    assert_eq!(key.fields.key_id, connect::series());
    assert_eq!(terms, seed_terms, "a proof verified for terms it was not made for");
    let other_request = [connect::REQUEST_BODY, b" "].concat();
    assert!(
        channel::verify_proof(proof, pin, connect::series(), &other_request, terms).is_err(),
        "a proof verified for another request"
    );
}
