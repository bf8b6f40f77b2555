//! USB licence keys and blanks: the device protocol (see `USBKEY.md`), the host side of it, and a
//! software key that implements the device side.
//!
//! The host side ([`open`], [`write_key_file`]) talks to anything that implements [`UsbKeyDevice`]: the
//! server wraps a libusb handle, the tests and the emulator use [`SoftwareKey`]. The host believes nothing
//! the device says until the device has proven, by signing a fresh challenge with a key certified by a
//! trusted manufacturer root, that it is a genuine device with that serial.

use crate::identity::{BindingRequest, MachineBinding};
/// The manufacturer root's key type, re-exported so that callers of [`SoftwareKey::manufacture`] need no
/// direct dependency on `ed25519-dalek`.
pub use ed25519_dalek::SigningKey;
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

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
    Random(String),
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
    pub fn binding_request(&self) -> BindingRequest {
        BindingRequest { computer_id: self.computer_id.clone(), binding: self.binding.to_hex() }
    }
}

/// The root whose private key everyone has; trusted only by the emulator and tests.
pub fn test_root() -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(TEST_ROOT_LABEL).into())
}

/// Proves `dev` genuine against `trusted_roots` and reads its binding and, if activated, its key file.
pub fn open(dev: &mut dyn UsbKeyDevice, trusted_roots: &[[u8; 32]]) -> Result<PluggedKey, UsbKeyError> {
    let proven = authenticate(dev, trusted_roots)?;
    let key_file = match proven.info.blank {
        true => None,
        false => Some(read_key_file(dev, proven.info.key_file_len)?),
    };
    Ok(PluggedKey {
        serial: proven.info.serial,
        firmware: proven.info.firmware,
        blank: key_file.is_none(),
        computer_id: computer_id(proven.info.serial, &proven.device_public),
        key_file,
        binding: proven.binding,
    })
}

/// Programs a genuine device with `bytes` (the vendor activating a hardware key), then reads it back.
pub fn write_key_file(dev: &mut dyn UsbKeyDevice, trusted_roots: &[[u8; 32]], bytes: &[u8]) -> Result<(), UsbKeyError> {
    if bytes.is_empty() || bytes.len() > MAX_KEY_FILE_LEN {
        return Err(UsbKeyError::BadSize { len: bytes.len() });
    }
    let proven = authenticate(dev, trusted_roots)?;
    if bytes.len() > proven.info.capacity {
        return Err(UsbKeyError::Protocol(format!(
            "the device holds at most {} bytes, the key file has {}",
            proven.info.capacity,
            bytes.len()
        )));
    }
    let len = u32::try_from(bytes.len()).map_err(|_| UsbKeyError::BadSize { len: bytes.len() })?;
    send(dev, request::BEGIN_WRITE, "BEGIN_WRITE", 0, &len.to_le_bytes())?;
    for (number, chunk) in bytes.chunks(CHUNK_LEN).enumerate() {
        send(dev, request::WRITE_CHUNK, "WRITE_CHUNK", chunk_offset(number * CHUNK_LEN)?, chunk)?;
    }
    send(dev, request::COMMIT_WRITE, "COMMIT_WRITE", 0, &Sha256::digest(bytes))?;
    let info = read_info(dev)?;
    if info.key_file_len != bytes.len() || read_key_file(dev, info.key_file_len)? != bytes {
        return Err(UsbKeyError::Protocol("the device did not keep the key file it was sent".into()));
    }
    Ok(())
}

/// What `GET_INFO` says, checked for consistency.
struct Info {
    serial: u64,
    blank: bool,
    key_file_len: usize,
    capacity: usize,
    firmware: String,
}

/// A device that signed this session's challenge.
struct Proven {
    info: Info,
    device_public: [u8; 32],
    binding: MachineBinding,
}

fn authenticate(dev: &mut dyn UsbKeyDevice, trusted_roots: &[[u8; 32]]) -> Result<Proven, UsbKeyError> {
    let info = read_info(dev)?;
    let not_genuine = |reason| UsbKeyError::NotGenuine { serial: info.serial, reason };
    let mut certificate = [0u8; CERTIFICATE_LEN];
    receive_exact(dev, request::GET_CERTIFICATE, "GET_CERTIFICATE", 0, &mut certificate)?;
    let (device_public, certificate_signature) = certificate.split_at(32);
    let device_public: [u8; 32] = device_public.try_into().map_err(|_| not_genuine("malformed certificate"))?;
    let certified = certificate_message(info.serial, &device_public);
    let certificate_signature =
        Signature::from_slice(certificate_signature).map_err(|_| not_genuine("bad certificate"))?;
    let trusted = trusted_roots.iter().any(|root| {
        VerifyingKey::from_bytes(root).is_ok_and(|root| root.verify_strict(&certified, &certificate_signature).is_ok())
    });
    if !trusted {
        return Err(not_genuine("its certificate is not signed by a trusted manufacturer root"));
    }
    let device_key =
        VerifyingKey::from_bytes(&device_public).map_err(|_| not_genuine("its certified key is not a valid key"))?;

    let mut challenge = [0u8; CHALLENGE_LEN];
    getrandom::getrandom(&mut challenge).map_err(|e| UsbKeyError::Random(e.to_string()))?;
    send(dev, request::SET_CHALLENGE, "SET_CHALLENGE", 0, &challenge)?;
    let mut response = [0u8; RESPONSE_LEN];
    receive_exact(dev, request::GET_RESPONSE, "GET_RESPONSE", 0, &mut response)?;
    let response = Signature::from_bytes(&response);
    if device_key.verify_strict(&challenge_message(info.serial, &challenge), &response).is_err() {
        return Err(not_genuine("it did not sign the challenge with its certified key"));
    }

    let mut binding = Zeroizing::new([0u8; BINDING_LEN]);
    receive_exact(dev, request::GET_BINDING, "GET_BINDING", 0, binding.as_mut())?;
    Ok(Proven { info, device_public, binding: MachineBinding(*binding) })
}

