//! Find requests, their acknowledgement and the registrations they lead to.

use crate::net::recorder::in_scenario;
use std::collections::BTreeSet;
use std::time::Duration;

use cucumber::{given, then, when};

use super::{
    Forgery, Settle, StepFailure, StepResult, await_registrations, await_registrations_then,
    last_find, send_find, send_find_as, short, with_refusals,
};
use crate::harness::testpack::ExpectedMatch;
use crate::record::run::Timing;
use crate::runner::audit::FindKind;
use crate::runner::world::HarnessWorld;

#[given("the provider's test data has been cleared down")]
async fn cleared_down_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, cleared_down(world)).await;
    world.settle(outcome)
}

async fn cleared_down(world: &mut HarnessWorld) -> StepResult {
    world.env()?.clear_down().await.map_err(|e| match e {
        crate::harness::environment::ClearDownError::CasState(_) => {
            StepFailure::harness(format!("internal: {e}"))
        }
        other => StepFailure::environment(other.to_string()),
    })
}

#[given("the provider's test data has been cleared down once for these scenarios")]
async fn cleared_down_once_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, cleared_down_once(world)).await;
    world.settle(outcome)
}

/// The feature's first selected scenario clears down; the others wait for its outcome
/// ([`crate::runner::shared_clear_down`]).
async fn cleared_down_once(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let Some(shared) = world.shared_clear_down.clone() else {
        // The test pack in use gives two of these scenarios one member (a run note says
        // which): each clears down, and they run one at a time.
        cleared_down(world).await?;
        env.recorder.observed(
            "the test data was cleared down for this scenario alone: in this test pack these scenarios share a member",
        );
        return Ok(());
    };
    let by = shared.by.label();
    if world.scenario.as_ref() == Some(&shared.by) {
        let outcome = cleared_down(world).await.map(|()| {
            format!(
                "the test data was cleared down once for these scenarios, by {by} at {}",
                chrono::Utc::now().format("%H:%M:%S%.3f")
            )
        });
        shared.finish(outcome.clone());
        env.recorder.observed(outcome?);
        return Ok(());
    }
    let limit = env.clear_down_limit() + Duration::from_secs(10);
    let done = shared.wait(limit).await.map_err(|e| {
        StepFailure::new(
            e.class,
            format!("the clear-down shared with {by} failed: {}", e.message),
        )
    })?;
    env.recorder
        .observed(format!("{done}; this scenario waited for it"));
    Ok(())
}

#[when(expr = "the pension finder sends a find request for the member of test case {string}")]
async fn find_request_step(world: &mut HarnessWorld, case_id: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, find_request(world, case_id)).await;
    world.settle(outcome)
}

async fn find_request(world: &mut HarnessWorld, case_id: String) -> StepResult {
    send_find(world, &case_id, false).await?;
    let sent = last_find(world)?;
    match &sent.outcome.error {
        Some(e) => Err(StepFailure::new(
            e.class(),
            format!(
                "case {case_id}: the find request could not be delivered to {}: {e}",
                world.env()?.finder.url()
            ),
        )),
        None => Ok(()),
    }
}

#[when(
    regex = r#"^the pension finder sends a find request for the member of test case "([^"]+)" with (a find token with a bad signature|an expired find token|a find token from the wrong issuer|a find token for the wrong audience|no X-Request-ID|a malformed X-Request-ID)$"#
)]
async fn forged_find_step(world: &mut HarnessWorld, case_id: String, what: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, forged_find(world, case_id, what)).await;
    world.settle(outcome)
}

async fn forged_find(world: &mut HarnessWorld, case_id: String, what: String) -> StepResult {
    let forgery = Forgery::parse(&what).ok_or_else(|| {
        StepFailure::harness(format!("internal: no forged find is called {what:?}"))
    })?;
    send_find_as(world, &case_id, FindKind::Refused, Some(forgery)).await?;
    match &last_find(world)?.outcome.error {
        Some(e) => Err(StepFailure::new(
            e.class(),
            format!(
                "case {case_id}: the find request could not be delivered to {}: {e}",
                world.env()?.finder.url()
            ),
        )),
        None => Ok(()),
    }
}

