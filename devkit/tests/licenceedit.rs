//! Drives the real `licenceedit` binary in a temporary directory: creating a series, issuing keys for
//! a computer given either way, showing them, and the failures a vendor would meet.

use licence_protocol::identity::{HostSecret, MachineIdentity};
use licence_protocol::keyfile;
use licence_protocol::series::SeriesKeys;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_with_stdin(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_licenceedit"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let Output { status, stdout, stderr } = child.wait_with_output().unwrap();
    Run { code: status.code(), stdout: String::from_utf8(stdout).unwrap(), stderr: String::from_utf8(stderr).unwrap() }
}

fn run(dir: &Path, args: &[&str]) -> Run {
    run_with_stdin(dir, args, b"")
}

/// A temporary directory holding a fresh series 672B.
fn with_series() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["series", "create", "672b", "--out", "."]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let cryptkey = dir.path().join("672B.cryptkey");
    (dir, cryptkey)
}

fn computer() -> MachineIdentity {
    MachineIdentity::from_material(b"test computer").with_host_secret(HostSecret::from_bytes([7; 32]))
}

#[test]
fn series_create_writes_a_private_cryptkey_and_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    let out = run(dir.path(), &["series", "create", "672b", "--out", "keys"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "keys/672B.cryptkey\nkeys/672B.pub\n");

    let text = std::fs::read_to_string(dir.path().join("keys/672B.cryptkey")).unwrap();
    let keys = SeriesKeys::from_cryptkey(&text).unwrap();
    assert_eq!(keys.series.as_str(), "672B");
    let public = std::fs::read_to_string(dir.path().join("keys/672B.pub")).unwrap();
    assert_eq!(public, format!("{}\n", hex::encode(keys.public_key())));
    assert!(!out.stdout.contains(&hex::encode(keys.secret.as_bytes())));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("keys/672B.cryptkey")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn series_create_refuses_to_overwrite() {
    let (dir, cryptkey) = with_series();
    let before = std::fs::read(&cryptkey).unwrap();
    let out = run(dir.path(), &["series", "create", "672B"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stderr, "licenceedit: ./672B.cryptkey already exists; refusing to overwrite it\n");
    assert_eq!(std::fs::read(&cryptkey).unwrap(), before);
}

#[test]
fn key_issue_with_an_identity_file_unwraps_on_that_computer() {
    let (dir, cryptkey) = with_series();
    let request = serde_json::to_string(&computer().public_target()).unwrap();
    std::fs::write(dir.path().join("identity.json"), &request).unwrap();
    let out = run(
        dir.path(),
        &[
            "key",
            "issue",
            "--cryptkey",
            "672B.cryptkey",
            "--identity",
            "identity.json",
            "--key-no",
            "7121172",
            "--count",
            "10",
            "--start",
            "2026-01-01",
            "--period",
            "30",
            "--product",
            "Демо",
            "--itn",
            "1234567890",
            "--flags",
            "0b101",
            "--out",
            ".",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "./672B.7121172.licence\n");

    let verified = keyfile::verify(&std::fs::read(dir.path().join("672B.7121172.licence")).unwrap()).unwrap();
    let f = &verified.fields;
    assert_eq!((f.key_no, f.licence_count, f.period, f.flags), (7121172, 10, 30, 5));
    assert_eq!(f.start_date.to_string(), "2026-01-01T00:00:00.000Z");
    assert_eq!(f.product_name, "Демо");
    assert_eq!(f.itn.as_deref(), Some("1234567890"));
    assert_eq!(f.iec, None);
    assert_eq!(f.computer_id, computer().computer_id());
    let keys = SeriesKeys::from_cryptkey(&std::fs::read_to_string(cryptkey).unwrap()).unwrap();
    assert_eq!(verified.series_public_key, keys.public_key());
    let secret = verified.unwrap_secret(&computer().binding()).unwrap();
    assert_eq!(secret.as_bytes(), keys.secret.as_bytes());
    let other = MachineIdentity::from_material(b"another computer").binding();
    assert!(verified.unwrap_secret(&other).is_err());
}

#[test]
fn key_issue_reads_the_identity_from_stdin() {
    let (dir, _) = with_series();
    let request = serde_json::to_vec(&computer().public_target()).unwrap();
    let args = [
        "key",
        "issue",
        "--cryptkey",
        "672B.cryptkey",
        "--identity",
        "-",
        "--key-no",
        "2",
        "--type",
        "demo",
        "--out",
        ".",
    ];
    let out = run_with_stdin(dir.path(), &args, &request);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let verified = keyfile::verify(&std::fs::read(dir.path().join("672B.2.licence")).unwrap()).unwrap();
    assert_eq!(verified.fields.key_type.code(), 5);
}

#[test]
fn key_issue_with_computer_id_and_target_key_then_show() {
    let (dir, _) = with_series();
    let identity = computer();
    let computer_id = identity.computer_id().to_ascii_lowercase();
    let binding = identity.binding().to_hex();
    let target_key = identity.binding().target_key().to_hex().to_ascii_uppercase();
    let out = run(
        dir.path(),
        &[
            "key",
            "issue",
            "--cryptkey",
            "672B.cryptkey",
            "--computer-id",
            &computer_id,
            "--target-key",
            &target_key,
            "--key-no",
            "3",
            "--type",
            "additional",
            "--expire",
            "2027-06-30T12:00:00Z",
            "--out",
            ".",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stdout.contains(&binding) && !out.stderr.contains(&binding));

    let shown = run(dir.path(), &["key", "show", "672B.3.licence"]);
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    assert_eq!(shown.stderr, "");
    let json: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(json["KeyNo"], 3);
    assert_eq!(json["KeyID"], "672B");
    assert_eq!(json["KeyType"], 4);
    assert_eq!(json["LicenceCount"], 1);
    assert_eq!(json["ExpireDate"], "2027-06-30T12:00:00.000Z");
    assert_eq!(json["ComputerID"], identity.computer_id());
    let public = std::fs::read_to_string(dir.path().join("672B.pub")).unwrap();
    assert_eq!(json["SeriesPublicKey"], public.trim());
    assert_eq!(json["TargetKey"], target_key.to_ascii_lowercase());
    assert!(!shown.stdout.contains(&binding));
    let verified = keyfile::verify(&std::fs::read(dir.path().join("672B.3.licence")).unwrap()).unwrap();
    assert!(verified.unwrap_secrets(&identity.binding()).is_ok(), "the key opens on the computer of its target key");
}

#[test]
fn show_of_a_tampered_file_fails() {
    let (dir, _) = with_series();
    let request = serde_json::to_string(&computer().public_target()).unwrap();
    std::fs::write(dir.path().join("identity.json"), request).unwrap();
    let issue = [
        "key",
        "issue",
        "--cryptkey",
        "672B.cryptkey",
        "--identity",
        "identity.json",
        "--key-no",
        "5",
        "--count",
        "3",
        "--out",
        ".",
    ];
    assert_eq!(run(dir.path(), &issue).code, Some(0));
    let path = dir.path().join("672B.5.licence");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"LicenceCount\":3", "\"LicenceCount\":300", 1)).unwrap();
    let out = run(dir.path(), &["key", "show", "672B.5.licence"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "licenceedit: 672B.5.licence: signature does not match: the key file was altered\n");
}

#[test]
fn bad_arguments_fail_with_a_clear_message() {
    let (dir, _) = with_series();
    let binding = computer().binding().to_hex();
    let target_key = computer().binding().target_key().to_hex();
    let issue = |extra: &[&str]| {
        let mut args = vec!["key", "issue", "--cryptkey", "672B.cryptkey", "--out", "."];
        args.extend_from_slice(extra);
        run(dir.path(), &args)
    };
    let id = computer().computer_id();

    let out = run(dir.path(), &["series", "create", "67ZB"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("series `67ZB` is not 4 hex digits"), "{}", out.stderr);

    let out = issue(&["--computer-id", "D365", "--target-key", &target_key, "--key-no", "1"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("computer id `D365` is not 40 hex digits"), "{}", out.stderr);

    let out = issue(&["--computer-id", &id, "--target-key", &target_key, "--key-no", "0"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--key-no"), "{}", out.stderr);

    let out = issue(&["--computer-id", &id, "--target-key", &target_key, "--key-no", "1", "--count", "0"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--count"), "{}", out.stderr);

    let out = issue(&["--computer-id", &id, "--key-no", "1"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--target-key"), "{}", out.stderr);

    // The binding is a secret and never goes on a command line: the option is gone.
    let out = issue(&["--computer-id", &id, "--binding", &binding, "--key-no", "1"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--binding"), "{}", out.stderr);
    assert!(!out.stderr.contains(&binding), "the binding is echoed: {}", out.stderr);

    let out = issue(&["--key-no", "1"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--identity"), "{}", out.stderr);

    let out = issue(&["--computer-id", &id, "--target-key", &target_key, "--key-no", "1", "--expire", "31.12.2026"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("`31.12.2026` is not a date"), "{}", out.stderr);

    let almost = &target_key[..63];
    let out = issue(&["--computer-id", &id, "--target-key", almost, "--key-no", "1"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("target key `"), "{}", out.stderr);

    let old = serde_json::json!({ "ComputerID": id, "Binding": binding });
    std::fs::write(dir.path().join("old-identity.json"), old.to_string()).unwrap();
    let out = issue(&["--identity", "old-identity.json", "--key-no", "1"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("run `licenceserver identity` again"), "{}", out.stderr);
    assert!(!out.stderr.contains(&binding), "the binding leaked: {}", out.stderr);

    let out = issue(&["--identity", "missing.json", "--key-no", "1"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("licenceedit: cannot read missing.json: "), "{}", out.stderr);

    std::fs::write(dir.path().join("broken.cryptkey"), "{}").unwrap();
    let out = run(
        dir.path(),
        &[
            "key",
            "issue",
            "--cryptkey",
            "broken.cryptkey",
            "--computer-id",
            &id,
            "--target-key",
            &target_key,
            "--key-no",
            "1",
            "--out",
            ".",
        ],
    );
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("licenceedit: broken.cryptkey: cryptkey file is malformed: "), "{}", out.stderr);

    let out = run(dir.path(), &["key", "show", "672B.cryptkey"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("licenceedit: 672B.cryptkey: not a licence key file: "), "{}", out.stderr);
}
