//! `licencebundle`: writes the add-in's zip bundle (MANIFEST.XML + every build found) in one command:
//! `cargo run -p licence-bundle -- [--profile release|debug] [--target-dir DIR] [--out FILE]`.
#![forbid(unsafe_code)]

use anyhow::Context;
use licence_bundle::{find_builds, write_bundle, BundleError};
use std::path::PathBuf;

const USAGE: &str = "usage: licencebundle [--profile release|debug] [--target-dir DIR] [--out FILE]
  writes the add-in's zip bundle (default target/licenceaddin.zip) with MANIFEST.XML and every build
  of liblicenceaddin.so / licenceaddin.dll found under DIR (default target)";

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("licencebundle: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let (mut profile, mut target_dir, mut out) = ("release".to_owned(), PathBuf::from("target"), None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--profile" => profile = value("--profile")?,
            "--target-dir" => target_dir = PathBuf::from(value("--target-dir")?),
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    let host = host_target();
    let entries = find_builds(&target_dir, &profile, host);
    if entries.is_empty() {
        return Err(BundleError::NothingBuilt(format!("{} ({profile})", target_dir.display())).into());
    }
    let out = out.unwrap_or_else(|| target_dir.join("licenceaddin.zip"));
    let file = std::fs::File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
    write_bundle(file, &entries)?;
    for e in &entries {
        println!("{} {}: {}", e.platform.os, e.platform.arch, e.file.display());
    }
    println!("{}", out.display());
    Ok(())
}

/// The target this tool was built for, which is the one `target/{profile}/` holds.
fn host_target() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "x86_64-unknown-linux-gnu",
        ("linux", "x86") => "i686-unknown-linux-gnu",
        ("windows", "x86_64") => "x86_64-pc-windows-gnu",
        ("windows", "x86") => "i686-pc-windows-gnu",
        _ => "",
    }
}
