//! The UMA view flow, view data tokens and the view data itself, and the view endpoint's
//! refusals.

use crate::net::recorder::in_scenario;
use cucumber::{then, when};
use serde_json::Value;

use super::{StepFailure, StepResult, last_find, last_view, registered, short};
use crate::harness::testpack::{Case, ExpectedMatch, Pension};
use crate::record::run::Timing;
use crate::runner::world::{HarnessWorld, ObtainedView};

#[when("the dashboard requests the view data of each registered PeI through the UMA flow")]
async fn view_each_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, view_each(world)).await;
    world.settle(outcome)
}

async fn view_each(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let id = last_find(world)?.case.id.get_ref().clone();
    if world.registrations.is_empty() {
        return Err(StepFailure::system_under_test(format!(
            "case {id}: no registered PeI to view"
        )));
    }
    world.views.clear();
    let limit = env.limits.view_response_ms as f64;
    for r in world.registrations.clone() {
        let asset = r.asset_guid().unwrap_or_default().to_owned();
        let introspections_before = env.cas.introspections().len();
        let flow = match env.dashboard.obtain_view_token(&asset).await {
            Ok(flow) => flow,
            Err(f) => return Err(flow_failure(&env, &id, &r, f)),
        };
        env.recorder.push_timing(Timing {
            measure: "view response".to_owned(),
            millis: flow.second.elapsed_ms,
            limit_millis: limit,
        });
        judge_challenge(&env, &id, &r, &flow.challenge)?;
        let rpt_jti = crate::net::jwt::peek_claims(&flow.rpt)
            .and_then(|c| c["jti"].as_str().map(str::to_owned));
        let introspected = env.cas.introspections()[introspections_before..]
            .iter()
            .any(|i| i.rpt_jti.is_some() && i.rpt_jti == rpt_jti);
        if !introspected {
            return Err(StepFailure::system_under_test(format!(
                "case {id}: {}: expected the provider to introspect the RPT at the C&A before returning view data; no introspection of it was seen",
                r.name
            )));
        }
        env.recorder.judged(flow.second.exchange);
        env.recorder.observed(format!(
            "{}: 401 with a ticket, RPT from /token, {} in {:.0} ms",
            r.name, flow.second.status, flow.second.elapsed_ms
        ));
        if flow.second.elapsed_ms > limit {
            return Err(StepFailure::system_under_test(format!(
                "case {id}: expected the view response within {limit:.0} ms, observed {:.0} ms",
                flow.second.elapsed_ms
            )));
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

/// The provider's 401 challenge judged against the C&A: `as_uri` must be the C&A, the ticket
/// one the C&A issued, for this PeI's resource.
fn judge_challenge(
    env: &crate::harness::environment::Environment,
    id: &str,
    r: &crate::cda::cas::Registration,
    challenge: &crate::protocol::contract::Challenge,
) -> StepResult {
    if challenge.as_uri.trim_end_matches('/') != env.cas.base_url() {
        return Err(StepFailure::system_under_test(format!(
            "case {id}: expected as_uri {:?} (the C&A), observed {:?}",
            env.cas.base_url(),
            challenge.as_uri
        )));
    }
    let ticket = env.cas.ticket(&challenge.ticket).ok_or_else(|| {
        StepFailure::system_under_test(format!(
            "case {id}: {}: expected the 401 challenge to carry a ticket issued by the C&A's /perm, observed a ticket the C&A did not issue",
            r.name
        ))
    })?;
    if ticket.resource_id != r.resource_id {
        return Err(StepFailure::system_under_test(format!(
            "case {id}: {}: the provider's 401 challenge carried a permission ticket issued for another resource ({}), not this PeI's resource {}: expected the ticket to be for resource {}, observed one for {}",
            r.name, ticket.resource_id, r.resource_id, r.resource_id, ticket.resource_id
        )));
    }
    Ok(())
}

/// A failed view flow. A stage after the challenge may have failed because of the challenge
/// (an `as_uri` that is not the C&A cannot be reached; a ticket for another resource yields an
/// RPT the provider rightly refuses): the challenge is judged first, so the failure names the
/// provider's mistake rather than its consequence.
fn flow_failure(
    env: &crate::harness::environment::Environment,
    id: &str,
    r: &crate::cda::cas::Registration,
    f: crate::cda::dashboard::ViewFailure,
) -> StepFailure {
    if let Some(Err(wrong)) = f.challenge.as_ref().map(|c| judge_challenge(env, id, r, c)) {
        return wrong;
    }
    StepFailure::new(
        f.class,
        format!("case {id}: {} ({}): {}", r.name, f.stage, f.message),
    )
}

#[then("each view response is a valid view data token signed by the provider")]
async fn view_tokens_valid_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, view_tokens_valid(world)).await;
    world.settle(outcome)
}

async fn view_tokens_valid(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let id = last_find(world)?.case.id.get_ref().clone();
    if world.views.is_empty() {
        return Err(StepFailure::system_under_test(format!(
            "case {id}: no view response to check"
        )));
    }
    for v in &mut world.views {
        env.recorder.judged(v.response.exchange);
        let (claims, view_data) = env
            .dashboard
            .verify_view_token(&v.token)
            .await
            .map_err(|f| {
                StepFailure::new(
                    f.class,
                    format!("case {id}: {}: {}", v.registration.name, f.message),
                )
            })?;
        // The exchange holds "[redacted token]"; the evidence keeps what the token said.
        env.recorder.view_data(&v.registration.name, &claims);
        env.recorder.observed(format!(
            "{}: view data token verified against the provider's JWKS",
            v.registration.name
        ));
        let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
        if let (Some(iat), Some(exp)) = (iat, exp)
            && exp <= iat
        {
            return Err(StepFailure::system_under_test(format!(
                "case {id}: expected the view data token to expire after it was issued (iat {iat}, exp {exp})"
            )));
        }
        // What the view data carried, as the harness saw it: reporting is reconciled with it.
        if let Some(asset) = v.registration.asset_guid() {
            env.reporting.observe_view_data(asset, &view_data);
        }
        v.view_data = Some(view_data);
    }
    Ok(())
}

#[then("the view data matches the registration and the test pack")]
async fn view_data_matches_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, view_data_matches(world)).await;
    world.settle(outcome)
}

