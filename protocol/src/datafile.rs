//! The datafile: the container of protected objects (external data processors, BSL modules) that a
//! vendor embeds in its configuration. Each object is encrypted under its own key, which only the
//! holder of the series secret can compute: the licence server derives it from an
//! [`ObjectKeyRequest`] (series, file id, salt) without ever seeing the object's name or ciphertext,
//! and the add-in decrypts with it. The whole file is signed by the series signing key, so any change
//! to any byte is refused and the file proves which series made it. The byte layout is documented in
//! `protocol/DATAFILE.md`.
//!
//! Parsing needs no secret, never panics and checks every length against the bytes that remain
//! before it allocates anything, since a datafile may come from anywhere.

use crate::key::SeriesId;
use crate::series::{SeriesKeys, SeriesSecret};
use crate::text::shorten;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// How many characters of an object name messages show.
const SHOWN: usize = 64;

/// The first eight bytes of every datafile.
pub const MAGIC: [u8; 8] = *b"LICDATA\x1a";
/// The only `Format` so far.
pub const FORMAT: u32 = 1;
/// The largest datafile accepted, written or read: 256 MiB.
pub const MAX_FILE_LEN: usize = 256 * 1024 * 1024;
/// The largest object (plaintext) accepted: 64 MiB.
pub const MAX_OBJECT_LEN: usize = 64 * 1024 * 1024;
/// The most objects one datafile may hold.
pub const MAX_OBJECTS: usize = 4096;
/// The longest object name, in UTF-8 bytes (its length prefix is one byte).
pub const MAX_NAME_LEN: usize = 255;

const ID_LEN: usize = 16;
const IV_LEN: usize = 16;
const MAC_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;
/// Magic, format, series, public key, file id and object count.
const HEADER_LEN: usize = 8 + 4 + 4 + 32 + ID_LEN + 4;

const OBJECT_KEY_LABEL: &[u8] = b"licence datafile object key v1\0";
const ENC_KEY_LABEL: &[u8] = b"licence datafile enc v1\0";
const MAC_KEY_LABEL: &[u8] = b"licence datafile mac key v1\0";
const MAC_LABEL: &[u8] = b"licence datafile object v1\0";

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatafileError {
    #[error("not a datafile: {0}")]
    NotADatafile(String),
    #[error("datafile format {0} is not supported (expected {FORMAT})")]
    UnsupportedFormat(u32),
    #[error("datafile is truncated: {0} is cut short")]
    Truncated(&'static str),
    #[error("datafile is malformed: {0}")]
    Malformed(String),
    #[error("datafile signature does not match: the file was altered or not signed by its series key")]
    BadSignature,
    #[error("bad object name {name:?}: {why}")]
    BadName { name: String, why: &'static str },
    #[error("object {0:?} is BSL text but not valid UTF-8")]
    NotUtf8(String),
    #[error("no object named {0:?} in the datafile")]
    NoSuchObject(String),
    #[error("object {0:?} cannot be decrypted: wrong key or the object was altered")]
    WrongKey(String),
    #[error("{what} is too large: {size} bytes, the limit is {limit}")]
    TooLarge { what: String, size: u64, limit: u64 },
}

/// What an object holds; the numbers are the file's and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// 1: opaque bytes, such as an external data processor (`.epf`) or report (`.erf`).
    Binary,
    /// 2: BSL source text in UTF-8.
    Text,
}

impl ObjectKind {
    pub fn code(self) -> u8 {
        match self {
            ObjectKind::Binary => 1,
            ObjectKind::Text => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(ObjectKind::Binary),
            2 => Some(ObjectKind::Text),
            _ => None,
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::Binary => "binary",
            ObjectKind::Text => "text",
        })
    }
}

/// One object to pack.
pub struct NewObject {
    pub name: String,
    pub kind: ObjectKind,
    pub content: Vec<u8>,
}

/// What the licence server needs to compute one object's key: nothing about the object itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ObjectKeyRequest {
    #[serde(rename = "KeyID")]
    pub series: SeriesId,
    #[serde(rename = "FileID", with = "hex_16")]
    pub file_id: [u8; ID_LEN],
    #[serde(with = "hex_16")]
    pub salt: [u8; ID_LEN],
}

