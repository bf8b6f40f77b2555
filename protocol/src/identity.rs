//! This machine's identity: which computer a key file was issued for, and what its series secret is
//! wrapped for.
//!
//! Raw identity material (the pinned file if configured, else `/etc/machine-id`, else
//! `/var/lib/dbus/machine-id`; on Windows the registry's `MachineGuid`) never leaves this module.
//! Surrounding whitespace is trimmed. Two values are derived from it, each under its own label:
//! - `ComputerID`: SHA-256 over a label and the material, first 20 bytes as 40 upper-case hex digits.
//!   It is published by `/api/serverinfo` and written into every key file.
//! - the binding ([`MachineBinding`]): HMAC-SHA256 keyed by the material over a different label and
//!   the licence server's random **host secret** ([`HostSecret`], `host.secret`, readable only by the
//!   server's own account). It is never published; the X25519 key pair that key files' secrets are
//!   sealed to ([`MachineBinding::target_secret`], [`TargetKey`]) comes from it. Neither the published
//!   `ComputerID` nor the world-readable machine id gives the binding: without the host secret there is
//!   nothing to unwrap with. Only the public half, the [`TargetKey`], ever leaves the computer (in an
//!   activation request), so request and response files carry no secret.
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
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read machine identity from {path}: {source}")]
    Unreadable { path: String, source: std::io::Error },
    #[error("cannot read machine identity from {path}: cannot run reg.exe: {source}")]
    NoRegExe { path: String, source: std::io::Error },
    #[error("machine identity file {path} is empty")]
    Empty { path: String },
    #[error("no machine identity found (tried {tried}); pin one with [Common] MachineIdFile")]
    NotFound { tried: String },
    #[error("binding `{0}` is not 64 hex digits")]
    BadBinding(String),
    #[error("computer id `{0}` is not 40 hex digits")]
    BadComputerId(String),
    #[error("target key `{0}` is not 64 hex digits")]
    BadTargetKey(String),
    #[error(
        "this identity document is of an earlier release (it carries a secret Binding): run `licenceserver \
         identity` again for one with a TargetKey"
    )]
    OldIdentityFormat,
    #[error("not an identity document: {0}")]
    BadIdentity(String),
    #[error(
        "host secret {path}: is {len} bytes, not {HOST_SECRET_LEN}: it was damaged; restore it from the backup made \
         with the data folder (without it the installed keys cannot be unwrapped)"
    )]
    HostSecretDamaged { path: String, len: usize },
    #[error("host secret {path}: no random bytes: {source}")]
    HostSecretRandom { path: String, source: getrandom::Error },
    #[error("host secret {path}: {source}")]
    HostSecretWrite { path: String, source: std::io::Error },
    #[error(
        "host secret {path}: cannot be read ({source}); only the licence server's own account can read it, so run \
         this as that account"
    )]
    HostSecretUnreadable { path: String, source: std::io::Error },
}

/// Domain label of the published `ComputerID`.
const COMPUTER_ID_LABEL: &[u8] = b"licence ComputerID v1\0";
/// Domain label of the secret binding; distinct from [`COMPUTER_ID_LABEL`]. Followed by the host
/// secret (empty for a USB device, whose material is a device secret already).
const BINDING_LABEL: &[u8] = b"licence key binding v2\0";
/// Domain label of the X25519 target secret derived from a binding.
const TARGET_LABEL: &[u8] = b"licence target key v2\0";
/// Bytes of a host secret.
pub const HOST_SECRET_LEN: usize = 32;
/// The file the licence server keeps its host secret in, in its own folder (`/var/1C/licence/3.0/`).
pub const HOST_SECRET_FILE: &str = "host.secret";
/// Bytes of the SHA-256 digest kept in the `ComputerID`.
const COMPUTER_ID_BYTES: usize = 20;
/// A machine-id file is a few dozen bytes; anything this large is not one.
const MAX_MATERIAL_LEN: u64 = 4096;

/// The OS's machine-id files on Unix, in the order they are tried.
#[cfg(unix)]
const UNIX_SOURCES: &[&str] = &["/etc/machine-id", "/var/lib/dbus/machine-id"];

/// The raw identity material of one computer, and the licence server's host secret when this
/// process can read it.
pub struct MachineIdentity {
    material: Zeroizing<Vec<u8>>,
    host: Option<HostSecret>,
}

/// The licence server's random host secret (`host.secret`, 0600, created at first start): half of
/// what a computer's binding is derived from, so that reading the world-readable machine id is not
/// enough to unwrap a key. Zeroized on drop; `Debug` shows nothing.
#[derive(Clone)]
pub struct HostSecret(Zeroizing<[u8; HOST_SECRET_LEN]>);

impl fmt::Debug for HostSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostSecret(<redacted>)")
    }
}

