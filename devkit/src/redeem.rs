//! The one redemption rule, applied by the online centre (`POST /activate`) and the offline
//! `licenceedit request answer` alike. A request (format 2) does not carry its code: the code is found
//! by the request's `CodeDigest` among the activation codes, then among the backup codes (the two share
//! one space), and the request must then prove it was made with that code for this very target and
//! licensee (`ActivationRequest::proves`). A request whose proof does not match is refused exactly as
//! an unknown code (404, reason 2), so whoever copied the digest out of someone else's request learns
//! nothing, not even that the code exists. Everything a redemption reads and writes happens in one
//! `BEGIN IMMEDIATE` transaction, so two redemptions of one code are serialized and only one of two
//! targets can win.
//!
//! The key file is issued to the request's `TargetKey` (public) and the answer's backup code is sealed
//! to it: nothing the centre sends opens anywhere else. A target is the ComputerID, the BlankKeyNo and
//! that key together: the same ComputerID with another target key is another target, so that a request
//! naming a genuine ComputerID beside a key of one's own gets neither the key nor its backup code.
//! Refusals and logs show a code only by its last group of digits.
//!
//! - An activation code is redeemed once: a new KeyNo, the product's fields, a key file for the
//!   request's target and a first backup code. The same code for the same target (ComputerID and
//!   BlankKeyNo) answers the stored key again, since the first answer may have been lost; another
//!   target is refused with `CodeUsed`.
//! - The key's current backup code re-issues the same key (same KeyNo, same fields) for the request's
//!   target, dated now, and is spent; the answer carries the next backup code. A spent backup code is
//!   answered again only for the target it moved the key to, while the key is still there.
//! - A revoked activation code is refused, and so are its key's backup codes: the key file already
//!   issued keeps working, but it is never issued again.

use crate::catalogue::{find_code_by_digest, find_product, CodeRecord, Product};
use crate::keys::{
    add_backup, current_backup, find_key, insert_key, record, replace_key, target_of, KeyRecord, Target,
};
use crate::store::{fill_digests, fresh_code, next_key_no, time_column, VendorStore};
use licence_protocol::activation::ActivationCode;
use licence_protocol::centre::{ActivationRequest, ActivationResponse, CentreError, Refusal};
use licence_protocol::identity::{parse_computer_id, TargetKey};
use licence_protocol::key::KeyFields;
use licence_protocol::keyfile;
use licence_protocol::time::UtcTime;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// What a redemption did, for the answer and the log.
#[derive(Debug, Clone)]
pub struct Redemption {
    pub response: ActivationResponse,
    /// The code the request proved (an activation or a backup code); for [`shown`] in logs only.
    pub code: ActivationCode,
    pub key_no: u64,
    pub how: How,
    pub target: Target,
}

/// Which rule answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// An activation code became a new key.
    Activated,
    /// The same activation code for the same target: the stored key again.
    Repeated,
    /// A backup code moved the key to the request's target.
    Moved,
    /// A spent backup code asked again for the target it moved the key to.
    MoveRepeated,
}

impl How {
    pub fn as_str(self) -> &'static str {
        match self {
            How::Activated => "activation",
            How::Repeated => "repeat",
            How::Moved => "backup",
            How::MoveRepeated => "backup-repeat",
        }
    }

    /// Whether the code in the request was a backup code (which the centre's log does not show whole).
    pub fn by_backup_code(self) -> bool {
        matches!(self, How::Moved | How::MoveRepeated)
    }
}

/// Why a redemption did not answer with a key.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// A refusal the requester is told about, as it is.
    #[error("{}", .0.message)]
    Refused(CentreError),
    /// The centre's own failure: the detail is for its log, the requester gets [`RedeemError::to_centre_error`].
    #[error("{0}")]
    Internal(#[from] crate::Error),
    /// The vendor store contradicts itself (a code names a missing product, a key lacks its backup
    /// code); like [`RedeemError::Internal`], for the centre's log only.
    #[error("{0}")]
    Inconsistent(String),
}

impl RedeemError {
    /// What the requester is told: refusals as they are, internal failures without their detail.
    pub fn to_centre_error(&self) -> CentreError {
        match self {
            RedeemError::Refused(e) => e.clone(),
            RedeemError::Internal(_) | RedeemError::Inconsistent(_) => CentreError::new(
                Refusal::Internal,
                "the activation centre cannot answer right now; try again later or contact the vendor",
            ),
        }
    }