/// One object's 32-byte key; zeroized on drop, never printed.
pub struct ObjectKey(Zeroizing<[u8; 32]>);

impl ObjectKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The AES and HMAC keys of the object, each under its own label so neither reveals the other.
    fn subkeys(&self) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
        (
            Zeroizing::new(hmac_parts(self.as_bytes(), &[ENC_KEY_LABEL])),
            Zeroizing::new(hmac_parts(self.as_bytes(), &[MAC_KEY_LABEL])),
        )
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ObjectKey(<redacted>)")
    }
}

/// `HMAC-SHA256(series secret, label ‖ series ‖ file id ‖ salt)`: what the licence server answers.
pub fn derive_object_key(secret: &SeriesSecret, request: &ObjectKeyRequest) -> ObjectKey {
    let series = request.series.as_str().as_bytes();
    ObjectKey(Zeroizing::new(hmac_parts(
        secret.as_bytes(),
        &[OBJECT_KEY_LABEL, series, &request.file_id, &request.salt],
    )))
}

/// A datafile whose layout and signature checked out.
#[derive(Clone)]
pub struct Datafile {
    pub series: SeriesId,
    /// The key the file is signed with; compare it with the vendor's pinned `{KeyID}.pub` to know
    /// the file is the vendor's and not merely self-consistent.
    pub series_public_key: [u8; 32],
    pub file_id: [u8; ID_LEN],
    objects: Vec<ObjectEntry>,
}

/// One encrypted object of a [`Datafile`].
#[derive(Clone)]
pub struct ObjectEntry {
    pub name: String,
    pub kind: ObjectKind,
    /// The plaintext length in bytes.
    pub size: u64,
    salt: [u8; ID_LEN],
    iv: [u8; IV_LEN],
    ciphertext: Vec<u8>,
    mac: [u8; MAC_LEN],
}

impl Datafile {
    pub fn objects(&self) -> &[ObjectEntry] {
        &self.objects
    }

    /// The object called exactly `name`.
    pub fn object(&self, name: &str) -> Option<&ObjectEntry> {
        self.objects.iter().find(|o| o.name == name)
    }

    /// The object called `name` in any letter case (Cyrillic too); unambiguous because a datafile
    /// never holds two names that differ only in case.
    pub fn object_ignoring_case(&self, name: &str) -> Option<&ObjectEntry> {
        self.object(name).or_else(|| {
            let wanted = name.to_lowercase();
            self.objects.iter().find(|o| o.name.to_lowercase() == wanted)
        })
    }

    /// [`Datafile::object`] as a result, for callers that report a missing object.
    pub fn require(&self, name: &str) -> Result<&ObjectEntry, DatafileError> {
        self.object(name).ok_or_else(|| DatafileError::NoSuchObject(shorten(name, SHOWN)))
    }
}

impl fmt::Debug for Datafile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Datafile")
            .field("series", &self.series)
            .field("series_public_key", &hex::encode(self.series_public_key))
            .field("file_id", &hex::encode(self.file_id))
            .field("objects", &self.objects)
            .finish()
    }
}

impl ObjectEntry {
    /// What to send the licence server for this object's key.
    pub fn key_request(&self, datafile: &Datafile) -> ObjectKeyRequest {
        ObjectKeyRequest { series: datafile.series, file_id: datafile.file_id, salt: self.salt }
    }

    /// The plaintext. The MAC is checked, in constant time, before anything is decrypted.
    pub fn decrypt(&self, datafile: &Datafile, key: &ObjectKey) -> Result<Zeroizing<Vec<u8>>, DatafileError> {
        let wrong = || DatafileError::WrongKey(shorten(&self.name, SHOWN));
        let (enc, mac) = key.subkeys();
        let expected = object_mac(&mac, datafile.series, &datafile.file_id, &self.record_head(), &self.ciphertext);
        if !bool::from(expected.ct_eq(&self.mac)) {
            return Err(wrong());
        }
        let mut buffer = Zeroizing::new(self.ciphertext.clone());
        let plain_len = Aes256CbcDec::new(enc.as_ref().into(), (&self.iv).into())
            .decrypt_padded_mut::<Pkcs7>(buffer.as_mut())
            .map_err(|_| wrong())?
            .len();
        if plain_len as u64 != self.size {
            return Err(wrong());
        }
        buffer.truncate(plain_len);
        Ok(buffer)
    }

