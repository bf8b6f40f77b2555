//! The emulated USB bus (`LICENCESERVER_TEST_USB_DIR`): a folder of `*.usbkey` files that the server's
//! USB scan sees as plugged keys, found, programmed, unplugged and reported when damaged.

use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;
use licence_protocol::usbkey::{self, SoftwareKey};
use licence_testkit::{main_key, scratch};
use licenceserver::usb::{self, UsbScan};
use std::path::{Path, PathBuf};

fn plug_blank(dir: &Path, name: &str, serial: u64) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, SoftwareKey::manufacture(serial, &usbkey::test_root()).to_bytes()).unwrap();
    path
}

/// Programs the emulated key at `path` with a main key issued for it, as the vendor would; returns the
/// key file.
fn activate(dir: &Path, path: &Path, series: &SeriesKeys) -> Vec<u8> {
    let serial = SoftwareKey::from_bytes(&std::fs::read(path).unwrap()).unwrap().serial();
    let blank = usb::scan_emulator_dir(dir).keys.into_iter().find(|k| k.serial == serial).unwrap();
    let fields =
        licence_protocol::key::KeyFields { computer_id: blank.computer_id.clone(), ..main_key(series, "-", 9, 5) };
    let file = keyfile::issue(&fields, series, blank.binding());
    usb::program_emulated_key(path, &file).unwrap();
    file
}

fn warning_only(scan: &UsbScan, dir: &Path) {
    assert_eq!(scan.problems.len(), 1, "{:?}", scan.problems);
    let expected = format!("USB: emulated USB keys from {} are in use (LICENCESERVER_TEST_USB_DIR)", dir.display());
    assert!(scan.problems[0].starts_with(&expected), "{}", scan.problems[0]);
}

#[test]
fn a_blank_and_a_hardware_key_are_found_with_their_serials_and_computer_ids() {
    let dir = scratch("usb-found");
    let series = SeriesKeys::generate("672B".parse().unwrap());
    plug_blank(&dir, "10.usbkey", 0x10);
    let hardware = plug_blank(&dir, "20.usbkey", 0x20);
    std::fs::write(dir.join("notes.txt"), b"not a key").unwrap();
    let before = usb::scan_emulator_dir(&dir);
    let key_file = activate(&dir, &hardware, &series);

    let scan = usb::scan_emulator_dir(&dir);
    warning_only(&scan, &dir);
    let summary: Vec<_> = scan.keys.iter().map(|k| (k.serial, k.blank, k.firmware.as_str())).collect();
    assert_eq!(summary, [(0x10, true, "soft-1.0"), (0x20, false, "soft-1.0")]);
    for (key, earlier) in scan.keys.iter().zip(&before.keys) {
        assert_eq!(key.computer_id, earlier.computer_id, "the ComputerID is the device's, stable across scans");
        assert_eq!(key.computer_id.len(), 40);
        assert!(key.computer_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()));
    }
    assert_ne!(scan.keys[0].computer_id, scan.keys[1].computer_id);

    let hardware_key = &scan.keys[1];
    assert_eq!(hardware_key.key_file.as_deref(), Some(&key_file[..]));
    let verified = keyfile::verify(&key_file).unwrap();
    verified.ensure_issued_for(&hardware_key.computer_id).unwrap();
    verified.unwrap_secret(hardware_key.binding()).unwrap();
    assert!(verified.unwrap_secret(scan.keys[0].binding()).is_err(), "the blank's binding is another one");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn programming_saves_the_device_atomically() {
    let dir = scratch("usb-program");
    let path = plug_blank(&dir, "30.usbkey", 0x30);
    let before = std::fs::read(&path).unwrap();
    let file = activate(&dir, &path, &SeriesKeys::generate("672B".parse().unwrap()));
    let saved = SoftwareKey::from_bytes(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(saved.key_file(), Some(&file[..]));
    assert_ne!(std::fs::read(&path).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["30.usbkey"], "no temporary file is left behind");

    let err = usb::program_emulated_key(&path, &vec![b'x'; usbkey::MAX_KEY_FILE_LEN + 1]).unwrap_err();
    assert!(err.to_string().ends_with("does not fit a USB key (1 to 16384 bytes)"), "{err}");
    assert_eq!(SoftwareKey::from_bytes(&std::fs::read(&path).unwrap()).unwrap().key_file(), Some(&file[..]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn removing_the_file_unplugs_the_key() {
    let dir = scratch("usb-unplug");
    plug_blank(&dir, "40.usbkey", 0x40);
    let second = plug_blank(&dir, "41.usbkey", 0x41);
    assert_eq!(usb::scan_emulator_dir(&dir).keys.len(), 2);
    std::fs::remove_file(&second).unwrap();
    let scan = usb::scan_emulator_dir(&dir);
    assert_eq!(scan.keys.iter().map(|k| k.serial).collect::<Vec<_>>(), [0x40]);
    warning_only(&scan, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_or_untrusted_emulator_file_is_reported_by_name() {
    let dir = scratch("usb-corrupt");
    plug_blank(&dir, "50.usbkey", 0x50);
    let corrupt = dir.join("broken.usbkey");
    std::fs::write(&corrupt, b"LKEYEMU\0garbage").unwrap();
    let foreign = dir.join("foreign.usbkey");
    let other_root = usbkey::SigningKey::from_bytes(&[3; 32]);
    std::fs::write(&foreign, SoftwareKey::manufacture(0x51, &other_root).to_bytes()).unwrap();

    let scan = usb::scan_emulator_dir(&dir);
    assert_eq!(scan.keys.iter().map(|k| k.serial).collect::<Vec<_>>(), [0x50]);
    assert_eq!(scan.problems.len(), 3, "{:?}", scan.problems);
    assert_eq!(
        scan.problems[1],
        format!("USB: emulated key {}: USB key emulator file format 24935 is not supported", corrupt.display())
    );
    assert_eq!(
        scan.problems[2],
        format!(
            "USB: emulated key {}: USB key 0000000000000051 is not genuine: its certificate is not signed by a \
             trusted manufacturer root",
            foreign.display()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_emulator_folder_is_a_problem_not_a_panic() {
    let dir = scratch("usb-missing").join("nowhere");
    let scan = usb::scan_emulator_dir(&dir);
    assert!(scan.keys.is_empty());
    assert!(scan.problems[1].starts_with("USB: cannot list emulated keys in "), "{:?}", scan.problems);
}

/// The only test here that touches the environment variable; the others name the folder directly.
#[test]
fn the_environment_switch_replaces_the_bus_and_disabled_ignores_it() {
    let dir = scratch("usb-env");
    plug_blank(&dir, "60.usbkey", 0x60);
    std::env::set_var(usb::TEST_USB_DIR_ENV, &dir);
    let enabled = usb::scan(true);
    let disabled = usb::scan(false);
    std::env::remove_var(usb::TEST_USB_DIR_ENV);
    assert_eq!(enabled.keys.iter().map(|k| k.serial).collect::<Vec<_>>(), [0x60]);
    warning_only(&enabled, &dir);
    assert!(disabled.keys.is_empty() && disabled.problems.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
