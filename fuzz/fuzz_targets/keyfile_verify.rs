//! Key files come from whoever hands the administrator a `.licence` file, so [`keyfile::verify`] must
//! refuse any byte string cleanly (a file of format 1 with what to do). A forged signature is out of
//! the fuzzer's reach; the seed corpus holds genuinely signed files (format 2) so that their mutations
//! also exercise the checks behind the signature, and a file that does verify is taken all the way:
//! opening its sealed secrets with the binding of the server the seeds were issued for (machine id and
//! host secret), with the same machine id without that host secret and with another computer's — never
//! more than one of them — and checking whom it was issued for. Secrets that open must hold the key's
//! own signing key, the one `KeyPublicKey` names.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licence_protocol::identity::{HostSecret, MachineIdentity};
use licence_protocol::keyfile::{self, KeyFileError, MAX_FILE_LEN};

/// The identity material `examples/make_corpus.rs` issues the seed key files for.
const SEED_MATERIAL: &[u8] = b"fuzz seed computer";
/// The seed server's host secret (`host.secret`), as in `examples/make_corpus.rs`.
const SEED_HOST_SECRET: [u8; 32] = [0x5e; 32];

fuzz_target!(|data: &[u8]| {
    let verified = match keyfile::verify(data) {
        Ok(verified) => verified,
        Err(KeyFileError::Write { .. } | KeyFileError::Flush { .. }) => panic!("verify reported a write error"),
        Err(_) => return,
    };
    assert!(data.len() <= MAX_FILE_LEN, "a file of {} bytes verified", data.len());
    assert_eq!(verified.fields.key_id.as_str().len(), 4);

    assert!(verified.signed_by(&verified.series_public_key));
    let seed = MachineIdentity::from_material(SEED_MATERIAL).with_host_secret(HostSecret::from_bytes(SEED_HOST_SECRET));
    let no_host_secret = MachineIdentity::from_material(SEED_MATERIAL);
    let other = MachineIdentity::from_material(b"another computer");
    let opened: Vec<_> = [&seed, &no_host_secret, &other]
        .into_iter()
        .filter_map(|identity| verified.unwrap_secrets(&identity.binding()).ok())
        .collect();
    assert!(opened.len() <= 1, "one key's sealed secrets opened for {} targets", opened.len());
    for secrets in opened {
        assert_eq!(secrets.key.verifying_key().to_bytes(), verified.key_public_key, "secrets of another key");
    }
    let _ = verified.ensure_issued_for(&seed.computer_id());
    let issued_for = &verified.fields.computer_id;
    if issued_for.trim() == issued_for {
        let lower = issued_for.to_ascii_lowercase();
        assert!(verified.ensure_issued_for(&lower).is_ok(), "`{lower}` is refused for a key issued for `{issued_for}`");
    }
});
