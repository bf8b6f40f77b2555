//! The add-in's one error type: everything that makes an entry point return `false` is one of these,
//! and its text is what the 1C developer sees in the exception that `AddError` raises.
use std::fmt;

use licence_protocol::wire::ErrorCode;

/// Why a variant from the platform could not be read as a [`crate::Value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadVariant {
    /// A type code that the add-in does not accept (unknown, or a known one such as ERROR or an interface).
    UnsupportedType(u16),
    /// A string or blob whose pointer is NULL while its length is not zero.
    NullPointer { len: u32 },
}

impl fmt::Display for BadVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadVariant::UnsupportedType(vt) => write!(f, "unsupported value type (variant type code {vt})"),
            BadVariant::NullPointer { len } => write!(f, "a string or blob with a NULL pointer and length {len}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A value of the wrong 1C type, e.g. a Boolean for a string property.
    #[error("{target}: expected {expected}, got {got}")]
    WrongType { target: String, expected: &'static str, got: &'static str },
    /// A variant the add-in cannot read at all.
    #[error("{target}: {problem}")]
    BadVariant { target: String, problem: BadVariant },
    /// A value of the right type that the target refuses, e.g. port 70000.
    #[error("{target}: {reason}")]
    BadValue { target: String, reason: String },
    #[error("property `{0}` is read-only")]
    ReadOnly(&'static str),
    #[error("property `{0}` cannot be read")]
    NotReadable(&'static str),
    #[error("there is no property number {0}")]
    NoSuchProperty(i64),
    #[error("there is no method number {0}")]
    NoSuchMethod(i64),
    #[error("method `{method}` takes {expected} parameters, the platform passed {got}")]
    ParamCount { method: &'static str, expected: usize, got: i64 },
    #[error("the platform passed a NULL pointer for {0}")]
    NullArgument(&'static str),
    #[error("the platform has not given the add-in a memory manager yet")]
    NoMemoryManager,
    #[error("the platform's memory manager refused {0} bytes")]
    AllocFailed(usize),
    /// A licence operation failed: the server's verdict, no server answering, a setting missing.
    /// `message` is what `LastError` shows; `code` is `LastErrorCode`.
    #[error("{message}")]
    Licence { code: ErrorCode, message: String },
    /// A bug in the add-in, caught at the boundary instead of unwinding into the 1C process.
    #[error("internal error of the add-in in {entry}: {message}")]
    Panic { entry: &'static str, message: String },
}

impl Error {
    /// The stable number the add-in shows in `LastErrorCode` (the wire protocol's numbering): a bad
    /// argument from BSL is `BadRequest`, a failure inside the add-in or the platform `Internal`.
    pub fn wire_code(&self) -> ErrorCode {
        match self {
            Error::WrongType { .. }
            | Error::BadVariant { .. }
            | Error::BadValue { .. }
            | Error::ReadOnly(_)
            | Error::NotReadable(_)
            | Error::NoSuchProperty(_)
            | Error::NoSuchMethod(_)
            | Error::ParamCount { .. }
            | Error::NullArgument(_) => ErrorCode::BadRequest,
            Error::NoMemoryManager | Error::AllocFailed(_) | Error::Panic { .. } => ErrorCode::Internal,
            Error::Licence { code, .. } => *code,
        }
    }

    /// A wrong-type error for `target`, naming the expected and the received 1C type.
    pub fn wrong_type(target: impl Into<String>, expected: &'static str, got: &crate::Value) -> Self {
        Error::WrongType { target: target.into(), expected, got: got.type_name() }
    }

    /// A licence operation's failure with its protocol number.
    pub fn licence(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Licence { code, message: message.into() }
    }

    pub fn bad_value(target: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::BadValue { target: target.into(), reason: reason.into() }
    }
}
