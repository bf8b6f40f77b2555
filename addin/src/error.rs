//! The add-in's one error type: everything that makes an entry point return `false` is one of these,
//! and its text is what the 1C developer sees in the exception that `AddError` raises.
use std::fmt;

use licence_protocol::wire::ErrorCode;
use licenceaddin_client::error::summary_ru;

/// The language of error texts, from the platform's `SetUserInterfaceLanguageCode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Language {
    /// Not told yet: the English detail, then the Russian summary in parentheses.
    #[default]
    Both,
    /// `ru`: the Russian summary first, then the detail.
    Russian,
    /// Any other language: the English detail alone.
    English,
}

impl Language {
    /// The language for an interface language code (`ru`, `en`, `uk`, …); empty means not told.
    pub fn from_code(code: &str) -> Self {
        match code.trim() {
            "" => Language::Both,
            c if c.eq_ignore_ascii_case("ru") || c.to_ascii_lowercase().starts_with("ru_") => Language::Russian,
            _ => Language::English,
        }
    }

    /// A licence failure's text: `english` detail of protocol error `code` in this language.
    pub fn licence_text(self, code: ErrorCode, english: &str) -> String {
        match self {
            Language::Both => format!("{english} ({})", summary_ru(code)),
            Language::Russian => format!("{}: {english}", summary_ru(code)),
            Language::English => english.to_owned(),
        }
    }
}

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
    /// `message` is the English detail, `code` is `LastErrorCode`; the text adds the code's Russian
    /// summary as [`Language`] says.
    #[error("{message} ({})", summary_ru(*code))]
    Licence { code: ErrorCode, message: String },
    /// A licence method cannot run as called (`KeyID` not set, an unknown key parameter name) or the
    /// add-in's own state is broken: a protocol number, but no summary of a server's verdict.
    #[error("{message}")]
    Usage { code: ErrorCode, message: String },
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
            Error::Licence { code, .. } | Error::Usage { code, .. } => *code,
        }
    }

    /// The text for `AddError` and `LastError` in `language`. Only licence failures have a Russian
    /// summary; mistakes in the calling code (wrong types, unknown names) read in English, as the
    /// platform's own messages about code do.
    pub fn text(&self, language: Language) -> String {
        match self {
            Error::Licence { code, message } => language.licence_text(*code, message),
            other => other.to_string(),
        }
    }

    /// The English detail alone.
    pub fn english(&self) -> String {
        match self {
            Error::Licence { message, .. } => message.clone(),
            other => other.to_string(),
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

    /// A licence method called in a way it cannot run, with its protocol number.
    pub fn usage(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Usage { code, message: message.into() }
    }

    pub fn bad_value(target: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::BadValue { target: target.into(), reason: reason.into() }
    }
}

#[cfg(test)]
mod language_tests {
    use super::*;

    #[test]
    fn the_interface_language_picks_the_form_of_a_licence_failure() {
        assert_eq!(Language::from_code(""), Language::Both);
        assert_eq!(Language::from_code("ru"), Language::Russian);
        assert_eq!(Language::from_code("RU"), Language::Russian);
        assert_eq!(Language::from_code("en"), Language::English);
        assert_eq!(Language::from_code("uk"), Language::English);
        let e = Error::licence(ErrorCode::NoFreeLicence, "no free licence of series 672B");
        assert_eq!(e.to_string(), "no free licence of series 672B (Нет свободной лицензии)");
        assert_eq!(e.text(Language::Both), e.to_string());
        assert_eq!(e.text(Language::Russian), "Нет свободной лицензии: no free licence of series 672B");
        assert_eq!(e.text(Language::English), "no free licence of series 672B");
        assert_eq!(e.english(), "no free licence of series 672B");
    }

    #[test]
    fn usage_errors_and_argument_errors_carry_no_server_summary() {
        let e = Error::usage(ErrorCode::BadRequest, "KeyID is not set");
        assert_eq!(e.wire_code(), ErrorCode::BadRequest);
        for language in [Language::Both, Language::Russian, Language::English] {
            assert_eq!(e.text(language), "KeyID is not set");
            assert_eq!(Error::ReadOnly("Version").text(language), "property `Version` is read-only");
        }
    }
}
