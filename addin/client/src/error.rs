//! The crate's one error type. Every failure the 1C developer can see carries a stable protocol
//! number ([`ErrorCode`]) so a configuration can tell "server unreachable" (1) from "no free licence"
//! (2) from "version mismatch" (3), an English message (`Display`) and a Russian one
//! ([`Error::message_ru`]) for the add-in's error description property.

use licence_protocol::wire::ErrorCode;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No endpoint answered: connection refused, reset, timed out, or the name did not resolve.
    #[error("no licence server answered: {tried}")]
    Unreachable {
        /// Each endpoint tried and why it gave no answer, `; `-separated.
        tried: String,
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
    Untrusted { endpoint: String, reason: String },
    /// The licence holder's heartbeat thread could not be started.
    #[error("cannot start the heartbeat thread: {0}")]
    Thread(std::io::Error),
    /// The add-in's log file could not be created or written.
    #[error("log file `{path}`: {source}")]
    Log { path: PathBuf, source: std::io::Error },
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
        let e = Error::Unreachable { tried: "127.0.0.1:9 (connection refused)".into() };
        assert_eq!(e.number(), 1);
        assert_eq!(e.to_string(), "no licence server answered: 127.0.0.1:9 (connection refused)");
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
        let e = Error::Untrusted { endpoint: "127.0.0.1:9099".into(), reason: "no proof".into() };
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