#[then("the provider refuses the find request with a 4xx status")]
async fn refused_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, refused(world)).await;
    world.settle(outcome)
}

async fn refused(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let sent = last_find(world)?;
    let id = negative_label(world, sent.case.id.get_ref());
    let o = &sent.outcome;
    let why = world.forged.unwrap_or("it is forged");
    super::judged_find(&env, &o.request_id);
    env.recorder.observed(format!(
        "forged find request ({why}) answered {}",
        o.status
            .map_or_else(|| "nothing".to_owned(), |s| s.to_string()),
    ));
    match o.status {
        Some(s) if (400..500).contains(&s) => Ok(()),
        Some(s) => Err(StepFailure::system_under_test(format!(
            "case {id}: expected the provider to refuse the find request with a 4xx because {why}; observed {s}{}",
            if o.body.is_empty() {
                String::new()
            } else {
                format!(" with body {}", short(&o.body))
            }
        ))),
        None => Err(no_answer(
            o,
            format!(
                "case {id}: expected the provider to refuse the find request with a 4xx because {why}"
            ),
        )),
    }
}

/// A find that got no answer, classed by why: nothing reachable is the environment's, a hung
/// or oversized answer the provider's.
fn no_answer(o: &crate::cda::finder::FindOutcome, expected: String) -> StepFailure {
    match &o.error {
        Some(e) => StepFailure::new(e.class(), format!("{expected}; no response arrived ({e})")),
        None => StepFailure::harness(format!(
            "{expected}; no response arrived (internal: no error recorded)"
        )),
    }
}

/// "FN-01 (the member of case S1-01)": a negative scenario's own case id, and whose find it
/// forged.
fn negative_label(world: &HarnessWorld, member_case: &str) -> String {
    match world.scenario.as_ref().and_then(|k| k.case_id.as_deref()) {
        Some(own) if own != member_case => format!("{own} (the member of case {member_case})"),
        _ => member_case.to_owned(),
    }
}

#[then("the provider acknowledges the find request with 202 within the acknowledgement limit")]
async fn acknowledged_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, acknowledged(world)).await;
    world.settle(outcome)
}

async fn acknowledged(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let sent = last_find(world)?;
    let id = sent.case.id.get_ref();
    let o = &sent.outcome;
    let limit = env.limits.acknowledgement_ms as f64;
    env.recorder.push_timing(Timing {
        measure: "acknowledgement".to_owned(),
        millis: o.elapsed_ms,
        limit_millis: limit,
    });
    super::judged_find(&env, &o.request_id);
    env.recorder.observed(format!(
        "find request {} answered {} in {:.0} ms (limit {limit:.0} ms)",
        o.request_id,
        o.status
            .map_or_else(|| "nothing".to_owned(), |s| s.to_string()),
        o.elapsed_ms
    ));
    let accepted = &env.contract.find.accepted_statuses;
    let Some(status) = o.status else {
        return Err(no_answer(
            o,
            format!("case {id}: expected the find request to be acknowledged with {accepted:?}"),
        ));
    };
    if !accepted.contains(&status) {
        return Err(StepFailure::system_under_test(format!(
            "case {id}: expected the find request to be acknowledged with {accepted:?} (asynchronous matching), observed {status}{}",
            if o.body.is_empty() {
                String::new()
            } else {
                format!(" with body {}", short(&o.body))
            }
        )));
    }
    if o.elapsed_ms > limit {
        return Err(StepFailure::system_under_test(format!(
            "case {id}: expected the acknowledgement within {limit:.0} ms, observed {:.0} ms",
            o.elapsed_ms
        )));
    }
    if carries_match_results(&o.body) {
        return Err(StepFailure::system_under_test(format!(
            "case {id}: the find request was acknowledged with {status} but the body carries match results ({}); results reach dashboards only as registrations at the C&A (digest section 2), never in the acknowledgement",
            short(&o.body)
        )));
    }
    Ok(())
}

/// An acknowledgement body naming a PeI or a match status: the find's results, which must
/// never travel back to the pension finder.
fn carries_match_results(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    ["urn:pei:", "match_status", "match-yes", "match-possible"]
        .iter()
        .any(|m| lower.contains(m))
}

