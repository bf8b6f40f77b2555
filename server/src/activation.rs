//! Installing licences from activation and backup codes (`POST /api/licences`): the request to the
//! vendor's activation centre, online or as a file, and the installation of its answer.
//!
//! Online, the request goes to `[Common] LicenceCenterUrl` and the answer is installed at once.
//! Offline (no centre configured, or none reachable), the administrator asks the server for the
//! request file (`POST /api/licences/request`), has the vendor answer it, and gives the server the
//! response file (`POST /api/licences/response`). Both paths end in [`install`], which installs a key
//! only if the response is signed end to end, names the request it answers (when that is known), and
//! holds a key bound to this computer or to a USB blank plugged into it — so a tampered, foreign or
//! replayed answer installs nothing.
//!
//! Each installed key's backup code is kept beside it as `{KeyID}.{KeyNo}.backup`; the administrator
//! reads it with `GET /api/licences/{KeyNo}/backupcode` and should keep a copy away from this disk.
//!
//! Every install records the key's issue in the data folder's `reissued.list`
//! (`licence_protocol::keystore::issue_register`). A key file of an earlier issue — a copy kept from
//! before a backup code moved the key onto a blank or re-bound it — is then not workable here, so a
//! moved key stops working where it was even if its old file is put back. (Someone who also deletes
//! the list restores the old file's use on this computer: see SECURITY.md on what root can do.)

use licence_protocol::activation::ActivationCode;
use licence_protocol::centre::{
    self, ActivationRequest, ActivationResponse, CentreError, Refusal, ResponseError, MAX_DOCUMENT_LEN,
};
use licence_protocol::identity::{MachineBinding, MachineIdentity, PublicTarget};
use licence_protocol::key::{KeyFields, SeriesId};
use licence_protocol::keyfile;
use licence_protocol::keystore;
use licence_protocol::text::{self, shorten};
use licence_protocol::time::UtcTime;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the centre has to accept the connection, and to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// What the administrator asks for: the guide's `POST /api/licences` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOrder {
    pub code: ActivationCode,
    pub itn: Option<String>,
    pub iec: Option<String>,
    pub blank_key_no: Option<u64>,
}

/// Where a key is to be bound: this computer, or a USB blank plugged into it. `public` is what the
/// request carries (no secret); `binding` stays here and opens what the vendor seals to it.
pub struct Target {
    pub public: PublicTarget,
    pub binding: MachineBinding,
    pub blank_key_no: Option<u64>,
}

