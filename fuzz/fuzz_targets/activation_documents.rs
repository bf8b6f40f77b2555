//! Activation documents cross the network and USB sticks: the request file an administrator carries
//! to the vendor (read by the centre and `licenceedit request answer`), the response file carried
//! back (read by the server), the guide's `POST /api/licences` body, and the emulator file of a USB
//! key. Each reader must refuse any byte string cleanly (documents of format 1 with what to do). A
//! request that parses names a well-formed target key and proves the seed code only if it carries that
//! code's digest; a response that verifies must be one the seeds' series signed — the fuzzer cannot
//! forge a signature, so whatever verifies keeps its sealed backup code and key file exactly as signed,
//! and the backup code opens for the seed server's binding at most, never for another one.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licence_protocol::activation::ActivationCode;
use licence_protocol::centre::{code_digest, ActivationRequest, ActivationResponse, MAX_DOCUMENT_LEN};
use licence_protocol::identity::{HostSecret, MachineIdentity};
use licence_protocol::usbkey::SoftwareKey;
use licenceserver::activation::InstallOrder;

/// The activation code of the seed request in `examples/make_corpus.rs`.
const SEED_CODE: &str = "4345-9320-2035-7421-5369";
/// The seed server: its identity material and host secret, as in `examples/make_corpus.rs`.
const SEED_MATERIAL: &[u8] = b"fuzz seed computer";
const SEED_HOST_SECRET: [u8; 32] = [0x5e; 32];

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = ActivationRequest::from_json(data) {
        assert!(data.len() <= MAX_DOCUMENT_LEN);
        assert!(request.target().is_ok(), "a request with an unreadable target key was accepted");
        assert!(request.code_label().starts_with("code #"));
        let code: ActivationCode = SEED_CODE.parse().expect("the seed code is valid");
        if request.proves(code) {
            assert!(request.code_digest.eq_ignore_ascii_case(&code_digest(code)), "proved without the digest");
        }
        let again = serde_json::to_vec(&request).expect("a request serializes");
        assert_eq!(ActivationRequest::from_json(&again).ok(), Some(request), "a request does not round-trip");
    }
    if let Ok((response, key)) = ActivationResponse::verify(data, None) {
        assert!(data.len() <= MAX_DOCUMENT_LEN);
        assert_eq!(key.fields.key_id.as_str().len(), 4);
        let seed =
            MachineIdentity::from_material(SEED_MATERIAL).with_host_secret(HostSecret::from_bytes(SEED_HOST_SECRET));
        let other = MachineIdentity::from_material(b"a third party");
        assert!(
            response.backup_code(&seed.binding()).is_err() || response.backup_code(&other.binding()).is_err(),
            "one sealed backup code opened for two targets"
        );
        let reread = serde_json::to_vec(&response).expect("a response serializes");
        assert!(ActivationResponse::verify(&reread, Some(&response.request_id)).is_ok());
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = InstallOrder::from_json(&value);
    }
    if let Ok(device) = SoftwareKey::from_bytes(data) {
        assert_eq!(SoftwareKey::from_bytes(&device.to_bytes()).map(|d| d.serial()).ok(), Some(device.serial()));
    }
});
