//! `licenceedit key …`: issuing a signed key file for one computer from the series' cryptkey and the
//! computer's `ComputerID` and public `TargetKey` (what `licenceserver identity` prints: no secret of the
//! computer ever reaches the vendor or a command line), issuing a demo key from the vendor store (its KeyNo from the
//! store's sequence), showing what a key file says once its signature checks out, and support's
//! look-ups of an activated key (`export`, `backup-code`).

use crate::Vendor;
use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use licence_devkit::args::{date_arg, flag_list_arg, flags_arg};
use licence_devkit::clock;
use licence_protocol::identity::{parse_computer_id, IdentityError, PublicTarget, TargetKey};
use licence_protocol::key::{KeyFields, KeyKind, SeriesId};
use licence_protocol::keyfile::{self, MAX_FILE_LEN};
use licence_protocol::series::SeriesKeys;
use licence_protocol::time::UtcTime;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Cryptkey and identity files are a few hundred bytes.
const MAX_SMALL_FILE: usize = 64 * 1024;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Issues DIR/{KeyID}.{KeyNo}.licence for one computer and prints its path.
    Issue(Box<Issue>),
    /// Verifies a key file and prints its fields as JSON.
    Show(Show),
    /// Issues a demo key for one computer from the vendor store's series, numbered by the store;
    /// writes DIR/{KeyID}.{KeyNo}.licence and prints its path.
    Demo(Box<Demo>),
    /// Prints, as JSON for support, an issued key: its fields, target, product, activation code and
    /// redemption history (no binding, no backup code).
    Export(KeyNo),
    /// Prints the key's current backup code (for a customer who lost it); it moves the key once.
    BackupCode(KeyNo),
}

#[derive(Args)]
pub struct KeyNo {
    /// The key's number.
    #[arg(long, value_name = "N")]
    key_no: u64,
}

#[derive(Args)]
pub struct Demo {
    /// The series (its cryptkey must be in the vendor store).
    #[arg(long, value_name = "KEYID")]
    series: SeriesId,
    /// The computer's `licenceserver identity` output (JSON with ComputerID and TargetKey); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    identity: PathBuf,
    /// Days the key works, from now.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    days: u32,
    /// Number of licences.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Flag numbers (0,2,5) or a binary string (flag 0 rightmost).
    #[arg(long, value_name = "FLAGS", default_value = "", value_parser = flag_list_arg)]
    flags: u64,
    /// `ProductName`.
    #[arg(long, value_name = "NAME", default_value = "")]
    product: String,
    /// `ProductVersion`.
    #[arg(long, value_name = "V", default_value = "")]
    product_version: String,
    /// `Article`.
    #[arg(long, value_name = "A", default_value = "")]
    article: String,
    /// `RegNo` (default: R-{KeyNo}).
    #[arg(long, value_name = "R")]
    reg_no: Option<String>,
    /// Directory to write the key file to; it must exist.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
}

