//! Three jobs before the crate is compiled:
//!
//! - Builds the feature files and test packs into the binary (`src/harness/bundled.rs`), so that an
//!   installed `pdp-harness` runs outside the checkout. The list is generated from the folders,
//!   so a feature file added there is built in without editing code.
//! - Tells the tests whether the official MaPS OpenAPI files are present. Cross-check tests read
//!   them from `PDP_SPECS_DIR` (default `../shared/specs/pdp`, beside the project). A fresh clone
//!   has no such folder: those tests are then compiled as ignored, with the reason, instead of
//!   failing (`cfg(pdp_specs_absent)`). Likewise for MaPS's dashboard view data schema in
//!   `../shared/specs/maps-dashboard/` (`cfg(maps_dashboard_specs)` when present).
//! - Deflates the PDF's two embedded fonts once, here, so that rendering a PDF does not spend
//!   most of its time compressing the same 1.4 MB again (`src/evidence/pdf/mod.rs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|x| x == ext) {
            out.push(path);
        }
    }
}

fn table(name: &str, root: &Path, dir: &str, ext: &str) -> String {
    let mut found = Vec::new();
    files(&root.join(dir), ext, &mut found);
    let mut text = format!("pub static {name}: &[(&str, &str)] = &[\n");
    for path in found {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let _ = writeln!(
            text,
            "    ({rel:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    text.push_str("];\n");
    text
}

/// `cfg(pdp_specs_absent)` when the MaPS OpenAPI files are not where the tests look.
fn specs(root: &Path) {
    println!("cargo::rustc-check-cfg=cfg(pdp_specs_absent)");
    println!("cargo::rerun-if-env-changed=PDP_SPECS_DIR");
    let dir = match std::env::var("PDP_SPECS_DIR") {
        Ok(d) if !d.is_empty() => root.join(d),
        _ => root.join("../shared/specs/pdp"),
    };
    // A missing path makes cargo re-run this script on every build, so a folder that appears
    // later is noticed; a present one is watched for removal.
    println!("cargo::rerun-if-changed={}", dir.display());
    println!("cargo::rustc-env=PDP_SPECS_DIR_RESOLVED={}", dir.display());
    if !dir.join("reporting-api-v2_1.yaml").is_file() {
        println!("cargo::rustc-cfg=pdp_specs_absent");
    }
}

/// `cfg(curl_absent)` when no `curl` runs here and this is not CI: the test that drives the
/// simulator with curl (as an organisation tries it by hand) is then reported ignored. In CI
/// (`CI=true`, where `.ci/run` installs curl) it always runs, so a missing curl fails loudly.
fn curl() {
    println!("cargo::rustc-check-cfg=cfg(curl_absent)");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=PATH");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let runs = std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ci && !runs {
        println!("cargo::rustc-cfg=curl_absent");
    }
}

/// `OUT_DIR/<font>.zlib`: each font of `src/evidence/fonts`, zlib-deflated at the best level.
fn deflated_fonts(root: &Path) {
    use std::io::Write as _;
    println!("cargo::rerun-if-changed=src/evidence/fonts");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    for name in ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"] {
        let path = root.join("src/evidence/fonts").join(name);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("could not read {}: {e}", path.display()));
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let deflated = encoder
            .write_all(&bytes)
            .and_then(|()| encoder.finish())
            .unwrap_or_else(|e| panic!("could not deflate {}: {e}", path.display()));
        let target = out.join(format!("{name}.zlib"));
        if let Err(e) = std::fs::write(&target, deflated) {
            panic!("could not write {}: {e}", target.display());
        }
    }
}

fn main() {
    curl();
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    deflated_fonts(&root);
    println!("cargo::rustc-check-cfg=cfg(maps_dashboard_specs)");
    println!("cargo::rerun-if-changed=../shared/specs/maps-dashboard");
    if root
        .join("../shared/specs/maps-dashboard/ViewDataPayload.strict.json")
        .is_file()
    {
        println!("cargo::rustc-cfg=maps_dashboard_specs");
    }
    println!("cargo:rerun-if-changed=features");
    println!("cargo:rerun-if-changed=testpacks");
    specs(&root);
    let mut text = String::from("// Generated by build.rs from features/ and testpacks/.\n");
    text.push_str(&table("FEATURES", &root, "features", "feature"));
    text.push_str(&table("TESTPACKS", &root, "testpacks", "toml"));
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("bundled.rs");
    if let Err(e) = std::fs::write(&out, text) {
        panic!("could not write {}: {e}", out.display());
    }
}
