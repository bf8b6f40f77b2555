//! What the devkit's integration tests share: scratch folders, a vendor store with one series and the
//! test product, requests for made-up computers, and running `licenceedit`.
#![allow(dead_code)]

use licence_devkit::{NewProduct, VendorStore};
use licence_protocol::activation::ActivationCode;
use licence_protocol::centre::{ActivationRequest, ActivationResponse};
use licence_protocol::identity::{HostSecret, MachineIdentity};
use licence_protocol::key::KeyKind;
use licence_protocol::time::UtcTime;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use licence_testkit::scratch;

/// The test product (`licence_testkit::vendor`: the one the server's tests sell through
/// `licenceedit`), built through the library: 10 main licences, flags 0 and 2, a 12-month subscription.
pub fn product(article: &str) -> NewProduct {
    use licence_testkit::vendor::{ARTICLE_NAME, PRODUCT_NAME, PRODUCT_VERSION, SERIES};
    NewProduct {
        article: article.into(),
        series: SERIES.parse().unwrap(),
        name: PRODUCT_NAME.into(),
        article_name: ARTICLE_NAME.into(),
        kind: KeyKind::Main,
        licence_count: 10,
        period: 0,
        expire_date: None,
        flags: 0b101,
        product_version: PRODUCT_VERSION.into(),
        support_months: Some(12),
        support_until: None,
        requires_itn: false,
    }
}

/// A vendor store in a scratch folder with series 672B and product `A-1`.
pub fn vendor_store(tag: &str) -> (PathBuf, VendorStore) {
    let dir = scratch(tag);
    let mut store = VendorStore::open(&dir).unwrap();
    store.create_series(licence_testkit::vendor::SERIES.parse().unwrap()).unwrap();
    store.add_product(&product("A-1"), UtcTime::now()).unwrap();
    (dir, store)
}

pub fn one_code(store: &mut VendorStore, article: &str) -> ActivationCode {
    store.issue_codes(article, 1, (None, None), None, UtcTime::now()).unwrap()[0]
}

/// The made-up computer `name` as its licence server sees itself: its machine id and a host secret of
/// its own (both made from the name, so every call gives the same computer).
pub fn machine(name: &str) -> MachineIdentity {
    let mut host = [0x5a; 32];
    for (slot, b) in host.iter_mut().zip(name.bytes()) {
        *slot ^= b;
    }
    MachineIdentity::from_material(name.as_bytes()).with_host_secret(HostSecret::from_bytes(host))
}

/// A request to redeem `code` for the computer `name` (or for a USB blank in it).
pub fn request(code: ActivationCode, name: &str, blank_key_no: Option<u64>) -> ActivationRequest {
    request_with_itn(code, name, blank_key_no, None)
}

/// [`request`] naming the licensee's ITN.
pub fn request_with_itn(
    code: ActivationCode,
    name: &str,
    blank_key_no: Option<u64>,
    itn: Option<&str>,
) -> ActivationRequest {
    let tax = (itn.map(str::to_owned), None);
    ActivationRequest::new(code, &machine(name).public_target(), blank_key_no, tax, UtcTime::now())
}

/// The backup code of `response`, opened on the computer `name` it was answered for.
pub fn backup_of(response: &ActivationResponse, name: &str) -> ActivationCode {
    response.backup_code(&machine(name).binding()).unwrap()
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `licenceedit` with `args` in `dir`, with the vendor store `vendor` (if any) from the environment.
pub fn licenceedit(dir: &Path, vendor: Option<&Path>, envs: &[(&str, &str)], args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_licenceedit"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("LICENCEEDIT_VENDOR_DIR")
        .env_remove(licence_devkit::clock::CLOCK_SHIFT_ENV);
    if let Some(vendor) = vendor {
        command.env("LICENCEEDIT_VENDOR_DIR", vendor);
    }
    for (name, value) in envs {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}