/// A cause kept inside an [`ActivationError`].
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a licence was not installed; the REST API maps each to one status (`http::error`).
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("{0}")]
    Invalid(String),
    #[error("USB blank {0} is not plugged into this computer (or is not a genuine blank); plug it in and try again")]
    BlankMissing(u64),
    #[error("this computer has no identity ({0}); no key can be bound to it until that is fixed")]
    NoIdentity(String),
    #[error(
        "no activation centre is configured ([Common] LicenceCenterUrl); activate offline: get the request file \
         with POST /api/licences/request, have the vendor answer it, and give the answer to POST /api/licences/response"
    )]
    NoCentre,
    #[error(
        "the activation centre at {url} cannot be reached: {source}; try again later, or activate offline \
         (POST /api/licences/request)"
    )]
    Unreachable {
        url: String,
        #[source]
        source: Cause,
    },
    #[error("the activation centre refused: {message}")]
    Refused { refusal: Refusal, message: String },
    #[error("the activation centre's answer cannot be used: {0}")]
    BadAnswer(#[source] Cause),
    #[error("the activation response cannot be installed: {0}")]
    Rejected(#[source] Cause),
    #[error("the request to the centre cannot be written: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the key file cannot be written: {0}")]
    Write(#[source] keyfile::KeyFileError),
}

/// A key just installed, and the backup code that came with it.
#[derive(Debug)]
pub struct Installed {
    pub fields: KeyFields,
    pub path: PathBuf,
    pub backup_code: ActivationCode,
    /// The key replaced an earlier issue of itself (a backup code moved or re-bound it).
    pub replaced: bool,
}

impl InstallOrder {
    /// Reads the guide's body: `ActivationCodeString` (required), `ITN`, `IEC` (digits as a number or
    /// a string, or null) and `BlankKeyNo` (a number, digits, or null). Unknown fields are refused so a
    /// misspelt `ITN` is not silently dropped.
    pub fn from_json(body: &Value) -> Result<Self, ActivationError> {
        let invalid = |s: String| ActivationError::Invalid(s);
        let object = body.as_object().ok_or_else(|| invalid("the request body must be a JSON object".into()))?;
        for name in object.keys() {
            if !["ActivationCodeString", "ITN", "IEC", "BlankKeyNo"].contains(&name.as_str()) {
                return Err(invalid(format!(
                    "unknown field `{}`; expected ActivationCodeString, ITN, IEC, BlankKeyNo",
                    shorten(name, 40)
                )));
            }
        }
        let code = match object.get("ActivationCodeString") {
            Some(Value::String(text)) => {
                text.parse::<ActivationCode>().map_err(|e| invalid(format!("ActivationCodeString: {e}")))?
            }
            Some(_) => {
                return Err(invalid("ActivationCodeString must be a string like 4345-9320-2035-7421-5369".into()))
            }
            None => return Err(invalid("ActivationCodeString is required".into())),
        };
        let tax = |name: &str| {
            centre::normalize_tax_number(object.get(name).unwrap_or(&Value::Null))
                .map_err(|e| invalid(format!("{name} {e}")))
        };
        let blank_key_no = match object.get("BlankKeyNo").unwrap_or(&Value::Null) {
            Value::Null => None,
            Value::Number(n) => Some(
                n.as_u64()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid(format!("BlankKeyNo {n} is not a serial number")))?,
            ),
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(
                s.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid(format!("BlankKeyNo `{}` is not a serial number", shorten(s, 30))))?,
            ),
            _ => return Err(invalid("BlankKeyNo must be a number or null".into())),
        };
        Ok(Self { code, itn: tax("ITN")?, iec: tax("IEC")?, blank_key_no })
    }

    /// The request document for `target`, dated `now`.
    pub fn request(&self, target: &Target, now: UtcTime) -> ActivationRequest {
        ActivationRequest::new(
            self.code,
            &target.public,
            target.blank_key_no,
            (self.itn.clone(), self.iec.clone()),
            now,
        )
    }
}

/// Where a key is to be bound: this computer (`identity`), or the USB blank `blank`, which must be
/// plugged in now.
pub fn resolve_target(
    identity: Option<&MachineIdentity>,
    usb_enabled: bool,
    blank: Option<u64>,
) -> Result<Target, ActivationError> {
    match blank {
        Some(serial) => {
            let found = crate::usb::scan(usb_enabled).keys.into_iter().find(|k| k.serial == serial && k.blank);
            let blank = found.ok_or(ActivationError::BlankMissing(serial))?;
            Ok(Target { public: blank.public_target(), binding: blank.binding().clone(), blank_key_no: Some(serial) })
        }
        None => {
            let identity = identity
                .ok_or_else(|| ActivationError::NoIdentity("see the server log for why it could not be read".into()))?;
            if !identity.has_host_secret() {
                return Err(ActivationError::NoIdentity(
                    "the host secret cannot be read by this account; run this as the licence server's own account"
                        .into(),
                ));
            }
            Ok(Target { public: identity.public_target(), binding: identity.binding(), blank_key_no: None })
        }
    }
}

