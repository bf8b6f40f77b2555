//! Starting a server process of ours for a test on a port the system picks, and learning the port from
//! the server itself: both `licenceserver` (`listening on ADDR:PORT` on stdout) and `licencecentre`
//! (`licencecentre: listening on ADDR:PORT` on stderr) say which address they bound once they listen.
//! A port chosen by the test and probed until something answers could be answered by a neighbouring
//! test's server; the announcement cannot. Both output streams are read to their end by threads of
//! their own (a full pipe would stall the server); what the server said is kept for failure messages.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The output stream a server announces its address on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A started server process and the address it announced.
pub struct Announced {
    pub child: Child,
    pub address: SocketAddr,
    output: Arc<Mutex<String>>,
}

impl Announced {
    /// What the process wrote on stdout and stderr so far (the first megabyte).
    pub fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Why a server process did not announce its address.
#[derive(Debug)]
pub struct NotAnnounced {
    /// The exit status, when the process ended before announcing (`None`: it ran out of time and
    /// was killed).
    pub exit: Option<std::process::ExitStatus>,
    /// What it wrote on stdout and stderr.
    pub output: String,
}

impl std::fmt::Display for NotAnnounced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.exit {
            Some(status) => write!(f, "it exited with {status} before announcing its address")?,
            None => write!(f, "it did not announce its address in time and was killed")?,
        }
        write!(f, "; it said:\n{}", self.output)
    }
}

const KEPT_OUTPUT: usize = 1 << 20;

/// Spawns `command` with both output streams piped and waits (up to `limit`) for a line
/// `{prefix}ADDR:PORT` on `stream`.
pub fn spawn_announced(
    command: &mut Command,
    stream: Stream,
    prefix: &str,
    limit: Duration,
) -> Result<Announced, NotAnnounced> {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawns");
    let output = Arc::new(Mutex::new(String::new()));
    let (found, announced) = mpsc::channel();
    let out: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("piped stdout"));
    let err: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("piped stderr"));
    let (watched, other) = match stream {
        Stream::Stdout => (out, err),
        Stream::Stderr => (err, out),
    };
    drain(watched, Arc::clone(&output), Some((prefix.to_owned(), found)));
    drain(other, Arc::clone(&output), None);
    let said = || output.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match announced.recv_timeout(limit) {
        Ok(address) => Ok(Announced { child, address, output }),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The stream closed without the line: the process is ending (or closed it, and is killed).
            let exit = child.wait().ok();
            Err(NotAnnounced { exit, output: said() })
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(NotAnnounced { exit: None, output: said() })
        }
    }
}

/// Reads `from` to its end in a thread of its own, keeping the text in `kept`; with `announce`, sends
/// the address of the first line that starts with its prefix.
fn drain(from: Box<dyn Read + Send>, kept: Arc<Mutex<String>>, announce: Option<(String, mpsc::Sender<SocketAddr>)>) {
    std::thread::spawn(move || {
        let mut announce = announce;
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            {
                let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
                if kept.len() < KEPT_OUTPUT {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
            if let Some((prefix, found)) = &announce {
                if let Some(address) = line.strip_prefix(prefix.as_str()).and_then(|a| a.trim().parse().ok()) {
                    let _ = found.send(address);
                    announce = None;
                }
            }
        }
    });
}
