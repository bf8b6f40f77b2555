//! The crate's one error type. Every failure the 1C developer can see carries a stable protocol
//! number ([`ErrorCode`]) so a configuration can tell "server unreachable" (1) from "no free licence"
//! (2) from "version mismatch" (3), an English message (`Display`) and a Russian one
//! ([`Error::message_ru`]) for the add-in's error description property.
//!
//! Causes are kept, not flattened into text: an unreachable server list holds each endpoint's
//! [`NoAnswer`] ([`Tried`]), an untrusted server the check that failed ([`Distrust`]). Each message
//! still says its cause in its own words, since the add-in shows `Display` alone.

use crate::conf::Endpoint;
use crate::transport::NoAnswer;
use licence_protocol::channel::{ChannelError, ProofError};
use licence_protocol::key::SeriesId;
use licence_protocol::wire::ErrorCode;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No endpoint answered: connection refused, reset, timed out, or the name did not resolve.
    #[error("no licence server answered: {tried}")]
    Unreachable {
        /// Each endpoint tried and why it gave no answer.
        #[source]
        tried: Tried,
    },
    /// The server answered with the protocol's error body.
    #[error("{message}")]
    Server { code: ErrorCode, status: u16, message: String, endpoint: String },
    /// Something answered that is not the protocol (a different HTTP server, a truncated body).
    #[error("server {endpoint} answered status {status} with a body that is not the add-in protocol's: `{body}`")]
    BadAnswer { endpoint: String, status: u16, body: String },
    /// The configuration pinned no series public key (`SeriesPublicKey`): nothing is sent to any server,
    /// since no answer could be trusted.
    #[error("SeriesPublicKey is not set: the configuration must pin its series' public key (64 hex digits, the vendor's {series}.pub) before any licence call")]
    NotPinned { series: String },
    /// A server that could not prove it holds a genuine key of the pinned series, or whose answer was
    /// not sealed in the connection's channel: a fake, replaying or relaying server.
    #[error("licence server {endpoint} is not trusted: {reason}")]
    Untrusted {
        endpoint: String,
        #[source]
        reason: Distrust,
    },
    /// The licence holder's heartbeat thread could not be started.
    #[error("cannot start the heartbeat thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The add-in's log file could not be created or written.
    #[error("log file `{path}`: {source}")]
    Log { path: PathBuf, source: std::io::Error },
}

/// One endpoint that gave no answer, and why.
#[derive(Debug, thiserror::Error)]
#[error("{endpoint} ({why})")]
pub struct Attempt {
    pub endpoint: Endpoint,
    #[source]
    pub why: NoAnswer,
}

/// The endpoints tried without an answer, in the order tried (none: no server is configured); reads
/// `127.0.0.1:1 (connection refused); 127.0.0.1:2 (timed out)`. Its source is the first attempt.
#[derive(Debug, Default)]
pub struct Tried(pub Vec<Attempt>);

impl Tried {
    /// One endpoint tried.
    pub fn one(endpoint: &Endpoint, why: NoAnswer) -> Self {
        Self(vec![Attempt { endpoint: endpoint.clone(), why }])
    }
}

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no licence server is configured");
        }
        f.write_str(&join(&self.0, "; "))
    }
}

impl std::error::Error for Tried {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.first().map(|a| a as _)
    }
}

/// Why a server is not believed (see `client`'s "Trust"), with the check that failed as the source.
#[derive(Debug, thiserror::Error)]
pub enum Distrust {
    /// A sealed call answered in plain.
    #[error("it answered the sealed call {path} with a plain answer, not sealed in the connection's channel")]
    PlainAnswer {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    /// A sealed answer that does not open in the connection's channel.
    #[error("its answer to {path} is not sealed in the connection's channel: {source}")]
    NotSealed { path: String, source: ChannelError },
    /// The `connect` answer showed no proof at all. `pin` is the pin's first 8 hex digits.
    #[error("it proved no key of series {series} signed by the series key this configuration pins ({pin}…)")]
    NoProof { series: SeriesId, pin: String },
    /// Every proof shown was refused.
    #[error(
        "no proof of a key of series {series} signed by the series key this configuration pins ({pin}…) holds: \
         {refused}"
    )]
    ProofsRefused {
        series: SeriesId,
        pin: String,
        #[source]
        refused: Refused,
    },
    #[error("it agreed no channel (no ServerKey)")]
    NoServerKey,
    #[error("its channel key is unusable: {0}")]
    BadChannelKey(#[source] ChannelError),
    /// A grant of a key not proved at connect.
    #[error(
        "it granted a licence of key {key_no} of series {series}, which it did not prove it holds (it proved: {})",
        join(.proved, ", ")
    )]
    UnprovedGrant { key_no: u64, series: SeriesId, proved: Vec<u64> },
}

/// The proofs refused at `connect`, each with why; its source is the first refusal.
#[derive(Debug)]
pub struct Refused(pub Vec<ProofError>);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&join(&self.0, "; "))
    }
}

impl std::error::Error for Refused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.first().map(|e| e as _)
    }
}

/// `items`, `separator`-separated.
fn join<T: fmt::Display>(items: &[T], separator: &str) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(separator)
}

/// The name the brief and the add-in layer use for the client's error.
pub type ClientError = Error;

