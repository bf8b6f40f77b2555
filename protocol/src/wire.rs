//! The add-in protocol: JSON messages the add-in POSTs to the server under `/licence/…`, and the
//! stable numbered errors both sides use. `protocol/PROTOCOL.md` is the prose form of this file.
//! Field names follow the REST API's (`ConnectionID`, `SessionNumber`, …) so an administrator sees
//! in `/api/connections` exactly what the add-in sent.

use crate::key::{KeyKind, SeriesId};
use crate::time::UtcTime;
use serde::{Deserialize, Serialize};

/// The add-in protocol's number. 2: `connect` carries the pinned `SeriesPublicKey` and is answered with
/// proofs (`channel`), every later call travels sealed. A peer of another number is refused with what
/// to upgrade.
pub const PROTOCOL: u32 = 2;

/// Paths of the add-in protocol, relative to the server's root.
pub mod path {
    pub const CONNECT: &str = "/licence/connect";
    pub const HEARTBEAT: &str = "/licence/heartbeat";
    pub const OBTAIN: &str = "/licence/obtain";
    pub const CHECK: &str = "/licence/check";
    pub const RELEASE: &str = "/licence/release";
    pub const KEY_INFO: &str = "/licence/keyinfo";
    pub const DISCONNECT: &str = "/licence/disconnect";
    /// A protected object's key, sealed in the connection's channel (`channel`).
    pub const OBJECT: &str = "/licence/object";
}

/// Sent once per add-in instance (one 1C process and series).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectRequest {
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    pub computer_name: String,
    #[serde(rename = "LocalIP")]
    pub local_ip: String,
    pub process: String,
    #[serde(rename = "CPU")]
    pub cpu: String,
    #[serde(rename = "PID")]
    pub pid: u32,
    pub is_server: bool,
    pub platform_version: String,
    pub module_name: String,
    /// The add-in's own version; its major.minor must equal the server's.
    pub version: String,
    #[serde(rename = "KeyID")]
    pub key_id: SeriesId,
    /// The add-in's X25519 public key for this connection's channel (64 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// [`PROTOCOL`]; missing (0) in add-ins of an earlier release.
    #[serde(default)]
    pub protocol: u32,
    /// The series public key the configuration pins (64 hex digits): only keys signed by it count for
    /// this connection, and the server must prove it holds one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_public_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectResponse {
    #[serde(rename = "ConnectionID")]
    pub connection_id: String,
    pub server_version: String,
    pub expire_time: UtcTime,
    /// How long a connection lives past its last use.
    pub connection_lease_seconds: u32,
    /// How long a session keeps its licence past its last heartbeat or check.
    pub session_lease_seconds: u32,
    /// How often the add-in should send a heartbeat (well inside both leases).
    pub heartbeat_seconds: u32,
    /// The server's X25519 public key for the channel, when the add-in offered one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_key: Option<String>,
    /// `host[:port]` of the reserved servers the administrator set on this server (`[Common]
    /// ReservedServers`); the add-in adds them to its own list for failover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reserved_servers: Vec<String>,
    /// [`PROTOCOL`]; missing (0) in servers of an earlier release.
    #[serde(default)]
    pub protocol: u32,
    /// One proof per key of the pinned series the server holds on its computer (`channel::prove`).
    /// Not part of the terms the proofs sign ([`ConnectResponse::terms`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proofs: Vec<KeyProof>,
}

/// One key's proof in a [`ConnectResponse`]: the key file's exact text and the per-key key's Ed25519
/// signature over the connect transcript (standard base64; `channel::prove` makes it and
/// `channel::verify_proof` checks it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyProof {
    pub key_file: String,
    pub signature: String,
}

impl ConnectResponse {
    /// The bytes the proofs sign for this answer: its JSON with no proofs. Both sides compute them from
    /// the parsed value, so the field order and spelling are this struct's.
    pub fn terms(&self) -> Vec<u8> {
        let terms = ConnectResponse { proofs: Vec::new(), ..self.clone() };
        serde_json::to_vec(&terms).expect("connect terms always serialize")
    }
}

/// What identifies a 1C session and what the administrator sees of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionFacts {
    pub session_number: String,
    pub info_base_connection_string: String,
    pub app_name: String,
    pub computer_name: String,
    pub user_name: Option<String>,
    pub session_started: UtcTime,
    pub access_code: Option<String>,
    /// The terminal client's name when the 1C client runs in a terminal session (file mode then takes
    /// one licence per terminal client instead of one per computer).
    #[serde(default)]
    pub terminal_client: Option<String>,
}

