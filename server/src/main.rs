//! `licenceserver`: the command line. `-r` runs the server in the foreground (as the service unit
//! does); `--root DIR` moves its whole `/var/1C/licence` tree, `--port N` and `--listen ADDR` override
//! the config (`--port 0`: a port the system picks); once it accepts connections the server prints
//! `listening on ADDR:PORT` on stdout and writes the same `ADDR:PORT` line to
//! `DIR/3.0/licenceserver.port` (removed at a clean stop), so a script or a test that let the system
//! pick learns the port; `identity` prints this computer's ComputerID and public target key (no secret) for
//! issuing a key to it;
//! `activation-request` and `activation-install` activate offline without the server running (or
//! beside it: it picks up the installed key within seconds).
#![forbid(unsafe_code)]

use licenceserver::layout::Layout;
use licenceserver::Overrides;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: licenceserver -r [--root DIR] [--port N] [--listen ADDR]
       licenceserver identity [--root DIR]
       licenceserver activation-request CODE [--itn N] [--iec N] [--blank SERIAL] [--root DIR] > request.json
       licenceserver activation-install RESPONSE.json [--root DIR]
       licenceserver --version | --help

  -r, --run        run the licence server in the foreground until SIGINT/SIGTERM
  identity         print this computer's ComputerID and TargetKey (JSON, nothing secret) for issuing a key
                   to it; run it as the server's account (it reads DIR/3.0/host.secret)
  activation-request  print the offline activation request for an activation or backup code
                   (the vendor answers it with `licenceedit request answer`); --blank binds to a USB blank
  activation-install  install the vendor's response file into the data folder
  --root DIR       use DIR instead of /var/1C/licence (config in DIR/3.0, keys in DIR/data)
  --port N         listen on port N instead of [Common] ServerPort (9099); 0: a free port the system
                   picks. Once listening, `listening on ADDR:PORT` goes to stdout and the same
                   `ADDR:PORT` line to DIR/3.0/licenceserver.port (removed at a clean stop)
  --listen ADDR    listen on ADDR instead of [Common] ListenAddress (0.0.0.0)";

enum Command {
    Run,
    Identity,
    ActivationRequest,
    ActivationInstall,
}

struct Args {
    command: Command,
    root: Option<PathBuf>,
    overrides: Overrides,
    /// The code or the response file of the activation commands.
    operand: Option<String>,
    itn: Option<String>,
    iec: Option<String>,
    blank: Option<String>,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut command = None;
    let mut root = None;
    let mut overrides = Overrides::default();
    let (mut operand, mut itn, mut iec, mut blank) = (None, None, None, None);
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-r" | "--run" => command = Some(Command::Run),
            "identity" => command = Some(Command::Identity),
            "activation-request" => command = Some(Command::ActivationRequest),
            "activation-install" => command = Some(Command::ActivationInstall),
            "--itn" => itn = Some(value("--itn")?),
            "--iec" => iec = Some(value("--iec")?),
            "--blank" => blank = Some(value("--blank")?),
            "--root" => root = Some(PathBuf::from(value("--root")?)),
            "--port" => {
                let v = value("--port")?;
                overrides.port = Some(v.parse().map_err(|_| format!("--port `{v}` is not a port number"))?);
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
            other if !other.starts_with('-') && operand.is_none() => operand = Some(other.to_owned()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let command = command.ok_or("nothing to do: give -r to run the server")?;
    if matches!(command, Command::ActivationRequest | Command::ActivationInstall) == operand.is_none() {
        return Err(match command {
            Command::ActivationRequest => "activation-request needs the code".into(),
            Command::ActivationInstall => "activation-install needs the response file".into(),
            _ => format!("unexpected argument `{}`", operand.unwrap_or_default()),
        });
    }
    Ok(Some(Args { command, root, overrides, operand, itn, iec, blank }))
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
    let layout = args.root.clone().map_or_else(Layout::system, Layout::new);
    let result = match args.command {
        Command::Run => licenceserver::run(layout, args.overrides.clone()),
        Command::Identity => print_identity(&layout),
        Command::ActivationRequest => activation_request(&layout, &args),
        Command::ActivationInstall => activation_install(&layout, args.operand.as_deref().unwrap_or_default()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("licenceserver: {}", licence_protocol::text::causes(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn print_identity(layout: &Layout) -> anyhow::Result<()> {
    let (config, problems) = licenceserver::config::load(&layout.config_file());
    for p in problems {
        eprintln!("licenceserver: config {p}");
    }
    let identity = licenceserver::app::load_identity(&config, layout).map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string_pretty(&identity.public_target())?);
    Ok(())
}

fn load_identity(
    layout: &Layout,
    config: &licenceserver::config::ServerConfig,
) -> Option<licence_protocol::identity::MachineIdentity> {
    match licenceserver::app::load_identity(config, layout) {
        Ok(identity) => Some(identity),
        Err(e) => {
            eprintln!("licenceserver: {e}");
            None
        }
    }
}

/// The same body `POST /api/licences/request` takes, from the command line.
fn activation_request(layout: &Layout, args: &Args) -> anyhow::Result<()> {
    use serde_json::{json, Value};
    let (config, _) = licenceserver::config::load(&layout.config_file());
    let text = |v: &Option<String>| v.as_ref().map_or(Value::Null, |s| json!(s));
    let body = json!({
        "ActivationCodeString": args.operand, "ITN": text(&args.itn), "IEC": text(&args.iec), "BlankKeyNo": text(&args.blank)
    });
    let order = licenceserver::activation::InstallOrder::from_json(&body)?;
    let identity = load_identity(layout, &config);
    let target =
        licenceserver::activation::resolve_target(identity.as_ref(), config.settings.usb_enabled, order.blank_key_no)?;
    let request = order.request(&target, licenceserver::clock::now());
    println!("{}", serde_json::to_string_pretty(&request)?);
    eprintln!(
        "licenceserver: request {} written; have the vendor answer it, then run activation-install",
        request.request_id
    );
    Ok(())
}

fn activation_install(layout: &Layout, file: &str) -> anyhow::Result<()> {
    let (config, _) = licenceserver::config::load(&layout.config_file());
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {file}: {e}"))?;
    let identity = load_identity(layout, &config);
    std::fs::create_dir_all(layout.data_dir())?;
    let installed = licenceserver::activation::install(&layout.data_dir(), &bytes, None, |blank| {
        licenceserver::activation::resolve_target(identity.as_ref(), config.settings.usb_enabled, blank)
    })?;
    let f = &installed.fields;
    println!(
        "installed key {} of series {} ({}, {} licence(s)) as {}",
        f.key_no,
        f.key_id,
        f.product_name,
        f.licence_count,
        installed.path.display()
    );
    println!("backup code: {} (keep it away from this computer)", installed.backup_code);
    Ok(())
}
