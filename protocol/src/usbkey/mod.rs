//! USB licence keys and blanks: the device protocol (see `USBKEY.md`), the host side of it, and a
//! software key that implements the device side.
//!
//! The host side ([`open`], [`write_key_file`]) talks to anything that implements [`UsbKeyDevice`]: the
//! server wraps a libusb handle, the tests and the emulator use [`SoftwareKey`]. The host believes nothing
//! the device says until the device has proven, by signing a fresh challenge with a key certified by a
//! trusted manufacturer root, that it is a genuine device with that serial.
//!
//! This module holds what both sides share: the wire constants, the request numbers, the manufacturer
//! roots, the errors and the [`UsbKeyDevice`] trait. The host side lives in `host`, the device emulation
//! and its emulator file format in `software`.

use crate::identity::{MachineBinding, PublicTarget};
/// The manufacturer root's key type, re-exported so that callers of [`SoftwareKey::manufacture`] need no
/// direct dependency on `ed25519-dalek`.
pub use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

mod host;
mod software;

pub use host::{open, write_key_file};
pub use software::{EmulatorFileError, SoftwareKey, MAX_EMULATOR_FILE_LEN};

/// pid.codes' open-source vendor id.
pub const VENDOR_ID: u16 = 0x1209;
/// "LK"; a placeholder that must be registered with pid.codes before production.
pub const PRODUCT_ID: u16 = 0x4C4B;
/// bmRequestType of a vendor request to the device, device-to-host.
pub const REQUEST_TYPE_IN: u8 = 0xC0;
/// bmRequestType of a vendor request to the device, host-to-device.
pub const REQUEST_TYPE_OUT: u8 = 0x40;
/// The largest key file a device stores; real ones are 1–2 KiB.
pub const MAX_KEY_FILE_LEN: usize = 16 * 1024;
/// The largest transfer of key file bytes in one request.
pub const CHUNK_LEN: usize = 1024;

/// The vendor requests on endpoint 0, numbered as in `USBKEY.md`; never renumbered.
pub mod request {
    pub const GET_INFO: u8 = 0x01;
    pub const GET_CERTIFICATE: u8 = 0x02;
    pub const SET_CHALLENGE: u8 = 0x03;
    pub const GET_RESPONSE: u8 = 0x04;
    pub const GET_BINDING: u8 = 0x05;
    pub const READ_KEY_FILE: u8 = 0x06;
    pub const BEGIN_WRITE: u8 = 0x10;
    pub const WRITE_CHUNK: u8 = 0x11;
    pub const COMMIT_WRITE: u8 = 0x12;
}

const INFO_LEN: usize = 40;
const INFO_MAGIC: &[u8; 4] = b"LKEY";
const PROTOCOL_VERSION: u8 = 1;
const FIRMWARE_LEN: usize = 16;
const CERTIFICATE_LEN: usize = 96;
const CHALLENGE_LEN: usize = 32;
const RESPONSE_LEN: usize = 64;
const BINDING_LEN: usize = 32;
const STATE_BLANK: u8 = 0;
const STATE_ACTIVATED: u8 = 1;

const CERTIFICATE_LABEL: &[u8] = b"licence usb key certificate v1\0";
const CHALLENGE_LABEL: &[u8] = b"licence usb key challenge v1\0";
const COMPUTER_ID_LABEL: &[u8] = b"licence usb key ComputerID v1\0";
const DEVICE_SIGNING_LABEL: &[u8] = b"licence usb key device signing v1\0";
const DEVICE_BINDING_LABEL: &[u8] = b"licence usb key binding v1\0";
/// Public on purpose: the test root is for tests and the emulator, and anyone may sign with it.
const TEST_ROOT_LABEL: &[u8] = b"licence usb key TEST root v1: everyone can sign with this\0";

/// Public keys of the manufacturer roots that certify real devices. The private keys are kept offline
/// at the factory and are not in this repository.
pub const PRODUCTION_ROOTS: &[[u8; 32]] = &[[
    0xa2, 0xf1, 0xbc, 0x36, 0x3a, 0x32, 0x84, 0x5f, 0x95, 0x6d, 0x8c, 0x48, 0x41, 0x3b, 0x97, 0x0e, 0x2b, 0x93, 0x1f,
    0xa5, 0x89, 0xa5, 0x09, 0x91, 0x5c, 0x06, 0x18, 0x1f, 0xd6, 0x66, 0xfe, 0x7c,
]];