/// Sends `request` to the centre at `base_url` and returns the raw response document.
pub fn ask_centre(base_url: &str, request: &ActivationRequest) -> Result<Vec<u8>, ActivationError> {
    let url = format!("{}{}", base_url.trim_end_matches('/'), centre::ACTIVATE_PATH);
    let agent = ureq::AgentBuilder::new().timeout_connect(CONNECT_TIMEOUT).timeout(ANSWER_TIMEOUT).redirects(0).build();
    let body = serde_json::to_vec(request)?;
    log::info!(
        "asking the activation centre {url} to redeem {} (request {})",
        request.code_label(),
        request.request_id
    );
    match agent.post(&url).set("Content-Type", "application/json").send_bytes(&body) {
        Ok(response) => read_limited(response).map_err(|e| ActivationError::Unreachable { url, source: e.into() }),
        Err(ureq::Error::Status(status, response)) => {
            let bytes = read_limited(response).unwrap_or_default();
            match serde_json::from_slice::<CentreError>(&bytes).ok().and_then(|e| Some((e.refusal()?, e.message))) {
                Some((refusal, message)) => {
                    Err(ActivationError::Refused { refusal, message: shorten(&message, text::TEXT) })
                }
                None => Err(ActivationError::BadAnswer(
                    format!("HTTP status {status} without a refusal the server understands").into(),
                )),
            }
        }
        Err(ureq::Error::Transport(t)) => Err(ActivationError::Unreachable { url, source: Box::new(t) }),
    }
}

fn read_limited(response: ureq::Response) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    response.into_reader().take(MAX_DOCUMENT_LEN as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > MAX_DOCUMENT_LEN {
        return Err(std::io::Error::other(format!("the answer is larger than {MAX_DOCUMENT_LEN} bytes")));
    }
    Ok(bytes)
}

/// Checks a response document and installs its key into `data_dir`.
///
/// `expected` is the request id when the caller sent the request itself (online). `target` finds
/// where the key must be bound from its `BlankKeyNo` (`None`: this computer); the key must name that
/// target's `ComputerID` and its secret must unwrap with that target's binding.
pub fn install(
    data_dir: &Path,
    response: &[u8],
    expected: Option<&str>,
    target: impl FnOnce(Option<u64>) -> Result<Target, ActivationError>,
) -> Result<Installed, ActivationError> {
    // Online, a bad answer is the centre's (or the network's) fault; offline, it is the file's.
    let (response, key) =
        ActivationResponse::verify(response, expected).map_err(|e: ResponseError| match expected {
            Some(_) => ActivationError::BadAnswer(Box::new(e)),
            None => ActivationError::Rejected(Box::new(e)),
        })?;
    let fields = key.fields.clone();
    let target = target(fields.blank_key_no)?;
    key.ensure_issued_for(&target.public.computer_id).map_err(|e| ActivationError::Rejected(Box::new(e)))?;
    key.unwrap_secrets(&target.binding).map_err(|_| {
        ActivationError::Rejected(
            match target.blank_key_no {
                Some(blank) => format!("key {} is not bound to USB blank {blank}", fields.key_no),
                None => format!("key {} was not issued for this computer", fields.key_no),
            }
            .into(),
        )
    })?;
    let backup_code = response.backup_code(&target.binding).map_err(|e| ActivationError::Rejected(Box::new(e)))?;
    let path = data_dir.join(fields.file_name());
    let replaced = check_newer_than_installed(&path, &fields)?;
    keyfile::write_atomically(&path, response.key_file.as_bytes()).map_err(ActivationError::Write)?;
    if let Err(e) = record_issue(data_dir, &fields) {
        log::error!("key {} installed, but its issue could not be recorded: {e}", fields.key_no);
    }
    let backup_path = backup_code_path(data_dir, fields.key_id, fields.key_no);
    if let Err(e) = keyfile::write_secret_atomically(&backup_path, format!("{backup_code}\n").as_bytes()) {
        log::error!("key {} installed, but its backup code could not be kept: {e}", fields.key_no);
    }
    log::info!(
        "key {} ({}, {} licence(s)) installed as {}{}",
        fields.key_no,
        fields.product_name,
        fields.licence_count,
        path.display(),
        if replaced { ", replacing its earlier issue" } else { "" }
    );
    Ok(Installed { fields, path, backup_code, replaced })
}

