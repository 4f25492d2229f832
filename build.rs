//! Tells the tests whether the official MaPS OpenAPI files are present.
//!
//! Cross-check tests read them from `PDP_SPECS_DIR` (default `../shared/specs/pdp`, beside the
//! project). A fresh clone has no such folder: those tests are then compiled as ignored, with the
//! reason, instead of failing (`cfg(pdp_specs_absent)`).
use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pdp_specs_absent)");
    println!("cargo::rerun-if-env-changed=PDP_SPECS_DIR");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = match std::env::var("PDP_SPECS_DIR") {
        Ok(d) if !d.is_empty() => manifest.join(d),
        _ => manifest.join("../shared/specs/pdp"),
    };
    // A missing path makes cargo re-run this script on every build, so a folder that appears
    // later is noticed; a present one is watched for removal.
    println!("cargo::rerun-if-changed={}", dir.display());
    println!("cargo::rustc-env=PDP_SPECS_DIR_RESOLVED={}", dir.display());
    if !dir.join("reporting-api-v2_1.yaml").is_file() {
        println!("cargo::rustc-cfg=pdp_specs_absent");
    }
}
