//! What the vendor sells and hands out: products (an article with the fields its keys get) and the
//! activation codes sold for them. A code is `issued`, then `redeemed` (it became a key) or
//! `revoked`; a redeemed code can also be revoked, which stops it and the key's backup codes from
//! issuing the key again while the key file already issued keeps working.

use crate::store::{fresh_code, time_column, VendorStore};
use crate::{Error, Result};
use licence_protocol::activation::ActivationCode;
use licence_protocol::key::{KeyKind, SeriesId};
use licence_protocol::time::UtcTime;
use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use serde::Serialize;

/// A product as the vendor describes it to `product add`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub article: String,
    pub series: SeriesId,
    pub name: String,
    pub article_name: String,
    pub kind: KeyKind,
    pub licence_count: u32,
    /// Days of validity from activation; 0 is none.
    pub period: u32,
    pub expire_date: Option<UtcTime>,
    pub flags: u64,
    pub product_version: String,
    /// The update subscription: `SupportDate` is the activation day plus this many months…
    pub support_months: Option<u32>,
    /// …or this fixed day.
    pub support_until: Option<UtcTime>,
    /// Codes of this product are redeemed only for requests that carry the licensee's ITN.
    pub requires_itn: bool,
}

/// A product in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Product {
    pub article: String,
    #[serde(rename = "KeyID")]
    pub series: SeriesId,
    #[serde(rename = "ProductName")]
    pub name: String,
    pub article_name: String,
    #[serde(rename = "KeyType")]
    pub kind: KeyKind,
    pub licence_count: u32,
    pub period: u32,
    pub expire_date: Option<UtcTime>,
    pub flags: u64,
    pub product_version: String,
    pub support_months: Option<u32>,
    pub support_until: Option<UtcTime>,
    #[serde(rename = "RequiresITN")]
    pub requires_itn: bool,
    pub created: UtcTime,
}

/// Where an activation code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeState {
    Issued,
    Redeemed,
    Revoked,
}

/// An activation code in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeRecord {
    pub code: ActivationCode,
    pub article: String,
    pub state: CodeState,
    #[serde(rename = "ITN")]
    pub itn: Option<String>,
    #[serde(rename = "IEC")]
    pub iec: Option<String>,
    pub reg_no: Option<String>,
    pub issued: UtcTime,
    pub redeemed: Option<UtcTime>,
    pub revoked: Option<UtcTime>,
    pub key_no: Option<u64>,
}

/// The `KeyKind` a person types.
pub fn kind_name(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Main => "main",
        KeyKind::Additional => "additional",
        KeyKind::Demo => "demo",
    }
}

impl NewProduct {
    /// The rules a product must meet before codes can be sold for it.
    fn check(&self) -> Result<()> {
        let invalid = |why| Err(Error::InvalidProduct(why));
        if self.article.trim().is_empty() || self.article.chars().any(char::is_control) {
            return invalid("the article must be a non-empty line of text");
        }
        if self.licence_count == 0 {
            return invalid("the licence count must be 1 or more");
        }
        if self.kind == KeyKind::Demo && self.period == 0 && self.expire_date.is_none() {
            return invalid("a demo product needs --period DAYS or --expire DATE: demo keys must end");
        }
        if self.support_months.is_some() && self.support_until.is_some() {
            return invalid("give --support-months or --support-until, not both");
        }
        if self.support_months == Some(0) {
            return invalid("--support-months must be 1 or more");
        }
        Ok(())
    }
}