impl Error {
    /// The stable protocol number shown to the 1C developer.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Unreachable { .. } => ErrorCode::ServerUnreachable,
            Error::Server { code, .. } => *code,
            Error::NotPinned { .. } => ErrorCode::SeriesKeyNotPinned,
            Error::Untrusted { .. } => ErrorCode::ServerNotTrusted,
            Error::BadAnswer { .. } | Error::Thread(_) | Error::Log { .. } => ErrorCode::Internal,
        }
    }

    /// `code().number()`.
    pub fn number(&self) -> u16 {
        self.code().number()
    }

    /// True when the server in use is gone (no answer) or forgot the connection or its channel:
    /// connect again.
    pub fn needs_reconnect(&self) -> bool {
        matches!(self, Error::Unreachable { .. })
            || matches!(self.code(), ErrorCode::UnknownConnection | ErrorCode::NoChannel)
    }

    /// The Russian description for the add-in's error property: what happened in the 1C developer's
    /// terms, then the English details.
    pub fn message_ru(&self) -> String {
        format!("{} ({self})", summary_ru(self.code()))
    }
}

/// One line of Russian per protocol error.
pub fn summary_ru(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::ServerUnreachable => "Сервер лицензий недоступен",
        ErrorCode::NoFreeLicence => "Нет свободной лицензии",
        ErrorCode::VersionMismatch => "Версия сервера лицензий не совпадает с версией компоненты",
        ErrorCode::KeyExpired => "Срок действия ключей защиты истёк",
        ErrorCode::BadRequest => "Сервер лицензий отклонил некорректный запрос",
        ErrorCode::NoKey => "На сервере лицензий нет действующего ключа защиты этой серии",
        ErrorCode::UnknownConnection => "Соединение с сервером лицензий утрачено",
        ErrorCode::LicenceLost => "Лицензия сеанса утрачена",
        ErrorCode::SessionEnded => "Сеанс завершён администратором",
        ErrorCode::Internal => "Внутренняя ошибка сервера лицензий",
        ErrorCode::KeyNotStarted => "Срок действия ключей защиты ещё не начался",
        ErrorCode::ServerBusy => "Сервер лицензий перегружен, повторите попытку позже",
        ErrorCode::LocalFallback => {
            "Сервер лицензий недоступен, лицензия получена по ключу защиты, установленному на этом компьютере"
        }
        ErrorCode::NoChannel => "Защищённый канал с сервером лицензий утрачен",
        ErrorCode::ObjectRefused => "Защищённый объект не может быть открыт",
        ErrorCode::SeriesKeyNotPinned => {
            "Не задан открытый ключ серии (SeriesPublicKey): без него лицензия не может быть проверена"
        }
        ErrorCode::ServerNotTrusted => {
            "Сервер лицензий не доказал, что у него есть подлинный ключ защиты этой серии: ответ поддельного сервера \
             или посредника отклонён"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_is_code_1_and_reads_in_both_languages() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = Error::Unreachable { tried: Tried::one(&Endpoint::new("127.0.0.1", 9), NoAnswer::Io(refused)) };
        assert_eq!(e.number(), 1);
        assert_eq!(e.to_string(), "no licence server answered: 127.0.0.1:9 (connection refused)");
        let attempt = std::error::Error::source(&e).and_then(std::error::Error::source).unwrap();
        let cause = attempt.source().and_then(|c| c.downcast_ref::<NoAnswer>()).unwrap();
        assert!(matches!(cause, NoAnswer::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused));
        assert!(e.message_ru().starts_with("Сервер лицензий недоступен ("));
        assert!(e.needs_reconnect());
    }

    #[test]
    fn server_errors_keep_the_servers_code_and_message() {
        let e = Error::Server {
            code: ErrorCode::VersionMismatch,
            status: 409,
            message: "server version 3.0.1.0 does not match client version 2.1.7".into(),
            endpoint: "127.0.0.1:9099".into(),
        };
        assert_eq!(e.number(), 3);
        assert_eq!(e.to_string(), "server version 3.0.1.0 does not match client version 2.1.7");
        assert!(e.message_ru().contains("не совпадает"));
        assert!(!e.needs_reconnect());
    }

    #[test]
    fn the_add_ins_own_trust_failures_have_their_numbers() {
        let e = Error::NotPinned { series: "672B".into() };
        assert_eq!(e.number(), 16);
        assert!(e.to_string().contains("SeriesPublicKey is not set"));
        assert!(e.message_ru().starts_with("Не задан открытый ключ серии"));
        let reason = Distrust::NoProof { series: "672B".parse().unwrap(), pin: "0a1b2c3d".into() };
        let e = Error::Untrusted { endpoint: "127.0.0.1:9099".into(), reason };
        assert_eq!(
            e.to_string(),
            "licence server 127.0.0.1:9099 is not trusted: it proved no key of series 672B signed by the series key \
             this configuration pins (0a1b2c3d…)"
        );
        assert_eq!(e.number(), 17);
        assert!(!e.needs_reconnect());
        assert!(e.message_ru().starts_with("Сервер лицензий не доказал"));
    }

    #[test]
    fn every_code_has_a_russian_summary() {
        let all: std::collections::HashSet<_> = ErrorCode::ALL.iter().map(|c| summary_ru(*c)).collect();
        assert_eq!(all.len(), ErrorCode::ALL.len());
    }
}