async fn view_data_matches(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let sent = last_find(world)?;
    let mut problems = Vec::new();
    // Each view's PeI and the case it is judged against: its problems start with the PeI.
    let mut owners: Vec<(String, String)> = Vec::new();
    for v in &world.views {
        let before = problems.len();
        let name = &v.registration.name;
        // Judged against the case whose set-up registered it (a scenario may set up two),
        // else the last find's.
        let case = world
            .registered_by_case
            .iter()
            .find(|(_, r)| r.name == *name)
            .and_then(|(id, _)| env.pack.case(id))
            .unwrap_or(&sent.case);
        let expect = case.expect;
        owners.push((name.clone(), case.id.get_ref().clone()));
        // Judged: the view response whose token carried this data.
        env.recorder.judged(v.response.exchange);
        let Some(data) = &v.view_data else {
            problems.push(format!("{name}: the view data was not verified"));
            continue;
        };
        let rule_problems = env.judge_view_data(data);
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
            _ => case.view.arrangements.unwrap_or(1 + pension.split.len()),
        };
        if arrangements.len() != want {
            problems.push(format!(
                "{name}: expected {want} arrangement(s) in the view response for the PeI, observed {}",
                arrangements.len()
            ));
            continue;
        }
        let a = &arrangements[0];
        problems.extend(expected_view_items(case, &arrangements, name));
        if expect != ExpectedMatch::MatchPossible {
            problems.extend(pack_values(pension, a, name));
        }
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
        if problems.len() == before {
            env.recorder
                .observed(view_data_summary(name, &arrangements, reference_key));
        }
    }
    // On failure the exchange judged is that of the first view with a problem.
    if let Some(first_bad) = world.views.iter().find(|v| {
        problems
            .iter()
            .any(|p| p.starts_with(&format!("{}:", v.registration.name)))
    }) {
        env.recorder.judged(first_bad.response.exchange);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        // "case S1-15: ...", each problem under the case of the PeI it names.
        let case_of = |problem: &str| {
            owners
                .iter()
                .find(|(pei, _)| problem.starts_with(&format!("{pei}:")))
                .map_or(sent.case.id.get_ref(), |(_, case)| case)
        };
        let mut text = String::new();
        let mut last: Option<&String> = None;
        for problem in &problems {
            let case = case_of(problem);
            if last != Some(case) {
                if !text.is_empty() {
                    text.push_str("; ");
                }
                text.push_str(&format!("case {case}: "));
                last = Some(case);
            } else {
                text.push_str("; ");
            }
            text.push_str(problem);
        }
        Err(StepFailure::system_under_test(text))
    }
}