/// A client-supplied text field holding a control character (NUL, newline, tab, any of Unicode's
/// `Cc`): the field's wire name. Such a request is refused with [`ErrorCode::BadRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlInField(pub &'static str);

impl std::fmt::Display for ControlInField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} holds a control character (such as NUL or a line break); no name of 1C holds one", self.0)
    }
}

impl std::error::Error for ControlInField {}

/// The first of `fields` (wire name, value) whose value holds a control character.
fn refuse_controls<'a>(
    fields: impl IntoIterator<Item = (&'static str, Option<&'a str>)>,
) -> Result<(), ControlInField> {
    match fields.into_iter().find(|(_, v)| v.is_some_and(|v| v.chars().any(char::is_control))) {
        Some((name, _)) => Err(ControlInField(name)),
        None => Ok(()),
    }
}

impl ConnectRequest {
    /// Refuses a control character in any text field the add-in sent.
    pub fn check_text(&self) -> Result<(), ControlInField> {
        refuse_controls([
            ("OSVersion", Some(self.os_version.as_str())),
            ("ComputerName", Some(&self.computer_name)),
            ("LocalIP", Some(&self.local_ip)),
            ("Process", Some(&self.process)),
            ("CPU", Some(&self.cpu)),
            ("PlatformVersion", Some(&self.platform_version)),
            ("ModuleName", Some(&self.module_name)),
            ("Version", Some(&self.version)),
            ("ClientKey", self.client_key.as_deref()),
            ("SeriesPublicKey", self.series_public_key.as_deref()),
        ])
    }
}