#[derive(Args)]
pub struct Issue {
    /// The series' {KeyID}.cryptkey; the key's KeyID is its series.
    #[arg(long, value_name = "FILE")]
    cryptkey: PathBuf,
    /// The computer's `licenceserver identity` output (JSON with ComputerID and TargetKey); `-` reads stdin.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["computer_id", "target_key"],
        required_unless_present_all = ["computer_id", "target_key"]
    )]
    identity: Option<PathBuf>,
    /// The computer's ComputerID, 40 hex digits (with --target-key, instead of --identity).
    #[arg(long, value_name = "HEX40", value_parser = computer_id_arg, requires = "target_key")]
    computer_id: Option<String>,
    /// The computer's public TargetKey, 64 hex digits (with --computer-id), as `licenceserver identity`
    /// prints it. It is public: the key's secrets are sealed to it.
    #[arg(long, value_name = "HEX64", value_parser = target_key_arg, requires = "computer_id")]
    target_key: Option<TargetKey>,
    /// The key's number, 1 or more.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    key_no: u64,
    /// The key's kind.
    #[arg(long = "type", value_enum, default_value_t = KeyType::Main)]
    key_type: KeyType,
    /// Number of licences, 1 or more.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// When the key starts working (default: now). Dates are 2026-12-31 (00:00 UTC) or ISO 8601.
    #[arg(long, value_name = "DATE", value_parser = date_arg)]
    start: Option<UtcTime>,
    /// Days of validity from the start; 0 means no period.
    #[arg(long, value_name = "DAYS", default_value_t = 0)]
    period: u32,
    /// When the key stops working, whatever the period says (a bare date means 00:00 UTC of that day).
    #[arg(long, value_name = "DATE", value_parser = date_arg)]
    expire: Option<UtcTime>,
    /// The key's flags: decimal, 0x… or 0b… (flag 0 is the lowest bit).
    #[arg(long, value_name = "N", default_value = "0", value_parser = flags_arg)]
    flags: u64,
    /// `ProductName`: the configuration the key is for.
    #[arg(long, value_name = "NAME")]
    product: Option<String>,
    /// `ProductVersion`.
    #[arg(long, value_name = "V")]
    product_version: Option<String>,
    /// `Article`: the vendor's catalogue number.
    #[arg(long, value_name = "A")]
    article: Option<String>,
    /// `ArticleName`.
    #[arg(long, value_name = "NAME")]
    article_name: Option<String>,
    /// `RegNo`: the registration number.
    #[arg(long, value_name = "R")]
    reg_no: Option<String>,
    /// The licensee's taxpayer number (ИНН).
    #[arg(long, value_name = "ITN")]
    itn: Option<String>,
    /// The licensee's registration reason code (КПП).
    #[arg(long, value_name = "IEC")]
    iec: Option<String>,
    /// End of the update subscription.
    #[arg(long, value_name = "DATE", value_parser = date_arg)]
    support_date: Option<UtcTime>,
    /// Directory to write the key file to; it must exist. An older file of the same key is replaced.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Args)]
