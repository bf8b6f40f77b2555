//! The vendor's side for integration tests: a vendor store driven through the real `licenceedit`, the
//! real `licencecentre` serving a store on loopback, and the product their stores sell, described once
//! (the devkit's own tests build the same product through its library).

use crate::process::{spawn_announced, Announced, Stream};
use crate::wait::PATIENCE;
use licence_protocol::series::SeriesKeys;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The series of every test vendor store.
pub const SERIES: &str = "672B";
/// The name of the product the test stores sell (`--name`, `ProductName` in its keys).
pub const PRODUCT_NAME: &str = "Управление складом";
/// Its article name (`--article-name`, `ArticleName`).
pub const ARTICLE_NAME: &str = "Основная поставка";
/// Its version (`--product-version`, `ProductVersion`).
pub const PRODUCT_VERSION: &str = "3.1";

/// `licenceedit product add` of the test product in series [`SERIES`] under `article`: `kind` (main,
/// additional, demo) and `count` licences; a test adds what else it needs (`--period`, `--flags`…).
pub fn product_add_args(article: &str, kind: &str, count: u32) -> Vec<String> {
    let args = ["product", "add", "--series", SERIES, "--article", article, "--name", PRODUCT_NAME, "--kind", kind];
    let count = count.to_string();
    let rest = ["--count", &count, "--article-name", ARTICLE_NAME, "--product-version", PRODUCT_VERSION];
    args.iter().chain(&rest).map(|s| (*s).to_owned()).collect()
}

/// A vendor store in a scratch folder with series [`SERIES`], driven through the real `licenceedit`
/// (brought up to date once per test process); removed when dropped.
pub struct Vendor {
    pub dir: PathBuf,
}

impl Vendor {
    pub fn new() -> Self {
        let vendor = Vendor { dir: crate::scratch("vendor") };
        vendor.edit(&["series", "create", SERIES]);
        vendor
    }

    /// Runs `licenceedit` on this store.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(crate::devkit_binary("licenceedit"))
            .args(args)
            .env("LICENCEEDIT_VENDOR_DIR", &self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("licenceedit runs")
    }

    /// Runs `licenceedit` and returns its output, failing the test if it failed.
    pub fn edit(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "licenceedit {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Adds the test product ([`product_add_args`]) with `extra` arguments.
    pub fn product(&self, article: &str, kind: &str, count: u32, extra: &[&str]) {
        let mut args = product_add_args(article, kind, count);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        self.edit(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }

    /// Issues one activation code of `article`.
    pub fn code(&self, article: &str, extra: &[&str]) -> String {
        let mut args = vec!["code", "issue", "--article", article];
        args.extend(extra);
        self.edit(&args).trim().to_owned()
    }

    /// The store's series, secret half included.
    pub fn series(&self) -> SeriesKeys {
        let text = std::fs::read_to_string(self.dir.join(format!("{SERIES}.cryptkey"))).unwrap();
        SeriesKeys::from_cryptkey(&text).unwrap()
    }
}

impl Default for Vendor {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Vendor {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The environment variable of `licencecentre`'s test clock switch.
const CLOCK_SHIFT_ENV: &str = "LICENCECENTRE_TEST_CLOCK_SHIFT_DAYS";

/// What `licencecentre` prints on stderr once it listens, before `ADDR:PORT`.
pub const CENTRE_ANNOUNCEMENT: &str = "licencecentre: listening on ";

/// The real activation centre (`binary`) serving a vendor store on a loopback port the system picks;
/// killed when dropped.
pub struct Centre {
    process: Announced,
}

impl Centre {
    /// The centre (brought up to date once per test process) serving `vendor`'s store.
    pub fn start(vendor: &Vendor) -> Self {
        Self::serving(&crate::devkit_binary("licencecentre"), &vendor.dir, None)
    }

    /// [`Centre::start`] with the centre's clock `shift_days` off (its test switch).
    pub fn start_with_clock(vendor: &Vendor, shift_days: i64) -> Self {
        Self::serving(&crate::devkit_binary("licencecentre"), &vendor.dir, Some(shift_days))
    }

    /// Starts `binary --listen 127.0.0.1:0 --vendor-dir {vendor_dir}` with its clock `shift_days` off
    /// (`None`: the switch unset) and waits for it to announce its address.
    pub fn serving(binary: &Path, vendor_dir: &Path, shift_days: Option<i64>) -> Self {
        let mut command = Command::new(binary);
        command.args(["--listen", "127.0.0.1:0", "--vendor-dir"]).arg(vendor_dir);
        match shift_days {
            Some(days) => command.env(CLOCK_SHIFT_ENV, days.to_string()),
            None => command.env_remove(CLOCK_SHIFT_ENV),
        };
        match spawn_announced(&mut command, Stream::Stderr, CENTRE_ANNOUNCEMENT, PATIENCE) {
            Ok(process) => Centre { process },
            Err(e) => panic!("licencecentre did not start: {e}"),
        }
    }

    /// `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.process.address)
    }

    /// The licence server's config line that points it at this centre.
    pub fn config(&self) -> String {
        format!("LicenceCenterUrl={}", self.url())
    }

    /// The running process (to signal it, or wait for its exit).
    pub fn child(&mut self) -> &mut Child {
        &mut self.process.child
    }

    /// What it wrote on stdout and stderr so far.
    pub fn output(&self) -> String {
        self.process.output()
    }
}

impl Drop for Centre {
    fn drop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
    }
}
