//! Stage 2: the match updates at the C&A and through the view endpoint.

use std::time::Duration;

use cucumber::then;
use serde_json::Value;

use super::{StepFailure, StepResult};
use crate::protocol::match_status::MatchStatus;
use crate::runner::world::HarnessWorld;

fn planned_update(
    world: &HarnessWorld,
    update_id: &str,
) -> Result<
    (
        crate::harness::updates::MatchUpdate,
        crate::harness::testpack::PlannedUpdate,
    ),
    StepFailure,
> {
    let env = world.env()?;
    let planned = env.pack.update(update_id).cloned().ok_or_else(|| {
        StepFailure::test_data(format!(
            "test data: match update {update_id:?} is not in the test pack"
        ))
    })?;
    let file = env.applied_match_updates().ok_or_else(|| {
        StepFailure::system_under_test(format!(
            "update {update_id}: no match-update file was applied before stage 2 (see the run notes)"
        ))
    })?;
    let update = file
        .update(update_id)
        .cloned()
        .ok_or_else(|| {
            StepFailure::system_under_test(format!(
                "update {update_id} (case {}): not in the applied match-update file: stage 1 left no live registration of asset {}",
                planned.case.get_ref(),
                planned.asset.get_ref()
            ))
        })?;
    Ok((update, planned))
}

#[then(expr = "the C&A shows match update {string} applied within the update limit")]
async fn update_applied_step(world: &mut HarnessWorld, update_id: String) -> StepResult {
    let outcome = update_applied(world, update_id).await;
    world.settle(outcome)
}

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
                None => (r.deleted.is_none() && r.match_status == MatchStatus::Yes).then_some(()),
                Some(_) => r.deleted.is_some().then_some(()),
            }
        })
        .await;
    let reg = env.cas.registration(&resource_id).ok_or_else(|| {
        StepFailure::system_under_test(format!(
            "update {update_id} (case {case}): the C&A has no registration {resource_id}"
        ))
    })?;
    let observed = match &reg.deleted {
        Some(d) => format!("deleted with deletion_reason {}", d.reason),
        None => format!("still registered as {}", reg.match_status),
    };
    match (action.deletion_reason(), &reg.deleted) {
        (None, None)
            if done.is_some() && reg.patches.iter().any(|p| p == MatchStatus::Yes.wire()) =>
        {
            Ok(())
        }
        (None, _) => Err(StepFailure::system_under_test(format!(
            "update {update_id} (case {case}): expected {} PATCHed to match-yes within {} ms; observed {observed}",
            update.pei, env.limits.update_ms
        ))),
        (Some(reason), Some(d)) if d.reason == reason => Ok(()),
        (Some(reason), _) => Err(StepFailure::system_under_test(format!(
            "update {update_id} (case {case}): expected {} deleted with deletion_reason {reason} within {} ms; observed {observed}",
            update.pei, env.limits.update_ms
        ))),
    }
}

#[then(expr = "the view of the PeI of match update {string} reflects it")]
async fn view_reflects_update_step(world: &mut HarnessWorld, update_id: String) -> StepResult {
    let outcome = view_reflects_update(world, update_id).await;
    world.settle(outcome)
}

async fn view_reflects_update(world: &mut HarnessWorld, update_id: String) -> StepResult {
    let env = world.env()?;
    let (update, planned) = planned_update(world, &update_id)?;
    let case = planned.case.get_ref();
    if planned.action.deletion_reason().is_some() {
        let resp = env
            .dashboard
            .call_view(&update.asset_guid, None)
            .await
            .map_err(|e| {
                StepFailure::new(
                    e.class(),
                    format!("update {update_id}: the view request got no response: {e}"),
                )
            })?;
        let field = &env.contract.view.token_field;
        if (200..300).contains(&resp.status) || resp.json().is_some_and(|v| v.get(field).is_some())
        {
            return Err(StepFailure::system_under_test(format!(
                "update {update_id} (case {case}): expected the view of a deleted PeI to be refused, observed {}",
                resp.status
            )));
        }
        if resp.status == 401 {
            return Err(StepFailure::system_under_test(format!(
                "update {update_id} (case {case}): expected the view of a deleted PeI to be refused (e.g. 404), observed 401 with a challenge: the provider still offers the resource"
            )));
        }
        return Ok(());
    }
    let flow = env
        .dashboard
        .obtain_view_token(&update.asset_guid)
        .await
        .map_err(|f| {
            StepFailure::new(
                f.class,
                format!(
                    "update {update_id} (case {case}): {} ({}): {}",
                    update.pei, f.stage, f.message
                ),
            )
        })?;
    let (_, data) = env
        .dashboard
        .verify_view_token(&flow.token)
        .await
        .map_err(|f| {
            StepFailure::new(
                f.class,
                format!("update {update_id} (case {case}): {}", f.message),
            )
        })?;
    let problems = env.judge_view_data(&data);
    if !problems.is_empty() {
        return Err(StepFailure::system_under_test(format!(
            "update {update_id} (case {case}): data standards: {}",
            problems.join("; ")
        )));
    }
    let limited = data["arrangements"]
        .as_array()
        .is_some_and(|a| a.iter().any(|a| a["possibleMatch"] == Value::Bool(true)));
    if limited {
        return Err(StepFailure::system_under_test(format!(
            "update {update_id} (case {case}): expected full view data once the match was confirmed, observed the possible-match (limited) response"
        )));
    }
    Ok(())
}