    pub fn refusal(&self) -> Refusal {
        match self {
            RedeemError::Refused(e) => e.refusal().unwrap_or(Refusal::Internal),
            RedeemError::Internal(_) | RedeemError::Inconsistent(_) => Refusal::Internal,
        }
    }
}

impl From<rusqlite::Error> for RedeemError {
    fn from(e: rusqlite::Error) -> Self {
        RedeemError::Internal(crate::Error::Database(e))
    }
}

fn refuse(refusal: Refusal, message: impl Into<String>) -> RedeemError {
    RedeemError::Refused(CentreError::new(refusal, message))
}

/// Redeems `request` against `store` at `now`; see the module's rules.
pub fn redeem(store: &mut VendorStore, request: &ActivationRequest, now: UtcTime) -> Result<Redemption, RedeemError> {
    let computer_id =
        parse_computer_id(&request.computer_id).map_err(|e| refuse(Refusal::BadRequest, e.to_string()))?;
    let target_key = request.target().map_err(|e| refuse(Refusal::BadRequest, e.to_string()))?;
    let wanted = Target { computer_id, blank_key_no: request.blank_key_no };
    let ask = Ask { request, wanted: &wanted, target_key: &target_key, now };

    let tx = store.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let digest = request.code_digest.to_ascii_lowercase();
    let mut found = find_by_digest(&tx, &digest)?;
    if found.is_none() && fill_digests(&tx)? > 0 {
        // Codes written by an earlier release's licenceedit into this store had no digest yet.
        found = find_by_digest(&tx, &digest)?;
    }
    // Whoever does not know the code learns nothing from the answer: a request whose proof does not
    // match is refused exactly as an unknown code, before anything about the code is looked at.
    let found = found.filter(|found| request.proves(found.code()));
    let ((key, backup, how), code) = match found {
        Some(Found::Activation(record)) => {
            (by_activation_code(&tx, store_series(&store.dir), &ask, &record)?, record.code)
        }
        Some(Found::Backup(backup)) => (by_backup_code(&tx, store_series(&store.dir), &ask, &backup)?, backup.code),
        None => {
            return Err(refuse(
                Refusal::UnknownCode,
                format!(
                    "the {} was never issued; compare the code with the one you received, or contact the vendor",
                    request.code_label()
                ),
            ))
        }
    };
    let series = crate::store::read_cryptkey(&store.dir.join(format!("{}.cryptkey", key.series)), key.series)?;
    let response = ActivationResponse::sign(&request.request_id, &key.key_file, backup, &target_key, &series);
    let target = key.target();
    record(&tx, now, key.key_no, how.as_str(), &target, Some(&request.request_id), Some(&request.server_version))?;
    tx.commit()?;
    Ok(Redemption { response, code, key_no: key.key_no, how, target })
}

/// A code as the centre shows it in refusals and logs: only its last group of digits, since the whole
/// code redeems (`****-****-****-****-5369`).
pub fn shown(code: ActivationCode) -> String {
    let text = code.to_string();
    format!("****-****-****-****-{}", &text[text.len().saturating_sub(4)..])
}

/// The code a request's digest names.
enum Found {
    Activation(CodeRecord),
    Backup(Backup),
}

impl Found {
    fn code(&self) -> ActivationCode {
        match self {
            Found::Activation(record) => record.code,
            Found::Backup(backup) => backup.code,
        }
    }
}

fn find_by_digest(tx: &Connection, digest: &str) -> rusqlite::Result<Option<Found>> {
    if let Some(code) = find_code_by_digest(tx, digest)? {
        return Ok(Some(Found::Activation(code)));
    }
    Ok(find_backup(tx, digest)?.map(Found::Backup))
}

/// What every rule needs of the request.
struct Ask<'a> {
    request: &'a ActivationRequest,
    wanted: &'a Target,
    /// The public key the key's secrets and the backup code are sealed to.
    target_key: &'a TargetKey,
    now: UtcTime,
}

impl Ask<'_> {
    /// Whether `key` as stored is already the one for this request: the same computer or blank, and
    /// its secrets sealed to this request's target key.
    fn is_where(&self, key: &KeyRecord) -> bool {
        key.target() == *self.wanted && key.sealed_to().as_ref() == Some(self.target_key)
    }
}

/// Reads a series' cryptkey from the store's folder.
fn store_series(
    dir: &std::path::Path,
) -> impl Fn(licence_protocol::key::SeriesId) -> crate::Result<licence_protocol::series::SeriesKeys> + '_ {
    move |series| crate::store::read_cryptkey(&dir.join(format!("{series}.cryptkey")), series)
}

