//! The lease store: live connections and sessions in SQLite, so that a restart — also after
//! `kill -9` — loses no seat and hands none out twice. One writer thread owns the database and
//! commits whatever changes are waiting in a single transaction (group commit); a request is answered
//! only after its changes are committed. WAL with `synchronous=OFF` keeps every committed change
//! across a process crash (`kill -9`, a panic, an OOM kill) — the data is in the OS's cache — while no
//! request ever waits for an fsync, not even during checkpoints. Leases are soft state: an OS crash or
//! power loss may lose the last changes or damage the file, and a damaged store is set aside at start
//! (`leases.sqlite.broken-…`) and the server starts empty; add-ins then connect and obtain again.
//! Lease refreshes are not written: after a restart every restored lease starts afresh.

use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Connection {
        id: String,
        json: String,
    },
    Session {
        id: String,
        json: String,
    },
    RemoveConnection(String),
    RemoveSession(String),
    /// The server's clock high-water mark (Unix milliseconds) and its MAC (`app`'s clock guard).
    HighWater {
        millis: i64,
        mac: String,
    },
    /// The series public key the add-ins of a series last pinned (64 hex digits), so that keys of
    /// other signers are listed as not counting even while no add-in is connected.
    Pin {
        series: String,
        pin: String,
    },
}

/// What was saved before the last stop.
#[derive(Debug, Default)]
pub struct Saved {
    pub connections: Vec<String>,
    pub sessions: Vec<String>,
    /// The high-water mark of the server's clock and its MAC, as last written.
    pub high_water: Option<(i64, String)>,
    /// The series and the key their add-ins last pinned.
    pub pins: Vec<(String, String)>,
}

type Ack = oneshot::Sender<Result<(), StoreError>>;

#[derive(Clone)]
pub struct LeaseStore {
    tx: mpsc::Sender<(Vec<Record>, Ack)>,
}

/// Why the lease store cannot be opened or cannot keep a change.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("lease store {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: Arc<rusqlite::Error>,
    },
    #[error("lease store {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("the lease store cannot commit: {0}")]
    Commit(#[source] Arc<rusqlite::Error>),
    #[error("the lease store has stopped")]
    Stopped,
}

impl LeaseStore {
    /// Opens the store; one that cannot be read is moved aside (and logged) and a new one started.
    pub fn open(path: &Path) -> Result<(Self, Saved), StoreError> {
        match Self::open_existing(path) {
            Ok(opened) => Ok(opened),
            Err(e) if path.exists() => {
                let aside = path.with_extension(format!("sqlite.broken-{}", crate::clock::now().unix_millis()));
                log::error!("{e}; moved it to {} and starting with no leases", aside.display());
                std::fs::rename(path, &aside)
                    .map_err(|io| StoreError::Io { path: path.to_owned(), source: Arc::new(io) })?;
                for suffix in ["-wal", "-shm"] {
                    let mut side = path.as_os_str().to_owned();
                    side.push(suffix);
                    let _ = std::fs::remove_file(side);
                }
                Self::open_existing(path)
            }
            Err(e) => Err(e),
        }
    }

    fn open_existing(path: &Path) -> Result<(Self, Saved), StoreError> {
        let fail = |e: rusqlite::Error| StoreError::Open { path: path.to_owned(), source: Arc::new(e) };
        let db = Connection::open(path).map_err(fail)?;
        db.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=OFF;
             CREATE TABLE IF NOT EXISTS connections (id TEXT PRIMARY KEY, record TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, record TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS clock (id INTEGER PRIMARY KEY CHECK (id = 1), high_water INTEGER NOT NULL,
                                               mac TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS pins (series TEXT PRIMARY KEY, pin TEXT NOT NULL);",
        )
        .map_err(fail)?;
        let saved = Saved {
            connections: read_all(&db, "SELECT record FROM connections").map_err(fail)?,
            sessions: read_all(&db, "SELECT record FROM sessions").map_err(fail)?,
            high_water: read_high_water(&db).map_err(fail)?,
            pins: read_pins(&db).map_err(fail)?,
        };
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("lease-store".into())
            .spawn(move || write_loop(db, rx))
            .map_err(|e| StoreError::Io { path: path.to_owned(), source: Arc::new(e) })?;
        Ok((Self { tx }, saved))
    }

    /// Queues changes in order; the receiver resolves once they are committed.
    pub fn submit(&self, records: Vec<Record>) -> oneshot::Receiver<Result<(), StoreError>> {
        let (ack, done) = oneshot::channel();
        if records.is_empty() {
            let _ = ack.send(Ok(()));
        } else if let Err(mpsc::SendError((_, ack))) = self.tx.send((records, ack)) {
            let _ = ack.send(Err(StoreError::Stopped));
        }
        done
    }
}

fn read_all(db: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = db.prepare(sql)?;
    let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
    rows.collect()
}

fn read_high_water(db: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    let mut stmt = db.prepare("SELECT high_water, mac FROM clock WHERE id = 1")?;
    let mut rows = stmt.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)))?;
    rows.next().transpose()
}