/// The values the test pack provisioned, where the arrangement carries them: each component's
/// annual amount (matched by illustration and benefit type) and the pot.
fn pack_values(pension: &Pension, arrangement: &Value, name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let components: Vec<&Value> = arrangement["benefitIllustrations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["illustrationComponents"].as_array().into_iter().flatten())
        .collect();
    let differs =
        |observed: Option<f64>, want: f64| observed.is_some_and(|o| (o - want).abs() > 0.005);
    for want in &pension.illustration.components {
        let Some(got) = components.iter().find(|c| {
            c["illustrationType"] == want.illustration_type.as_str()
                && c["benefitType"] == want.benefit_type.as_str()
        }) else {
            continue;
        };
        let kind = format!("{} {}", want.illustration_type, want.benefit_type);
        if let (Some(annual), None) = (want.annual_amount, &want.unavailable_reason) {
            let observed = got
                .pointer("/payableDetails/annualAmount")
                .and_then(Value::as_f64);
            if differs(observed, annual) {
                problems.push(format!(
                    "{name}: expected the {kind} component's payableDetails.annualAmount {annual:.2} (the test pack), observed {}",
                    got["payableDetails"]["annualAmount"]
                ));
            }
        }
        if let Some(pot) = pension.illustration.dc_pot {
            for key in ["estimatedPot", "accruedPot"] {
                if differs(got[key].as_f64(), pot) {
                    problems.push(format!(
                        "{name}: expected the {kind} component's {key} {pot:.2} (the test pack), observed {}",
                        got[key]
                    ));
                }
            }
        }
    }
    problems
}

/// One line on the view data that matched: arrangements, reference, illustration codes.
fn view_data_summary(name: &str, arrangements: &[Value], reference_key: &str) -> String {
    let a = arrangements.first().cloned().unwrap_or_default();
    let codes: Vec<String> = arrangements
        .iter()
        .flat_map(|a| {
            a["benefitIllustrations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|i| {
            i["illustrationComponents"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|c| {
            format!(
                "{} {}",
                c["illustrationType"].as_str().unwrap_or("?"),
                c["unavailableReason"].as_str().unwrap_or("available")
            )
        })
        .collect();
    format!(
        "{name}: {} arrangement(s), {reference_key} {}, scheme {}{}",
        arrangements.len(),
        a[reference_key].as_str().unwrap_or("-"),
        a["pensionProviderSchemeName"].as_str().unwrap_or("-"),
        if codes.is_empty() {
            String::new()
        } else {
            format!(", illustrations: {}", codes.join(", "))
        }
    )
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

#[when(expr = "the dashboard calls the view endpoint for the PeI of case {string} without a token")]
async fn view_without_token_step(world: &mut HarnessWorld, case_id: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, view_without_token(world, case_id)).await;
    world.settle(outcome)
}

async fn view_without_token(world: &mut HarnessWorld, case_id: String) -> StepResult {
    let env = world.env()?;
    let reg = registered(world, &case_id)?;
    let asset = reg.asset_guid().unwrap_or_default().to_owned();
    world.last_view_response = Some(env.dashboard.call_view(&asset, None).await);
    world.last_view_target = Some(reg);
    Ok(())
}

#[then(
    "the provider answers 401 with a WWW-Authenticate header carrying as_uri and a ticket issued by the C&A for that PeI"
)]
async fn answered_with_ticket_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, answered_with_ticket(world)).await;
    world.settle(outcome)
}

