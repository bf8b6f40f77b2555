//! What the administrator asks of the server, answered as [`crate::views`]: the keys, connections
//! and sessions, a key's backup code, ending a session, and installing licences (online through the
//! activation centre, or offline by files). The REST API and the console both call these and only
//! these, so the two say the same things in the same words; each turns an [`Error`] into its own
//! answer with the status [`Error::status`] gives.

use crate::activation::{self, ActivationError, InstallOrder, Installed};
use crate::app::{App, AppError};
use crate::ledger::LedgerError;
use crate::views::{self, BackupCodeView, ConnectionView, InstalledView, LicenceView, SessionView};
use axum::http::StatusCode;
use licence_protocol::centre::{ActivationRequest, Refusal};
use licence_protocol::text::{self, shorten};
use serde_json::Value;
use std::sync::Arc;

/// Why a question has no answer or a change was not made. The message is for the administrator;
/// an internal failure's cause is logged where it happens and kept as the source, never shown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request names a key, connection or session that is not there.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The ledger refused the change.
    #[error(transparent)]
    Refused(LedgerError),
    /// The licence was not installed, for a reason the administrator can act on.
    #[error(transparent)]
    Activation(ActivationError),
    /// Something failed inside the server.
    #[error("{context}; see the server log.")]
    Internal {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// The HTTP status the API answers with, and the console's page too: the one mapping of these
    /// failures to statuses.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Invalid(_) | Error::Refused(_) => StatusCode::BAD_REQUEST,
            Error::Activation(e) => activation_status(e),
            Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// An internal failure, logged with its causes.
    fn internal(context: &'static str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let source = source.into();
        log::error!("{context}: {}", text::causes(source.as_ref()));
        Error::Internal { context, source }
    }
}

/// An activation's failure: the caller's mistakes are 4xx, the centre's 502, an absent or unreachable
/// centre 503, a computer without an identity 500.
fn activation_status(e: &ActivationError) -> StatusCode {
    match e {
        ActivationError::Invalid(_) | ActivationError::Rejected(_) => StatusCode::BAD_REQUEST,
        ActivationError::BlankMissing(_) => StatusCode::NOT_FOUND,
        ActivationError::NoCentre | ActivationError::Unreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ActivationError::BadAnswer(_) => StatusCode::BAD_GATEWAY,
        ActivationError::Refused { refusal, .. } => match refusal {
            // The centre found our own request malformed, or failed itself: not the caller's fault.
            Refusal::BadRequest | Refusal::Internal => StatusCode::BAD_GATEWAY,
            other => StatusCode::from_u16(other.http_status()).unwrap_or(StatusCode::BAD_GATEWAY),
        },
        ActivationError::NoIdentity(_) | ActivationError::Encode(_) | ActivationError::Write(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// A licence not installed: logged; the server's own failure said as one, its cause kept for the log.
impl From<ActivationError> for Error {
    fn from(e: ActivationError) -> Self {
        match e {
            ActivationError::Encode(_) | ActivationError::Write(_) => {
                Error::internal("the licence could not be installed", e)
            }
            other => {
                log::warn!("licence not installed: {}", text::causes(&other));
                Error::Activation(other)
            }
        }
    }
}

/// Every installed key, as the key list shows it.
pub fn licences(app: &App) -> Vec<LicenceView> {
    app.read(|inner, now| {
        inner.keys.values().map(|k| views::licence(k, &inner.standing, inner.ledger.used(k.key_no), now)).collect()
    })
}

/// A key's number as a path names it.
pub fn parse_key_no(key_no: &str) -> Result<u64, Error> {
    key_no
        .parse()
        .map_err(|_| Error::Invalid(format!("KeyNo `{}` is not a key's serial number", shorten(key_no, text::NAME))))
}

fn no_key(number: u64) -> Error {
    Error::NotFound(format!("No key with KeyNo {number} is installed."))
}

/// One installed key.
pub fn licence(app: &App, number: u64) -> Result<LicenceView, Error> {
    app.read(|inner, now| {
        let key = inner.keys.get(&number).ok_or_else(|| no_key(number))?;
        Ok(views::licence(key, &inner.standing, inner.ledger.used(number), now))
    })
}

/// The backup code of key `number`, which re-installs it after a disk loss or a change of this
/// computer's identity, or moves it onto a USB blank; logged as shown.
pub fn backup_code(app: &App, number: u64) -> Result<BackupCodeView, Error> {
    let series = app.read(|inner, _| inner.keys.get(&number).map(|k| k.series)).ok_or_else(|| no_key(number))?;
    let code = activation::backup_code(&app.layout.data_dir(), series, number).ok_or_else(|| {
        Error::NotFound(format!(
            "The server has no backup code for key {number}: it was not installed from an activation code here. \
             The vendor can tell it."
        ))
    })?;
    log::info!("backup code of key {number} shown to the administrator");
    Ok(BackupCodeView { key_no: number, backup_code: code.to_string() })
}

fn not_found(what: &str, id: &str) -> Error {
    Error::NotFound(format!("No {what} with ID \"{}\".", shorten(id, text::NAME)))
}

/// Every live connection.
pub fn connections(app: &App) -> Vec<ConnectionView> {
    app.read(|inner, now| inner.ledger.connections().map(|c| views::connection(c, now)).collect())
}

/// One live connection.
pub fn connection(app: &App, id: &str) -> Result<ConnectionView, Error> {
    app.read(|inner, now| {
        let c = inner.ledger.connection(id).ok_or_else(|| not_found("connection", id))?;
        Ok(views::connection(c, now))
    })
}

/// Every live session.
pub fn sessions(app: &App) -> Vec<SessionView> {
    app.read(|inner, now| inner.ledger.sessions().map(|s| views::session(s, now)).collect())
}

/// One live session.
pub fn session(app: &App, id: &str) -> Result<SessionView, Error> {
    app.read(|inner, now| {
        let s = inner.ledger.session(id).ok_or_else(|| not_found("session", id))?;
        Ok(views::session(s, now))
    })
}

/// Ends session `id` for the administrator: its licence is free at once and the add-in learns it
/// at its next call. Answers the session as it was.
pub async fn end_session(app: &App, id: &str) -> Result<SessionView, Error> {
    let key = id.to_owned();
    let ended = app
        .mutate(move |ledger, now| Ok::<_, LedgerError>(ledger.end_session(&key, now).map(|s| views::session(&s, now))))
        .await
        .map_err(|e| match e {
            AppError::Refused(e) => Error::Refused(e),
            other => Error::internal("the session could not be ended", other),
        })?;
    match ended {
        Some(view) => {
            log::info!("session {} ended by the administrator", shorten(id, text::NAME));
            app.observe.released(1);
            Ok(view)
        }
        None => Err(not_found("session", id)),
    }
}

/// Runs blocking activation work (files, the centre, USB) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ActivationError> + Send + 'static,
) -> Result<T, Error> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => Ok(result?),
        Err(e) => Err(Error::internal("the licence could not be installed", e)),
    }
}