impl HostSecret {
    pub fn from_bytes(bytes: [u8; HOST_SECRET_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Reads the host secret from `path`, creating it (random, mode 0600, written atomically) when the
    /// file does not exist. A file of the wrong size is an error, never replaced: replacing it would
    /// orphan every installed key.
    pub fn load_or_create(path: &Path) -> Result<Self, IdentityError> {
        let shown = || path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let array: [u8; HOST_SECRET_LEN] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| IdentityError::HostSecretDamaged { path: shown(), len: bytes.len() })?;
                Ok(Self::from_bytes(array))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = Zeroizing::new([0u8; HOST_SECRET_LEN]);
                getrandom::getrandom(bytes.as_mut())
                    .map_err(|source| IdentityError::HostSecretRandom { path: shown(), source })?;
                write_private(path, bytes.as_ref())
                    .map_err(|source| IdentityError::HostSecretWrite { path: shown(), source })?;
                Ok(Self(bytes))
            }
            Err(source) => Err(IdentityError::HostSecretUnreadable { path: shown(), source }),
        }
    }
}

/// Creates `path` with `bytes`, readable and writable by the owner only, through a temporary file that
/// is flushed and renamed, so a crash never leaves half a secret.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{HOST_SECRET_FILE}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        // A second server starting at the same moment must not replace the first one's secret.
        std::fs::hard_link(&temp, path)?;
        std::fs::remove_file(&temp)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// The public half of a target's key pair (a computer's or a USB blank's): what an activation request
/// carries and what the vendor seals a key's secrets to. Public; 64 hex digits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetKey(pub [u8; 32]);

impl TargetKey {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Self, IdentityError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut bytes).map_err(|_| IdentityError::BadTargetKey(redacted(s)))?;
        Ok(Self(bytes))
    }
}

/// What a key file's secret is wrapped for; derived from the raw material, not from the ComputerID.
/// Zeroized on drop, compared in constant time; its `Debug` shows no bytes.
#[derive(Clone)]
pub struct MachineBinding(pub(crate) [u8; 32]);

/// What `licenceserver identity` prints and `licenceedit key demo --identity` reads: everything the
/// vendor needs to issue a key for this computer (or USB blank), and nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicTarget {
    #[serde(rename = "ComputerID")]
    pub computer_id: String,
    #[serde(rename = "TargetKey")]
    pub target_key: String,
}

impl MachineIdentity {
    /// Material as read from its source; surrounding whitespace is trimmed. Without a host secret
    /// ([`MachineIdentity::with_host_secret`]) this is what any local user can compute: enough for the
    /// `ComputerID`, and the binding of a USB device, whose material is its device secret.
    pub fn from_material(material: &[u8]) -> Self {
        Self { material: Zeroizing::new(material.trim_ascii().to_vec()), host: None }
    }

    /// The same identity with the licence server's host secret, so that its binding unwraps keys.
    pub fn with_host_secret(mut self, host: HostSecret) -> Self {
        self.host = Some(host);
        self
    }

    /// True when the binding includes the host secret (the licence server's own account).
    pub fn has_host_secret(&self) -> bool {
        self.host.is_some()
    }

