//! Compiles `virtual_calls.cpp` against the generated `nativeapi.hpp` and runs it against the built
//! add-in: real C++ virtual calls through every base of the component object.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

#[test]
fn a_cpp_host_makes_virtual_calls_into_the_addin() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built =
        Command::new(cargo).current_dir(workspace()).args(["build", "-q", "-p", "licenceaddin"]).status().unwrap();
    assert!(built.success(), "the add-in builds");
    // The add-in is built into the target folder this test runs from (…/debug/deps/virtual_calls-…),
    // wherever CARGO_TARGET_DIR puts it: the nested cargo inherits that setting.
    let exe = std::env::current_exe().unwrap();
    let library = exe.parent().and_then(Path::parent).unwrap().join("liblicenceaddin.so");
    let dir = std::env::temp_dir().join(format!("ffi-virtual-calls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("virtual_calls");
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let compiled = Command::new("c++")
        .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(here.join("include"))
        .arg(here.join("tests/virtual_calls.cpp"))
        .arg("-o")
        .arg(&program)
        .arg("-ldl")
        .output()
        .unwrap();
    assert!(compiled.status.success(), "c++ refused:\n{}", String::from_utf8_lossy(&compiled.stderr));
    let run = Command::new(&program).arg(&library).output().unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{out}{}", String::from_utf8_lossy(&run.stderr));
    assert!(out.ends_with("0 failed\n"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
