//! `licenceserver`: the command line. `-r` runs the server in the foreground (as the service unit
//! does); `--root DIR` moves its whole `/var/1C/licence` tree, `--port N` and `--listen ADDR` override
//! the config; `identity` prints this computer's ComputerID and binding for issuing a key to it.
#![forbid(unsafe_code)]

use licenceserver::layout::Layout;
use licenceserver::Overrides;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: licenceserver -r [--root DIR] [--port N] [--listen ADDR]
       licenceserver identity [--root DIR]
       licenceserver --version | --help

  -r, --run        run the licence server in the foreground until SIGINT/SIGTERM
  identity         print this computer's ComputerID and key binding (JSON) for issuing a key to it
  --root DIR       use DIR instead of /var/1C/licence (config in DIR/3.0, keys in DIR/data)
  --port N         listen on port N instead of [Common] ServerPort (9099)
  --listen ADDR    listen on ADDR instead of [Common] ListenAddress (0.0.0.0)";

enum Command {
    Run,
    Identity,
}

struct Args {
    command: Command,
    root: Option<PathBuf>,
    overrides: Overrides,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut command = None;
    let mut root = None;
    let mut overrides = Overrides::default();
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-r" | "--run" => command = Some(Command::Run),
            "identity" => command = Some(Command::Identity),
            "--root" => root = Some(PathBuf::from(value("--root")?)),
            "--port" => {
                let v = value("--port")?;
                overrides.port =
                    Some(v.parse().ok().filter(|p| *p > 0).ok_or(format!("--port `{v}` is not a port number"))?);
            }
            "--listen" => {
                let v = value("--listen")?;
                overrides.listen = Some(v.parse().map_err(|_| format!("--listen `{v}` is not an IP address"))?);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("licenceserver {}", licence_protocol::VERSION);
                return Ok(None);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let command = command.ok_or("nothing to do: give -r to run the server")?;
    Ok(Some(Args { command, root, overrides }))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("licenceserver: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let layout = args.root.map_or_else(Layout::system, Layout::new);
    let result = match args.command {
        Command::Run => licenceserver::run(layout, args.overrides),
        Command::Identity => print_identity(&layout),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("licenceserver: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_identity(layout: &Layout) -> anyhow::Result<()> {
    let (config, problems) = licenceserver::config::load(&layout.config_file());
    for p in problems {
        eprintln!("licenceserver: config {p}");
    }
    let identity = licence_protocol::identity::MachineIdentity::load(config.machine_id_file.as_deref())?;
    println!("{}", serde_json::to_string_pretty(&identity.binding_request())?);
    Ok(())
}
