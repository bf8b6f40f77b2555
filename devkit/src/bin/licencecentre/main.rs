//! `licencecentre`, the vendor's activation centre: `POST /activate` redeems an activation or backup
//! code from a licence server's [`ActivationRequest`] and answers a signed [`ActivationResponse`], or a
//! [`CentreError`] with the refusal's HTTP status. It is a thin HTTP layer over
//! `licence_devkit::redeem`, the same rule `licenceedit request answer` applies offline.
//!
//! Requests are of format 2: they carry no code (only its digest and a proof made with it) and no
//! binding (only the target's public key); format 1 requests are refused (400, reason 1) with what to
//! do. A request whose proof does not match its code is refused as an unknown code (404, reason 2).
//!
//! Redemptions run one at a time on a blocking thread against one store connection; SQLite makes
//! each one durable before the answer leaves. The log (stderr) names the code only by its last group
//! of digits (a refusal by the request's `code_label`, since the centre may not know the code), the
//! KeyNo and the ComputerID; never a whole code, a series secret or a signing key (the centre never
//! sees a binding).
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use licence_devkit::redeem::{redeem, shown, Redemption};
use licence_devkit::{clock, VendorStore};
use licence_protocol::centre::{ActivationRequest, CentreError, Refusal, ACTIVATE_PATH, MAX_DOCUMENT_LEN};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

#[derive(Parser)]
#[command(
    name = "licencecentre",
    version = licence_protocol::VERSION,
    about = "The activation centre: redeems activation and backup codes for licence servers",
    after_help = "Routes: POST /activate (an ActivationRequest JSON body), GET /health.\n\
                  Test switch: LICENCECENTRE_TEST_CLOCK_SHIFT_DAYS=N shifts the clock by N days."
)]
struct Cli {
    /// The vendor store: the series' .cryptkey files and vendor.sqlite (as `licenceedit --vendor-dir`).
    #[arg(long, value_name = "DIR", env = "LICENCEEDIT_VENDOR_DIR")]
    vendor_dir: PathBuf,
    /// Address and port to listen on; the centre is meant to sit behind a TLS-terminating proxy. Port
    /// 0 takes one the system picks; either way `licencecentre: listening on ADDR:PORT` on stderr says
    /// which, once a stop signal is handled cleanly.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9180")]
    listen: SocketAddr,
}

type Shared = Arc<Mutex<VendorStore>>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("licencecentre: {}", licence_devkit::describe(&e));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let store = VendorStore::open(&cli.vendor_dir)?;
    clock::now(); // announces a test clock shift, if any, before the first request
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(cli.listen, Arc::new(Mutex::new(store))))
}

async fn serve(listen: SocketAddr, store: Shared) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr().unwrap_or(listen);
    // Listening for the signals before the announcement (the port is learnt from it, `--listen
    // 127.0.0.1:0` included): a stop sent at once is a clean one.
    let shutdown = shutdown_signal();
    eprintln!("licencecentre: listening on {local}");
    let app =
        Router::new().route(ACTIVATE_PATH, post(activate)).route("/health", get(|| async { "ok\n" })).with_state(store);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.context("serving HTTP")?;
    eprintln!("licencecentre: stopped");
    Ok(())
}

/// Listens for SIGINT and SIGTERM from the moment it is called (a signal before the returned future
/// is first polled is not lost); the future ends at the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let stopped = {
        use tokio::signal::unix::{signal, SignalKind};
        let listeners = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
        async move {
            match listeners {
                (Ok(mut interrupt), Ok(mut term)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                (Ok(mut only), Err(_)) | (Err(_), Ok(mut only)) => {
                    only.recv().await;
                }
                (Err(_), Err(_)) => std::future::pending().await,
            }
        }
    };
    #[cfg(not(unix))]
    let stopped = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    async move {
        stopped.await;
        eprintln!("licencecentre: shutting down");
    }
}

/// `POST /activate`.
async fn activate(State(store): State<Shared>, body: Body) -> Response {
    let bytes = match to_bytes(body, MAX_DOCUMENT_LEN + 1).await {
        Ok(bytes) => bytes,
        Err(_) => return refused(Refusal::BadRequest, format!("the request is larger than {MAX_DOCUMENT_LEN} bytes")),
    };
    let request = match ActivationRequest::from_json(&bytes) {
        Ok(request) => request,
        Err(why) => return refused(Refusal::BadRequest, why.to_string()),
    };
    let outcome = tokio::task::spawn_blocking(move || {
        let mut store = store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outcome = redeem(&mut store, &request, clock::now());
        (request, outcome)
    })
    .await;
    match outcome {
        Ok((request, Ok(redemption))) => {
            log_redemption(&request, &redemption);
            (StatusCode::OK, Json(redemption.response)).into_response()
        }
        Ok((request, Err(e))) => {
            eprintln!("licencecentre: refused {} for ComputerID {}: {e}", request.code_label(), request.computer_id);
            let body = e.to_centre_error();
            answer(e.refusal(), body)
        }
        Err(e) => {
            eprintln!("licencecentre: a redemption failed: {e}");
            refused(Refusal::Internal, "the activation centre cannot answer right now; try again later")
        }
    }
}

fn log_redemption(request: &ActivationRequest, r: &Redemption) {
    let kind = if r.how.by_backup_code() { "backup code" } else { "code" };
    let code = format!("{kind} {} ({})", shown(r.code), request.code_label());
    let blank = r.target.blank_key_no.map_or_else(String::new, |n| format!(", BlankKeyNo {n}"));
    eprintln!(
        "licencecentre: {} {code}: key {} for ComputerID {}{blank} (request {}, server {})",
        r.how.as_str(),
        r.key_no,
        r.target.computer_id,
        request.request_id,
        licence_protocol::text::shorten(&request.server_version, 40),
    );
}

fn refused(refusal: Refusal, message: impl Into<String>) -> Response {
    answer(refusal, CentreError::new(refusal, message))
}

fn answer(refusal: Refusal, body: CentreError) -> Response {
    let status = StatusCode::from_u16(refusal.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}
