//! `licenceedit series …`: creating a series writes its private `{KeyID}.cryptkey` (mode 0600 on
//! Unix, never over an existing file) and its public `{KeyID}.pub` (the Ed25519 public key in hex),
//! which is what the add-in and server pin. With a vendor store they go into its folder, where
//! products and the activation centre find them.

use crate::Vendor;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use licence_protocol::key::SeriesId;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum SeriesCommand {
    /// Generates a new series and writes DIR/{KeyID}.cryptkey and DIR/{KeyID}.pub.
    Create(Create),
}

#[derive(Args)]
pub struct Create {
    /// The series, four hex digits (672B).
    key_id: SeriesId,
    /// Directory to write both files to; it must exist. Default: the vendor store's folder
    /// (--vendor-dir, created if missing), else the current directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(command: SeriesCommand, vendor: &Vendor) -> Result<()> {
    match command {
        SeriesCommand::Create(args) => create(args, vendor),
    }
}

fn create(args: Create, vendor: &Vendor) -> Result<()> {
    let out = match (args.out, vendor.dir()) {
        (Some(out), _) => {
            anyhow::ensure!(out.is_dir(), "output directory {} does not exist", out.display());
            out
        }
        (None, Ok(store)) => {
            std::fs::create_dir_all(store).with_context(|| format!("cannot create {}", store.display()))?;
            store.to_owned()
        }
        (None, Err(_)) => PathBuf::from("."),
    };
    let (cryptkey, public) = licence_devkit::store::create_series_files(&out, args.key_id)?;
    crate::say(cryptkey.display())?;
    crate::say(public.display())
}
