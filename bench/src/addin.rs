//! An add-in instance as the licence server sees it, reduced to what load needs: it connects as a 1C
//! server process (`IsServer: true`, so every session takes its own licence), obtains, heartbeats,
//! releases and disconnects. Requests are built from the protocol crate's own message types, so the
//! benchmark sends exactly what the real add-in sends; answers are read only as far as the loop needs.

use crate::http::{self, Conn};
use licence_protocol::key::SeriesId;
use licence_protocol::time::UtcTime;
use licence_protocol::wire::{
    path, ConnectRequest, ConnectResponse, ConnectionRequest, HeartbeatRequest, ObtainRequest, SessionFacts,
    SessionRequest,
};
use serde::{Deserialize, Serialize};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The part of a `LicenceGrant` the loop needs.
#[derive(Deserialize)]
struct GrantedSession<'a> {
    #[serde(rename = "SessionID", borrow)]
    session_id: &'a str,
}

/// The part of a `HeartbeatResponse` the loop needs.
#[derive(Deserialize)]
struct Lost<'a> {
    #[serde(rename = "LostSessions", borrow)]
    lost_sessions: Vec<&'a str>,
}

/// One call's latency, the size of its answer's body and what it gave; `value` is `None` when the
/// server refused the call.
pub struct Timed<T> {
    pub latency: Duration,
    pub bytes: usize,
    pub value: Option<T>,
}

pub struct AddinClient {
    conn: Conn,
    server: SocketAddr,
    connection_id: String,
    heartbeat_seconds: u32,
    computer: String,
    started: UtcTime,
}

impl AddinClient {
    /// Opens a TCP connection and an add-in connection for `computer`'s 1C server process.
    pub async fn connect(server: SocketAddr, computer: String, series: SeriesId) -> io::Result<Self> {
        let mut conn = Conn::open(server).await?;
        let request = ConnectRequest {
            os_version: "Linux (licencebench)".into(),
            computer_name: computer.clone(),
            local_ip: "127.0.0.1".into(),
            process: "/opt/1cv8/x86_64/8.3.25.1257/rphost".into(),
            cpu: std::env::consts::ARCH.into(),
            pid: std::process::id(),
            is_server: true,
            platform_version: "8.3.25.1257".into(),
            module_name: "licencebench".into(),
            version: licence_protocol::VERSION.into(),
            key_id: series,
            client_key: None,
        };
        let answer = conn.call(&http::post_json(server, path::CONNECT, &to_json(&request))).await?;
        if !answer.is_success() {
            return Err(refused("connect", answer.status, answer.body));
        }
        let connected: ConnectResponse = serde_json::from_slice(answer.body).map_err(io::Error::other)?;
        Ok(Self {
            conn,
            server,
            connection_id: connected.connection_id,
            heartbeat_seconds: connected.heartbeat_seconds,
            computer,
            started: UtcTime::now(),
        })
    }

    /// How often the server wants heartbeats.
    pub fn heartbeat_seconds(&self) -> u32 {
        self.heartbeat_seconds
    }

    /// Obtains a licence for the 1C session numbered `number`; answers its `SessionID`.
    pub async fn obtain(&mut self, number: &str) -> io::Result<Timed<String>> {
        let request = ObtainRequest {
            connection_id: self.connection_id.clone(),
            session: SessionFacts {
                session_number: number.to_owned(),
                info_base_connection_string: "Srvr=\"bench\";Ref=\"load\";".into(),
                app_name: "1CV8C".into(),
                computer_name: self.computer.clone(),
                user_name: Some("bench".into()),
                session_started: self.started,
                access_code: None,
                terminal_client: None,
            },
        };
        let request = http::post_json(self.server, path::OBTAIN, &to_json(&request));
        self.exchange(&request, |body| {
            serde_json::from_slice::<GrantedSession>(body).ok().map(|g| g.session_id.to_owned())
        })
        .await
    }

    /// Releases a session; `value` says whether the server confirmed it.
    pub async fn release(&mut self, session_id: &str) -> io::Result<Timed<()>> {
        let request = SessionRequest { connection_id: self.connection_id.clone(), session_id: session_id.to_owned() };
        let request = http::post_json(self.server, path::RELEASE, &to_json(&request));
        self.exchange(&request, |_| Some(())).await
    }

    /// The complete heartbeat request for these sessions; a loop sends the same bytes every time.
    pub fn heartbeat_request(&self, sessions: &[String]) -> Vec<u8> {
        let request = HeartbeatRequest { connection_id: self.connection_id.clone(), sessions: sessions.to_vec() };
        http::post_json(self.server, path::HEARTBEAT, &to_json(&request))
    }

    /// Sends a heartbeat built by [`Self::heartbeat_request`]; answers how many sessions were lost.
    pub async fn heartbeat(&mut self, request: &[u8]) -> io::Result<Timed<usize>> {
        self.exchange(request, |body| serde_json::from_slice::<Lost>(body).ok().map(|l| l.lost_sessions.len())).await
    }

    /// Ends the add-in connection, releasing whatever it still holds.
    pub async fn disconnect(mut self) -> io::Result<()> {
        let request = ConnectionRequest { connection_id: self.connection_id.clone() };
        let request = http::post_json(self.server, path::DISCONNECT, &to_json(&request));
        let answer = self.conn.call(&request).await?;
        if answer.is_success() {
            Ok(())
        } else {
            Err(refused("disconnect", answer.status, answer.body))
        }
    }

    async fn exchange<T>(&mut self, request: &[u8], read: impl FnOnce(&[u8]) -> Option<T>) -> io::Result<Timed<T>> {
        let started = Instant::now();
        let answer = self.conn.call(request).await?;
        let latency = started.elapsed();
        let value = if answer.is_success() { read(answer.body) } else { None };
        Ok(Timed { latency, bytes: answer.body.len(), value })
    }
}

fn to_json(message: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(message).expect("protocol messages always serialise")
}

fn refused(call: &str, status: u16, body: &[u8]) -> io::Error {
    io::Error::other(format!("{call} answered {status}: {}", String::from_utf8_lossy(body)))
}
