//! `licenceedit request answer`: offline activation. A licence server without a route to the centre
//! writes its activation request to a file; the vendor answers it here with exactly the rule the
//! centre applies (`licence_devkit::redeem`) and hands back the response file. A refusal writes no
//! file: its message is printed and the exit status is 1.

use crate::Vendor;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use licence_devkit::clock;
use licence_devkit::redeem::redeem;
use licence_protocol::centre::{ActivationRequest, MAX_DOCUMENT_LEN};
use licence_protocol::keyfile;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum RequestCommand {
    /// Redeems the code of an activation request file and writes the response file for the server.
    Answer(Answer),
}

#[derive(Args)]
pub struct Answer {
    /// The request file the licence server wrote (`-` reads stdin).
    request: PathBuf,
    /// Where to write the response file (replaced if it exists).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub fn run(command: RequestCommand, vendor: &Vendor) -> Result<()> {
    match command {
        RequestCommand::Answer(args) => answer(args, vendor),
    }
}

fn answer(args: Answer, vendor: &Vendor) -> Result<()> {
    let bytes = crate::read_limited(&args.request, MAX_DOCUMENT_LEN)?;
    let request = ActivationRequest::from_json(&bytes).with_context(|| args.request.display().to_string())?;
    let mut store = vendor.open()?;
    let redemption = redeem(&mut store, &request, clock::now()).context("refused")?;
    let json = serde_json::to_vec_pretty(&redemption.response)?;
    keyfile::write_atomically(&args.out, &json)
        .with_context(|| "the key was issued; answer the request again to retry")?;
    crate::say(format!(
        "{}: key {} ({}) for ComputerID {}",
        args.out.display(),
        redemption.key_no,
        redemption.how.as_str(),
        redemption.target.computer_id
    ))
}
