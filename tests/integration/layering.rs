//! The reference provider and reporting import only downward (issue 16's rule: record <- net <-
//! protocol <- {cda, provider, reporting} <- harness): every `crate::` path in their sources
//! names a module of a layer below them or themselves. Both the flat names and the layered
//! ones (`net::`, `protocol::`, `record::`) are accepted, so the check holds across the move.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common;

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The `crate::` paths of `files` whose first two segments are not allowed, as `file: path`.
fn upward(files: &[std::path::PathBuf], allowed: &[&str]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("a source file");
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segments = path.split("::");
            let first = segments.next().unwrap_or_default();
            let two = format!("{first}::{}", segments.next().unwrap_or_default());
            if !allowed.contains(&first) && !allowed.contains(&two.as_str()) {
                found.insert(format!(
                    "{}: crate::{path}",
                    file.strip_prefix(common::root()).unwrap_or(file).display()
                ));
            }
        }
    }
    found
}

/// The network layer and the wire vocabulary, under their flat and their layered names.
const BELOW: &[&str] = &[
    "protocol", "contract", "rules", "net", "pki", "tls", "jwt", "recorder", "server",
];

#[test]
fn the_reference_provider_imports_only_protocol_and_the_network_layer() {
    let files = sources(&common::root().join("src/provider"));
    let mut allowed = vec!["provider"];
    allowed.extend(BELOW);
    let found = upward(&files, &allowed);
    assert!(
        found.is_empty(),
        "the reference provider imports a module above it (the harness builds what it needs): {found:#?}"
    );
}

#[test]
fn reporting_imports_only_downward() {
    let files = sources(&common::root().join("src/reporting"));
    // The run log's vocabulary is the record layer (today under evidence::).
    let mut allowed = vec![
        "reporting",
        "record",
        "evidence::record",
        "evidence::runlog",
    ];
    allowed.extend(BELOW);
    let found = upward(&files, &allowed);
    assert!(
        found.is_empty(),
        "reporting imports a module above it (its configuration is handed to it): {found:#?}"
    );
}
