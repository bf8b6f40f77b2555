//! The real `licencecentre` on loopback: every redemption rule as a licence server meets it over HTTP,
//! malformed input, `kill -9` and SIGTERM.

mod common;

use common::*;
use licence_devkit::NewProduct;
use licence_protocol::activation::ActivationCode;
use licence_protocol::centre::{ActivationRequest, ActivationResponse, CentreError, ACTIVATE_PATH, MAX_DOCUMENT_LEN};
use licence_protocol::keyfile::VerifiedKeyFile;
use licence_protocol::time::UtcTime;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A running centre on the port it announced (the test kit's, which the server's tests share); killed
/// when dropped.
struct Centre {
    process: licence_testkit::vendor::Centre,
    url: String,
}

impl Centre {
    fn start(vendor: &Path) -> Self {
        let process =
            licence_testkit::vendor::Centre::serving(Path::new(env!("CARGO_BIN_EXE_licencecentre")), vendor, None);
        let url = process.url();
        Self { process, url }
    }

    /// POSTs `body` to `/activate`: the status and the body.
    fn post(&self, body: &[u8]) -> (u16, Vec<u8>) {
        use std::io::Read;
        let answer = agent()
            .post(&format!("{}{ACTIVATE_PATH}", self.url))
            .set("Content-Type", "application/json")
            .send_bytes(body);
        let response = match answer {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(e) => panic!("no answer from the centre: {e}"),
        };
        let status = response.status();
        let mut bytes = Vec::new();
        response.into_reader().take(1 << 20).read_to_end(&mut bytes).unwrap();
        (status, bytes)
    }

    /// Redeems `request` and expects a key: the verified response.
    fn redeem(&self, request: &ActivationRequest) -> (ActivationResponse, VerifiedKeyFile) {
        let (status, body) = self.post(&serde_json::to_vec(request).unwrap());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        ActivationResponse::verify(&body, Some(&request.request_id)).unwrap()
    }

