//! `licenceedit code …`: activation codes sold for a product. `issue` prints the new codes one per
//! line, ready to hand out; `list` shows where each stands; `revoke` stops a code.

use crate::Vendor;
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use licence_devkit::args::tax_number_arg;
use licence_devkit::{clock, CodeRecord, CodeState};
use licence_protocol::activation::ActivationCode;

#[derive(Subcommand)]
pub enum CodeCommand {
    /// Issues fresh activation codes for a product and prints them, one per line.
    Issue(Issue),
    /// Lists activation codes (a table, or JSON with --json).
    List(List),
    /// Revokes a code: it is refused from now on. A redeemed code's key keeps working, but neither
    /// the code nor the key's backup codes will issue the key again.
    Revoke(Revoke),
}

#[derive(Args)]
pub struct Issue {
    /// The product's article.
    #[arg(long, value_name = "A")]
    article: String,
    /// How many codes.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    count: u32,
    /// Sold to the licensee with this ITN (ИНН): requests must carry the same one.
    #[arg(long, value_name = "DIGITS", value_parser = tax_number_arg)]
    itn: Option<String>,
    /// Sold to the licensee with this IEC (КПП): requests must carry the same one.
    #[arg(long, value_name = "DIGITS", value_parser = tax_number_arg)]
    iec: Option<String>,
    /// `RegNo` of the keys these codes become (default: R-{KeyNo}).
    #[arg(long, value_name = "TEXT")]
    reg_no: Option<String>,
}

#[derive(Args)]
pub struct List {
    /// Only the codes of this article.
    #[arg(long, value_name = "A")]
    article: Option<String>,
    /// Only the codes in this state.
    #[arg(long, value_enum)]
    state: Option<State>,
    /// Prints a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum State {
    Issued,
    Redeemed,
    Revoked,
}

#[derive(Args)]
pub struct Revoke {
    /// The activation code (20 digits; dashes and spaces are ignored).
    code: ActivationCode,
}

pub fn run(command: CodeCommand, vendor: &Vendor) -> Result<()> {
    match command {
        CodeCommand::Issue(args) => {
            let codes = vendor.open()?.issue_codes(
                &args.article,
                args.count,
                (args.itn, args.iec),
                args.reg_no,
                clock::now(),
            )?;
            codes.iter().try_for_each(crate::say)
        }
        CodeCommand::List(args) => list(&args, vendor),
        CodeCommand::Revoke(args) => revoke(args.code, vendor),
    }
}

fn list(args: &List, vendor: &Vendor) -> Result<()> {
    let state = args.state.map(|s| match s {
        State::Issued => CodeState::Issued,
        State::Redeemed => CodeState::Redeemed,
        State::Revoked => CodeState::Revoked,
    });
    let codes = vendor.open()?.codes(args.article.as_deref(), state)?;
    if args.json {
        return crate::say(serde_json::to_string_pretty(&codes)?);
    }
    crate::say("CODE\tARTICLE\tSTATE\tKEYNO\tISSUED\tITN")?;
    codes.iter().try_for_each(|c| crate::say(line(c)))
}

fn line(c: &CodeRecord) -> String {
    let state = serde_json::to_value(c.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    format!(
        "{}\t{}\t{state}\t{}\t{}\t{}",
        c.code,
        c.article,
        c.key_no.map_or_else(|| "-".into(), |n| n.to_string()),
        &c.issued.to_string()[..10],
        c.itn.as_deref().unwrap_or("-"),
    )
}

fn revoke(code: ActivationCode, vendor: &Vendor) -> Result<()> {
    let revoked = vendor.open()?.revoke_code(code, clock::now())?;
    match revoked.key_no {
        Some(key_no) => crate::say(format!(
            "revoked {code}; it was redeemed as key {key_no}: that key file keeps working where it is installed, \
             but neither this code nor the key's backup codes will issue it again"
        )),
        None => crate::say(format!("revoked {code}; it was never redeemed and will now be refused")),
    }
}