impl VendorStore {
    /// Adds a product; its series' cryptkey must be in the store already.
    pub fn add_product(&mut self, product: &NewProduct, now: UtcTime) -> Result<Product> {
        product.check()?;
        self.series(product.series)?;
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if find_product(&tx, &product.article)?.is_some() {
            return Err(Error::DuplicateArticle(product.article.clone()));
        }
        tx.execute(
            "INSERT INTO products (article, series, name, article_name, key_type, licence_count, period, expire_date,
                flags, product_version, support_months, support_until, requires_itn, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                product.article,
                product.series.as_str(),
                product.name,
                product.article_name,
                product.kind.code(),
                product.licence_count,
                product.period,
                product.expire_date.map(|t| t.to_string()),
                product.flags as i64,
                product.product_version,
                product.support_months,
                product.support_until.map(|t| t.to_string()),
                product.requires_itn,
                now.to_string(),
            ],
        )?;
        let added =
            find_product(&tx, &product.article)?.ok_or_else(|| Error::UnknownArticle(product.article.clone()))?;
        tx.commit()?;
        Ok(added)
    }

    pub fn products(&self) -> Result<Vec<Product>> {
        let mut stmt = self.db.prepare(&format!("{PRODUCT_SELECT} ORDER BY article"))?;
        let rows = stmt.query_map([], product_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn product(&self, article: &str) -> Result<Product> {
        find_product(&self.db, article)?.ok_or_else(|| Error::UnknownArticle(article.to_owned()))
    }

    /// Issues `count` fresh activation codes for `article`, each unique among all codes of the store.
    /// `itn`/`iec`, when given, bind the codes to one licensee; `reg_no` becomes the keys' `RegNo`.
    pub fn issue_codes(
        &mut self,
        article: &str,
        count: u32,
        licensee: (Option<String>, Option<String>),
        reg_no: Option<String>,
        now: UtcTime,
    ) -> Result<Vec<ActivationCode>> {
        if count == 0 {
            return Err(Error::NoCount);
        }
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if find_product(&tx, article)?.is_none() {
            return Err(Error::UnknownArticle(article.to_owned()));
        }
        let (itn, iec) = licensee;
        let mut codes = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let code = fresh_code(&tx)?;
            tx.execute(
                "INSERT INTO activation_codes (code, article, itn, iec, reg_no, issued, digest)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![code.to_string(), article, itn, iec, reg_no, now.to_string(), crate::store::code_digest(code)],
            )?;
            codes.push(code);
        }
        tx.commit()?;
        Ok(codes)
    }

    /// Activation codes, oldest first, optionally of one article and in one state.
    pub fn codes(&self, article: Option<&str>, state: Option<CodeState>) -> Result<Vec<CodeRecord>> {
        let mut stmt =
            self.db.prepare(&format!("{CODE_SELECT} WHERE (?1 IS NULL OR article = ?1) ORDER BY issued, rowid"))?;
        let rows = stmt.query_map(params![article], code_row)?;
        let all: Vec<CodeRecord> = rows.collect::<rusqlite::Result<_>>()?;
        Ok(all.into_iter().filter(|c| state.is_none_or(|s| c.state == s)).collect())
    }

    pub fn code(&self, code: ActivationCode) -> Result<CodeRecord> {
        find_code(&self.db, code)?.ok_or_else(|| Error::UnknownCode(code.to_string()))
    }

    /// Revokes an activation code: it is refused from now on, and so are its key's backup codes.
    pub fn revoke_code(&mut self, code: ActivationCode, now: UtcTime) -> Result<CodeRecord> {
        let tx = self.db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(record) = find_code(&tx, code)? else {
            let backup: Option<i64> = tx
                .query_row("SELECT key_no FROM backup_codes WHERE code = ?1", params![code.to_string()], |r| r.get(0))
                .optional()?;
            return Err(match backup {
                Some(key_no) => Error::RevokeBackupCode { code, key_no: key_no as u64 },
                None => Error::UnknownCode(code.to_string()),
            });
        };
        if let Some(when) = record.revoked {
            return Err(Error::AlreadyRevoked { code, when });
        }
        tx.execute(
            "UPDATE activation_codes SET revoked = ?2 WHERE code = ?1",
            params![code.to_string(), now.to_string()],
        )?;
        let revoked = find_code(&tx, code)?.ok_or_else(|| Error::UnknownCode(code.to_string()))?;
        tx.commit()?;
        Ok(revoked)
    }
}

const PRODUCT_SELECT: &str = "SELECT article, series, name, article_name, key_type, licence_count, period, expire_date,
    flags, product_version, support_months, support_until, requires_itn, created FROM products";

const CODE_SELECT: &str =
    "SELECT code, article, itn, iec, reg_no, issued, redeemed, revoked, key_no FROM activation_codes";

pub(crate) fn find_product(db: &rusqlite::Connection, article: &str) -> rusqlite::Result<Option<Product>> {
    db.query_row(&format!("{PRODUCT_SELECT} WHERE article = ?1"), params![article], product_row).optional()
}

/// The activation code whose [`code_digest`](crate::store::code_digest) is `digest` (lower-case hex).
pub(crate) fn find_code_by_digest(db: &rusqlite::Connection, digest: &str) -> rusqlite::Result<Option<CodeRecord>> {
    db.query_row(&format!("{CODE_SELECT} WHERE digest = ?1"), params![digest], code_row).optional()
}

pub(crate) fn find_code(db: &rusqlite::Connection, code: ActivationCode) -> rusqlite::Result<Option<CodeRecord>> {
    db.query_row(&format!("{CODE_SELECT} WHERE code = ?1"), params![code.to_string()], code_row).optional()
}

