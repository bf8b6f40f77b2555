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
//! whole is signed by the same key over its request id, its backup code and a digest of the key file
//! ([`ActivationResponse::verify`]), so neither the code nor the pairing with the request can be
//! altered on the way, on the wire or on a USB stick.

use crate::activation::ActivationCode;
use crate::keyfile::{self, KeyFileError, VerifiedKeyFile};
use crate::series::SeriesKeys;
use crate::time::UtcTime;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

/// The only `Format` of both documents so far.
pub const FORMAT: u32 = 1;
/// The centre's route, relative to `LicenceCenterUrl`.
pub const ACTIVATE_PATH: &str = "/activate";
/// Requests and responses are a few kilobytes; larger documents are refused before parsing.
pub const MAX_DOCUMENT_LEN: usize = 128 * 1024;

const RESPONSE_LABEL: &[u8] = b"licence activation response v1\0";

/// Sent by a licence server: redeem `ActivationCode` for the target described by `ComputerID` and
/// `Binding` (a computer's, or a USB blank's when `BlankKeyNo` is set). Its `Debug` leaves the
/// binding out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ActivationRequest {
    pub format: u32,
    /// 32 random hex digits; the response names it back.
    #[serde(rename = "RequestID")]
    pub request_id: String,
    pub created: UtcTime,
    /// An activation code or a backup code.
    pub activation_code: ActivationCode,
    /// The licensee's taxpayer number (ИНН), if given; digits only.
    #[serde(rename = "ITN", default, deserialize_with = "digits_or_null")]
    pub itn: Option<String>,
    /// The licensee's registration reason code (КПП), if given; digits only.
    #[serde(rename = "IEC", default, deserialize_with = "digits_or_null")]
    pub iec: Option<String>,
    /// The target's `ComputerID`: 40 hex digits.
    #[serde(rename = "ComputerID")]
    pub computer_id: String,
    /// The target's binding (64 hex digits), which the key's series secret is wrapped for.
    pub binding: String,
    /// The USB blank the key is for, if any.
    pub blank_key_no: Option<u64>,
    /// The requesting server's version, for the centre's log.
    pub server_version: String,
}

/// The centre's answer: the key file for the target and the key's current backup code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ActivationResponse {
    pub format: u32,
    #[serde(rename = "RequestID")]
    pub request_id: String,
    /// The key file's exact text (three lines).
    pub key_file: String,
    pub backup_code: ActivationCode,
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

/// Why a response cannot be installed.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    #[error("not an activation response: {0}")]
    Malformed(String),
    #[error("activation response format {0} is not supported")]
    UnsupportedFormat(u32),
    #[error("the response answers request {found}, not {expected}")]
    OtherRequest { expected: String, found: String },
    #[error("the response was altered: its signature does not match")]
    BadSignature,
    #[error("the key file in the response: {0}")]
    KeyFile(#[from] KeyFileError),
}

impl std::fmt::Debug for ActivationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivationRequest")
            .field("request_id", &self.request_id)
            .field("activation_code", &self.activation_code)
            .field("computer_id", &self.computer_id)
            .field("blank_key_no", &self.blank_key_no)
            .finish_non_exhaustive()
    }
}

impl ActivationRequest {
    /// A request with a fresh random id, created `now`.
    pub fn new(
        code: ActivationCode,
        target: &crate::identity::BindingRequest,
        blank_key_no: Option<u64>,
        now: UtcTime,
    ) -> Self {
        let mut id = [0u8; 16];
        getrandom::getrandom(&mut id).expect("the OS random source works");
        Self {
            format: FORMAT,
            request_id: hex::encode_upper(id),
            created: now,
            activation_code: code,
            itn: None,
            iec: None,
            computer_id: target.computer_id.clone(),
            binding: target.binding.clone(),
            blank_key_no,
            server_version: crate::VERSION.to_owned(),
        }
    }

    /// Reads a request document, refusing other formats and oversized input.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(format!("the request is larger than {MAX_DOCUMENT_LEN} bytes"));
        }
        let request: Self = serde_json::from_slice(bytes).map_err(|e| format!("not an activation request: {e}"))?;
        if request.format != FORMAT {
            return Err(format!("activation request format {} is not supported", request.format));
        }
        crate::identity::parse_computer_id(&request.computer_id).map_err(|e| e.to_string())?;
        crate::identity::MachineBinding::from_hex(&request.binding).map_err(|e| e.to_string())?;
        Ok(request)
    }
}