#[then("exactly the PeIs expected by the test pack are registered within the registration limit")]
async fn registered_as_expected_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, registered_as_expected(world)).await;
    world.settle(outcome)
}

async fn registered_as_expected(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let regs = await_registrations(world).await?;
    let sent = last_find(world)?.clone();
    let id = sent.case.id.get_ref().clone();
    let limit = env.limits.registration_ms as f64;
    for r in &regs {
        let millis = (r.registered_at - sent.outcome.sent_at)
            .num_microseconds()
            .unwrap_or(0) as f64
            / 1000.0;
        env.recorder.push_timing(Timing {
            measure: "registration".to_owned(),
            millis,
            limit_millis: limit,
        });
    }
    let expected = sent.case.expected_assets();
    let observed: BTreeSet<String> = regs
        .iter()
        .filter_map(|r| r.asset_guid().map(str::to_ascii_lowercase))
        .collect();
    let missing: Vec<_> = expected.difference(&observed).cloned().collect();
    let extra: Vec<_> = observed.difference(&expected).cloned().collect();
    let dupes = regs.len() > observed.len();
    world.registrations = regs.clone();
    super::observe_registrations(&env, &regs);
    if let Some(r) = regs.last() {
        super::judged_registration(&env, &r.name);
    }
    if missing.is_empty() && extra.is_empty() && !dupes {
        let late: Vec<String> = regs
            .iter()
            .filter(|r| (r.registered_at - sent.outcome.sent_at).num_milliseconds() as f64 > limit)
            .map(|r| r.name.clone())
            .collect();
        if !late.is_empty() {
            return Err(StepFailure::system_under_test(format!(
                "case {id}: expected every PeI registered within {limit:.0} ms of the find request; late: {late:?}"
            )));
        }
        return Ok(());
    }
    let describe = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    Err(with_refusals(
        world,
        &id,
        format!(
            "case {id}: expected exactly {} PeI(s) registered ({}) within {limit:.0} ms; observed {} registration(s); missing: {}; unexpected: {}{}",
            expected.len(),
            describe(&expected.iter().cloned().collect::<Vec<_>>()),
            regs.len(),
            describe(&missing),
            describe(&extra),
            if dupes {
                "; the same asset was registered more than once"
            } else {
                ""
            }
        ),
    ))
}

#[then(
    expr = "every registration has match status {string}, the scheme name as description and the find request's X-Request-ID as inbound_request_id"
)]
async fn registrations_correct_step(world: &mut HarnessWorld, status: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, registrations_correct(world, status)).await;
    world.settle(outcome)
}

async fn registrations_correct(world: &mut HarnessWorld, status: String) -> StepResult {
    check_registrations(world, &status)
}

#[then(
    "every registration has the match status the test pack expects, the scheme name as description and the find request's X-Request-ID as inbound_request_id"
)]
async fn registrations_as_pack_expects_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, registrations_as_pack_expects(world)).await;
    world.settle(outcome)
}

async fn registrations_as_pack_expects(world: &mut HarnessWorld) -> StepResult {
    let status = last_find(world)?
        .case
        .expect
        .match_status()
        .unwrap_or("(none)")
        .to_owned();
    check_registrations(world, &status)
}

