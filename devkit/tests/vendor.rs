//! The vendor's side without the network: `licenceedit` product, code, key and offline `request
//! answer` commands on a real vendor store, and the redemption rule run from several threads at once.

mod common;

use common::*;
use licence_devkit::redeem::{redeem, How, RedeemError};
use licence_devkit::VendorStore;
use licence_protocol::activation::ActivationCode;
use licence_protocol::centre::{ActivationResponse, Refusal};
use licence_protocol::keyfile;
use licence_protocol::time::UtcTime;
use std::path::Path;

fn ok(run: &Run) -> &str {
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    &run.stdout
}

/// A vendor folder with series 672B made by `licenceedit series create`.
fn cli_store(tag: &str) -> std::path::PathBuf {
    let dir = scratch(tag);
    let vendor = dir.join("vendor");
    let out = licenceedit(&dir, None, &[], &["series", "create", "672B", "--vendor-dir", "vendor"]);
    assert_eq!(ok(&out), "vendor/672B.cryptkey\nvendor/672B.pub\n");
    vendor
}

#[test]
fn products_are_added_listed_and_shown() {
    let vendor = cli_store("products");
    let dir = vendor.parent().unwrap();
    let add = [
        "product",
        "add",
        "--series",
        "672b",
        "--article",
        "A-1",
        "--name",
        "Склад",
        "--article-name",
        "Main delivery",
        "--kind",
        "main",
        "--count",
        "10",
        "--flags",
        "0,2,5",
        "--product-version",
        "1.0",
        "--support-months",
        "12",
        "--requires-itn",
    ];
    let out = licenceedit(dir, Some(&vendor), &[], &add);
    assert_eq!(ok(&out), "A-1\t672B\tmain\t10\t-\t12mo\trequired\tСклад\n");

    let again = licenceedit(dir, Some(&vendor), &[], &add);
    assert_eq!(again.code, Some(1));
    assert_eq!(again.stderr, "licenceedit: a product with article `A-1` already exists; articles are unique\n");

    let demo =
        ["product", "add", "--series", "672B", "--article", "D-1", "--name", "x", "--kind", "demo", "--count", "1"];
    let out = licenceedit(dir, Some(&vendor), &[], &demo);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("a demo product needs --period DAYS or --expire DATE"), "{}", out.stderr);
    let mut with_period = demo.to_vec();
    with_period.extend(["--period", "30"]);
    ok(&licenceedit(dir, Some(&vendor), &[], &with_period));

    let list = licenceedit(dir, Some(&vendor), &[], &["product", "list"]);
    assert_eq!(ok(&list).lines().count(), 3, "{}", list.stdout);
    let show = licenceedit(dir, Some(&vendor), &[], &["product", "show", "A-1"]);
    let json: serde_json::Value = serde_json::from_str(ok(&show)).unwrap();
    assert_eq!(json["Flags"], 0b100101);
    assert_eq!(json["KeyType"], 3);
    assert_eq!(json["RequiresITN"], true);
    assert_eq!(json["SupportMonths"], 12);

    let missing = licenceedit(dir, Some(&vendor), &[], &["product", "show", "Z-9"]);
    assert_eq!(missing.stderr, "licenceedit: no product with article `Z-9`; `licenceedit product list` shows them\n");
    // `product add` of a one-licence main product "x" with article C of `series`, and `extra` flags.
    let add = |series: &str, extra: &[&str]| {
        let mut args = vec![
            "product",
            "add",
            "--series",
            series,
            "--article",
            "C",
            "--name",
            "x",
            "--kind",
            "main",
            "--count",
            "1",
        ];
        args.extend_from_slice(extra);
        licenceedit(dir, Some(&vendor), &[], &args)
    };
    let other_series = add("0001", &[]);
    assert_eq!(other_series.code, Some(1));
    assert!(other_series.stderr.contains("licenceedit series create 0001"), "{}", other_series.stderr);
    let both = add("672B", &["--support-months", "1", "--support-until", "2027-01-01"]);
    assert_eq!(both.code, Some(2), "{}", both.stderr);
    let bad_flags = add("672B", &["--flags", "64"]);
    assert_eq!(bad_flags.code, Some(2));
    assert!(bad_flags.stderr.contains("0–63"), "{}", bad_flags.stderr);
}

