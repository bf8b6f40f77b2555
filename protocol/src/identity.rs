//! This machine's identity: which computer a key file was issued for, and what its series secret is
//! wrapped for.
//!
//! Raw identity material (the pinned file if configured, else `/etc/machine-id`, else
//! `/var/lib/dbus/machine-id`; on Windows the registry's `MachineGuid`) never leaves this module.
//! Surrounding whitespace is trimmed. Two values are derived from it, each under its own label:
//! - `ComputerID`: SHA-256 over a label and the material, first 20 bytes as 40 upper-case hex digits.
//!   It is published by `/api/serverinfo` and written into every key file.
//! - the binding ([`MachineBinding`]): HMAC-SHA256 keyed by the material over a different label.
//!   It is never published; key files' wrapping keys come from it. The ComputerID is a one-way hash,
//!   so knowing it does not give the binding.
//!
//! # What changes the ComputerID
//! Anything that changes the material, and with it every key file issued for this computer stops
//! unwrapping:
//! - the OS's machine id is regenerated (`systemd-machine-id-setup`, deleting `/etc/machine-id`,
//!   cloning a VM image and "sysprepping" it, on Windows a new `MachineGuid`);
//! - the OS is reinstalled;
//! - a container is re-created without a pinned file: images usually ship an empty or fixed
//!   `/etc/machine-id`, or the runtime invents one per container.
//!
//! Moving hardware, renaming the host or changing its addresses does not change it.
//!
//! # Pinning
//! Set `[Common] MachineIdFile=/path/on/a/persistent/volume` and put any stable text in that file once,
//! for example `cat /proc/sys/kernel/random/uuid > /var/lib/licence/machine-id`. The file then is the
//! identity: copying it moves the identity with it, and losing it loses the keys. A pinned file that is
//! missing, unreadable or empty is an error; there is never a silent fall-back to the OS's id.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use zeroize::{Zeroize, Zeroizing};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read machine identity from {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("machine identity file {path} is empty")]
    Empty { path: String },
    #[error("no machine identity found (tried {tried}); pin one with [Common] MachineIdFile")]
    NotFound { tried: String },
    #[error("binding `{0}` is not 64 hex digits")]
    BadBinding(String),
    #[error("computer id `{0}` is not 40 hex digits")]
    BadComputerId(String),
}

/// Domain label of the published `ComputerID`.
const COMPUTER_ID_LABEL: &[u8] = b"licence ComputerID v1\0";
/// Domain label of the secret binding; distinct from [`COMPUTER_ID_LABEL`].
const BINDING_LABEL: &[u8] = b"licence key binding v1";
/// Bytes of the SHA-256 digest kept in the `ComputerID`.
const COMPUTER_ID_BYTES: usize = 20;
/// A machine-id file is a few dozen bytes; anything this large is not one.
const MAX_MATERIAL_LEN: u64 = 4096;

/// The OS's machine-id files on Unix, in the order they are tried.
#[cfg(unix)]
const UNIX_SOURCES: &[&str] = &["/etc/machine-id", "/var/lib/dbus/machine-id"];

/// The raw identity material of one computer.
pub struct MachineIdentity {
    material: Zeroizing<Vec<u8>>,
}

/// What a key file's secret is wrapped for; derived from the raw material, not from the ComputerID.
/// Zeroized on drop, compared in constant time; its `Debug` shows no bytes.
#[derive(Clone)]
pub struct MachineBinding(pub(crate) [u8; 32]);

/// What `licenceserver identity` prints and `licenceedit key issue --identity` reads: everything the
/// vendor needs to issue a key for this computer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingRequest {
    #[serde(rename = "ComputerID")]
    pub computer_id: String,
    #[serde(rename = "Binding")]
    pub binding: String,
}

impl MachineIdentity {
    /// Material as read from its source; surrounding whitespace is trimmed.
    pub fn from_material(material: &[u8]) -> Self {
        Self { material: Zeroizing::new(material.trim_ascii().to_vec()) }
    }

    /// `pinned` is `[Common] MachineIdFile`; when `None`, the OS's machine id is used.
    pub fn load(pinned: Option<&Path>) -> Result<Self, IdentityError> {
        match pinned {
            Some(path) => match read_material(path)? {
                Some(identity) => Ok(identity),
                None => {
                    Err(IdentityError::Unreadable { path: path.display().to_string(), reason: "no such file".into() })
                }
            },
            None => load_from_os(),
        }
    }

    pub fn computer_id(&self) -> String {
        let digest = Sha256::new().chain_update(COMPUTER_ID_LABEL).chain_update(self.material.as_slice()).finalize();
        hex::encode_upper(&digest[..COMPUTER_ID_BYTES])
    }

    pub fn binding(&self) -> MachineBinding {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.material).expect("HMAC accepts keys of any length");
        mac.update(BINDING_LABEL);
        MachineBinding(mac.finalize().into_bytes().into())
    }

    /// The `ComputerID` and binding together, for the vendor.
    pub fn binding_request(&self) -> BindingRequest {
        BindingRequest { computer_id: self.computer_id(), binding: self.binding().to_hex() }
    }
}

