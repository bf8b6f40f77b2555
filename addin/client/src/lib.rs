//! The add-in's safe core, kept apart from the Native API layer (`addin/src`) so that it is plain,
//! testable Rust with no `unsafe`:
//! - [`conf`]: where `licenceaddin.conf` lives and how it combines with the configuration's settings
//!   into the ordered list of servers to try;
//! - [`client`]: the blocking client of the licence server with failover, which believes only a server
//!   that proves at connect it holds a key signed by the configuration's pin, and seals every later
//!   call (over [`transport`], which speaks HTTP/1.1 through [`http1`], with this process's [`facts`]);
//! - [`session`]: a held licence kept alive by a heartbeat thread that follows it to a reserved server;
//! - [`fallback`]: the optional local fallback to a key installed on this computer, signed by the pin,
//!   when no server answers;
//! - [`terminal`]: the terminal client of this session (RDP, X2Go, xrdp, SSH), or the configuration's;
//! - [`logfile`]: the add-in's log files;
//! - [`error`]: the one error type, with the protocol's stable numbers and Russian messages.
#![forbid(unsafe_code)]

pub mod client;
pub mod conf;
pub mod error;
pub mod facts;
pub mod fallback;
pub mod http1;
pub mod logfile;
pub mod session;
pub mod terminal;
pub mod transport;

pub use error::{ClientError, Error};
