//! Test data and feature wording are checked before anything runs: `check-pack` refuses a
//! date or value the run would later blame on the system under test, and a misworded step
//! stops `run` with exit 2, naming the nearest step that does match, before any request.

use crate::common;

fn pack_text() -> String {
    std::fs::read_to_string(common::root().join("testpacks/integration/pack.toml")).expect("pack")
}

fn check_pack(text: &str) -> std::process::Output {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("pack.toml");
    std::fs::write(&path, text).expect("write");
    common::bin()
        .arg("check-pack")
        .arg(&path)
        .output()
        .expect("runs")
}

#[test]
fn check_pack_refuses_a_date_the_run_would_fail_on() {
    let text = pack_text();
    let good = check_pack(&text);
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        common::output_text(&good)
    );
    let first = text
        .lines()
        .find(|l| l.starts_with("retirement_date = "))
        .expect("a retirement date");
    let bad = text.replacen(first, "retirement_date = \"14/03/2038\"", 1);
    let out = check_pack(&bad);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("retirement_date \"14/03/2038\" is not a YYYY-MM-DD date"),
        "{t}"
    );
}

#[test]
fn check_pack_refuses_a_value_the_data_standards_rules_refuse() {
    let text = pack_text();
    let bad = text.replacen("pension_type = \"DC\"", "pension_type = \"DCX\"", 1);
    assert_ne!(bad, text);
    let out = check_pack(&bad);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("data standards rule"), "{t}");
    assert!(t.contains("DCX"), "{t}");
}

#[test]
fn a_misworded_step_stops_the_run_before_any_request_naming_the_nearest_step() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let features = tmp.path().join("features");
    std::fs::create_dir(&features).expect("dir");
    for e in std::fs::read_dir(common::root().join("features")).expect("features") {
        let p = e.expect("entry").path();
        let text = std::fs::read_to_string(&p).expect("read");
        // One scenario's wording slips; the others keep the right one.
        let text = text.replacen(
            "the provider acknowledges the find request with 202 within the acknowledgement limit",
            "the provider acknowledge the find request with 202 within the acknowledgment limit",
            1,
        );
        std::fs::write(features.join(p.file_name().expect("name")), text).expect("write");
    }
    let out_dir = tmp.path().join("runs");
    let out = common::bin()
        .args(["run", "--features"])
        .arg(&features)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("runs");
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("no step definition matches \"the provider acknowledge the find request"),
        "{t}"
    );
    assert!(
        t.contains(
            "the nearest step that does is \"the provider acknowledges the find request with 202 within the acknowledgement limit\""
        ),
        "{t}"
    );
    assert!(!out_dir.exists(), "nothing was started: {t}");
}
