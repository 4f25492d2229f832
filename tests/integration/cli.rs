//! The `pdp-harness` binary as a user runs it: the four evidence files, the PDF's text, exit
//! codes, tag selection, contract overrides, and a run killed half-way turned into evidence by
//! `report`.

use crate::common;

use std::process::{Output, Stdio};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    common::bin().args(args).output().expect("the binary runs")
}

fn testcases(junit: &str) -> (usize, usize, usize) {
    let mut reader = quick_xml::Reader::from_str(junit);
    let (mut cases, mut failures, mut errors) = (0, 0, 0);
    loop {
        match reader.read_event().expect("junit.xml is well-formed XML") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    "testcase" => cases += 1,
                    "failure" => failures += 1,
                    "error" => errors += 1,
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    (cases, failures, errors)
}

const PERSONAL: [&str; 7] = [
    "MARCHBANKS",
    "ELEANOR",
    "QQ123456C",
    "1971-03-14",
    "ORCHARD ROW",
    "ZZ1 4QT",
    "eleanor.marchbanks@example.com",
];

#[test]
fn run_writes_the_evidence_and_report_re_renders_it_identically() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = run(&["run", "--out", tmp.path().to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    assert!(
        common::output_text(&out).contains("PASSED"),
        "{}",
        common::output_text(&out)
    );
    let dir = common::only_run_dir(tmp.path());
    for f in ["run.log.jsonl", "run.json", "junit.xml", "evidence.pdf"] {
        assert!(dir.join(f).is_file(), "{f} written");
    }

    let pdf = common::pdf_text(&dir.join("evidence.pdf"));
    let run_id = dir.file_name().and_then(|n| n.to_str()).expect("run id");
    assert!(pdf.contains(run_id), "the cover shows the run id");
    assert!(
        pdf.contains("Organisation Northwind Pensions Administration"),
        "the cover names the organisation: {pdf}"
    );
    for (case, name) in [
        (
            "CP-01",
            "A known member is found, registered as match-yes and viewed",
        ),
        (
            "CP-02",
            "A view request without a token is refused with a permission ticket",
        ),
        ("CP-03", "An RPT issued for another resource is refused"),
    ] {
        assert!(pdf.contains(case), "PDF shows {case}");
        assert!(pdf.contains(name), "PDF shows scenario {name:?}");
    }
    assert!(pdf.contains("PASSED"), "PDF shows the verdict");
    assert!(
        pdf.to_lowercase().matches("passed").count() >= 3,
        "each scenario's verdict"
    );

    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit");
    assert_eq!(testcases(&junit), (3, 0, 0));
    let record: Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(record["verdict"], "passed");
    assert_eq!(record["scenarios"].as_array().map(Vec::len), Some(3));

    // Nothing secret or personal in any output.
    for f in ["run.log.jsonl", "run.json", "junit.xml"] {
        let content = std::fs::read_to_string(dir.join(f)).expect("read");
        assert!(!content.contains("eyJ"), "{f} holds a token");
        assert!(!content.contains("PRIVATE KEY"), "{f} holds a key");
        for p in PERSONAL {
            assert!(
                !content.to_uppercase().contains(&p.to_uppercase()),
                "{f} holds {p}"
            );
        }
    }
    for p in PERSONAL {
        assert!(
            !pdf.to_uppercase().contains(&p.to_uppercase()),
            "the PDF holds {p}"
        );
    }

    // `report` renders the same bytes from the run log alone.
    let before: Vec<Vec<u8>> = ["evidence.pdf", "run.json", "junit.xml"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).expect("read"))
        .collect();
    let out = run(&[
        "report",
        run_id,
        "--out",
        tmp.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    for (i, f) in ["evidence.pdf", "run.json", "junit.xml"].iter().enumerate() {
        assert_eq!(
            std::fs::read(dir.join(f)).expect("read"),
            before[i],
            "{f} re-rendered identically"
        );
    }
}

#[test]
fn tags_select_scenarios() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = run(&[
        "run",
        "--tags",
        "@case:CP-02",
        "--out",
        tmp.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    let junit =
        std::fs::read_to_string(common::only_run_dir(tmp.path()).join("junit.xml")).expect("junit");
    assert_eq!(testcases(&junit), (1, 0, 0));
    assert!(junit.contains("[CP-02]"));
}

#[test]
fn exit_codes_tell_failed_from_could_not_run() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out_dir = tmp.path().to_str().expect("utf-8");

    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(common::output_text(&help).contains("Exit codes"));

    let out = run(&["run", "--tags", "@case:XX-99", "--out", out_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));
    assert!(
        common::output_text(&out).contains("no scenario"),
        "{}",
        common::output_text(&out)
    );

    let out = run(&["run", "--pack", "stage2", "--out", out_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));
    assert!(
        common::output_text(&out).contains("use --pack all"),
        "{}",
        common::output_text(&out)
    );

    let out = run(&["run", "--tags", "@case:CP-01 and", "--out", out_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));
    assert!(
        common::output_text(&out).contains("not a valid tag expression"),
        "{}",
        common::output_text(&out)
    );

    let bad_target = tmp.path().join("target.toml");
    std::fs::write(
        &bad_target,
        "[limits]\nacknowledgement_ms = 100\nview_ms = 5\n",
    )
    .expect("write");
    let out = run(&[
        "run",
        "--target",
        bad_target.to_str().expect("utf-8"),
        "--out",
        out_dir,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));
    let t = common::output_text(&out);
    assert!(
        t.contains("target.toml") && t.contains("line 3") && t.contains("view_ms"),
        "{t}"
    );

    let out = run(&["report", "no-such-run", "--out", out_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));

    // A scenario whose step has no definition never passes silently: since issue #15 it stops
    // the run before anything starts, as a feature-file problem (exit 2; it was a failed run,
    // exit 1, with the class "configuration" in the JUnit file).
    let features = tmp.path().join("features");
    std::fs::create_dir_all(&features).expect("mkdir");
    std::fs::write(
        features.join("typo.feature"),
        "@connection-proving\nFeature: Typo\n  @case:CP-99\n  Scenario: A misspelt step\n    Given the providers test data has been cleared\n",
    )
    .expect("write");
    let runs = tmp.path().join("runs");
    let out = run(&[
        "run",
        "--features",
        features.to_str().expect("utf-8"),
        "--out",
        runs.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));
    assert!(
        common::output_text(&out).contains("no step definition matches"),
        "{}",
        common::output_text(&out)
    );
    assert!(
        common::output_text(&out).contains("typo.feature:5"),
        "{}",
        common::output_text(&out)
    );
    assert!(!runs.exists(), "nothing was started");
}

#[test]
fn a_renamed_wire_contract_applies_to_both_sides() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let target = tmp.path().join("target.toml");
    std::fs::write(
        &target,
        r#"
[contract]
name = "test copy with renamed fields"
[contract.find]
path = "/pdp/v2/find-requests"
token_field = "findRequestToken"
[contract.find.fields]
family_name = "surname"
date_of_birth = "dob"
[contract.view]
path_template = "/pdp/v2/pensions/{assetGuid}"
token_field = "viewDataToken"
view_data_claim = "viewData"
[contract.view.challenge]
scheme = ""
realm = "PensionDashboard"
"#,
    )
    .expect("write");
    let runs = tmp.path().join("runs");
    let out = run(&[
        "run",
        "--target",
        target.to_str().expect("utf-8"),
        "--out",
        runs.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    let dir = common::only_run_dir(&runs);
    let log = std::fs::read_to_string(dir.join("run.log.jsonl")).expect("log");
    assert!(
        log.contains("/pdp/v2/find-requests"),
        "the find went to the configured path"
    );
    assert!(
        log.contains("findRequestToken"),
        "the body used the configured field"
    );
    assert!(
        log.contains("/pdp/v2/pensions/"),
        "the view went to the configured path"
    );
    assert!(common::pdf_text(&dir.join("evidence.pdf")).contains("test copy with renamed fields"));
}

#[test]
fn a_run_killed_half_way_is_turned_into_evidence_by_report() {
    let tmp = tempfile::tempdir().expect("temp dir");
    // A long settle window keeps the run inside the registration step long enough to kill it.
    let target = tmp.path().join("slow.toml");
    std::fs::write(&target, "[limits]\nregistration_settle_ms = 20000\n").expect("write");
    let runs = tmp.path().join("runs");
    let mut child = common::bin()
        .args([
            "run",
            "--target",
            target.to_str().expect("utf-8"),
            "--out",
            runs.to_str().expect("utf-8"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let log_path = common::run_log_once_acknowledged(&runs, std::time::Duration::from_secs(60));
    child.kill().expect("killed");
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(!log.contains("\"run_finished\""), "killed before the end");

    let dir = log_path.parent().expect("run dir");
    let run_id = dir.file_name().and_then(|n| n.to_str()).expect("id");
    let out = run(&["report", run_id, "--out", runs.to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an incomplete run is not a pass: {}",
        common::output_text(&out)
    );
    let record: Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(record["verdict"], "incomplete");
    assert_eq!(record["scenarios"][0]["status"], "interrupted");
    let steps = record["scenarios"][0]["steps"].as_array().expect("steps");
    assert!(
        steps.len() >= 3,
        "the steps recorded before the kill are kept"
    );
    let pdf = common::pdf_text(&dir.join("evidence.pdf"));
    assert!(pdf.contains("INCOMPLETE"), "{pdf}");
    assert!(pdf.contains("interrupted"), "{pdf}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit");
    assert_eq!(testcases(&junit), (1, 0, 1));
    let first = std::fs::read(dir.join("evidence.pdf")).expect("pdf");
    let out = run(&["report", run_id, "--out", runs.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read(dir.join("evidence.pdf")).expect("pdf"),
        first,
        "same PDF again"
    );
}

#[test]
fn a_clear_down_command_from_the_target_file_runs_before_scenarios() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let marker = tmp.path().join("cleared.txt");
    let target = tmp.path().join("target.toml");
    std::fs::write(
        &target,
        format!(
            "[clear_down]\ncommand = [\"sh\", \"-c\", \"echo cleared >> {}\"]\n",
            marker.display()
        ),
    )
    .expect("write");
    let runs = tmp.path().join("runs");
    let out = run(&[
        "run",
        "--tags",
        "@case:CP-01",
        "--target",
        target.to_str().expect("utf-8"),
        "--out",
        runs.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    // Once by the doctor, once by the scenario's background.
    let calls = std::fs::read_to_string(&marker).expect("the command ran");
    assert_eq!(calls.lines().count(), 2, "{calls}");

    // A failing command fails the clear-down step, explains it, and is classed as environment.
    std::fs::write(
        &target,
        "[clear_down]\ncommand = [\"sh\", \"-c\", \"echo database locked >&2; exit 3\"]\n",
    )
    .expect("write");
    let out = run(&[
        "run",
        "--tags",
        "@case:CP-01",
        "--target",
        target.to_str().expect("utf-8"),
        "--out",
        runs.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the doctor stops the run: {}",
        common::output_text(&out)
    );
    let t = common::output_text(&out);
    assert!(
        t.contains("✖ clear-down") && t.contains("database locked"),
        "{t}"
    );

    // Both url and command is a configuration error naming the file.
    std::fs::write(
        &target,
        "[clear_down]\nurl = \"https://x\"\ncommand = [\"true\"]\n",
    )
    .expect("write");
    let out = run(&[
        "run",
        "--target",
        target.to_str().expect("utf-8"),
        "--out",
        runs.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::output_text(&out).contains("takes url or command, not both"),
        "{}",
        common::output_text(&out)
    );
}

/// `cargo install` then `pdp-harness run` outside the checkout: the binary, copied away from
/// the project, runs the built-in features and pack from an empty directory.
#[test]
fn an_installed_binary_runs_from_an_empty_directory() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let installed = tmp.path().join("bin").join("pdp-harness");
    std::fs::create_dir_all(installed.parent().expect("parent")).expect("mkdir");
    std::fs::copy(env!("CARGO_BIN_EXE_pdp-harness"), &installed).expect("install");
    let work = tmp.path().join("work");
    let scratch = tmp.path().join("tmp");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::create_dir_all(&scratch).expect("mkdir");
    let harness = |args: &[&str]| {
        std::process::Command::new(&installed)
            .args(args)
            .current_dir(&work)
            .env("TMPDIR", &scratch)
            .output()
            .expect("the installed binary runs")
    };

    let out = harness(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    let dir = common::only_run_dir(&work.join("reports"));
    let used = std::fs::read_to_string(dir.join("inputs/used.json")).expect("used.json");
    assert!(used.contains("connection_proving.feature"), "{used}");
    let cucumber = std::fs::read_to_string(dir.join("cucumber.json")).expect("cucumber.json");
    assert!(
        cucumber.contains("built-in:features/connection_proving.feature"),
        "{cucumber}"
    );

    // Exported, edited, and run from the export.
    let out = harness(&["features", "export", "mine"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    let feature = work.join("mine/features/connection_proving.feature");
    let text = std::fs::read_to_string(&feature).expect("exported feature");
    assert!(work.join("mine/testpacks/integration/pack.toml").is_file());
    let out = harness(&["features", "export", "mine"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "exporting identical files again is fine"
    );
    std::fs::write(&feature, text.replace("Feature:", "# edited\nFeature:")).expect("edit");
    let out = harness(&["features", "export", "mine"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an edited copy is not overwritten"
    );
    assert!(common::output_text(&out).contains("--force"));
    let out = harness(&[
        "run",
        "--features",
        "mine/features",
        "--testpacks",
        "mine/testpacks",
        "--out",
        "exported",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    let dir = common::only_run_dir(&work.join("exported"));
    let cucumber = std::fs::read_to_string(dir.join("cucumber.json")).expect("cucumber.json");
    assert!(
        cucumber.contains("mine/features/connection_proving.feature"),
        "{cucumber}"
    );

    // A folder that is not there is named, with the option and the way out.
    for (option, what) in [
        ("--features", "feature files"),
        ("--testpacks", "test packs"),
    ] {
        let out = harness(&["run", option, "nowhere"]);
        assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));
        let t = common::output_text(&out);
        assert!(
            t.contains(&format!("{option} nowhere: no such directory"))
                && t.contains(what)
                && t.contains("features export"),
            "{t}"
        );
    }
    let out = harness(&["doctor", "--testpacks", "nowhere"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));
}

/// `--pack stage1` from the command line on the embedded default: the file is written and
/// announced with the next step, the verdict is an ordinary pass (exit 0); `--after` it in a new
/// process meets a new embedded C&A, so it exits 2 saying why and what to do instead;
/// `--after` with another pack, or a run id that does not exist, exits 2 too.
#[test]
fn stage_1_alone_announces_the_file_and_stage_2_after_it_needs_a_cas_that_outlives_the_run() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out_dir = tmp.path().to_str().expect("utf-8");
    let out = run(&["run", "--pack", "stage1", "--out", out_dir]);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let run_dir = common::only_run_dir(tmp.path());
    let id = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .expect("run id");
    assert!(run_dir.join("match-updates.json").is_file());
    assert!(
        t.contains(&format!(
            "Stage 1 done: the match-update file is {} (5 updates)",
            run_dir.join("match-updates.json").display()
        )),
        "{t}"
    );
    assert!(
        t.contains(&format!("run --pack stage2 --after {id}`")),
        "{t}"
    );
    let pdf = common::pdf_text(&run_dir.join("evidence.pdf"));
    assert!(
        pdf.contains("Match-update file issued at the end of stage 1 (5 updates)"),
        "{pdf}"
    );

    let out = run(&["run", "--pack", "stage2", "--after", &id, "--out", out_dir]);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("the C&A no longer holds the registrations stage 1")
            && t.contains("the embedded default's C&A lives only as long as its run's process"),
        "{t}"
    );
    let out = run(&[
        "run",
        "--pack",
        "connection-proving",
        "--after",
        &id,
        "--out",
        out_dir,
    ]);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("--after is for stage 2"), "{t}");
    let out = run(&[
        "run", "--pack", "stage2", "--after", "nope", "--out", out_dir,
    ]);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("--after nope: no run nope"), "{t}");
    assert_eq!(
        std::fs::read_dir(tmp.path()).expect("dir").count(),
        1,
        "only the stage 1 run was written"
    );
}

/// A file the target names that is missing is said once, with its setting, the path and the
/// operating system's reason, not repeated for each error that wraps it.
#[test]
fn a_missing_file_is_named_once() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("acme");
    let init = run(&["init", dir.to_str().expect("utf-8")]);
    assert_eq!(
        init.status.code(),
        Some(0),
        "{}",
        common::output_text(&init)
    );
    // The target file `init` writes names the organisation's client CA, which it cannot
    // write: org-ca.pem is missing until the organisation puts it there.
    assert!(!dir.join("org-ca.pem").exists());
    let out = run(&[
        "run",
        "--target",
        dir.join("target.toml").to_str().expect("utf-8"),
        "--out",
        tmp.path().join("runs").to_str().expect("utf-8"),
    ]);
    let text = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let error = text
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("an error line: {text}"));
    assert!(error.contains("cda.client_ca: could not read"), "{error}");
    assert!(error.contains("org-ca.pem"), "{error}");
    assert_eq!(error.matches("could not read").count(), 1, "{error}");
    assert_eq!(error.matches("(os error 2)").count(), 1, "{error}");
}