    /// `pinned` is `[Common] MachineIdFile`; when `None`, the OS's machine id is used.
    pub fn load(pinned: Option<&Path>) -> Result<Self, IdentityError> {
        match pinned {
            Some(path) => match read_material(path)? {
                Some(identity) => Ok(identity),
                None => Err(IdentityError::Unreadable {
                    path: path.display().to_string(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                }),
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
        if let Some(host) = &self.host {
            mac.update(host.0.as_ref());
        }
        MachineBinding(mac.finalize().into_bytes().into())
    }

    /// The `ComputerID` and the public target key together, for the vendor.
    pub fn public_target(&self) -> PublicTarget {
        PublicTarget { computer_id: self.computer_id(), target_key: self.binding().target_key().to_hex() }
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

    /// The X25519 secret key sealed key secrets open with: derived from the binding under its own label.
    pub fn target_secret(&self) -> StaticSecret {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(TARGET_LABEL);
        let bytes = Zeroizing::new(<[u8; 32]>::from(mac.finalize().into_bytes()));
        StaticSecret::from(*bytes)
    }

    /// The public half of [`MachineBinding::target_secret`].
    pub fn target_key(&self) -> TargetKey {
        TargetKey(PublicKey::from(&self.target_secret()).to_bytes())
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

impl PublicTarget {
    /// Checks both halves and returns the normalized `ComputerID` and the target key.
    pub fn parse(&self) -> Result<(String, TargetKey), IdentityError> {
        Ok((parse_computer_id(&self.computer_id)?, TargetKey::from_hex(&self.target_key)?))
    }

    /// Reads `licenceserver identity`'s JSON; an identity file of the earlier format (with `Binding`)
    /// is refused with what to do.
    pub fn from_json(text: &str) -> Result<Self, IdentityError> {
        match serde_json::from_str::<Self>(text) {
            Ok(target) => {
                target.parse()?;
                Ok(target)
            }
            Err(e) => {
                let old =
                    serde_json::from_str::<serde_json::Value>(text).ok().is_some_and(|v| v.get("Binding").is_some());
                Err(if old {
                    IdentityError::OldIdentityFormat
                } else {
                    IdentityError::BadIdentity(crate::text::shorten(&e.to_string(), 120))
                })
            }
        }
    }
}

/// A `ComputerID` as typed by a person: 40 hex digits in either case, returned upper-case.
pub fn parse_computer_id(s: &str) -> Result<String, IdentityError> {
    let s = s.trim();
    if s.len() == 2 * COMPUTER_ID_BYTES && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(IdentityError::BadComputerId(crate::text::shorten(s, 48)))
    }
}

/// A short, harmless description of a rejected binding.
fn redacted(s: &str) -> String {
    let count = s.chars().count();
    if count <= 8 {
        s.to_owned()
    } else {
        format!("{} ({count} characters)", crate::text::shorten(s, 4))
    }
}

/// `Ok(None)` when the file does not exist; every other failure, and an empty file, is an error.
fn read_material(path: &Path) -> Result<Option<MachineIdentity>, IdentityError> {
    use std::io::Read;
    let unreadable = |source| IdentityError::Unreadable { path: path.display().to_string(), source };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    let mut raw = Zeroizing::new(Vec::new());
    file.take(MAX_MATERIAL_LEN + 1).read_to_end(&mut raw).map_err(unreadable)?;
    if raw.len() as u64 > MAX_MATERIAL_LEN {
        let too_large = format!("larger than {MAX_MATERIAL_LEN} bytes");
        return Err(unreadable(std::io::Error::new(std::io::ErrorKind::InvalidData, too_large)));
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
    let unreadable = |source| IdentityError::Unreadable { path: format!(r"{KEY}\MachineGuid"), source };
    let output = std::process::Command::new("reg")
        .args(["query", KEY, "/v", "MachineGuid"])
        .output()
        .map_err(|source| IdentityError::NoRegExe { path: format!(r"{KEY}\MachineGuid"), source })?;
    if !output.status.success() {
        return Err(IdentityError::NotFound { tried: format!(r"{KEY}\MachineGuid") });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    match machine_guid_from_reg_output(&text) {
        Some(guid) => Ok(MachineIdentity::from_material(guid.as_bytes())),
        None => Err(unreadable(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "reg.exe printed no MachineGuid value",
        ))),
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
    fn public_target_round_trips_through_json_and_carries_no_secret() {
        let identity = MachineIdentity::from_material(b"machine").with_host_secret(HostSecret::from_bytes([9; 32]));
        let target = identity.public_target();
        let json = serde_json::to_string(&target).unwrap();
        assert!(json.contains("\"ComputerID\"") && json.contains("\"TargetKey\""), "{json}");
        assert!(!json.contains(&identity.binding().to_hex()));
        let back = PublicTarget::from_json(&json).unwrap();
        let (computer_id, key) = back.parse().unwrap();
        assert_eq!(computer_id, identity.computer_id());
        assert_eq!(key, identity.binding().target_key());
        let old = format!("{{\"ComputerID\":\"{}\",\"Binding\":\"{}\"}}", target.computer_id, "ab".repeat(32));
        assert!(matches!(PublicTarget::from_json(&old), Err(IdentityError::OldIdentityFormat)));
    }

    #[test]
    fn the_host_secret_changes_the_binding_and_is_created_private() {
        let plain = MachineIdentity::from_material(b"machine");
        let hosted = MachineIdentity::from_material(b"machine").with_host_secret(HostSecret::from_bytes([1; 32]));
        let other = MachineIdentity::from_material(b"machine").with_host_secret(HostSecret::from_bytes([2; 32]));
        assert_eq!(plain.computer_id(), hosted.computer_id(), "the published id does not depend on the secret");
        assert_ne!(plain.binding(), hosted.binding());
        assert_ne!(hosted.binding(), other.binding());
        assert!(hosted.has_host_secret() && !plain.has_host_secret());

        let dir = std::env::temp_dir().join(format!("licence-host-secret-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join(HOST_SECRET_FILE);
        let first = HostSecret::load_or_create(&path).unwrap();
        let again = HostSecret::load_or_create(&path).unwrap();
        assert_eq!(first.0.as_ref(), again.0.as_ref());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        let err = HostSecret::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("is 5 bytes, not 32"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"short", "a damaged secret is never replaced");
        let _ = std::fs::remove_dir_all(&dir);
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