impl fmt::Debug for MachineIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MachineIdentity").field("computer_id", &self.computer_id()).finish_non_exhaustive()
    }
}

impl MachineBinding {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// 64 hex digits in either case. The error shows at most a few characters of the input, since a
    /// nearly right binding is nearly a secret.
    pub fn from_hex(s: &str) -> Result<Self, IdentityError> {
        let mut bytes = [0u8; 32];
        match hex::decode_to_slice(s, &mut bytes) {
            Ok(()) => Ok(Self(bytes)),
            Err(_) => Err(IdentityError::BadBinding(redacted(s))),
        }
    }
}

impl fmt::Debug for MachineBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MachineBinding(<redacted>)")
    }
}

impl PartialEq for MachineBinding {
    fn eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }
}

impl Eq for MachineBinding {}

impl Drop for MachineBinding {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl BindingRequest {
    /// Checks both halves and returns the normalized `ComputerID` and the binding.
    pub fn parse(&self) -> Result<(String, MachineBinding), IdentityError> {
        Ok((parse_computer_id(&self.computer_id)?, MachineBinding::from_hex(&self.binding)?))
    }
}

impl fmt::Debug for BindingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindingRequest").field("computer_id", &self.computer_id).finish_non_exhaustive()
    }
}

/// A `ComputerID` as typed by a person: 40 hex digits in either case, returned upper-case.
pub fn parse_computer_id(s: &str) -> Result<String, IdentityError> {
    let s = s.trim();
    if s.len() == 2 * COMPUTER_ID_BYTES && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(IdentityError::BadComputerId(s.chars().take(48).collect()))
    }
}

/// A short, harmless description of a rejected binding.
fn redacted(s: &str) -> String {
    let count = s.chars().count();
    if count <= 8 {
        s.to_owned()
    } else {
        let head: String = s.chars().take(4).collect();
        format!("{head}… ({count} characters)")
    }
}

/// `Ok(None)` when the file does not exist; every other failure, and an empty file, is an error.
fn read_material(path: &Path) -> Result<Option<MachineIdentity>, IdentityError> {
    use std::io::Read;
    let unreadable = |reason: String| IdentityError::Unreadable { path: path.display().to_string(), reason };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e.to_string())),
    };
    let mut raw = Zeroizing::new(Vec::new());
    file.take(MAX_MATERIAL_LEN + 1).read_to_end(&mut raw).map_err(|e| unreadable(e.to_string()))?;
    if raw.len() as u64 > MAX_MATERIAL_LEN {
        return Err(unreadable(format!("larger than {MAX_MATERIAL_LEN} bytes")));
    }
    let identity = MachineIdentity::from_material(&raw);
    if identity.material.is_empty() {
        return Err(IdentityError::Empty { path: path.display().to_string() });
    }
    Ok(Some(identity))
}