async fn answered_with_ticket(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let (reg, response) = last_view(world)?;
    env.recorder.judged(response.exchange);
    if response.status != 401 {
        return Err(StepFailure::system_under_test(format!(
            "{}: expected 401 with a ticket for a view request without a token, observed {} {}",
            reg.name,
            response.status,
            short(&response.text())
        )));
    }
    let challenge = env
        .dashboard
        .challenge_of(&response)
        .map_err(|f| StepFailure::system_under_test(format!("{}: {}", reg.name, f.message)))?;
    if challenge.as_uri.trim_end_matches('/') != env.cas.base_url() {
        return Err(StepFailure::system_under_test(format!(
            "{}: expected as_uri {:?} (the C&A), observed {:?}",
            reg.name,
            env.cas.base_url(),
            challenge.as_uri
        )));
    }
    let ticket = env.cas.ticket(&challenge.ticket).ok_or_else(|| {
        StepFailure::system_under_test(format!(
            "{}: expected a ticket issued by the C&A's /perm, observed one the C&A did not issue (or that has expired)",
            reg.name
        ))
    })?;
    if ticket.resource_id != reg.resource_id {
        return Err(StepFailure::system_under_test(format!(
            "{}: expected the ticket to be for resource {}, observed one for {}",
            reg.name, reg.resource_id, ticket.resource_id
        )));
    }
    env.recorder.observed(format!(
        "{}: 401, as_uri {}, a ticket the C&A issued for resource {}",
        reg.name, challenge.as_uri, ticket.resource_id
    ));
    Ok(())
}

#[when(
    expr = "the dashboard presents, for the PeI of case {string}, an RPT issued for the PeI of case {string}"
)]
async fn present_foreign_rpt_step(
    world: &mut HarnessWorld,
    target: String,
    other: String,
) -> StepResult {
    let outcome = in_scenario(world.scenario_id, present_foreign_rpt(world, target, other)).await;
    world.settle(outcome)
}

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
        .map_err(|e| {
            StepFailure::new(
                e.class(),
                format!("{}: the view request got no response: {e}", other_reg.name),
            )
        })?;
    let challenge = env.dashboard.challenge_of(&first).map_err(|f| {
        StepFailure::system_under_test(format!("{}: {}", other_reg.name, f.message))
    })?;
    let rpt = env
        .dashboard
        .request_rpt(&challenge.as_uri, &challenge.ticket)
        .await
        .map_err(|f| StepFailure::new(f.class, format!("{}: {}", other_reg.name, f.message)))?;
    let asset = target_reg.asset_guid().unwrap_or_default().to_owned();
    world.last_view_response = Some(env.dashboard.call_view(&asset, Some(&rpt)).await);
    world.last_view_target = Some(target_reg);
    Ok(())
}

#[then("the provider refuses the view request and returns no view data")]
async fn refused_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, refused(world)).await;
    world.settle(outcome)
}

async fn refused(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let (reg, response) = last_view(world)?;
    env.recorder.judged(response.exchange);
    let field = &env.contract.view.token_field;
    let carries_data = response.json().is_some_and(|v| v.get(field).is_some());
    if (200..300).contains(&response.status) || carries_data {
        return Err(StepFailure::system_under_test(format!(
            "{}: expected the provider to refuse an RPT issued for another resource (401 or 403), observed {}{}",
            reg.name,
            response.status,
            if carries_data {
                " with a view data token"
            } else {
                ""
            }
        )));
    }
    if !matches!(response.status, 401 | 403) {
        return Err(StepFailure::system_under_test(format!(
            "{}: expected 401 (with a new ticket) or 403 for an RPT issued for another resource, observed {}",
            reg.name, response.status
        )));
    }
    env.recorder.observed(format!(
        "{}: refused with {} and no view data",
        reg.name, response.status
    ));
    Ok(())
}