fn read_info(dev: &mut dyn UsbKeyDevice) -> Result<Info, UsbKeyError> {
    let mut raw = [0u8; INFO_LEN];
    receive_exact(dev, request::GET_INFO, "GET_INFO", 0, &mut raw)?;
    let bad = |what: &str| Err(UsbKeyError::Protocol(format!("GET_INFO: {what}")));
    if &raw[0..4] != INFO_MAGIC {
        return bad("wrong magic");
    }
    if raw[4] != PROTOCOL_VERSION {
        return bad(&format!("protocol version {} is not supported", raw[4]));
    }
    if raw[6..8] != [0, 0] {
        return bad("reserved bytes are not zero");
    }
    let serial = u64::from_le_bytes(le_array(&raw[8..16]));
    let key_file_len = u32::from_le_bytes(le_array(&raw[16..20])) as usize;
    let capacity = u32::from_le_bytes(le_array(&raw[20..24])) as usize;
    let blank = match raw[5] {
        STATE_BLANK => true,
        STATE_ACTIVATED => false,
        other => return bad(&format!("unknown state {other}")),
    };
    if capacity == 0 || capacity > MAX_KEY_FILE_LEN {
        return bad(&format!("capacity {capacity} is out of range"));
    }
    if blank != (key_file_len == 0) || key_file_len > capacity {
        return bad(&format!("key file length {key_file_len} does not fit the state and capacity"));
    }
    let Some(firmware) = parse_firmware(&raw[24..INFO_LEN]) else {
        return bad("firmware version is not printable ASCII");
    };
    Ok(Info { serial, blank, key_file_len, capacity, firmware })
}

/// NUL-padded printable ASCII, at least one character, no NUL before the padding.
fn parse_firmware(field: &[u8]) -> Option<String> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let (text, padding) = field.split_at(end);
    let printable = !text.is_empty() && text.iter().all(|b| (0x20..0x7f).contains(b));
    (printable && padding.iter().all(|&b| b == 0)).then(|| String::from_utf8_lossy(text).into_owned())
}

fn read_key_file(dev: &mut dyn UsbKeyDevice, len: usize) -> Result<Vec<u8>, UsbKeyError> {
    let mut file = vec![0u8; len];
    for (number, chunk) in file.chunks_mut(CHUNK_LEN).enumerate() {
        receive_exact(dev, request::READ_KEY_FILE, "READ_KEY_FILE", chunk_offset(number * CHUNK_LEN)?, chunk)?;
    }
    Ok(file)
}

fn chunk_offset(offset: usize) -> Result<u16, UsbKeyError> {
    u16::try_from(offset).map_err(|_| UsbKeyError::BadSize { len: offset })
}

/// An IN request whose answer must fill `buf` exactly.
fn receive_exact(
    dev: &mut dyn UsbKeyDevice,
    request: u8,
    name: &'static str,
    index: u16,
    buf: &mut [u8],
) -> Result<(), UsbKeyError> {
    let got = dev.control_in(request, 0, index, buf).map_err(|source| UsbKeyError::Device { request: name, source })?;
    if got != buf.len() {
        return Err(UsbKeyError::Protocol(format!("{name} answered {got} bytes instead of {}", buf.len())));
    }
    Ok(())
}

/// An OUT request the device must take whole.
fn send(
    dev: &mut dyn UsbKeyDevice,
    request: u8,
    name: &'static str,
    index: u16,
    data: &[u8],
) -> Result<(), UsbKeyError> {
    let took =
        dev.control_out(request, 0, index, data).map_err(|source| UsbKeyError::Device { request: name, source })?;
    if took != data.len() {
        return Err(UsbKeyError::Protocol(format!("{name} took {took} bytes instead of {}", data.len())));
    }
    Ok(())
}

fn le_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

