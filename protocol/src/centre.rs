//! What a licence server and the vendor's activation centre say to each other, online over HTTP or
//! offline as files: an [`ActivationRequest`] goes to the centre, an [`ActivationResponse`] (or a
//! [`CentreError`]) comes back. The same JSON documents are the offline request and response files,
//! so an air-gapped site carries exactly what the online path would have sent.
//!
//! # Online
//! `POST {LicenceCenterUrl}/activate` with the request as its JSON body. The centre answers 200 with
//! the response, or an error status with a [`CentreError`] body (its `Reason` says which refusal).
//!
//! # What a code turns into
//! The code in a request is an activation code or a backup code; only the centre tells them apart.
//! - An activation code is redeemed once, for one target (a computer's `ComputerID`, or a USB blank's
//!   serial). Asking again for the same target returns the same key; asking for another target is
//!   refused with [`Refusal::CodeUsed`].
//! - A backup code re-issues an already activated key for a new target (the same computer after its
//!   `ComputerID` changed, or a USB blank) and is then spent; the answer carries the next backup code.
//!
//! # Integrity
//! The key file inside a response is signed by the series key, as every key file. The response as a
//! whole is signed by the same key over its request id, its sealed backup code and a digest of the key
//! file ([`ActivationResponse::verify`]), so neither the code nor the pairing with the request can be
//! altered on the way, on the wire or on a USB stick.
//!
//! # Nothing secret in either document (format 2)
//! - The request carries the target's **public** key (`TargetKey`), never its binding; the key's
//!   secrets are sealed to that key, so only the target can open them.
//! - The request does not carry the code either: only `CodeDigest` (a SHA-256 of the code under a
//!   label, by which the centre finds it) and `CodeProof` (an HMAC keyed by the code over the request
//!   id, the target and the licensee), which only someone who knows the code can make. A third party
//!   who reads a request can neither redeem the code for a target of their own nor unwrap anything;
//!   sending the request on as it is gets a key for the original target only.
//! - The response's backup code is sealed to the target (`SealedBackupCode`): whoever reads the
//!   response file learns nothing that moves the key.
//!
//! Documents of format 1 (which carried the raw binding and the code in clear) are refused with what
//! to do.

use crate::activation::ActivationCode;
use crate::identity::{MachineBinding, PublicTarget, TargetKey};
use crate::keyfile::{self, KeyFileError, VerifiedKeyFile};
use crate::sealbox;
use crate::series::SeriesKeys;
use crate::text::shorten;
use crate::time::UtcTime;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The `Format` of both documents this release writes and reads.
pub const FORMAT: u32 = 2;
/// The centre's route, relative to `LicenceCenterUrl`.
pub const ACTIVATE_PATH: &str = "/activate";
/// Requests and responses are a few kilobytes; larger documents are refused before parsing.
pub const MAX_DOCUMENT_LEN: usize = 128 * 1024;

const RESPONSE_LABEL: &[u8] = b"licence activation response v2\0";
const DIGEST_LABEL: &[u8] = b"licence activation code digest v2\0";
const PROOF_LABEL: &[u8] = b"licence activation code proof v2\0";
const BACKUP_LABEL: &[u8] = b"licence activation backup code v2\0";

/// What `Format` 1 documents are refused with.
const OLD_FORMAT: &str = "is of an earlier release (format 1 carried secrets in clear) and is no longer accepted: \
                          make a new request with this release's licence server";

