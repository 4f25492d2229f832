//! The feature files and the integration test pack, built into the binary.
//!
//! An organisation that installs pdp-harness (`cargo install --path .`) runs it from its own
//! directories, where no `features/` or `testpacks/` exist: the built-in copies are used unless
//! `--features`/`--testpacks` name others, and `pdp-harness features export DIR` writes them out
//! for editing. The runner reads feature files from a directory, so the built-in ones are written
//! once to a folder named by their digest under the system's temporary directory, where every run
//! of the same build finds them unchanged.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The pack file every run uses, relative to the test packs directory.
pub const INTEGRATION_PACK: &str = "integration/pack.toml";

/// How built-in files are named in the evidence, in place of their temporary copy's path.
pub const BUILT_IN: &str = "built-in";

#[derive(Debug, Error)]
pub enum BundledError {
    #[error("could not write the built-in {what} to {path}: {source}")]
    Write {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} already exists; give an empty or new directory (or --force to overwrite)")]
    Exists { path: PathBuf },
}

/// Where the built-in inputs of this build are written: one folder per content digest.
fn cache_root() -> PathBuf {
    let mut hash = Sha256::new();
    for (path, text) in FEATURES.iter().chain(TESTPACKS) {
        hash.update(path.as_bytes());
        hash.update([0]);
        hash.update(text.as_bytes());
        hash.update([0]);
    }
    let digest = hex::encode(hash.finalize());
    std::env::temp_dir().join(format!(
        "pdp-harness-{BUILT_IN}-{}-{}",
        env!("CARGO_PKG_VERSION"),
        &digest[..16]
    ))
}

/// Write `files` (paths relative to `root`) unless each is there already with that content.
/// A file is written beside its place and renamed, so a concurrent run never reads half of one.
fn write_all(
    root: &Path,
    files: &[(&str, &str)],
    what: &'static str,
    overwrite: bool,
) -> Result<(), BundledError> {
    let fail = |path: &Path, source| BundledError::Write {
        what,
        path: path.to_owned(),
        source,
    };
    for (rel, text) in files {
        let path = root.join(rel);
        if let Ok(existing) = std::fs::read(&path) {
            if existing == text.as_bytes() {
                continue;
            }
            if !overwrite {
                return Err(BundledError::Exists { path });
            }
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(parent, e))?;
        }
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        std::fs::write(&partial, text).map_err(|e| fail(&partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| fail(&path, e))?;
    }
    Ok(())
}

/// The directory holding the built-in feature files, written on first use.
pub fn features_dir() -> Result<PathBuf, BundledError> {
    let root = cache_root();
    write_all(&root, FEATURES, "feature files", true)?;
    Ok(root.join("features"))
}

/// The directory holding the built-in test packs, written on first use.
pub fn testpacks_dir() -> Result<PathBuf, BundledError> {
    let root = cache_root();
    write_all(&root, TESTPACKS, "test packs", true)?;
    Ok(root.join("testpacks"))
}

/// `features export DIR`: the feature files and test packs as `DIR/features/…` and
/// `DIR/testpacks/…`, refusing to overwrite an edited copy unless `overwrite`.
pub fn export(dir: &Path, overwrite: bool) -> Result<Vec<PathBuf>, BundledError> {
    write_all(dir, FEATURES, "feature files", overwrite)?;
    write_all(dir, TESTPACKS, "test packs", overwrite)?;
    Ok(FEATURES
        .iter()
        .chain(TESTPACKS)
        .map(|(rel, _)| dir.join(rel))
        .collect())
}

/// `built-in:features/x.feature` for a path inside the built-in copy; `None` for any other.
pub fn display(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(cache_root()).ok()?;
    Some(format!(
        "{BUILT_IN}:{}",
        rel.to_string_lossy().replace('\\', "/")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in list is generated from the folders; this catches a stale build.
    #[test]
    fn every_feature_file_and_pack_in_the_checkout_is_built_in() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (dir, ext, table) in [
            ("features", "feature", FEATURES),
            ("testpacks/integration", "toml", TESTPACKS),
        ] {
            for entry in std::fs::read_dir(root.join(dir)).expect("the folder is in the checkout") {
                let path = entry.expect("a directory entry").path();
                if path.extension().is_some_and(|x| x == ext) {
                    let rel = path
                        .strip_prefix(root)
                        .expect("under the root")
                        .to_string_lossy()
                        .replace('\\', "/");
                    let text = std::fs::read_to_string(&path).expect("readable");
                    assert!(
                        table.iter().any(|(r, t)| *r == rel && *t == text),
                        "{rel} is not built in as it is on disk"
                    );
                }
            }
        }
        assert!(TESTPACKS.iter().any(|(r, _)| r.ends_with(INTEGRATION_PACK)));
    }

    #[test]
    fn export_writes_every_file_and_refuses_to_overwrite_an_edited_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let written = export(dir.path(), false).expect("export");
        assert_eq!(written.len(), FEATURES.len() + TESTPACKS.len());
        // Exporting again over identical files is fine.
        export(dir.path(), false).expect("export again");
        let edited = dir.path().join(FEATURES[0].0);
        std::fs::write(&edited, "Feature: edited\n").expect("edit");
        match export(dir.path(), false) {
            Err(BundledError::Exists { path }) => assert_eq!(path, edited),
            other => panic!("expected a refusal, got {other:?}"),
        }
        export(dir.path(), true).expect("overwrite");
        assert_eq!(
            std::fs::read_to_string(&edited).expect("read"),
            FEATURES[0].1
        );
    }

    #[test]
    fn the_built_in_copy_is_named_as_such() {
        let features = features_dir().expect("written");
        let file = features.join("connection_proving.feature");
        assert!(file.is_file());
        assert_eq!(
            display(&file).as_deref(),
            Some("built-in:features/connection_proving.feature")
        );
        assert_eq!(display(Path::new("features/x.feature")), None);
    }
}