#[test]
fn commands_on_the_store_need_it() {
    let dir = scratch("no-store");
    let out = licenceedit(&dir, None, &[], &["product", "list"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stderr, "licenceedit: give --vendor-dir DIR or set LICENCEEDIT_VENDOR_DIR\n");
    let out = licenceedit(&dir, Some(&dir.join("nope")), &[], &["code", "list"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("does not exist; create it"), "{}", out.stderr);
}

#[test]
fn codes_are_issued_listed_and_revoked() {
    let vendor = cli_store("codes");
    let dir = vendor.parent().unwrap();
    ok(&licenceedit(
        dir,
        Some(&vendor),
        &[],
        &["product", "add", "--series", "672B", "--article", "A-1", "--name", "x", "--kind", "main", "--count", "5"],
    ));
    let out = licenceedit(
        dir,
        Some(&vendor),
        &[],
        &["code", "issue", "--article", "A-1", "--count", "3", "--itn", "7701234567"],
    );
    let codes: Vec<ActivationCode> = ok(&out).lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(codes.len(), 3);

    let revoke = licenceedit(dir, Some(&vendor), &[], &["code", "revoke", &codes[0].to_string()]);
    assert_eq!(ok(&revoke), format!("revoked {}; it was never redeemed and will now be refused\n", codes[0]));
    let again = licenceedit(dir, Some(&vendor), &[], &["code", "revoke", &codes[0].to_string()]);
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains("already revoked"), "{}", again.stderr);

    let list = licenceedit(dir, Some(&vendor), &[], &["code", "list", "--state", "issued", "--json"]);
    let json: serde_json::Value = serde_json::from_str(ok(&list)).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(json[0]["Code"], codes[1].to_string());
    assert_eq!(json[0]["ITN"], "7701234567");
    let table = licenceedit(dir, Some(&vendor), &[], &["code", "list", "--article", "A-1"]);
    assert!(ok(&table).contains(&format!("{}\tA-1\trevoked\t-", codes[0])), "{}", table.stdout);

    let unknown = licenceedit(dir, Some(&vendor), &[], &["code", "issue", "--article", "nope"]);
    assert_eq!(unknown.code, Some(1));
    let mistyped = licenceedit(dir, Some(&vendor), &[], &["code", "revoke", "1234-5678"]);
    assert_eq!(mistyped.code, Some(2));
    let never = licenceedit(dir, Some(&vendor), &[], &["code", "revoke", &ActivationCode::generate().to_string()]);
    assert_eq!(never.code, Some(1));
    assert!(never.stderr.contains("is not in this vendor store"), "{}", never.stderr);
}

fn write_request(dir: &Path, name: &str, request: &licence_protocol::centre::ActivationRequest) -> String {
    std::fs::write(dir.join(name), serde_json::to_vec(request).unwrap()).unwrap();
    name.to_owned()
}

#[test]
fn offline_answer_is_a_response_the_server_accepts_and_support_can_look_the_key_up() {
    let (vendor, mut store) = vendor_store("offline");
    let code = one_code(&mut store, "A-1");
    drop(store);
    let dir = scratch("offline-work");
    let request = request(code, "offline computer", None);
    let file = write_request(&dir, "request.json", &request);
    let out = licenceedit(&dir, Some(&vendor), &[], &["request", "answer", &file, "--out", "response.json"]);
    assert!(ok(&out).starts_with("response.json: key 7100000 (activation) for ComputerID "), "{}", out.stdout);

    let bytes = std::fs::read(dir.join("response.json")).unwrap();
    let (response, key) = ActivationResponse::verify(&bytes, Some(&request.request_id)).unwrap();
    assert_eq!(key.fields.key_no, 7_100_000);
    assert_eq!(key.fields.activation_code.as_deref(), Some(code.to_string().as_str()));
    assert_eq!(key.fields.reg_no, "R-7100000");
    assert_eq!((key.fields.licence_count, key.fields.flags), (10, 0b101));
    assert!(key.unwrap_secret(&machine("offline computer").binding()).is_ok());

    let backup_code = backup_of(&response, "offline computer");
    let backup = licenceedit(&dir, Some(&vendor), &[], &["key", "backup-code", "--key-no", "7100000"]);
    assert_eq!(ok(&backup), format!("{backup_code}\n"));

    let export = licenceedit(&dir, Some(&vendor), &[], &["key", "export", "--key-no", "7100000"]);
    assert!(!ok(&export).contains(&backup_code.to_string()));
    assert!(!export.stdout.contains(&machine("offline computer").binding().to_hex()));
    let json: serde_json::Value = serde_json::from_str(&export.stdout).unwrap();
    assert_eq!(json["Target"]["ComputerID"], machine("offline computer").computer_id());
    assert_eq!(json["Product"]["Article"], "A-1");
    assert_eq!(json["ActivationCode"]["State"], "redeemed");
    assert_eq!(json["History"][0]["How"], "activation");
    assert_eq!(json["History"][0]["RequestID"], request.request_id);

    // A redeemed code revoked: the key stays, re-issuing stops, and a refusal writes no file.
    let revoke = licenceedit(&dir, Some(&vendor), &[], &["code", "revoke", &code.to_string()]);
    assert!(ok(&revoke).contains("key 7100000: that key file keeps working"), "{}", revoke.stdout);
    let again = write_request(&dir, "again.json", &common::request(code, "offline computer", None));
    let refused = licenceedit(&dir, Some(&vendor), &[], &["request", "answer", &again, "--out", "again-response.json"]);
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.starts_with("licenceedit: refused: code ") && refused.stderr.contains("was revoked"));
    assert!(!refused.stderr.contains(&code.to_string()), "a refusal shows the whole code: {}", refused.stderr);
    assert!(!dir.join("again-response.json").exists());

    let malformed = licenceedit(&dir, Some(&vendor), &[], &["request", "answer", "response.json", "--out", "x.json"]);
    assert_eq!(malformed.code, Some(1));
    assert!(malformed.stderr.contains("not an activation request"), "{}", malformed.stderr);
}