/// Sent by a licence server: redeem the code of `CodeDigest` for the target described by `ComputerID`
/// and `TargetKey` (a computer's, or a USB blank's when `BlankKeyNo` is set). Nothing in it is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ActivationRequest {
    pub format: u32,
    /// 32 random hex digits; the response names it back.
    #[serde(rename = "RequestID")]
    pub request_id: String,
    pub created: UtcTime,
    /// [`code_digest`] of the activation or backup code: how the centre finds it.
    pub code_digest: String,
    /// [`ActivationRequest::proves`]: made with the code, over everything else the request says.
    pub code_proof: String,
    /// The licensee's taxpayer number (ИНН), if given; digits only.
    #[serde(rename = "ITN", default, deserialize_with = "digits_or_null")]
    pub itn: Option<String>,
    /// The licensee's registration reason code (КПП), if given; digits only.
    #[serde(rename = "IEC", default, deserialize_with = "digits_or_null")]
    pub iec: Option<String>,
    /// The target's `ComputerID`: 40 hex digits.
    #[serde(rename = "ComputerID")]
    pub computer_id: String,
    /// The target's public key (64 hex digits), which the key's secrets are sealed to.
    pub target_key: String,
    /// The USB blank the key is for, if any.
    pub blank_key_no: Option<u64>,
    /// The requesting server's version, for the centre's log.
    pub server_version: String,
}

/// The centre's answer: the key file for the target and the key's current backup code, sealed to the
/// target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ActivationResponse {
    pub format: u32,
    #[serde(rename = "RequestID")]
    pub request_id: String,
    /// The key file's exact text (three lines).
    pub key_file: String,
    /// The backup code sealed to the target ([`sealbox`]), hex; [`ActivationResponse::backup_code`]
    /// opens it.
    pub sealed_backup_code: String,
    /// Ed25519 by the series key, standard base64; see [`ActivationResponse::verify`].
    pub signature: String,
}

/// Why the centre refused; the number is what travels in [`CentreError::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// 1: the request is not a well-formed document.
    BadRequest,
    /// 2: no such code was ever issued.
    UnknownCode,
    /// 3: the code was redeemed for another computer or blank.
    CodeUsed,
    /// 4: the vendor revoked the code.
    CodeRevoked,
    /// 5: the product needs the licensee's ITN (and IEC) and the request has none.
    ItnRequired,
    /// 6: the code was sold to another licensee: the ITN or IEC differs.
    ItnMismatch,
    /// 7: the backup code was already used; the key's newer backup code is needed.
    BackupCodeSpent,
    /// 8: anything that is the centre's own fault.
    Internal,
}

impl Refusal {
    pub fn code(self) -> u16 {
        match self {
            Refusal::BadRequest => 1,
            Refusal::UnknownCode => 2,
            Refusal::CodeUsed => 3,
            Refusal::CodeRevoked => 4,
            Refusal::ItnRequired => 5,
            Refusal::ItnMismatch => 6,
            Refusal::BackupCodeSpent => 7,
            Refusal::Internal => 8,
        }
    }

    pub fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            1 => Refusal::BadRequest,
            2 => Refusal::UnknownCode,
            3 => Refusal::CodeUsed,
            4 => Refusal::CodeRevoked,
            5 => Refusal::ItnRequired,
            6 => Refusal::ItnMismatch,
            7 => Refusal::BackupCodeSpent,
            8 => Refusal::Internal,
            _ => return None,
        })
    }

    /// The HTTP status the centre answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Refusal::BadRequest | Refusal::ItnRequired => 400,
            Refusal::UnknownCode => 404,
            Refusal::CodeUsed | Refusal::BackupCodeSpent => 409,
            Refusal::CodeRevoked => 410,
            Refusal::ItnMismatch => 403,
            Refusal::Internal => 500,
        }
    }
}

/// The body of every refusal of the centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CentreError {
    /// [`Refusal::code`].
    pub reason: u16,
    /// For the administrator, in plain words; never a secret.
    pub message: String,
}

impl CentreError {
    pub fn new(refusal: Refusal, message: impl Into<String>) -> Self {
        Self { reason: refusal.code(), message: message.into() }
    }

    pub fn refusal(&self) -> Option<Refusal> {
        Refusal::from_code(self.reason)
    }
}

