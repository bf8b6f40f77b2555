//! The layers point one way: in no crate of the workspace do two top-level modules import each other,
//! directly or round a loop. A module's imports are the `crate::…` paths its files name (test modules
//! included: a test that reaches up a layer is a cycle too).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates whose module graphs are checked.
const CRATES: [&str; 11] = [
    "protocol",
    "server",
    "devkit",
    "nativeapi",
    "addin",
    "addin/client",
    "logfile",
    "ffi-headers",
    "manifest",
    "bench",
    "testkit",
];

/// Each top-level module of the crate at `src` with the files it is made of (`bin/` is not a module).
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap().map(Result::unwrap) {
        let (path, name) = (entry.path(), entry.file_name().to_string_lossy().into_owned());
        if let Some(stem) = name.strip_suffix(".rs") {
            if stem != "lib" && stem != "main" {
                modules.entry(stem.to_owned()).or_insert_with(Vec::new).push(path);
            }
        } else if path.is_dir() && name != "bin" {
            modules.entry(name).or_insert_with(Vec::new).extend(rust_files(&path));
        }
    }
    modules
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level modules named by `crate::name` or `crate::{name, …}` in `text` (comments skipped).
fn named_modules(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                names.extend(inner.split(',').map(|part| ident(part.trim())).filter(|n| !n.is_empty()));
            } else {
                names.insert(ident(rest));
            }
        }
    }
    names
}

/// Every loop of the module graph, each as its modules in order from the smallest name.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<Vec<String>> {
    fn walk(edges: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, found: &mut BTreeSet<Vec<String>>) {
        let last = path.last().unwrap().clone();
        for next in &edges[&last] {
            if *next == path[0] {
                let smallest = path.iter().enumerate().min_by_key(|(_, m)| *m).unwrap().0;
                let mut cycle = path.clone();
                cycle.rotate_left(smallest);
                found.insert(cycle);
            } else if !path.contains(next) && path.len() < 8 {
                path.push(next.clone());
                walk(edges, path, found);
                path.pop();
            }
        }
    }
    let mut found = BTreeSet::new();
    for start in edges.keys() {
        walk(edges, &mut vec![start.clone()], &mut found);
    }
    found
}

#[test]
fn no_crate_has_an_import_cycle() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut said = Vec::new();
    for krate in CRATES {
        let modules = modules(&workspace.join(krate).join("src"));
        let edges: BTreeMap<String, BTreeSet<String>> = modules
            .iter()
            .map(|(name, files)| {
                let named = files.iter().flat_map(|f| named_modules(&std::fs::read_to_string(f).unwrap()));
                (name.clone(), named.filter(|n| n != name && modules.contains_key(n)).collect())
            })
            .collect();
        said.extend(cycles(&edges).into_iter().map(|c| format!("{krate}: {}", c.join(" → "))));
    }
    assert!(said.is_empty(), "modules that import each other:\n{}", said.join("\n"));
}

#[test]
fn the_checker_sees_a_loop_and_grouped_imports() {
    assert_eq!(
        named_modules("use crate::{app::App, http};\nlet x = crate::clock::now(); // crate::nothing"),
        ["app", "clock", "http"].map(String::from).into()
    );
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), ["b".to_owned()].into()),
        ("b".to_owned(), ["c".to_owned()].into()),
        ("c".to_owned(), ["a".to_owned()].into()),
        ("d".to_owned(), BTreeSet::new()),
    ]
    .into();
    assert_eq!(cycles(&edges), [vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]].into());
}