#[test]
fn the_test_clock_shift_moves_activation_and_subscription() {
    let (vendor, mut store) = vendor_store("clock");
    let code = one_code(&mut store, "A-1");
    drop(store);
    let dir = scratch("clock-work");
    let file = write_request(&dir, "request.json", &request(code, "clock computer", None));
    let shift = [(licence_devkit::clock::CLOCK_SHIFT_ENV, "40")];
    let out = licenceedit(&dir, Some(&vendor), &shift, &["request", "answer", &file, "--out", "response.json"]);
    ok(&out);
    assert!(out.stderr.contains("warning: LICENCECENTRE_TEST_CLOCK_SHIFT_DAYS=40"), "{}", out.stderr);
    let (_, key) = ActivationResponse::verify(&std::fs::read(dir.join("response.json")).unwrap(), None).unwrap();
    let activated = key.fields.activation_date.unwrap();
    let expected = licence_devkit::clock::shifted(UtcTime::now(), 40);
    assert!(activated.days_until(expected) <= 1 && expected.days_until(activated) <= 1, "{activated:?}");
    let support = key.fields.support_date.unwrap();
    assert_eq!(support, licence_devkit::clock::plus_months(activated, 12));

    let bad = [(licence_devkit::clock::CLOCK_SHIFT_ENV, "soon")];
    let out = licenceedit(&dir, Some(&vendor), &bad, &["code", "issue", "--article", "A-1"]);
    ok(&out);
    assert!(out.stderr.contains("is not a whole number of days; the real clock is used"), "{}", out.stderr);
}

