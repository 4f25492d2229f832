//! Evidence a test manager can stand behind (issue 18): what the run is framed as, failures
//! first, the exchange a failing check judged, the decoded view data, the sign-off, inputs by
//! digest, a changed log refused a silent re-seal, the HTML's structure, and `@ref` tags.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use pdp_harness::provider::{Fault, Faults};
use pdp_harness::record::run::Status;
use pdp_harness::runner::Pack;
use quick_xml::events::Event;
use serde_json::Value;

fn run(args: &[&str]) -> Output {
    common::bin().args(args).output().expect("the binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn sha256_hex(bytes: &[u8]) -> String {
    pdp_harness::evidence::seal::sha256_hex(bytes)
}

/// Every file of a run directory with its bytes, to prove that nothing changed.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read");
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// The text of each page of a PDF, whitespace folded.
fn pdf_pages(path: &Path) -> Vec<String> {
    let mut pages = Vec::new();
    for i in 1.. {
        let out = std::process::Command::new("pdftotext")
            .args(["-f", &i.to_string(), "-l", &i.to_string()])
            .arg(path)
            .arg("-")
            .output()
            .expect("pdftotext is installed");
        if !out.status.success() {
            break;
        }
        pages.push(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    pages
}

/// The S1-11 view data check fails (the ERI component is omitted, not returned with DBC): the
/// evidence shows the view response that check judged, not the JWKS fetch that happened last,
/// and the verified view data decoded with personal data masked. The HTML carries the same in
/// a well-formed page whose structure is checked by parsing it.
#[tokio::test]
async fn a_failing_view_data_check_shows_the_exchange_it_judged_and_the_decoded_view_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = common::run_pack(
        Pack::Stage1,
        Faults::none().with(Fault::OmitsUnavailableComponent),
        dir.path(),
    )
    .await;
    let s11 = common::scenario(&record, "S1-11");
    assert_eq!(s11.status, Status::Failed);
    let step = s11
        .steps
        .iter()
        .find(|st| st.status == Status::Failed)
        .expect("a failed step");
    assert_eq!(
        step.text,
        "the view data matches the registration and the test pack"
    );
    // The step made no call; the last call before it was the dashboard's JWKS fetch.
    assert!(step.exchanges.is_empty(), "{:?}", step.exchanges);
    let judged = step
        .judged
        .as_ref()
        .expect("the judged exchange is recorded");
    assert_eq!(judged.party, "dashboard -> provider view endpoint");
    assert!(judged.url.contains("/view-data/"), "{}", judged.url);
    assert_eq!(judged.status, Some(200));

    // The view data token step keeps the decoded claims, masked.
    let verified = s11
        .steps
        .iter()
        .find(|st| {
            st.text
                .starts_with("each view response is a valid view data token")
        })
        .expect("the token step");
    let decoded = verified.view_data.first().expect("decoded view data");
    assert!(decoded.claims.contains("\"illustrationComponents\""));
    assert!(
        decoded
            .claims
            .contains("\"dateOfBirth\": \"[personal data]\""),
        "{}",
        decoded.claims
    );
    for p in common::pack().personal_values() {
        assert!(
            !decoded.claims.to_uppercase().contains(&p.to_uppercase()),
            "{p} in the decoded view data"
        );
    }
    // Passing steps say what they observed.
    let registered = s11
        .steps
        .iter()
        .find(|st| st.text.starts_with("exactly the PeIs expected"))
        .expect("the registration step");
    assert!(
        registered
            .observed
            .as_deref()
            .is_some_and(|o| o.contains("match-yes")),
        "{:?}",
        registered.observed
    );

    let run_dir = dir.path().join(&record.header.run_id);
    let text = common::pdf_text(&run_dir.join("evidence.pdf"));
    let at = text
        .find("The exchange behind this verdict (the exchange this check judged)")
        .expect("the judged exchange is introduced");
    let after = &text[at..];
    // The judged view request comes first, not the JWKS fetch (pdftotext may break the URL
    // after its "?").
    let path = judged.url.split('?').next().unwrap_or_default();
    assert!(
        after.starts_with(&format!(
            "The exchange behind this verdict (the exchange this check judged): HTTP exchange: {} {path}",
            judged.method
        )),
        "{}",
        &after[..after.len().min(400)]
    );
    assert!(after.contains("Party dashboard -> provider view endpoint"));
    assert!(!after[..300].contains("jwks"), "{}", &after[..300]);
    assert!(
        text.contains("View data of urn:pei:"),
        "decoded view data in the PDF"
    );
    assert!(text.contains("Observed:"), "passing steps' observations");
    // Failures first: page 2 lists S1-11 with its class and the page of its detail.
    let pages = pdf_pages(&run_dir.join("evidence.pdf"));
    assert!(pages[1].starts_with("REHEARSAL against the embedded reference provider"));
    assert!(pages[1].contains("Failures and warnings"), "{}", pages[1]);
    let row = pages[1]
        .find("S1-11 FAILURE")
        .map(|i| &pages[1][i..])
        .expect("S1-11 in the failures summary");
    assert!(
        row.contains("system under test: technical contact"),
        "{row}"
    );
    let detail_page = pages
        .iter()
        .position(|p| p.contains("S1-11 A value not yet available"))
        .map(|i| i + 1)
        .expect("S1-11's detail");
    assert!(
        row.contains(&format!("technical contact {detail_page}")),
        "the detail page {detail_page} in {row}"
    );

    html_structure(&run_dir, &record);
}

/// Parse report.html as XML and check what a browser would show: the per-stage table, the
/// manifest digest, a failure box with the judged exchange collapsed inside, per-step
/// timings, case ids that never wrap, tables laid out within the page, and reading order.
fn html_structure(run_dir: &Path, record: &pdp_harness::record::run::RunRecord) {
    let html = std::fs::read_to_string(run_dir.join("report.html")).expect("report.html");
    let seal: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("seal.json")).expect("seal"))
            .expect("seal parses");
    let body = html.trim_start_matches("<!DOCTYPE html>\n");
    let mut reader = quick_xml::Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<(String, String, String)> = Vec::new(); // (name, id, class)
    let mut ids = Vec::new();
    let mut judged_in_failure = 0;
    let mut timings = 0;
    let mut case_cells = 0;
    let mut headings = Vec::new();
    let mut manifest_text = None;
    let mut text_of_h3 = false;
    loop {
        match reader.read_event().expect("report.html is well-formed") {
            Event::Start(e) => {
                let name = e.name().as_ref().to_owned();
                let attr = |k: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == k)
                        .map(|a| a.value.to_string())
                        .unwrap_or_default()
                };
                let (id, class) = (attr("id"), attr("class"));
                if !id.is_empty() {
                    ids.push(id.clone());
                }
                if name == "details"
                    && class == "judged"
                    && stack.iter().any(|(n, _, c)| n == "div" && c == "failure")
                {
                    judged_in_failure += 1;
                }
                if name == "span" && class.starts_with("timing") {
                    timings += 1;
                }
                if name == "td" && class == "case" {
                    case_cells += 1;
                }
                text_of_h3 = name == "h3";
                stack.push((name, id, class));
            }
            Event::Text(t) => {
                let text = t.to_string();
                if text_of_h3 {
                    headings.push(text.clone());
                }
                if stack
                    .last()
                    .is_some_and(|(_, id, _)| id == "manifest-sha256")
                {
                    manifest_text = Some(text);
                }
            }
            Event::End(_) => {
                stack.pop();
                text_of_h3 = false;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "every element is closed: {stack:?}");
    for id in [
        "framing", "findings", "stages", "coverage", "cover", "sign-off",
    ] {
        assert!(ids.iter().any(|i| i == id), "#{id} in the HTML: {ids:?}");
    }
    assert_eq!(
        manifest_text.as_deref(),
        seal["manifest_sha256"].as_str(),
        "the HTML prints the sealed manifest digest"
    );
    assert!(
        judged_in_failure >= 1,
        "a failure box holds the judged exchange"
    );
    assert!(timings >= 3, "per-step timings: {timings}");
    assert!(
        case_cells >= record.scenarios.len(),
        "case cells: {case_cells}"
    );
    assert!(
        html.contains(".case,.nowrap{white-space:nowrap"),
        "case ids never wrap"
    );
    assert!(html.contains("table-layout:fixed") && html.contains("overflow-wrap:anywhere"));
    // Scenario details in reading order: S1-09 before S1-10 before S1-11.
    let pos = |case: &str| {
        headings
            .iter()
            .position(|h| h.starts_with(&format!("{case} ")))
            .unwrap_or_else(|| panic!("{case} heading in {headings:?}"))
    };
    assert!(pos("S1-09") < pos("S1-10") && pos("S1-10") < pos("S1-11"));
}

