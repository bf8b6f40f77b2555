//! Seats: licence units taken from keys, each held by one *holder* — a client-server session, or a
//! computer (or terminal client) in file mode, whose sessions all share the seat. The seat book
//! knows which key every seat is on, how many seats each key carries, and how to re-seat everyone
//! when the keys change so that no key ever carries more seats than its `LicenceCount`.

use super::names::name_key;
use super::KeyCapacity;
use licence_protocol::infobase::{self, Mode};
use licence_protocol::key::{KeyKind, SeriesId};
use licence_protocol::time::UtcTime;
use licence_protocol::wire::SessionFacts;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Who a seat belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Holder {
    /// Client-server mode: every 1C session has its own seat.
    Session { series: SeriesId, info_base: String, number: String, started: UtcTime },
    /// File mode: one seat per computer, or per terminal client in terminal mode. A computer is its
    /// source address and its name ([`name_key`]).
    Computer { series: SeriesId, address: String, computer: String, terminal: Option<String> },
}

/// How a session is counted: by its infobase's connection string ([`infobase::mode_of`]), a file
/// infobase served by a web server process ([`infobase::is_web_server_process`]) per session; when
/// the string is empty, unparseable or names no infobase, by the connection's `IsServer` as before.
pub(super) fn mode(is_server: bool, web_server: bool, facts: &SessionFacts) -> Mode {
    match infobase::mode_of(&facts.info_base_connection_string) {
        Some(Mode::PerComputer) if web_server => Mode::PerSession,
        Some(mode) => mode,
        None => claimed_mode(is_server),
    }
}

/// The mode `IsServer` claims.
pub(super) fn claimed_mode(is_server: bool) -> Mode {
    if is_server {
        Mode::PerSession
    } else {
        Mode::PerComputer
    }
}

impl Holder {
    /// Who holds the seat of a session counted in `mode`, seen from `address`.
    pub fn of(series: SeriesId, mode: Mode, address: &str, facts: &SessionFacts) -> Self {
        if mode == Mode::PerSession {
            Holder::Session {
                series,
                info_base: facts.info_base_connection_string.clone(),
                number: facts.session_number.clone(),
                started: facts.session_started,
            }
        } else {
            Holder::Computer {
                series,
                address: address.to_owned(),
                computer: name_key(&facts.computer_name),
                terminal: facts.terminal_client.as_deref().map(name_key),
            }
        }
    }

    pub fn series(&self) -> SeriesId {
        match self {
            Holder::Session { series, .. } | Holder::Computer { series, .. } => *series,
        }
    }
}

/// What makes two obtains the same 1C session, so that a reconnect finds its seat again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Identity {
    series: SeriesId,
    info_base: String,
    number: String,
    started: UtcTime,
    computer: String,
}

impl Identity {
    pub fn of(series: SeriesId, facts: &SessionFacts) -> Self {
        Self {
            series,
            info_base: facts.info_base_connection_string.clone(),
            number: facts.session_number.clone(),
            started: facts.session_started,
            computer: name_key(&facts.computer_name),
        }
    }
}

#[derive(Debug)]
pub(super) struct Seat {
    pub holder: Holder,
    pub key_no: u64,
    pub created: UtcTime,
    pub sessions: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy)]
struct KeyState {
    series: SeriesId,
    licence_count: u32,
    counts: bool,
}

/// What [`SeatBook::rebalance`] decided: seats now on another key, and seats to take away.
#[derive(Debug, Default)]
pub(super) struct Rebalance {
    pub moved: Vec<u64>,
    pub revoked: Vec<u64>,
}

#[derive(Debug, Default)]
pub(super) struct SeatBook {
    seats: HashMap<u64, Seat>,
    by_holder: HashMap<Holder, u64>,
    used: HashMap<u64, u32>,
    series_used: HashMap<SeriesId, u32>,
    keys: HashMap<u64, KeyState>,
    /// The counting keys of each series in the order seats are taken from them.
    counting: HashMap<SeriesId, Vec<u64>>,
    next_id: u64,
}

impl SeatBook {
    pub fn seat(&self, id: u64) -> Option<&Seat> {
        self.seats.get(&id)
    }

    pub fn seat_of(&self, holder: &Holder) -> Option<u64> {
        self.by_holder.get(holder).copied()
    }

    pub fn len(&self) -> usize {
        self.seats.len()
    }

    #[cfg(test)]
    pub fn all(&self) -> impl Iterator<Item = (&u64, &Seat)> {
        self.seats.iter()
    }

    pub fn used(&self, key_no: u64) -> u32 {
        self.used.get(&key_no).copied().unwrap_or(0)
    }

    pub fn used_in_series(&self, series: SeriesId) -> u32 {
        self.series_used.get(&series).copied().unwrap_or(0)
    }

    /// Licences of the counting keys of a series, or `None` when no key of it counts.
    pub fn capacity(&self, series: SeriesId) -> Option<u32> {
        let keys = self.counting.get(&series)?;
        Some(keys.iter().map(|k| self.keys[k].licence_count).fold(0, u32::saturating_add))
    }