impl ActivationResponse {
    /// The centre's side: signs `key_file` and `backup_code` as the answer to `request_id`.
    pub fn sign(request_id: &str, key_file: &[u8], backup_code: ActivationCode, series: &SeriesKeys) -> Self {
        let message = signed_message(request_id, backup_code, key_file);
        let signature = series.signing_key().sign(&message);
        Self {
            format: FORMAT,
            request_id: request_id.to_owned(),
            key_file: String::from_utf8_lossy(key_file).into_owned(),
            backup_code,
            signature: BASE64.encode(signature.to_bytes()),
        }
    }

    /// Reads a response document and checks, in this order: its format, that it answers `expected`
    /// (when the caller knows which request it sent), the key file's own signature, and the response's
    /// signature by the same series key. The key file's binding is the installer's business.
    pub fn verify(bytes: &[u8], expected: Option<&str>) -> Result<(Self, VerifiedKeyFile), ResponseError> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(ResponseError::Malformed(format!("larger than {MAX_DOCUMENT_LEN} bytes")));
        }
        let response: Self = serde_json::from_slice(bytes).map_err(|e| ResponseError::Malformed(e.to_string()))?;
        if response.format != FORMAT {
            return Err(ResponseError::UnsupportedFormat(response.format));
        }
        if let Some(expected) = expected {
            if !response.request_id.eq_ignore_ascii_case(expected) {
                return Err(ResponseError::OtherRequest {
                    expected: expected.to_owned(),
                    found: response.request_id.chars().take(64).collect(),
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
        let message = signed_message(&response.request_id, response.backup_code, response.key_file.as_bytes());
        public.verify_strict(&message, &signature).map_err(|_| ResponseError::BadSignature)?;
        Ok((response, key))
    }
}

fn signed_message(request_id: &str, backup_code: ActivationCode, key_file: &[u8]) -> Vec<u8> {
    let mut message = RESPONSE_LABEL.to_vec();
    message.extend_from_slice(request_id.to_ascii_uppercase().as_bytes());
    message.push(0);
    message.extend_from_slice(backup_code.to_string().as_bytes());
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
        return Err(format!("`{}` is not up to 12 digits", text.chars().take(20).collect::<String>()));
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
    fn a_signed_response_verifies_and_names_its_request() {
        let (series, _, file) = parts();
        let code = ActivationCode::generate();
        let response = ActivationResponse::sign("ABC", &file, code, &series);
        let bytes = serde_json::to_vec(&response).unwrap();
        let (read, key) = ActivationResponse::verify(&bytes, Some("abc")).unwrap();
        assert_eq!(read.backup_code, code);
        assert_eq!(key.fields.key_no, sample_fields().key_no);
        assert!(matches!(ActivationResponse::verify(&bytes, Some("OTHER")), Err(ResponseError::OtherRequest { .. })));
    }

    #[test]
    fn any_altered_part_of_a_response_is_refused() {
        let (series, _, file) = parts();
        let response = ActivationResponse::sign("ABC", &file, ActivationCode::generate(), &series);
        let mut other_code = response.clone();
        other_code.backup_code = ActivationCode::generate();
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
        foreign.signature = ActivationResponse::sign("ABC", &file, foreign.backup_code, &stranger).signature;
        let bytes = serde_json::to_vec(&foreign).unwrap();
        assert!(matches!(ActivationResponse::verify(&bytes, None), Err(ResponseError::BadSignature)));
        assert!(matches!(ActivationResponse::verify(b"{", None), Err(ResponseError::Malformed(_))));
    }

    #[test]
    fn requests_take_itn_as_number_or_string_and_check_their_target() {
        let machine = MachineIdentity::from_material(b"m");
        let request =
            ActivationRequest::new(ActivationCode::generate(), &machine.binding_request(), None, UtcTime::now());
        let mut json = serde_json::to_value(&request).unwrap();
        json["ITN"] = serde_json::json!(1234567890u64);
        json["IEC"] = serde_json::json!("");
        let read = ActivationRequest::from_json(json.to_string().as_bytes()).unwrap();
        assert_eq!(read.itn.as_deref(), Some("1234567890"));
        assert_eq!(read.iec, None);
        json["ITN"] = serde_json::json!("12a");
        assert!(ActivationRequest::from_json(json.to_string().as_bytes()).unwrap_err().contains("12a"));
        json["ITN"] = serde_json::Value::Null;
        json["Binding"] = serde_json::json!("00");
        assert!(ActivationRequest::from_json(json.to_string().as_bytes()).is_err());
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
