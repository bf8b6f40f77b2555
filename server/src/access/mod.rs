//! Access to the console and the REST API: the [`Guard`] in front of every request to them, the
//! passwords it checks (argon2 hashes, `passwords`) and the API's tokens (`token`). It sits below the
//! app and the HTTP layer: it reads the live settings and the clock, and knows nothing of routes,
//! seats or keys.

pub mod guard;
pub mod passwords;
pub mod token;

pub use crate::config::Scope;
pub use guard::{basic_credentials, Guard, Verdict};
