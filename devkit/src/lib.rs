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

/// Everything that can go wrong in the vendor store, worded for the vendor at the command line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("vendor folder {0} does not exist; create it (mkdir) or give another --vendor-dir")]
    NoVendorDir(String),
    #[error("vendor database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("series {series}: {reason}; create it with `licenceedit series create {series} --vendor-dir DIR`")]
    Series { series: String, reason: String },
    #[error("no product with article `{0}`; `licenceedit product list` shows them")]
    UnknownArticle(String),
    #[error("a product with article `{0}` already exists; articles are unique")]
    DuplicateArticle(String),
    #[error("code {0} is not in this vendor store")]
    UnknownCode(String),
    #[error("key {0} is not in this vendor store")]
    UnknownKey(u64),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