/// Why a request document is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the request is larger than {MAX_DOCUMENT_LEN} bytes")]
    TooLarge,
    #[error("the activation request {OLD_FORMAT}")]
    OldFormat,
    #[error("not an activation request: {0}")]
    Malformed(#[source] serde_json::Error),
    #[error("activation request format {0} is not supported")]
    UnsupportedFormat(u32),
    /// Its `ComputerID` or `TargetKey` is not readable.
    #[error("{0}")]
    Target(#[from] crate::identity::IdentityError),
    #[error("`CodeDigest` and `CodeProof` must be 64 hex digits")]
    BadDigest,
}

/// Why a response cannot be installed.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    #[error("not an activation response: {0}")]
    Malformed(String),
    #[error("not an activation response: {0}")]
    Json(#[source] serde_json::Error),
    #[error("activation response format {0} is not supported")]
    UnsupportedFormat(u32),
    #[error("the activation response {OLD_FORMAT}")]
    OldFormat,
    #[error("the response's backup code is sealed for another computer or device: it was made for another request")]
    NotForThisTarget,
    #[error("the response answers request {found}, not {expected}")]
    OtherRequest { expected: String, found: String },
    #[error("the response was altered: its signature does not match")]
    BadSignature,
    #[error("the key file in the response: {0}")]
    KeyFile(#[from] KeyFileError),
}

/// The digest an activation or backup code is found by at the centre: 64 hex digits.
pub fn code_digest(code: ActivationCode) -> String {
    hex::encode(Sha256::new().chain_update(DIGEST_LABEL).chain_update(code.to_string().as_bytes()).finalize())
}

impl ActivationRequest {
    /// A request with a fresh random id, created `now`, proving knowledge of `code` for `target`.
    pub fn new(
        code: ActivationCode,
        target: &PublicTarget,
        blank_key_no: Option<u64>,
        tax: (Option<String>, Option<String>),
        now: UtcTime,
    ) -> Self {
        let mut id = [0u8; 16];
        getrandom::getrandom(&mut id).expect("the OS random source works");
        let mut request = Self {
            format: FORMAT,
            request_id: hex::encode_upper(id),
            created: now,
            code_digest: code_digest(code),
            code_proof: String::new(),
            itn: tax.0,
            iec: tax.1,
            computer_id: target.computer_id.clone(),
            target_key: target.target_key.clone(),
            blank_key_no,
            server_version: crate::VERSION.to_owned(),
        };
        request.code_proof = hex::encode(request.proof_with(code));
        request
    }

    /// HMAC-SHA256 keyed by the code's digits over everything the request asks for.
    fn proof_with(&self, code: ActivationCode) -> [u8; 32] {
        let digits = zeroize::Zeroizing::new(code.to_string());
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(digits.as_bytes()).expect("HMAC takes any key");
        for part in [
            PROOF_LABEL,
            self.request_id.to_ascii_uppercase().as_bytes(),
            self.computer_id.to_ascii_uppercase().as_bytes(),
            self.target_key.to_ascii_lowercase().as_bytes(),
            self.blank_key_no.map(|n| n.to_string()).unwrap_or_default().as_bytes(),
            self.itn.as_deref().unwrap_or("").as_bytes(),
            self.iec.as_deref().unwrap_or("").as_bytes(),
        ] {
            mac.update(part);
            mac.update(b"\0");
        }
        mac.finalize().into_bytes().into()
    }

    /// True when `code` is the request's code and the request was made with it as it stands: its
    /// digest matches and its proof covers this target and licensee.
    pub fn proves(&self, code: ActivationCode) -> bool {
        let mut proof = [0u8; 32];
        let digest_matches = self.code_digest.eq_ignore_ascii_case(&code_digest(code));
        let read = hex::decode_to_slice(self.code_proof.trim(), &mut proof).is_ok();
        digest_matches && read && bool::from(self.proof_with(code).ct_eq(&proof))
    }

    /// The target's public key.
    pub fn target(&self) -> Result<TargetKey, crate::identity::IdentityError> {
        TargetKey::from_hex(&self.target_key)
    }

    /// A short, harmless name of the code for logs: the first 8 digits of its digest.
    pub fn code_label(&self) -> String {
        format!("code #{}", shorten(&self.code_digest, 8))
    }

    /// Reads a request document, refusing other formats and oversized input.
    pub fn from_json(bytes: &[u8]) -> Result<Self, RequestError> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(RequestError::TooLarge);
        }
        if let Ok(format) = serde_json::from_slice::<FormatOnly>(bytes) {
            if format.format == 1 {
                return Err(RequestError::OldFormat);
            }
        }
        let request: Self = serde_json::from_slice(bytes).map_err(RequestError::Malformed)?;
        if request.format != FORMAT {
            return Err(RequestError::UnsupportedFormat(request.format));
        }
        crate::identity::parse_computer_id(&request.computer_id)?;
        request.target()?;
        let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex64(&request.code_digest) || !hex64(&request.code_proof) {
            return Err(RequestError::BadDigest);
        }
        Ok(request)
    }
}

