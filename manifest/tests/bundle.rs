//! The bundle command against a made-up target folder: the zip holds MANIFEST.XML first and each
//! library under its bundled name, byte for byte; with no build it fails with a clear message.

use std::io::Read;

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("licence-bundle-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bundles_every_build_found() {
    let target = scratch("found");
    std::fs::create_dir_all(target.join("release")).unwrap();
    std::fs::write(target.join("release/liblicenceaddin.so"), b"linux64 library").unwrap();
    std::fs::create_dir_all(target.join("x86_64-pc-windows-gnu/release")).unwrap();
    std::fs::write(target.join("x86_64-pc-windows-gnu/release/licenceaddin.dll"), b"win64 library").unwrap();
    let out = target.join("bundle.zip");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_licencebundle"))
        .args(["--target-dir", target.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!(zip.by_index(0).unwrap().name().unwrap(), "MANIFEST.XML");
    let mut manifest = String::new();
    zip.by_name("MANIFEST.XML").unwrap().read_to_string(&mut manifest).unwrap();
    assert!(
        manifest.contains(
            r#"<component os="Windows" path="LicenceAddIn_Windows_x86_64.dll" type="native" arch="x86_64"/>"#
        ),
        "{manifest}"
    );
    assert!(
        manifest.contains(r#"<component os="Linux" path="LicenceAddIn_Linux_x86_64.so" type="native" arch="x86_64"/>"#),
        "{manifest}"
    );
    assert!(!manifest.contains("i386"), "only what was built: {manifest}");
    let mut lib = Vec::new();
    zip.by_name("LicenceAddIn_Linux_x86_64.so").unwrap().read_to_end(&mut lib).unwrap();
    assert_eq!(lib, b"linux64 library");
    std::fs::remove_dir_all(&target).unwrap();
}

#[test]
fn bundles_all_four_platforms_as_build_addin_leaves_them() {
    // scripts/build-addin.sh builds every platform as a cross build under target/addin/{triple}/release.
    let target = scratch("four");
    let builds = [
        ("i686-pc-windows-gnu", "licenceaddin.dll", "LicenceAddIn_Windows_i386.dll", "Windows", "i386"),
        ("x86_64-pc-windows-gnu", "licenceaddin.dll", "LicenceAddIn_Windows_x86_64.dll", "Windows", "x86_64"),
        ("i686-unknown-linux-gnu", "liblicenceaddin.so", "LicenceAddIn_Linux_i386.so", "Linux", "i386"),
        ("x86_64-unknown-linux-gnu", "liblicenceaddin.so", "LicenceAddIn_Linux_x86_64.so", "Linux", "x86_64"),
    ];
    for (triple, built_as, ..) in builds {
        std::fs::create_dir_all(target.join(triple).join("release")).unwrap();
        std::fs::write(target.join(triple).join("release").join(built_as), format!("library for {triple}")).unwrap();
    }
    let out = target.join("bundle.zip");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_licencebundle"))
        .args(["--target-dir", target.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let names: Vec<String> = (0..zip.len()).map(|i| zip.by_index(i).unwrap().name().unwrap().into_owned()).collect();
    let mut expected = vec!["MANIFEST.XML".to_owned()];
    expected.extend(builds.iter().map(|b| b.2.to_owned()));
    assert_eq!(names, expected);

    let mut manifest = String::new();
    zip.by_name("MANIFEST.XML").unwrap().read_to_string(&mut manifest).unwrap();
    let components: Vec<&str> = manifest.lines().filter(|l| l.contains("<component ")).map(str::trim).collect();
    let wanted: Vec<String> = builds
        .iter()
        .map(|(_, _, path, os, arch)| format!(r#"<component os="{os}" path="{path}" type="native" arch="{arch}"/>"#))
        .collect();
    assert_eq!(components, wanted, "{manifest}");

    for (triple, _, bundled_as, ..) in builds {
        let mut lib = String::new();
        zip.by_name(bundled_as).unwrap().read_to_string(&mut lib).unwrap();
        assert_eq!(lib, format!("library for {triple}"));
    }
    std::fs::remove_dir_all(&target).unwrap();
}

#[test]
fn no_build_is_a_clear_error() {
    let target = scratch("empty");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_licencebundle"))
        .args(["--target-dir", target.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("no build of the add-in found"), "{err}");
    std::fs::remove_dir_all(&target).unwrap();
}