fn by_activation_code(
    tx: &Connection,
    series: impl Fn(licence_protocol::key::SeriesId) -> crate::Result<licence_protocol::series::SeriesKeys>,
    ask: &Ask,
    code: &CodeRecord,
) -> Result<(KeyRecord, ActivationCode, How), RedeemError> {
    if let Some(when) = code.revoked {
        return Err(refuse(
            Refusal::CodeRevoked,
            format!("code {} was revoked by the vendor on {when}; contact the vendor", shown(code.code)),
        ));
    }
    let product = find_product(tx, &code.article)?.ok_or_else(|| {
        RedeemError::Inconsistent(format!("code {} names a missing product {}", shown(code.code), code.article))
    })?;
    check_licensee(&product, code, ask.request)?;
    if let Some(key_no) = code.key_no {
        let key = find_key(tx, key_no)?.ok_or_else(|| RedeemError::Inconsistent(format!("key {key_no} is missing")))?;
        if key.target() == *ask.wanted && !ask.is_where(&key) {
            return Err(refuse(
                Refusal::CodeUsed,
                format!(
                    "code {} was already redeemed for this {} under another target key (its licence server's \
                     host secret changed, or the key was issued by an earlier release); to issue the key again, \
                     use its backup code (the one the first activation returned)",
                    shown(code.code),
                    if key.fields.blank_key_no.is_some() { "USB key" } else { "computer" },
                ),
            ));
        }
        if key.target() != *ask.wanted {
            let when = code.redeemed.map_or_else(String::new, |t| format!(" on {t}"));
            return Err(refuse(
                Refusal::CodeUsed,
                format!(
                    "code {} was already redeemed{when} for another {}; an activation code activates one target. \
                     To move the key, use its backup code (the one the first activation returned)",
                    shown(code.code),
                    if key.fields.blank_key_no.is_some() { "USB key" } else { "computer" },
                ),
            ));
        }
        let backup = current_backup(tx, key_no)?
            .ok_or_else(|| RedeemError::Inconsistent(format!("key {key_no} has no backup code")))?;
        return Ok((key, backup, How::Repeated));
    }

    let keys = series(product.series)?;
    let key_no = next_key_no(tx)?;
    let fields = new_key_fields(&product, code, ask, key_no);
    let file = keyfile::try_issue(&fields, &keys, ask.target_key).map_err(crate::Error::from)?;
    insert_key(tx, &fields, Some(&product.article), &file, ask.now)?;
    tx.execute(
        "UPDATE activation_codes SET key_no = ?2, redeemed = ?3 WHERE code = ?1",
        params![code.code.to_string(), key_no as i64, ask.now.to_string()],
    )?;
    let backup = fresh_code(tx)?;
    add_backup(tx, key_no, backup, ask.now)?;
    Ok((KeyRecord { key_no, series: product.series, fields, key_file: file }, backup, How::Activated))
}

/// The key a product's code becomes for the requested target.
fn new_key_fields(product: &Product, code: &CodeRecord, ask: &Ask, key_no: u64) -> KeyFields {
    let support_date = match (product.support_months, product.support_until) {
        (Some(months), _) => Some(crate::clock::plus_months(ask.now, months)),
        (None, until) => until,
    };
    KeyFields {
        key_no,
        key_id: product.series,
        reg_no: code.reg_no.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| format!("R-{key_no}")),
        key_type: product.kind,
        licence_count: product.licence_count,
        product_version: product.product_version.clone(),
        blank_key_no: ask.wanted.blank_key_no,
        activation_code: Some(code.code.to_string()),
        activation_date: Some(ask.now),
        start_date: ask.now,
        period: product.period,
        expire_date: product.expire_date,
        flags: product.flags,
        itn: ask.request.itn.clone(),
        iec: ask.request.iec.clone(),
        product_name: product.name.clone(),
        article: product.article.clone(),
        article_name: product.article_name.clone(),
        support_date,
        computer_id: ask.wanted.computer_id.clone(),
    }
}