fn check_registrations(world: &HarnessWorld, status: &str) -> StepResult {
    let env = world.env()?;
    let sent = last_find(world)?;
    let id = sent.case.id.get_ref();
    if world.registrations.is_empty() {
        return Err(StepFailure::system_under_test(format!(
            "case {id}: no registration to check"
        )));
    }
    let expected_status = sent.case.expect.match_status().unwrap_or("(none)");
    if status != expected_status {
        return Err(StepFailure::test_data(format!(
            "test data: the feature expects {status:?} but the test pack expects {expected_status:?} for case {id}"
        )));
    }
    let scheme = &env.pack.provider.scheme_name;
    let holder = env.pack.holdername_guid();
    let mut problems = Vec::new();
    super::observe_registrations(&env, &world.registrations);
    for r in &world.registrations {
        let before = problems.len();
        if r.match_status != *status {
            problems.push(format!(
                "{}: expected match_status {status:?}, observed {:?}",
                r.name,
                r.match_status.wire()
            ));
        }
        if !crate::cda::cas::pei_is_dashboard_readable(&r.name) {
            problems.push(format!(
                "{}: expected the PeI to be exactly urn:pei:<holdername-guid>:<asset-guid> (73 characters after urn:pei:, no braces): MaPS's dashboard rejects any other form, so this pension could not be viewed live",
                r.name
            ));
        }
        if &r.description != scheme {
            problems.push(format!(
                "{}: expected description {scheme:?} (the scheme name the view data will carry), observed {:?}",
                r.name, r.description
            ));
        }
        match &r.inbound_request_id {
            Some(v) if v == &sent.outcome.request_id => {}
            Some(v) => problems.push(format!(
                "{}: expected inbound_request_id {} (the find request's X-Request-ID), observed {v}{}",
                r.name,
                sent.outcome.request_id,
                world
                    .audit
                    .as_ref()
                    .and_then(|a| a.other_find_behind(&env.cas, &sent.outcome.request_id, r))
                    .map(|case| format!(
                        " (registered for case {case}'s find: the PeI was registered before this find, and not again)"
                    ))
                    .unwrap_or_default()
            )),
            None => problems.push(format!(
                "{}: expected inbound_request_id {} (the find request's X-Request-ID), observed none",
                r.name, sent.outcome.request_id
            )),
        }
        if !r
            .holder_guid()
            .is_some_and(|h| h.eq_ignore_ascii_case(holder))
        {
            problems.push(format!("{}: expected holder GUID {holder}", r.name));
        }
        for scope in ["owner", "value"] {
            if !r.resource_scopes.iter().any(|s| s == scope) {
                problems.push(format!(
                    "{}: expected resource_scopes to include {scope:?}, observed {:?}",
                    r.name, r.resource_scopes
                ));
            }
        }
        // The decisive exchange of a wrong registration is its POST /rreguri.
        if problems.len() > before {
            super::judged_registration(&env, &r.name);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StepFailure::system_under_test(format!(
            "case {id}: {}",
            problems.join("; ")
        )))
    }
}

#[then("no PeI is registered for the find request")]
async fn nothing_registered_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, nothing_registered(world)).await;
    world.settle(outcome)
}

async fn nothing_registered(world: &mut HarnessWorld) -> StepResult {
    watch_nothing_registered(world, "a find that matches nothing").await
}

#[then("no PeI is registered for the refused find request")]
async fn nothing_registered_refused_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, nothing_registered_refused(world)).await;
    world.settle(outcome)
}

async fn nothing_registered_refused(world: &mut HarnessWorld) -> StepResult {
    let why = world.forged.unwrap_or("it is forged");
    watch_nothing_registered(
        world,
        &format!("a find the provider must refuse because {why}"),
    )
    .await
}

/// Watch the C&A for `no_match_watch_ms`: any registration carrying the last find's request
/// id, or made since it and caused by no other find of the run, fails; `what` names the find.
pub(super) async fn watch_nothing_registered(world: &HarnessWorld, what: &str) -> StepResult {
    let env = world.env()?;
    let sent = last_find(world)?.clone();
    let id = negative_label(world, sent.case.id.get_ref());
    let since = sent.outcome.sent_at;
    let request_id = sent.outcome.request_id.clone();
    let window = Duration::from_millis(env.limits.no_match_watch_ms);
    let audit = world.audit.clone();
    // What other finds of the run caused is theirs, judged as theirs, not this find's.
    let theirs = |r: &crate::cda::cas::Registration| {
        audit
            .as_ref()
            .is_some_and(|a| a.caused_by_another_find(&env.cas, &request_id, r))
    };
    let unwanted = |regs: &[crate::cda::cas::Registration]| {
        let new: Vec<String> = regs
            .iter()
            .filter(|r| {
                (r.registered_at >= since && !theirs(r))
                    || r.inbound_request_id.as_deref() == Some(request_id.as_str())
            })
            .map(|r| format!("{} ({})", r.name, r.match_status))
            .collect();
        (!new.is_empty()).then_some(new)
    };
    // A registration naming this find ends the watch at once; any other is judged when the
    // window has passed, by then the finds sent beside this one are all known to the audit.
    let _ = env
        .cas
        .wait_for(window, |regs| {
            regs.iter()
                .any(|r| r.inbound_request_id.as_deref() == Some(request_id.as_str()))
                .then_some(())
        })
        .await;
    // A find another scenario is sending now may already have registered: wait until it is
    // recorded, so that what it caused is known as its own.
    if let Some(audit) = &world.audit {
        let sending = env.limits.acknowledgement_ms + env.limits.timeout_margin_ms;
        audit
            .finds_being_sent_recorded(Duration::from_millis(sending))
            .await;
    }
    let unwanted = unwanted(&env.cas.registrations());
    match unwanted {
        None => {
            env.recorder.observed(format!(
                "no PeI registered in the {} ms watched",
                env.limits.no_match_watch_ms
            ));
            Ok(())
        }
        Some(names) => Err(StepFailure::system_under_test(format!(
            "case {id}: expected no PeI registered for {what} (watched {} ms); observed {}",
            env.limits.no_match_watch_ms,
            names.join(", ")
        ))),
    }
}

