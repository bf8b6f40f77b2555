//! What the server shows of itself: the typed views of licences, connections and sessions, with the
//! field names and value shapes of the administrator's guide. The REST API serializes them and the
//! console renders them, so the two cannot disagree; [`crate::queries`] builds them from the state.
//!
//! The guide's quirks are kept: a connection's `PID`, a session's `SessionNumber` and both `Expired`
//! flags are strings (`"False"`), as the guide's examples show. Licence flags (`Enabled`,
//! `Workable`, `Expired`) are JSON booleans.

use crate::keystore::{InstalledKey, Storage};
use crate::ledger::{Connection, Session};
use crate::pool::PoolStanding;
use licence_protocol::key::KeyFields;
use licence_protocol::keyfile;
use licence_protocol::text::{self, shorten};
use licence_protocol::time::UtcTime;
use serde::Serialize;
use serde_json::Value;

fn flag(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LicenceView {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// The key file; null for a key inside a hardware key.
    pub file_name: Option<String>,
    /// The USB device's serial for a hardware key (beyond the guide's list); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
    pub open_error: Option<String>,
    pub enabled: bool,
    pub workable: bool,
    pub version: String,
    pub key_no: u64,
    #[serde(rename = "KeyID")]
    pub key_id: String,
    pub reg_no: Option<String>,
    pub key_type: Option<u8>,
    pub licence_count: Option<u32>,
    /// Licences of this key in use now (beyond the guide's list, for the console and monitoring).
    pub licences_used: u32,
    pub product_version: Option<String>,
    pub blank_key_no: Option<u64>,
    pub activation_code: Option<String>,
    pub activation_date: Option<UtcTime>,
    pub start_date: Option<UtcTime>,
    pub period: Option<u32>,
    pub expire_date: Option<UtcTime>,
    pub days_left: Option<u32>,
    pub expired: bool,
    pub flags: Option<String>,
    #[serde(rename = "ITN")]
    pub itn: Option<String>,
    #[serde(rename = "IEC")]
    pub iec: Option<String>,
    pub product_name: Option<String>,
    pub article: Option<String>,
    pub article_name: Option<String>,
    pub support_date: Option<UtcTime>,
    #[serde(rename = "ComputerID")]
    pub computer_id: Option<String>,
}

pub fn licence(key: &InstalledKey, standing: &PoolStanding, used: u32, now: UtcTime) -> LicenceView {
    let f = key.fields.as_ref();
    let validity = f.map(|f| f.validity(now));
    let key_standing = standing.key(key.key_no);
    let counts = key_standing.is_some_and(|s| s.counts);
    let open_error = key.open_error.clone().or_else(|| key_standing.and_then(|s| s.reason.clone()));
    LicenceView {
        kind: match key.storage {
            Storage::File => "Virtual",
            Storage::Usb(_) => "USB",
        },
        file_name: (key.storage == Storage::File).then(|| key.path.display().to_string()),
        serial: match key.storage {
            Storage::Usb(serial) => Some(serial),
            Storage::File => None,
        },
        open_error,
        enabled: counts,
        workable: key.workable,
        version: keyfile::FORMAT.to_string(),
        key_no: key.key_no,
        key_id: key.series.to_string(),
        reg_no: f.map(|f| f.reg_no.clone()),
        key_type: f.map(|f| f.key_type.code()),
        licence_count: f.map(|f| f.licence_count),
        licences_used: used,
        product_version: f.map(|f| f.product_version.clone()),
        blank_key_no: f.and_then(|f| f.blank_key_no),
        activation_code: f.and_then(|f| f.activation_code.clone()),
        activation_date: f.and_then(|f| f.activation_date),
        start_date: f.map(|f| f.start_date),
        period: f.map(|f| f.period),
        expire_date: validity.and_then(|v| v.expire_date),
        days_left: validity.and_then(|v| v.days_left),
        expired: validity.is_some_and(|v| v.expired),
        flags: f.map(|f| f.flags_binary()),
        itn: f.and_then(|f| f.itn.clone()),
        iec: f.and_then(|f| f.iec.clone()),
        product_name: f.map(|f| f.product_name.clone()),
        article: f.map(|f| f.article.clone()),
        article_name: f.map(|f| f.article_name.clone()),
        support_date: f.and_then(|f| f.support_date),
        computer_id: f.map(|f| f.computer_id.clone()),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionView {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "PeerIP")]
    pub peer_ip: String,
    pub created: UtcTime,
    pub last_used: UtcTime,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    pub computer_name: String,
    #[serde(rename = "LocalIP")]
    pub local_ip: String,
    pub process: String,
    #[serde(rename = "CPU")]
    pub cpu: String,
    #[serde(rename = "PID")]
    pub pid: String,
    pub is_server: bool,
    pub platform_version: String,
    pub module_name: String,
    pub version: String,
    #[serde(rename = "KeyID")]
    pub key_id: String,
    pub expire_time: UtcTime,
    pub expired: &'static str,
}

pub fn connection(c: &Connection, now: UtcTime) -> ConnectionView {
    let f = &c.facts;
    ConnectionView {
        id: c.id.clone(),
        peer_ip: c.peer_ip.clone(),
        created: c.created,
        last_used: c.last_used,
        os_version: f.os_version.clone(),
        computer_name: f.computer_name.clone(),
        local_ip: f.local_ip.clone(),
        process: f.process.clone(),
        cpu: f.cpu.clone(),
        pid: f.pid.to_string(),
        is_server: f.is_server,
        platform_version: f.platform_version.clone(),
        module_name: f.module_name.clone(),
        version: f.version.clone(),
        key_id: f.key_id.to_string(),
        expire_time: c.expire_time,
        expired: flag(c.expire_time <= now),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionView {
    #[serde(rename = "ID")]
    pub id: String,
    pub session_number: String,
    pub is_server: bool,
    pub info_base_connection_string: String,
    pub app_name: String,
    pub computer_name: String,
    pub user_name: Option<String>,
    pub session_started: UtcTime,
    pub session_connection: String,
    pub access_code: Option<String>,
    pub expire_time: UtcTime,
    pub expired: &'static str,
    #[serde(rename = "KeyID")]
    pub key_id: String,
    pub used_licence: u64,
    pub terminal_client: Option<String>,
}

pub fn session(s: &Session, now: UtcTime) -> SessionView {
    let f = &s.facts;
    SessionView {
        id: s.id.clone(),
        session_number: f.session_number.clone(),
        is_server: s.is_server,
        info_base_connection_string: f.info_base_connection_string.clone(),
        app_name: f.app_name.clone(),
        computer_name: f.computer_name.clone(),
        user_name: f.user_name.clone(),
        session_started: f.session_started,
        session_connection: s.connection_id.clone(),
        access_code: f.access_code.clone(),
        expire_time: s.expire_time,
        expired: flag(s.expire_time <= now),
        key_id: s.series.to_string(),
        used_licence: s.used_licence,
        terminal_client: f.terminal_client.clone(),
    }
}

/// `/api`: the server's version and the lists it offers.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiRoot {
    pub version: &'static str,
    pub urns: [&'static str; 4],
}

/// `/api/licences`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Licences {
    pub licences: Vec<LicenceView>,
}

/// `/api/connections`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Connections {
    pub connections: Vec<ConnectionView>,
}

/// `/api/sessions`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Sessions {
    pub sessions: Vec<SessionView>,
}

