//! Key files come from whoever hands the administrator a `.licence` file, so [`keyfile::verify`] must
//! refuse any byte string cleanly. A forged signature is out of the fuzzer's reach; the seed corpus
//! holds genuinely signed files so that their mutations also exercise the checks behind the
//! signature, and a file that does verify is taken all the way: unwrapping its secret for the
//! computer the seeds were issued for and for another one, and checking whom it was issued for.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licence_protocol::identity::MachineIdentity;
use licence_protocol::keyfile::{self, KeyFileError, MAX_FILE_LEN};

/// The identity material `examples/make_corpus.rs` issues the seed key files for.
const SEED_MATERIAL: &[u8] = b"fuzz seed computer";

fuzz_target!(|data: &[u8]| {
    let verified = match keyfile::verify(data) {
        Ok(verified) => verified,
        Err(KeyFileError::Write { .. }) => panic!("verify reported a write error"),
        Err(_) => return,
    };
    assert!(data.len() <= MAX_FILE_LEN, "a file of {} bytes verified", data.len());
    assert_eq!(verified.fields.key_id.as_str().len(), 4);

    let seed = MachineIdentity::from_material(SEED_MATERIAL);
    let other = MachineIdentity::from_material(b"another computer");
    let _ = verified.unwrap_secret(&seed.binding());
    assert!(
        verified.unwrap_secret(&other.binding()).is_err() || verified.unwrap_secret(&seed.binding()).is_err(),
        "one wrapped secret unwrapped for two computers"
    );
    let _ = verified.ensure_issued_for(&seed.computer_id());
    let issued_for = &verified.fields.computer_id;
    if issued_for.trim() == issued_for {
        let lower = issued_for.to_ascii_lowercase();
        assert!(verified.ensure_issued_for(&lower).is_ok(), "`{lower}` is refused for a key issued for `{issued_for}`");
    }
});
