//! The real `licenceserver` started for a test: in the foreground (`-r`), on loopback only, in the
//! test's own root, on a port the system picks unless the test asks for one (a restart on the port the
//! first run announced), with the port learnt from the server's own announcement.

use crate::process::{spawn_announced, Announced, NotAnnounced, Stream};
use crate::wait::PATIENCE;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// What `licenceserver` prints on stdout once it listens, before `ADDR:PORT`.
pub const ANNOUNCEMENT: &str = "listening on ";

/// Starts `binary -r --listen 127.0.0.1 --port {port} --root {root}` with `envs` added to its
/// environment and waits for it to announce its address; `port` 0 lets the system pick one.
///
/// A restart asks for the port of the run before it, which a neighbouring test's server could in
/// principle have been given by the system in the moment between the two runs (the kernel hands out
/// ports of its ephemeral range at random, so the chance is about one in the size of that range per
/// server started meanwhile); a start that fails to bind that port is tried again until [`PATIENCE`]
/// runs out, in case the neighbour lets go.
pub fn start(binary: &Path, root: &Path, port: u16, envs: &[(String, String)]) -> Result<Announced, NotAnnounced> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut command = Command::new(binary);
        command
            .args(["-r", "--listen", "127.0.0.1", "--port", &port.to_string(), "--root"])
            .arg(root)
            .envs(envs.iter().map(|(k, v)| (k, v)));
        match spawn_announced(&mut command, Stream::Stdout, ANNOUNCEMENT, PATIENCE) {
            Ok(started) => {
                assert!(port == 0 || started.address.port() == port, "asked for port {port}, got {}", started.address);
                return Ok(started);
            }
            Err(e) if port != 0 && e.output.contains("cannot listen on") && Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
}
