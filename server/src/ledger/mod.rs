//! The seat ledger: who is connected, which 1C sessions hold a licence, and which key each licence
//! is taken from. It enforces the licence count: no key ever carries more seats than its
//! `LicenceCount`, a reconnecting session gets its own seat back instead of a second one, and file
//! mode sessions of one computer (or terminal client) share one seat. Connections and sessions
//! are leases that end unless refreshed. Everything here is pure and synchronous: the caller holds
//! the lock, passes the time and new IDs in, and persists the [`Change`]s each operation records so
//! that a restarted server can [`Ledger::restore`] the live sessions.

mod capacity;
mod error;
mod names;
mod ops;
mod seats;
mod tombstones;

#[cfg(test)]
mod mode_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use error::{LedgerError, Loss};
pub use tombstones::TOMBSTONE_LIMIT;

use licence_protocol::key::{KeyKind, SeriesId};
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{ConnectRequest, ErrorCode, LicenceGrant, SessionFacts};
use seats::{Identity, SeatBook};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tombstones::Tombstones;

/// How long leases last past their last use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerConfig {
    pub connection_lease: Duration,
    pub session_lease: Duration,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self { connection_lease: Duration::from_secs(20), session_lease: Duration::from_secs(60) }
    }
}

/// One key as the ledger sees it: how many seats it may carry and whether it counts at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCapacity {
    pub key_no: u64,
    pub series: SeriesId,
    pub kind: KeyKind,
    pub licence_count: u32,
    pub counts: bool,
}

/// One add-in instance: one 1C process working with one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub facts: ConnectRequest,
    pub peer_ip: String,
    pub created: UtcTime,
    pub last_used: UtcTime,
    pub expire_time: UtcTime,
}

/// One 1C infobase session holding a licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub facts: SessionFacts,
    /// The connection the session was last obtained or checked through.
    pub connection_id: String,
    pub series: SeriesId,
    /// Copied from the connection that first obtained the licence. Decides who holds the seat only
    /// when the connection string names no infobase (`seats::mode`).
    pub is_server: bool,
    /// The source address of the connection that first obtained the licence: in file mode, part of
    /// what a computer is. Empty in records saved before it was kept (the restore fills it in from
    /// the session's connection when that is still known).
    #[serde(default)]
    pub peer_ip: String,
    /// True when the connection that first obtained the licence is a web server's process
    /// (`infobase::is_web_server_process`): its file infobase sessions count one licence each.
    #[serde(default)]
    pub web_server: bool,
    /// `KeyNo` of the key whose licence the session holds.
    pub used_licence: u64,
    pub created: UtcTime,
    pub expire_time: UtcTime,
}

impl Session {
    /// Who holds this session's seat.
    fn holder(&self) -> seats::Holder {
        let mode = seats::mode(self.is_server, self.web_server, &self.facts);
        seats::Holder::of(self.series, mode, &self.peer_ip, &self.facts)
    }
}

/// A held licence, as obtain and check answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub session_id: String,
    pub key_id: SeriesId,
    pub used_licence: u64,
    pub expire_time: UtcTime,
    /// True when the session already held this licence (a reconnect or a check).
    pub reused: bool,
}

impl From<Grant> for LicenceGrant {
    fn from(g: Grant) -> Self {
        LicenceGrant {
            session_id: g.session_id,
            key_id: g.key_id,
            used_licence: g.used_licence,
            expire_time: g.expire_time,
            reused: g.reused,
        }
    }
}

/// What the store must keep so that a restart finds the same leases. Lease refreshes are not
/// changes: a restarted server grants every restored lease afresh.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    ConnectionSaved(Connection),
    ConnectionRemoved(String),
    /// A new session, or one re-bound to another connection or moved to another key.
    SessionSaved(Session),
    SessionRemoved(String),
}

#[derive(Debug)]
struct Entry {
    session: Session,
    seat: u64,
}

/// Connections, sessions and seats. See the module documentation.
#[derive(Debug)]
pub struct Ledger {
    config: LedgerConfig,
    connections: HashMap<String, Connection>,
    sessions: HashMap<String, Entry>,
    by_identity: HashMap<Identity, String>,
    /// Session IDs by the connection they are bound to; outlives an expired connection.
    by_connection: HashMap<String, BTreeSet<String>>,
    seats: SeatBook,
    why_none: HashMap<SeriesId, ErrorCode>,
    tombstones: Tombstones,
    changes: Vec<Change>,
    /// Per series, the series public key its live connections pin and how many pin it, kept as
    /// connections come and go (all of a series' connections pin the same key: `connect` refuses
    /// another one).
    pins: HashMap<SeriesId, ([u8; 32], usize)>,
    /// Connections already logged for an `IsServer` that disagrees with their infobase (once each).
    disagreed: BTreeSet<String>,
}

/// The series public key a connection pins (its `SeriesPublicKey`), if it carries a well-formed one.
pub fn pin_of(facts: &licence_protocol::wire::ConnectRequest) -> Option<[u8; 32]> {
    let mut pin = [0u8; 32];
    hex::decode_to_slice(facts.series_public_key.as_deref()?.trim(), &mut pin).ok()?;
    Some(pin)
}