/// A green run with sign-off details: framed as a rehearsal on every page, no failures on the
/// page after the cover, the sign-off's scope, exclusions, inputs by digest, ticket, notes,
/// reviewer and approver, sealed. `report` changes the notes later; a changed log is refused
/// without `--reseal` (nothing written), and re-sealed with it, saying so on the cover.
#[test]
fn the_sign_off_is_sealed_and_a_changed_log_is_not_silently_resealed() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let notes = tmp.path().join("notes.txt");
    std::fs::write(
        &notes,
        "Deviation: CP-03 witnessed by J. Smith over a video call.\n",
    )
    .expect("write");
    let out = run(&[
        "run",
        "--out",
        s(&tmp.path().join("runs")),
        "--ticket",
        "CHG-4711",
        "--reviewer",
        "Alex Reviewer",
        "--approver",
        "Sam Approver",
        "--notes",
        s(&notes),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    let dir = common::only_run_dir(&tmp.path().join("runs"));
    let run_id = dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("run id")
        .to_owned();
    let pdf = dir.join("evidence.pdf");
    let pages = pdf_pages(&pdf);
    for (i, p) in pages.iter().enumerate() {
        assert!(
            p.starts_with("REHEARSAL against the embedded reference provider"),
            "page {} header: {}",
            i + 1,
            &p[..p.len().min(120)]
        );
    }
    assert!(pages[0].contains("it says nothing about the organisation's find and view endpoints"));
    assert!(
        pages[1].contains("Failures and warnings No failures and no warnings"),
        "{}",
        pages[1]
    );
    let text = pages.join(" ");
    let pack_sha = sha256_hex(
        &std::fs::read(common::root().join("testpacks/integration/pack.toml")).expect("pack"),
    );
    let feature_sha = sha256_hex(
        &std::fs::read(common::root().join("features/connection_proving.feature"))
            .expect("feature"),
    );
    assert!(
        text.contains(&format!("pack.toml {pack_sha}")),
        "pack digest"
    );
    assert!(text.contains(&format!("connection_proving.feature {feature_sha}")));
    let sign_off = &text[text.rfind("Sign-off What is attested").expect("sign-off")..];
    for want in [
        "it attests nothing about the organisation's solution",
        "the packs not selected: stage1, stage2, reporting",
        "the resilience pack",
        "Ticket reference CHG-4711",
        "Deviation: CP-03 witnessed by J. Smith over a video call.",
        "Reviewed by Name Alex Reviewer",
        "Approved by Name Sam Approver",
        &format!("pack.toml {pack_sha}"),
    ] {
        assert!(sign_off.contains(want), "{want:?} in {sign_off}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).expect("html");
    assert!(html.contains("CHG-4711") && html.contains("J. Smith"));

    // Notes changed at report time: sealed again, intact.
    let later = tmp.path().join("later.txt");
    std::fs::write(&later, "Re-reviewed after the CAB meeting.").expect("write");
    let out = run(&[
        "report",
        &run_id,
        "--out",
        s(&tmp.path().join("runs")),
        "--notes",
        s(&later),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    let text = common::pdf_text(&pdf);
    assert!(text.contains("Re-reviewed after the CAB meeting.") && text.contains("CHG-4711"));
    assert!(!text.contains("RE-RENDERED FROM A CHANGED LOG"));
    let verify = run(&["verify", s(&dir)]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        common::output_text(&verify)
    );

    // A changed log: refused, nothing written.
    let log = dir.join("run.log.jsonl");
    let mut bytes = std::fs::read(&log).expect("log");
    let key = b"\"duration_ms\":";
    let i = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("a step duration")
        + key.len();
    bytes[i] = if bytes[i] == b'7' { b'8' } else { b'7' };
    std::fs::write(&log, &bytes).expect("write");
    let before = snapshot(&dir);
    let out = run(&["report", &run_id, "--out", s(&tmp.path().join("runs"))]);
    assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));
    assert!(
        common::output_text(&out).contains("no longer matches its seal")
            && common::output_text(&out).contains("run.log.jsonl changed"),
        "{}",
        common::output_text(&out)
    );
    assert_eq!(before, snapshot(&dir), "a refused report changes nothing");

    // With --reseal: re-rendered, and the cover says so.
    let out = run(&[
        "report",
        &run_id,
        "--out",
        s(&tmp.path().join("runs")),
        "--reseal",
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        common::output_text(&out)
    );
    let pages = pdf_pages(&pdf);
    assert!(
        pages[0].contains("RE-RENDERED FROM A CHANGED LOG")
            && pages[0].contains("run.log.jsonl changed"),
        "{}",
        pages[0]
    );
    assert!(
        std::fs::read_to_string(dir.join("report.html"))
            .expect("html")
            .contains("Re-rendered from a changed log")
    );
    let verify = run(&["verify", s(&dir)]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        common::output_text(&verify)
    );
}

/// `@ref:<id>` tags reach the coverage matrix, JUnit and HTML; `diff` says the feature file
/// changed between the two runs.
#[test]
fn organisation_refs_are_shown_and_diff_names_changed_inputs() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let features = tmp.path().join("features");
    std::fs::create_dir_all(&features).expect("dir");
    let original =
        std::fs::read_to_string(common::root().join("features/connection_proving.feature"))
            .expect("feature");
    std::fs::write(features.join("connection_proving.feature"), &original).expect("write");
    let runs = tmp.path().join("runs");
    let first = run(&["run", "--out", s(&runs), "--features", s(&features)]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        common::output_text(&first)
    );
    let a = common::only_run_dir(&runs);

    let tagged = original.replacen("@case:CP-01", "@case:CP-01 @ref:ACME-TC-0042", 1);
    assert_ne!(
        tagged, original,
        "CP-01 carries a case tag to add a ref beside"
    );
    std::fs::write(features.join("connection_proving.feature"), &tagged).expect("write");
    let second = run(&["run", "--out", s(&runs), "--features", s(&features)]);
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        common::output_text(&second)
    );
    let b = std::fs::read_dir(&runs)
        .expect("runs")
        .flatten()
        .map(|e| e.path())
        .find(|p| *p != a)
        .expect("the second run");

    let junit = std::fs::read_to_string(b.join("junit.xml")).expect("junit");
    assert!(
        junit.contains("<property name=\"ref\" value=\"ACME-TC-0042\"/>"),
        "{junit}"
    );
    let html = std::fs::read_to_string(b.join("report.html")).expect("html");
    assert!(html.contains("<td class=\"ref\">ACME-TC-0042</td>"));
    let pdf = common::pdf_text(&b.join("evidence.pdf"));
    assert!(pdf.contains("your ref ACME-TC-0042"), "coverage matrix");

    let diff = run(&["diff", s(&a), s(&b), "--out", s(&runs)]);
    let text = common::output_text(&diff);
    assert_eq!(diff.status.code(), Some(0), "{text}");
    assert!(text.contains("Inputs changed between the runs"), "{text}");
    assert!(
        text.contains("connection_proving.feature changed (SHA-256 "),
        "{text}"
    );
    assert!(!text.contains("pack.toml changed"), "{text}");
}

/// A re-run after the feature file changed says so: in the plan (the console's notes), in the
/// re-run's record and on its PDF, beside the attempt history.
#[tokio::test]
async fn a_rerun_says_when_its_inputs_changed() {
    use pdp_harness::harness::config::TargetConfig;
    use pdp_harness::runner::{self, RunOptions, rerun, writer::Collect};
    let tmp = tempfile::tempdir().expect("temp dir");
    let features = tmp.path().join("features");
    std::fs::create_dir_all(&features).expect("dir");
    let feature = features.join("connection_proving.feature");
    std::fs::copy(
        common::root().join("features/connection_proving.feature"),
        &feature,
    )
    .expect("copy");
    let mut config = TargetConfig::default();
    config.limits.registration_ms = 6_000;
    let run_once = |faults: Faults, options: RunOptions| async move {
        let env = common::environment_with(faults, &options.config).await;
        let outcome = runner::run(env.clone(), &options, Box::new(Collect::default()))
            .await
            .expect("the run completes");
        env.shutdown();
        outcome.record
    };
    let out = tmp.path().join("runs");
    let earlier = run_once(
        Faults::none().with(Fault::MissingInboundRequestId),
        RunOptions {
            pack: Pack::ConnectionProving,
            tags: None,
            features_dir: features.clone(),
            out_dir: out.clone(),
            config: config.clone(),
            cases: None,
            rerun: None,
            sign_off: None,
            after: None,
            interactive: false,
            concurrency: pdp_harness::runner::DEFAULT_CONCURRENCY,
            stop: Default::default(),
        },
    )
    .await;
    assert_eq!(earlier.counts.failed, 1);
    // A failed registration check judged the provider's POST /rreguri, not whatever the
    // earlier steps fetched last.
    let cp01 = common::scenario(&earlier, "CP-01");
    let failed = cp01
        .steps
        .iter()
        .find(|st| st.status == Status::Failed)
        .expect("a failed step");
    let judged = failed.judged.as_ref().expect("the judged exchange");
    assert_eq!(
        (judged.method.as_str(), judged.party.as_str()),
        ("POST", "provider -> C&A")
    );
    assert!(judged.url.contains("/rreguri"), "{}", judged.url);
    assert!(
        judged
            .request_body
            .as_deref()
            .is_some_and(|b| b.contains("match_status")),
        "{judged:?}"
    );
    let before = sha256_hex(&std::fs::read(&feature).expect("read"));
    assert!(
        earlier.header.inputs.iter().any(|i| i.sha256 == before),
        "the header names the feature file by digest"
    );

    // Unchanged inputs: nothing to say.
    let plan = rerun::plan(&earlier)
        .expect("plan")
        .expect("something to re-run");
    assert!(
        plan.rerun.inputs_changed.is_empty(),
        "{:?}",
        plan.rerun.inputs_changed
    );

    let mut text = std::fs::read_to_string(&feature).expect("read");
    text.push_str("\n# edited after the first attempt\n");
    std::fs::write(&feature, text).expect("write");
    let plan = rerun::plan(&earlier)
        .expect("plan")
        .expect("something to re-run");
    assert_eq!(
        plan.rerun.inputs_changed.len(),
        1,
        "{:?}",
        plan.rerun.inputs_changed
    );
    assert!(plan.rerun.inputs_changed[0].contains("connection_proving.feature has changed"));
    assert!(
        plan.notes.iter().any(|n| n.starts_with(&format!(
            "inputs changed since run {}",
            earlier.header.run_id
        ))),
        "{:?}",
        plan.notes
    );
    let again = run_once(
        Faults::none(),
        plan.options(features.clone(), out.clone(), config),
    )
    .await;
    let pdf = common::pdf_text(&out.join(&again.header.run_id).join("evidence.pdf"));
    assert!(
        pdf.contains(&format!(
            "Inputs changed since run {}",
            earlier.header.run_id
        )),
        "{pdf}"
    );
}

/// The layout defects a reader met in the PDF of a full green run: no heading or bare table
/// head left at a page foot, deliberate refusals labelled as expected, raw keys explained,
/// the reconciliation window with its date and milliseconds, the accepted rows' own day
/// check, cases in reading order, no markdown backticks.
#[tokio::test]
async fn a_full_run_reads_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = common::run_pack(Pack::All, Faults::none(), dir.path()).await;
    assert_eq!(record.counts.failed, 0, "{:?}", common::statuses(&record));
    let pdf = dir.path().join(&record.header.run_id).join("evidence.pdf");
    for (i, page) in layout_pages(&pdf).iter().enumerate() {
        let last = page.last().map(String::as_str).unwrap_or_default();
        let words: Vec<&str> = last.split_whitespace().collect();
        let heading = words.first().is_some_and(|w| {
            w.len() == 5 && w.as_bytes()[2] == b'-' || w.len() == 5 && w.as_bytes()[1] == b'1'
        }) && matches!(words.last(), Some(&"PASSED" | &"FAILED"));
        assert!(
            !(heading
                || last.starts_with("Location ")
                || last.starts_with("Tags ")
                || last.starts_with("Run started")
                || words == ["Step", "Result", "Duration"]),
            "page {} ends with a heading or a bare table head: {last:?}",
            i + 1
        );
    }
    let text = common::pdf_text(&pdf);
    assert!(!text.contains('`'), "markdown backticks in the PDF");
    assert!(
        text.contains("expected: the purpose of RP-16"),
        "RP-16's 400 is expected"
    );
    assert!(text.contains("eri_unavail_ano_count ERI illustrations unavailable, code ANO"));
    assert!(text.contains("limits.acknowledgement_ms find request to its 202 acknowledgement"));
    assert!(text.contains("Window: from "), "the reconciliation window");
    assert!(text.contains("Accepted, by UTC day (from the rows above): "));
    let matrix = &text[text.find("Coverage matrix").expect("matrix")..];
    let at = |case: &str| matrix.find(&format!("{case} ")).unwrap_or(usize::MAX);
    assert!(at("S1-09") < at("S1-10") && at("S1-10") < at("S1-11") && at("S1-13") < at("S2-01"));
}

/// Each page's body lines (between the running header and the footer), as pdftotext -layout
/// gives them, trimmed and without blanks.
fn layout_pages(path: &Path) -> Vec<Vec<String>> {
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext is installed");
    String::from_utf8_lossy(&out.stdout)
        .split('\x0c')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let lines: Vec<String> = p
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|l| !l.is_empty())
                .collect();
            // Drop the running header (first line) and the footer (last line).
            lines[1..lines.len().saturating_sub(1)].to_vec()
        })
        .collect()
}