    /// The record's bytes from the name's length through the IV: the object's identity, which the
    /// MAC covers together with the ciphertext.
    fn record_head(&self) -> Vec<u8> {
        record_head(&self.name, self.kind, &self.salt, self.size as u32, &self.iv)
    }
}

impl fmt::Debug for ObjectEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectEntry")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Encrypts `objects` under fresh per-object keys of `series` and signs the file with its signing key.
pub fn pack(series: &SeriesKeys, objects: &[NewObject]) -> Result<Vec<u8>, DatafileError> {
    if objects.len() > MAX_OBJECTS {
        return Err(too_large("the object count", objects.len(), MAX_OBJECTS));
    }
    let mut total = HEADER_LEN + SIGNATURE_LEN;
    for (i, object) in objects.iter().enumerate() {
        check_name(&object.name)?;
        if objects[..i].iter().any(|o| same_name(&o.name, &object.name)) {
            return Err(bad_name(&object.name, "another object has this name (letter case aside)"));
        }
        if object.content.len() > MAX_OBJECT_LEN {
            return Err(too_large(
                &format!("object {:?}", shorten(&object.name, SHOWN)),
                object.content.len(),
                MAX_OBJECT_LEN,
            ));
        }
        if object.kind == ObjectKind::Text && std::str::from_utf8(&object.content).is_err() {
            return Err(DatafileError::NotUtf8(shorten(&object.name, SHOWN)));
        }
        total += record_len(object.name.len(), object.content.len());
    }
    if total > MAX_FILE_LEN {
        return Err(too_large("the datafile", total, MAX_FILE_LEN));
    }

    let file_id: [u8; ID_LEN] = random();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(series.series.as_str().as_bytes());
    out.extend_from_slice(&series.public_key());
    out.extend_from_slice(&file_id);
    out.extend_from_slice(&(objects.len() as u32).to_le_bytes());
    for object in objects {
        let salt: [u8; ID_LEN] = random();
        let iv: [u8; IV_LEN] = random();
        let request = ObjectKeyRequest { series: series.series, file_id, salt };
        let (enc, mac_key) = derive_object_key(&series.secret, &request).subkeys();
        let ciphertext =
            Aes256CbcEnc::new(enc.as_ref().into(), (&iv).into()).encrypt_padded_vec_mut::<Pkcs7>(&object.content);
        let head = record_head(&object.name, object.kind, &salt, object.content.len() as u32, &iv);
        let mac = object_mac(&mac_key, series.series, &file_id, &head, &ciphertext);
        out.extend_from_slice(&head);
        out.extend_from_slice(&ciphertext);
        out.extend_from_slice(&mac);
    }
    let signature = series.signing_key().sign(&out);
    out.extend_from_slice(&signature.to_bytes());
    debug_assert_eq!(out.len(), total);
    Ok(out)
}

