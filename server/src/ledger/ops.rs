//! What the add-in and the administrator do to the ledger: connect, obtain a licence, check it,
//! heartbeat, release, disconnect, end a session; and the once-a-second sweep of ended leases.
//! Every call that a request makes costs a few hash lookups, whatever the number of sessions.

use super::error::{LedgerError, Loss};
use super::seats::{self, Holder, Identity};
use super::{Change, Connection, Entry, Grant, Ledger, Session};
use licence_protocol::infobase::Mode;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{ConnectRequest, ErrorCode, SessionFacts};

impl Ledger {
    /// Registers an add-in instance. Version checks are the caller's.
    pub fn connect(&mut self, id: String, facts: ConnectRequest, peer_ip: String, now: UtcTime) -> &Connection {
        let connection = Connection {
            id: id.clone(),
            facts,
            peer_ip,
            created: now,
            last_used: now,
            expire_time: self.connection_lease_end(now),
        };
        self.changes.push(Change::ConnectionSaved(connection.clone()));
        if let Some(old) = self.connections.remove(&id) {
            self.remove_pin(&old);
        }
        self.add_pin(&connection);
        self.connections.entry(id).insert_entry(connection).into_mut()
    }

    /// Gives a 1C session a licence of its connection's series. A session that already holds one
    /// (the same infobase, session number, start and computer) gets that same session back, bound
    /// to this connection; a file mode session joins its computer's seat; otherwise a free licence
    /// is taken from the first counting key with room.
    pub fn obtain(
        &mut self,
        connection_id: &str,
        facts: SessionFacts,
        new_session_id: String,
        now: UtcTime,
    ) -> Result<Grant, LedgerError> {
        let (series, is_server, peer_ip, web_server) = {
            let c = self.live_connection(connection_id, now)?;
            let web_server = licence_protocol::infobase::is_web_server_process(&c.facts.process);
            (c.facts.key_id, c.facts.is_server, c.peer_ip.clone(), web_server)
        };
        let identity = Identity::of(series, &facts);
        if let Some(existing) = self.by_identity.get(&identity).cloned() {
            let live = self.sessions.get(&existing).is_some_and(|e| e.session.expire_time > now);
            if let Some(grant) = live.then(|| self.resume(&existing, connection_id, &facts, now)).flatten() {
                return Ok(grant);
            }
            self.remove_session(&existing, Loss::Expired);
        }
        if self.sessions.contains_key(&new_session_id) {
            return Err(LedgerError::DuplicateSession(new_session_id));
        }
        let mode = seats::mode(is_server, web_server, &facts);
        self.check_claim(connection_id, is_server, mode);
        let holder = Holder::of(series, mode, &peer_ip, &facts);
        let seat = match self.seats.seat_of(&holder) {
            Some(seat) => {
                self.seats.join(seat, &new_session_id);
                seat
            }
            None => {
                let key_no = self.seats.key_with_room(series).ok_or_else(|| self.shortage(series))?;
                self.seats.open(holder, key_no, now, &new_session_id)
            }
        };
        let used_licence = self.seats.seat(seat).map_or(0, |s| s.key_no);
        let session = Session {
            id: new_session_id.clone(),
            facts,
            connection_id: connection_id.to_owned(),
            series,
            is_server,
            peer_ip,
            web_server,
            used_licence,
            created: now,
            expire_time: self.session_lease_end(now),
        };
        let grant = grant(&session, false);
        self.changes.push(Change::SessionSaved(session.clone()));
        self.by_identity.insert(identity, new_session_id.clone());
        self.bind(connection_id, &new_session_id);
        self.sessions.insert(new_session_id, Entry { session, seat });
        Ok(grant)
    }

    /// Logs, once per connection, an `IsServer` that says another mode than the infobase.
    fn check_claim(&mut self, connection_id: &str, is_server: bool, mode: Mode) {
        if seats::claimed_mode(is_server) != mode && self.disagreed.insert(connection_id.to_owned()) {
            let counted = if mode == Mode::PerSession { "one licence per session" } else { "per computer" };
            log::warn!(
                "connection {connection_id} says IsServer={is_server}, but its session's infobase connection string \
                 says otherwise: counted {counted}, as the infobase says"
            );
        }
    }

    /// Hands a live session back to the 1C session that obtains it again, bound to `connection_id`.
    fn resume(&mut self, id: &str, connection_id: &str, facts: &SessionFacts, now: UtcTime) -> Option<Grant> {
        let lease_end = self.session_lease_end(now);
        let s = &mut self.sessions.get_mut(id)?.session;
        let previous = std::mem::replace(&mut s.connection_id, connection_id.to_owned());
        // What identifies the session and its seat stays; what describes it may change.
        let described = |f: &SessionFacts| (f.app_name.clone(), f.user_name.clone(), f.access_code.clone());
        let changed = previous != connection_id || described(facts) != described(&s.facts);
        (s.facts.app_name, s.facts.user_name, s.facts.access_code) = described(facts);
        s.expire_time = lease_end;
        let grant = grant(s, true);
        if changed {
            let saved = s.clone();
            self.changes.push(Change::SessionSaved(saved));
        }
        if previous != connection_id {
            self.unbind(&previous, id);
            self.bind(connection_id, id);
        }
        Some(grant)
    }