impl Ledger {
    /// Lease lengths for leases given or refreshed from now on (the administrator changed them);
    /// leases already running keep their end until their next refresh.
    pub fn set_config(&mut self, config: LedgerConfig) {
        self.config = config;
    }

    pub fn new(config: LedgerConfig) -> Self {
        Self {
            config,
            connections: HashMap::new(),
            sessions: HashMap::new(),
            by_identity: HashMap::new(),
            by_connection: HashMap::new(),
            seats: SeatBook::default(),
            why_none: HashMap::new(),
            tombstones: Tombstones::new(TOMBSTONE_LIMIT),
            changes: Vec::new(),
            pins: HashMap::new(),
            disagreed: BTreeSet::new(),
        }
    }

    pub fn config(&self) -> LedgerConfig {
        self.config
    }

    /// The changes recorded since the last call, in the order they were made.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Every connection, oldest first (ties by ID).
    pub fn connections(&self) -> impl Iterator<Item = &Connection> {
        let mut all: Vec<&Connection> = self.connections.values().collect();
        all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        all.into_iter()
    }

    pub fn connection(&self, id: &str) -> Option<&Connection> {
        self.connections.get(id)
    }

    /// Every session, oldest first (ties by ID).
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        let mut all: Vec<&Session> = self.sessions.values().map(|e| &e.session).collect();
        all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        all.into_iter()
    }

    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id).map(|e| &e.session)
    }

    /// The sessions bound to a connection, by ID.
    pub fn sessions_of(&self, connection_id: &str) -> impl Iterator<Item = &Session> {
        self.by_connection.get(connection_id).into_iter().flatten().filter_map(|id| self.session(id))
    }

    /// Seats taken from one key.
    pub fn used(&self, key_no: u64) -> u32 {
        self.seats.used(key_no)
    }

    /// Seats taken from all keys of a series.
    pub fn used_in_series(&self, series: SeriesId) -> u32 {
        self.seats.used_in_series(series)
    }

    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Licences in use across all series.
    pub fn seat_count(&self) -> usize {
        self.seats.len()
    }

    fn connection_lease_end(&self, now: UtcTime) -> UtcTime {
        now.plus(self.config.connection_lease)
    }

    fn session_lease_end(&self, now: UtcTime) -> UtcTime {
        now.plus(self.config.session_lease)
    }

    /// Takes a session out of every index and off its seat, remembering how it was lost.
    fn remove_session(&mut self, id: &str, loss: Loss) -> Option<Session> {
        let Entry { session, seat } = self.sessions.remove(id)?;
        let identity = Identity::of(session.series, &session.facts);
        if self.by_identity.get(&identity).is_some_and(|owner| owner == id) {
            self.by_identity.remove(&identity);
        }
        self.unbind(&session.connection_id, id);
        self.seats.leave(seat, id);
        self.tombstones.bury(id, loss);
        self.changes.push(Change::SessionRemoved(id.to_owned()));
        Some(session)
    }

    fn bind(&mut self, connection_id: &str, session_id: &str) {
        self.by_connection.entry(connection_id.to_owned()).or_default().insert(session_id.to_owned());
    }

    fn unbind(&mut self, connection_id: &str, session_id: &str) {
        if let Some(ids) = self.by_connection.get_mut(connection_id) {
            ids.remove(session_id);
            if ids.is_empty() {
                self.by_connection.remove(connection_id);
            }
        }
    }

    /// The pin of every series that has a live connection with one.
    pub fn pins(&self) -> std::collections::BTreeMap<SeriesId, [u8; 32]> {
        self.pins.iter().map(|(series, (pin, _))| (*series, *pin)).collect()
    }

    /// The key the live connections of `series` pin, if any does.
    pub fn pin(&self, series: SeriesId) -> Option<[u8; 32]> {
        self.pins.get(&series).map(|(pin, _)| *pin)
    }

    fn add_pin(&mut self, connection: &Connection) {
        if let Some(pin) = pin_of(&connection.facts) {
            let entry = self.pins.entry(connection.facts.key_id).or_insert((pin, 0));
            if entry.0 == pin {
                entry.1 += 1;
            }
        }
    }

    fn remove_pin(&mut self, connection: &Connection) {
        let series = connection.facts.key_id;
        if let (Some(pin), Some(entry)) = (pin_of(&connection.facts), self.pins.get_mut(&series)) {
            if entry.0 == pin {
                entry.1 -= 1;
                if entry.1 == 0 {
                    self.pins.remove(&series);
                }
            }
        }
    }

    fn remove_connection(&mut self, id: &str) -> Option<Connection> {
        let connection = self.connections.remove(id)?;
        self.disagreed.remove(id);
        self.remove_pin(&connection);
        self.changes.push(Change::ConnectionRemoved(id.to_owned()));
        Some(connection)
    }
}