/// An earlier issue of the same key is replaced; a later one is never replaced by an older answer
/// (a response file used twice, or kept from before a backup code moved the key).
fn check_newer_than_installed(path: &Path, new: &KeyFields) -> Result<bool, ActivationError> {
    let Ok(bytes) = std::fs::read(path) else { return Ok(false) };
    let Ok(installed) = keyfile::verify(&bytes) else { return Ok(true) };
    let issued = keystore::issue_date;
    if issued(&installed.fields) > issued(new) {
        return Err(ActivationError::Rejected(
            format!(
                "a later issue of key {} (activated {}) is installed; this response is older",
                new.key_no,
                issued(&installed.fields)
            )
            .into(),
        ));
    }
    Ok(true)
}

fn record_issue(data_dir: &Path, fields: &KeyFields) -> Result<(), keyfile::KeyFileError> {
    let mut register = keystore::issue_register(data_dir);
    let date = keystore::issue_date(fields);
    if register.get(&fields.key_no).is_some_and(|known| *known >= date) {
        return Ok(());
    }
    register.insert(fields.key_no, date);
    let text: String = register.iter().map(|(key_no, date)| format!("{key_no} {date}\n")).collect();
    keyfile::write_atomically(&data_dir.join(keystore::REISSUED_FILE), text.as_bytes())
}

/// `{KeyID}.{KeyNo}.backup` beside the key file.
pub fn backup_code_path(data_dir: &Path, series: SeriesId, key_no: u64) -> PathBuf {
    data_dir.join(format!("{series}.{key_no}.backup"))
}

