//! The add-in's bundle: a zip with `MANIFEST.XML` at its root naming one native library per OS and
//! architecture, which the vendor puts into a common template of the configuration; the platform
//! picks the library for the computer it runs on. This crate finds whichever builds of the add-in
//! exist, names them inside the zip and writes both.
#![forbid(unsafe_code)]

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

/// A platform the add-in is built for, as the manifest names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// `os` attribute: `Windows` or `Linux`.
    pub os: &'static str,
    /// `arch` attribute: `i386` or `x86_64`.
    pub arch: &'static str,
    /// The Rust target that builds it.
    pub target: &'static str,
    /// What cargo names the library.
    pub built_as: &'static str,
    /// Its name inside the bundle (unique across platforms).
    pub bundled_as: &'static str,
}

/// Every platform of the manifest, in the order the manifest lists them.
pub const PLATFORMS: [Platform; 4] = [
    Platform {
        os: "Windows",
        arch: "i386",
        target: "i686-pc-windows-gnu",
        built_as: "licenceaddin.dll",
        bundled_as: "LicenceAddIn_Windows_i386.dll",
    },
    Platform {
        os: "Windows",
        arch: "x86_64",
        target: "x86_64-pc-windows-gnu",
        built_as: "licenceaddin.dll",
        bundled_as: "LicenceAddIn_Windows_x86_64.dll",
    },
    Platform {
        os: "Linux",
        arch: "i386",
        target: "i686-unknown-linux-gnu",
        built_as: "liblicenceaddin.so",
        bundled_as: "LicenceAddIn_Linux_i386.so",
    },
    Platform {
        os: "Linux",
        arch: "x86_64",
        target: "x86_64-unknown-linux-gnu",
        built_as: "liblicenceaddin.so",
        bundled_as: "LicenceAddIn_Linux_x86_64.so",
    },
];

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("no build of the add-in found under {0} (build it with `cargo build --release -p licenceaddin`)")]
    NothingBuilt(String),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write the bundle: {0}")]
    Write(String),
}

/// One library that goes into the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub platform: Platform,
    pub file: PathBuf,
}

/// The builds that exist under `target_dir` for `profile` (`release`, `debug`): cross builds in
/// `{target_dir}/{triple}/{profile}/`, the host's own build in `{target_dir}/{profile}/`.
pub fn find_builds(target_dir: &Path, profile: &str, host_target: &str) -> Vec<Entry> {
    PLATFORMS
        .iter()
        .filter_map(|p| {
            let cross = target_dir.join(p.target).join(profile).join(p.built_as);
            let native = target_dir.join(profile).join(p.built_as);
            let file = if cross.is_file() {
                cross
            } else if p.target == host_target && native.is_file() {
                native
            } else {
                return None;
            };
            Some(Entry { platform: *p, file })
        })
        .collect()
}

/// `MANIFEST.XML` for these entries.
pub fn manifest_xml(entries: &[Entry]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<bundle xmlns=\"http://v8.1c.ru/8.2/addin/bundle\">\n",
    );
    for e in entries {
        let p = e.platform;
        xml.push_str(&format!(
            "\t<component os=\"{}\" path=\"{}\" type=\"native\" arch=\"{}\"/>\n",
            p.os, p.bundled_as, p.arch
        ));
    }
    xml.push_str("</bundle>\n");
    xml
}