    /// Redeems `request` and expects a refusal: the status and the error body.
    fn refused(&self, request: &ActivationRequest) -> (u16, CentreError) {
        let (status, body) = self.post(&serde_json::to_vec(request).unwrap());
        let error: CentreError = serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{status}: {body:?}"));
        (status, error)
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build()
}

#[test]
fn a_code_becomes_a_key_the_same_computer_gets_it_again_and_another_is_refused() {
    let (vendor, mut store) = vendor_store("centre-redeem");
    let code = one_code(&mut store, "A-1");
    let centre = Centre::start(&vendor);

    let (first, key) = centre.redeem(&request(code, "computer A", None));
    let f = &key.fields;
    assert_eq!((f.key_no, f.key_id.as_str(), f.licence_count, f.flags), (7_100_000, "672B", 10, 0b101));
    assert_eq!(f.activation_code.as_deref(), Some(code.to_string().as_str()));
    assert_eq!(f.computer_id, machine("computer A").computer_id());
    assert_eq!((f.article.as_str(), f.product_name.as_str()), ("A-1", "Управление складом"));
    assert_eq!(f.support_date, Some(licence_devkit::clock::plus_months(f.activation_date.unwrap(), 12)));
    assert!(key.unwrap_secret(&machine("computer A").binding()).is_ok());

    let (again, _) = centre.redeem(&request(code, "computer A", None));
    assert_eq!(again.key_file, first.key_file);
    assert_eq!(backup_of(&again, "computer A"), backup_of(&first, "computer A"));

    let (status, error) = centre.refused(&request(code, "computer B", None));
    assert_eq!((status, error.reason), (409, 3));
    assert!(error.message.contains("already redeemed") && error.message.contains("backup code"), "{}", error.message);

    let (status, error) = centre.refused(&request(ActivationCode::generate(), "computer A", None));
    assert_eq!((status, error.reason), (404, 2));

    let revoked = one_code(&mut store, "A-1");
    store.revoke_code(revoked, UtcTime::now()).unwrap();
    let (status, error) = centre.refused(&request(revoked, "computer A", None));
    assert_eq!((status, error.reason), (410, 4));
}

#[test]
fn itn_is_required_by_the_product_and_must_match_the_licensee() {
    let (vendor, mut store) = vendor_store("centre-itn");
    store.add_product(&NewProduct { requires_itn: true, ..product("ITN-1") }, UtcTime::now()).unwrap();
    let needs_itn = one_code(&mut store, "ITN-1");
    let sold = store.issue_codes("A-1", 1, (Some("7701234567".into()), None), None, UtcTime::now()).unwrap()[0];
    let centre = Centre::start(&vendor);

    let (status, error) = centre.refused(&request(needs_itn, "computer A", None));
    assert_eq!((status, error.reason), (400, 5));
    let (_, key) = centre.redeem(&request_with_itn(needs_itn, "computer A", None, Some("500100732259")));
    assert_eq!(key.fields.itn.as_deref(), Some("500100732259"));

    let (status, error) = centre.refused(&request_with_itn(sold, "computer A", None, Some("1111111111")));
    assert_eq!((status, error.reason), (403, 6));
    assert!(!error.message.contains("7701234567"), "the message gives the licensee's ITN away: {}", error.message);
    let (status, _) = centre.refused(&request(sold, "computer A", None));
    assert_eq!(status, 400);
    let (_, key) = centre.redeem(&request_with_itn(sold, "computer A", None, Some("7701234567")));
    assert_eq!(key.fields.itn.as_deref(), Some("7701234567"));
}

#[test]
fn a_backup_code_moves_the_key_once_to_a_computer_or_a_blank() {
    let (vendor, mut store) = vendor_store("centre-backup");
    let code = one_code(&mut store, "A-1");
    let centre = Centre::start(&vendor);
    let (first, original) = centre.redeem(&request(code, "computer A", None));

    let first_backup = backup_of(&first, "computer A");
    let moved_request = request(first_backup, "computer B", None);
    let (moved, key) = centre.redeem(&moved_request);
    assert_eq!(key.fields.key_no, original.fields.key_no);
    assert_eq!(key.fields.computer_id, machine("computer B").computer_id());
    assert_eq!(key.fields.activation_code, original.fields.activation_code);
    assert_eq!(key.fields.start_date, original.fields.start_date);
    assert!(key.fields.activation_date >= original.fields.activation_date);
    assert!(key.unwrap_secret(&machine("computer B").binding()).is_ok());
    let moved_backup = backup_of(&moved, "computer B");
    assert_ne!(moved_backup, first_backup);

    // The answer was lost: the same backup code for the same computer answers the same again.
    let (repeat, _) = centre.redeem(&request(first_backup, "computer B", None));
    assert_eq!((repeat.key_file.clone(), backup_of(&repeat, "computer B")), (moved.key_file.clone(), moved_backup));
    let (status, error) = centre.refused(&request(first_backup, "computer C", None));
    assert_eq!((status, error.reason), (409, 7));
    // The activation code now belongs to the key's old place: refused there.
    let (status, _) = centre.refused(&request(code, "computer A", None));
    assert_eq!(status, 409);

    let (to_blank, key) = centre.redeem(&request(moved_backup, "computer C", Some(555)));
    assert_eq!(key.fields.blank_key_no, Some(555));
    assert_eq!(key.fields.computer_id, machine("computer C").computer_id());
    let blank_backup = backup_of(&to_blank, "computer C");
    assert_ne!(blank_backup, moved_backup);
    assert_eq!(store.backup_code(key.fields.key_no).unwrap(), blank_backup);
    let history = store.key_export(key.fields.key_no).unwrap().history;
    let hows: Vec<&str> = history.iter().map(|h| h.how.as_str()).collect();
    assert_eq!(hows, ["activation", "backup", "backup-repeat", "backup"]);

    // Revoking the activation code stops the key's backup codes too.
    store.revoke_code(code, UtcTime::now()).unwrap();
    let (status, _) = centre.refused(&request(blank_backup, "computer D", None));
    assert_eq!(status, 410);
}

#[test]
fn malformed_and_oversized_bodies_are_bad_requests_and_the_centre_stays_up() {
    let (vendor, mut store) = vendor_store("centre-malformed");
    let code = one_code(&mut store, "A-1");
    let centre = Centre::start(&vendor);
    let good = serde_json::to_value(request(code, "computer A", None)).unwrap();
    let with = |field: &str, value: serde_json::Value| {
        let mut v = good.clone();
        v[field] = value;
        serde_json::to_vec(&v).unwrap()
    };
    let mut oversized = serde_json::to_vec(&good).unwrap();
    oversized.extend(std::iter::repeat_n(b' ', MAX_DOCUMENT_LEN));
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"{".to_vec(),
        b"null".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x80],
        b"{\"Format\":1}".to_vec(),
        with("Format", 1.into()),
        with("Format", 3.into()),
        with("Binding", "00".into()),
        with("TargetKey", "00".into()),
        with("CodeDigest", "xyz".into()),
        with("CodeProof", "ab".into()),
        with("ComputerID", "xyz".into()),
        with("ActivationCode", "1234-5678-9012-3456-7890".into()),
        with("BlankKeyNo", (-1).into()),
        with("ITN", "12a".into()),
        with("Extra", 1.into()),
        oversized,
    ];
    for body in bodies {
        let (status, answer) = centre.post(&body);
        let error: CentreError = serde_json::from_slice(&answer).unwrap();
        assert_eq!(
            (status, error.reason),
            (400, 1),
            "{}: {}",
            String::from_utf8_lossy(&body[..body.len().min(80)]),
            error.message
        );
    }
    centre.redeem(&request(code, "computer A", None));
    assert_eq!(agent().get(&format!("{}/health", centre.url)).call().unwrap().status(), 200);
}

