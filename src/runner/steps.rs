//! Step definitions: the Gherkin sentences of `features/` and what each checks.
//!
//! Every failure message names the case, what was expected and what was observed, so a
//! technical contact can act on it without reading code.

use std::collections::BTreeSet;
use std::time::Duration;

use cucumber::{given, then, when};
use serde_json::Value;

use super::world::{HarnessWorld, ObtainedView, SentFind};
use crate::cda::cas::Registration;
use crate::contract::FindData;
use crate::evidence::record::Timing;
use crate::recorder::Observed;
use crate::testpack::{Case, ExpectedMatch};

type StepResult = Result<(), String>;

fn case(world: &HarnessWorld, id: &str) -> Result<Case, String> {
    let env = world.env()?;
    env.pack.case(id).cloned().ok_or_else(|| {
        format!(
            "test data: case {id:?} is not in the test pack {}",
            env.pack.path.display()
        )
    })
}

fn last_find(world: &HarnessWorld) -> Result<&SentFind, String> {
    world
        .last_find
        .as_ref()
        .ok_or_else(|| "no find request has been sent in this scenario".to_owned())
}

fn short(s: &str) -> String {
    const MAX: usize = 300;
    if s.chars().count() > MAX {
        format!("{}...", s.chars().take(MAX).collect::<String>())
    } else {
        s.to_owned()
    }
}

async fn send_find(world: &mut HarnessWorld, case_id: &str) -> StepResult {
    let env = world.env()?;
    let case = case(world, case_id)?;
    let persona = env.pack.persona(case.persona.get_ref()).ok_or_else(|| {
        format!(
            "test data: persona {} of case {case_id} is not in the pack",
            case.persona.get_ref()
        )
    })?;
    let outcome = env.finder.send(&FindData::of(persona)).await;
    world.registrations.clear();
    world.last_find = Some(SentFind { case, outcome });
    Ok(())
}

#[given("the provider's test data has been cleared down")]
async fn cleared_down(world: &mut HarnessWorld) -> StepResult {
    world.env()?.clear_down().await
}

#[when(expr = "the pension finder sends a find request for the member of test case {string}")]
async fn find_request(world: &mut HarnessWorld, case_id: String) -> StepResult {
    send_find(world, &case_id).await?;
    let sent = last_find(world)?;
    match &sent.outcome.error {
        Some(e) => Err(format!(
            "case {case_id}: the find request could not be delivered to {}: {e}",
            world.env()?.finder.url()
        )),
        None => Ok(()),
    }
}

#[then("the provider acknowledges the find request with 202 within the acknowledgement limit")]
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
    let accepted = &env.contract.find.accepted_statuses;
    let Some(status) = o.status else {
        return Err(format!(
            "case {id}: expected the find request to be acknowledged with {accepted:?}; no response arrived ({})",
            o.error.as_deref().unwrap_or("no error recorded")
        ));
    };
    if !accepted.contains(&status) {
        return Err(format!(
            "case {id}: expected the find request to be acknowledged with {accepted:?} (asynchronous matching), observed {status}{}",
            if o.body.is_empty() {
                String::new()
            } else {
                format!(" with body {}", short(&o.body))
            }
        ));
    }
    if o.elapsed_ms > limit {
        return Err(format!(
            "case {id}: expected the acknowledgement within {limit:.0} ms, observed {:.0} ms",
            o.elapsed_ms
        ));
    }
    Ok(())
}

/// Registrations of the expected assets or carrying the find's request id.
fn relevant(
    regs: &[Registration],
    expected: &BTreeSet<String>,
    request_id: &str,
) -> Vec<Registration> {
    regs.iter()
        .filter(|r| r.deleted.is_none())
        .filter(|r| {
            r.inbound_request_id.as_deref() == Some(request_id)
                || r.asset_guid()
                    .is_some_and(|a| expected.contains(&a.to_ascii_lowercase()))
        })
        .cloned()
        .collect()
}

