//! Signed key files (`{KeyID}.{KeyNo}.licence`): the key's fields, the series public key and the
//! series secret wrapped for one computer, all signed by the series signing key.
//!
//! The file is three lines, each ending in `\n`, and nothing else:
//!
//! ```text
//! {"Format":1,"KeyID":"672B","Key":{…},"SeriesPublicKey":"<64 hex>","WrappedSecret":"<192 hex>"}
//! -----LICENCE KEY SIGNATURE ED25519-----
//! <the Ed25519 signature over every byte of line 1, standard base64, 88 characters>
//! ```
//!
//! Parsing is strict (exact marker, canonical base64, no extra bytes, strict Ed25519 verification),
//! so any change to any byte makes [`verify`] fail. The signature proves the file is as the holder of
//! `SeriesPublicKey` wrote it; whether that key is the vendor's is pinned elsewhere.
//!
//! `WrappedSecret` is `IV (16) ‖ ciphertext (48) ‖ MAC (32)`: the series secret encrypted with
//! AES-256-CBC and PKCS#7 padding, then HMAC-SHA256 over a label, the KeyID, the KeyNo, the IV and
//! the ciphertext (encrypt-then-MAC). The encryption and MAC keys are HMAC-SHA256 of the computer's
//! [`MachineBinding`] over distinct labels followed by the KeyID and KeyNo, so a wrapped secret is
//! bound to one computer and one key.

use crate::identity::MachineBinding;
use crate::key::{KeyFields, SeriesId};
use crate::series::{SeriesKeys, SeriesSecret, SECRET_LEN};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("not a licence key file: {0}")]
    Malformed(String),
    #[error("key file format {0} is not supported")]
    UnsupportedFormat(u32),
    #[error("signature does not match: the key file was altered")]
    BadSignature,
    #[error("key is bound to another computer (ComputerID {0})")]
    ForeignComputer(String),
    #[error("the series secret cannot be unwrapped on this computer")]
    Unwrap,
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("key series `{key}` does not match the signing series `{series}`")]
    SeriesMismatch { key: SeriesId, series: SeriesId },
}

/// The only `Format` of a key file so far.
pub const FORMAT: u32 = 1;
/// Key files are a few kilobytes; anything larger is refused before it is parsed.
pub const MAX_FILE_LEN: usize = 64 * 1024;

const MARKER: &[u8] = b"-----LICENCE KEY SIGNATURE ED25519-----";
const ENC_LABEL: &[u8] = b"licence key wrap enc v1\0";
const MAC_KEY_LABEL: &[u8] = b"licence key wrap mac v1\0";
const MAC_LABEL: &[u8] = b"licence key wrapped secret v1\0";

const IV_LEN: usize = 16;
/// A 32-byte secret plus a full block of PKCS#7 padding.
const CIPHERTEXT_LEN: usize = SECRET_LEN + 16;
const MAC_LEN: usize = 32;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// A key file whose signature checked out.
#[derive(Debug, Clone)]
pub struct VerifiedKeyFile {
    pub fields: KeyFields,
    pub series_public_key: [u8; 32],
    wrapped: Wrapped,
}

/// The series secret as it travels in a key file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wrapped {
    iv: [u8; IV_LEN],
    ciphertext: [u8; CIPHERTEXT_LEN],
    mac: [u8; MAC_LEN],
}

/// Line 1 of the file.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Payload {
    format: u32,
    /// The series whose keys signed the file; must equal `Key.KeyID`.
    #[serde(rename = "KeyID")]
    key_id: SeriesId,
    key: KeyFields,
    series_public_key: String,
    wrapped_secret: String,
}

/// Just enough of line 1 to tell the format before insisting on its shape.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FormatOnly {
    format: u32,
}