/// The first of [`UNIX_SOURCES`] that exists and is not empty.
#[cfg(unix)]
fn load_from_os() -> Result<MachineIdentity, IdentityError> {
    for source in UNIX_SOURCES {
        match read_material(Path::new(source)) {
            Ok(Some(identity)) => return Ok(identity),
            // Container images often ship an empty /etc/machine-id; the next source may be real.
            Ok(None) | Err(IdentityError::Empty { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(IdentityError::NotFound { tried: UNIX_SOURCES.join(", ") })
}

/// The registry's `MachineGuid`, read through `reg.exe` so that no unsafe code is needed.
#[cfg(windows)]
fn load_from_os() -> Result<MachineIdentity, IdentityError> {
    const KEY: &str = r"HKLM\SOFTWARE\Microsoft\Cryptography";
    let unreadable = |reason: String| IdentityError::Unreadable { path: format!(r"{KEY}\MachineGuid"), reason };
    let output = std::process::Command::new("reg")
        .args(["query", KEY, "/v", "MachineGuid"])
        .output()
        .map_err(|e| unreadable(format!("cannot run reg.exe: {e}")))?;
    if !output.status.success() {
        return Err(IdentityError::NotFound { tried: format!(r"{KEY}\MachineGuid") });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    match machine_guid_from_reg_output(&text) {
        Some(guid) => Ok(MachineIdentity::from_material(guid.as_bytes())),
        None => Err(unreadable("reg.exe printed no MachineGuid value".into())),
    }
}

#[cfg(not(any(unix, windows)))]
fn load_from_os() -> Result<MachineIdentity, IdentityError> {
    Err(IdentityError::NotFound { tried: "nothing: this OS has no known machine id source".into() })
}

/// The value in `reg query … /v MachineGuid` output, whose line reads
/// `    MachineGuid    REG_SZ    1f0e…`.
#[cfg_attr(not(windows), allow(dead_code))]
fn machine_guid_from_reg_output(text: &str) -> Option<&str> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let name = words.next()?;
        let kind = words.next()?;
        let value = words.next()?;
        (name.eq_ignore_ascii_case("MachineGuid") && kind == "REG_SZ" && words.next().is_none()).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, content: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("licence-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn computer_id_is_40_upper_hex_and_stable() {
        let a = MachineIdentity::from_material(b"0123456789abcdef0123456789abcdef");
        let id = a.computer_id();
        assert_eq!(id.len(), 40);
        assert!(id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        assert_eq!(id, MachineIdentity::from_material(b" 0123456789abcdef0123456789abcdef\n").computer_id());
        assert_ne!(id, MachineIdentity::from_material(b"0123456789abcdef0123456789abcdeF").computer_id());
    }

    #[test]
    fn binding_is_not_the_computer_id_digest() {
        let identity = MachineIdentity::from_material(b"material");
        let binding = identity.binding().to_hex();
        assert_eq!(binding.len(), 64);
        assert!(!binding.to_ascii_uppercase().starts_with(&identity.computer_id()));
        let plain = hex::encode(Sha256::new().chain_update(BINDING_LABEL).chain_update(b"material").finalize());
        assert_ne!(binding, plain);
    }

    #[test]
    fn binding_hex_round_trips_in_either_case() {
        let binding = MachineIdentity::from_material(b"x").binding();
        let hex = binding.to_hex();
        assert_eq!(MachineBinding::from_hex(&hex).unwrap(), binding);
        assert_eq!(MachineBinding::from_hex(&hex.to_ascii_uppercase()).unwrap(), binding);
        assert!(MachineBinding::from_hex(&hex[..62]).is_err());
        assert!(MachineBinding::from_hex(&format!("{}zz", &hex[..62])).is_err());
    }

    #[test]
    fn bad_binding_error_does_not_echo_the_input() {
        let almost = "ab".repeat(31) + "a";
        let text = MachineBinding::from_hex(&almost).unwrap_err().to_string();
        assert_eq!(text, "binding `abab… (63 characters)` is not 64 hex digits");
        assert_eq!(format!("{:?}", MachineIdentity::from_material(b"x").binding()), "MachineBinding(<redacted>)");
    }

    #[test]
    fn binding_request_round_trips_through_json() {
        let identity = MachineIdentity::from_material(b"machine");
        let request = identity.binding_request();
        let json = serde_json::to_string(&request).unwrap();
        assert!(json.contains("\"ComputerID\"") && json.contains("\"Binding\""), "{json}");
        let back: BindingRequest = serde_json::from_str(&json).unwrap();
        let (computer_id, binding) = back.parse().unwrap();
        assert_eq!(computer_id, identity.computer_id());
        assert_eq!(binding, identity.binding());
        assert!(!format!("{back:?}").contains(&request.binding));
    }

    #[test]
    fn computer_id_parsing_normalizes_case() {
        let lower = "d365acc38180015cd3a30e62bf1072392d4dd5c1";
        assert_eq!(parse_computer_id(lower).unwrap(), lower.to_ascii_uppercase());
        assert_eq!(parse_computer_id("D365").unwrap_err().to_string(), "computer id `D365` is not 40 hex digits");
    }

    #[test]
    fn pinned_file_is_used_and_trimmed() {
        let path = temp_file("pinned", b"  my-pinned-id\n");
        let identity = MachineIdentity::load(Some(&path)).unwrap();
        assert_eq!(identity.computer_id(), MachineIdentity::from_material(b"my-pinned-id").computer_id());
    }

    #[test]
    fn pinned_file_missing_or_empty_is_an_error() {
        let missing = std::env::temp_dir().join("licence-identity-surely-missing/machine-id");
        let err = MachineIdentity::load(Some(&missing)).unwrap_err();
        assert!(matches!(err, IdentityError::Unreadable { .. }), "{err}");
        let empty = temp_file("empty", b" \n\t");
        let err = MachineIdentity::load(Some(&empty)).unwrap_err();
        assert!(matches!(err, IdentityError::Empty { .. }), "{err}");
    }

    #[test]
    fn pinned_file_that_is_too_large_is_rejected() {
        let path = temp_file("huge", &vec![b'a'; 5000]);
        let err = MachineIdentity::load(Some(&path)).unwrap_err();
        assert!(err.to_string().contains("larger than 4096 bytes"), "{err}");
    }

    #[test]
    fn machine_guid_is_found_in_reg_output() {
        let out = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Cryptography\r\n    MachineGuid    REG_SZ    \
                   1f0e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\r\n\r\n";
        assert_eq!(machine_guid_from_reg_output(out), Some("1f0e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"));
        assert_eq!(machine_guid_from_reg_output("ERROR: nothing"), None);
    }

    #[test]
    fn debug_shows_the_computer_id_only() {
        let identity = MachineIdentity::from_material(b"secret-material");
        let debug = format!("{identity:?}");
        assert!(debug.contains(&identity.computer_id()));
        assert!(!debug.contains("secret-material"));
    }
}
