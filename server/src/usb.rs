//! USB licence keys and blanks plugged into this computer, found through libusb.
//!
//! [`scan`] is called every second or two while `[UPKey] Enabled` is on; it lists the devices with the
//! licence key's vendor and product id, proves each genuine (`licence_protocol::usbkey::open`, see
//! `protocol/USBKEY.md`) and returns what they hold. Nothing here panics on what a device or libusb
//! says: every failure becomes one readable line in [`UsbScan::problems`].
//!
//! # The emulator (a test switch)
//! With `LICENCESERVER_TEST_USB_DIR=/some/dir` in the environment, the real bus is not used at all:
//! every `*.usbkey` file in that folder is a plugged [`SoftwareKey`] (the file present = plugged,
//! removed = unplugged), and the public test root ([`usbkey::test_root`], whose private key everyone
//! has) is trusted besides the production roots. Every scan then reports a warning line saying so.
//! Changes a device makes (a key file written to it) are saved back to its file atomically.

use licence_protocol::keyfile::{self, KeyFileError};
use licence_protocol::usbkey::{
    self, DeviceError, EmulatorFileError, PluggedKey, SoftwareKey, UsbKeyDevice, UsbKeyError, MAX_EMULATOR_FILE_LEN,
};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable that swaps the USB bus for a folder of emulated keys.
pub const TEST_USB_DIR_ENV: &str = "LICENCESERVER_TEST_USB_DIR";
/// File name extension of an emulated key in that folder.
pub const EMULATOR_EXTENSION: &str = "usbkey";
/// Per control transfer; a key answers in milliseconds, a hung one must not stall the scan for long.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(1);

/// The genuine keys found, and why any other candidate was not used.
#[derive(Debug, Default)]
pub struct UsbScan {
    pub keys: Vec<PluggedKey>,
    pub problems: Vec<String>,
}

/// A failure with one emulated key file.
#[derive(Debug, thiserror::Error)]
pub enum EmulatedKeyError {
    #[error("{path} was unplugged (removed)")]
    Unplugged { path: String },
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: {source}")]
    File { path: String, source: EmulatorFileError },
    #[error("{path}: {source}")]
    Key { path: String, source: UsbKeyError },
    #[error("cannot save the emulated key: {0}")]
    Save(#[from] KeyFileError),
}

/// The keys plugged in now. When `enabled` is false this returns at once and never touches libusb.
pub fn scan(enabled: bool) -> UsbScan {
    scan_with(enabled, || match std::env::var_os(TEST_USB_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Box::new(EmulatorDir(PathBuf::from(dir))),
        _ => Box::new(Libusb),
    })
}

/// The emulated keys in `dir`, as [`scan`] finds them when [`TEST_USB_DIR_ENV`] names `dir`.
pub fn scan_emulator_dir(dir: &Path) -> UsbScan {
    EmulatorDir(dir.to_owned()).scan()
}

/// The real bus, whatever [`TEST_USB_DIR_ENV`] says.
pub fn scan_real_bus() -> UsbScan {
    Libusb.scan()
}

/// Writes `key_file` into the emulated key at `path` through the device protocol, as the vendor's tool
/// programs a real one, and saves the device back.
pub fn program_emulated_key(path: &Path, key_file: &[u8]) -> Result<(), EmulatedKeyError> {
    with_emulated_key(path, |key| usbkey::write_key_file(key, &emulator_roots(), key_file))
}

/// Where the keys come from: the real bus or the emulator folder.
trait Backend {
    fn scan(&self) -> UsbScan;
}

/// Builds the backend only when enabled, so that a disabled scan cannot reach libusb.
fn scan_with<'a>(enabled: bool, backend: impl FnOnce() -> Box<dyn Backend + 'a>) -> UsbScan {
    if !enabled {
        return UsbScan::default();
    }
    backend().scan()
}

/// A bus of devices; libusb in production, a fake in tests.
trait Bus {
    type Candidate;
    /// The devices with the licence key's vendor and product id.
    fn candidates(&self) -> Result<Vec<Self::Candidate>, String>;
    /// Where the candidate sits, for a problem line.
    fn describe(&self, candidate: &Self::Candidate) -> String;
    fn open(&self, candidate: &Self::Candidate) -> Result<Box<dyn UsbKeyDevice>, String>;
}

