//! The 1C Native API add-in. This crate is a placeholder until the add-in issue fills it: it already
//! builds as the `cdylib` the platform will load, and shares the wire protocol with the server through
//! `licence-protocol`, so the workspace's shape is final from the start.
#![forbid(unsafe_code)]

/// The protocol version the add-in speaks; the server refuses any other major version.
pub const CLIENT_VERSION: &str = licence_protocol::VERSION;
