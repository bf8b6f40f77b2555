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
        // `--port 0` lets the system pick: from here on the port is the one bound.
        let bound = listener.local_addr().with_context(|| format!("cannot read the address bound for {address}"))?;
        config.startup.port = bound.port();
        let port_file = layout.config_dir().join(PORT_FILE);
        let app = Arc::new(app::App::start(config, layout)?);
        tokio::spawn(app.clone().housekeeping());
        log::info!("listening on {bound}; ComputerID {}", app.info.computer_id);
        // Listening for the signals before the announcement: whoever learns the port from it may stop
        // the server at once, and that stop is a clean one.
        let shutdown = shutdown_signal();
        let _announced = Announced::write(port_file, bound)?;
        let header_timeout = std::time::Duration::from_secs(app.startup.header_read_timeout.into());
        http::serve::serve(listener, web::router(app), header_timeout, shutdown).await;
        log::info!("stopped");
        anyhow::Ok(())
    })
}

/// The file in the config folder (`{root}/3.0`) that names the address the running server bound,
/// `ADDR:PORT` and a newline: how a script or a test that started it with `--port 0` learns the port.
pub const PORT_FILE: &str = "licenceserver.port";

/// The announcement that the server accepts connections on `bound`: `listening on ADDR:PORT` on stdout
/// and the [`PORT_FILE`] (written whole through a temporary file, so a reader never sees half of it),
/// removed again when the server stops cleanly. After `kill -9` the file stays until the next start
/// replaces it.
struct Announced(std::path::PathBuf);

impl Announced {
    fn write(path: std::path::PathBuf, bound: SocketAddr) -> anyhow::Result<Self> {
        use std::io::Write;
        let partial = path.with_extension(format!("port.{}", std::process::id()));
        std::fs::write(&partial, format!("{bound}\n"))
            .and_then(|()| std::fs::rename(&partial, &path))
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut out = std::io::stdout().lock();
        // A closed stdout (a service manager's) must not stop the server: the file says it too.
        let _ = writeln!(out, "listening on {bound}").and_then(|()| out.flush());
        Ok(Self(path))
    }
}

impl Drop for Announced {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
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
                _ => std::future::pending().await,
            }
        }
    };
    #[cfg(not(unix))]
    let stopped = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    async move {
        stopped.await;
        log::info!("stopping on signal");
    }
}
