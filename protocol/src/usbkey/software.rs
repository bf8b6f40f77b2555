//! The device side of the USB key protocol in software: [`SoftwareKey`], faithful to a real device down to
//! its stalls, and the emulator file that stores one (see `USBKEY.md`). It exists so that the tests and
//! the server's emulator can plug in a key without hardware.

use super::{
    certificate_message, challenge_message, parse_firmware, request, DeviceError, SigningKey, UsbKeyDevice,
    CERTIFICATE_LEN, CHALLENGE_LEN, CHUNK_LEN, DEVICE_BINDING_LABEL, DEVICE_SIGNING_LABEL, FIRMWARE_LEN, INFO_LEN,
    INFO_MAGIC, MAX_KEY_FILE_LEN, PROTOCOL_VERSION, RESPONSE_LEN, STATE_ACTIVATED, STATE_BLANK,
};
use ed25519_dalek::Signer;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

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

    /// What `GET_INFO` answers; `pub(super)` so that the host tests can tamper with it.
    pub(super) fn info(&self) -> [u8; INFO_LEN] {
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

fn hmac(key: &[u8], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(label);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usbkey::test_support::{hardware_key, trusted};
    use crate::usbkey::{open, test_root};
    use proptest::prelude::*;

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

    proptest! {
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