fn scan_bus<B: Bus>(bus: &B, trusted_roots: &[[u8; 32]]) -> UsbScan {
    let mut scan = UsbScan::default();
    let candidates = match bus.candidates() {
        Ok(candidates) => candidates,
        Err(e) => {
            scan.problems.push(format!("USB: cannot list devices: {e}; USB keys are not available"));
            return scan;
        }
    };
    for candidate in candidates {
        let opened = bus
            .open(&candidate)
            .map_err(|e| format!("cannot open it: {e}"))
            .and_then(|mut device| usbkey::open(device.as_mut(), trusted_roots).map_err(|e| e.to_string()));
        match opened {
            Ok(key) => scan.keys.push(key),
            Err(e) => {
                scan.problems.push(format!("USB: the licence key at {} is not used: {e}", bus.describe(&candidate)))
            }
        }
    }
    scan
}

struct Libusb;

impl Backend for Libusb {
    fn scan(&self) -> UsbScan {
        match libusb_context() {
            Ok(context) => scan_bus(&LibusbBus(context), usbkey::PRODUCTION_ROOTS),
            Err(e) => UsbScan {
                keys: Vec::new(),
                problems: vec![format!("USB: cannot list devices: {e}; USB keys are not available")],
            },
        }
    }
}

/// One libusb context for the life of the process, created on the first enabled scan; a failure to
/// start libusb is remembered too, since it does not heal by retrying every second.
fn libusb_context() -> Result<&'static rusb::Context, String> {
    static CONTEXT: OnceLock<Result<rusb::Context, String>> = OnceLock::new();
    CONTEXT
        .get_or_init(|| rusb::Context::new().map_err(|e| format!("libusb cannot start: {e}")))
        .as_ref()
        .map_err(Clone::clone)
}

struct LibusbBus(&'static rusb::Context);

impl Bus for LibusbBus {
    type Candidate = rusb::Device<rusb::Context>;

    fn candidates(&self) -> Result<Vec<Self::Candidate>, String> {
        use rusb::UsbContext;
        let devices = self.0.devices().map_err(|e| e.to_string())?;
        // A device whose descriptor cannot be read is not ours to complain about.
        let ours = |device: &Self::Candidate| {
            device
                .device_descriptor()
                .is_ok_and(|d| (d.vendor_id(), d.product_id()) == (usbkey::VENDOR_ID, usbkey::PRODUCT_ID))
        };
        Ok(devices.iter().filter(ours).collect())
    }

    fn describe(&self, device: &Self::Candidate) -> String {
        format!("bus {} address {}", device.bus_number(), device.address())
    }

    fn open(&self, device: &Self::Candidate) -> Result<Box<dyn UsbKeyDevice>, String> {
        let access_hint = |e: rusb::Error| match e {
            rusb::Error::Access => format!(
                "{e}; the server's user needs access to {:04x}:{:04x} (a udev rule)",
                usbkey::VENDOR_ID,
                usbkey::PRODUCT_ID
            ),
            other => other.to_string(),
        };
        let handle = device.open().map_err(access_hint)?;
        // The interface is claimed so that no other process interleaves its requests with ours; the
        // handle releases it when dropped.
        handle.claim_interface(0).map_err(|e| format!("cannot claim its interface: {e}"))?;
        Ok(Box::new(LibusbKey(handle)))
    }
}

/// An opened key on the real bus.
struct LibusbKey(rusb::DeviceHandle<rusb::Context>);

impl UsbKeyDevice for LibusbKey {
    fn control_in(&mut self, request: u8, value: u16, index: u16, buf: &mut [u8]) -> Result<usize, DeviceError> {
        self.0.read_control(usbkey::REQUEST_TYPE_IN, request, value, index, buf, TRANSFER_TIMEOUT).map_err(device_error)
    }

    fn control_out(&mut self, request: u8, value: u16, index: u16, data: &[u8]) -> Result<usize, DeviceError> {
        self.0
            .write_control(usbkey::REQUEST_TYPE_OUT, request, value, index, data, TRANSFER_TIMEOUT)
            .map_err(device_error)
    }
}

fn device_error(e: rusb::Error) -> DeviceError {
    match e {
        rusb::Error::Pipe => DeviceError::Stall,
        rusb::Error::NoDevice => DeviceError::Disconnected,
        rusb::Error::Timeout => DeviceError::Timeout,
        other => DeviceError::Other(other.to_string()),
    }
}

/// The folder of `*.usbkey` files.
struct EmulatorDir(PathBuf);

impl Backend for EmulatorDir {
    fn scan(&self) -> UsbScan {
        let dir = self.0.display();
        // The caller logs problems when they change, so this warning reaches the log once per change.
        let warning = format!(
            "USB: emulated USB keys from {dir} are in use ({TEST_USB_DIR_ENV}); the public test root is trusted, \
             so anyone can make keys this server accepts"
        );
        let mut scan = UsbScan { keys: Vec::new(), problems: vec![warning] };
        let mut paths = match emulated_key_paths(&self.0) {
            Ok(paths) => paths,
            Err(e) => {
                scan.problems.push(format!("USB: cannot list emulated keys in {dir}: {e}"));
                return scan;
            }
        };
        paths.sort();
        let roots = emulator_roots();
        for path in paths {
            match with_emulated_key(&path, |key| usbkey::open(key, &roots)) {
                Ok(key) => scan.keys.push(key),
                // Removed between listing and reading: unplugged, not a problem.
                Err(EmulatedKeyError::Unplugged { .. }) => {}
                Err(e) => scan.problems.push(format!("USB: emulated key {e}")),
            }
        }
        scan
    }
}

fn emulated_key_paths(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == EMULATOR_EXTENSION) && path.is_file() {
            paths.push(path);
        }
    }
    Ok(paths)
}

