//! The binary is thin (issue 16): `main.rs` parses and dispatches, the subcommands' argument
//! handling lives in `src/cli/`, and the library neither uses clap nor leaves `clear` to
//! hand-written HTTP: `pdp-harness clear` clears down through the typed hook a run uses.

use std::path::{Path, PathBuf};

use super::common;

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("source directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn no_library_module_uses_clap() {
    let src = common::root().join("src");
    let offenders: Vec<String> = sources(&src)
        .into_iter()
        .filter(|p| p != &src.join("main.rs") && !p.starts_with(src.join("cli")))
        .filter(|p| {
            std::fs::read_to_string(p)
                .expect("readable")
                .lines()
                .any(|l| !l.trim_start().starts_with("//") && l.contains("clap::"))
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "clap belongs to src/cli/: {offenders:?}"
    );
}

#[test]
fn main_and_the_files_split_for_it_stay_small() {
    let root = common::root();
    for (file, limit) in [
        ("src/main.rs", 150),
        ("src/harness/environment.rs", 800),
        ("src/harness/testpack.rs", 800),
    ] {
        let lines = std::fs::read_to_string(root.join(file))
            .expect("readable")
            .lines()
            .count();
        assert!(lines <= limit, "{file} has {lines} lines (at most {limit})");
    }
}

/// A target file naming only a clear-down `command`.
fn command_target(dir: &Path, argv: &[&str]) -> PathBuf {
    let path = dir.join("target.toml");
    let argv: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    std::fs::write(
        &path,
        format!(
            "[clear_down]\ncommand = [{}]\ntimeout_secs = 30\n",
            argv.join(", ")
        ),
    )
    .expect("target written");
    path
}

#[test]
fn clear_runs_the_target_files_clear_down_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("cleared");
    let target = command_target(dir.path(), &["touch", marker.to_str().expect("utf-8 path")]);
    let out = common::bin()
        .args(["clear", "--target"])
        .arg(&target)
        .output()
        .expect("runs");
    let text = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "cleared down: touch {} exited 0",
            marker.display()
        )),
        "{text}"
    );
    assert!(marker.is_file(), "the command ran");
}

#[test]
fn a_failing_clear_down_command_is_could_not_run_with_its_stderr() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = command_target(
        dir.path(),
        &["sh", "-c", "echo no test data to clear here >&2; exit 3"],
    );
    let out = common::bin()
        .args(["clear", "--target"])
        .arg(&target)
        .output()
        .expect("runs");
    let text = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("the clear-down command sh failed")
            && text.contains("no test data to clear here"),
        "{text}"
    );
}

#[test]
fn clear_without_a_hook_says_how_to_give_one() {
    let out = common::bin().arg("clear").output().expect("runs");
    let text = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("say how to clear down: --provider URL"),
        "{text}"
    );
}