fn certificate_message(serial: u64, device_public: &[u8; 32]) -> Vec<u8> {
    [CERTIFICATE_LABEL, &serial.to_le_bytes(), device_public].concat()
}

fn challenge_message(serial: u64, challenge: &[u8; CHALLENGE_LEN]) -> Vec<u8> {
    [CHALLENGE_LABEL, &serial.to_le_bytes(), challenge].concat()
}

fn computer_id(serial: u64, device_public: &[u8; 32]) -> String {
    let digest =
        Sha256::new().chain_update(COMPUTER_ID_LABEL).chain_update(serial.to_le_bytes()).chain_update(device_public);
    hex::encode_upper(&digest.finalize()[..20])
}

fn hmac(key: &[u8], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(label);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

// ---------------------------------------------------------------------------------------------------
// The device side.

#[derive(Debug, thiserror::Error)]
pub enum EmulatorFileError {
    #[error("not a USB key emulator file: {0}")]
    Malformed(String),
    #[error("USB key emulator file format {0} is not supported")]
    UnsupportedFormat(u16),
    #[error("USB key emulator file is damaged: its checksum does not match")]
    Checksum,
}

const EMULATOR_MAGIC: &[u8; 8] = b"LKEYEMU\0";
const EMULATOR_FORMAT: u16 = 1;
/// The fixed part of an emulator file: magic, format, serial, secret, certificate, firmware length,
/// state, key file length, checksum.
const EMULATOR_FIXED_LEN: usize = 8 + 2 + 8 + 32 + CERTIFICATE_LEN + 1 + 1 + 4 + 32;
/// The largest valid emulator file; anything larger is refused before it is parsed.
pub const MAX_EMULATOR_FILE_LEN: usize = EMULATOR_FIXED_LEN + FIRMWARE_LEN + MAX_KEY_FILE_LEN;
const SOFTWARE_FIRMWARE: &str = "soft-1.0";

/// A USB key in software: the device side of the protocol, faithful down to its stalls, with its secrets
/// in the clear. It is what the tests and the server's emulator (`LICENCESERVER_TEST_USB_DIR`) plug in.
pub struct SoftwareKey {
    serial: u64,
    secret: Zeroizing<[u8; 32]>,
    certificate: [u8; CERTIFICATE_LEN],
    firmware: String,
    key_file: Option<Vec<u8>>,
    session: Session,
}

/// What a device keeps in RAM between requests; cleared by a bus reset.
#[derive(Default)]
struct Session {
    challenge: Option<[u8; CHALLENGE_LEN]>,
    proven: bool,
    staged: Option<Staged>,
}

/// A key file being written, not yet committed.
struct Staged {
    announced: usize,
    data: Vec<u8>,
}

impl SoftwareKey {
    /// A new blank with a random device secret, certified by `root` as a factory would.
    ///
    /// # Panics
    /// If the OS has no random source.
    pub fn manufacture(serial: u64, root: &SigningKey) -> Self {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(secret.as_mut()).expect("the OS random source works");
        Self::manufacture_with_secret(serial, secret, root)
    }

    fn manufacture_with_secret(serial: u64, secret: Zeroizing<[u8; 32]>, root: &SigningKey) -> Self {
        let device_public = device_signing_key(&secret).verifying_key().to_bytes();
        let signature = root.sign(&certificate_message(serial, &device_public)).to_bytes();
        let mut certificate = [0u8; CERTIFICATE_LEN];
        certificate[..32].copy_from_slice(&device_public);
        certificate[32..].copy_from_slice(&signature);
        Self {
            serial,
            secret,
            certificate,
            firmware: SOFTWARE_FIRMWARE.into(),
            key_file: None,
            session: Session::default(),
        }
    }

    pub fn serial(&self) -> u64 {
        self.serial
    }

    pub fn is_blank(&self) -> bool {
        self.key_file.is_none()
    }

    pub fn key_file(&self) -> Option<&[u8]> {
        self.key_file.as_deref()
    }

    /// What a USB bus reset or re-plugging does: the session (challenge, proof, staged write) is gone.
    pub fn bus_reset(&mut self) {
        self.session = Session::default();
    }

    /// The emulator file (see `USBKEY.md`); it holds the device secret.
    pub fn to_bytes(&self) -> Vec<u8> {
        let key_file = self.key_file.as_deref().unwrap_or_default();
        let mut out = Vec::with_capacity(EMULATOR_FIXED_LEN + self.firmware.len() + key_file.len());
        out.extend_from_slice(EMULATOR_MAGIC);
        out.extend_from_slice(&EMULATOR_FORMAT.to_le_bytes());
        out.extend_from_slice(&self.serial.to_le_bytes());
        out.extend_from_slice(self.secret.as_ref());
        out.extend_from_slice(&self.certificate);
        out.push(self.firmware.len() as u8);
        out.extend_from_slice(self.firmware.as_bytes());
        out.push(if self.is_blank() { STATE_BLANK } else { STATE_ACTIVATED });
        out.extend_from_slice(&(key_file.len() as u32).to_le_bytes());
        out.extend_from_slice(key_file);
        let checksum = Sha256::digest(&out);
        out.extend_from_slice(&checksum);
        out
    }

    /// Strict: every field checked, nothing may follow, the certificate must be for this secret.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EmulatorFileError> {
        let malformed = |what: &str| EmulatorFileError::Malformed(what.into());
        if bytes.len() > MAX_EMULATOR_FILE_LEN {
            return Err(malformed(&format!("larger than {MAX_EMULATOR_FILE_LEN} bytes")));
        }
        let mut reader = Reader(bytes);
        if reader.take(8).ok_or_else(|| malformed("too short"))? != EMULATOR_MAGIC {
            return Err(malformed("wrong magic"));
        }
        let format = u16::from_le_bytes(reader.array().ok_or_else(|| malformed("too short"))?);
        if format != EMULATOR_FORMAT {
            return Err(EmulatorFileError::UnsupportedFormat(format));
        }
        let body_len = bytes.len().checked_sub(32).ok_or_else(|| malformed("too short"))?;
        let (body, checksum) = bytes.split_at(body_len);
        if !bool::from(Sha256::digest(body).ct_eq(checksum)) {
            return Err(EmulatorFileError::Checksum);
        }
        let mut reader = Reader(&body[10..]);
        let short = || malformed("truncated");
        let serial = u64::from_le_bytes(reader.array().ok_or_else(short)?);
        let secret = Zeroizing::new(reader.array::<32>().ok_or_else(short)?);
        let certificate: [u8; CERTIFICATE_LEN] = reader.array().ok_or_else(short)?;
        let [firmware_len] = reader.array().ok_or_else(short)?;
        let firmware = reader.take(usize::from(firmware_len)).ok_or_else(short)?;
        let firmware = match firmware.len() <= FIRMWARE_LEN {
            true => parse_firmware(firmware),
            false => None,
        };
        let firmware = firmware.ok_or_else(|| malformed("firmware is not 1 to 16 printable characters"))?;
        let [state] = reader.array().ok_or_else(short)?;
        let key_file_len = u32::from_le_bytes(reader.array().ok_or_else(short)?) as usize;
        let key_file = match (state, key_file_len) {
            (STATE_BLANK, 0) => None,
            (STATE_ACTIVATED, 1..=MAX_KEY_FILE_LEN) => Some(reader.take(key_file_len).ok_or_else(short)?.to_vec()),
            _ => return Err(malformed("state and key file length do not agree")),
        };
        if !reader.0.is_empty() {
            return Err(malformed("bytes after the key file"));
        }
        if certificate[..32] != device_signing_key(&secret).verifying_key().to_bytes() {
            return Err(malformed("the certificate is not for this device secret"));
        }
        Ok(Self { serial, secret, certificate, firmware, key_file, session: Session::default() })
    }

    fn info(&self) -> [u8; INFO_LEN] {
        let mut info = [0u8; INFO_LEN];
        info[0..4].copy_from_slice(INFO_MAGIC);
        info[4] = PROTOCOL_VERSION;
        info[5] = if self.is_blank() { STATE_BLANK } else { STATE_ACTIVATED };
        info[8..16].copy_from_slice(&self.serial.to_le_bytes());
        let key_file_len = self.key_file.as_ref().map_or(0, Vec::len) as u32;
        info[16..20].copy_from_slice(&key_file_len.to_le_bytes());
        info[20..24].copy_from_slice(&(MAX_KEY_FILE_LEN as u32).to_le_bytes());
        info[24..24 + self.firmware.len()].copy_from_slice(self.firmware.as_bytes());
        info
    }

    fn begin_write(&mut self, data: &[u8]) -> Option<()> {
        let announced = u32::from_le_bytes(data.try_into().ok()?) as usize;
        (self.session.proven && (1..=MAX_KEY_FILE_LEN).contains(&announced)).then_some(())?;
        self.session.staged = Some(Staged { announced, data: Vec::with_capacity(announced) });
        Some(())
    }

    fn write_chunk(&mut self, offset: usize, data: &[u8]) -> Option<()> {
        let staged = self.session.staged.as_mut()?;
        let fits = offset == staged.data.len() && staged.data.len() + data.len() <= staged.announced;
        (fits && (1..=CHUNK_LEN).contains(&data.len())).then_some(())?;
        staged.data.extend_from_slice(data);
        Some(())
    }

    fn commit_write(&mut self, hash: &[u8]) -> Option<()> {
        let staged = self.session.staged.take()?;
        let complete = staged.data.len() == staged.announced && hash.len() == 32;
        (complete && bool::from(Sha256::digest(&staged.data).ct_eq(hash))).then_some(())?;
        self.key_file = Some(staged.data);
        Some(())
    }
}