/// A failed control transfer, as the USB stack reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("the device refused the request (stall)")]
    Stall,
    #[error("the device was unplugged")]
    Disconnected,
    #[error("the device did not answer in time")]
    Timeout,
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, thiserror::Error)]
pub enum UsbKeyError {
    #[error("USB key {serial:016X} is not genuine: {reason}")]
    NotGenuine { serial: u64, reason: &'static str },
    #[error("USB key broke the protocol: {0}")]
    Protocol(String),
    #[error("USB key failed on {request}: {source}")]
    Device { request: &'static str, source: DeviceError },
    #[error("a key file of {len} bytes does not fit a USB key (1 to {MAX_KEY_FILE_LEN} bytes)")]
    BadSize { len: usize },
    #[error("cannot draw a random challenge: {0}")]
    Random(#[source] getrandom::Error),
}

/// The device side of endpoint 0: a real device behind libusb, or a [`SoftwareKey`].
pub trait UsbKeyDevice {
    /// A vendor IN request with `wLength = buf.len()`; returns how many bytes the device sent.
    fn control_in(&mut self, request: u8, value: u16, index: u16, buf: &mut [u8]) -> Result<usize, DeviceError>;
    /// A vendor OUT request; returns how many bytes the device took.
    fn control_out(&mut self, request: u8, value: u16, index: u16, data: &[u8]) -> Result<usize, DeviceError>;
}

/// A device that has proven it is genuine, with what it stores.
#[derive(Debug, Clone)]
pub struct PluggedKey {
    pub serial: u64,
    pub firmware: String,
    /// No key file stored: a carrier that software keys can be bound to.
    pub blank: bool,
    /// 40 upper-case hex digits, as key files issued for this device name it.
    pub computer_id: String,
    /// The stored key file, unverified: its series signature is the reader's business.
    pub key_file: Option<Vec<u8>>,
    binding: MachineBinding,
}

impl PluggedKey {
    /// What key files for this device wrap their series secret for.
    pub fn binding(&self) -> &MachineBinding {
        &self.binding
    }

    /// What the vendor needs to issue a key file for this device (or bound to this blank).
    pub fn public_target(&self) -> PublicTarget {
        PublicTarget { computer_id: self.computer_id.clone(), target_key: self.binding.target_key().to_hex() }
    }
}

/// The root whose private key everyone has; trusted only by the emulator and tests.
pub fn test_root() -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(TEST_ROOT_LABEL).into())
}

/// NUL-padded printable ASCII, at least one character, no NUL before the padding.
fn parse_firmware(field: &[u8]) -> Option<String> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let (text, padding) = field.split_at(end);
    let printable = !text.is_empty() && text.iter().all(|b| (0x20..0x7f).contains(b));
    (printable && padding.iter().all(|&b| b == 0)).then(|| String::from_utf8_lossy(text).into_owned())
}

fn certificate_message(serial: u64, device_public: &[u8; 32]) -> Vec<u8> {
    [CERTIFICATE_LABEL, &serial.to_le_bytes(), device_public].concat()
}

fn challenge_message(serial: u64, challenge: &[u8; CHALLENGE_LEN]) -> Vec<u8> {
    [CHALLENGE_LABEL, &serial.to_le_bytes(), challenge].concat()
}

/// What the tests of both sides use: the test root as the only trusted root, and a programmed device.
#[cfg(test)]
mod test_support {
    use super::*;
    use crate::key::tests::sample_fields;
    use crate::keyfile;
    use crate::series::SeriesKeys;

    pub(super) fn trusted() -> [[u8; 32]; 1] {
        [test_root().verifying_key().to_bytes()]
    }

    /// A hardware key programmed with a real key file issued for it.
    pub(super) fn hardware_key(serial: u64) -> (SoftwareKey, Vec<u8>) {
        let mut key = SoftwareKey::manufacture(serial, &test_root());
        let blank = open(&mut key, &trusted()).unwrap();
        let mut fields = sample_fields();
        fields.computer_id = blank.computer_id.clone();
        let file = keyfile::issue(&fields, &SeriesKeys::generate(fields.key_id), blank.binding());
        write_key_file(&mut key, &trusted(), &file).unwrap();
        (key, file)
    }
}
