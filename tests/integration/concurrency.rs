//! `--concurrency`: the same pack at 1 and at 8 scenarios at once gives the same verdicts and
//! the same evidence apart from times, and a broken provider fails the same scenarios. What
//! makes it so: every exchange, timing and note is attributed to the scenario it belongs to
//! (the steps run as their scenario; the provider's calls to the C&A by the values they carry),
//! and the writer puts each scenario's events in feature order.

use crate::common;

use std::collections::BTreeSet;

use common::{environment_with, run_on_at, test_limits};
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::provider::{Fault, Faults};
use pdp_harness::record::run::{Exchange, RunRecord, Status};
use pdp_harness::runner::Pack;

async fn run_at(pack: Pack, faults: Faults, concurrency: usize) -> RunRecord {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = test_limits(TargetConfig::default());
    let env = environment_with(faults, &config).await;
    let result = run_on_at(&env, pack, dir.path(), config, None, concurrency).await;
    env.shutdown();
    result.expect("the run completes").0
}

/// Where an exchange went, without the host (a fresh port each run) or values that are new
/// each run (request ids, asset GUIDs are stable; resource ids and tickets are not).
fn route(e: &Exchange) -> String {
    let path = url::Url::parse(&e.url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| e.url.split('?').next().unwrap_or_default().to_owned());
    let stable: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if seg.len() >= 16 && !seg.contains('-') {
                "<id>"
            } else {
                seg
            }
        })
        .collect();
    format!(
        "{} {} {} -> {:?}",
        e.party,
        e.method,
        stable.join("/"),
        e.status
    )
}

/// A run's evidence without its times: scenarios in order, the routes of the exchanges
/// attributed to each, and each step's outcome, class and how many timings and tokens it
/// recorded.
fn shape(record: &RunRecord) -> Vec<String> {
    let mut out = vec![format!("verdict {:?}", record.verdict)];
    for s in &record.scenarios {
        out.push(format!("scenario {} {} {:?}", s.location, s.name, s.status));
        // The scenario's exchanges as a set: which of its steps a provider's asynchronous call
        // lands in (its `/token` just before or just after the 202 is read) and their order
        // are the peers' timing, even one scenario at a time.
        // A key set fetched once and cached (the dashboard's `/jwk_uri`, the provider's
        // `/jwks`) is fetched by whichever scenario needs it first: a time, left out.
        let mut routes: Vec<String> = s
            .steps
            .iter()
            .flat_map(|st| st.exchanges.iter())
            .filter(|e| {
                !(e.method == "GET" && (e.url.ends_with("/jwk_uri") || e.url.ends_with("/jwks")))
            })
            .map(route)
            .collect();
        routes.sort();
        out.extend(routes.into_iter().map(|r| format!("  exchange {r}")));
        for st in &s.steps {
            out.push(format!(
                "  {} {} {:?} {:?} failed-with-message:{}",
                st.keyword,
                st.text,
                st.status,
                st.failure_class,
                st.message.is_some() && st.status == Status::Failed
            ));
            out.push(format!(
                "    {} timing(s), {} view data token(s), observed: {}",
                st.timings.len(),
                st.view_data.len(),
                st.observed.is_some()
            ));
        }
    }
    out
}

fn failed(record: &RunRecord) -> BTreeSet<String> {
    record
        .scenarios
        .iter()
        .filter(|s| s.status != Status::Passed)
        .map(|s| s.case_id.clone().unwrap_or_else(|| s.name.clone()))
        .collect()
}

/// Every failed step with its message, to say why two runs differ.
fn failures(record: &RunRecord) -> Vec<String> {
    record
        .scenarios
        .iter()
        .flat_map(|s| {
            s.steps
                .iter()
                .filter(|st| st.status == Status::Failed)
                .map(move |st| format!("{}: {}: {:?}", s.name, st.text, st.message))
        })
        .collect()
}

/// Fail with `message` printed first: a cucumber run elsewhere in the test binary may have
/// left the panic hook silent (it swaps a global hook while it runs), and the test's captured
/// output still reaches the report.
fn require(ok: bool, message: impl FnOnce() -> String) {
    if !ok {
        let text = message();
        println!("{text}");
        panic!("{text}");
    }
}

