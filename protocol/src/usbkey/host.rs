//! The host side of the USB key protocol: proving a device genuine against the trusted manufacturer roots,
//! reading its binding and key file ([`open`]), and programming a key file into it ([`write_key_file`]).
//! Everything the device answers is untrusted input and is checked before it is believed.

use super::{
    certificate_message, challenge_message, parse_firmware, request, PluggedKey, UsbKeyDevice, UsbKeyError,
    BINDING_LEN, CERTIFICATE_LEN, CHALLENGE_LEN, CHUNK_LEN, COMPUTER_ID_LABEL, INFO_LEN, INFO_MAGIC, MAX_KEY_FILE_LEN,
    PROTOCOL_VERSION, RESPONSE_LEN, STATE_ACTIVATED, STATE_BLANK,
};
use crate::identity::MachineBinding;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

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
    getrandom::getrandom(&mut challenge).map_err(UsbKeyError::Random)?;
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

fn computer_id(serial: u64, device_public: &[u8; 32]) -> String {
    let digest =
        Sha256::new().chain_update(COMPUTER_ID_LABEL).chain_update(serial.to_le_bytes()).chain_update(device_public);
    hex::encode_upper(&digest.finalize()[..20])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyfile;
    use crate::usbkey::test_support::{hardware_key, trusted};
    use crate::usbkey::{test_root, DeviceError, SigningKey, SoftwareKey, PRODUCTION_ROOTS};
    use proptest::prelude::*;

    #[test]
    fn a_blank_opens_with_its_identity_and_no_key_file() {
        let mut key = SoftwareKey::manufacture(0x1234, &test_root());
        let plugged = open(&mut key, &trusted()).unwrap();
        assert_eq!((plugged.serial, plugged.blank, plugged.key_file.as_deref()), (0x1234, true, None));
        assert_eq!(plugged.firmware, "soft-1.0");
        assert_eq!(parse_computer_id_shape(&plugged.computer_id), 40);
        let request = plugged.public_target();
        assert_eq!(request.parse().unwrap(), (plugged.computer_id.clone(), plugged.binding().target_key()));
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
    }
}