    /// The first counting key of the series with a free licence: main keys first, then additional,
    /// then demo, each by ascending `KeyNo`.
    pub fn key_with_room(&self, series: SeriesId) -> Option<u64> {
        let keys = self.counting.get(&series)?;
        keys.iter().copied().find(|k| self.used(*k) < self.keys[k].licence_count)
    }

    /// A new seat for `holder` on `key_no`, with its first session.
    pub fn open(&mut self, holder: Holder, key_no: u64, created: UtcTime, session_id: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        *self.used.entry(key_no).or_default() += 1;
        *self.series_used.entry(holder.series()).or_default() += 1;
        self.by_holder.insert(holder.clone(), id);
        let sessions = BTreeSet::from([session_id.to_owned()]);
        self.seats.insert(id, Seat { holder, key_no, created, sessions });
        id
    }

    pub fn join(&mut self, seat: u64, session_id: &str) {
        if let Some(seat) = self.seats.get_mut(&seat) {
            seat.sessions.insert(session_id.to_owned());
        }
    }

    /// Takes a session off its seat; the seat is freed with its last session.
    pub fn leave(&mut self, seat_id: u64, session_id: &str) {
        let Some(seat) = self.seats.get_mut(&seat_id) else { return };
        seat.sessions.remove(session_id);
        if !seat.sessions.is_empty() {
            return;
        }
        if let Some(seat) = self.seats.remove(&seat_id) {
            self.by_holder.remove(&seat.holder);
            decrement(&mut self.used, seat.key_no);
            decrement(&mut self.series_used, seat.holder.series());
        }
    }

    /// Forgets every seat (the keys stay).
    pub fn clear_seats(&mut self) {
        self.seats.clear();
        self.by_holder.clear();
        self.used.clear();
        self.series_used.clear();
    }

    /// Replaces the keys; call [`SeatBook::rebalance`] next.
    pub fn set_keys(&mut self, capacities: Vec<KeyCapacity>) {
        let mut order: BTreeMap<SeriesId, Vec<(KeyKind, u64)>> = BTreeMap::new();
        self.keys.clear();
        for k in capacities {
            let state = KeyState { series: k.series, licence_count: k.licence_count, counts: k.counts };
            self.keys.insert(k.key_no, state);
            if k.counts {
                order.entry(k.series).or_default().push((k.kind, k.key_no));
            }
        }
        self.counting = order
            .into_iter()
            .map(|(series, mut keys)| {
                keys.sort();
                keys.dedup_by_key(|(_, key_no)| *key_no);
                (series, keys.into_iter().map(|(_, key_no)| key_no).collect())
            })
            .collect();
    }

    /// Fits the seats to the keys. Per series, when there are more seats than the counting keys
    /// give, the newest seats are revoked; every other seat stays on its key while that key counts
    /// and has room (oldest seats first), and the rest move to counting keys with room. Seats to
    /// revoke stay on the book until their sessions leave.
    pub fn rebalance(&mut self) -> Rebalance {
        let mut by_series: BTreeMap<SeriesId, Vec<u64>> = BTreeMap::new();
        for (id, seat) in &self.seats {
            by_series.entry(seat.holder.series()).or_default().push(*id);
        }
        let mut plan = Rebalance::default();
        for (series, mut ids) in by_series {
            ids.sort_by_key(|id| (self.seats[id].created, *id));
            let capacity = self.capacity(series).unwrap_or(0);
            let keep = ids.len().min(usize::try_from(capacity).unwrap_or(usize::MAX));
            plan.revoked.extend_from_slice(&ids[keep..]);
            self.seat_kept(series, &ids[..keep], &mut plan);
        }
        self.used.clear();
        for seat in self.seats.values() {
            *self.used.entry(seat.key_no).or_default() += 1;
        }
        plan.revoked.sort_unstable();
        plan
    }

    /// Places seats that are known to fit the series' capacity.
    fn seat_kept(&mut self, series: SeriesId, ids: &[u64], plan: &mut Rebalance) {
        let mut load: HashMap<u64, u32> = HashMap::new();
        let mut homeless = Vec::new();
        for id in ids {
            let key_no = self.seats[id].key_no;
            let fits = self.keys.get(&key_no).is_some_and(|k| {
                k.counts && k.series == series && load.get(&key_no).copied().unwrap_or(0) < k.licence_count
            });
            if fits {
                *load.entry(key_no).or_default() += 1;
            } else {
                homeless.push(*id);
            }
        }
        let counting = self.counting.get(&series).map(Vec::as_slice).unwrap_or_default();
        for id in homeless {
            let room =
                counting.iter().copied().find(|k| load.get(k).copied().unwrap_or(0) < self.keys[k].licence_count);
            // The caller keeps no more seats than the counting keys give, so there is room; were
            // there none, the seat would go rather than overfill a key.
            match (room, self.seats.get_mut(&id)) {
                (Some(key_no), Some(seat)) => {
                    *load.entry(key_no).or_default() += 1;
                    seat.key_no = key_no;
                    plan.moved.push(id);
                }
                _ => plan.revoked.push(id),
            }
        }
    }
}

fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, u32>, key: K) {
    if let Some(n) = counts.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&key);
        }
    }
}