/// Wait (event-driven) until the expected registrations of the last find have arrived, then
/// watch for the settle window for unexpected extras.
async fn await_registrations(world: &HarnessWorld) -> Result<(Vec<Registration>, f64), String> {
    let env = world.env()?;
    let sent = last_find(world)?;
    let expected: BTreeSet<String> = sent
        .case
        .pensions
        .iter()
        .map(|p| p.get_ref().to_ascii_lowercase())
        .collect();
    let request_id = sent.outcome.request_id.clone();
    let limit = Duration::from_millis(env.limits.registration_ms);
    let want = expected.len();
    let got = env
        .cas
        .wait_for(limit, |regs| {
            let rel = relevant(regs, &expected, &request_id);
            (want > 0 && rel.len() >= want).then_some(rel)
        })
        .await;
    let elapsed = sent.outcome.sent_instant.elapsed().as_secs_f64() * 1000.0;
    if got.is_some() || want == 0 {
        // Keep watching briefly for registrations that should not be there.
        let settle = Duration::from_millis(env.limits.registration_settle_ms);
        let _ = env
            .cas
            .wait_for(settle, |regs| {
                (relevant(regs, &expected, &request_id).len() > want).then_some(())
            })
            .await;
    }
    let regs = relevant(&env.cas.registrations(), &expected, &request_id);
    Ok((regs, elapsed))
}

#[then("exactly the PeIs expected by the test pack are registered within the registration limit")]
async fn registered_as_expected(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let (regs, _) = await_registrations(world).await?;
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
    let expected: BTreeSet<String> = sent
        .case
        .pensions
        .iter()
        .map(|p| p.get_ref().to_ascii_lowercase())
        .collect();
    let observed: BTreeSet<String> = regs
        .iter()
        .filter_map(|r| r.asset_guid().map(str::to_ascii_lowercase))
        .collect();
    let missing: Vec<_> = expected.difference(&observed).cloned().collect();
    let extra: Vec<_> = observed.difference(&expected).cloned().collect();
    let dupes = regs.len() > observed.len();
    world.registrations = regs.clone();
    if missing.is_empty() && extra.is_empty() && !dupes {
        let late: Vec<String> = regs
            .iter()
            .filter(|r| (r.registered_at - sent.outcome.sent_at).num_milliseconds() as f64 > limit)
            .map(|r| r.name.clone())
            .collect();
        if !late.is_empty() {
            return Err(format!(
                "case {id}: expected every PeI registered within {limit:.0} ms of the find request; late: {late:?}"
            ));
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
    Err(format!(
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
    ))
}

#[then(
    expr = "every registration has match status {string}, the scheme name as description and the find request's X-Request-ID as inbound_request_id"
)]
async fn registrations_correct(world: &mut HarnessWorld, status: String) -> StepResult {
    check_registrations(world, &status)
}

