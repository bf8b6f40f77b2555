//! When the keys change (loaded, reloaded, expired) and when a restarted server brings back the
//! leases it saved: both end by fitting the seats to the counting keys, so that no key carries
//! more seats than its `LicenceCount`. Seats move to another counting key of their series with
//! room when they can; when a series has more seats than licences, its newest seats are revoked.

use super::error::Loss;
use super::seats::Identity;
use super::{Change, Connection, Entry, KeyCapacity, Ledger, Session};
use licence_protocol::key::SeriesId;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::ErrorCode;

impl Ledger {
    /// Replaces the keys. `why_none` gives, for series where no key counts, the error a client
    /// asking for a licence gets (a series missing there answers `NoKey`). Ended leases are swept
    /// first so that they do not keep seats from live sessions.
    pub fn set_pool(
        &mut self,
        capacities: Vec<KeyCapacity>,
        why_none: impl IntoIterator<Item = (SeriesId, ErrorCode)>,
        now: UtcTime,
    ) {
        self.expire(now);
        self.seats.set_keys(capacities);
        self.why_none = why_none.into_iter().collect();
        self.apply_pool();
    }

    /// Rebuilds the ledger from what the store saved, replacing whatever it held: every lease gets
    /// a full term from `now` (so 1C sessions live on across a restart), seats are rebuilt from the
    /// sessions, and then the current keys' capacities apply. Call it after [`Ledger::set_pool`].
    pub fn restore(&mut self, connections: Vec<Connection>, sessions: Vec<Session>, now: UtcTime) {
        self.connections.clear();
        self.disagreed.clear();
        self.pins.clear();
        self.sessions.clear();
        self.by_identity.clear();
        self.by_connection.clear();
        self.seats.clear_seats();
        let connection_end = self.connection_lease_end(now);
        for mut c in connections {
            c.expire_time = connection_end;
            if let Some(old) = self.connections.remove(&c.id) {
                self.remove_pin(&old);
            }
            self.add_pin(&c);
            self.connections.insert(c.id.clone(), c);
        }
        let mut sessions = sessions;
        sessions.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        for s in sessions {
            self.restore_session(s, now);
        }
        self.apply_pool();
    }

    fn restore_session(&mut self, mut s: Session, now: UtcTime) {
        let identity = Identity::of(s.series, &s.facts);
        if self.sessions.contains_key(&s.id) {
            return;
        }
        if self.by_identity.contains_key(&identity) {
            // The same 1C session saved twice: the older record stands.
            self.changes.push(Change::SessionRemoved(s.id));
            return;
        }
        s.expire_time = self.session_lease_end(now);
        if s.peer_ip.is_empty() {
            if let Some(c) = self.connections.get(&s.connection_id) {
                s.peer_ip = c.peer_ip.clone();
            }
        }
        let holder = s.holder();
        let seat = match self.seats.seat_of(&holder) {
            Some(seat) => {
                self.seats.join(seat, &s.id);
                let key_no = self.seats.seat(seat).map_or(s.used_licence, |seat| seat.key_no);
                if key_no != s.used_licence {
                    s.used_licence = key_no;
                    self.changes.push(Change::SessionSaved(s.clone()));
                }
                seat
            }
            None => self.seats.open(holder, s.used_licence, s.created, &s.id),
        };
        self.by_identity.insert(identity, s.id.clone());
        self.bind(&s.connection_id, &s.id);
        self.sessions.insert(s.id.clone(), Entry { session: s, seat });
    }

    /// Fits the seats to the keys: records moved sessions, removes revoked ones.
    fn apply_pool(&mut self) {
        let plan = self.seats.rebalance();
        for seat_id in plan.moved {
            let Some(seat) = self.seats.seat(seat_id) else { continue };
            for id in &seat.sessions {
                if let Some(entry) = self.sessions.get_mut(id) {
                    entry.session.used_licence = seat.key_no;
                    self.changes.push(Change::SessionSaved(entry.session.clone()));
                }
            }
        }
        for seat_id in plan.revoked {
            let ids: Vec<String> =
                self.seats.seat(seat_id).map(|s| s.sessions.iter().cloned().collect()).unwrap_or_default();
            for id in ids {
                self.remove_session(&id, Loss::Revoked);
            }
        }
    }
}