impl UsbKeyDevice for SoftwareKey {
    fn control_in(&mut self, request: u8, value: u16, index: u16, buf: &mut [u8]) -> Result<usize, DeviceError> {
        if value != 0 {
            return Err(DeviceError::Stall);
        }
        let answer: Zeroizing<Vec<u8>> = Zeroizing::new(match (request, index) {
            (request::GET_INFO, 0) => self.info().to_vec(),
            (request::GET_CERTIFICATE, 0) => self.certificate.to_vec(),
            (request::GET_RESPONSE, 0) if buf.len() >= RESPONSE_LEN => {
                let challenge = self.session.challenge.take().ok_or(DeviceError::Stall)?;
                self.session.proven = true;
                device_signing_key(&self.secret).sign(&challenge_message(self.serial, &challenge)).to_bytes().to_vec()
            }
            (request::GET_BINDING, 0) if self.session.proven => {
                hmac(self.secret.as_ref(), DEVICE_BINDING_LABEL).to_vec()
            }
            (request::READ_KEY_FILE, offset) => {
                let file = self.key_file.as_deref().ok_or(DeviceError::Stall)?;
                let offset = usize::from(offset);
                if offset >= file.len() || buf.is_empty() || buf.len() > CHUNK_LEN {
                    return Err(DeviceError::Stall);
                }
                let end = file.len().min(offset + buf.len());
                buf[..end - offset].copy_from_slice(&file[offset..end]);
                return Ok(end - offset);
            }
            _ => return Err(DeviceError::Stall),
        });
        let target = buf.get_mut(..answer.len()).ok_or(DeviceError::Stall)?;
        target.copy_from_slice(&answer);
        Ok(answer.len())
    }

