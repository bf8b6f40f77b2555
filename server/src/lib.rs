//! The licence server as a library, so that integration tests and the benchmark can reach its pure
//! parts; `main.rs` is a thin command line over [`run`]. The accounting (`ledger`, `pool`) is plain
//! synchronous code; HTTP, files, the lease store and the clock sit around it.
#![forbid(unsafe_code)]

pub mod access;
pub mod activation;
pub mod app;
pub mod clock;
pub mod config;
pub mod console;
pub mod http;
pub mod keystore;
pub mod layout;
pub mod ledger;
pub mod logging;
pub mod observe;
pub mod pool;
pub mod queries;
pub mod store;
pub mod sysinfo;
pub mod usb;
pub mod version;
pub mod views;
pub mod web;

use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the command line may override.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub port: Option<u16>,
    pub listen: Option<std::net::IpAddr>,
}

/// Runs the server in the foreground until SIGINT/SIGTERM.
pub fn run(layout: layout::Layout, overrides: Overrides) -> anyhow::Result<()> {
    layout.create_dirs().with_context(|| format!("cannot create the folders under {}", layout.root().display()))?;
    let config_path = layout.config_file();
    let (mut config, problems) = config::load(&config_path);
    let log_path = logging::start(&layout.logs_dir(), config.startup.keep_previous_logs, true)
        .with_context(|| format!("cannot open a log file in {}", layout.logs_dir().display()))?;
    log::info!(
        "licenceserver {} starting (pid {}), log {}",
        version::announced(),
        std::process::id(),
        log_path.display()
    );
    version::log_test_switch();
    clock::log_test_switch();
    for p in &problems {
        log::error!("config {p}");
    }
    for said in access::passwords::hash_clear_passwords(&config_path, &mut config) {
        log::warn!("config {said}");
    }
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        log::error!("internal error (a bug): {info}");
        default_hook(info);
    }));
    let startup = &mut config.startup;
    startup.port = overrides.port.unwrap_or(startup.port);
    startup.listen = overrides.listen.unwrap_or(startup.listen);
    let address = SocketAddr::new(startup.listen, startup.port);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address).await.with_context(|| {
            format!("cannot listen on {address} (is another server running? set [Common] ServerPort)")
        })?;
        let app = Arc::new(app::App::start(config, layout)?);
        tokio::spawn(app.clone().housekeeping());
        log::info!("listening on {address}; ComputerID {}", app.info.computer_id);
        let header_timeout = std::time::Duration::from_secs(app.startup.header_read_timeout.into());
        http::serve::serve(listener, web::router(app), header_timeout, shutdown_signal()).await;
        log::info!("stopped");
        anyhow::Ok(())
    })
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    log::info!("stopping on signal");
}
