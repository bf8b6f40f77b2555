//! The installed keys: every `{KeyID}.{KeyNo}.licence` in the data folder, verified and checked
//! against this computer. The scan itself lives in `licence_protocol::keystore`, shared with the
//! add-in's local fallback, so the server and the add-in judge a key file with the same code; the
//! server keeps this module's path for its callers.

pub use licence_protocol::keystore::{
    fingerprint, hold_back_when_clock_is_behind, parse_file_name, scan, scan_with_usb, Carrier, Fingerprint,
    InstalledKey, Storage,
};