    fn control_out(&mut self, request: u8, value: u16, index: u16, data: &[u8]) -> Result<usize, DeviceError> {
        let accepted = match (request, value, index) {
            (request::SET_CHALLENGE, 0, 0) => {
                let challenge = data.try_into().ok();
                self.session = Session { challenge, ..Session::default() };
                challenge.map(|_| ())
            }
            (request::BEGIN_WRITE, 0, 0) => self.begin_write(data),
            (request::WRITE_CHUNK, 0, offset) => self.write_chunk(usize::from(offset), data),
            (request::COMMIT_WRITE, 0, 0) => self.commit_write(data),
            _ => None,
        };
        match accepted {
            Some(()) => Ok(data.len()),
            None => {
                self.session.staged = None;
                Err(DeviceError::Stall)
            }
        }
    }
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareKey")
            .field("serial", &self.serial)
            .field("blank", &self.is_blank())
            .finish_non_exhaustive()
    }
}

fn device_signing_key(secret: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(&hmac(secret, DEVICE_SIGNING_LABEL))
}

/// A cursor over untrusted bytes that never panics.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::tests::sample_fields;
    use crate::keyfile;
    use crate::series::SeriesKeys;
    use proptest::prelude::*;

    fn trusted() -> [[u8; 32]; 1] {
        [test_root().verifying_key().to_bytes()]
    }

    /// A hardware key programmed with a real key file issued for it.
    fn hardware_key(serial: u64) -> (SoftwareKey, Vec<u8>) {
        let mut key = SoftwareKey::manufacture(serial, &test_root());
        let blank = open(&mut key, &trusted()).unwrap();
        let mut fields = sample_fields();
        fields.computer_id = blank.computer_id.clone();
        let file = keyfile::issue(&fields, &SeriesKeys::generate(fields.key_id), blank.binding());
        write_key_file(&mut key, &trusted(), &file).unwrap();
        (key, file)
    }

    #[test]
    fn a_blank_opens_with_its_identity_and_no_key_file() {
        let mut key = SoftwareKey::manufacture(0x1234, &test_root());
        let plugged = open(&mut key, &trusted()).unwrap();
        assert_eq!((plugged.serial, plugged.blank, plugged.key_file.as_deref()), (0x1234, true, None));
        assert_eq!(plugged.firmware, "soft-1.0");
        assert_eq!(parse_computer_id_shape(&plugged.computer_id), 40);
        let request = plugged.binding_request();
        assert_eq!(request.parse().unwrap(), (plugged.computer_id.clone(), plugged.binding().clone()));
        let again = open(&mut key, &trusted()).unwrap();
        assert_eq!((&again.computer_id, again.binding()), (&plugged.computer_id, plugged.binding()));
    }

    fn parse_computer_id_shape(id: &str) -> usize {
        assert_eq!(crate::identity::parse_computer_id(id).unwrap(), id);
        id.len()
    }

    #[test]
    fn a_hardware_key_gives_back_a_key_file_that_unwraps_with_its_binding() {
        let (mut key, file) = hardware_key(77);
        let plugged = open(&mut key, &trusted()).unwrap();
        assert!(!plugged.blank);
        assert_eq!(plugged.key_file.as_deref(), Some(&file[..]));
        let verified = keyfile::verify(&file).unwrap();
        verified.ensure_issued_for(&plugged.computer_id).unwrap();
        verified.unwrap_secret(plugged.binding()).unwrap();
    }

    #[test]
    fn two_devices_differ_in_computer_id_and_binding() {
        let a = open(&mut SoftwareKey::manufacture(1, &test_root()), &trusted()).unwrap();
        let b = open(&mut SoftwareKey::manufacture(1, &test_root()), &trusted()).unwrap();
        assert_ne!(a.computer_id, b.computer_id);
        assert_ne!(a.binding(), b.binding());
    }

    #[test]
    fn a_clone_with_copied_serial_and_certificate_fails_the_challenge() {
        let genuine = SoftwareKey::manufacture(42, &test_root());
        let mut clone = SoftwareKey::manufacture(42, &test_root());
        clone.certificate = genuine.certificate;
        let err = open(&mut clone, &trusted()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "USB key 000000000000002A is not genuine: it did not sign the challenge with its certified key"
        );
    }

    #[test]
    fn a_device_certified_by_an_untrusted_root_is_refused() {
        let other_root = SigningKey::from_bytes(&[9; 32]);
        let mut key = SoftwareKey::manufacture(5, &other_root);
        let err = open(&mut key, &trusted()).unwrap_err();
        assert!(err.to_string().ends_with("its certificate is not signed by a trusted manufacturer root"), "{err}");
        assert!(open(&mut key, PRODUCTION_ROOTS).is_err());
        assert!(open(&mut SoftwareKey::manufacture(5, &test_root()), PRODUCTION_ROOTS).is_err());
        assert!(open(&mut key, &[other_root.verifying_key().to_bytes()]).is_ok());
    }

    /// Answers every challenge with the response the genuine device gave to an earlier one.
    struct Replayer {
        inner: SoftwareKey,
        recorded: Option<Vec<u8>>,
    }

    impl UsbKeyDevice for Replayer {
        fn control_in(&mut self, request: u8, value: u16, index: u16, buf: &mut [u8]) -> Result<usize, DeviceError> {
            let n = self.inner.control_in(request, value, index, buf)?;
            if request == request::GET_RESPONSE {
                match &self.recorded {
                    Some(old) => buf[..n].copy_from_slice(old),
                    None => self.recorded = Some(buf[..n].to_vec()),
                }
            }
            Ok(n)
        }

        fn control_out(&mut self, request: u8, value: u16, index: u16, data: &[u8]) -> Result<usize, DeviceError> {
            self.inner.control_out(request, value, index, data)
        }
    }

    #[test]
    fn a_replayed_response_to_another_challenge_fails() {
        let mut device = Replayer { inner: SoftwareKey::manufacture(8, &test_root()), recorded: None };
        open(&mut device, &trusted()).unwrap();
        let err = open(&mut device, &trusted()).unwrap_err();
        assert!(matches!(err, UsbKeyError::NotGenuine { serial: 8, .. }), "{err}");
    }

    #[test]
    fn the_binding_is_given_only_after_a_challenge_in_the_same_session() {
        let mut key = SoftwareKey::manufacture(3, &test_root());
        let mut buf = [0u8; 64];
        assert_eq!(key.control_in(request::GET_BINDING, 0, 0, &mut buf), Err(DeviceError::Stall));
        assert_eq!(key.control_in(request::GET_RESPONSE, 0, 0, &mut buf), Err(DeviceError::Stall));
        key.control_out(request::SET_CHALLENGE, 0, 0, &[7; 32]).unwrap();
        assert_eq!(key.control_in(request::GET_BINDING, 0, 0, &mut buf), Err(DeviceError::Stall));
        assert_eq!(key.control_in(request::GET_RESPONSE, 0, 0, &mut buf), Ok(64));
        assert_eq!(
            key.control_in(request::GET_RESPONSE, 0, 0, &mut buf),
            Err(DeviceError::Stall),
            "challenge is single-use"
        );
        assert_eq!(key.control_in(request::GET_BINDING, 0, 0, &mut buf), Ok(32));
        key.bus_reset();
        assert_eq!(key.control_in(request::GET_BINDING, 0, 0, &mut buf), Err(DeviceError::Stall));
    }

    #[test]
    fn the_device_stalls_bad_requests() {
        let mut key = SoftwareKey::manufacture(3, &test_root());
        let mut buf = [0u8; 64];
        assert_eq!(key.control_in(0x7f, 0, 0, &mut buf), Err(DeviceError::Stall));
        assert_eq!(key.control_in(request::GET_INFO, 1, 0, &mut buf), Err(DeviceError::Stall));
        assert_eq!(key.control_in(request::GET_INFO, 0, 0, &mut buf[..39]), Err(DeviceError::Stall));
        assert_eq!(key.control_in(request::GET_INFO, 0, 0, &mut buf), Ok(40));
        assert_eq!(key.control_in(request::READ_KEY_FILE, 0, 0, &mut buf), Err(DeviceError::Stall), "blank");
        assert_eq!(key.control_out(request::SET_CHALLENGE, 0, 0, &[0; 31]), Err(DeviceError::Stall));
        assert_eq!(key.control_out(request::BEGIN_WRITE, 0, 0, &100u32.to_le_bytes()), Err(DeviceError::Stall));
        key.control_out(request::SET_CHALLENGE, 0, 0, &[0; 32]).unwrap();
        key.control_in(request::GET_RESPONSE, 0, 0, &mut buf).unwrap();
        key.control_out(request::BEGIN_WRITE, 0, 0, &4u32.to_le_bytes()).unwrap();
        assert_eq!(key.control_out(request::WRITE_CHUNK, 0, 1, b"ab"), Err(DeviceError::Stall), "out of order");
        assert_eq!(key.control_out(request::WRITE_CHUNK, 0, 0, b"ab"), Err(DeviceError::Stall), "write discarded");
        key.control_out(request::BEGIN_WRITE, 0, 0, &4u32.to_le_bytes()).unwrap();
        key.control_out(request::WRITE_CHUNK, 0, 0, b"abcd").unwrap();
        assert_eq!(key.control_out(request::COMMIT_WRITE, 0, 0, &Sha256::digest(b"abce")), Err(DeviceError::Stall));
        assert!(key.is_blank(), "a bad commit leaves the device as it was");
    }

    #[test]
    fn key_files_that_do_not_fit_are_refused_before_talking_to_the_device() {
        let mut key = SoftwareKey::manufacture(3, &test_root());
        let err = write_key_file(&mut key, &trusted(), &vec![b'x'; MAX_KEY_FILE_LEN + 1]).unwrap_err();
        assert_eq!(err.to_string(), "a key file of 16385 bytes does not fit a USB key (1 to 16384 bytes)");
        assert!(matches!(write_key_file(&mut key, &trusted(), b""), Err(UsbKeyError::BadSize { len: 0 })));
        write_key_file(&mut key, &trusted(), &vec![b'y'; MAX_KEY_FILE_LEN]).unwrap();
        assert_eq!(open(&mut key, &trusted()).unwrap().key_file.unwrap().len(), MAX_KEY_FILE_LEN);
    }

    #[test]
    fn a_device_that_drops_out_is_a_device_error() {
        struct Gone;
        impl UsbKeyDevice for Gone {
            fn control_in(&mut self, _: u8, _: u16, _: u16, _: &mut [u8]) -> Result<usize, DeviceError> {
                Err(DeviceError::Disconnected)
            }
            fn control_out(&mut self, _: u8, _: u16, _: u16, _: &[u8]) -> Result<usize, DeviceError> {
                Err(DeviceError::Timeout)
            }
        }
        let err = open(&mut Gone, &trusted()).unwrap_err();
        assert_eq!(err.to_string(), "USB key failed on GET_INFO: the device was unplugged");
    }

    type Answer = Result<Vec<u8>, DeviceError>;

    /// The genuine device, with one answer replaced by a tampered one.
    struct Tamper {
        inner: SoftwareKey,
        request: u8,
        answer: Answer,
    }

    impl UsbKeyDevice for Tamper {
        fn control_in(&mut self, request: u8, value: u16, index: u16, buf: &mut [u8]) -> Result<usize, DeviceError> {
            let n = self.inner.control_in(request, value, index, buf)?;
            if request != self.request {
                return Ok(n);
            }
            let answer = self.answer.clone()?;
            let n = answer.len().min(buf.len());
            buf[..n].copy_from_slice(&answer[..n]);
            Ok(answer.len())
        }

        fn control_out(&mut self, request: u8, value: u16, index: u16, data: &[u8]) -> Result<usize, DeviceError> {
            self.inner.control_out(request, value, index, data)
        }
    }

    #[test]
    fn malformed_answers_are_errors() {
        let (key, _) = hardware_key(11);
        let bytes = key.to_bytes();
        let info = SoftwareKey::from_bytes(&bytes).unwrap().info();
        let with = |at: usize, byte: u8| {
            let mut changed = info.to_vec();
            changed[at] = byte;
            Ok(changed)
        };
        let cases: Vec<(u8, Answer, &str)> = vec![
            (request::GET_INFO, Ok(info[..39].to_vec()), "GET_INFO answered 39 bytes instead of 40"),
            (request::GET_INFO, Ok([&info[..], &[0]].concat()), "GET_INFO answered 41 bytes instead of 40"),
            (request::GET_INFO, with(0, b'X'), "GET_INFO: wrong magic"),
            (request::GET_INFO, with(4, 2), "GET_INFO: protocol version 2 is not supported"),
            (request::GET_INFO, with(5, 0), "does not fit the state and capacity"),
            (request::GET_INFO, with(5, 9), "GET_INFO: unknown state 9"),
            (request::GET_INFO, with(7, 1), "reserved bytes are not zero"),
            (request::GET_INFO, with(23, 1), "is out of range"),
            (request::GET_INFO, with(24, 0), "firmware version is not printable ASCII"),
            (request::GET_CERTIFICATE, Ok(vec![0; 96]), "is not genuine"),
            (request::GET_CERTIFICATE, Err(DeviceError::Stall), "GET_CERTIFICATE: the device refused"),
            (request::GET_RESPONSE, Ok(vec![0; 64]), "did not sign the challenge"),
            (request::GET_BINDING, Ok(vec![0; 31]), "GET_BINDING answered 31 bytes instead of 32"),
            (request::READ_KEY_FILE, Ok(vec![0; 1023]), "READ_KEY_FILE answered 1023 bytes instead of"),
            (request::READ_KEY_FILE, Err(DeviceError::Other("pipe".into())), "READ_KEY_FILE: pipe"),
        ];
        for (request, answer, expected) in cases {
            let inner = SoftwareKey::from_bytes(&bytes).unwrap();
            let err = open(&mut Tamper { inner, request, answer }, &trusted()).unwrap_err().to_string();
            assert!(err.contains(expected), "request {request:#x}: `{err}` lacks `{expected}`");
        }
    }

    /// Answers every request with whatever the test case says, including lengths beyond the buffer.
    struct Hostile(std::vec::IntoIter<(Option<u8>, Vec<u8>)>);

    impl UsbKeyDevice for Hostile {
        fn control_in(&mut self, _: u8, _: u16, _: u16, buf: &mut [u8]) -> Result<usize, DeviceError> {
            let (claimed, bytes) = self.0.next().ok_or(DeviceError::Stall)?;
            let n = bytes.len().min(buf.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            Ok(claimed.map_or(n, usize::from))
        }

        fn control_out(&mut self, _: u8, _: u16, _: u16, data: &[u8]) -> Result<usize, DeviceError> {
            match self.0.next() {
                Some((Some(claimed), _)) => Ok(usize::from(claimed)),
                Some((None, _)) => Ok(data.len()),
                None => Err(DeviceError::Stall),
            }
        }
    }

    proptest! {
        #[test]
        fn a_hostile_device_never_makes_the_host_panic(
            answers in proptest::collection::vec((any::<Option<u8>>(), proptest::collection::vec(any::<u8>(), 0..120)), 0..12),
        ) {
            prop_assert!(open(&mut Hostile(answers.clone().into_iter()), &trusted()).is_err());
            prop_assert!(write_key_file(&mut Hostile(answers.into_iter()), &trusted(), b"k").is_err());
        }

        #[test]
        fn damaged_emulator_files_are_refused_without_panicking(at in 0usize..400, byte in any::<u8>()) {
            let bytes = SoftwareKey::manufacture(1, &test_root()).to_bytes();
            let mut damaged = bytes.clone();
            let at = at % damaged.len();
            prop_assume!(damaged[at] != byte);
            damaged[at] = byte;
            prop_assert!(SoftwareKey::from_bytes(&damaged).is_err());
            prop_assert!(SoftwareKey::from_bytes(&bytes[..at]).is_err());
        }
    }

    #[test]
    fn emulator_files_round_trip() {
        let (key, file) = hardware_key(0xFEED);
        let back = SoftwareKey::from_bytes(&key.to_bytes()).unwrap();
        assert_eq!((back.serial(), back.key_file()), (0xFEED, Some(&file[..])));
        assert_eq!(back.to_bytes(), key.to_bytes());
        let blank = SoftwareKey::manufacture(2, &test_root());
        let mut back = SoftwareKey::from_bytes(&blank.to_bytes()).unwrap();
        assert!(back.is_blank());
        let a = open(&mut SoftwareKey::from_bytes(&blank.to_bytes()).unwrap(), &trusted()).unwrap();
        let b = open(&mut back, &trusted()).unwrap();
        assert_eq!((&a.computer_id, a.binding()), (&b.computer_id, b.binding()), "the secret survives the file");
    }

    #[test]
    fn corrupt_emulator_files_are_refused() {
        let bytes = SoftwareKey::manufacture(2, &test_root()).to_bytes();
        let err = |b: &[u8]| SoftwareKey::from_bytes(b).unwrap_err().to_string();
        assert_eq!(err(b""), "not a USB key emulator file: too short");
        assert_eq!(
            err(&[b"LKEYEMU\0", &2u16.to_le_bytes()[..]].concat()),
            "USB key emulator file format 2 is not supported"
        );
        assert_eq!(err(&[&bytes[..], b"x"].concat()), "USB key emulator file is damaged: its checksum does not match");
        let huge = vec![0; MAX_EMULATOR_FILE_LEN + 1];
        assert!(err(&huge).contains("larger than"));
        let mut clone = SoftwareKey::manufacture(2, &test_root());
        clone.certificate = SoftwareKey::manufacture(2, &test_root()).certificate;
        assert_eq!(
            err(&clone.to_bytes()),
            "not a USB key emulator file: the certificate is not for this device secret"
        );
    }
}
