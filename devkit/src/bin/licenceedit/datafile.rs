//! `licenceedit c` and `licenceedit l`: the datafile, the container of protected objects a vendor
//! embeds in its configuration (layout in `protocol/DATAFILE.md`). `c` packs files into one, each
//! object encrypted under a key only the series secret yields and the whole file signed by the
//! series key; `l` lists one without any secret. The short command names and `--serie` are those of
//! the original tool, which vendors' build scripts already call.

use crate::Vendor;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use licence_protocol::datafile::{self, Datafile, NewObject, ObjectKind, MAX_FILE_LEN, MAX_OBJECT_LEN};
use licence_protocol::key::SeriesId;
use licence_protocol::keyfile::write_atomically;
use licence_protocol::series::SeriesKeys;
use std::io::Read;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A cryptkey file is about 250 bytes.
const MAX_CRYPTKEY_FILE: usize = 64 * 1024;
/// Extensions packed as BSL text (checked to be UTF-8); every other file is packed as binary.
const TEXT_EXTENSIONS: [&str; 3] = ["bsl", "txt", "os"];

#[derive(Args)]
#[command(
    after_help = "Example: licenceedit c Protected.datafile Отчёт.epf Модуль.bsl -y --serie=672B --cryptkey=672B.cryptkey\n\
Each object is named after its file without the extension (Отчёт.epf is the object `Отчёт`); .bsl, .txt and .os \
files are BSL text (UTF-8), anything else binary."
)]
pub struct Create {
    /// The datafile to write (atomically).
    #[arg(value_name = "OUT")]
    out: PathBuf,
    /// The files to pack.
    #[arg(value_name = "FILE", required_unless_present = "name")]
    files: Vec<PathBuf>,
    /// Packs FILE under the object name NAME instead of its file name (repeatable).
    #[arg(long, value_name = "NAME=FILE", value_parser = name_arg)]
    name: Vec<(String, PathBuf)>,
    /// Replaces OUT if it exists; without it an existing OUT is an error.
    #[arg(short = 'y', long)]
    yes: bool,
    /// The series, four hex digits (672B). With --vendor-dir and no --cryptkey, its key is read
    /// from DIR/{serie}.cryptkey.
    #[arg(long, visible_alias = "series", value_name = "KEYID", required_unless_present = "cryptkey")]
    serie: Option<SeriesId>,
    /// The series' {KeyID}.cryptkey.
    #[arg(long, value_name = "FILE")]
    cryptkey: Option<PathBuf>,
}

#[derive(Args)]
pub struct List {
    /// The datafile.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Prints JSON instead of lines.
    #[arg(long)]
    json: bool,
}

pub fn create(args: Create, vendor: &Vendor) -> Result<()> {
    if args.out.symlink_metadata().is_ok() && !args.yes {
        bail!("{} already exists; give -y to replace it", args.out.display());
    }
    let series = series_keys(&args, vendor)?;
    let mut sources: Vec<(Option<String>, PathBuf)> = Vec::new();
    for file in &args.files {
        let renamed = args.name.iter().find(|(_, path)| path == file).map(|(name, _)| name.clone());
        sources.push((renamed, file.clone()));
    }
    for (name, path) in &args.name {
        if !args.files.contains(path) {
            sources.push((Some(name.clone()), path.clone()));
        }
    }
    let mut objects = Vec::with_capacity(sources.len());
    for (name, path) in sources {
        let name = match name {
            Some(name) => name,
            None => object_name(&path)?,
        };
        let content = read_object(&path)?;
        objects.push(NewObject { name, kind: kind_of(&path), content });
    }
    let bytes = datafile::pack(&series, &objects).with_context(|| args.out.display().to_string())?;
    drop(objects);
    let packed = datafile::parse(&bytes).context("the datafile just packed does not parse")?;
    write_atomically(&args.out, &bytes)?;
    for object in packed.objects() {
        crate::say(format_args!("{}\t{}\t{}", object.name, object.kind, object.size))?;
    }
    crate::say(format_args!(
        "{}: series {}, file id {}, {} object(s)",
        args.out.display(),
        packed.series,
        hex::encode(packed.file_id),
        packed.objects().len()
    ))
}