fn emulator_roots() -> Vec<[u8; 32]> {
    let mut roots = usbkey::PRODUCTION_ROOTS.to_vec();
    roots.push(usbkey::test_root().verifying_key().to_bytes());
    roots
}

/// Plugs the emulated key at `path` in, runs `talk` against it, and saves the device back if its
/// stored state changed (only a committed write changes it).
fn with_emulated_key<T>(
    path: &Path,
    talk: impl FnOnce(&mut SoftwareKey) -> Result<T, UsbKeyError>,
) -> Result<T, EmulatedKeyError> {
    let shown = path.display().to_string();
    let before = match read_limited(path) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Err(EmulatedKeyError::Unplugged { path: shown }),
        Err(reason) => return Err(EmulatedKeyError::Read { path: shown, reason }),
    };
    let mut key =
        SoftwareKey::from_bytes(&before).map_err(|source| EmulatedKeyError::File { path: shown.clone(), source })?;
    let result = talk(&mut key).map_err(|source| EmulatedKeyError::Key { path: shown, source });
    let after = key.to_bytes();
    if after != before {
        keyfile::write_atomically(path, &after)?;
    }
    result
}

/// The file's bytes (`None` when it is gone), refusing one larger than any emulated key before reading
/// it whole.
fn read_limited(path: &Path) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut bytes = Vec::new();
    file.take(MAX_EMULATOR_FILE_LEN as u64 + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() > MAX_EMULATOR_FILE_LEN {
        return Err(format!("larger than {MAX_EMULATOR_FILE_LEN} bytes"));
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Counts how often it is asked to scan; finds nothing.
    struct Counting<'a>(&'a Cell<u32>);

    impl Backend for Counting<'_> {
        fn scan(&self) -> UsbScan {
            self.0.set(self.0.get() + 1);
            UsbScan::default()
        }
    }

    #[test]
    fn a_disabled_scan_builds_no_backend_and_finds_nothing() {
        let (built, scanned) = (Cell::new(0), Cell::new(0));
        let found = scan_with(false, || {
            built.set(built.get() + 1);
            Box::new(Counting(&scanned))
        });
        assert_eq!((built.get(), scanned.get()), (0, 0));
        assert!(found.keys.is_empty() && found.problems.is_empty());
        scan_with(true, || {
            built.set(built.get() + 1);
            Box::new(Counting(&scanned))
        });
        assert_eq!((built.get(), scanned.get()), (1, 1));
        let public = scan(false);
        assert!(public.keys.is_empty() && public.problems.is_empty());
    }

    /// A bus whose listing and devices are whatever the test says.
    struct FakeBus {
        listing: Result<Vec<&'static str>, String>,
    }

    impl Bus for FakeBus {
        type Candidate = &'static str;

        fn candidates(&self) -> Result<Vec<Self::Candidate>, String> {
            self.listing.clone()
        }

        fn describe(&self, candidate: &Self::Candidate) -> String {
            format!("fake {candidate}")
        }

        fn open(&self, candidate: &Self::Candidate) -> Result<Box<dyn UsbKeyDevice>, String> {
            match *candidate {
                "genuine" => Ok(Box::new(SoftwareKey::manufacture(0xABC, &usbkey::test_root()))),
                "foreign" => Ok(Box::new(SoftwareKey::manufacture(0xDEF, &usbkey::SigningKey::from_bytes(&[1; 32])))),
                "garbage" => Ok(Box::new(Garbage)),
                _ => Err("Access denied (insufficient permissions)".into()),
            }
        }
    }

    /// Answers every request with a full buffer of 0xFF.
    struct Garbage;

    impl UsbKeyDevice for Garbage {
        fn control_in(&mut self, _: u8, _: u16, _: u16, buf: &mut [u8]) -> Result<usize, DeviceError> {
            buf.fill(0xFF);
            Ok(buf.len())
        }

        fn control_out(&mut self, _: u8, _: u16, _: u16, data: &[u8]) -> Result<usize, DeviceError> {
            Ok(data.len())
        }
    }

    fn test_roots() -> [[u8; 32]; 1] {
        [usbkey::test_root().verifying_key().to_bytes()]
    }

    #[test]
    fn a_listing_error_is_one_clear_problem() {
        let scan = scan_bus(&FakeBus { listing: Err("Other error".into()) }, &test_roots());
        assert!(scan.keys.is_empty());
        assert_eq!(scan.problems, ["USB: cannot list devices: Other error; USB keys are not available"]);
    }

    #[test]
    fn an_empty_bus_is_no_keys_and_no_problem() {
        let scan = scan_bus(&FakeBus { listing: Ok(vec![]) }, &test_roots());
        assert!(scan.keys.is_empty() && scan.problems.is_empty());
    }

    #[test]
    fn each_unusable_device_is_one_problem_and_the_genuine_one_is_found() {
        let listing = Ok(vec!["denied", "genuine", "garbage", "foreign"]);
        let scan = scan_bus(&FakeBus { listing }, &test_roots());
        assert_eq!(scan.keys.iter().map(|k| (k.serial, k.blank)).collect::<Vec<_>>(), [(0xABC, true)]);
        assert_eq!(
            scan.problems,
            [
                "USB: the licence key at fake denied is not used: cannot open it: Access denied (insufficient permissions)",
                "USB: the licence key at fake garbage is not used: USB key broke the protocol: GET_INFO: wrong magic",
                "USB: the licence key at fake foreign is not used: USB key 0000000000000DEF is not genuine: its \
                 certificate is not signed by a trusted manufacturer root",
            ]
        );
    }

    #[test]
    fn the_real_bus_on_this_machine_is_no_keys_and_at_most_one_clear_problem() {
        for _ in 0..2 {
            let scan = scan_real_bus();
            assert!(scan.keys.is_empty(), "{:?}", scan.keys);
            assert!(scan.problems.len() <= 1, "{:?}", scan.problems);
            for problem in &scan.problems {
                assert!(problem.starts_with("USB: "), "{problem}");
            }
        }
    }

    #[test]
    fn libusb_errors_map_to_device_errors() {
        assert_eq!(device_error(rusb::Error::Pipe), DeviceError::Stall);
        assert_eq!(device_error(rusb::Error::NoDevice), DeviceError::Disconnected);
        assert_eq!(device_error(rusb::Error::Timeout), DeviceError::Timeout);
        assert!(matches!(device_error(rusb::Error::Io), DeviceError::Other(_)));
    }
}
