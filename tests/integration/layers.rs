//! The source tree's shape, checked so it cannot drift: modules import only the layers below
//! them (README, "Design in a few lines"), the library does not parse command lines, and no
//! source file grows past the size a newcomer can read in one sitting.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common;

/// Each top-level module's layer; a module may import only modules of a lower layer.
/// `evidence` is apart: it renders the run record and may import `record` alone.
const LAYERS: &[(&str, u8)] = &[
    ("record", 0),
    ("net", 1),
    ("protocol", 2),
    ("cda", 3),
    ("provider", 3),
    ("reporting", 3),
    ("evidence", 4),
    ("harness", 5),
    ("runner", 6),
    ("app", 7),
];

/// Longest source file allowed, in lines.
const MAX_LINES: usize = 800;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The library's files (not the binary's `main.rs` and `cli/`), with their top-level module.
fn library_files() -> Vec<(String, PathBuf)> {
    let src = common::root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(&src).expect("under src").to_path_buf();
            let first = rel.components().next()?.as_os_str().to_string_lossy();
            let module = first.trim_end_matches(".rs").to_owned();
            (!["main", "cli", "lib"].contains(&module.as_str())).then_some((module, path))
        })
        .collect()
}

/// Every `crate::<module>` a file names (in `use` lines and in paths alike).
fn imported_modules(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\bcrate::([a-z_]+)").expect("regex");
    re.captures_iter(text).map(|c| c[1].to_owned()).collect()
}

#[test]
fn modules_import_only_the_layers_below_them() {
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, path) in library_files() {
        let Some(&own) = layer.get(module.as_str()) else {
            wrong.push(format!(
                "{}: module `{module}` has no layer (add it to LAYERS and to README's design section)",
                path.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("read source");
        for imported in imported_modules(&text) {
            if imported == module {
                continue;
            }
            let allowed = match (module.as_str(), layer.get(imported.as_str())) {
                ("evidence", _) => imported == "record",
                (_, Some(&theirs)) => theirs < own,
                (_, None) => false,
            };
            if !allowed {
                wrong.push(format!(
                    "{}: `{module}` imports `{imported}`",
                    path.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up or sideways:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_library_does_not_parse_command_lines() {
    let users: Vec<String> = library_files()
        .into_iter()
        .filter(|(_, path)| {
            std::fs::read_to_string(path)
                .expect("read source")
                .contains("clap::")
        })
        .map(|(_, path)| path.display().to_string())
        .collect();
    assert!(
        users.is_empty(),
        "clap belongs to the binary (src/main.rs, src/cli/): {users:?}"
    );
}

#[test]
fn no_source_file_is_longer_than_a_sitting() {
    let mut files = Vec::new();
    rust_files(&common::root().join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(path).expect("read").lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "source files over {MAX_LINES} lines (split them by concept): {long:?}"
    );
}

#[test]
fn the_binary_is_thin() {
    let main = std::fs::read_to_string(common::root().join("src/main.rs")).expect("main.rs");
    let lines = main.lines().count();
    assert!(
        lines <= 150,
        "src/main.rs is {lines} lines: parsing, dispatch and exit code belong there, the rest in src/cli/ or the library"
    );
}