/// Just enough of a document to tell its format.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FormatOnly {
    format: u32,
}

fn backup_context(request_id: &str) -> Vec<u8> {
    let mut context = BACKUP_LABEL.to_vec();
    context.extend_from_slice(request_id.to_ascii_uppercase().as_bytes());
    context
}

impl ActivationResponse {
    /// The centre's side: seals `backup_code` to `target` and signs it with `key_file` as the answer
    /// to `request_id`.
    pub fn sign(
        request_id: &str,
        key_file: &[u8],
        backup_code: ActivationCode,
        target: &TargetKey,
        series: &SeriesKeys,
    ) -> Self {
        let code = zeroize::Zeroizing::new(backup_code.to_string());
        let sealed = hex::encode(sealbox::seal(target, &backup_context(request_id), code.as_bytes()));
        let message = signed_message(request_id, &sealed, key_file);
        let signature = series.signing_key().sign(&message);
        Self {
            format: FORMAT,
            request_id: request_id.to_owned(),
            key_file: String::from_utf8_lossy(key_file).into_owned(),
            sealed_backup_code: sealed,
            signature: BASE64.encode(signature.to_bytes()),
        }
    }

    /// The backup code, opened with the target's binding.
    pub fn backup_code(&self, binding: &MachineBinding) -> Result<ActivationCode, ResponseError> {
        let sealed = hex::decode(self.sealed_backup_code.trim()).map_err(|_| ResponseError::NotForThisTarget)?;
        let plain = sealbox::open(binding, &backup_context(&self.request_id), &sealed)
            .map_err(|_| ResponseError::NotForThisTarget)?;
        std::str::from_utf8(&plain)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| ResponseError::Malformed("the sealed backup code is not a code".into()))
    }

    /// Reads a response document and checks, in this order: its format, that it answers `expected`
    /// (when the caller knows which request it sent), the key file's own signature, and the response's
    /// signature by the same series key. The key file's binding is the installer's business.
    pub fn verify(bytes: &[u8], expected: Option<&str>) -> Result<(Self, VerifiedKeyFile), ResponseError> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(ResponseError::Malformed(format!("larger than {MAX_DOCUMENT_LEN} bytes")));
        }
        if serde_json::from_slice::<FormatOnly>(bytes).is_ok_and(|f| f.format == 1) {
            return Err(ResponseError::OldFormat);
        }
        let response: Self = serde_json::from_slice(bytes).map_err(ResponseError::Json)?;
        if response.format != FORMAT {
            return Err(ResponseError::UnsupportedFormat(response.format));
        }
        if let Some(expected) = expected {
            if !response.request_id.eq_ignore_ascii_case(expected) {
                return Err(ResponseError::OtherRequest {
                    expected: expected.to_owned(),
                    found: shorten(&response.request_id, 64),
                });
            }
        }
        let key = keyfile::verify(response.key_file.as_bytes())?;
        let public = VerifyingKey::from_bytes(&key.series_public_key).map_err(|_| ResponseError::BadSignature)?;
        let signature = BASE64
            .decode(response.signature.as_bytes())
            .ok()
            .and_then(|raw| <[u8; 64]>::try_from(raw.as_slice()).ok())
            .map(|raw| Signature::from_bytes(&raw))
            .ok_or(ResponseError::BadSignature)?;
        let message = signed_message(&response.request_id, &response.sealed_backup_code, response.key_file.as_bytes());
        public.verify_strict(&message, &signature).map_err(|_| ResponseError::BadSignature)?;
        Ok((response, key))
    }
}

