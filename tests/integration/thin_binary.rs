//! `pdp-harness clear` clears down through the typed hook a run uses, not hand-written HTTP
//! (issue 16; that the binary is thin and clap stays in it is checked in `layers.rs`).

use std::path::{Path, PathBuf};

use super::common;

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