/// `/api/licences/{KeyNo}/backupcode`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupCodeView {
    pub key_no: u64,
    pub backup_code: String,
}

/// A key just installed: as the key list shows it, or — when the reload that follows the
/// installation does not list it (the clock is behind its start, say) — the fields it was issued
/// with.
#[derive(Serialize)]
#[serde(untagged)]
pub enum InstalledView {
    Listed(Box<LicenceView>),
    Issued(Box<KeyFields>),
}

/// A `?Field=Value` filter that names no field of the listed items.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown filter `{}`: filters are field names of the listed items", shorten(.0, text::NAME))]
pub struct UnknownFilter(pub String);

/// `?Field=Value&…` on a list route: keeps the items whose field equals the value (letter case
/// ignored). Fields are named as the API names them; a parameter that names no field is an error,
/// so a typo does not silently match all.
pub fn filter<T: Serialize>(items: Vec<T>, query: &[(String, String)]) -> Result<Vec<T>, UnknownFilter> {
    if query.is_empty() {
        return Ok(items);
    }
    let Some(first) = items.first().and_then(|i| serde_json::to_value(i).ok()) else { return Ok(items) };
    if let Some((name, _)) = query.iter().find(|(name, _)| first.get(name).is_none()) {
        return Err(UnknownFilter(name.clone()));
    }
    Ok(items
        .into_iter()
        .filter(|item| {
            let Ok(fields) = serde_json::to_value(item) else { return false };
            query.iter().all(|(name, wanted)| fields.get(name).is_some_and(|v| matches(v, wanted)))
        })
        .collect())
}

fn matches(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(s) => s.eq_ignore_ascii_case(wanted) || s.to_lowercase() == wanted.to_lowercase(),
        Value::Null => wanted.eq_ignore_ascii_case("null"),
        other => other.to_string().eq_ignore_ascii_case(wanted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_match_fields_without_letter_case() {
        let items = vec![
            json!({"KeyID": "672B", "IsServer": false, "UserName": "Иванов"}),
            json!({"KeyID": "1A2B", "IsServer": true, "UserName": null}),
        ];
        let q = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert_eq!(filter(items.clone(), &q("KeyID", "672b")).unwrap().len(), 1);
        assert_eq!(filter(items.clone(), &q("IsServer", "true")).unwrap()[0]["KeyID"], "1A2B");
        assert_eq!(filter(items.clone(), &q("UserName", "иванов")).unwrap().len(), 1);
        assert_eq!(filter(items.clone(), &q("UserName", "null")).unwrap().len(), 1);
        assert!(filter(items, &q("Nope", "1")).unwrap_err().to_string().starts_with("unknown filter `Nope`: "));
    }
}
