//! `gen-headers`: writes the headers into `ffi-headers/include/`, or with `--check` says whether the
//! checked-in ones are what the description renders (exit 1 when they drifted).
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let check = std::env::args().skip(1).any(|a| a == "--check");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let mut drifted = false;
    for (name, text) in licence_ffi_headers::headers() {
        let path = dir.join(name);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                eprintln!("gen-headers: {} differs from the ABI description", path.display());
                drifted = true;
            }
        } else if let Err(e) = std::fs::write(&path, text) {
            eprintln!("gen-headers: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        } else {
            println!("{}", path.display());
        }
    }
    if drifted {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
