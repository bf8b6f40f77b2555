//! The keys the store issued: each one's current fields, key file and target, its backup codes and
//! the history of every redemption, as the vendor's support looks them up (`key export`,
//! `key backup-code`). No binding ever reaches the vendor: a key file holds its secrets sealed to its
//! target's public key (`TargetKey`, which the file names), and that public key is all an issue needs.

use crate::catalogue::{find_product, CodeRecord, Product};
use crate::store::{next_key_no, time_column, VendorStore};
use crate::{Error, Result};
use licence_protocol::activation::ActivationCode;
use licence_protocol::identity::TargetKey;
use licence_protocol::key::{KeyFields, SeriesId};
use licence_protocol::keyfile;
use licence_protocol::time::UtcTime;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

/// A key as stored.
#[derive(Debug, Clone)]
pub(crate) struct KeyRecord {
    pub key_no: u64,
    pub series: SeriesId,
    pub fields: KeyFields,
    pub key_file: Vec<u8>,
}

impl KeyRecord {
    pub fn target(&self) -> Target {
        Target { computer_id: self.fields.computer_id.clone(), blank_key_no: self.fields.blank_key_no }
    }

    /// The public key the stored file's secrets are sealed to; `None` for a file of an earlier
    /// format (issued by an earlier release), which no licence server of this release installs.
    pub fn sealed_to(&self) -> Option<TargetKey> {
        keyfile::verify(&self.key_file).ok().map(|key| key.target_key)
    }
}

/// What a key is issued for: a computer, or a USB blank (then `BlankKeyNo` is set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    #[serde(rename = "ComputerID")]
    pub computer_id: String,
    pub blank_key_no: Option<u64>,
}

/// One redemption (or other issue) of a key, for support. Backup codes are not shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryEntry {
    pub at: UtcTime,
    /// `activation`, `repeat` (the same code for the same target again), `backup` (moved with a backup
    /// code), `backup-repeat`, or `demo`.
    pub how: String,
    #[serde(rename = "ComputerID")]
    pub computer_id: String,
    pub blank_key_no: Option<u64>,
    #[serde(rename = "RequestID")]
    pub request_id: Option<String>,
    pub server_version: Option<String>,
}

/// `licenceedit key export`: everything support needs about a key, and nothing secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyExport {
    pub key_no: u64,
    pub key: KeyFields,
    pub target: Target,
    pub product: Option<Product>,
    pub activation_code: Option<CodeRecord>,
    pub history: Vec<HistoryEntry>,
}

impl VendorStore {
    /// The key's current fields and target, its product, its activation code and its history.
    pub fn key_export(&self, key_no: u64) -> Result<KeyExport> {
        let key = find_key(&self.db, key_no)?.ok_or(Error::UnknownKey(key_no))?;
        let article: Option<String> =
            self.db.query_row("SELECT article FROM keys WHERE key_no = ?1", params![key_no as i64], |r| r.get(0))?;
        let product = match article {
            Some(article) => find_product(&self.db, &article)?,
            None => None,
        };
        let code: Option<String> = self
            .db
            .query_row("SELECT code FROM activation_codes WHERE key_no = ?1", params![key_no as i64], |r| r.get(0))
            .optional()?;
        let activation_code = match code.and_then(|c| c.parse::<ActivationCode>().ok()) {
            Some(code) => Some(self.code(code)?),
            None => None,
        };
        Ok(KeyExport {
            key_no,
            target: key.target(),
            key: key.fields,
            product,
            activation_code,
            history: history(&self.db, key_no)?,
        })
    }

    /// The key's current backup code, which moves it to another target once.
    pub fn backup_code(&self, key_no: u64) -> Result<ActivationCode> {
        find_key(&self.db, key_no)?.ok_or(Error::UnknownKey(key_no))?;
        current_backup(&self.db, key_no)?.ok_or_else(|| Error::NoBackupCode(key_no))
    }

    /// Issues a key that no activation code stands behind (a demo key for one computer): takes the
    /// next KeyNo, lets `fields` fill in the rest, signs it and records it. Returns the fields and file.
    pub fn issue_direct_key(
        &mut self,
        series: SeriesId,
        target: &TargetKey,
        now: UtcTime,
        fields: impl FnOnce(u64) -> KeyFields,
    ) -> Result<(KeyFields, Vec<u8>)> {
        let keys = self.series(series)?;
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let fields = fields(next_key_no(&tx)?);
        let file = keyfile::try_issue(&fields, &keys, target)?;
        insert_key(&tx, &fields, None, &file, now)?;
        record(&tx, now, fields.key_no, "demo", &target_of(&fields), None, None)?;
        tx.commit()?;
        Ok((fields, file))
    }
}

