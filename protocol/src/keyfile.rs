//! Signed key files (`{KeyID}.{KeyNo}.licence`): the key's fields, the series public key, the key's
//! own public key and the key's secrets sealed to one target (a computer or a USB device), all signed
//! by the series signing key.
//!
//! The file is three lines, each ending in `\n`, and nothing else:
//!
//! ```text
//! {"Format":2,"KeyID":"672B","Key":{…},"SeriesPublicKey":"<64 hex>","KeyPublicKey":"<64 hex>",
//!  "TargetKey":"<64 hex>","SealedSecrets":"<288 hex>"}
//! -----LICENCE KEY SIGNATURE ED25519-----
//! <the Ed25519 signature over every byte of line 1, standard base64, 88 characters>
//! ```
//!
//! Parsing is strict (exact marker, canonical base64, no extra bytes, strict Ed25519 verification),
//! so any change to any byte makes [`verify`] fail. The signature proves the file is as the holder of
//! `SeriesPublicKey` wrote it; whether that key is the vendor's is for the reader to check against
//! the key it pins ([`VerifiedKeyFile::signed_by`]).
//!
//! # The key's own key
//! `KeyPublicKey` is an Ed25519 key made for this issue of the key. Its private half travels sealed
//! beside the series secret, so only the computer the key is bound to can sign with it: that is how a
//! licence server proves to an add-in, at `connect`, that it holds a genuine key of the pinned series
//! on its own computer (`channel::connect_transcript`).
//!
//! # The sealed secrets
//! `SealedSecrets` is a [`sealbox`] of the series secret and the key's signing seed, sealed to
//! `TargetKey` (the target's public key, `identity::MachineBinding::target_key`) for a context of a
//! label, the KeyID, the KeyNo and `KeyPublicKey`, so sealed secrets cannot be moved to another key.
//! The issuer needs only the target's public key: no secret of the target ever travels.
//!
//! # Formats
//! Format 1 (the series secret wrapped under a key derived from the raw binding, with no key of its
//! own) is refused with what to do: re-issue the key, which its backup code does.

use crate::identity::{MachineBinding, TargetKey};
use crate::key::{KeyFields, SeriesId};
use crate::sealbox;
use crate::series::{SeriesKeys, SeriesSecret, SECRET_LEN};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::Path;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("not a licence key file: {0}")]
    Malformed(String),
    #[error("not a licence key file: payload has no readable `Format`: {0}")]
    NoFormat(#[source] serde_json::Error),
    #[error("not a licence key file: payload: {0}")]
    Payload(#[source] serde_json::Error),
    #[error(
        "key file format {0} is from an earlier release and is no longer accepted: install the key again with \
         its backup code (the vendor's activation centre re-issues it), or ask the vendor for a new key file"
    )]
    OldFormat(u32),
    #[error("key file format {0} is newer than this program understands: upgrade it")]
    UnsupportedFormat(u32),
    #[error("signature does not match: the key file was altered")]
    BadSignature,
    #[error("key is bound to another computer (ComputerID {0})")]
    ForeignComputer(String),
    #[error("the series secret cannot be unwrapped on this computer")]
    Unwrap,
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    /// The file is in place, but its folder could not be flushed to disk.
    #[error("cannot write {path}: renamed, but the directory could not be flushed: {source}")]
    Flush { path: String, source: std::io::Error },
    #[error("key series `{key}` does not match the signing series `{series}`")]
    SeriesMismatch { key: SeriesId, series: SeriesId },
}

/// The `Format` of key files this release writes and reads.
pub const FORMAT: u32 = 2;
/// Key files are a few kilobytes; anything larger is refused before it is parsed.
pub const MAX_FILE_LEN: usize = 64 * 1024;

const MARKER: &[u8] = b"-----LICENCE KEY SIGNATURE ED25519-----";
const SEAL_LABEL: &[u8] = b"licence key secrets v2\0";

/// The plaintext of the sealed secrets: the series secret and the key's signing seed.
const SECRETS_LEN: usize = SECRET_LEN + 32;
const SEALED_LEN: usize = SECRETS_LEN + sealbox::OVERHEAD;

/// A key file whose signature checked out.
#[derive(Debug, Clone)]
pub struct VerifiedKeyFile {
    pub fields: KeyFields,
    /// The key that signed the file; the reader compares it with the key it pins.
    pub series_public_key: [u8; 32],
    /// This issue's own Ed25519 public key.
    pub key_public_key: [u8; 32],
    /// The target the secrets are sealed to.
    pub target_key: TargetKey,
    sealed: [u8; SEALED_LEN],
}

/// What a key file's sealed part holds, once opened on the computer it is bound to. Zeroized on drop.
pub struct KeySecrets {
    pub series: SeriesSecret,
    /// The key's own signing key, whose public half is `KeyPublicKey`.
    pub key: SigningKey,
}

impl std::fmt::Debug for KeySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySecrets(<redacted>)")
    }
}