/// The file's bytes for `fields`, signed with `series` and wrapping its secret for `binding`.
///
/// # Panics
/// If `fields.key_id` is not `series.series`; [`try_issue`] reports that as an error instead.
pub fn issue(fields: &KeyFields, series: &SeriesKeys, binding: &MachineBinding) -> Vec<u8> {
    match try_issue(fields, series, binding) {
        Ok(bytes) => bytes,
        Err(e) => panic!("{e}"),
    }
}

/// [`issue`], refusing a key whose series is not the one of `series`.
pub fn try_issue(fields: &KeyFields, series: &SeriesKeys, binding: &MachineBinding) -> Result<Vec<u8>, KeyFileError> {
    if fields.key_id != series.series {
        return Err(KeyFileError::SeriesMismatch { key: fields.key_id, series: series.series });
    }
    let wrapped = wrap(&series.secret, binding, fields);
    let payload = Payload {
        format: FORMAT,
        key_id: series.series,
        key: fields.clone(),
        series_public_key: hex::encode(series.public_key()),
        wrapped_secret: wrapped.to_hex(),
    };
    let mut file = serde_json::to_vec(&payload).expect("key fields always serialize");
    let signature = series.signing_key().sign(&file);
    file.push(b'\n');
    file.extend_from_slice(MARKER);
    file.push(b'\n');
    file.extend_from_slice(BASE64.encode(signature.to_bytes()).as_bytes());
    file.push(b'\n');
    Ok(file)
}

/// Checks the layout, the format and the signature against the embedded `SeriesPublicKey`.
pub fn verify(bytes: &[u8]) -> Result<VerifiedKeyFile, KeyFileError> {
    let malformed = |why: &str| KeyFileError::Malformed(why.to_owned());
    let (payload, signature) = split_file(bytes)?;

    let format = serde_json::from_slice::<FormatOnly>(payload)
        .map_err(|e| KeyFileError::Malformed(format!("payload has no readable `Format`: {e}")))?
        .format;
    if format != FORMAT {
        return Err(KeyFileError::UnsupportedFormat(format));
    }
    let parsed: Payload =
        serde_json::from_slice(payload).map_err(|e| KeyFileError::Malformed(format!("payload: {e}")))?;
    let public_key = decode_hex_array::<32>(&parsed.series_public_key)
        .ok_or_else(|| malformed("`SeriesPublicKey` is not 64 hex digits"))?;
    let verifying =
        VerifyingKey::from_bytes(&public_key).map_err(|_| malformed("`SeriesPublicKey` is not a valid key"))?;
    verifying.verify_strict(payload, &signature).map_err(|_| KeyFileError::BadSignature)?;

    if parsed.key.key_id != parsed.key_id {
        return Err(KeyFileError::SeriesMismatch { key: parsed.key.key_id, series: parsed.key_id });
    }
    let wrapped =
        Wrapped::from_hex(&parsed.wrapped_secret).ok_or_else(|| malformed("`WrappedSecret` is not 192 hex digits"))?;
    Ok(VerifiedKeyFile { fields: parsed.key, series_public_key: public_key, wrapped })
}

impl VerifiedKeyFile {
    /// The series secret, if this computer's binding is the one the key was issued for. The MAC is
    /// checked, in constant time, before anything is decrypted.
    pub fn unwrap_secret(&self, binding: &MachineBinding) -> Result<SeriesSecret, KeyFileError> {
        let keys = WrapKeys::derive(binding, &self.fields);
        let expected = keys.mac(&self.wrapped.iv, &self.wrapped.ciphertext);
        if !bool::from(expected.ct_eq(&self.wrapped.mac)) {
            return Err(KeyFileError::Unwrap);
        }
        let mut buffer = Zeroizing::new(self.wrapped.ciphertext);
        let plain = Aes256CbcDec::new(keys.enc.as_ref().into(), (&self.wrapped.iv).into())
            .decrypt_padded_mut::<Pkcs7>(buffer.as_mut())
            .map_err(|_| KeyFileError::Unwrap)?;
        let secret: [u8; SECRET_LEN] = plain.try_into().map_err(|_| KeyFileError::Unwrap)?;
        Ok(SeriesSecret::from_bytes(secret))
    }