/// Writes the zip: `MANIFEST.XML` first, then each library under its bundled name.
pub fn write_bundle<W: Write + Seek>(out: W, entries: &[Entry]) -> Result<W, BundleError> {
    if entries.is_empty() {
        return Err(BundleError::NothingBuilt("the given folder".into()));
    }
    let write = |e: zip::result::ZipError| BundleError::Write(e.to_string());
    let mut zip = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    zip.start_file("MANIFEST.XML", options).map_err(write)?;
    zip.write_all(manifest_xml(entries).as_bytes()).map_err(|e| BundleError::Write(e.to_string()))?;
    for e in entries {
        let bytes = std::fs::read(&e.file)
            .map_err(|err| BundleError::Read { path: e.file.display().to_string(), reason: err.to_string() })?;
        zip.start_file(e.platform.bundled_as, options).map_err(write)?;
        zip.write_all(&bytes).map_err(|err| BundleError::Write(err.to_string()))?;
    }
    zip.finish().map_err(write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_names_each_build_once_in_the_platforms_shape() {
        let entries = [Entry { platform: PLATFORMS[3], file: "x.so".into() }];
        assert_eq!(
            manifest_xml(&entries),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<bundle xmlns=\"http://v8.1c.ru/8.2/addin/bundle\">\n\t<component os=\"Linux\" path=\"LicenceAddIn_Linux_x86_64.so\" type=\"native\" arch=\"x86_64\"/>\n</bundle>\n"
        );
    }

    #[test]
    fn manifest_lists_all_four_platforms_in_order() {
        let entries: Vec<Entry> = PLATFORMS.iter().map(|p| Entry { platform: *p, file: p.built_as.into() }).collect();
        assert_eq!(
            manifest_xml(&entries),
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<bundle xmlns=\"http://v8.1c.ru/8.2/addin/bundle\">\n",
                "\t<component os=\"Windows\" path=\"LicenceAddIn_Windows_i386.dll\" type=\"native\" arch=\"i386\"/>\n",
                "\t<component os=\"Windows\" path=\"LicenceAddIn_Windows_x86_64.dll\" type=\"native\" arch=\"x86_64\"/>\n",
                "\t<component os=\"Linux\" path=\"LicenceAddIn_Linux_i386.so\" type=\"native\" arch=\"i386\"/>\n",
                "\t<component os=\"Linux\" path=\"LicenceAddIn_Linux_x86_64.so\" type=\"native\" arch=\"x86_64\"/>\n",
                "</bundle>\n"
            )
        );
    }

    #[test]
    fn each_platform_is_the_library_its_rust_target_builds() {
        for p in PLATFORMS {
            let (os, arch) = match p.target.split('-').collect::<Vec<_>>()[..] {
                [arch, _, "windows", "gnu"] => ("Windows", arch),
                [arch, "unknown", "linux", "gnu"] => ("Linux", arch),
                _ => panic!("unexpected target {}", p.target),
            };
            assert_eq!(p.os, os, "{}", p.target);
            assert_eq!(p.arch, if arch == "i686" { "i386" } else { arch }, "{}", p.target);
            let ext = if os == "Windows" { ".dll" } else { ".so" };
            assert!(p.built_as.ends_with(ext) && p.bundled_as.ends_with(ext), "{p:?}");
            assert_eq!(
                p.built_as.starts_with("lib"),
                os == "Linux",
                "cargo names a cdylib lib*.so only on Linux: {p:?}"
            );
            assert_eq!(p.bundled_as, format!("LicenceAddIn_{}_{}{ext}", p.os, p.arch));
        }
    }

    #[test]
    fn cross_builds_of_every_target_are_found_and_the_host_build_only_for_the_host() {
        let dir = std::env::temp_dir().join(format!("licence-bundle-find-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for p in &PLATFORMS[..3] {
            std::fs::create_dir_all(dir.join(p.target).join("release")).unwrap();
            std::fs::write(dir.join(p.target).join("release").join(p.built_as), p.target).unwrap();
        }
        std::fs::create_dir_all(dir.join("release")).unwrap();
        std::fs::write(dir.join("release/liblicenceaddin.so"), "host").unwrap();
        std::fs::write(dir.join("release/licenceaddin.dll"), "not this host's").unwrap();

        let found = find_builds(&dir, "release", "x86_64-unknown-linux-gnu");
        let platforms: Vec<Platform> = found.iter().map(|e| e.platform).collect();
        assert_eq!(platforms, PLATFORMS);
        assert_eq!(found[0].file, dir.join("i686-pc-windows-gnu/release/licenceaddin.dll"));
        assert_eq!(found[2].file, dir.join("i686-unknown-linux-gnu/release/liblicenceaddin.so"));
        assert_eq!(found[3].file, dir.join("release/liblicenceaddin.so"));
        assert!(find_builds(&dir, "debug", "x86_64-unknown-linux-gnu").is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bundled_names_are_unique() {
        let mut names: Vec<&str> = PLATFORMS.iter().map(|p| p.bundled_as).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PLATFORMS.len());
    }
}