/// The simulated C&A records what the provider sends it; the harness's own calls to it (the
/// dashboard's `/token` for an RPT, its `/jwk_uri` fetch) are in the evidence once, as the
/// harness sent them, not a second time as if the provider had made them.
#[tokio::test]
async fn the_harness_s_own_calls_to_the_cas_are_not_also_shown_as_the_provider_s() {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = common::run_pack(Pack::ConnectionProving, Faults::none(), dir.path()).await;
    let cp01 = common::scenario(&record, "CP-01");
    assert_eq!(cp01.status, Status::Passed);
    let calls = |text: &str| -> Vec<String> {
        cp01.steps
            .iter()
            .find(|st| st.text.starts_with(text))
            .unwrap_or_else(|| panic!("the step {text}"))
            .exchanges
            .iter()
            .map(|e| {
                let path = url::Url::parse(&e.url)
                    .map(|u| u.path().to_owned())
                    .unwrap_or_default();
                format!("{} {} {path}", e.party, e.method)
            })
            .collect()
    };
    let view = calls("the dashboard requests the view data");
    let count = |list: &[String], what: &str| list.iter().filter(|c| c.as_str() == what).count();
    assert_eq!(
        count(&view, "dashboard -> C&A /token POST /token"),
        1,
        "{view:#?}"
    );
    assert_eq!(count(&view, "provider -> C&A POST /token"), 0, "{view:#?}");
    // The provider's own calls in the UMA flow are there.
    assert_eq!(count(&view, "provider -> C&A POST /perm"), 1, "{view:#?}");
    assert_eq!(
        count(&view, "provider -> C&A POST /introspect"),
        1,
        "{view:#?}"
    );
    // As is the PAT the provider obtained for the find.
    let find = calls("the pension finder sends a find request");
    assert_eq!(count(&find, "provider -> C&A POST /token"), 1, "{find:#?}");
    // The dashboard's key fetch, once, as the dashboard's.
    let all: Vec<String> = record
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter())
        .flat_map(|st| st.exchanges.iter())
        .filter(|e| e.url.ends_with("/jwk_uri"))
        .map(|e| e.party.clone())
        .collect();
    assert!(
        !all.is_empty() && all.iter().all(|p| !p.starts_with("provider")),
        "{all:#?}"
    );
}
