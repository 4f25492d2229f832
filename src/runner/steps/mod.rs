//! Step definitions: the Gherkin sentences of `features/` and what each checks, one module per
//! part of the flow. Every failure message names the case, what was expected and what was
//! observed, so a technical contact can act on it without reading code. Messages for problems
//! outside the system under test start with `test data:`, `scenario:` or `internal:` so they are
//! classed correctly (see `crate::evidence::classify`).

mod find;
mod reporting;
mod resilience;
mod updates;
mod view;

use std::collections::BTreeSet;
use std::time::Duration;

use super::world::{HarnessWorld, SentFind};
use crate::cda::cas::Registration;
use crate::contract::FindData;
use crate::recorder::Observed;
use crate::testpack::Case;

pub(super) type StepResult = Result<(), String>;

pub(super) fn case(world: &HarnessWorld, id: &str) -> Result<Case, String> {
    let env = world.env()?;
    env.pack.case(id).cloned().ok_or_else(|| {
        format!(
            "test data: case {id:?} is not in the test pack {}",
            env.pack.path.display()
        )
    })
}

pub(super) fn last_find(world: &HarnessWorld) -> Result<&SentFind, String> {
    world
        .last_find
        .as_ref()
        .ok_or_else(|| "no find request has been sent in this scenario".to_owned())
}

pub(super) fn short(s: &str) -> String {
    const MAX: usize = 300;
    if s.chars().count() > MAX {
        format!("{}...", s.chars().take(MAX).collect::<String>())
    } else {
        s.to_owned()
    }
}

pub(super) async fn send_find(world: &mut HarnessWorld, case_id: &str) -> StepResult {
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

/// Registrations of the expected assets or carrying the find's request id.
pub(super) fn relevant(
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
pub(super) async fn await_registrations(world: &HarnessWorld) -> Result<Vec<Registration>, String> {
    let env = world.env()?;
    let sent = last_find(world)?;
    let expected = sent.case.expected_assets();
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
    Ok(regs)
}

pub(super) fn registered(world: &HarnessWorld, case_id: &str) -> Result<Registration, String> {
    world.registered_by_case.get(case_id).cloned().ok_or_else(|| {
        format!("scenario: no PeI was set up for case {case_id} (add \"Given the member of test case \\\"{case_id}\\\" has a registered PeI\")")
    })
}

/// The most recent raw view request's target and response.
pub(super) fn last_view(world: &HarnessWorld) -> Result<(Registration, Observed), String> {
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

/// Mark the find request with this X-Request-ID as the exchange a check judged.
pub(super) fn judged_find(env: &crate::environment::Environment, request_id: &str) {
    env.recorder.judged_latest(|e| {
        e.party == crate::cda::finder::PARTY
            && e.request_headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-request-id") && v == request_id)
    });
}

/// Mark the latest POST /rreguri registering `pei` as the exchange a check judged.
pub(super) fn judged_registration(env: &crate::environment::Environment, pei: &str) {
    env.recorder.judged_latest(|e| {
        e.party == crate::environment::PARTY_PROVIDER_TO_CAS
            && e.method == "POST"
            && e.url.contains("rreguri")
            && e.request_body.as_deref().is_some_and(|b| b.contains(pei))
    });
}

/// One line on what was registered: each PeI with its match status.
pub(super) fn observe_registrations(env: &crate::environment::Environment, regs: &[Registration]) {
    if regs.is_empty() {
        return;
    }
    env.recorder.observed(format!(
        "{} registration(s): {}",
        regs.len(),
        regs.iter()
            .map(|r| format!(
                "{} {} \"{}\" inbound_request_id {}",
                r.name,
                r.match_status,
                r.description,
                r.inbound_request_id.as_deref().unwrap_or("none")
            ))
            .collect::<Vec<_>>()
            .join("; ")
    ));
}
