//! `licenceedit`, the vendor's tool for series and key files. This file holds the command line and
//! the error shape (`licenceedit: <message>` on stderr, exit 1; usage errors are clap's, exit 2);
//! each group of commands lives in its own module so new ones (blanks, activation) slot in beside.
//! No command ever prints a series secret, a signing key or a machine binding.
#![forbid(unsafe_code)]

mod key;
mod series;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "licenceedit", version = licence_protocol::VERSION, about = "Creates key series and issues signed key files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Key series: the signing key and the secret of one KeyID.
    #[command(subcommand)]
    Series(series::SeriesCommand),
    /// Key files: issue one for a computer, or check and show one.
    #[command(subcommand)]
    Key(key::KeyCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Series(command) => series::run(command),
        Command::Key(command) => key::run(command),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("licenceedit: {e:#}");
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
    use std::io::Read;
    let mut bytes = Vec::new();
    let reader: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?)
    };
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
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