#[test]
fn a_request_of_the_earlier_release_is_refused_with_what_to_do() {
    let (vendor, mut store) = vendor_store("centre-format-1");
    let code = one_code(&mut store, "A-1");
    let centre = Centre::start(&vendor);
    let old = serde_json::json!({
        "Format": 1,
        "RequestID": "0123456789ABCDEF0123456789ABCDEF",
        "Created": UtcTime::now(),
        "ActivationCode": code.to_string(),
        "ITN": null,
        "IEC": null,
        "ComputerID": machine("computer A").computer_id(),
        "Binding": machine("computer A").binding().to_hex(),
        "BlankKeyNo": null,
        "ServerVersion": "3.0.0",
    });
    let body = serde_json::to_vec(&old).unwrap();
    let (status, answer) = centre.post(&body);
    let error: CentreError = serde_json::from_slice(&answer).unwrap();
    assert_eq!((status, error.reason), (400, 1));
    assert_eq!(error.message, ActivationRequest::from_json(&body).unwrap_err().to_string());
    assert!(error.message.contains("earlier release"), "{}", error.message);
    // The code was not touched: a request of this release redeems it.
    centre.redeem(&request(code, "computer A", None));
}

#[test]
fn an_activation_request_read_by_a_third_party_cannot_be_redeemed_for_their_computer() {
    let (vendor, mut store) = vendor_store("centre-third-party-request");
    let code = one_code(&mut store, "A-1");
    let centre = Centre::start(&vendor);
    let genuine = request(code, "customer", None);
    let thief = machine("third party");
    let (thief_id, thief_key) = (thief.computer_id(), thief.binding().target_key().to_hex());

    // The third party puts their own ComputerID, TargetKey or both into the genuine request: the proof
    // no longer matches, and the answer is the one of a code that was never issued.
    let probe = request(ActivationCode::generate(), "customer", None);
    let unknown = centre.refused(&probe).1;
    for (computer_id, target_key) in [
        (thief_id.clone(), genuine.target_key.clone()),
        (genuine.computer_id.clone(), thief_key.clone()),
        (thief_id.clone(), thief_key.clone()),
    ] {
        let altered = ActivationRequest { computer_id, target_key, ..genuine.clone() };
        let (status, error) = centre.refused(&altered);
        assert_eq!((status, error.reason), (404, 2), "{}", error.message);
        assert!(!error.message.contains(&code.to_string()));
        // Nothing says which part failed: the message is the unknown code's, but for the label.
        let label = |e: &CentreError, r: &ActivationRequest| e.message.replace(&r.code_label(), "CODE");
        assert_eq!(label(&error, &altered), label(&unknown, &probe));
    }
    // A code of one's own with a copied digest does not help either.
    let mut borrowed = request(one_code(&mut store, "A-1"), "third party", None);
    borrowed.code_digest = genuine.code_digest.clone();
    assert_eq!(centre.refused(&borrowed).0, 404);

    // Sent on unmodified, the request gets a key for the customer's target only.
    let (response, key) = centre.redeem(&genuine);
    assert_eq!(key.fields.computer_id, machine("customer").computer_id());
    assert_eq!(key.target_key, machine("customer").binding().target_key());
    assert!(key.unwrap_secrets(&thief.binding()).is_err(), "the key's secrets open on the third party's computer");
    assert!(response.backup_code(&thief.binding()).is_err(), "the backup code opens on the third party's computer");
    assert!(key.unwrap_secrets(&machine("customer").binding()).is_ok());

    // The third party, who now knows the activation code from the key file, asks for the customer's
    // ComputerID with a target key of their own: refused, so no backup code is sealed to them.
    let code_in_file: ActivationCode = key.fields.activation_code.as_deref().unwrap().parse().unwrap();
    let posing = ActivationRequest::new(
        code_in_file,
        &licence_protocol::identity::PublicTarget { computer_id: genuine.computer_id.clone(), target_key: thief_key },
        None,
        (None, None),
        UtcTime::now(),
    );
    let (status, error) = centre.refused(&posing);
    assert_eq!((status, error.reason), (409, 3), "{}", error.message);
    assert!(error.message.contains("backup code"), "{}", error.message);
}