fn read_pins(db: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = db.prepare("SELECT series, pin FROM pins")?;
    let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
    rows.collect()
}

fn write_loop(mut db: Connection, rx: mpsc::Receiver<(Vec<Record>, Ack)>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
            if batch.len() >= 1024 {
                break;
            }
        }
        let result = commit(&mut db, batch.iter().flat_map(|(records, _)| records)).map_err(|e| {
            log::error!("lease store: cannot commit {} change(s): {e}", batch.len());
            StoreError::Commit(Arc::new(e))
        });
        for (_, ack) in batch {
            let _ = ack.send(result.clone());
        }
    }
}

fn commit<'a>(db: &mut Connection, records: impl Iterator<Item = &'a Record>) -> rusqlite::Result<()> {
    let tx = db.transaction()?;
    {
        let mut put_conn = tx.prepare_cached("INSERT OR REPLACE INTO connections (id, record) VALUES (?1, ?2)")?;
        let mut put_session = tx.prepare_cached("INSERT OR REPLACE INTO sessions (id, record) VALUES (?1, ?2)")?;
        let mut del_conn = tx.prepare_cached("DELETE FROM connections WHERE id = ?1")?;
        let mut del_session = tx.prepare_cached("DELETE FROM sessions WHERE id = ?1")?;
        let mut put_clock =
            tx.prepare_cached("INSERT OR REPLACE INTO clock (id, high_water, mac) VALUES (1, ?1, ?2)")?;
        let mut put_pin = tx.prepare_cached("INSERT OR REPLACE INTO pins (series, pin) VALUES (?1, ?2)")?;
        for record in records {
            match record {
                Record::Connection { id, json } => put_conn.execute(params![id, json])?,
                Record::Session { id, json } => put_session.execute(params![id, json])?,
                Record::RemoveConnection(id) => del_conn.execute(params![id])?,
                Record::RemoveSession(id) => del_session.execute(params![id])?,
                Record::HighWater { millis, mac } => put_clock.execute(params![millis, mac])?,
                Record::Pin { series, pin } => put_pin.execute(params![series, pin])?,
            };
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn committed_records_come_back_after_reopening() {
        let dir = std::env::temp_dir().join(format!("ls-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("leases.sqlite");
        let _ = std::fs::remove_file(&path);
        {
            let (store, saved) = LeaseStore::open(&path).unwrap();
            assert!(saved.sessions.is_empty());
            let done = store.submit(vec![
                Record::Connection { id: "C1".into(), json: "{\"c\":1}".into() },
                Record::Session { id: "S1".into(), json: "{\"s\":1}".into() },
                Record::Session { id: "S2".into(), json: "{\"s\":2}".into() },
                Record::RemoveSession("S1".into()),
            ]);
            done.await.unwrap().unwrap();
        }
        let (_, saved) = LeaseStore::open(&path).unwrap();
        assert_eq!(saved.connections, vec!["{\"c\":1}".to_string()]);
        assert_eq!(saved.sessions, vec!["{\"s\":2}".to_string()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_store_is_set_aside() {
        let dir = std::env::temp_dir().join(format!("ls-store-broken-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("leases.sqlite");
        std::fs::write(&path, b"this is not a database, just sixty-four bytes of junk text....").unwrap();
        let (_, saved) = LeaseStore::open(&path).unwrap();
        assert!(saved.sessions.is_empty());
        let aside: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("leases.sqlite.broken-"))
            .collect();
        assert_eq!(aside.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