/// Redeems the code of `body` (the guide's `POST /api/licences` body) at the activation centre and
/// installs the key it answers with.
pub async fn install_online(app: &Arc<App>, body: &Value) -> Result<Installed, Error> {
    let order = InstallOrder::from_json(body)?;
    let url = app.setting(|s| s.licence_center_url.clone()).ok_or(ActivationError::NoCentre)?;
    let worker = app.clone();
    blocking(move || {
        let target = worker.activation_target(order.blank_key_no)?;
        let request = order.request(&target, worker.now());
        let answer = activation::ask_centre(&url, &request)?;
        let installed = activation::install(&worker.layout.data_dir(), &answer, Some(&request.request_id), |blank| {
            if blank == target.blank_key_no {
                Ok(target)
            } else {
                Err(ActivationError::BadAnswer("the key is for another carrier than the one asked for".into()))
            }
        })?;
        worker.reload_keys(worker.now());
        Ok(installed)
    })
    .await
}

/// Offline, step 1: the activation request document for the vendor, for the order in `body` (the
/// `POST /api/licences` body).
pub async fn activation_request(app: &Arc<App>, body: &Value) -> Result<ActivationRequest, Error> {
    let order = InstallOrder::from_json(body)?;
    let worker = app.clone();
    let request =
        blocking(move || Ok(order.request(&worker.activation_target(order.blank_key_no)?, worker.now()))).await?;
    log::info!("activation request {} written for {}", request.request_id, request.code_label());
    Ok(request)
}

/// Offline, step 2: installs the vendor's activation response file, as it came.
pub async fn install_response(app: &Arc<App>, file: impl AsRef<[u8]> + Send + 'static) -> Result<Installed, Error> {
    if file.as_ref().is_empty() {
        return Err(Error::Invalid("the request body is empty; the activation response file is expected".into()));
    }
    let worker = app.clone();
    blocking(move || {
        let installed = activation::install(&worker.layout.data_dir(), file.as_ref(), None, |blank| {
            worker.activation_target(blank)
        })?;
        worker.reload_keys(worker.now());
        Ok(installed)
    })
    .await
}

/// A key just installed, as the key list shows it now.
pub fn installed(app: &App, installed: &Installed) -> InstalledView {
    app.read(|inner, now| match inner.keys.get(&installed.fields.key_no) {
        Some(key) => {
            InstalledView::Listed(Box::new(views::licence(key, &inner.standing, inner.ledger.used(key.key_no), now)))
        }
        None => InstalledView::Issued(Box::new(installed.fields.clone())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(e: ActivationError) -> u16 {
        Error::from(e).status().as_u16()
    }

    #[test]
    fn activation_failures_map_to_the_apis_statuses() {
        let refused = |refusal| status(ActivationError::Refused { refusal, message: String::new() });
        assert_eq!(refused(Refusal::UnknownCode), 404);
        assert_eq!(refused(Refusal::CodeUsed), 409);
        assert_eq!(refused(Refusal::CodeRevoked), 410);
        assert_eq!(refused(Refusal::ItnMismatch), 403);
        assert_eq!(refused(Refusal::ItnRequired), 400);
        assert_eq!(refused(Refusal::Internal), 502);
        assert_eq!(status(ActivationError::NoCentre), 503);
        assert_eq!(status(ActivationError::Invalid("x".into())), 400);
        assert_eq!(status(ActivationError::Rejected("x".into())), 400);
        assert_eq!(status(ActivationError::BlankMissing(7)), 404);
        assert_eq!(status(ActivationError::BadAnswer("x".into())), 502);
        assert_eq!(status(ActivationError::Unreachable { url: "http://c".into(), source: "refused".into() }), 503);
        let identity = Error::from(ActivationError::NoIdentity("unreadable".into()));
        assert_eq!(identity.status(), 500);
        assert!(identity.to_string().contains("unreadable"), "the administrator is told: {identity}");
        let internal = Error::from(ActivationError::Write(licence_protocol::keyfile::KeyFileError::Unwrap));
        assert_eq!(internal.status(), 500);
        assert_eq!(internal.to_string(), "the licence could not be installed; see the server log.");
    }
}