/// The backup code kept for an installed key, if the server installed it from a code.
pub fn backup_code(data_dir: &Path, series: SeriesId, key_no: u64) -> Option<ActivationCode> {
    let text = std::fs::read_to_string(backup_code_path(data_dir, series, key_no)).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use licence_protocol::identity::MachineIdentity;
    use licence_protocol::key::KeyKind;
    use licence_protocol::series::SeriesKeys;
    use serde_json::json;

    #[test]
    fn the_guides_body_is_read_with_exact_errors() {
        let code = ActivationCode::generate().to_string();
        let order = InstallOrder::from_json(
            &json!({"ActivationCodeString": code, "ITN": 1234567890u64, "IEC": null, "BlankKeyNo": null}),
        )
        .unwrap();
        assert_eq!(order.itn.as_deref(), Some("1234567890"));
        assert_eq!(order.blank_key_no, None);
        let order = InstallOrder::from_json(&json!({"ActivationCodeString": code, "BlankKeyNo": "77"})).unwrap();
        assert_eq!(order.blank_key_no, Some(77));
        for (body, needle) in [
            (json!([]), "JSON object"),
            (json!({}), "ActivationCodeString is required"),
            (json!({"ActivationCodeString": 5}), "must be a string"),
            (json!({"ActivationCodeString": "4345-9320-2035-7421-5361"}), "mistyped"),
            (json!({"ActivationCodeString": code, "ITN": "12x"}), "ITN"),
            (json!({"ActivationCodeString": code, "ITN": -1}), "ITN"),
            (json!({"ActivationCodeString": code, "BlankKeyNo": "a"}), "BlankKeyNo"),
            (json!({"ActivationCodeString": code, "BlankKeyNo": true}), "BlankKeyNo"),
            (json!({"ActivationCodeString": code, "Itn": "1"}), "unknown field `Itn`"),
        ] {
            let e = InstallOrder::from_json(&body).unwrap_err();
            assert!(e.to_string().contains(needle), "{body}: {e}");
            assert!(matches!(e, ActivationError::Invalid(_)), "{body}: {e:?}");
        }
    }

    fn key_for(machine: &MachineIdentity, series: &SeriesKeys, activated: &str) -> KeyFields {
        KeyFields {
            key_no: 7100001,
            key_id: series.series,
            reg_no: "R-1".into(),
            key_type: KeyKind::Main,
            licence_count: 5,
            product_version: "1.0".into(),
            blank_key_no: None,
            activation_code: Some(ActivationCode::generate().to_string()),
            activation_date: Some(UtcTime::parse(activated).unwrap()),
            start_date: UtcTime::parse(activated).unwrap(),
            period: 0,
            expire_date: None,
            flags: 0,
            itn: None,
            iec: None,
            product_name: "P".into(),
            article: "A".into(),
            article_name: "AN".into(),
            support_date: None,
            computer_id: machine.computer_id(),
        }
    }

    fn here(machine: &MachineIdentity) -> impl FnOnce(Option<u64>) -> Result<Target, ActivationError> + '_ {
        move |_| Ok(Target { public: machine.public_target(), binding: machine.binding(), blank_key_no: None })
    }

    #[test]
    fn only_a_signed_answer_for_this_computer_installs_and_never_an_older_one() {
        let dir = tempdir();
        let series = SeriesKeys::generate("672B".parse().unwrap());
        let machine = MachineIdentity::from_material(b"here");
        let stranger = MachineIdentity::from_material(b"elsewhere");
        let answer = |m: &MachineIdentity, activated: &str| {
            let file = keyfile::issue(&key_for(m, &series, activated), &series, &m.binding());
            serde_json::to_vec(&ActivationResponse::sign(
                "R1",
                &file,
                ActivationCode::generate(),
                &m.binding().target_key(),
                &series,
            ))
            .unwrap()
        };
        let newer = answer(&machine, "2026-02-01T00:00:00Z");
        let installed = install(&dir, &newer, Some("R1"), here(&machine)).unwrap();
        assert!(!installed.replaced);
        assert_eq!(backup_code(&dir, series.series, 7100001), Some(installed.backup_code));
        assert!(matches!(install(&dir, &newer, Some("R2"), here(&machine)), Err(ActivationError::BadAnswer(_))));
        let older = answer(&machine, "2026-01-01T00:00:00Z");
        let e = install(&dir, &older, None, here(&machine)).unwrap_err();
        assert!(e.to_string().contains("a later issue of key 7100001"), "{e}");
        let foreign = answer(&stranger, "2026-03-01T00:00:00Z");
        let e = install(&dir, &foreign, None, here(&machine)).unwrap_err();
        assert!(e.to_string().contains("another computer"), "{e}");
        let mut tampered: Value = serde_json::from_slice(&newer).unwrap();
        let other: Value = serde_json::from_slice(&answer(&machine, "2026-02-01T00:00:00Z")).unwrap();
        tampered["SealedBackupCode"] = other["SealedBackupCode"].clone();
        let e = install(&dir, tampered.to_string().as_bytes(), None, here(&machine)).unwrap_err();
        assert!(e.to_string().contains("altered"), "{e}");
        assert!(install(&dir, &answer(&machine, "2026-03-01T00:00:00Z"), None, here(&machine)).unwrap().replaced);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unreachable_centre_is_said_so() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let machine = MachineIdentity::from_material(b"m");
        let order = InstallOrder { code: ActivationCode::generate(), itn: None, iec: None, blank_key_no: None };
        let target = Target { public: machine.public_target(), binding: machine.binding(), blank_key_no: None };
        let e = ask_centre(&format!("http://127.0.0.1:{port}"), &order.request(&target, UtcTime::now())).unwrap_err();
        assert!(matches!(e, ActivationError::Unreachable { .. }), "{e}");
        assert!(std::error::Error::source(&e).is_some(), "the transport's error is kept: {e:?}");
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "licence-activation-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
