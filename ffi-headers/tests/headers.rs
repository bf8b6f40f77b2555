//! The checked-in headers are exactly what the ABI description renders, and a C and a C++ compiler
//! accept them on this platform — which evaluates their static assertions of the measured layouts.

use std::path::{Path, PathBuf};
use std::process::Command;

fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

#[test]
fn checked_in_headers_match_the_description() {
    for (name, text) in licence_ffi_headers::headers() {
        let on_disk = std::fs::read_to_string(include_dir().join(name)).unwrap_or_default();
        assert!(
            on_disk == text,
            "ffi-headers/include/{name} drifted from src/abi.rs: run `cargo run -p licence-ffi-headers`"
        );
    }
}

fn compiles(compiler: &str, args: &[&str], source: &str, ext: &str) {
    let dir = std::env::temp_dir().join(format!("ffi-headers-{}-{ext}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("use.{ext}"));
    std::fs::write(&file, source).unwrap();
    let output = Command::new(compiler)
        .args(args)
        .arg("-I")
        .arg(include_dir())
        .arg("-fsyntax-only")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{compiler} must be installed (scripts/setup.sh): {e}"));
    assert!(output.status.success(), "{compiler} refused the header:\n{}", String::from_utf8_lossy(&output.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_c_header_compiles_and_its_layout_assertions_hold() {
    compiles(
        "cc",
        &["-std=c11", "-Wall", "-Wextra", "-Werror"],
        "#include \"nativeapi.h\"\nint main(void) { tVariant v = {0}; v.vt = VTYPE_PWSTR; GetClassNamesFn f = 0; (void)f; return (int)v.wstrLen; }\n",
        "c",
    );
}

#[test]
fn the_cpp_header_compiles_and_its_layout_assertions_hold() {
    compiles(
        "c++",
        &["-std=c++17", "-Wall", "-Wextra", "-Werror"],
        "#include \"nativeapi.hpp\"\nclass Probe : public IComponentBase {};\nint main() { tVariant v{}; v.vt = VTYPE_I4; return v.lVal; }\n",
        "cpp",
    );
}