/// Checks the layout and the signature against the embedded public key; needs no secret.
pub fn parse(bytes: &[u8]) -> Result<Datafile, DatafileError> {
    if bytes.len() > MAX_FILE_LEN {
        return Err(too_large("the datafile", bytes.len(), MAX_FILE_LEN));
    }
    let mut reader = Reader { bytes, pos: 0 };
    if reader.take(MAGIC.len(), "the magic").ok() != Some(&MAGIC[..]) {
        return Err(DatafileError::NotADatafile("it does not begin with the datafile magic".into()));
    }
    let format = reader.u32("the format")?;
    if format != FORMAT {
        return Err(DatafileError::UnsupportedFormat(format));
    }
    let series = read_series(&mut reader)?;
    let series_public_key: [u8; 32] = reader.array("the series public key")?;
    let file_id: [u8; ID_LEN] = reader.array("the file id")?;
    let count = reader.u32("the object count")? as usize;
    if count > MAX_OBJECTS {
        return Err(too_large("the object count", count, MAX_OBJECTS));
    }
    let mut objects: Vec<ObjectEntry> = Vec::new();
    for _ in 0..count {
        let object = read_object(&mut reader)?;
        if objects.iter().any(|o| same_name(&o.name, &object.name)) {
            return Err(bad_name(&object.name, "another object has this name (letter case aside)"));
        }
        objects.push(object);
    }
    let signed = &bytes[..reader.pos];
    let signature: [u8; SIGNATURE_LEN] = reader.array("the signature")?;
    if reader.pos != bytes.len() {
        return Err(DatafileError::Malformed(format!("{} bytes follow the signature", bytes.len() - reader.pos)));
    }
    let verifying = VerifyingKey::from_bytes(&series_public_key).map_err(|_| DatafileError::BadSignature)?;
    verifying.verify_strict(signed, &Signature::from_bytes(&signature)).map_err(|_| DatafileError::BadSignature)?;
    Ok(Datafile { series, series_public_key, file_id, objects })
}

/// The series, which must be stored exactly as [`SeriesId`] writes it (upper-case hex).
fn read_series(reader: &mut Reader<'_>) -> Result<SeriesId, DatafileError> {
    let raw = reader.take(4, "the series")?;
    let malformed = || DatafileError::Malformed("the series is not 4 upper-case hex digits".into());
    let series: SeriesId = std::str::from_utf8(raw).ok().and_then(|s| s.parse().ok()).ok_or_else(malformed)?;
    if series.as_str().as_bytes() != raw {
        return Err(malformed());
    }
    Ok(series)
}

fn read_object(reader: &mut Reader<'_>) -> Result<ObjectEntry, DatafileError> {
    let name_len = reader.u8("an object name's length")? as usize;
    let raw_name = reader.take(name_len, "an object name")?;
    let name = std::str::from_utf8(raw_name)
        .map_err(|_| DatafileError::BadName { name: String::from_utf8_lossy(raw_name).into(), why: "not UTF-8" })?;
    check_name(name)?;
    let code = reader.u8("an object kind")?;
    let kind = ObjectKind::from_code(code)
        .ok_or_else(|| DatafileError::Malformed(format!("object {name:?} has unknown kind {code}")))?;
    let salt = reader.array("an object salt")?;
    let size = reader.u32("an object length")? as usize;
    if size > MAX_OBJECT_LEN {
        return Err(too_large(&format!("object {:?}", shorten(name, SHOWN)), size, MAX_OBJECT_LEN));
    }
    let iv = reader.array("an object IV")?;
    let ciphertext = reader.take(padded_len(size), "an object's ciphertext")?.to_vec();
    let mac = reader.array("an object MAC")?;
    Ok(ObjectEntry { name: name.to_owned(), kind, size: size as u64, salt, iv, ciphertext, mac })
}

/// A cursor over untrusted bytes: every read is checked against what remains.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], DatafileError> {
        let rest = &self.bytes[self.pos..];
        if rest.len() < len {
            return Err(DatafileError::Truncated(what));
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DatafileError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DatafileError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DatafileError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
}

/// Name length, name, kind, salt, plaintext length and IV, as the file stores them.
fn record_head(name: &str, kind: ObjectKind, salt: &[u8; ID_LEN], size: u32, iv: &[u8; IV_LEN]) -> Vec<u8> {
    let mut head = Vec::with_capacity(1 + name.len() + 1 + ID_LEN + 4 + IV_LEN);
    head.push(name.len() as u8);
    head.extend_from_slice(name.as_bytes());
    head.push(kind.code());
    head.extend_from_slice(salt);
    head.extend_from_slice(&size.to_le_bytes());
    head.extend_from_slice(iv);
    head
}