fn conversion(column: usize, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, why.into())
}

fn product_row(row: &Row) -> rusqlite::Result<Product> {
    let series: String = row.get(1)?;
    let kind: u8 = row.get(4)?;
    Ok(Product {
        article: row.get(0)?,
        series: series.parse().map_err(|e: licence_protocol::key::BadSeries| conversion(1, e.to_string()))?,
        name: row.get(2)?,
        article_name: row.get(3)?,
        kind: KeyKind::from_code(kind).ok_or_else(|| conversion(4, format!("key type {kind}")))?,
        licence_count: row.get(5)?,
        period: row.get(6)?,
        expire_date: time_column(row.get(7)?)?,
        flags: row.get::<_, i64>(8)? as u64,
        product_version: row.get(9)?,
        support_months: row.get(10)?,
        support_until: time_column(row.get(11)?)?,
        requires_itn: row.get(12)?,
        created: time_column(Some(row.get(13)?))?.unwrap_or_else(UtcTime::now),
    })
}

fn code_row(row: &Row) -> rusqlite::Result<CodeRecord> {
    let text: String = row.get(0)?;
    let redeemed = time_column(row.get(6)?)?;
    let revoked = time_column(row.get(7)?)?;
    let key_no: Option<i64> = row.get(8)?;
    let state = match (revoked, key_no) {
        (Some(_), _) => CodeState::Revoked,
        (None, Some(_)) => CodeState::Redeemed,
        (None, None) => CodeState::Issued,
    };
    Ok(CodeRecord {
        code: text.parse().map_err(|e: licence_protocol::activation::CodeError| conversion(0, e.to_string()))?,
        article: row.get(1)?,
        state,
        itn: row.get(2)?,
        iec: row.get(3)?,
        reg_no: row.get(4)?,
        issued: time_column(Some(row.get(5)?))?.unwrap_or_else(UtcTime::now),
        redeemed,
        revoked,
        key_no: key_no.map(|n| n as u64),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn product(article: &str) -> NewProduct {
        NewProduct {
            article: article.into(),
            series: "672B".parse().unwrap(),
            name: "Управление складом".into(),
            article_name: "Основная поставка".into(),
            kind: KeyKind::Main,
            licence_count: 10,
            period: 0,
            expire_date: None,
            flags: 0b101,
            product_version: "1.0".into(),
            support_months: Some(12),
            support_until: None,
            requires_itn: false,
        }
    }

    pub fn store() -> (tempfile::TempDir, VendorStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = VendorStore::open(dir.path()).unwrap();
        store.create_series("672B".parse().unwrap()).unwrap();
        (dir, store)
    }

    #[test]
    fn products_round_trip_and_articles_are_unique() {
        let (_dir, mut store) = store();
        let now = UtcTime::now();
        let added = store.add_product(&product("A-1"), now).unwrap();
        assert_eq!((added.licence_count, added.flags, added.support_months), (10, 5, Some(12)));
        assert_eq!(store.product("A-1").unwrap(), added);
        assert!(matches!(store.add_product(&product("A-1"), now), Err(Error::DuplicateArticle(_))));
        let demo = NewProduct { kind: KeyKind::Demo, ..product("D-1") };
        assert!(store.add_product(&demo, now).unwrap_err().to_string().contains("demo product needs"));
        let other_series = NewProduct { series: "0001".parse().unwrap(), ..product("B-1") };
        assert!(matches!(store.add_product(&other_series, now), Err(Error::SeriesUnreadable { .. })));
        assert_eq!(store.products().unwrap().len(), 1);
    }

    #[test]
    fn codes_are_issued_listed_and_revoked() {
        let (_dir, mut store) = store();
        let now = UtcTime::now();
        store.add_product(&product("A-1"), now).unwrap();
        let codes = store.issue_codes("A-1", 3, (Some("7701".into()), None), None, now).unwrap();
        assert_eq!(codes.len(), 3);
        assert!(matches!(store.issue_codes("nope", 1, (None, None), None, now), Err(Error::UnknownArticle(_))));
        let revoked = store.revoke_code(codes[0], now).unwrap();
        assert_eq!(revoked.state, CodeState::Revoked);
        assert!(store.revoke_code(codes[0], now).unwrap_err().to_string().contains("already revoked"));
        assert_eq!(store.codes(Some("A-1"), Some(CodeState::Issued)).unwrap().len(), 2);
        assert_eq!(store.codes(None, Some(CodeState::Revoked)).unwrap()[0].code, codes[0]);
        assert_eq!(store.code(codes[1]).unwrap().itn.as_deref(), Some("7701"));
    }
}