#[then(
    "every registration has the match status the test pack expects, the scheme name as description and the find request's X-Request-ID as inbound_request_id"
)]
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
        return Err(format!("case {id}: no registration to check"));
    }
    let expected_status = sent.case.expect.match_status().unwrap_or("(none)");
    if status != expected_status {
        return Err(format!(
            "test data: the feature expects {status:?} but the test pack expects {expected_status:?} for case {id}"
        ));
    }
    let scheme = &env.pack.provider.scheme_name;
    let holder = env.pack.holdername_guid();
    let mut problems = Vec::new();
    for r in &world.registrations {
        if r.match_status != *status {
            problems.push(format!(
                "{}: expected match_status {status:?}, observed {:?}",
                r.name, r.match_status
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
                "{}: expected inbound_request_id {} (the find request's X-Request-ID), observed {v}",
                r.name, sent.outcome.request_id
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
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("case {id}: {}", problems.join("; ")))
    }
}

#[when("the dashboard requests the view data of each registered PeI through the UMA flow")]
async fn view_each(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let id = last_find(world)?.case.id.get_ref().clone();
    if world.registrations.is_empty() {
        return Err(format!("case {id}: no registered PeI to view"));
    }
    world.views.clear();
    let limit = env.limits.view_response_ms as f64;
    for r in world.registrations.clone() {
        let asset = r.asset_guid().unwrap_or_default().to_owned();
        let introspections_before = env.cas.introspections().len();
        let flow = env
            .dashboard
            .obtain_view_token(&asset)
            .await
            .map_err(|f| format!("case {id}: {} ({}): {}", r.name, f.stage, f.message))?;
        env.recorder.push_timing(Timing {
            measure: "view response".to_owned(),
            millis: flow.second.elapsed_ms,
            limit_millis: limit,
        });
        let ticket = env.cas.ticket(&flow.challenge.ticket).ok_or_else(|| {
            format!(
                "case {id}: {}: expected the 401 challenge to carry a ticket issued by the C&A's /perm, observed a ticket the C&A did not issue",
                r.name
            )
        })?;
        if ticket.resource_id != r.resource_id {
            return Err(format!(
                "case {id}: {}: expected the ticket to be for resource {}, observed one for {}",
                r.name, r.resource_id, ticket.resource_id
            ));
        }
        if flow.challenge.as_uri.trim_end_matches('/') != env.cas.base_url() {
            return Err(format!(
                "case {id}: expected as_uri {:?} (the C&A), observed {:?}",
                env.cas.base_url(),
                flow.challenge.as_uri
            ));
        }
        let rpt_jti =
            crate::jwt::peek_claims(&flow.rpt).and_then(|c| c["jti"].as_str().map(str::to_owned));
        let introspected = env.cas.introspections()[introspections_before..]
            .iter()
            .any(|i| i.rpt_jti.is_some() && i.rpt_jti == rpt_jti);
        if !introspected {
            return Err(format!(
                "case {id}: {}: expected the provider to introspect the RPT at the C&A before returning view data; no introspection of it was seen",
                r.name
            ));
        }
        if flow.second.elapsed_ms > limit {
            return Err(format!(
                "case {id}: expected the view response within {limit:.0} ms, observed {:.0} ms",
                flow.second.elapsed_ms
            ));
        }
        world.views.push(ObtainedView {
            registration: r,
            token: flow.token,
            response: flow.second,
            rpt: flow.rpt,
            view_data: None,
        });
    }
    Ok(())
}

#[then("each view response is a valid view data token signed by the provider")]
async fn view_tokens_valid(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let id = last_find(world)?.case.id.get_ref().clone();
    if world.views.is_empty() {
        return Err(format!("case {id}: no view response to check"));
    }
    for v in &mut world.views {
        let (claims, view_data) = env
            .dashboard
            .verify_view_token(&v.token)
            .await
            .map_err(|f| format!("case {id}: {}: {}", v.registration.name, f.message))?;
        let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
        if let (Some(iat), Some(exp)) = (iat, exp)
            && exp <= iat
        {
            return Err(format!(
                "case {id}: expected the view data token to expire after it was issued (iat {iat}, exp {exp})"
            ));
        }
        v.view_data = Some(view_data);
    }
    Ok(())
}

#[then("the view data matches the registration and the test pack")]
async fn view_data_matches(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let sent = last_find(world)?;
    let id = sent.case.id.get_ref().clone();
    let expect = sent.case.expect;
    let mut problems = Vec::new();
    for v in &world.views {
        let name = &v.registration.name;
        let Some(data) = &v.view_data else {
            problems.push(format!("{name}: the view data was not verified"));
            continue;
        };
        let rule_problems = crate::rules::view_data_problems(data);
        if !rule_problems.is_empty() {
            problems.push(format!(
                "{name}: data standards: {}",
                rule_problems.join("; ")
            ));
        }
        let arrangements = data["arrangements"].as_array().cloned().unwrap_or_default();
        let asset = v.registration.asset_guid().unwrap_or_default();
        let Some(pension) = env.pack.pension(asset) else {
            problems.push(format!("{name}: asset {asset} is not in the test pack"));
            continue;
        };
        let want = match expect {
            ExpectedMatch::MatchPossible => 1,
            _ => sent
                .case
                .view
                .arrangements
                .unwrap_or(1 + pension.split.len()),
        };
        if arrangements.len() != want {
            problems.push(format!(
                "{name}: expected {want} arrangement(s) in the view response for the PeI, observed {}",
                arrangements.len()
            ));
            continue;
        }
        let a = &arrangements[0];
        problems.extend(expected_view_items(&sent.case, &arrangements, name));
        if a["pensionProviderSchemeName"].as_str() != Some(v.registration.description.as_str()) {
            problems.push(format!(
                "{name}: expected pensionProviderSchemeName {:?} (the registration's description), observed {}",
                v.registration.description, a["pensionProviderSchemeName"]
            ));
        }
        let (reference_key, possible) = match expect {
            ExpectedMatch::MatchPossible => ("possibleMatchReference", true),
            _ => ("pensionReference", false),
        };
        if a[reference_key].as_str() != Some(pension.pension_reference.as_str()) {
            problems.push(format!(
                "{name}: expected {reference_key} {:?} (asset {asset} in the test pack), observed {} - view data for another pension?",
                pension.pension_reference, a[reference_key]
            ));
        }
        if possible != (a["possibleMatch"] == Value::Bool(true)) {
            problems.push(format!(
                "{name}: expected a {} response for a {} registration",
                if possible {
                    "possible-match (limited)"
                } else {
                    "full"
                },
                v.registration.match_status
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("case {id}: {}", problems.join("; ")))
    }
}

/// The case's `[cases.view]` expectations: unavailable codes and flags.
fn expected_view_items(case: &Case, arrangements: &[Value], name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let components: Vec<&Value> = arrangements
        .iter()
        .flat_map(|a| a["benefitIllustrations"].as_array().into_iter().flatten())
        .flat_map(|i| i["illustrationComponents"].as_array().into_iter().flatten())
        .collect();
    for entry in &case.view.unavailable {
        let Some((kind, code)) = entry.split_once(':') else {
            continue;
        };
        let of_kind: Vec<&&Value> = components
            .iter()
            .filter(|c| c["illustrationType"] == kind)
            .collect();
        if of_kind.is_empty() {
            problems.push(format!(
                "{name}: expected an {kind} illustration component with unavailableReason {code:?}; the {kind} component is missing (it must be returned with its code, not omitted)"
            ));
        } else if !of_kind.iter().any(|c| c["unavailableReason"] == code) {
            problems.push(format!(
                "{name}: expected the {kind} component to carry unavailableReason {code:?}, observed {}",
                of_kind
                    .iter()
                    .map(|c| c["unavailableReason"].to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    for flag in &case.view.flags {
        if !arrangements.iter().any(|a| a[flag] == Value::Bool(true)) {
            problems.push(format!(
                "{name}: expected {flag} to be true in the view data"
            ));
        }
    }
    problems
}

#[then("no PeI is registered for the find request")]
async fn nothing_registered(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let sent = last_find(world)?.clone();
    let id = sent.case.id.get_ref();
    let since = sent.outcome.sent_at;
    let request_id = sent.outcome.request_id.clone();
    let window = Duration::from_millis(env.limits.no_match_watch_ms);
    let unwanted = env
        .cas
        .wait_for(window, |regs| {
            let new: Vec<String> = regs
                .iter()
                .filter(|r| {
                    r.registered_at >= since
                        || r.inbound_request_id.as_deref() == Some(request_id.as_str())
                })
                .map(|r| format!("{} ({})", r.name, r.match_status))
                .collect();
            (!new.is_empty()).then_some(new)
        })
        .await;
    match unwanted {
        None => Ok(()),
        Some(names) => Err(format!(
            "case {id}: expected no PeI registered for a find that matches nothing (watched {} ms); observed {}",
            env.limits.no_match_watch_ms,
            names.join(", ")
        )),
    }
}

#[when("the pension finder sends the same person's find request again")]
async fn find_again(world: &mut HarnessWorld) -> StepResult {
    let first = last_find(world)?.clone();
    let regs = std::mem::take(&mut world.registrations);
    send_find(world, first.case.id.get_ref()).await?;
    world.registrations = regs;
    world.first_find = Some(first);
    match &last_find(world)?.outcome.error {
        Some(e) => Err(format!(
            "the repeated find request could not be delivered: {e}"
        )),
        None => Ok(()),
    }
}

#[then("the PeI is not registered a second time")]
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
        return Err(format!(
            "case {id}: the first find registered nothing to compare with"
        ));
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
        Ok(())
    } else {
        Err(format!(
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
        ))
    }
}

fn planned_update(
    world: &HarnessWorld,
    update_id: &str,
) -> Result<(crate::updates::MatchUpdate, crate::testpack::PlannedUpdate), String> {
    let env = world.env()?;
    let planned =
        env.pack.update(update_id).cloned().ok_or_else(|| {
            format!("test data: match update {update_id:?} is not in the test pack")
        })?;
    let file = env.applied_match_updates().ok_or_else(|| {
        format!(
            "update {update_id}: no match-update file was applied before stage 2 (see the run notes)"
        )
    })?;
    let update = file
        .update(update_id)
        .cloned()
        .ok_or_else(|| {
            format!(
                "update {update_id} (case {}): not in the applied match-update file: stage 1 left no live registration of asset {}",
                planned.case.get_ref(),
                planned.asset.get_ref()
            )
        })?;
    Ok((update, planned))
}

#[then(expr = "the C&A shows match update {string} applied within the update limit")]
async fn update_applied(world: &mut HarnessWorld, update_id: String) -> StepResult {
    let env = world.env()?;
    let (update, planned) = planned_update(world, &update_id)?;
    let case = planned.case.get_ref();
    let resource_id = update.resource_id.clone();
    let action = planned.action;
    let window = Duration::from_millis(env.limits.update_ms);
    let done = env
        .cas
        .wait_for(window, |regs| {
            let r = regs.iter().find(|r| r.resource_id == resource_id)?;
            match action.deletion_reason() {
                None => (r.deleted.is_none() && r.match_status == "match-yes").then_some(()),
                Some(_) => r.deleted.is_some().then_some(()),
            }
        })
        .await;
    let reg = env.cas.registration(&resource_id).ok_or_else(|| {
        format!("update {update_id} (case {case}): the C&A has no registration {resource_id}")
    })?;
    let observed = match &reg.deleted {
        Some(d) => format!("deleted with deletion_reason {}", d.reason),
        None => format!("still registered as {}", reg.match_status),
    };
    match (action.deletion_reason(), &reg.deleted) {
        (None, None) if done.is_some() && reg.patches.iter().any(|p| p == "match-yes") => Ok(()),
        (None, _) => Err(format!(
            "update {update_id} (case {case}): expected {} PATCHed to match-yes within {} ms; observed {observed}",
            update.pei, env.limits.update_ms
        )),
        (Some(reason), Some(d)) if d.reason == reason => Ok(()),
        (Some(reason), _) => Err(format!(
            "update {update_id} (case {case}): expected {} deleted with deletion_reason {reason} within {} ms; observed {observed}",
            update.pei, env.limits.update_ms
        )),
    }
}

#[then(expr = "the view of the PeI of match update {string} reflects it")]
async fn view_reflects_update(world: &mut HarnessWorld, update_id: String) -> StepResult {
    let env = world.env()?;
    let (update, planned) = planned_update(world, &update_id)?;
    let case = planned.case.get_ref();
    if planned.action.deletion_reason().is_some() {
        let resp = env
            .dashboard
            .call_view(&update.asset_guid, None)
            .await
            .map_err(|e| format!("update {update_id}: the view request got no response: {e}"))?;
        let field = &env.contract.view.token_field;
        if (200..300).contains(&resp.status) || resp.json().is_some_and(|v| v.get(field).is_some())
        {
            return Err(format!(
                "update {update_id} (case {case}): expected the view of a deleted PeI to be refused, observed {}",
                resp.status
            ));
        }
        if resp.status == 401 {
            return Err(format!(
                "update {update_id} (case {case}): expected the view of a deleted PeI to be refused (e.g. 404), observed 401 with a challenge: the provider still offers the resource"
            ));
        }
        return Ok(());
    }
    let flow = env
        .dashboard
        .obtain_view_token(&update.asset_guid)
        .await
        .map_err(|f| {
            format!(
                "update {update_id} (case {case}): {} ({}): {}",
                update.pei, f.stage, f.message
            )
        })?;
    let (_, data) = env
        .dashboard
        .verify_view_token(&flow.token)
        .await
        .map_err(|f| format!("update {update_id} (case {case}): {}", f.message))?;
    let problems = crate::rules::view_data_problems(&data);
    if !problems.is_empty() {
        return Err(format!(
            "update {update_id} (case {case}): data standards: {}",
            problems.join("; ")
        ));
    }
    let limited = data["arrangements"]
        .as_array()
        .is_some_and(|a| a.iter().any(|a| a["possibleMatch"] == Value::Bool(true)));
    if limited {
        return Err(format!(
            "update {update_id} (case {case}): expected full view data once the match was confirmed, observed the possible-match (limited) response"
        ));
    }
    Ok(())
}

#[given(expr = "the member of test case {string} has a registered PeI")]
async fn has_registered_pei(world: &mut HarnessWorld, case_id: String) -> StepResult {
    send_find(world, &case_id).await?;
    let sent = last_find(world)?;
    if let Some(e) = &sent.outcome.error {
        return Err(format!(
            "case {case_id}: the find request could not be delivered: {e}"
        ));
    }
    if sent.case.expect == ExpectedMatch::None {
        return Err(format!(
            "test data: case {case_id} expects no match, so it cannot set up a registered PeI"
        ));
    }
    let (regs, _) = await_registrations(world).await?;
    let reg = regs.into_iter().next().ok_or_else(|| {
        format!(
            "case {case_id}: expected a PeI to be registered for the member within {} ms; none was",
            world
                .env()
                .map(|e| e.limits.registration_ms)
                .unwrap_or_default()
        )
    })?;
    world.registrations = vec![reg.clone()];
    world.registered_by_case.insert(case_id, reg);
    Ok(())
}

fn registered(world: &HarnessWorld, case_id: &str) -> Result<Registration, String> {
    world.registered_by_case.get(case_id).cloned().ok_or_else(|| {
        format!("scenario: no PeI was set up for case {case_id} (add \"Given the member of test case \\\"{case_id}\\\" has a registered PeI\")")
    })
}

#[when(expr = "the dashboard calls the view endpoint for the PeI of case {string} without a token")]
async fn view_without_token(world: &mut HarnessWorld, case_id: String) -> StepResult {
    let env = world.env()?;
    let reg = registered(world, &case_id)?;
    let asset = reg.asset_guid().unwrap_or_default().to_owned();
    world.last_view_response = Some(env.dashboard.call_view(&asset, None).await);
    world.last_view_target = Some(reg);
    Ok(())
}

/// The most recent raw view request's target and response.
fn last_view(world: &HarnessWorld) -> Result<(Registration, Observed), String> {
    let reg = world
        .last_view_target
        .clone()
        .ok_or("no view request has been made in this scenario")?;
    match world.last_view_response.clone() {
        Some(Ok(r)) => Ok((reg, r)),
        Some(Err(e)) => Err(format!(
            "{}: the view request got no response: {e}",
            reg.name
        )),
        None => Err("no view request has been made in this scenario".to_owned()),
    }
}

#[then(
    "the provider answers 401 with a WWW-Authenticate header carrying as_uri and a ticket issued by the C&A for that PeI"
)]
async fn answered_with_ticket(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let (reg, response) = last_view(world)?;
    if response.status != 401 {
        return Err(format!(
            "{}: expected 401 with a ticket for a view request without a token, observed {} {}",
            reg.name,
            response.status,
            short(&response.text())
        ));
    }
    let challenge = env
        .dashboard
        .challenge_of(&response)
        .map_err(|f| format!("{}: {}", reg.name, f.message))?;
    if challenge.as_uri.trim_end_matches('/') != env.cas.base_url() {
        return Err(format!(
            "{}: expected as_uri {:?} (the C&A), observed {:?}",
            reg.name,
            env.cas.base_url(),
            challenge.as_uri
        ));
    }
    let ticket = env.cas.ticket(&challenge.ticket).ok_or_else(|| {
        format!(
            "{}: expected a ticket issued by the C&A's /perm, observed one the C&A did not issue (or that has expired)",
            reg.name
        )
    })?;
    if ticket.resource_id != reg.resource_id {
        return Err(format!(
            "{}: expected the ticket to be for resource {}, observed one for {}",
            reg.name, reg.resource_id, ticket.resource_id
        ));
    }
    Ok(())
}

#[when(
    expr = "the dashboard presents, for the PeI of case {string}, an RPT issued for the PeI of case {string}"
)]
async fn present_foreign_rpt(
    world: &mut HarnessWorld,
    target: String,
    other: String,
) -> StepResult {
    let env = world.env()?;
    let target_reg = registered(world, &target)?;
    let other_reg = registered(world, &other)?;
    let other_asset = other_reg.asset_guid().unwrap_or_default().to_owned();
    // Obtain a genuine RPT for the other resource through the normal flow.
    let first = env
        .dashboard
        .call_view(&other_asset, None)
        .await
        .map_err(|e| format!("{}: the view request got no response: {e}", other_reg.name))?;
    let challenge = env
        .dashboard
        .challenge_of(&first)
        .map_err(|f| format!("{}: {}", other_reg.name, f.message))?;
    let rpt = env
        .dashboard
        .request_rpt(&challenge.as_uri, &challenge.ticket)
        .await
        .map_err(|f| format!("{}: {}", other_reg.name, f.message))?;
    let asset = target_reg.asset_guid().unwrap_or_default().to_owned();
    world.last_view_response = Some(env.dashboard.call_view(&asset, Some(&rpt)).await);
    world.last_view_target = Some(target_reg);
    Ok(())
}

#[then("the provider refuses the view request and returns no view data")]
async fn refused(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let (reg, response) = last_view(world)?;
    let field = &env.contract.view.token_field;
    let carries_data = response.json().is_some_and(|v| v.get(field).is_some());
    if (200..300).contains(&response.status) || carries_data {
        return Err(format!(
            "{}: expected the provider to refuse an RPT issued for another resource (401 or 403), observed {}{}",
            reg.name,
            response.status,
            if carries_data {
                " with a view data token"
            } else {
                ""
            }
        ));
    }
    if !matches!(response.status, 401 | 403) {
        return Err(format!(
            "{}: expected 401 (with a new ticket) or 403 for an RPT issued for another resource, observed {}",
            reg.name, response.status
        ));
    }
    Ok(())
}
