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
use licence_protocol::centre::ActivationRequest;
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
    /// The HTTP status the API answers with, and the console's page too.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Invalid(_) | Error::Refused(_) => StatusCode::BAD_REQUEST,
            Error::Activation(e) => StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// An internal failure, logged with its cause.
    fn internal(context: &'static str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let source = source.into();
        log::error!("{context}: {source}");
        Error::Internal { context, source }
    }
}

/// A licence not installed: logged, and an internal failure said as one.
impl From<ActivationError> for Error {
    fn from(e: ActivationError) -> Self {
        match e {
            ActivationError::Internal(detail) => Error::internal("the licence could not be installed", detail),
            other => {
                log::warn!("licence not installed: {other}");
                Error::Activation(other)
            }
        }
    }
}

/// Every installed key, as the key list shows it.
pub fn licences(app: &App) -> Vec<LicenceView> {
    let now = crate::clock::now();
    let inner = app.lock();
    inner.keys.values().map(|k| views::licence(k, &inner.standing, inner.ledger.used(k.key_no), now)).collect()
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
    let inner = app.lock();
    let key = inner.keys.get(&number).ok_or_else(|| no_key(number))?;
    Ok(views::licence(key, &inner.standing, inner.ledger.used(number), crate::clock::now()))
}

/// The backup code of key `number`, which re-installs it after a disk loss or a change of this
/// computer's identity, or moves it onto a USB blank; logged as shown.
pub fn backup_code(app: &App, number: u64) -> Result<BackupCodeView, Error> {
    let series = app.lock().keys.get(&number).map(|k| k.series).ok_or_else(|| no_key(number))?;
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
    let now = crate::clock::now();
    app.lock().ledger.connections().map(|c| views::connection(c, now)).collect()
}

/// One live connection.
pub fn connection(app: &App, id: &str) -> Result<ConnectionView, Error> {
    let inner = app.lock();
    let c = inner.ledger.connection(id).ok_or_else(|| not_found("connection", id))?;
    Ok(views::connection(c, crate::clock::now()))
}

/// Every live session.
pub fn sessions(app: &App) -> Vec<SessionView> {
    let now = crate::clock::now();
    app.lock().ledger.sessions().map(|s| views::session(s, now)).collect()
}

/// One live session.
pub fn session(app: &App, id: &str) -> Result<SessionView, Error> {
    let inner = app.lock();
    let s = inner.ledger.session(id).ok_or_else(|| not_found("session", id))?;
    Ok(views::session(s, crate::clock::now()))
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
            AppError::Internal(e) => Error::internal("the session could not be ended", e),
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
        let request = order.request(&target, crate::clock::now());
        let answer = activation::ask_centre(&url, &request)?;
        let installed = activation::install(&worker.layout.data_dir(), &answer, Some(&request.request_id), |blank| {
            if blank == target.blank_key_no {
                Ok(target)
            } else {
                Err(ActivationError::BadAnswer("the key is for another carrier than the one asked for".into()))
            }
        })?;
        worker.reload_keys(crate::clock::now());
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
        blocking(move || Ok(order.request(&worker.activation_target(order.blank_key_no)?, crate::clock::now())))
            .await?;
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
        worker.reload_keys(crate::clock::now());
        Ok(installed)
    })
    .await
}

/// A key just installed, as the key list shows it now.
pub fn installed(app: &App, installed: &Installed) -> InstalledView {
    let inner = app.lock();
    match inner.keys.get(&installed.fields.key_no) {
        Some(key) => InstalledView::Listed(Box::new(views::licence(
            key,
            &inner.standing,
            inner.ledger.used(key.key_no),
            crate::clock::now(),
        ))),
        None => InstalledView::Issued(Box::new(installed.fields.clone())),
    }
}
