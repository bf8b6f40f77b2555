//! The names of the `ExternalEvent`s the `Licence` class sends: one source for all of them, and the
//! messages of the licensing events (the expiry warnings are named by `expiry`). Both the licence
//! methods (`licensing`) and the expiry watcher (`watch`) send them, so the names sit below both and
//! import neither.

/// `ExternalEvent`'s source for every event of the class.
pub const EVENT_SOURCE: &str = "Licence";
/// The held licence was lost; the event's data is the reason.
pub const EVENT_LOST: &str = "LicenceLost";
/// The held licence moved to another server; the event's data is that server.
pub const EVENT_SERVER_CHANGED: &str = "ServerChanged";