pub fn list(args: List, vendor: &Vendor) -> Result<()> {
    let bytes = read_limited(&args.file, MAX_FILE_LEN)?;
    let file = datafile::parse(&bytes).with_context(|| args.file.display().to_string())?;
    let pinned = pinned_key_matches(&file, vendor)?;
    if args.json {
        let objects: Vec<_> = file
            .objects()
            .iter()
            .map(|o| serde_json::json!({"Name": o.name, "Kind": o.kind.to_string(), "Size": o.size}))
            .collect();
        let mut json = serde_json::json!({
            "KeyID": file.series,
            "SeriesPublicKey": hex::encode(file.series_public_key),
            "FileID": hex::encode(file.file_id),
            "Signature": "valid",
            "Objects": objects,
        });
        if let (Some(matches), Some(map)) = (pinned, json.as_object_mut()) {
            map.insert("VendorKeyMatches".into(), matches.into());
        }
        return crate::say(serde_json::to_string_pretty(&json)?);
    }
    crate::say(format_args!("series {}", file.series))?;
    crate::say(format_args!("public key {}", hex::encode(file.series_public_key)))?;
    crate::say(format_args!("file id {}", hex::encode(file.file_id)))?;
    crate::say("signature valid")?;
    match pinned {
        Some(true) => crate::say(format_args!("signed by the vendor store's {}.pub", file.series))?,
        Some(false) => crate::say(format_args!("NOT signed by the vendor store's {}.pub", file.series))?,
        None => {}
    }
    crate::say(format_args!("objects {}", file.objects().len()))?;
    for object in file.objects() {
        crate::say(format_args!("{}\t{}\t{}", object.name, object.kind, object.size))?;
    }
    Ok(())
}

/// With a vendor store holding `{KeyID}.pub`, whether the file is signed by that key.
fn pinned_key_matches(file: &Datafile, vendor: &Vendor) -> Result<Option<bool>> {
    let Ok(dir) = vendor.dir() else { return Ok(None) };
    let path = dir.join(format!("{}.pub", file.series));
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let mut pinned = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut pinned).map_err(|_| anyhow!("{} is not 64 hex digits", path.display()))?;
    Ok(Some(pinned == file.series_public_key))
}

/// The series' keys from `--cryptkey`, else from the vendor store's `{serie}.cryptkey`.
fn series_keys(args: &Create, vendor: &Vendor) -> Result<SeriesKeys> {
    let path = match (&args.cryptkey, args.serie) {
        (Some(path), _) => path.clone(),
        (None, Some(serie)) => vendor
            .dir()
            .map_err(|_| anyhow!("give --cryptkey FILE, or --vendor-dir DIR holding {serie}.cryptkey"))?
            .join(format!("{serie}.cryptkey")),
        (None, None) => bail!("give --serie KEYID or --cryptkey FILE"),
    };
    let bytes = Zeroizing::new(read_limited(&path, MAX_CRYPTKEY_FILE)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))?;
    let keys = SeriesKeys::from_cryptkey(text).with_context(|| path.display().to_string())?;
    if let Some(serie) = args.serie {
        if keys.series != serie {
            bail!("{} holds series {}, not {serie}", path.display(), keys.series);
        }
    }
    Ok(keys)
}

/// The file name without its extension: `Отчёт.epf` is the object `Отчёт`.
fn object_name(path: &Path) -> Result<String> {
    let stem = path.file_stem().ok_or_else(|| anyhow!("{} has no file name", path.display()))?;
    stem.to_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the file name of {} is not UTF-8; name the object with --name", path.display()))
}

fn kind_of(path: &Path) -> ObjectKind {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match extension {
        Some(ext) if TEXT_EXTENSIONS.contains(&ext.as_str()) => ObjectKind::Text,
        _ => ObjectKind::Binary,
    }
}

/// A file to pack: a real file (not stdin), at most [`MAX_OBJECT_LEN`] bytes.
fn read_object(path: &Path) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        bail!("objects are read from files, not from standard input");
    }
    read_limited(path, MAX_OBJECT_LEN)
}

/// Reads at most `limit` bytes of `path`, refusing anything longer.
fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>> {
    let fail = || format!("cannot read {}", path.display());
    let file = std::fs::File::open(path).with_context(fail)?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes).with_context(fail)?;
    if bytes.len() > limit {
        bail!("{} is larger than {limit} bytes", path.display());
    }
    Ok(bytes)
}

/// `NAME=FILE` of `--name`.
fn name_arg(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => Ok((name.to_owned(), PathBuf::from(file))),
        _ => Err(format!("`{s}` is not NAME=FILE")),
    }
}
