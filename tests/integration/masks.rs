//! `[redaction] mask` values are secrets: planted in the target file and in the traffic, they
//! are found in no output (run log, run.json, JUnit, Cucumber JSON, HTML, PDF text, the inputs'
//! configuration, the console), with and without `--reveal-personal-data`.

use crate::common;

use std::path::Path;

const PLANTED: [&str; 3] = [
    "Hidden Harbour Pensions",
    "MARCHBANKS",
    "Lighthouse Scheme 7",
];

/// Every output file's text (the PDF through pdftotext), with its name.
fn outputs(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "pdf") {
                out.push((p.display().to_string(), common::pdf_text(&p)));
            } else {
                let bytes = std::fs::read(&p).expect("read");
                out.push((
                    p.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    out
}

fn planted_values_appear_nowhere(reveal: bool) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let target = tmp.path().join("target.toml");
    std::fs::write(
        &target,
        format!(
            "[organisation]\nname = \"{}\"\nscheme_name = \"{}\"\n\n[redaction]\nmask = [{}]\n",
            PLANTED[0],
            PLANTED[2],
            PLANTED
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .expect("write");
    let runs = tmp.path().join("runs");
    let mut cmd = common::bin();
    cmd.args(["run", "--target"])
        .arg(&target)
        .arg("--out")
        .arg(&runs);
    if reveal {
        cmd.arg("--reveal-personal-data");
    }
    let out = cmd.output().expect("runs");
    let console = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{console}");
    let dir = common::only_run_dir(&runs);
    let mut texts = outputs(&dir);
    texts.push(("the console".to_owned(), console));
    assert!(
        texts.len() > 6,
        "{:?}",
        texts.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    for (name, text) in &texts {
        let lower = text.to_lowercase();
        for value in PLANTED {
            assert!(
                !lower.contains(&value.to_lowercase()),
                "{value:?} appears in {name} (reveal: {reveal})"
            );
        }
    }
    // The values were there to leak: the mask text stands in their place.
    let log = std::fs::read_to_string(dir.join("run.log.jsonl")).expect("log");
    assert!(log.contains("[masked]"), "the planted values were masked");
}

#[test]
fn mask_values_appear_in_no_output() {
    planted_values_appear_nowhere(false);
}

#[test]
fn mask_values_appear_in_no_output_with_personal_data_revealed() {
    planted_values_appear_nowhere(true);
}
