//! The vendor's side of licensing, shared by `licenceedit` and `licencecentre`: the vendor store (a
//! folder with the series' `.cryptkey` files and an SQLite database of products, activation codes,
//! keys, backup codes and every redemption), and the one redemption rule both the online centre and
//! the offline `licenceedit request answer` apply, so the two can never answer differently.
//!
//! A test elsewhere can build a store without the command line:
//! [`VendorStore::open`], [`VendorStore::create_series`], [`VendorStore::add_product`],
//! [`VendorStore::issue_codes`], then [`redeem::redeem`] with an
//! [`ActivationRequest`](licence_protocol::centre::ActivationRequest).
#![forbid(unsafe_code)]

pub mod args;
pub mod catalogue;
pub mod clock;
pub mod keys;
pub mod redeem;
pub mod store;

pub use catalogue::{CodeRecord, CodeState, NewProduct, Product};
pub use store::VendorStore;

use licence_protocol::activation::ActivationCode;
use licence_protocol::key::SeriesId;
use licence_protocol::keyfile::KeyFileError;
use licence_protocol::series::SeriesError;
use licence_protocol::time::UtcTime;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the vendor store, worded for the vendor at the command line. Each
/// message says everything on its own; the error it stems from is also its `source()` (print a chain
/// with [`describe`], which says each cause once).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("vendor folder {} does not exist; create it (mkdir) or give another --vendor-dir", .0.display())]
    NoVendorDir(PathBuf),
    #[error("vendor database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("series {series}: cannot read {}: {source}; {}", path.display(), create_series(*series))]
    SeriesUnreadable { series: SeriesId, path: PathBuf, source: io::Error },
    #[error("series {series}: {}: {source}; {}", path.display(), create_series(*series))]
    SeriesMalformed { series: SeriesId, path: PathBuf, source: SeriesError },
    #[error("series {series}: {} holds series {found}; {}", path.display(), create_series(*series))]
    SeriesMismatch { series: SeriesId, path: PathBuf, found: SeriesId },
    #[error("no product with article `{0}`; `licenceedit product list` shows them")]
    UnknownArticle(String),
    #[error("a product with article `{0}` already exists; articles are unique")]
    DuplicateArticle(String),
    /// A product that breaks one of the rules products meet (the rule, in words).
    #[error("{0}")]
    InvalidProduct(&'static str),
    #[error("the count must be 1 or more")]
    NoCount,
    #[error("code {0} is not in this vendor store")]
    UnknownCode(String),
    #[error("{code} is a backup code of key {key_no}; revoke the key's activation code instead")]
    RevokeBackupCode { code: ActivationCode, key_no: u64 },
    #[error("code {code} was already revoked on {when}")]
    AlreadyRevoked { code: ActivationCode, when: UtcTime },
    #[error("key {0} is not in this vendor store")]
    UnknownKey(u64),
    #[error("key {0} has no backup code: it was not issued from an activation code")]
    NoBackupCode(u64),
    /// The key file could not be issued.
    #[error("{0}")]
    KeyFile(#[from] KeyFileError),
    #[error("{} already exists; refusing to overwrite it", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {}", path.display(), write_failure(source))]
    Write { path: PathBuf, source: io::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn create_series(series: SeriesId) -> String {
    format!("create it with `licenceedit series create {series} --vendor-dir DIR`")
}

fn write_failure(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AlreadyExists => "it already exists; refusing to overwrite it".into(),
        _ => e.to_string(),
    }
}

/// `e` and its causes, `: `-separated as `{:#}` prints them, but with each cause said once: a
/// cause whose text the message already holds (this crate's and the protocol's messages say their
/// cause) is not said again.
pub fn describe(e: &anyhow::Error) -> String {
    licence_protocol::text::causes(e.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_says_each_cause_once() {
        let io = io::Error::new(io::ErrorKind::PermissionDenied, "permission denied");
        let e = anyhow::Error::new(Error::Write { path: "out/672B.pub".into(), source: io }).context("series 672B");
        assert_eq!(describe(&e), "series 672B: cannot write out/672B.pub: permission denied");
        assert_eq!(format!("{e:#}"), "series 672B: cannot write out/672B.pub: permission denied: permission denied");
        let plain = anyhow::anyhow!("cannot read x").context("y");
        assert_eq!(describe(&plain), "y: cannot read x");
        let missing = io::Error::new(io::ErrorKind::NotFound, "not found");
        let series: SeriesId = "672B".parse().unwrap();
        let e = anyhow::Error::new(Error::SeriesUnreadable { series, path: "672B.cryptkey".into(), source: missing });
        assert_eq!(
            describe(&e),
            "series 672B: cannot read 672B.cryptkey: not found; create it with `licenceedit series create 672B \
             --vendor-dir DIR`"
        );
    }
}