impl SessionFacts {
    /// Refuses a control character in any text field of the session.
    pub fn check_text(&self) -> Result<(), ControlInField> {
        refuse_controls([
            ("SessionNumber", Some(self.session_number.as_str())),
            ("InfoBaseConnectionString", Some(&self.info_base_connection_string)),
            ("AppName", Some(&self.app_name)),
            ("ComputerName", Some(&self.computer_name)),
            ("UserName", self.user_name.as_deref()),
            ("AccessCode", self.access_code.as_deref()),
            ("TerminalClient", self.terminal_client.as_deref()),
        ])
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObtainRequest {
    #[serde(rename = "ConnectionID")]
    pub connection_id: String,
    pub session: SessionFacts,
}

/// Names one held session: check, release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionRequest {
    #[serde(rename = "ConnectionID")]
    pub connection_id: String,
    #[serde(rename = "SessionID")]
    pub session_id: String,
}

/// A held licence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LicenceGrant {
    #[serde(rename = "SessionID")]
    pub session_id: String,
    #[serde(rename = "KeyID")]
    pub key_id: SeriesId,
    /// `KeyNo` of the key whose licence the session holds.
    pub used_licence: u64,
    pub expire_time: UtcTime,
    /// True when the session already held this licence (a reconnect or a second check).
    pub reused: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionRequest {
    #[serde(rename = "ConnectionID")]
    pub connection_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HeartbeatRequest {
    #[serde(rename = "ConnectionID")]
    pub connection_id: String,
    /// The sessions this add-in instance still holds.
    #[serde(default)]
    pub sessions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HeartbeatResponse {
    pub expire_time: UtcTime,
    /// Sessions of the request that no longer hold a licence (expired or ended by the administrator).
    pub lost_sessions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReleaseResponse {
    pub released: bool,
}

/// One key of the connection's series, as the configuration's code may read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyParameters {
    pub key_no: u64,
    pub key_type: KeyKind,
    pub licence_count: u32,
    pub counts: bool,
    pub workable: bool,
    pub start_date: UtcTime,
    pub expire_date: Option<UtcTime>,
    pub days_left: Option<u32>,
    pub expired: bool,
    pub flags: u64,
    pub product_name: String,
    pub product_version: String,
    pub article: String,
    pub article_name: String,
    pub support_date: Option<UtcTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyInfoResponse {
    #[serde(rename = "KeyID")]
    pub key_id: SeriesId,
    /// Licences of all keys that count now.
    pub licence_count: u32,
    pub licences_used: u32,
    /// Functional flags of all keys that count, OR-ed.
    pub flags: u64,
    pub keys: Vec<KeyParameters>,
}

/// Stable error numbers of the add-in protocol; the add-in shows them to the 1C developer. Never
/// renumber: configurations compare against these values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ErrorCode {
    /// No configured server answered (reported by the add-in itself).
    ServerUnreachable = 1,
    NoFreeLicence = 2,
    VersionMismatch = 3,
    KeyExpired = 4,
    BadRequest = 5,
    /// The server holds no workable key of the series.
    NoKey = 6,
    /// The connection's lease ended or the server never knew it: connect again.
    UnknownConnection = 7,
    /// The session's licence is gone (lease ended): obtain again.
    LicenceLost = 8,
    /// The administrator ended the session.
    SessionEnded = 9,
    Internal = 10,
    KeyNotStarted = 11,
    /// The server holds as many connections or sessions as its limits allow; try again later.
    ServerBusy = 12,
    /// Not a failure: no server answered and the licence comes from a key installed on this computer
    /// (the add-in's optional local fallback). The add-in's own, like 1; no server sends it.
    LocalFallback = 13,
    /// The connection has no agreed channel (the server restarted since `connect`): connect again.
    NoChannel = 14,
    /// A protected object cannot be opened: the datafile is altered or of another series, the object
    /// is not in it, or the key the server gave does not open it (the server holds no genuine key).
    ObjectRefused = 15,
    /// The configuration set no `SeriesPublicKey` (the add-in's own): nothing can be trusted without it.
    SeriesKeyNotPinned = 16,
    /// The server could not prove it holds a genuine key of the pinned series, or its answer was not
    /// sealed in the connection's channel (the add-in's own): a fake, replaying or relayed server.
    ServerNotTrusted = 17,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::ServerUnreachable,
        ErrorCode::NoFreeLicence,
        ErrorCode::VersionMismatch,
        ErrorCode::KeyExpired,
        ErrorCode::BadRequest,
        ErrorCode::NoKey,
        ErrorCode::UnknownConnection,
        ErrorCode::LicenceLost,
        ErrorCode::SessionEnded,
        ErrorCode::Internal,
        ErrorCode::KeyNotStarted,
        ErrorCode::ServerBusy,
        ErrorCode::LocalFallback,
        ErrorCode::NoChannel,
        ErrorCode::ObjectRefused,
        ErrorCode::SeriesKeyNotPinned,
        ErrorCode::ServerNotTrusted,
    ];

    pub fn number(self) -> u16 {
        self as u16
    }

    pub fn from_number(n: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.number() == n)
    }

    /// The short English name carried in `Error`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::ServerUnreachable => "ServerUnreachable",
            ErrorCode::NoFreeLicence => "NoFreeLicence",
            ErrorCode::VersionMismatch => "VersionMismatch",
            ErrorCode::KeyExpired => "KeyExpired",
            ErrorCode::BadRequest => "BadRequest",
            ErrorCode::NoKey => "NoKey",
            ErrorCode::UnknownConnection => "UnknownConnection",
            ErrorCode::LicenceLost => "LicenceLost",
            ErrorCode::SessionEnded => "SessionEnded",
            ErrorCode::Internal => "Internal",
            ErrorCode::KeyNotStarted => "KeyNotStarted",
            ErrorCode::ServerBusy => "ServerBusy",
            ErrorCode::LocalFallback => "LocalFallback",
            ErrorCode::NoChannel => "NoChannel",
            ErrorCode::ObjectRefused => "ObjectRefused",
            ErrorCode::SeriesKeyNotPinned => "SeriesKeyNotPinned",
            ErrorCode::ServerNotTrusted => "ServerNotTrusted",
        }
    }

    /// The HTTP status the server answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::UnknownConnection | ErrorCode::LicenceLost | ErrorCode::NoKey | ErrorCode::NoChannel => 404,
            ErrorCode::SessionEnded => 410,
            ErrorCode::NoFreeLicence | ErrorCode::KeyExpired | ErrorCode::KeyNotStarted | ErrorCode::ObjectRefused => {
                403
            }
            ErrorCode::VersionMismatch => 409,
            // The add-in's own: no server answers with these.
            ErrorCode::ServerUnreachable
            | ErrorCode::LocalFallback
            | ErrorCode::SeriesKeyNotPinned
            | ErrorCode::ServerNotTrusted => 502,
            ErrorCode::Internal => 500,
            ErrorCode::ServerBusy => 503,
        }
    }

    /// The add-in's own codes (1, 13, 16, 17): the add-in reports them itself, no server answers with
    /// them, so one in a server's answer is not believed. Read off [`ErrorCode::http_status`], the one
    /// place that sorts the codes.
    pub fn is_addin_own(self) -> bool {
        self.http_status() == 502
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.number())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u16::deserialize(d)?;
        ErrorCode::from_number(n).ok_or_else(|| serde::de::Error::custom(format!("unknown error code {n}")))
    }
}

