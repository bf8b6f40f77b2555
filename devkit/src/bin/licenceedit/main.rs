//! `licenceedit`, the vendor's tool for series, key files, products, activation codes, offline
//! activation and datafiles (`c`, `l`). This file holds the command line and the error shape
//! (`licenceedit: <message>` on stderr, exit 1; usage errors are clap's, exit 2); each group of
//! commands lives in its own module.
//! Commands that work on the vendor store take `--vendor-dir DIR` (or `LICENCEEDIT_VENDOR_DIR`) and
//! go through `licence_devkit`, the library the activation centre uses too.
//! No command ever prints a series secret, a signing key or a machine binding.
#![forbid(unsafe_code)]

mod code;
mod datafile;
mod key;
mod product;
mod request;
mod series;

use clap::{Parser, Subcommand};
use licence_devkit::VendorStore;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "licenceedit",
    version = licence_protocol::VERSION,
    about = "Creates key series, issues signed key files, keeps the vendor's products and activation codes, packs datafiles",
    after_help = "Test switch: LICENCECENTRE_TEST_CLOCK_SHIFT_DAYS=N shifts the clock by N days."
)]
struct Cli {
    /// The vendor store: the series' .cryptkey files and vendor.sqlite (products, codes, keys).
    #[arg(long, global = true, value_name = "DIR", env = "LICENCEEDIT_VENDOR_DIR")]
    vendor_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Key series: the signing key and the secret of one KeyID.
    #[command(subcommand)]
    Series(series::SeriesCommand),
    /// Key files: issue one, a demo key for a computer, show one; support's look-ups by KeyNo.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Products: what activation codes turn into.
    #[command(subcommand)]
    Product(product::ProductCommand),
    /// Activation codes: issue, list, revoke.
    #[command(subcommand)]
    Code(code::CodeCommand),
    /// Offline activation: answer a licence server's request file.
    #[command(subcommand)]
    Request(request::RequestCommand),
    /// Creates a datafile of protected objects: c OUT FILE… --serie=KEYID --cryptkey=FILE [-y].
    #[command(name = "c")]
    DatafileCreate(datafile::Create),
    /// Lists a datafile's objects and checks its signature (no secret needed): l FILE [--json].
    #[command(name = "l")]
    DatafileList(datafile::List),
}

/// Where the vendor store is, if the command line or the environment said.
pub struct Vendor(Option<PathBuf>);

impl Vendor {
    pub fn dir(&self) -> anyhow::Result<&std::path::Path> {
        self.0.as_deref().ok_or_else(|| anyhow::anyhow!("give --vendor-dir DIR or set LICENCEEDIT_VENDOR_DIR"))
    }

    pub fn open(&self) -> anyhow::Result<VendorStore> {
        Ok(VendorStore::open(self.dir()?)?)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let vendor = Vendor(cli.vendor_dir);
    let outcome = match cli.command {
        Command::Series(command) => series::run(command, &vendor),
        Command::Key(command) => key::run(command, &vendor),
        Command::Product(command) => product::run(command, &vendor),
        Command::Code(command) => code::run(command, &vendor),
        Command::Request(command) => request::run(command, &vendor),
        Command::DatafileCreate(args) => datafile::create(args, &vendor),
        Command::DatafileList(args) => datafile::list(args, &vendor),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("licenceedit: {}", licence_devkit::describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// Prints one line of results; a closed stdout is an error rather than a panic.
fn say(line: impl std::fmt::Display) -> anyhow::Result<()> {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}

/// Reads at most `limit` bytes of `path` (`-` is stdin), refusing anything longer.
fn read_limited(path: &std::path::Path, limit: usize) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    use std::io::Read;
    let mut bytes = Vec::new();
    let reader: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?)
    };
    reader.take(limit as u64 + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    anyhow::ensure!(bytes.len() <= limit, "{} is larger than {limit} bytes", path.display());
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