pub(crate) fn target_of(fields: &KeyFields) -> Target {
    Target { computer_id: fields.computer_id.clone(), blank_key_no: fields.blank_key_no }
}

pub(crate) fn find_key(db: &Connection, key_no: u64) -> rusqlite::Result<Option<KeyRecord>> {
    db.query_row("SELECT key_no, series, fields, key_file FROM keys WHERE key_no = ?1", params![key_no as i64], |row| {
        let series: String = row.get(1)?;
        let fields: String = row.get(2)?;
        let bad = |why: String| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, why.into());
        Ok(KeyRecord {
            key_no: row.get::<_, i64>(0)? as u64,
            series: series.parse().map_err(|e: licence_protocol::key::BadSeries| bad(e.to_string()))?,
            fields: serde_json::from_str(&fields).map_err(|e| bad(e.to_string()))?,
            key_file: row.get(3)?,
        })
    })
    .optional()
}

pub(crate) fn insert_key(
    db: &Connection,
    fields: &KeyFields,
    article: Option<&str>,
    file: &[u8],
    now: UtcTime,
) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO keys (key_no, series, article, computer_id, blank_key_no, fields, key_file, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            fields.key_no as i64,
            fields.key_id.as_str(),
            article,
            fields.computer_id,
            fields.blank_key_no.map(|n| n as i64),
            fields_json(fields),
            file,
            now.to_string(),
        ],
    )?;
    Ok(())
}

pub(crate) fn replace_key(db: &Connection, fields: &KeyFields, file: &[u8], now: UtcTime) -> rusqlite::Result<()> {
    db.execute(
        "UPDATE keys SET computer_id = ?2, blank_key_no = ?3, fields = ?4, key_file = ?5, updated = ?6 WHERE key_no = ?1",
        params![
            fields.key_no as i64,
            fields.computer_id,
            fields.blank_key_no.map(|n| n as i64),
            fields_json(fields),
            file,
            now.to_string(),
        ],
    )?;
    Ok(())
}

fn fields_json(fields: &KeyFields) -> String {
    serde_json::to_string(fields).expect("key fields always serialize")
}

pub(crate) fn current_backup(db: &Connection, key_no: u64) -> rusqlite::Result<Option<ActivationCode>> {
    let code: Option<String> = db
        .query_row(
            "SELECT code FROM backup_codes WHERE key_no = ?1 AND spent IS NULL ORDER BY rowid DESC LIMIT 1",
            params![key_no as i64],
            |r| r.get(0),
        )
        .optional()?;
    Ok(code.and_then(|c| c.parse().ok()))
}

pub(crate) fn add_backup(db: &Connection, key_no: u64, code: ActivationCode, now: UtcTime) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO backup_codes (code, key_no, issued, digest) VALUES (?1, ?2, ?3, ?4)",
        params![code.to_string(), key_no as i64, now.to_string(), crate::store::code_digest(code)],
    )?;
    Ok(())
}

pub(crate) fn record(
    db: &Connection,
    at: UtcTime,
    key_no: u64,
    how: &str,
    target: &Target,
    request_id: Option<&str>,
    server_version: Option<&str>,
) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO redemptions (at, key_no, how, computer_id, blank_key_no, request_id, server_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            at.to_string(),
            key_no as i64,
            how,
            target.computer_id,
            target.blank_key_no.map(|n| n as i64),
            request_id,
            server_version
        ],
    )?;
    Ok(())
}

fn history(db: &Connection, key_no: u64) -> rusqlite::Result<Vec<HistoryEntry>> {
    let mut stmt = db.prepare(
        "SELECT at, how, computer_id, blank_key_no, request_id, server_version FROM redemptions
         WHERE key_no = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![key_no as i64], |row| {
        Ok(HistoryEntry {
            at: time_column(Some(row.get(0)?))?.unwrap_or_else(UtcTime::now),
            how: row.get(1)?,
            computer_id: row.get(2)?,
            blank_key_no: row.get::<_, Option<i64>>(3)?.map(|n| n as u64),
            request_id: row.get(4)?,
            server_version: row.get(5)?,
        })
    })?;
    rows.collect()
}
