//! Activation documents cross the network and USB sticks: the request file an administrator carries
//! to the vendor (read by the centre and `licenceedit request answer`), the response file carried
//! back (read by the server), the guide's `POST /api/licences` body, and the emulator file of a USB
//! key. Each reader must refuse any byte string cleanly, and a response that verifies must be one the
//! seeds' series signed — the fuzzer cannot forge a signature, so whatever verifies keeps its
//! backup code and key file exactly as signed.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use licence_protocol::centre::{ActivationRequest, ActivationResponse, MAX_DOCUMENT_LEN};
use licence_protocol::usbkey::SoftwareKey;
use licenceserver::activation::InstallOrder;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = ActivationRequest::from_json(data) {
        assert!(data.len() <= MAX_DOCUMENT_LEN);
        let again = serde_json::to_vec(&request).expect("a request serializes");
        assert_eq!(ActivationRequest::from_json(&again).ok(), Some(request), "a request does not round-trip");
    }
    if let Ok((response, key)) = ActivationResponse::verify(data, None) {
        assert!(data.len() <= MAX_DOCUMENT_LEN);
        assert_eq!(key.fields.key_id.as_str().len(), 4);
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
