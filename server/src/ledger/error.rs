//! Why a ledger operation refuses, in words an administrator and a 1C developer can act on, and the
//! numbered [`ErrorCode`] of the add-in protocol each refusal travels as.

use licence_protocol::key::SeriesId;
use licence_protocol::wire::ErrorCode;
use std::fmt;

/// How a session came to hold no licence; kept for a while after it is gone so that the add-in's
/// next call learns the real cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// The administrator ended it.
    Ended,
    /// Its lease ran out before the add-in refreshed it.
    Expired,
    /// Its add-in released it or disconnected.
    Released,
    /// The keys changed and no counting key had room left for it.
    Revoked,
    /// The server does not know it: never issued here, or forgotten long ago.
    Unknown,
    /// The same 1C session obtained its licence again through another connection.
    TakenOver,
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Loss::Ended => "was ended by the administrator",
            Loss::Expired => "lost its licence: its lease ended",
            Loss::Released => "was released",
            Loss::Revoked => "lost its licence: the keys changed and no licence is left for it",
            Loss::Unknown => "is not known to this server",
            Loss::TakenOver => "belongs to another connection now",
        })
    }
}

/// A refusal of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("unknown connection `{0}`: its lease ended or it never existed; connect again")]
    UnknownConnection(String),
    #[error("no free licence of series {series}: {used} of {capacity} in use")]
    NoFreeLicence { series: SeriesId, used: u32, capacity: u32 },
    /// No key of the series gives licences; `code` says why (`NoKey`, `KeyExpired`, `KeyNotStarted`).
    #[error("{}", empty_pool(*.series, *.code))]
    EmptyPool { series: SeriesId, code: ErrorCode },
    #[error("session `{session_id}` {loss}; obtain a licence again")]
    SessionGone { session_id: String, loss: Loss },
    #[error("session id `{0}` is already in use")]
    DuplicateSession(String),
}

impl LedgerError {
    /// The add-in protocol's number for this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            LedgerError::UnknownConnection(_) => ErrorCode::UnknownConnection,
            LedgerError::NoFreeLicence { .. } => ErrorCode::NoFreeLicence,
            LedgerError::EmptyPool { code, .. } => *code,
            LedgerError::SessionGone { loss: Loss::Ended, .. } => ErrorCode::SessionEnded,
            LedgerError::SessionGone { .. } => ErrorCode::LicenceLost,
            LedgerError::DuplicateSession(_) => ErrorCode::Internal,
        }
    }
}

fn empty_pool(series: SeriesId, code: ErrorCode) -> String {
    match code {
        ErrorCode::KeyExpired => format!("the keys of series {series} have expired"),
        ErrorCode::KeyNotStarted => format!("the keys of series {series} have not started yet"),
        _ => format!("no key of series {series} gives licences on this server"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_series_and_the_session() {
        let series: SeriesId = "672B".parse().unwrap();
        let full = LedgerError::NoFreeLicence { series, used: 10, capacity: 10 };
        assert_eq!(full.to_string(), "no free licence of series 672B: 10 of 10 in use");
        assert_eq!(full.code(), ErrorCode::NoFreeLicence);
        let expired = LedgerError::EmptyPool { series, code: ErrorCode::KeyExpired };
        assert_eq!(expired.to_string(), "the keys of series 672B have expired");
        assert_eq!(expired.code(), ErrorCode::KeyExpired);
        let ended = LedgerError::SessionGone { session_id: "S1".into(), loss: Loss::Ended };
        assert_eq!(ended.to_string(), "session `S1` was ended by the administrator; obtain a licence again");
        assert_eq!(ended.code(), ErrorCode::SessionEnded);
        let lost = LedgerError::SessionGone { session_id: "S1".into(), loss: Loss::Expired };
        assert_eq!(lost.code(), ErrorCode::LicenceLost);
        assert_eq!(LedgerError::UnknownConnection("C".into()).code(), ErrorCode::UnknownConnection);
    }
}