fn signed_message(request_id: &str, sealed_backup_code: &str, key_file: &[u8]) -> Vec<u8> {
    let mut message = RESPONSE_LABEL.to_vec();
    message.extend_from_slice(request_id.to_ascii_uppercase().as_bytes());
    message.push(0);
    message.extend_from_slice(sealed_backup_code.as_bytes());
    message.push(0);
    message.extend_from_slice(&Sha256::digest(key_file));
    message
}

/// ITN and IEC arrive as a JSON number (as in the guide's example), a string of digits, or null; an
/// empty string is null. Anything else is refused.
fn digits_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    normalize_tax_number(&serde_json::Value::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// The one reading of an ITN or IEC field, for the server's `POST /api/licences` and the centre.
pub fn normalize_tax_number(value: &serde_json::Value) -> Result<Option<String>, String> {
    let text = match value {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::Number(n) if n.is_u64() => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_owned(),
        other => return Err(format!("must be digits or null, not {other}")),
    };
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{}` is not up to 12 digits", shorten(&text, 20)));
    }
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::MachineIdentity;
    use crate::key::tests::sample_fields;

    fn parts() -> (SeriesKeys, MachineIdentity, Vec<u8>) {
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let machine = MachineIdentity::from_material(b"centre test machine");
        let mut fields = sample_fields();
        fields.computer_id = machine.computer_id();
        let file = keyfile::issue(&fields, &series, &machine.binding());
        (series, machine, file)
    }

    #[test]
    fn a_signed_response_verifies_names_its_request_and_opens_only_on_its_target() {
        let (series, machine, file) = parts();
        let code = ActivationCode::generate();
        let target = machine.binding().target_key();
        let response = ActivationResponse::sign("ABC", &file, code, &target, &series);
        let bytes = serde_json::to_vec(&response).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(&code.to_string()), "the backup code is sealed");
        let (read, key) = ActivationResponse::verify(&bytes, Some("abc")).unwrap();
        assert_eq!(read.backup_code(&machine.binding()).unwrap(), code);
        let stranger = MachineIdentity::from_material(b"a third party").binding();
        assert!(matches!(read.backup_code(&stranger), Err(ResponseError::NotForThisTarget)));
        assert_eq!(key.fields.key_no, sample_fields().key_no);
        assert!(matches!(ActivationResponse::verify(&bytes, Some("OTHER")), Err(ResponseError::OtherRequest { .. })));
    }

    #[test]
    fn any_altered_part_of_a_response_is_refused() {
        let (series, machine, file) = parts();
        let target = machine.binding().target_key();
        let response = ActivationResponse::sign("ABC", &file, ActivationCode::generate(), &target, &series);
        let mut other_code = response.clone();
        other_code.sealed_backup_code =
            ActivationResponse::sign("ABC", &file, ActivationCode::generate(), &target, &series).sealed_backup_code;
        let mut other_id = response.clone();
        other_id.request_id = "ABD".into();
        for altered in [other_code, other_id] {
            let bytes = serde_json::to_vec(&altered).unwrap();
            assert!(matches!(ActivationResponse::verify(&bytes, None), Err(ResponseError::BadSignature)));
        }
        let mut other_file = response.clone();
        other_file.key_file = other_file.key_file.replacen("\"LicenceCount\":10", "\"LicenceCount\":99", 1);
        let bytes = serde_json::to_vec(&other_file).unwrap();
        assert!(matches!(ActivationResponse::verify(&bytes, None), Err(ResponseError::KeyFile(_))));
        // Signed by another series' key throughout: the key file verifies, the response does not.
        let (stranger, _, _) = parts();
        let mut foreign = response;
        foreign.signature =
            ActivationResponse::sign("ABC", &file, ActivationCode::generate(), &target, &stranger).signature;
        let bytes = serde_json::to_vec(&foreign).unwrap();
        assert!(matches!(ActivationResponse::verify(&bytes, None), Err(ResponseError::BadSignature)));
        assert!(matches!(ActivationResponse::verify(b"{", None), Err(ResponseError::Json(_))));
        let old = br#"{"Format":1,"RequestID":"A","KeyFile":"","BackupCode":"1","Signature":""}"#;
        assert!(matches!(ActivationResponse::verify(old, None), Err(ResponseError::OldFormat)));
    }

    #[test]
    fn a_request_carries_no_code_and_no_binding_and_proves_the_code_for_its_target_only() {
        let machine = MachineIdentity::from_material(b"m");
        let code = ActivationCode::generate();
        let request = ActivationRequest::new(code, &machine.public_target(), None, (None, None), UtcTime::now());
        let text = serde_json::to_string(&request).unwrap();
        assert!(!text.contains(&code.to_string()) && !text.contains(&code.to_string().replace('-', "")));
        assert!(!text.contains(&machine.binding().to_hex()));
        assert!(request.proves(code));
        assert!(!request.proves(ActivationCode::generate()));
        // A third party who read the request cannot point it at a target of their own.
        let thief = MachineIdentity::from_material(b"thief").public_target();
        let mut stolen = request.clone();
        stolen.computer_id = thief.computer_id;
        stolen.target_key = thief.target_key;
        assert!(!stolen.proves(code));
        let mut other_itn = request.clone();
        other_itn.itn = Some("7701234567".into());
        assert!(!other_itn.proves(code));
    }

    #[test]
    fn requests_take_itn_as_number_or_string_and_check_their_target() {
        let machine = MachineIdentity::from_material(b"m");
        let request = ActivationRequest::new(
            ActivationCode::generate(),
            &machine.public_target(),
            None,
            (None, None),
            UtcTime::now(),
        );
        let mut json = serde_json::to_value(&request).unwrap();
        json["ITN"] = serde_json::json!(1234567890u64);
        json["IEC"] = serde_json::json!("");
        let read = ActivationRequest::from_json(json.to_string().as_bytes()).unwrap();
        assert_eq!(read.itn.as_deref(), Some("1234567890"));
        assert_eq!(read.iec, None);
        json["ITN"] = serde_json::json!("12a");
        let bad_itn = ActivationRequest::from_json(json.to_string().as_bytes()).unwrap_err();
        assert!(matches!(&bad_itn, RequestError::Malformed(_)) && bad_itn.to_string().contains("12a"), "{bad_itn}");
        json["ITN"] = serde_json::Value::Null;
        json["TargetKey"] = serde_json::json!("00");
        let bad_target = ActivationRequest::from_json(json.to_string().as_bytes()).unwrap_err();
        assert!(
            matches!(bad_target, RequestError::Target(crate::identity::IdentityError::BadTargetKey(_))),
            "{bad_target}"
        );
        json["Format"] = serde_json::json!(1);
        let old = ActivationRequest::from_json(json.to_string().as_bytes()).unwrap_err();
        assert!(matches!(old, RequestError::OldFormat) && old.to_string().contains("earlier release"), "{old}");
    }

    #[test]
    fn refusal_codes_round_trip() {
        for code in 1..=8 {
            assert_eq!(Refusal::from_code(code).unwrap().code(), code);
        }
        assert_eq!(Refusal::from_code(9), None);
        assert_eq!(CentreError::new(Refusal::CodeUsed, "x").refusal(), Some(Refusal::CodeUsed));
    }
}
