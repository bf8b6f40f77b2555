//! The checked-in headers are exactly what the description (`licence-nativeapi`) renders, they
//! carry every described number as a static assertion, and a C and a C++ compiler accept them on
//! this platform — which evaluates the assertions of this platform's measured layout.

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
            "ffi-headers/include/{name} drifted from the description in nativeapi/: run `cargo run -p licence-ffi-headers`"
        );
    }
}

/// The numbers the Rust side is checked against at compile time (every layout entry, every slot
/// count, every type code) are the ones the headers assert, platform by platform.
#[test]
fn the_headers_assert_every_described_number() {
    use licence_nativeapi::{Target, INTERFACES, TYPE_CODES, VARIANT_LAYOUTS};
    let types = licence_ffi_headers::render::types_header();
    for layout in VARIANT_LAYOUTS {
        let platform = layout.target.name();
        let start = types.find(&format!("{} /* {platform} */", layout.target.condition())).expect(platform);
        let block = &types[start..];
        let block = &block[..block.find("\n#e").unwrap()];
        for (expr, value) in [
            ("sizeof(tVariant)", layout.size),
            ("offsetof(tVariant, pwstrVal)", layout.pointer),
            ("offsetof(tVariant, wstrLen)", layout.length),
            ("offsetof(tVariant, cbElements)", layout.cb_elements),
            ("offsetof(tVariant, vt)", layout.vt),
            ("sizeof(struct tm)", layout.tm),
        ] {
            assert!(block.contains(&format!("({expr} == {value}, ")), "{expr} == {value} on {platform}:\n{block}");
        }
    }
    assert_eq!(VARIANT_LAYOUTS.map(|l| l.target), Target::ALL);
    for (name, code) in TYPE_CODES {
        assert!(types.contains(&format!("    {name} = {code},\n")), "{name}");
    }
    let c = licence_ffi_headers::render::c_header();
    for interface in INTERFACES {
        let count = format!("sizeof({}Vtbl) == ", interface.name);
        let line = c.lines().find(|l| l.contains(&count)).expect(interface.name);
        assert!(line.contains(&format!(" + {} * sizeof(void*)", interface.methods.len())), "{line}");
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