#[when("the pension finder sends the same person's find request again")]
async fn find_again_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, find_again(world)).await;
    world.settle(outcome)
}

async fn find_again(world: &mut HarnessWorld) -> StepResult {
    let first = last_find(world)?.clone();
    let regs = std::mem::take(&mut world.registrations);
    send_find(world, first.case.id.get_ref(), true).await?;
    world.registrations = regs;
    world.first_find = Some(first);
    match &last_find(world)?.outcome.error {
        Some(e) => Err(StepFailure::new(
            e.class(),
            format!("the repeated find request could not be delivered: {e}"),
        )),
        None => Ok(()),
    }
}

#[then("the PeI is not registered a second time")]
async fn not_registered_twice_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, not_registered_twice(world)).await;
    world.settle(outcome)
}

async fn not_registered_twice(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let sent = last_find(world)?.clone();
    let id = sent.case.id.get_ref();
    let names: Vec<String> = world
        .registrations
        .iter()
        .map(|r| r.name.to_ascii_lowercase())
        .collect();
    if names.is_empty() {
        return Err(StepFailure::system_under_test(format!(
            "case {id}: the first find registered nothing to compare with"
        )));
    }
    let since = sent.outcome.sent_at;
    let window = Duration::from_millis(env.limits.no_match_watch_ms);
    // Watch every POST /rreguri, including ones the C&A deduplicated (it answers 200 with the
    // existing resource), so a provider that re-registers is caught even though no second
    // resource appears.
    let _ = env.cas.wait_for(window, |_| None::<()>).await;
    let attempts: Vec<String> = env
        .cas
        .registration_attempts()
        .into_iter()
        .filter(|a| a.at >= since)
        .filter(|a| {
            a.name
                .as_deref()
                .is_some_and(|n| names.contains(&n.to_ascii_lowercase()))
                || a.inbound_request_id.as_deref() == Some(sent.outcome.request_id.as_str())
        })
        .map(|a| {
            format!(
                "POST /rreguri for {} answered {}",
                a.name.unwrap_or_default(),
                a.status
            )
        })
        .collect();
    let live = env
        .cas
        .registrations()
        .into_iter()
        .filter(|r| r.deleted.is_none() && names.contains(&r.name.to_ascii_lowercase()))
        .count();
    if attempts.is_empty() && live == names.len() {
        env.recorder.observed(format!(
            "no new POST /rreguri in the {} ms watched; {live} live registration(s)",
            env.limits.no_match_watch_ms
        ));
        Ok(())
    } else {
        Err(StepFailure::system_under_test(format!(
            "case {id}: expected the repeated find request not to register the member's PeI again; observed {}{}",
            if attempts.is_empty() {
                "no new attempt".to_owned()
            } else {
                attempts.join("; ")
            },
            if live != names.len() {
                format!("; {live} live registrations for {} PeI(s)", names.len())
            } else {
                String::new()
            }
        )))
    }
}

#[given(expr = "the member of test case {string} has a registered PeI")]
async fn has_registered_pei_step(world: &mut HarnessWorld, case_id: String) -> StepResult {
    let outcome = in_scenario(
        world.scenario_id,
        has_registered_pei(world, case_id, Settle::Now),
    )
    .await;
    world.settle(outcome)
}