/// What the secrets of a key file are sealed to: the target's public key, or (for the target itself,
/// and for tests) its binding, whose public key is derived from it.
pub trait SealTarget {
    fn target_key(&self) -> TargetKey;
}

impl SealTarget for TargetKey {
    fn target_key(&self) -> TargetKey {
        *self
    }
}

impl SealTarget for MachineBinding {
    fn target_key(&self) -> TargetKey {
        MachineBinding::target_key(self)
    }
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
    key_public_key: String,
    target_key: String,
    sealed_secrets: String,
}

/// Just enough of line 1 to tell the format before insisting on its shape.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FormatOnly {
    format: u32,
}

/// The file's bytes for `fields`, signed with `series`, with a fresh key of its own, its secrets sealed
/// to `target`.
///
/// # Panics
/// If `fields.key_id` is not `series.series`; [`try_issue`] reports that as an error instead.
pub fn issue(fields: &KeyFields, series: &SeriesKeys, target: &impl SealTarget) -> Vec<u8> {
    match try_issue(fields, series, target) {
        Ok(bytes) => bytes,
        Err(e) => panic!("{e}"),
    }
}

/// [`issue`], refusing a key whose series is not the one of `series`.
pub fn try_issue(fields: &KeyFields, series: &SeriesKeys, target: &impl SealTarget) -> Result<Vec<u8>, KeyFileError> {
    if fields.key_id != series.series {
        return Err(KeyFileError::SeriesMismatch { key: fields.key_id, series: series.series });
    }
    let seed = random_32();
    let key = SigningKey::from_bytes(&seed);
    let key_public = key.verifying_key().to_bytes();
    let target = target.target_key();
    let mut secrets = Zeroizing::new([0u8; SECRETS_LEN]);
    secrets[..SECRET_LEN].copy_from_slice(series.secret.as_bytes());
    secrets[SECRET_LEN..].copy_from_slice(seed.as_ref());
    let sealed = sealbox::seal(&target, &seal_context(fields, &key_public), &secrets[..]);
    let payload = Payload {
        format: FORMAT,
        key_id: series.series,
        key: fields.clone(),
        series_public_key: hex::encode(series.public_key()),
        key_public_key: hex::encode(key_public),
        target_key: target.to_hex(),
        sealed_secrets: hex::encode(sealed),
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

    let format = serde_json::from_slice::<FormatOnly>(payload).map_err(KeyFileError::NoFormat)?.format;
    match format {
        FORMAT => {}
        1 => return Err(KeyFileError::OldFormat(format)),
        other => return Err(KeyFileError::UnsupportedFormat(other)),
    }
    let parsed: Payload = serde_json::from_slice(payload).map_err(KeyFileError::Payload)?;
    let public_key = decode_hex_array::<32>(&parsed.series_public_key)
        .ok_or_else(|| malformed("`SeriesPublicKey` is not 64 hex digits"))?;
    let verifying =
        VerifyingKey::from_bytes(&public_key).map_err(|_| malformed("`SeriesPublicKey` is not a valid key"))?;
    verifying.verify_strict(payload, &signature).map_err(|_| KeyFileError::BadSignature)?;

    if parsed.key.key_id != parsed.key_id {
        return Err(KeyFileError::SeriesMismatch { key: parsed.key.key_id, series: parsed.key_id });
    }
    let key_public_key = decode_hex_array::<32>(&parsed.key_public_key)
        .filter(|k| VerifyingKey::from_bytes(k).is_ok())
        .ok_or_else(|| malformed("`KeyPublicKey` is not a valid key of 64 hex digits"))?;
    let target_key = TargetKey(
        decode_hex_array::<32>(&parsed.target_key).ok_or_else(|| malformed("`TargetKey` is not 64 hex digits"))?,
    );
    let sealed = decode_hex_array::<SEALED_LEN>(&parsed.sealed_secrets)
        .ok_or_else(|| malformed("`SealedSecrets` is not 224 hex digits"))?;
    Ok(VerifiedKeyFile { fields: parsed.key, series_public_key: public_key, key_public_key, target_key, sealed })
}

impl VerifiedKeyFile {
    /// True when the file is signed by `pin`, the series public key a configuration pins.
    pub fn signed_by(&self, pin: &[u8; 32]) -> bool {
        bool::from(self.series_public_key.ct_eq(pin))
    }

    /// The key's secrets, if `binding` is the one of the target they are sealed to. The AEAD tag is
    /// checked before anything is used; the signing seed must match `KeyPublicKey`.
    pub fn unwrap_secrets(&self, binding: &MachineBinding) -> Result<KeySecrets, KeyFileError> {
        if binding.target_key() != self.target_key {
            return Err(KeyFileError::Unwrap);
        }
        let context = seal_context(&self.fields, &self.key_public_key);
        let plain = sealbox::open(binding, &context, &self.sealed).map_err(|_| KeyFileError::Unwrap)?;
        if plain.len() != SECRETS_LEN {
            return Err(KeyFileError::Unwrap);
        }
        let mut series = [0u8; SECRET_LEN];
        series.copy_from_slice(&plain[..SECRET_LEN]);
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&plain[SECRET_LEN..]);
        let key = SigningKey::from_bytes(&seed);
        if key.verifying_key().to_bytes() != self.key_public_key {
            return Err(KeyFileError::Unwrap);
        }
        Ok(KeySecrets { series: SeriesSecret::from_bytes(series), key })
    }

    /// The series secret alone (see [`VerifiedKeyFile::unwrap_secrets`]).
    pub fn unwrap_secret(&self, binding: &MachineBinding) -> Result<SeriesSecret, KeyFileError> {
        self.unwrap_secrets(binding).map(|s| s.series)
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
    write_replacing(path, bytes, false)
}

/// [`write_atomically`] for a secret (a key's backup code, which can move the key): the file is made
/// readable and writable by its owner only (0600 on Unix) before any byte is written.
pub fn write_secret_atomically(path: &Path, bytes: &[u8]) -> Result<(), KeyFileError> {
    write_replacing(path, bytes, true)
}

fn write_replacing(path: &Path, bytes: &[u8], private: bool) -> Result<(), KeyFileError> {
    use std::io::Write;
    let fail = |source| KeyFileError::Write { path: path.display().to_string(), source };
    let name = path
        .file_name()
        .ok_or_else(|| fail(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name")))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.{}.tmp", std::process::id(), unique_suffix()));
    let temp = dir.join(temp_name);

    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(fail(e));
    }
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| KeyFileError::Flush { path: path.display().to_string(), source })?;
    Ok(())
}