    /// Refuses a key issued for another `ComputerID` than `computer_id` (compared case-insensitively).
    pub fn ensure_issued_for(&self, computer_id: &str) -> Result<(), KeyFileError> {
        if self.fields.computer_id.eq_ignore_ascii_case(computer_id.trim()) {
            Ok(())
        } else {
            Err(KeyFileError::ForeignComputer(self.fields.computer_id.clone()))
        }
    }
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk and renames it over `path`,
/// so a reader sees the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), KeyFileError> {
    use std::io::Write;
    let fail = |reason: String| KeyFileError::Write { path: path.display().to_string(), reason };
    let name = path.file_name().ok_or_else(|| fail("not a file name".into()))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.{}.tmp", std::process::id(), unique_suffix()));
    let temp = dir.join(temp_name);

    let written = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(fail(e.to_string()));
    }
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail(format!("renamed, but the directory could not be flushed: {e}")))?;
    Ok(())
}

/// Distinguishes temporary files of concurrent writers within one process.
fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The encryption and MAC keys of one key's wrapped secret on one computer, and the key's identity
/// (`KeyID` as 4 ASCII bytes, `KeyNo` as 8 big-endian bytes) that every label is followed by.
struct WrapKeys {
    enc: Zeroizing<[u8; 32]>,
    mac: Zeroizing<[u8; 32]>,
    context: [u8; 12],
}

impl WrapKeys {
    fn derive(binding: &MachineBinding, fields: &KeyFields) -> Self {
        let mut context = [0u8; 12];
        context[..4].copy_from_slice(fields.key_id.as_str().as_bytes());
        context[4..].copy_from_slice(&fields.key_no.to_be_bytes());
        Self {
            enc: Zeroizing::new(hmac_parts(&binding.0, &[ENC_LABEL, &context])),
            mac: Zeroizing::new(hmac_parts(&binding.0, &[MAC_KEY_LABEL, &context])),
            context,
        }
    }

    fn mac(&self, iv: &[u8; IV_LEN], ciphertext: &[u8; CIPHERTEXT_LEN]) -> [u8; MAC_LEN] {
        hmac_parts(self.mac.as_ref(), &[MAC_LABEL, &self.context, iv, ciphertext])
    }
}

fn hmac_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Encrypts then MACs the series secret for `binding` and the key `fields`.
fn wrap(secret: &SeriesSecret, binding: &MachineBinding, fields: &KeyFields) -> Wrapped {
    let keys = WrapKeys::derive(binding, fields);
    let mut iv = [0u8; IV_LEN];
    getrandom::getrandom(&mut iv).expect("the operating system's random source failed");
    let mut ciphertext = [0u8; CIPHERTEXT_LEN];
    Aes256CbcEnc::new(keys.enc.as_ref().into(), (&iv).into())
        .encrypt_padded_b2b_mut::<Pkcs7>(secret.as_bytes(), &mut ciphertext)
        .expect("48 bytes hold a padded 32-byte secret");
    let mac = keys.mac(&iv, &ciphertext);
    Wrapped { iv, ciphertext, mac }
}

impl Wrapped {
    fn to_hex(&self) -> String {
        let mut bytes = Vec::with_capacity(IV_LEN + CIPHERTEXT_LEN + MAC_LEN);
        bytes.extend_from_slice(&self.iv);
        bytes.extend_from_slice(&self.ciphertext);
        bytes.extend_from_slice(&self.mac);
        hex::encode(bytes)
    }

    fn from_hex(text: &str) -> Option<Self> {
        let bytes = decode_hex_array::<{ IV_LEN + CIPHERTEXT_LEN + MAC_LEN }>(text)?;
        let (iv, rest) = bytes.split_at(IV_LEN);
        let (ciphertext, mac) = rest.split_at(CIPHERTEXT_LEN);
        Some(Self { iv: iv.try_into().ok()?, ciphertext: ciphertext.try_into().ok()?, mac: mac.try_into().ok()? })
    }
}