pub struct Show {
    /// The key file ({KeyID}.{KeyNo}.licence).
    file: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyType {
    Main,
    Additional,
    Demo,
}

impl From<KeyType> for KeyKind {
    fn from(t: KeyType) -> Self {
        match t {
            KeyType::Main => KeyKind::Main,
            KeyType::Additional => KeyKind::Additional,
            KeyType::Demo => KeyKind::Demo,
        }
    }
}

pub fn run(command: KeyCommand, vendor: &Vendor) -> Result<()> {
    match command {
        KeyCommand::Issue(args) => issue(*args),
        KeyCommand::Show(args) => show(&args.file),
        KeyCommand::Demo(args) => demo(*args, vendor),
        KeyCommand::Export(args) => {
            let export = vendor.open()?.key_export(args.key_no)?;
            crate::say(serde_json::to_string_pretty(&export)?)
        }
        KeyCommand::BackupCode(args) => crate::say(vendor.open()?.backup_code(args.key_no)?),
    }
}

fn demo(args: Demo, vendor: &Vendor) -> Result<()> {
    anyhow::ensure!(args.out.is_dir(), "output directory {} does not exist", args.out.display());
    let (computer_id, target) = read_identity(&args.identity)?;
    let mut store = vendor.open()?;
    let now = clock::now();
    let (fields, bytes) = store.issue_direct_key(args.series, &target, now, |key_no| KeyFields {
        key_no,
        key_id: args.series,
        reg_no: args.reg_no.clone().unwrap_or_else(|| format!("R-{key_no}")),
        key_type: KeyKind::Demo,
        licence_count: args.count,
        product_version: args.product_version.clone(),
        blank_key_no: None,
        activation_code: None,
        activation_date: None,
        start_date: now,
        period: args.days,
        expire_date: None,
        flags: args.flags,
        itn: None,
        iec: None,
        product_name: args.product.clone(),
        article: args.article.clone(),
        article_name: String::new(),
        support_date: None,
        computer_id,
    })?;
    let path = args.out.join(fields.file_name());
    keyfile::write_atomically(&path, &bytes)?;
    crate::say(path.display())
}

fn issue(args: Issue) -> Result<()> {
    if !args.out.is_dir() {
        anyhow::bail!("output directory {} does not exist", args.out.display());
    }
    let (computer_id, target) = target_computer(&args)?;
    let series = read_cryptkey(&args.cryptkey)?;
    let fields = KeyFields {
        key_no: args.key_no,
        key_id: series.series,
        reg_no: args.reg_no.unwrap_or_default(),
        key_type: args.key_type.into(),
        licence_count: args.count,
        product_version: args.product_version.unwrap_or_default(),
        blank_key_no: None,
        activation_code: None,
        activation_date: None,
        start_date: args.start.unwrap_or_else(clock::now),
        period: args.period,
        expire_date: args.expire,
        flags: args.flags,
        itn: args.itn,
        iec: args.iec,
        product_name: args.product.unwrap_or_default(),
        article: args.article.unwrap_or_default(),
        article_name: args.article_name.unwrap_or_default(),
        support_date: args.support_date,
        computer_id,
    };
    let bytes = keyfile::try_issue(&fields, &series, &target)?;
    let path = args.out.join(fields.file_name());
    keyfile::write_atomically(&path, &bytes)?;
    crate::say(path.display())
}

/// The ComputerID and target key from `--identity` or from `--computer-id` and `--target-key`.
fn target_computer(args: &Issue) -> Result<(String, TargetKey)> {
    if let Some(path) = &args.identity {
        return read_identity(path);
    }
    match (&args.computer_id, &args.target_key) {
        (Some(computer_id), Some(target)) => Ok((computer_id.clone(), *target)),
        _ => Err(anyhow!("give --identity, or both --computer-id and --target-key")),
    }
}

/// A `licenceserver identity` output: the computer's ComputerID and public target key. An identity
/// file of an earlier release (with a secret `Binding`) is refused with what to do.
fn read_identity(path: &Path) -> Result<(String, TargetKey)> {
    let bytes = Zeroizing::new(crate::read_limited(path, MAX_SMALL_FILE)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))?;
    let target = PublicTarget::from_json(text).with_context(|| format!("identity in {}", path.display()))?;
    target.parse().with_context(|| format!("identity in {}", path.display()))
}

fn read_cryptkey(path: &Path) -> Result<SeriesKeys> {
    let bytes = Zeroizing::new(crate::read_limited(path, MAX_SMALL_FILE)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))?;
    SeriesKeys::from_cryptkey(text).with_context(|| path.display().to_string())
}

fn show(path: &Path) -> Result<()> {
    let bytes = crate::read_limited(path, MAX_FILE_LEN)?;
    let verified = keyfile::verify(&bytes).with_context(|| path.display().to_string())?;
    let expected_name = verified.fields.file_name();
    if path.file_name().is_some_and(|name| name != expected_name.as_str()) {
        eprintln!("licenceedit: warning: the server loads this key only under the name {expected_name}");
    }
    let mut json = serde_json::to_value(&verified.fields)?;
    if let Some(object) = json.as_object_mut() {
        object.insert("SeriesPublicKey".into(), hex::encode(verified.series_public_key).into());
        object.insert("KeyPublicKey".into(), hex::encode(verified.key_public_key).into());
        object.insert("TargetKey".into(), verified.target_key.to_hex().into());
    }
    crate::say(serde_json::to_string_pretty(&json)?)
}

fn computer_id_arg(s: &str) -> Result<String, IdentityError> {
    parse_computer_id(s)
}

fn target_key_arg(s: &str) -> Result<TargetKey, IdentityError> {
    TargetKey::from_hex(s)
}