    /// Confirms that a session still holds its licence and extends both leases.
    pub fn check(&mut self, connection_id: &str, session_id: &str, now: UtcTime) -> Result<Grant, LedgerError> {
        self.live_connection(connection_id, now)?;
        let lease_end = self.session_lease_end(now);
        let gone = |loss| LedgerError::SessionGone { session_id: session_id.to_owned(), loss };
        let Some(entry) = self.sessions.get_mut(session_id) else {
            return Err(gone(self.tombstones.loss(session_id)));
        };
        let s = &mut entry.session;
        if s.expire_time <= now {
            return Err(gone(Loss::Expired));
        }
        if s.connection_id != connection_id {
            return Err(gone(Loss::TakenOver));
        }
        s.expire_time = lease_end;
        Ok(grant(s, true))
    }

    /// Extends the connection's lease and those of the listed sessions bound to it. Answers the
    /// connection's new expiry and the listed sessions that hold no licence for it any more.
    pub fn heartbeat(
        &mut self,
        connection_id: &str,
        session_ids: &[String],
        now: UtcTime,
    ) -> Result<(UtcTime, Vec<String>), LedgerError> {
        let expire_time = self.live_connection(connection_id, now)?.expire_time;
        let lease_end = self.session_lease_end(now);
        let mut lost = Vec::new();
        for id in session_ids {
            match self.sessions.get_mut(id) {
                Some(e) if e.session.connection_id == connection_id && e.session.expire_time > now => {
                    e.session.expire_time = lease_end;
                }
                _ => lost.push(id.clone()),
            }
        }
        Ok((expire_time, lost))
    }

    /// Gives a session's licence back. False when the connection did not hold that session.
    pub fn release(&mut self, connection_id: &str, session_id: &str, now: UtcTime) -> Result<bool, LedgerError> {
        self.touch(connection_id, now);
        let held = self.sessions.get(session_id).is_some_and(|e| e.session.connection_id == connection_id);
        Ok(held && self.remove_session(session_id, Loss::Released).is_some())
    }

    /// Ends a connection and releases the sessions bound to it. Unknown connections are fine.
    pub fn disconnect(&mut self, connection_id: &str, _now: UtcTime) -> Result<(), LedgerError> {
        self.remove_connection(connection_id);
        let ids = self.by_connection.remove(connection_id).unwrap_or_default();
        for id in ids {
            self.remove_session(&id, Loss::Released);
        }
        Ok(())
    }

    /// The administrator ends a session: its licence is free at once, and its add-in hears
    /// [`ErrorCode::SessionEnded`] at its next call.
    pub fn end_session(&mut self, session_id: &str, _now: UtcTime) -> Option<Session> {
        self.remove_session(session_id, Loss::Ended)
    }

    /// Removes the connections and sessions whose leases have ended. A connection's end does not
    /// end its sessions: they keep their seats until their own leases end, so an add-in that
    /// connects again in time finds them. Answers how many connections and sessions ended, which
    /// the server counts for its metrics.
    pub fn expire(&mut self, now: UtcTime) -> (usize, usize) {
        let mut dead: Vec<String> =
            self.connections.values().filter(|c| c.expire_time <= now).map(|c| c.id.clone()).collect();
        dead.sort_unstable();
        let connections = dead.iter().filter(|id| self.remove_connection(id).is_some()).count();
        let mut dead: Vec<String> =
            self.sessions.values().filter(|e| e.session.expire_time <= now).map(|e| e.session.id.clone()).collect();
        dead.sort_unstable();
        let sessions = dead.iter().filter(|id| self.remove_session(id, Loss::Expired).is_some()).count();
        (connections, sessions)
    }

    /// The connection, its lease extended; an ended lease counts as unknown.
    fn live_connection(&mut self, id: &str, now: UtcTime) -> Result<&Connection, LedgerError> {
        let lease_end = self.connection_lease_end(now);
        match self.connections.get_mut(id) {
            Some(c) if c.expire_time > now => {
                c.last_used = now;
                c.expire_time = lease_end;
                Ok(c)
            }
            _ => Err(LedgerError::UnknownConnection(id.to_owned())),
        }
    }

    fn touch(&mut self, id: &str, now: UtcTime) {
        let _ = self.live_connection(id, now);
    }

    /// Why a series has no free licence.
    fn shortage(&self, series: licence_protocol::key::SeriesId) -> LedgerError {
        match self.seats.capacity(series) {
            Some(capacity) => LedgerError::NoFreeLicence { series, used: self.seats.used_in_series(series), capacity },
            None => {
                let code = self.why_none.get(&series).copied().unwrap_or(ErrorCode::NoKey);
                LedgerError::EmptyPool { series, code }
            }
        }
    }
}

fn grant(s: &Session, reused: bool) -> Grant {
    Grant {
        session_id: s.id.clone(),
        key_id: s.series,
        used_licence: s.used_licence,
        expire_time: s.expire_time,
        reused,
    }
}
