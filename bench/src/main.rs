//! `licencebench`: the on-demand benchmark of the licence server. It drives the add-in protocol over
//! loopback with a small hand-written HTTP/1.1 client and compares the server with a static answer
//! from nginx under the same load, then holds ten thousand live sessions and reads the server's
//! memory. It only prints figures (PASS/MISS against the targets); `scripts/bench.sh` starts
//! nginx and a licence server with a fresh key and runs every scenario in one go.
#![forbid(unsafe_code)]

mod addin;
mod args;
mod http;
mod load;
mod procfs;
mod report;
mod scenario;
mod stats;

use args::{Args, Scenario};
use report::Report;
use scenario::{heartbeat, obtain_release, sessions, static_file, Settings};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("licencebench: {e}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("licencebench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.block_on(run(&args));
    let text = report.render();
    println!("\n{text}");
    if let Some(path) = &args.out {
        if let Err(e) = std::fs::write(path, &text) {
            eprintln!("licencebench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run(args: &Args) -> Report {
    let s = &args.settings;
    let server_at_start = s.server_pid.and_then(procfs::memory);
    let mut report = Report { context: context(args), server_at_start, ..Report::default() };
    for &scenario in &args.scenarios {
        announce(scenario, s);
        let outcome = match scenario {
            Scenario::Static => match s.static_addr {
                Some(addr) => static_file::run(s, addr).await.map(|row| report.nginx = Some(row)),
                None => Ok(()),
            },
            Scenario::ObtainRelease => obtain_release::run(s).await.map(|row| report.obtain_release = Some(row)),
            Scenario::Heartbeat => heartbeat::run(s).await.map(|row| report.heartbeat = Some(row)),
            Scenario::Sessions => sessions::run(s).await.map(|r| report.sessions = Some(r)),
        };
        if let Err(e) = outcome {
            eprintln!("licencebench: {scenario:?} failed: {e}");
            report.failures.push(format!("{scenario:?}: {e}"));
        }
    }
    report
}

fn announce(scenario: Scenario, s: &Settings) {
    let run = s.warmup + s.seconds;
    match scenario {
        Scenario::Static => eprintln!("licencebench: static file, {} clients, {:.0} s", s.clients, run.as_secs_f64()),
        Scenario::ObtainRelease => {
            eprintln!("licencebench: obtain+release, {} clients, {:.0} s", s.clients, run.as_secs_f64())
        }
        Scenario::Heartbeat => eprintln!("licencebench: heartbeat, {} clients, {:.0} s", s.clients, run.as_secs_f64()),
        Scenario::Sessions => eprintln!(
            "licencebench: {} sessions over {} connections, held {:.0} s",
            s.sessions,
            s.session_connections,
            s.hold.as_secs_f64()
        ),
    }
}

/// The line above the table: what was measured and under which conditions.
fn context(args: &Args) -> String {
    let s = &args.settings;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "licencebench {}: loopback, {cores} cores shared by server and load generator ({} thread(s)); \
         throughput scenarios: {} keep-alive clients, {:.1} s measured after {:.1} s warm-up",
        licence_protocol::VERSION,
        args.threads,
        s.clients,
        s.seconds.as_secs_f64(),
        s.warmup.as_secs_f64()
    )
}