/// `HMAC-SHA256(mac key, label ‖ format ‖ series ‖ file id ‖ record head ‖ ciphertext)`.
fn object_mac(key: &[u8; 32], series: SeriesId, file_id: &[u8; ID_LEN], head: &[u8], ciphertext: &[u8]) -> [u8; 32] {
    let format = FORMAT.to_le_bytes();
    hmac_parts(key, &[MAC_LABEL, &format, series.as_str().as_bytes(), file_id, head, ciphertext])
}

fn hmac_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The ciphertext length of `size` plaintext bytes: PKCS#7 always adds 1 to 16 bytes.
fn padded_len(size: usize) -> usize {
    (size / 16 + 1) * 16
}

fn record_len(name_len: usize, size: usize) -> usize {
    1 + name_len + 1 + ID_LEN + 4 + IV_LEN + padded_len(size) + MAC_LEN
}

/// Non-empty, at most [`MAX_NAME_LEN`] bytes, no control characters (which would make listings and
/// error messages lie about the name).
fn check_name(name: &str) -> Result<(), DatafileError> {
    if name.is_empty() {
        return Err(bad_name(name, "empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad_name(name, "longer than 255 bytes of UTF-8"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad_name(name, "contains a control character"));
    }
    Ok(())
}

fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

fn bad_name(name: &str, why: &'static str) -> DatafileError {
    DatafileError::BadName { name: shorten(name, SHOWN), why }
}

fn too_large(what: &str, size: usize, limit: usize) -> DatafileError {
    DatafileError::TooLarge { what: what.to_owned(), size: size as u64, limit: limit as u64 }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// 16-byte arrays as 32 hex digits in JSON.
mod hex_16 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        let text = String::deserialize(d)?;
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(&text, &mut bytes).map_err(|_| serde::de::Error::custom("expected 32 hex digits"))?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> SeriesKeys {
        SeriesKeys::generate("672B".parse().unwrap())
    }

    fn object(name: &str, kind: ObjectKind, content: &[u8]) -> NewObject {
        NewObject { name: name.into(), kind, content: content.to_vec() }
    }

    fn open(file: &Datafile, name: &str, series: &SeriesKeys) -> Result<Zeroizing<Vec<u8>>, DatafileError> {
        let entry = file.require(name)?;
        let key = derive_object_key(&series.secret, &entry.key_request(file));
        entry.decrypt(file, &key)
    }

    /// The bytes of `file` without its signature, signed again by `by`.
    fn resigned(file: &[u8], by: &SeriesKeys) -> Vec<u8> {
        let mut body = file[..file.len() - SIGNATURE_LEN].to_vec();
        let signature = by.signing_key().sign(&body);
        body.extend_from_slice(&signature.to_bytes());
        body
    }

    #[test]
    fn objects_round_trip_with_latin_and_cyrillic_names() {
        let keys = series();
        let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let objects = [
            object("Отчёт по складу", ObjectKind::Binary, b"\x00\x01epf bytes\xff"),
            object("Report", ObjectKind::Text, "Процедура Тест()\nКонецПроцедуры\n".as_bytes()),
            object("Пусто", ObjectKind::Text, b""),
            object("big", ObjectKind::Binary, &big),
        ];
        let bytes = pack(&keys, &objects).unwrap();
        let file = parse(&bytes).unwrap();
        assert_eq!(file.series, keys.series);
        assert_eq!(file.series_public_key, keys.public_key());
        let listed: Vec<_> = file.objects().iter().map(|o| (o.name.as_str(), o.kind, o.size)).collect();
        assert_eq!(
            listed,
            [
                ("Отчёт по складу", ObjectKind::Binary, 12),
                ("Report", ObjectKind::Text, objects[1].content.len() as u64),
                ("Пусто", ObjectKind::Text, 0),
                ("big", ObjectKind::Binary, 1_000_000),
            ]
        );
        for object in &objects {
            assert_eq!(*open(&file, &object.name, &keys).unwrap(), object.content, "{}", object.name);
        }
    }

    #[test]
    fn lookup_is_exact_or_ignores_letter_case_cyrillic_included() {
        let keys = series();
        let file = parse(&pack(&keys, &[object("Отчёт По Складу", ObjectKind::Binary, b"x")]).unwrap()).unwrap();
        assert!(file.object("отчёт по складу").is_none());
        assert_eq!(file.object_ignoring_case("ОТЧЁТ ПО СКЛАДУ").unwrap().name, "Отчёт По Складу");
        assert!(file.object_ignoring_case("Отчет По Складу").is_none(), "е is not ё");
        assert_eq!(file.require("Нет").unwrap_err().to_string(), "no object named \"Нет\" in the datafile");
    }

    #[test]
    fn bad_names_are_refused() {
        let keys = series();
        let refused = |names: &[&str]| {
            let objects: Vec<_> = names.iter().map(|n| object(n, ObjectKind::Binary, b"x")).collect();
            pack(&keys, &objects).unwrap_err().to_string()
        };
        assert_eq!(refused(&[""]), "bad object name \"\": empty");
        assert!(refused(&[&"я".repeat(128)]).contains("longer than 255 bytes"));
        assert!(refused(&["a\nb"]).contains("contains a control character"));
        assert!(refused(&["a\u{85}"]).contains("control character"));
        assert!(refused(&["Отчёт", "Отчёт"]).contains("another object has this name"));
        assert!(refused(&["Отчёт", "ОТЧЁТ"]).contains("another object has this name"));
        assert!(pack(&keys, &[object(&"я".repeat(127), ObjectKind::Binary, b"")]).is_ok());
    }

    #[test]
    fn text_must_be_utf8_and_sizes_are_limited() {
        let keys = series();
        let err = pack(&keys, &[object("Модуль", ObjectKind::Text, b"\xff\xfe")]).unwrap_err();
        assert_eq!(err.to_string(), "object \"Модуль\" is BSL text but not valid UTF-8");
        let err = pack(&keys, &[object("big", ObjectKind::Binary, &vec![0; MAX_OBJECT_LEN + 1])]).unwrap_err();
        assert_eq!(err.to_string(), "object \"big\" is too large: 67108865 bytes, the limit is 67108864");
        let many: Vec<_> = (0..=MAX_OBJECTS).map(|i| object(&i.to_string(), ObjectKind::Binary, b"")).collect();
        assert!(matches!(pack(&keys, &many), Err(DatafileError::TooLarge { .. })));
        let err = parse(&vec![0; MAX_FILE_LEN + 1]).unwrap_err();
        assert_eq!(err.to_string(), "the datafile is too large: 268435457 bytes, the limit is 268435456");
    }

    #[test]
    fn every_byte_flip_and_every_truncation_is_refused() {
        let keys = series();
        let bytes =
            pack(&keys, &[object("Отчёт", ObjectKind::Binary, b"abc"), object("m", ObjectKind::Text, b"")]).unwrap();
        assert!(parse(&bytes).is_ok());
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x80] {
                let mut bad = bytes.clone();
                bad[i] ^= mask;
                assert!(parse(&bad).is_err(), "byte {i} ^ {mask:#x} accepted");
            }
        }
        for len in 0..bytes.len() {
            assert!(parse(&bytes[..len]).is_err(), "truncation to {len} accepted");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(parse(&longer).unwrap_err().to_string(), "datafile is malformed: 1 bytes follow the signature");
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let keys = series();
        let bytes = pack(&keys, &[object("a", ObjectKind::Binary, b"abc")]).unwrap();
        assert_eq!(
            parse(b"PK\x03\x04").unwrap_err().to_string(),
            "not a datafile: it does not begin with the datafile magic"
        );
        let mut other = bytes.clone();
        other[8] = 2;
        assert_eq!(parse(&other).unwrap_err(), DatafileError::UnsupportedFormat(2));
        assert_eq!(
            parse(&bytes[..HEADER_LEN + 2]).unwrap_err().to_string(),
            "datafile is truncated: an object kind is cut short"
        );
        let mut flipped = bytes.clone();
        let last = flipped.len() - SIGNATURE_LEN - 1;
        flipped[last] ^= 1;
        assert_eq!(parse(&flipped).unwrap_err(), DatafileError::BadSignature);
    }

    #[test]
    fn the_embedded_public_key_is_the_one_that_must_have_signed() {
        let (x, y) = (series(), series());
        let bytes = pack(&x, &[object("a", ObjectKind::Binary, b"abc")]).unwrap();
        let mut swapped = bytes.clone();
        swapped[16..48].copy_from_slice(&y.public_key());
        assert_eq!(parse(&swapped).unwrap_err(), DatafileError::BadSignature);
        assert_eq!(parse(&resigned(&bytes, &y)).unwrap_err(), DatafileError::BadSignature);
        assert_eq!(parse(&resigned(&swapped, &y)).unwrap().series_public_key, y.public_key());
    }

    #[test]
    fn wrong_secret_or_altered_object_does_not_decrypt() {
        let (keys, other) = (series(), series());
        let file = parse(&pack(&keys, &[object("Отчёт", ObjectKind::Binary, b"secret plan")]).unwrap()).unwrap();
        let entry = file.object("Отчёт").unwrap();
        let wrong = derive_object_key(&other.secret, &entry.key_request(&file));
        let err = entry.decrypt(&file, &wrong).unwrap_err();
        assert_eq!(err.to_string(), "object \"Отчёт\" cannot be decrypted: wrong key or the object was altered");
        assert!(entry.decrypt(&file, &ObjectKey::from_bytes([0; 32])).is_err());

        // Behind a valid signature (re-signed by the same series), a moved or changed object still fails.
        let right = derive_object_key(&keys.secret, &entry.key_request(&file));
        let mut renamed = file.clone();
        renamed.objects[0].name = "Отчёт2".into();
        assert!(renamed.objects[0].decrypt(&renamed, &right).is_err());
        let mut moved = file.clone();
        moved.file_id[0] ^= 1;
        assert!(moved.objects[0].decrypt(&moved, &right).is_err());
        let mut retyped = file.clone();
        retyped.objects[0].kind = ObjectKind::Text;
        assert!(retyped.objects[0].decrypt(&retyped, &right).is_err());
    }

    #[test]
    fn salts_and_file_ids_are_fresh() {
        let keys = series();
        let objects: Vec<_> = (0..64).map(|i| object(&format!("o{i}"), ObjectKind::Binary, b"same")).collect();
        let (a, b) = (parse(&pack(&keys, &objects).unwrap()).unwrap(), parse(&pack(&keys, &objects).unwrap()).unwrap());
        assert_ne!(a.file_id, b.file_id);
        let mut salts: Vec<_> = a.objects().iter().chain(b.objects()).map(|o| o.salt).collect();
        salts.sort_unstable();
        salts.dedup();
        assert_eq!(salts.len(), 128);
        assert_ne!(a.objects[0].ciphertext, a.objects[1].ciphertext);
    }

    #[test]
    fn key_request_is_pascal_case_hex_json_and_the_key_is_never_printed() {
        let request = ObjectKeyRequest { series: "672B".parse().unwrap(), file_id: [0xab; 16], salt: [1; 16] };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(json, format!(r#"{{"KeyID":"672B","FileID":"{}","Salt":"{}"}}"#, "ab".repeat(16), "01".repeat(16)));
        assert_eq!(serde_json::from_str::<ObjectKeyRequest>(&json).unwrap(), request);
        assert!(serde_json::from_str::<ObjectKeyRequest>(&json.replace("\"01", "\"zz")).is_err());
        assert!(serde_json::from_str::<ObjectKeyRequest>(r#"{"KeyID":"672B","FileID":"00","Salt":"00"}"#).is_err());

        let keys = series();
        let key = derive_object_key(&keys.secret, &request);
        assert_eq!(key.as_bytes(), derive_object_key(&keys.secret, &request).as_bytes());
        assert_eq!(format!("{key:?}"), "ObjectKey(<redacted>)");
        let file = parse(&pack(&keys, &[object("a", ObjectKind::Binary, b"abc")]).unwrap()).unwrap();
        let debug = format!("{file:?}");
        assert!(debug.contains("672B") && debug.contains("\"a\"") && !debug.contains("ciphertext"), "{debug}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = parse(&with_magic);
        }
    }
}
