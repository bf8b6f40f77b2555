//! The vendor store: one folder holding each series' `{KeyID}.cryptkey` (and `{KeyID}.pub`) beside
//! `vendor.sqlite`, the database of products, activation codes, keys, backup codes and redemptions.
//!
//! The database runs in WAL mode with `synchronous=FULL`, foreign keys on and a busy timeout, and
//! every change is one transaction, so a `kill -9` at any moment loses nothing that was answered and
//! several processes (the centre, `licenceedit`) can share one store. Redemptions take the write lock
//! when they begin (`BEGIN IMMEDIATE`), so two redemptions of one code are strictly one after the
//! other: the second sees what the first did.
//!
//! # Code digests (format 2 requests)
//! An activation request no longer carries its code, only `centre::code_digest(code)` and a proof
//! made with the code. Every activation and backup code therefore has a `digest` column beside it,
//! indexed (unique), and the centre finds a request's code by that digest in one look-up, whatever the
//! number of codes sold; computing the digest of every stored code per request instead would be a full
//! scan of SHA-256s on each redemption, inside the write lock that serializes redemptions. The digest
//! is not a secret (every request carries it) and not the code: it gives nothing that redeems.
//!
//! A store made by an earlier release has no such column: opening it adds the column to both tables
//! (`ALTER TABLE … ADD COLUMN`, which keeps every row), fills in the digest of every code whose digest
//! is missing and creates the indexes, all in the opening transaction, so a store is either not
//! migrated at all or migrated whole. An earlier release's `licenceedit` may still write into a
//! migrated store (its inserts leave `digest` NULL); [`fill_digests`] runs again whenever a look-up by
//! digest finds nothing, so such codes are found too.

use crate::{Error, Result};
use licence_protocol::activation::ActivationCode;
pub use licence_protocol::centre::code_digest;
use licence_protocol::key::SeriesId;
use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use rusqlite::{params, Connection, OptionalExtension};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// The database's file name inside the vendor folder.
pub const DATABASE_FILE: &str = "vendor.sqlite";
/// The first KeyNo the store hands out; keys are numbered upwards from here, vendor-wide.
pub const FIRST_KEY_NO: u64 = 7_100_000;
/// How long a writer waits for another one before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);
/// A cryptkey file is about 250 bytes.
const MAX_CRYPTKEY_FILE: u64 = 64 * 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS products (
    article TEXT PRIMARY KEY NOT NULL,
    series TEXT NOT NULL,
    name TEXT NOT NULL,
    article_name TEXT NOT NULL,
    key_type INTEGER NOT NULL CHECK (key_type IN (3, 4, 5)),
    licence_count INTEGER NOT NULL CHECK (licence_count > 0),
    period INTEGER NOT NULL CHECK (period >= 0),
    expire_date TEXT,
    flags INTEGER NOT NULL,
    product_version TEXT NOT NULL,
    support_months INTEGER,
    support_until TEXT,
    requires_itn INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    key_no INTEGER PRIMARY KEY NOT NULL,
    series TEXT NOT NULL,
    article TEXT REFERENCES products(article),
    computer_id TEXT NOT NULL,
    blank_key_no INTEGER,
    fields TEXT NOT NULL,
    key_file BLOB NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS activation_codes (
    code TEXT PRIMARY KEY NOT NULL,
    article TEXT NOT NULL REFERENCES products(article),
    itn TEXT,
    iec TEXT,
    reg_no TEXT,
    issued TEXT NOT NULL,
    revoked TEXT,
    key_no INTEGER UNIQUE REFERENCES keys(key_no),
    redeemed TEXT
);
CREATE INDEX IF NOT EXISTS activation_codes_by_article ON activation_codes(article);
CREATE TABLE IF NOT EXISTS backup_codes (
    code TEXT PRIMARY KEY NOT NULL,
    key_no INTEGER NOT NULL REFERENCES keys(key_no),
    issued TEXT NOT NULL,
    spent TEXT,
    spent_computer_id TEXT,
    spent_blank_key_no INTEGER
);
CREATE INDEX IF NOT EXISTS backup_codes_by_key ON backup_codes(key_no);
CREATE TABLE IF NOT EXISTS redemptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    key_no INTEGER NOT NULL REFERENCES keys(key_no),
    how TEXT NOT NULL,
    computer_id TEXT NOT NULL,
    blank_key_no INTEGER,
    request_id TEXT,
    server_version TEXT
);
CREATE INDEX IF NOT EXISTS redemptions_by_key ON redemptions(key_no);
";