/// Sealed in `/licence/object` (see `channel`): the key of one object of a datafile, for a session of
/// this connection holding a licence of the datafile's series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ObjectRequest {
    #[serde(rename = "SessionID")]
    pub session_id: String,
    /// The object's name, for the server's log only: the key does not depend on it.
    pub name: String,
    pub object: crate::datafile::ObjectKeyRequest,
}

/// The sealed answer to an [`ObjectRequest`]: the object key, and the text of the key file whose
/// series secret made it, so the add-in can check that file's signature against the series public key
/// its configuration pins. `Debug` leaves the key out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ObjectGrant {
    /// 64 hex digits.
    pub object_key: String,
    pub key_file: String,
}

impl std::fmt::Debug for ObjectGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectGrant").finish_non_exhaustive()
    }
}

impl Drop for ObjectGrant {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.object_key);
    }
}

/// The body of every failed add-in protocol call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireError {
    pub code: ErrorCode,
    pub error: String,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, error: code.name().to_owned(), message: message.into() }
    }

    pub fn version_mismatch(server: &str, client: &str) -> Self {
        Self::new(ErrorCode::VersionMismatch, format!("server version {server} does not match client version {client}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_numbers_are_stable_and_unique() {
        let numbers: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.number()).collect();
        assert_eq!(numbers, (1..=17).collect::<Vec<u16>>());
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_number(c.number()), Some(c));
        }
        assert_eq!(ErrorCode::from_number(0), None);
    }

    #[test]
    fn only_the_add_ins_own_codes_are_its_own() {
        let own: Vec<u16> = ErrorCode::ALL.iter().filter(|c| c.is_addin_own()).map(|c| c.number()).collect();
        assert_eq!(own, [1, 13, 16, 17]);
    }

    #[test]
    fn version_mismatch_reads_as_documented() {
        let e = WireError::version_mismatch("3.0.1.0", "2.1.7");
        assert_eq!(e.message, "server version 3.0.1.0 does not match client version 2.1.7");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["Code"], 3);
        assert_eq!(json["Error"], "VersionMismatch");
    }

    #[test]
    fn control_characters_are_refused_by_field() {
        let facts = SessionFacts {
            session_number: "1".into(),
            info_base_connection_string: "File=\"/srv/b\";".into(),
            app_name: "1CV8C".into(),
            computer_name: "PC1".into(),
            user_name: Some("Иванов".into()),
            session_started: UtcTime::parse("2026-03-01T09:00:00Z").unwrap(),
            access_code: None,
            terminal_client: Some("ﬁle straße".into()),
        };
        assert_eq!(facts.check_text(), Ok(()));
        let nul = SessionFacts { computer_name: "PC\u{0}1".into(), ..facts.clone() };
        assert_eq!(nul.check_text(), Err(ControlInField("ComputerName")));
        let line = SessionFacts { user_name: Some("a\nb".into()), ..facts.clone() };
        assert_eq!(line.check_text().unwrap_err().to_string().split(' ').next(), Some("UserName"));
        let c1 = SessionFacts { terminal_client: Some("T\u{85}".into()), ..facts };
        assert_eq!(c1.check_text(), Err(ControlInField("TerminalClient")));
    }

    #[test]
    fn connect_request_uses_api_field_names() {
        let req = ConnectRequest {
            os_version: "Linux".into(),
            computer_name: "HOST".into(),
            local_ip: "127.0.0.1".into(),
            process: "/opt/1cv8/x86_64/8.3.25/1cv8c".into(),
            cpu: "x86_64".into(),
            pid: 42,
            is_server: false,
            platform_version: "8.3.25.1257".into(),
            module_name: "liblicenceaddin.so".into(),
            version: crate::VERSION.into(),
            key_id: "672B".parse().unwrap(),
            client_key: None,
            protocol: PROTOCOL,
            series_public_key: None,
        };
        let json = serde_json::to_value(&req).unwrap();
        for name in ["OSVersion", "ComputerName", "LocalIP", "Process", "CPU", "PID", "IsServer"] {
            assert!(json.get(name).is_some(), "{name}");
        }
        assert_eq!(json["KeyID"], "672B");
    }
}
