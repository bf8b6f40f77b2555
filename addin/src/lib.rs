//! The 1C Native API add-in: the `cdylib` the 1C platform loads. The crate is split so that only
//! [`ffi`] touches raw pointers: it mirrors the platform's C++ interfaces and drives a safe
//! [`component::Component`]; [`licence::Licence`] is the one class the add-in registers.
//!
//! The `rlib` build exists for the Rust tests, which call the exported functions directly.
#![deny(unsafe_code)]

pub mod bsl;
pub mod component;
pub mod error;
pub mod events;
pub mod expiry;
pub mod ffi;
pub mod host;
pub mod licence;
pub mod licensing;
pub mod objects;
pub mod value;
pub mod watch;

pub use error::Error;
pub use value::Value;

/// The add-in's version, the same as the protocol's: the server refuses any other `major.minor`.
pub const CLIENT_VERSION: &str = licence_protocol::VERSION;