#[test]
fn a_demo_key_takes_the_stores_next_key_number() {
    let (vendor, _store) = vendor_store("demo");
    let dir = scratch("demo-work");
    std::fs::write(dir.join("identity.json"), serde_json::to_vec(&machine("demo computer").public_target()).unwrap())
        .unwrap();
    let args = [
        "key",
        "demo",
        "--series",
        "672B",
        "--identity",
        "identity.json",
        "--days",
        "14",
        "--count",
        "3",
        "--out",
        ".",
    ];
    let out = licenceedit(&dir, Some(&vendor), &[], &args);
    assert_eq!(ok(&out), "./672B.7100000.licence\n");
    let out = licenceedit(&dir, Some(&vendor), &[], &args);
    assert_eq!(ok(&out), "./672B.7100001.licence\n");
    let key = keyfile::verify(&std::fs::read(dir.join("672B.7100001.licence")).unwrap()).unwrap();
    assert_eq!((key.fields.key_type.code(), key.fields.period, key.fields.licence_count), (5, 14, 3));
    assert!(key.unwrap_secret(&machine("demo computer").binding()).is_ok());
    let no_backup = licenceedit(&dir, Some(&vendor), &[], &["key", "backup-code", "--key-no", "7100000"]);
    assert_eq!(no_backup.code, Some(1));
    assert!(no_backup.stderr.contains("has no backup code"), "{}", no_backup.stderr);

    // An identity file of the earlier release carried the binding: refused with what to do.
    let old = serde_json::json!({
        "ComputerID": machine("demo computer").computer_id(),
        "Binding": machine("demo computer").binding().to_hex(),
    });
    std::fs::write(dir.join("old-identity.json"), serde_json::to_vec(&old).unwrap()).unwrap();
    let mut old_args = args;
    old_args[5] = "old-identity.json";
    let refused = licenceedit(&dir, Some(&vendor), &[], &old_args);
    assert_eq!(refused.code, Some(1));
    let expected = licence_protocol::identity::IdentityError::OldIdentityFormat.to_string();
    assert!(refused.stderr.contains(&expected), "{}", refused.stderr);
    assert!(!refused.stderr.contains(&machine("demo computer").binding().to_hex()), "{}", refused.stderr);
}

#[test]
fn request_and_response_files_carry_no_binding() {
    let (vendor, mut store) = vendor_store("no-binding");
    let code = one_code(&mut store, "A-1");
    drop(store);
    let dir = scratch("no-binding-work");
    let name = "air-gapped computer";
    let request = request(code, name, None);
    let file = write_request(&dir, "request.json", &request);
    ok(&licenceedit(&dir, Some(&vendor), &[], &["request", "answer", &file, "--out", "response.json"]));
    let request_text = std::fs::read_to_string(dir.join("request.json")).unwrap();
    let response_text = std::fs::read_to_string(dir.join("response.json")).unwrap();

    let binding = machine(name).binding().to_hex();
    let response = ActivationResponse::verify(response_text.as_bytes(), Some(&request.request_id)).unwrap().0;
    let backup = backup_of(&response, name);
    for (what, text) in [("request", &request_text), ("response", &response_text)] {
        let lower = text.to_ascii_lowercase();
        assert!(!lower.contains(&binding), "the {what} file carries the binding");
        assert!(!lower.contains("binding"), "the {what} file has a Binding field: {text}");
        assert!(!text.contains(&backup.to_string()), "the {what} file carries the backup code");
        let digits = |c: ActivationCode| c.to_string().replace('-', "");
        assert!(!text.contains(&digits(backup)) && !text.contains(&digits(code)), "the {what} file: {text}");
    }
    assert!(!request_text.contains(&code.to_string()), "the request file carries the activation code");
    // What the request does carry is public: the computer's id and its public target key.
    let json: serde_json::Value = serde_json::from_str(&request_text).unwrap();
    assert_eq!(json["TargetKey"], machine(name).binding().target_key().to_hex());
    assert_eq!(json["ComputerID"], machine(name).computer_id());
}

