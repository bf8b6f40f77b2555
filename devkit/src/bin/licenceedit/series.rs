//! `licenceedit series …`: creating a series writes its private `{KeyID}.cryptkey` (mode 0600 on
//! Unix, never over an existing file) and its public `{KeyID}.pub` (the Ed25519 public key in hex),
//! which is what the add-in and server pin.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use licence_protocol::key::SeriesId;
use licence_protocol::series::SeriesKeys;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[derive(Subcommand)]
pub enum SeriesCommand {
    /// Generates a new series and writes DIR/{KeyID}.cryptkey and DIR/{KeyID}.pub.
    Create(Create),
}

#[derive(Args)]
pub struct Create {
    /// The series, four hex digits (672B).
    key_id: SeriesId,
    /// Directory to write both files to; it must exist.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
}

pub fn run(command: SeriesCommand) -> Result<()> {
    match command {
        SeriesCommand::Create(args) => create(args),
    }
}

fn create(args: Create) -> Result<()> {
    if !args.out.is_dir() {
        bail!("output directory {} does not exist", args.out.display());
    }
    let cryptkey_path = args.out.join(format!("{}.cryptkey", args.key_id));
    let public_path = args.out.join(format!("{}.pub", args.key_id));
    for path in [&cryptkey_path, &public_path] {
        if path.symlink_metadata().is_ok() {
            bail!("{} already exists; refusing to overwrite it", path.display());
        }
    }
    let keys = SeriesKeys::generate(args.key_id);
    let cryptkey = Zeroizing::new(keys.to_cryptkey());
    write_new(&cryptkey_path, cryptkey.as_bytes(), 0o600)?;
    write_new(&public_path, format!("{}\n", hex::encode(keys.public_key())).as_bytes(), 0o644)?;
    crate::say(cryptkey_path.display())?;
    crate::say(public_path.display())
}

/// Creates `path` with `mode` (Unix) and writes `bytes` to disk; an existing file is an error.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            anyhow::anyhow!("{} already exists; refusing to overwrite it", path.display())
        }
        _ => anyhow::anyhow!("cannot create {}: {e}", path.display()),
    })?;
    file.write_all(bytes).and_then(|()| file.sync_all()).with_context(|| format!("cannot write {}", path.display()))
}