/// The tables whose codes are found by digest.
const CODE_TABLES: [&str; 2] = ["activation_codes", "backup_codes"];

/// An open vendor store. One per thread: a connection is not shared between threads.
pub struct VendorStore {
    pub(crate) dir: PathBuf,
    pub(crate) db: Connection,
}

impl VendorStore {
    /// Opens the store in `dir` (which must exist), creating its database on first use.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::NoVendorDir(dir.to_owned()));
        }
        let db = Connection::open(dir.join(DATABASE_FILE))?;
        db.busy_timeout(BUSY_TIMEOUT)?;
        db.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
        db.execute_batch("BEGIN IMMEDIATE")?;
        let prepared = db.execute_batch(SCHEMA).and_then(|()| migrate(&db));
        match prepared {
            Ok(()) => db.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = db.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        }
        Ok(Self { dir: dir.to_owned(), db })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/{KeyID}.cryptkey`.
    pub fn cryptkey_path(&self, series: SeriesId) -> PathBuf {
        self.dir.join(format!("{series}.cryptkey"))
    }

    /// The series' keys, read from its cryptkey file.
    pub fn series(&self, series: SeriesId) -> Result<SeriesKeys> {
        read_cryptkey(&self.cryptkey_path(series), series)
    }

    /// Generates series `series` and writes `{KeyID}.cryptkey` (mode 0600) and `{KeyID}.pub` into the
    /// store's folder, never over existing files; returns both paths.
    pub fn create_series(&self, series: SeriesId) -> Result<(PathBuf, PathBuf)> {
        create_series_files(&self.dir, series)
    }
}

/// Generates a series into `dir`: `{KeyID}.cryptkey` (mode 0600 on Unix) and `{KeyID}.pub` (the
/// Ed25519 public key in hex, which servers and add-ins pin). Existing files are never replaced.
pub fn create_series_files(dir: &Path, series: SeriesId) -> Result<(PathBuf, PathBuf)> {
    if !dir.is_dir() {
        return Err(Error::NoVendorDir(dir.to_owned()));
    }
    let cryptkey_path = dir.join(format!("{series}.cryptkey"));
    let public_path = dir.join(format!("{series}.pub"));
    for path in [&cryptkey_path, &public_path] {
        if path.symlink_metadata().is_ok() {
            return Err(Error::Exists(path.clone()));
        }
    }
    let keys = SeriesKeys::generate(series);
    let cryptkey = Zeroizing::new(keys.to_cryptkey());
    write_new(&cryptkey_path, cryptkey.as_bytes(), 0o600)?;
    write_new(&public_path, format!("{}\n", hex::encode(keys.public_key())).as_bytes(), 0o644)?;
    Ok((cryptkey_path, public_path))
}

/// Reads a cryptkey file; `series` is the one the caller expects it to hold.
pub fn read_cryptkey(path: &Path, series: SeriesId) -> Result<SeriesKeys> {
    use std::io::Read;
    let unreadable = |source| Error::SeriesUnreadable { series, path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_CRYPTKEY_FILE).read_to_string(&mut text).map_err(unreadable)?;
    let keys = SeriesKeys::from_cryptkey(&text).map_err(|source| Error::SeriesMalformed {
        series,
        path: path.to_owned(),
        source,
    })?;
    if keys.series != series {
        return Err(Error::SeriesMismatch { series, path: path.to_owned(), found: keys.series });
    }
    Ok(keys)
}

/// Creates `path` with `mode` (Unix) and writes `bytes` to disk; an existing file is an error.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let fail = |source| Error::Write { path: path.to_owned(), source };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(fail)
}

/// Brings a store of an earlier release up to this one (see the module's "Code digests"); does
/// nothing to a store that is already.
fn migrate(db: &Connection) -> rusqlite::Result<()> {
    for table in CODE_TABLES {
        let has_digest: bool = db.query_row(
            &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = 'digest'"),
            [],
            |r| r.get(0),
        )?;
        if !has_digest {
            db.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN digest TEXT"))?;
        }
        db.execute_batch(&format!("CREATE UNIQUE INDEX IF NOT EXISTS {table}_by_digest ON {table}(digest)"))?;
    }
    fill_digests(db)?;
    Ok(())
}

/// Sets the digest of every code that has none (codes of an earlier release); returns how many.
pub(crate) fn fill_digests(db: &Connection) -> rusqlite::Result<usize> {
    let mut filled = 0;
    for table in CODE_TABLES {
        let codes: Vec<String> = db
            .prepare(&format!("SELECT code FROM {table} WHERE digest IS NULL"))?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for text in codes {
            // A row that is not a code (hand-edited) keeps no digest and is simply never found.
            let Ok(code) = text.parse::<ActivationCode>() else { continue };
            filled += db.execute(
                &format!("UPDATE {table} SET digest = ?2 WHERE code = ?1"),
                params![text, code_digest(code)],
            )?;
        }
    }
    Ok(filled)
}

/// Whether `code` is already an activation or a backup code: the two share one space, so the centre
/// can tell them apart by looking the code up.
pub(crate) fn code_taken(db: &Connection, code: &str) -> rusqlite::Result<bool> {
    let activation: Option<i64> =
        db.query_row("SELECT 1 FROM activation_codes WHERE code = ?1", params![code], |r| r.get(0)).optional()?;
    let backup: Option<i64> =
        db.query_row("SELECT 1 FROM backup_codes WHERE code = ?1", params![code], |r| r.get(0)).optional()?;
    Ok(activation.is_some() || backup.is_some())
}

/// A fresh code no other activation or backup code in the store has.
pub(crate) fn fresh_code(db: &Connection) -> rusqlite::Result<ActivationCode> {
    loop {
        let code = ActivationCode::generate();
        if !code_taken(db, &code.to_string())? {
            return Ok(code);
        }
    }
}

/// The next KeyNo: one above the highest the store ever issued, from [`FIRST_KEY_NO`].
pub(crate) fn next_key_no(db: &Connection) -> rusqlite::Result<u64> {
    let highest: Option<i64> = db.query_row("SELECT MAX(key_no) FROM keys", [], |r| r.get(0))?;
    Ok(highest.map_or(FIRST_KEY_NO, |n| (n as u64 + 1).max(FIRST_KEY_NO)))
}

/// Times are stored as the API writes them, which also sorts them.
pub(crate) fn time_column(text: Option<String>) -> rusqlite::Result<Option<UtcTime>> {
    text.map(|t| {
        UtcTime::parse(&t)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into()))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_needs_its_folder_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert!(matches!(VendorStore::open(&missing), Err(Error::NoVendorDir(_))));
        let store = VendorStore::open(dir.path()).unwrap();
        assert_eq!(next_key_no(&store.db).unwrap(), FIRST_KEY_NO);
        drop(store);
        VendorStore::open(dir.path()).unwrap();
    }

    #[test]
    fn series_are_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = VendorStore::open(dir.path()).unwrap();
        let series: SeriesId = "672b".parse().unwrap();
        assert!(matches!(store.series(series), Err(Error::SeriesUnreadable { .. })));
        store.create_series(series).unwrap();
        assert_eq!(store.series(series).unwrap().series, series);
        assert!(store.create_series(series).unwrap_err().to_string().contains("refusing to overwrite"));
    }
}