#[test]
fn a_store_of_the_earlier_release_is_migrated_and_its_codes_still_redeem() {
    let (dir, store) = vendor_store("old-store");
    drop(store);
    // The earlier release's tables, as its licenceedit left them: codes without a digest.
    let (activation, spare) = (ActivationCode::generate(), ActivationCode::generate());
    let db = rusqlite::Connection::open(dir.join(licence_devkit::store::DATABASE_FILE)).unwrap();
    db.execute_batch(
        "DROP INDEX activation_codes_by_digest; DROP INDEX backup_codes_by_digest;
         ALTER TABLE activation_codes DROP COLUMN digest; ALTER TABLE backup_codes DROP COLUMN digest;",
    )
    .unwrap();
    for code in [activation, spare] {
        db.execute(
            "INSERT INTO activation_codes (code, article, issued) VALUES (?1, 'A-1', ?2)",
            rusqlite::params![code.to_string(), UtcTime::now().to_string()],
        )
        .unwrap();
    }
    drop(db);

    let mut store = VendorStore::open(&dir).unwrap();
    let redeemed = redeem(&mut store, &request(activation, "old customer", None), UtcTime::now()).unwrap();
    assert_eq!(redeemed.how, How::Activated);
    // The earlier release's tool may still add codes to the migrated store while the centre runs.
    let late = ActivationCode::generate();
    let other = rusqlite::Connection::open(dir.join(licence_devkit::store::DATABASE_FILE)).unwrap();
    other
        .execute(
            "INSERT INTO activation_codes (code, article, issued) VALUES (?1, 'A-1', ?2)",
            rusqlite::params![late.to_string(), UtcTime::now().to_string()],
        )
        .unwrap();
    drop(other);
    for code in [spare, late] {
        let outcome = redeem(&mut store, &request(code, "old customer 2", None), UtcTime::now());
        let outcome = outcome.map(|r| r.how);
        assert!(matches!(outcome, Ok(How::Activated)), "{outcome:?}");
    }
    // A backup code of the earlier release (no digest) moves its key too.
    let backup = redeemed.response.backup_code(&machine("old customer").binding()).unwrap();
    let db = rusqlite::Connection::open(dir.join(licence_devkit::store::DATABASE_FILE)).unwrap();
    db.execute("UPDATE backup_codes SET digest = NULL", []).unwrap();
    drop(db);
    let moved = redeem(&mut store, &request(backup, "new computer", None), UtcTime::now()).unwrap();
    assert_eq!((moved.how, moved.key_no), (How::Moved, redeemed.key_no));
}

#[test]
fn concurrent_redemptions_of_one_code_for_two_computers_have_one_winner() {
    let (vendor, mut store) = vendor_store("race");
    let codes = store.issue_codes("A-1", 6, (None, None), None, UtcTime::now()).unwrap();
    drop(store);
    for code in codes {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let racers: Vec<_> = ["racer one", "racer two"]
            .into_iter()
            .map(|name| {
                let (vendor, barrier) = (vendor.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut store = VendorStore::open(&vendor).unwrap();
                    barrier.wait();
                    redeem(&mut store, &request(code, name, None), UtcTime::now())
                })
            })
            .collect();
        let outcomes: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        let won = outcomes.iter().filter(|o| matches!(o, Ok(r) if r.how == How::Activated)).count();
        let lost = outcomes
            .iter()
            .filter(|o| matches!(o, Err(e @ RedeemError::Refused(_)) if e.refusal() == Refusal::CodeUsed))
            .count();
        assert_eq!((won, lost), (1, 1), "{outcomes:?}");
    }
    let store = VendorStore::open(&vendor).unwrap();
    assert_eq!(store.codes(None, Some(licence_devkit::CodeState::Redeemed)).unwrap().len(), 6);
}