#[given(expr = "the members of test cases {string} and {string} have registered PeIs")]
async fn have_registered_peis_step(
    world: &mut HarnessWorld,
    first: String,
    second: String,
) -> StepResult {
    let outcome = in_scenario(
        world.scenario_id,
        have_registered_peis(world, first, second),
    )
    .await;
    world.settle(outcome)
}

/// Two set-ups, one settle window: the second find is sent as soon as the first's PeI is
/// registered, and the window after the second's registration covers the first's too.
async fn have_registered_peis(
    world: &mut HarnessWorld,
    first: String,
    second: String,
) -> StepResult {
    has_registered_pei(world, first.clone(), Settle::Later).await?;
    has_registered_pei(world, second.clone(), Settle::Now).await?;
    world.registrations = [first, second]
        .iter()
        .filter_map(|case| world.registered_by_case.get(case).cloned())
        .collect();
    Ok(())
}

async fn has_registered_pei(
    world: &mut HarnessWorld,
    case_id: String,
    settle: Settle,
) -> StepResult {
    send_find(world, &case_id, false).await?;
    let sent = last_find(world)?;
    if let Some(e) = &sent.outcome.error {
        return Err(StepFailure::new(
            e.class(),
            format!("case {case_id}: the find request could not be delivered: {e}"),
        ));
    }
    if sent.case.expect == ExpectedMatch::None {
        return Err(StepFailure::test_data(format!(
            "test data: case {case_id} expects no match, so it cannot set up a registered PeI"
        )));
    }
    // Only a registration made for this scenario's find sets up its PeI: one carrying another
    // find's request id (an earlier scenario's, arriving late) proves nothing about this one,
    // so it is waited past. (One with no request id at all is the registration check's to
    // judge, in the scenario that checks it.)
    let env = world.env()?;
    let sent = last_find(world)?.clone();
    let request_id = sent.outcome.request_id.clone();
    let expected = sent.case.expected_assets();
    let foreign = |r: &crate::cda::cas::Registration| {
        r.inbound_request_id
            .as_deref()
            .is_some_and(|id| id != request_id)
    };
    // As for any find (with its settle window, in which the provider also records what the
    // C&A answered); then, when only another find's registration came, on for this one's.
    let regs = await_registrations_then(world, settle).await?;
    let mine = match regs.into_iter().find(|r| !foreign(r)) {
        Some(r) => Some(r),
        None => {
            let left = (sent.outcome.sent_at
                + chrono::Duration::milliseconds(
                    i64::try_from(env.limits.registration_ms).unwrap_or(i64::MAX),
                ))
                - chrono::Utc::now();
            let late = env
                .cas
                .wait_for(left.to_std().unwrap_or_default(), |regs| {
                    super::relevant(regs, &expected, &request_id)
                        .into_iter()
                        .find(|r| !foreign(r))
                })
                .await;
            if late.is_some() && settle == Settle::Now {
                // The same settle window, for the provider to record what the C&A answered.
                tokio::time::sleep(Duration::from_millis(env.limits.registration_settle_ms)).await;
            }
            late
        }
    };
    let others: Vec<_> = super::relevant(&env.cas.registrations(), &expected, &request_id)
        .into_iter()
        .filter(|r| foreign(r))
        .collect();
    if mine.is_none()
        && let Some(other) = others.first()
    {
        let theirs = other.inbound_request_id.as_deref().unwrap_or("none");
        let whose = world
            .audit
            .as_ref()
            .and_then(|a| a.case_of_find(theirs))
            .map(|c| format!(" (case {c}'s find)"))
            .unwrap_or_default();
        return Err(StepFailure::system_under_test(format!(
            "case {case_id}: the PeI {} registered for the member belongs to another find: its inbound_request_id {theirs}{whose} is not this scenario's find request's X-Request-ID {request_id}",
            other.name
        )));
    }
    let reg = mine.ok_or_else(|| {
        with_refusals(
            world,
            &case_id,
            format!(
                "case {case_id}: expected a PeI to be registered for the member within {} ms; none was",
                env.limits.registration_ms
            ),
        )
    })?;
    world.registrations = vec![reg.clone()];
    world.registered_by_case.insert(case_id, reg);
    Ok(())
}