/// Distinguishes temporary files of concurrent writers within one process.
fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What the sealed secrets of one key are bound to: a label, the KeyID, the KeyNo and the key's own
/// public key.
fn seal_context(fields: &KeyFields, key_public: &[u8; 32]) -> Vec<u8> {
    let mut context = Vec::with_capacity(SEAL_LABEL.len() + 12 + 32);
    context.extend_from_slice(SEAL_LABEL);
    context.extend_from_slice(fields.key_id.as_str().as_bytes());
    context.extend_from_slice(&fields.key_no.to_be_bytes());
    context.extend_from_slice(key_public);
    context
}

fn random_32() -> Zeroizing<[u8; 32]> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(bytes.as_mut()).expect("the operating system's random source failed");
    bytes
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
    fn unknown_and_earlier_formats_are_refused_with_what_to_do() {
        let keys = series();
        let mut payload = payload_of(&issue(&sample_fields(), &keys, &binding("A")));
        payload["Format"] = 3.into();
        payload["Whatever"] = "new".into();
        assert!(matches!(verify(&signed(&keys, &payload)), Err(KeyFileError::UnsupportedFormat(3))));
        let old = serde_json::json!({"Format": 1, "KeyID": "672B", "Key": {}, "SeriesPublicKey": "00",
            "WrappedSecret": "00"});
        let err = verify(&signed(&keys, &old)).unwrap_err();
        assert!(matches!(err, KeyFileError::OldFormat(1)));
        assert!(err.to_string().contains("install the key again with its backup code"), "{err}");
    }

    #[test]
    fn the_keys_own_key_is_sealed_beside_the_series_secret() {
        let keys = series();
        let file = issue(&sample_fields(), &keys, &binding("A").target_key());
        let verified = verify(&file).unwrap();
        assert!(verified.signed_by(&keys.public_key()) && !verified.signed_by(&series().public_key()));
        let secrets = verified.unwrap_secrets(&binding("A")).unwrap();
        assert_eq!(secrets.key.verifying_key().to_bytes(), verified.key_public_key);
        assert_eq!(verified.target_key, binding("A").target_key());
        let again = verify(&issue(&sample_fields(), &keys, &binding("A"))).unwrap();
        assert_ne!(again.key_public_key, verified.key_public_key, "every issue has a key of its own");
        assert!(!String::from_utf8(file).unwrap().contains(&hex::encode(keys.secret.as_bytes())));
    }

    #[test]
    fn sealed_secrets_moved_to_another_key_do_not_open() {
        let keys = series();
        let a = payload_of(&issue(&sample_fields(), &keys, &binding("A")));
        let mut b = payload_of(&issue(&sample_fields(), &keys, &binding("A")));
        b["SealedSecrets"] = a["SealedSecrets"].clone();
        let moved = verify(&signed(&keys, &b)).unwrap();
        assert!(matches!(moved.unwrap_secrets(&binding("A")), Err(KeyFileError::Unwrap)));
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let secret = dir.join("672B.1.backup");
            write_secret_atomically(&secret, b"1234").unwrap();
            assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
            std::fs::remove_file(&secret).unwrap();
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = verify(&bytes);
        }
    }
}