fn first_difference(a: &[String], b: &[String]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    format!(
        "first difference at line {at}:\n  at 1: {:?}\n  at 8: {:?}\n(context at 1: {:#?})",
        a.get(at),
        b.get(at),
        a.get(at.saturating_sub(8)..(at + 2).min(a.len()))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_pack_at_1_and_at_8_gives_the_same_verdicts_and_evidence_apart_from_times() {
    let one = run_at(Pack::All, Faults::none(), 1).await;
    let eight = run_at(Pack::All, Faults::none(), 8).await;
    assert!(
        one.scenarios.len() >= 30,
        "the whole pack ran: {} scenarios",
        one.scenarios.len()
    );
    assert_eq!(
        failed(&one),
        BTreeSet::new(),
        "a correct provider passes at 1"
    );
    let (a, b) = (shape(&one), shape(&eight));
    require(a == b, || {
        format!(
            "{}\nfailures at 8: {:#?}",
            first_difference(&a, &b),
            failures(&eight)
        )
    });
    // Concurrency did happen: some of stage 1's scenarios overlapped at 8.
    let stage1: Vec<_> = eight
        .scenarios
        .iter()
        .filter(|s| s.location.contains("stage1.feature"))
        .collect();
    let overlapped = stage1.windows(2).any(|w| match w[0].ended_at {
        Some(end) => w[1].started_at < end,
        None => false,
    });
    assert!(overlapped, "stage 1's scenarios ran one after another at 8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_provider_fails_the_same_scenarios_at_1_and_at_8() {
    // Possible matches registered as match-yes: exactly the possible-match cases fail.
    let faults = || Faults::none().with(Fault::PossibleMatchAsYes);
    let one = run_at(Pack::Stage1, faults(), 1).await;
    let eight = run_at(Pack::Stage1, faults(), 8).await;
    assert!(!failed(&one).is_empty(), "the defect fails some scenarios");
    require(failed(&one) == failed(&eight), || {
        format!(
            "failures at 1: {:#?}\nat 8: {:#?}",
            failures(&one),
            failures(&eight)
        )
    });
    let (a, b) = (shape(&one), shape(&eight));
    require(a == b, || first_difference(&a, &b));
}

/// The find negatives share one clear-down and run side by side because each uses its own
/// member. Where the test pack in use gives two of them one member, the run says so and
/// falls back to one at a time, each clearing down (else a lenient provider's registration
/// for one could hide the other's: a provider need not register a PeI twice).
#[tokio::test]
async fn find_negatives_sharing_a_member_in_the_pack_run_one_at_a_time_each_clearing_down() {
    use pdp_harness::record::redact::Redactor;
    let mut pack = (*common::pack()).clone();
    let s1_01 = pack.case("S1-01").expect("case S1-01").clone();
    let s1_02 = pack
        .cases
        .iter_mut()
        .find(|c| c.id.get_ref() == "S1-02")
        .expect("case S1-02");
    s1_02.persona = s1_01.persona.clone();
    s1_02.pensions = s1_01.pensions.clone();
    let pack = std::sync::Arc::new(pack);
    let config = test_limits(TargetConfig::default());
    let redactor = Redactor::new(pack.personal_values(), false);
    let env = std::sync::Arc::new(
        pdp_harness::harness::environment::Environment::embedded(
            pack,
            &config,
            Faults::none(),
            redactor,
        )
        .await
        .expect("the embedded default starts"),
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = pdp_harness::runner::RunOptions {
        tags: Some("@case:FN-01 or @case:FN-02 or @case:FN-03".into()),
        ..common::run_options(Pack::Stage1, dir.path(), config)
    };
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let outcome = pdp_harness::runner::run(
        env.clone(),
        &options,
        Box::new(pdp_harness::runner::writer::Collect(lines.clone())),
    )
    .await;
    env.shutdown();
    let record = outcome.expect("the run completes").record;
    let fn_ = |case: &str| common::scenario(&record, case).clone();
    let (a, b, c) = (fn_("FN-01"), fn_("FN-02"), fn_("FN-03"));
    require(
        [&a, &b, &c].iter().all(|s| s.status == Status::Passed),
        || format!("{:#?}", common::statuses(&record)),
    );
    require(
        record.notes.iter().any(|n| {
            n.text.contains("find_negatives.feature")
                && n.text.contains("both use member P-S1-01")
                && n.text.contains("one at a time")
        }),
        || format!("{:#?}", record.notes),
    );
    for s in [&a, &b, &c] {
        let step = &s.steps[0];
        require(
            step.exchanges
                .iter()
                .any(|e| e.party.contains("clear-down"))
                && step
                    .observed
                    .as_deref()
                    .is_some_and(|o| o.contains("cleared down for this scenario alone")),
            || format!("{}: {step:#?}", s.name),
        );
    }
    // One at a time: each starts once the one before it has ended.
    require(
        a.ended_at.is_some_and(|e| e <= b.started_at)
            && b.ended_at.is_some_and(|e| e <= c.started_at),
        || format!("{a:#?} {b:#?} {c:#?}"),
    );
}

/// Stage 1's own scenarios start beside the find negatives once the data is cleared down
/// (the negatives' 1.5 s watches no longer come first), except those whose member a negative
/// uses: they wait until every negative has finished, or a lenient registration by one could
/// hide the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_one_starts_beside_the_find_negatives_and_waits_only_where_it_shares_a_member() {
    let record = run_at(Pack::Stage1, Faults::none(), 16).await;
    assert_eq!(failed(&record), BTreeSet::new(), "{:#?}", failures(&record));
    let exchanges = |case: &str| {
        common::scenario(&record, case)
            .steps
            .iter()
            .flat_map(|s| s.exchanges.clone())
            .collect::<Vec<_>>()
    };
    let first_sent = |case: &str| {
        exchanges(case)
            .iter()
            .map(|e| e.at)
            .min()
            .unwrap_or_else(|| panic!("{case} sent nothing"))
    };
    let negatives = ["FN-01", "FN-02", "FN-03", "FN-04", "FN-05", "FN-06"];
    // The end of each negative's last step (its watch), not of the scenario: the scenarios
    // waiting for it go on as its after hook runs, a moment before cucumber ends it.
    let negatives_end = negatives
        .iter()
        .map(|case| {
            let s = common::scenario(&record, case);
            let ran: f64 = s.steps.iter().map(|st| st.duration_ms).sum();
            s.started_at + chrono::Duration::microseconds((ran * 1000.0) as i64)
        })
        .max()
        .expect("the negatives ran");
    let cleared = exchanges("FN-01")
        .iter()
        .filter(|e| e.party.contains("clear-down"))
        .map(|e| e.at + chrono::Duration::milliseconds(e.duration_ms as i64))
        .max()
        .expect("FN-01 cleared the data down");
    // The negatives' members: S1-01, 02, 03, 04, 06 and 07.
    for case in ["S1-01", "S1-02", "S1-03", "S1-04", "S1-06", "S1-07"] {
        let sent = first_sent(case);
        assert!(
            sent >= negatives_end,
            "{case} sent at {sent}, before the negatives ended at {negatives_end}: {:#?}",
            exchanges(case)
                .iter()
                .map(|e| format!("{} {} {} {}", e.at, e.party, e.method, e.url))
                .collect::<Vec<_>>()
        );
    }
    let mut beside = Vec::new();
    for case in [
        "S1-05", "S1-08", "S1-09", "S1-10", "S1-11", "S1-12", "S1-13", "S1-14", "S1-15", "S1-16",
    ] {
        let sent = first_sent(case);
        assert!(
            sent >= cleared,
            "{case} sent at {sent}, before the clear-down ended at {cleared}"
        );
        if sent < negatives_end {
            beside.push(case);
        }
    }
    assert!(
        beside.contains(&"S1-10") && beside.contains(&"S1-14"),
        "stage 1's long watches did not start beside the negatives: {beside:?}"
    );
}