#[test]
fn an_activation_response_read_by_a_third_party_gives_no_backup_code_and_no_secret() {
    let (vendor, mut store) = vendor_store("centre-third-party-response");
    let code = one_code(&mut store, "A-1");
    let centre = Centre::start(&vendor);
    let genuine = request(code, "customer", None);
    let (status, body) = centre.post(&serde_json::to_vec(&genuine).unwrap());
    assert_eq!(status, 200);
    let text = String::from_utf8(body.clone()).unwrap();
    let (response, key) = ActivationResponse::verify(&body, Some(&genuine.request_id)).unwrap();

    let backup = backup_of(&response, "customer");
    let series = store.series("672B".parse().unwrap()).unwrap();
    let secret_hex = hex::encode(series.secret.as_bytes());
    assert!(!text.contains(&backup.to_string()), "the backup code is in clear in the response");
    assert!(!text.contains(&backup.to_string().replace('-', "")));
    assert!(!text.to_ascii_lowercase().contains(&secret_hex), "the series secret is in clear in the response");
    assert!(!text.contains(&machine("customer").binding().to_hex()));

    let thief = machine("third party").binding();
    assert!(response.backup_code(&thief).is_err());
    // Same machine id, another host secret: still not the customer's binding.
    let same_material = licence_protocol::identity::MachineIdentity::from_material(b"customer").binding();
    assert!(response.backup_code(&same_material).is_err());
    assert!(key.unwrap_secrets(&thief).is_err() && key.unwrap_secrets(&same_material).is_err());
    let secrets = key.unwrap_secrets(&machine("customer").binding()).unwrap();
    assert_eq!(secrets.series.as_bytes(), series.secret.as_bytes());
}

#[test]
fn after_kill_9_the_restarted_centre_answers_the_same_key() {
    let (vendor, mut store) = vendor_store("centre-kill");
    let code = one_code(&mut store, "A-1");
    drop(store);
    let mut centre = Centre::start(&vendor);
    let (first, _) = centre.redeem(&request(code, "computer A", None));
    centre.process.child().kill().unwrap(); // SIGKILL on Unix
    centre.process.child().wait().unwrap();
    drop(centre);

    let centre = Centre::start(&vendor);
    let (again, key) = centre.redeem(&request(code, "computer A", None));
    assert_eq!(again.key_file, first.key_file);
    assert_eq!(backup_of(&again, "computer A"), backup_of(&first, "computer A"));
    assert_eq!(key.fields.key_no, 7_100_000);
    let (status, _) = centre.refused(&request(code, "computer B", None));
    assert_eq!(status, 409);
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_centre_cleanly() {
    let (vendor, _store) = vendor_store("centre-term");
    let mut centre = Centre::start(&vendor);
    let status = Command::new("kill").args(["-TERM", &centre.process.child().id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = licence_testkit::wait_for(licence_testkit::PATIENCE, "the centre to stop on SIGTERM", || {
        centre.process.child().try_wait().unwrap()
    });
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn concurrent_requests_for_one_code_from_two_computers_have_one_winner() {
    let (vendor, mut store) = vendor_store("centre-race");
    let codes = store.issue_codes("A-1", 4, (None, None), None, UtcTime::now()).unwrap();
    let centre = std::sync::Arc::new(Centre::start(&vendor));
    for code in codes {
        let racers: Vec<_> = ["racer one", "racer two"]
            .into_iter()
            .map(|name| {
                let centre = centre.clone();
                std::thread::spawn(move || centre.post(&serde_json::to_vec(&request(code, name, None)).unwrap()).0)
            })
            .collect();
        let mut statuses: Vec<u16> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        statuses.sort();
        assert_eq!(statuses, [200, 409]);
    }
}
