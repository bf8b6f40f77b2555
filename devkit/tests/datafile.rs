//! Drives the real `licenceedit` binary through `c` (create a datafile) and `l` (list one): Cyrillic
//! and Latin file names, the overwrite rule, finding the cryptkey in the vendor store, and the
//! failures a vendor would meet, each a clear message with exit code 1 and nothing written.

use licence_protocol::datafile::{self, derive_object_key, ObjectKind};
use licence_protocol::series::SeriesKeys;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs licenceedit in `dir` with stdin closed, as a build script would.
fn run(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_licenceedit"))
        .args(args)
        .current_dir(dir)
        .env_remove("LICENCEEDIT_VENDOR_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A scratch folder with series 672B, a binary `Отчёт.epf` and a text `Module.bsl`.
fn workspace() -> (PathBuf, SeriesKeys) {
    let dir = licence_testkit::scratch("datafile");
    let created = run(&dir, &["series", "create", "672B", "--out", "."]);
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    std::fs::write(dir.join("Отчёт.epf"), b"\x00\x01\x02 epf body \xff").unwrap();
    std::fs::write(dir.join("Module.bsl"), "Процедура Тест() Экспорт\nКонецПроцедуры\n").unwrap();
    let keys = SeriesKeys::from_cryptkey(&std::fs::read_to_string(dir.join("672B.cryptkey")).unwrap()).unwrap();
    (dir, keys)
}

const CREATE: [&str; 6] = ["c", "out.datafile", "Отчёт.epf", "Module.bsl", "--serie=672B", "--cryptkey=672B.cryptkey"];

fn decrypt(path: &Path, name: &str, keys: &SeriesKeys) -> Vec<u8> {
    let file = datafile::parse(&std::fs::read(path).unwrap()).unwrap();
    let entry = file.object(name).unwrap();
    entry.decrypt(&file, &derive_object_key(&keys.secret, &entry.key_request(&file))).unwrap().to_vec()
}

fn failed(run: &Run) -> &str {
    assert_eq!(run.code, Some(1), "stdout {} stderr {}", run.stdout, run.stderr);
    assert!(run.stderr.starts_with("licenceedit: "), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    &run.stderr
}

#[test]
fn create_packs_cyrillic_and_latin_files_and_list_shows_them() {
    let (dir, keys) = workspace();
    let mut args = CREATE.to_vec();
    args.push("-y");
    let created = run(&dir, &args);
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    let file = datafile::parse(&std::fs::read(dir.join("out.datafile")).unwrap()).unwrap();
    let file_id = hex::encode(file.file_id);
    assert_eq!(
        created.stdout,
        format!("Отчёт\tbinary\t14\nModule\ttext\t74\nout.datafile: series 672B, file id {file_id}, 2 object(s)\n")
    );
    assert!(!created.stdout.contains(&hex::encode(keys.secret.as_bytes())));
    assert_eq!(file.object("Отчёт").unwrap().kind, ObjectKind::Binary);
    assert_eq!(file.object("Module").unwrap().kind, ObjectKind::Text);
    assert_eq!(decrypt(&dir.join("out.datafile"), "Отчёт", &keys), b"\x00\x01\x02 epf body \xff");
    assert_eq!(decrypt(&dir.join("out.datafile"), "Module", &keys), std::fs::read(dir.join("Module.bsl")).unwrap());

    let listed = run(&dir, &["l", "out.datafile"]);
    assert_eq!(listed.code, Some(0), "{}", listed.stderr);
    let public = hex::encode(keys.public_key());
    assert_eq!(
        listed.stdout,
        format!(
            "series 672B\npublic key {public}\nfile id {file_id}\nsignature valid\nobjects 2\n\
             Отчёт\tbinary\t14\nModule\ttext\t74\n"
        )
    );
    let json = run(&dir, &["--vendor-dir", ".", "l", "out.datafile", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["KeyID"], "672B");
    assert_eq!(json["FileID"], file_id.as_str());
    assert_eq!(json["VendorKeyMatches"], true);
    assert_eq!(json["Objects"][0], serde_json::json!({"Name": "Отчёт", "Kind": "binary", "Size": 14}));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_existing_out_is_replaced_only_with_y() {
    let (dir, _) = workspace();
    std::fs::write(dir.join("out.datafile"), b"old").unwrap();
    let refused = run(&dir, &CREATE);
    assert_eq!(failed(&refused), "licenceedit: out.datafile already exists; give -y to replace it\n");
    assert_eq!(std::fs::read(dir.join("out.datafile")).unwrap(), b"old");

    let mut args = CREATE.to_vec();
    args.insert(1, "-y");
    assert_eq!(run(&dir, &args).code, Some(0));
    let first = datafile::parse(&std::fs::read(dir.join("out.datafile")).unwrap()).unwrap();
    assert_eq!(run(&dir, &args).code, Some(0));
    let second = datafile::parse(&std::fs::read(dir.join("out.datafile")).unwrap()).unwrap();
    assert_ne!(first.file_id, second.file_id);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_vendor_store_supplies_the_cryptkey_and_names_can_be_given() {
    let (dir, keys) = workspace();
    std::fs::write(dir.join("a.bin"), b"abc").unwrap();
    let created = run(
        &dir,
        &["--vendor-dir", ".", "c", "out.datafile", "Module.bsl", "--series", "672b", "--name", "Обработка=a.bin"],
    );
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    assert!(created.stdout.starts_with("Module\ttext\t74\nОбработка\tbinary\t3\n"), "{}", created.stdout);
    assert_eq!(decrypt(&dir.join("out.datafile"), "Обработка", &keys), b"abc");

    let no_store = run(&dir, &["c", "other.datafile", "Module.bsl", "--serie=672B"]);
    assert_eq!(failed(&no_store), "licenceedit: give --cryptkey FILE, or --vendor-dir DIR holding 672B.cryptkey\n");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_or_foreign_cryptkey_is_a_clear_error() {
    let (dir, _) = workspace();
    let missing = run(&dir, &["c", "out.datafile", "Module.bsl", "--serie=672B", "--cryptkey=none.cryptkey"]);
    assert!(failed(&missing).starts_with("licenceedit: cannot read none.cryptkey: "), "{}", missing.stderr);
    let foreign = run(&dir, &["c", "out.datafile", "Module.bsl", "--serie=672C", "--cryptkey=672B.cryptkey"]);
    assert_eq!(failed(&foreign), "licenceedit: 672B.cryptkey holds series 672B, not 672C\n");
    assert!(!dir.join("out.datafile").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_inputs_are_named_and_nothing_is_written() {
    let (dir, _) = workspace();
    std::fs::write(dir.join("Латиница.bsl"), b"\xcf\xf0\xee\xf6\xe5\xe4\xf3\xf0\xe0").unwrap();
    std::fs::create_dir(dir.join("folder.epf")).unwrap();
    let create = |file: &str| run(&dir, &["c", "out.datafile", file, "--serie=672B", "--cryptkey=672B.cryptkey"]);

    let cp1251 = create("Латиница.bsl");
    assert_eq!(failed(&cp1251), "licenceedit: out.datafile: object \"Латиница\" is BSL text but not valid UTF-8\n");
    let missing = create("Нет.epf");
    assert!(failed(&missing).starts_with("licenceedit: cannot read Нет.epf: "), "{}", missing.stderr);
    let folder = create("folder.epf");
    assert!(failed(&folder).starts_with("licenceedit: cannot read folder.epf: "), "{}", folder.stderr);
    let twice = run(&dir, &["c", "out.datafile", "Module.bsl", "sub/module.bsl", "--cryptkey=672B.cryptkey"]);
    assert!(failed(&twice).contains("cannot read sub/module.bsl"), "{}", twice.stderr);
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/module.bsl"), b"").unwrap();
    let clash = run(&dir, &["c", "out.datafile", "Module.bsl", "sub/module.bsl", "--cryptkey=672B.cryptkey"]);
    assert!(failed(&clash).contains("bad object name \"module\": another object has this name"), "{}", clash.stderr);
    assert!(!dir.join("out.datafile").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn list_refuses_an_altered_file_or_something_else() {
    let (dir, _) = workspace();
    assert_eq!(run(&dir, &CREATE).code, Some(0));
    let mut bytes = std::fs::read(dir.join("out.datafile")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(dir.join("altered.datafile"), &bytes).unwrap();
    let altered = run(&dir, &["l", "altered.datafile"]);
    assert!(failed(&altered).contains("altered.datafile: datafile signature does not match"), "{}", altered.stderr);
    let other = run(&dir, &["l", "672B.pub"]);
    assert!(failed(&other).contains("672B.pub: not a datafile"), "{}", other.stderr);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn usage_errors_exit_2() {
    let dir = licence_testkit::scratch("datafile-usage");
    assert_eq!(run(&dir, &["c"]).code, Some(2));
    assert_eq!(run(&dir, &["c", "out.datafile", "a.epf"]).code, Some(2), "neither --serie nor --cryptkey");
    assert_eq!(run(&dir, &["c", "out.datafile", "a.epf", "--serie=67ZB", "--cryptkey=x"]).code, Some(2));
    assert_eq!(run(&dir, &["l"]).code, Some(2));
    let help = run(&dir, &["c", "--help"]);
    assert_eq!(help.code, Some(0));
    assert!(help.stdout.contains("--serie") && help.stdout.contains("-y, --yes"), "{}", help.stdout);
    std::fs::remove_dir_all(dir).unwrap();
}