fn decode_hex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(bytes)
}

/// The payload line and the signature, from a file laid out exactly as [`issue`] lays it out.
fn split_file(bytes: &[u8]) -> Result<(&[u8], Signature), KeyFileError> {
    let malformed = |why: &str| KeyFileError::Malformed(why.to_owned());
    if bytes.len() > MAX_FILE_LEN {
        return Err(KeyFileError::Malformed(format!("larger than {MAX_FILE_LEN} bytes")));
    }
    let body = bytes.strip_suffix(b"\n").ok_or_else(|| malformed("does not end with a line break"))?;
    let mut lines = body.split(|&b| b == b'\n');
    let (Some(payload), Some(marker), Some(signature), None) = (lines.next(), lines.next(), lines.next(), lines.next())
    else {
        return Err(malformed("expected exactly three lines: payload, signature marker, signature"));
    };
    if marker != MARKER {
        return Err(malformed("line 2 is not the signature marker"));
    }
    Ok((payload, decode_signature(signature)?))
}

/// The 64-byte signature from line 3, which must be its canonical base64 form.
fn decode_signature(line: &[u8]) -> Result<Signature, KeyFileError> {
    let malformed = || KeyFileError::Malformed("line 3 is not a base64 Ed25519 signature".into());
    let bytes = BASE64.decode(line).map_err(|_| malformed())?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| malformed())?;
    if BASE64.encode(bytes).as_bytes() != line {
        return Err(malformed());
    }
    Ok(Signature::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::MachineIdentity;
    use crate::key::tests::sample_fields;
    use serde_json::Value;

    fn series() -> SeriesKeys {
        SeriesKeys::generate("672B".parse().unwrap())
    }

    fn binding(material: &str) -> MachineBinding {
        MachineIdentity::from_material(material.as_bytes()).binding()
    }

    fn payload_of(file: &[u8]) -> Value {
        let line = file.split(|&b| b == b'\n').next().unwrap();
        serde_json::from_slice(line).unwrap()
    }

    /// A correctly laid out and signed file around any payload, to test checks behind the signature.
    fn signed(series: &SeriesKeys, payload: &Value) -> Vec<u8> {
        let mut file = serde_json::to_vec(payload).unwrap();
        let signature = series.signing_key().sign(&file);
        file.push(b'\n');
        file.extend_from_slice(MARKER);
        file.push(b'\n');
        file.extend_from_slice(BASE64.encode(signature.to_bytes()).as_bytes());
        file.push(b'\n');
        file
    }

    #[test]
    fn issued_file_verifies_and_unwraps_on_its_computer() {
        let keys = series();
        let fields = sample_fields();
        let file = issue(&fields, &keys, &binding("A"));
        let verified = verify(&file).unwrap();
        assert_eq!(verified.fields, fields);
        assert_eq!(verified.series_public_key, keys.public_key());
        let secret = verified.unwrap_secret(&binding("A")).unwrap();
        assert_eq!(secret.as_bytes(), keys.secret.as_bytes());
        let text = std::str::from_utf8(&file).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert_eq!(text.lines().nth(1).unwrap().as_bytes(), MARKER);
    }

    #[test]
    fn file_for_binding_a_does_not_unwrap_with_binding_b() {
        let keys = series();
        let verified = verify(&issue(&sample_fields(), &keys, &binding("A"))).unwrap();
        assert!(matches!(verified.unwrap_secret(&binding("B")), Err(KeyFileError::Unwrap)));
    }

    #[test]
    fn wrapped_secret_is_bound_to_its_key_number() {
        let keys = series();
        let file = issue(&sample_fields(), &keys, &binding("A"));
        let mut payload = payload_of(&file);
        payload["Key"]["KeyNo"] = 42.into();
        let moved = verify(&signed(&keys, &payload)).unwrap();
        assert!(matches!(moved.unwrap_secret(&binding("A")), Err(KeyFileError::Unwrap)));
    }

    #[test]
    fn every_single_byte_change_and_every_truncation_is_rejected() {
        let file = issue(&sample_fields(), &series(), &binding("A"));
        for i in 0..file.len() {
            for mask in [0x01u8, 0x20, 0x80] {
                let mut bad = file.clone();
                bad[i] ^= mask;
                assert!(verify(&bad).is_err(), "byte {i} ^ {mask:#x} accepted");
            }
        }
        for len in 0..file.len() {
            assert!(verify(&file[..len]).is_err(), "truncation to {len} accepted");
        }
        let mut longer = file.clone();
        longer.push(b'\n');
        assert!(verify(&longer).is_err());
    }

    #[test]
    fn changed_field_is_a_bad_signature() {
        let file = issue(&sample_fields(), &series(), &binding("A"));
        let text = String::from_utf8(file).unwrap().replacen("\"LicenceCount\":10", "\"LicenceCount\":99", 1);
        assert!(matches!(verify(text.as_bytes()), Err(KeyFileError::BadSignature)));
    }

    #[test]
    fn signature_by_another_series_key_fails() {
        let (x, y) = (series(), series());
        let mut payload = payload_of(&issue(&sample_fields(), &x, &binding("A")));
        payload["SeriesPublicKey"] = hex::encode(y.public_key()).into();
        assert!(matches!(verify(&signed(&x, &payload)), Err(KeyFileError::BadSignature)));
    }

    #[test]
    fn key_of_another_series_is_refused() {
        let keys = series();
        let mut fields = sample_fields();
        fields.key_id = "672C".parse().unwrap();
        let err = try_issue(&fields, &keys, &binding("A")).unwrap_err();
        assert_eq!(err.to_string(), "key series `672C` does not match the signing series `672B`");

        let mut payload = payload_of(&issue(&sample_fields(), &keys, &binding("A")));
        payload["Key"]["KeyID"] = "672C".into();
        assert!(matches!(verify(&signed(&keys, &payload)), Err(KeyFileError::SeriesMismatch { .. })));
    }

    #[test]
    fn unknown_format_is_unsupported() {
        let keys = series();
        let mut payload = payload_of(&issue(&sample_fields(), &keys, &binding("A")));
        payload["Format"] = 2.into();
        payload["Whatever"] = "new".into();
        assert!(matches!(verify(&signed(&keys, &payload)), Err(KeyFileError::UnsupportedFormat(2))));
    }

    #[test]
    fn oversize_input_is_malformed() {
        let err = verify(&vec![b' '; MAX_FILE_LEN + 1]).unwrap_err();
        assert_eq!(err.to_string(), "not a licence key file: larger than 65536 bytes");
    }

    #[test]
    fn foreign_computer_is_named() {
        let verified = verify(&issue(&sample_fields(), &series(), &binding("A"))).unwrap();
        assert!(verified.ensure_issued_for("d365acc38180015cd3a30e62bf1072392d4dd5c1").is_ok());
        let err = verified.ensure_issued_for("0000000000000000000000000000000000000000").unwrap_err();
        assert_eq!(
            err.to_string(),
            "key is bound to another computer (ComputerID D365ACC38180015CD3A30E62BF1072392D4DD5C1)"
        );
    }

    #[test]
    fn write_atomically_replaces_the_file_and_leaves_no_temporaries() {
        let dir = std::env::temp_dir().join(format!("licence-keyfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("672B.1.licence");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("672B.1.licence")]);
        let err = write_atomically(&dir.join("missing/672B.1.licence"), b"x").unwrap_err();
        assert!(matches!(err, KeyFileError::Write { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = verify(&bytes);
        }
    }
}