/// The product may need the licensee's ITN; a code sold to one licensee serves only that licensee.
/// A missing number is `ItnRequired`, a different one `ItnMismatch`; neither says what was expected.
fn check_licensee(product: &Product, code: &CodeRecord, request: &ActivationRequest) -> Result<(), RedeemError> {
    let required = |what: &str| {
        refuse(
            Refusal::ItnRequired,
            format!("code {} needs the licensee's {what}; fill it in and ask again", shown(code.code)),
        )
    };
    if product.requires_itn && request.itn.is_none() {
        return Err(required("ITN (ИНН)"));
    }
    for (what, sold_to, given) in [("ITN (ИНН)", &code.itn, &request.itn), ("IEC (КПП)", &code.iec, &request.iec)]
    {
        match (sold_to, given) {
            (Some(_), None) => return Err(required(what)),
            (Some(sold_to), Some(given)) if sold_to != given => {
                return Err(refuse(
                    Refusal::ItnMismatch,
                    format!("code {} was sold to another licensee: the {what} differs; check it", shown(code.code)),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// A backup code as stored.
struct Backup {
    code: ActivationCode,
    key_no: u64,
    spent: Option<UtcTime>,
    spent_for: Option<Target>,
}

/// The backup code whose digest is `digest`.
fn find_backup(db: &Connection, digest: &str) -> rusqlite::Result<Option<Backup>> {
    db.query_row(
        "SELECT key_no, spent, spent_computer_id, spent_blank_key_no, code FROM backup_codes WHERE digest = ?1",
        params![digest],
        |row| {
            let computer_id: Option<String> = row.get(2)?;
            let blank_key_no: Option<i64> = row.get(3)?;
            let text: String = row.get(4)?;
            Ok(Backup {
                code: text.parse().map_err(|e: licence_protocol::activation::CodeError| {
                    rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into())
                })?,
                key_no: row.get::<_, i64>(0)? as u64,
                spent: time_column(row.get(1)?)?,
                spent_for: computer_id
                    .map(|computer_id| Target { computer_id, blank_key_no: blank_key_no.map(|n| n as u64) }),
            })
        },
    )
    .optional()
}

fn by_backup_code(
    tx: &Connection,
    series: impl Fn(licence_protocol::key::SeriesId) -> crate::Result<licence_protocol::series::SeriesKeys>,
    ask: &Ask,
    backup: &Backup,
) -> Result<(KeyRecord, ActivationCode, How), RedeemError> {
    let key = find_key(tx, backup.key_no)?
        .ok_or_else(|| RedeemError::Inconsistent(format!("backup code of a missing key {}", backup.key_no)))?;
    let revoked: Option<String> = tx
        .query_row("SELECT revoked FROM activation_codes WHERE key_no = ?1", params![key.key_no as i64], |r| r.get(0))
        .optional()?
        .flatten();
    if let Some(when) = revoked {
        return Err(refuse(
            Refusal::CodeRevoked,
            format!("key {} was revoked by the vendor on {when}; it cannot be issued again", key.key_no),
        ));
    }
    if let Some(when) = backup.spent {
        let same_target = backup.spent_for.as_ref() == Some(ask.wanted) && ask.is_where(&key);
        if !same_target {
            return Err(refuse(
                Refusal::BackupCodeSpent,
                format!(
                    "this backup code was already used on {when}; each backup code moves the key once. \
                     Use the newer backup code that answer carried, or ask the vendor for the key's current one"
                ),
            ));
        }
        let current = current_backup(tx, key.key_no)?
            .ok_or_else(|| RedeemError::Inconsistent(format!("key {} has no backup code", key.key_no)))?;
        return Ok((key, current, How::MoveRepeated));
    }

    let keys = series(key.series)?;
    let fields = KeyFields {
        computer_id: ask.wanted.computer_id.clone(),
        blank_key_no: ask.wanted.blank_key_no,
        activation_date: Some(ask.now),
        ..key.fields.clone()
    };
    let file = keyfile::try_issue(&fields, &keys, ask.target_key).map_err(crate::Error::from)?;
    replace_key(tx, &fields, &file, ask.now)?;
    tx.execute(
        "UPDATE backup_codes SET spent = ?2, spent_computer_id = ?3, spent_blank_key_no = ?4 WHERE code = ?1",
        params![
            backup.code.to_string(),
            ask.now.to_string(),
            ask.wanted.computer_id,
            ask.wanted.blank_key_no.map(|n| n as i64)
        ],
    )?;
    let next = fresh_code(tx)?;
    add_backup(tx, key.key_no, next, ask.now)?;
    debug_assert_eq!(target_of(&fields), *ask.wanted);
    Ok((KeyRecord { fields, key_file: file, ..key }, next, How::Moved))
}
