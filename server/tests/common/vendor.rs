//! The vendor's side for the server's integration tests: a vendor store driven through the real
//! `licenceedit`, and the real `licencecentre` serving it on loopback.

use licence_protocol::series::SeriesKeys;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A vendor store driven through the real `licenceedit`.
pub struct Vendor {
    pub dir: PathBuf,
}

impl Vendor {
    /// A store with series 672B.
    pub fn new() -> Self {
        let vendor = Vendor { dir: super::scratch("vendor") };
        vendor.edit(&["series", "create", "672B"]);
        vendor
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(licence_testkit::devkit_binary("licenceedit"))
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

    pub fn product(&self, article: &str, kind: &str, count: u32, extra: &[&str]) {
        let count = count.to_string();
        let mut args =
            vec!["product", "add", "--series", "672B", "--article", article, "--name", "Склад", "--kind", kind];
        args.extend(["--count", &count, "--article-name", "Поставка", "--product-version", "3.1"]);
        args.extend(extra);
        self.edit(&args);
    }

    pub fn code(&self, article: &str, extra: &[&str]) -> String {
        let mut args = vec!["code", "issue", "--article", article];
        args.extend(extra);
        self.edit(&args).trim().to_owned()
    }

    pub fn series(&self) -> SeriesKeys {
        SeriesKeys::from_cryptkey(&std::fs::read_to_string(self.dir.join("672B.cryptkey")).unwrap()).unwrap()
    }
}

impl Drop for Vendor {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The real activation centre on a loopback port.
pub struct Centre {
    child: Child,
    port: u16,
}

impl Centre {
    pub fn start(vendor: &Vendor) -> Self {
        Self::start_with_clock(vendor, 0)
    }

    /// A centre whose clock runs `shift_days` off (its test switch).
    pub fn start_with_clock(vendor: &Vendor, shift_days: i64) -> Self {
        let port = super::free_port();
        let child = Command::new(licence_testkit::devkit_binary("licencecentre"))
            .env("LICENCECENTRE_TEST_CLOCK_SHIFT_DAYS", shift_days.to_string())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--vendor-dir")
            .arg(&vendor.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("licencecentre starts");
        let centre = Centre { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(2)).build();
        while agent.get(&format!("{}/health", centre.url())).call().is_err() {
            assert!(Instant::now() < deadline, "the activation centre did not answer within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        centre
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn config(&self) -> String {
        format!("LicenceCenterUrl={}", self.url())
    }
}

impl Drop for Centre {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
