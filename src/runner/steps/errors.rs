//! The error catalogue (`--pack errors`): steps that arm the simulated C&A to answer as the
//! MaPS stub's seeded error scenarios do (per endpoint and, for `/rreguri`, per method), make
//! the dashboard send view requests it must be refused, and check that the provider gave up
//! when it should, without a retry storm, and never returned view data it should not.

use crate::net::recorder::in_scenario;
use std::time::Duration;

use axum::http::Method;
use cucumber::{given, then, when};

use super::resilience::endpoint;
use super::{StepFailure, StepResult, last_view, registered, short};
use crate::cda::faults::{CasEndpoint, FaultAction, FaultRule, IntrospectionRewrite};
use crate::harness::testpack::UpdateAction;
use crate::harness::updates::{MatchUpdate, MatchUpdateFile};
use crate::runner::world::HarnessWorld;

/// The provider is taken to have stopped calling once no call came for this long: longer than
/// the reference provider's largest backoff (1.6 s).
const QUIET: Duration = Duration::from_secs(2);
/// How long calls are watched at most before they are counted.
const WATCH_CAP: Duration = Duration::from_secs(30);

fn method(word: Option<&str>) -> Result<Option<Method>, StepFailure> {
    match word {
        None => Ok(None),
        Some(m) if m.trim().is_empty() => Ok(None),
        Some(m) => Method::from_bytes(m.trim().as_bytes())
            .map(Some)
            .map_err(|_| {
                StepFailure::configuration(format!("scenario: {m:?} is not an HTTP method"))
            }),
    }
}

/// "once", "for the next N calls" or "from now on" as a number of calls.
fn how_many(span: &str, n: Option<u32>) -> u32 {
    match (span, n) {
        ("once", _) => 1,
        (_, Some(n)) => n,
        _ => u32::MAX,
    }
}

fn arm(world: &HarnessWorld, rule: FaultRule) -> StepResult {
    world.env()?.cas.faults().inject(rule);
    Ok(())
}

#[given(
    regex = r#"^the C&A answers (POST |PATCH |DELETE |)/(token|rreguri|perm|introspect) with (\d{3})( "[^"]+"|)( and Retry-After \d+|) (once|for the next (\d+) calls|from now on)$"#
)]
#[allow(clippy::too_many_arguments)]
async fn answers_with_step(
    world: &mut HarnessWorld,
    verb: String,
    word: String,
    status: u16,
    description: String,
    retry_after: String,
    span: String,
    n: String,
) -> StepResult {
    let outcome = in_scenario(
        world.scenario_id,
        answers_with(world, verb, word, status, description, retry_after, span, n),
    )
    .await;
    world.settle(outcome)
}

#[allow(clippy::too_many_arguments)]
async fn answers_with(
    world: &mut HarnessWorld,
    verb: String,
    word: String,
    status: u16,
    description: String,
    retry_after: String,
    span: String,
    n: String,
) -> StepResult {
    if !(400..=599).contains(&status) {
        return Err(StepFailure::configuration(format!(
            "scenario: {status} is not an HTTP error status"
        )));
    }
    arm(
        world,
        FaultRule {
            endpoint: endpoint(&word)?,
            method: method(Some(&verb))?,
            action: FaultAction::Status {
                status,
                // The stub scenario's words, quoted in the step.
                description: Some(description.trim().trim_matches('"').to_owned())
                    .filter(|d| !d.is_empty()),
                retry_after_secs: retry_after
                    .trim()
                    .strip_prefix("and Retry-After ")
                    .and_then(|n| n.parse().ok()),
            },
            remaining: how_many(&span, n.parse().ok()),
        },
    )
}

#[given(
    regex = r#"^the C&A (hangs on|closes the connection on) (POST |PATCH |DELETE |)/(token|rreguri|perm|introspect) (once|for the next (\d+) calls|from now on)$"#
)]
async fn no_answer_step(
    world: &mut HarnessWorld,
    how: String,
    verb: String,
    word: String,
    span: String,
    n: String,
) -> StepResult {
    let outcome = in_scenario(
        world.scenario_id,
        no_answer(world, how, verb, word, span, n),
    )
    .await;
    world.settle(outcome)
}

async fn no_answer(
    world: &mut HarnessWorld,
    how: String,
    verb: String,
    word: String,
    span: String,
    n: String,
) -> StepResult {
    arm(
        world,
        FaultRule {
            endpoint: endpoint(&word)?,
            method: method(Some(&verb))?,
            action: if how == "hangs on" {
                FaultAction::Hang
            } else {
                FaultAction::Close
            },
            remaining: how_many(&span, n.parse().ok()),
        },
    )
}

#[given(
    regex = r#"^the C&A's introspection results (name the token type pension_dashboard_pmt|carry no permissions|grant no owner scope|are active with exp in the past|carry a permission whose exp is past|say active false) from now on$"#
)]
async fn rewrites_step(world: &mut HarnessWorld, what: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, rewrites(world, what)).await;
    world.settle(outcome)
}

async fn rewrites(world: &mut HarnessWorld, what: String) -> StepResult {
    let rewrite = match what.as_str() {
        "name the token type pension_dashboard_pmt" => IntrospectionRewrite::WrongTokenType,
        "carry no permissions" => IntrospectionRewrite::EmptyPermissions,
        "grant no owner scope" => IntrospectionRewrite::NoOwnerScope,
        "are active with exp in the past" => IntrospectionRewrite::ExpInPast,
        "carry a permission whose exp is past" => IntrospectionRewrite::PermissionExpired,
        _ => IntrospectionRewrite::Inactive,
    };
    arm(
        world,
        FaultRule {
            endpoint: CasEndpoint::Introspect,
            method: None,
            action: FaultAction::Rewrite(rewrite),
            remaining: u32::MAX,
        },
    )
}

/// A genuine RPT for the PeI of `case_id`, through the first view call and `/token`.
async fn genuine_rpt(world: &HarnessWorld, case_id: &str) -> Result<String, StepFailure> {
    let env = world.env()?;
    let reg = registered(world, case_id)?;
    let asset = reg.asset_guid().unwrap_or_default().to_owned();
    let first = env.dashboard.call_view(&asset, None).await.map_err(|e| {
        StepFailure::new(
            e.class(),
            format!("{}: the view request got no response: {e}", reg.name),
        )
    })?;
    let challenge = env.dashboard.challenge_of(&first).map_err(|f| {
        StepFailure::new(
            f.class,
            format!(
                "{}: expected 401 with a ticket before presenting an RPT: {}",
                reg.name, f.message
            ),
        )
    })?;
    env.dashboard
        .request_rpt(&challenge.as_uri, &challenge.ticket)
        .await
        .map_err(|f| StepFailure::new(f.class, format!("{}: {}", reg.name, f.message)))
}

#[when(expr = "the dashboard presents a genuine RPT for the PeI of case {string}")]
async fn present_rpt_step(world: &mut HarnessWorld, case_id: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, present_rpt(world, case_id)).await;
    world.settle(outcome)
}

async fn present_rpt(world: &mut HarnessWorld, case_id: String) -> StepResult {
    let env = world.env()?;
    let reg = registered(world, &case_id)?;
    let rpt = genuine_rpt(world, &case_id).await?;
    let asset = reg.asset_guid().unwrap_or_default().to_owned();
    world.last_view_response = Some(env.dashboard.call_view(&asset, Some(&rpt)).await);
    world.last_view_target = Some(reg);
    Ok(())
}

#[when(
    regex = r#"^the dashboard presents a genuine RPT for the PeI of case "([^"]+)" (with an invalid X-Request-ID|at an asset GUID that is not a GUID|with scope "([^"]+)"|at an unknown asset GUID)$"#
)]
async fn present_rpt_malformed_step(
    world: &mut HarnessWorld,
    case_id: String,
    what: String,
    scope: String,
) -> StepResult {
    let outcome = in_scenario(
        world.scenario_id,
        present_rpt_malformed(world, case_id, what, scope),
    )
    .await;
    world.settle(outcome)
}

async fn present_rpt_malformed(
    world: &mut HarnessWorld,
    case_id: String,
    what: String,
    scope: String,
) -> StepResult {
    let env = world.env()?;
    let reg = registered(world, &case_id)?;
    let rpt = genuine_rpt(world, &case_id).await?;
    let asset = reg.asset_guid().unwrap_or_default().to_owned();
    let unknown = uuid::Uuid::new_v4().to_string();
    let (path, request_id, scope) = match what.as_str() {
        "with an invalid X-Request-ID" => (asset.as_str(), Some("not-a-request-id"), None),
        "at an asset GUID that is not a GUID" => ("not-a-guid", None, None),
        "at an unknown asset GUID" => (unknown.as_str(), None, None),
        _ => (asset.as_str(), None, Some(scope.as_str())),
    };
    world.last_view_response = Some(
        env.dashboard
            .call_view_malformed(path, &rpt, request_id, scope)
            .await,
    );
    world.last_view_target = Some(reg);
    Ok(())
}

/// Whether the response carries view data: a 2xx, or the contract's token field.
fn carries_view_data(world: &HarnessWorld, status: u16, body: Option<serde_json::Value>) -> bool {
    let field = world
        .env()
        .map(|e| e.contract.view.token_field.clone())
        .unwrap_or_default();
    (200..300).contains(&status) || body.is_some_and(|v| v.get(&field).is_some())
}

#[then("the provider returns no view data")]
async fn no_view_data_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, no_view_data(world)).await;
    world.settle(outcome)
}

async fn no_view_data(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let (reg, response) = last_view(world)?;
    env.recorder.judged(response.exchange);
    if carries_view_data(world, response.status, response.json()) {
        return Err(StepFailure::system_under_test(format!(
            "{}: expected the provider to refuse the view (the C&A did not grant it), observed {} {}",
            reg.name,
            response.status,
            short(&response.text())
        )));
    }
    env.recorder.observed(format!(
        "{}: refused with {} and no view data",
        reg.name, response.status
    ));
    Ok(())
}

#[then(
    regex = r#"^the provider returns no view data unless its retry of /(perm|introspect) succeeded$"#
)]
async fn no_view_data_unless_retried_step(world: &mut HarnessWorld, word: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, no_view_data_unless_retried(world, word)).await;
    world.settle(outcome)
}

async fn no_view_data_unless_retried(world: &mut HarnessWorld, word: String) -> StepResult {
    let env = world.env()?;
    let (reg, response) = last_view(world)?;
    if !carries_view_data(world, response.status, response.json()) {
        return no_view_data(world).await;
    }
    env.recorder.judged(response.exchange);
    let calls = env.cas.faults().calls(endpoint(&word)?);
    let retried = calls
        .iter()
        .position(|c| c.injected)
        .is_some_and(|i| calls[i..].iter().any(|c| !c.injected && c.status == 200));
    if retried {
        env.recorder.observed(format!(
            "{}: {} retried after the error and succeeded; view data served",
            reg.name, word
        ));
        Ok(())
    } else {
        Err(StepFailure::system_under_test(format!(
            "{}: expected no view data after /{word} failed (no successful retry was seen), observed {}",
            reg.name, response.status
        )))
    }
}

#[then(expr = "the provider answers {int} and returns no view data")]
async fn answers_and_no_view_data_step(world: &mut HarnessWorld, status: u16) -> StepResult {
    let outcome = in_scenario(world.scenario_id, answers_and_no_view_data(world, status)).await;
    world.settle(outcome)
}

async fn answers_and_no_view_data(world: &mut HarnessWorld, status: u16) -> StepResult {
    let env = world.env()?;
    let (reg, response) = last_view(world)?;
    env.recorder.judged(response.exchange);
    if response.status != status || carries_view_data(world, response.status, response.json()) {
        return Err(StepFailure::system_under_test(format!(
            "{}: expected {status} and no view data for a view request the provider must refuse, observed {} {}",
            reg.name,
            response.status,
            short(&response.text())
        )));
    }
    env.recorder.observed(format!(
        "{}: refused with {status} and no view data",
        reg.name
    ));
    Ok(())
}

#[then("no PeI is registered for a find whose PAT or registration the C&A refused")]
async fn nothing_registered_refused_by_cas_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(
        world.scenario_id,
        super::find::watch_nothing_registered(
            world,
            "a find whose PAT or registration the C&A refused for good",
        ),
    )
    .await;
    world.settle(outcome)
}

/// Wait until the provider stops calling (no call for [`QUIET`], at most [`WATCH_CAP`]), so a
/// retry loop is counted whole and does not spill into the next scenario.
async fn wait_quiet(world: &HarnessWorld) -> StepResult {
    let env = world.env()?;
    let faults = env.cas.faults();
    let started = tokio::time::Instant::now();
    let mut seen = faults.call_count();
    let mut quiet_since = tokio::time::Instant::now();
    while quiet_since.elapsed() < QUIET && started.elapsed() < WATCH_CAP {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = faults.call_count();
        if now != seen {
            seen = now;
            quiet_since = tokio::time::Instant::now();
        }
    }
    Ok(())
}

#[then(
    regex = r#"^the provider called (POST |PATCH |DELETE |)/(token|rreguri|perm|introspect) (exactly|at most) (\d+) times?$"#
)]
async fn called_bounded_step(
    world: &mut HarnessWorld,
    verb: String,
    word: String,
    how: String,
    bound: usize,
) -> StepResult {
    let outcome = in_scenario(
        world.scenario_id,
        called_bounded(world, verb, word, how, bound),
    )
    .await;
    world.settle(outcome)
}

async fn called_bounded(
    world: &mut HarnessWorld,
    verb: String,
    word: String,
    how: String,
    bound: usize,
) -> StepResult {
    wait_quiet(world).await?;
    let env = world.env()?;
    let ep = endpoint(&word)?;
    let only = method(Some(&verb))?;
    let calls: Vec<_> = env
        .cas
        .faults()
        .calls(ep)
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|m| *m == c.method))
        .collect();
    // `verb` is "POST " (with its space) or empty.
    let what = format!("{verb}{}", ep.name());
    let seen = calls
        .iter()
        .map(|c| match (c.status, c.injected) {
            (0, _) => "no answer (injected)".to_owned(),
            (s, true) => format!("{s} (injected)"),
            (s, false) => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let ok = match how.as_str() {
        "exactly" => calls.len() == bound,
        _ => calls.len() <= bound,
    };
    if ok {
        env.recorder.observed(format!(
            "{what}: {} call(s) ({})",
            calls.len(),
            if seen.is_empty() { "none" } else { &seen }
        ));
        Ok(())
    } else {
        Err(StepFailure::system_under_test(format!(
            "expected {how} {bound} call(s) to {what} (an error that retrying cannot mend must not be retried, nor a transient one without bound), observed {}: {seen}",
            calls.len()
        )))
    }
}

#[then(
    regex = r#"^the provider obtained a fresh PAT and retried (POST |PATCH |DELETE |)/(rreguri|perm|introspect) with it$"#
)]
async fn refreshed_and_retried_step(
    world: &mut HarnessWorld,
    verb: String,
    word: String,
) -> StepResult {
    let outcome = in_scenario(world.scenario_id, refreshed_and_retried(world, verb, word)).await;
    world.settle(outcome)
}

/// After the injected 401 (an expired PAT): a PAT from `/token`, then the same call again,
/// answered 2xx. A provider that gives up, or retries with the refused PAT, shows neither.
async fn refreshed_and_retried(world: &mut HarnessWorld, verb: String, word: String) -> StepResult {
    let env = world.env()?;
    let ep = endpoint(&word)?;
    let only = method(Some(&verb))?;
    let what = format!("{verb}{}", ep.name());
    let faults = env.cas.faults();
    let calls: Vec<_> = faults
        .calls(ep)
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|m| *m == c.method))
        .collect();
    let seen = super::resilience::statuses_seen(&calls);
    let Some(refused) = calls.iter().find(|c| c.injected && c.status == 401) else {
        return Err(StepFailure::system_under_test(format!(
            "expected the provider to call {what} and meet the injected 401 (expired PAT); observed calls: {}",
            if seen.is_empty() { "none" } else { &seen }
        )));
    };
    let Some(retry) = calls
        .iter()
        .find(|c| !c.injected && c.instant > refused.instant && (200..300).contains(&c.status))
    else {
        return Err(StepFailure::system_under_test(format!(
            "expected the provider to obtain a fresh PAT after the 401 (expired PAT) and retry {what} with it; observed calls: {seen}"
        )));
    };
    let fresh = faults.calls(CasEndpoint::Token).into_iter().any(|t| {
        !t.injected && t.status == 200 && t.instant > refused.instant && t.instant < retry.instant
    });
    if !fresh {
        return Err(StepFailure::system_under_test(format!(
            "expected the provider to obtain a fresh PAT from /token between the 401 (expired PAT) and its retry of {what}; it retried without one (observed calls: {seen})"
        )));
    }
    env.recorder.observed(format!(
        "{what}: 401 (expired PAT), a fresh PAT from /token, then {} ({seen})",
        retry.status
    ));
    Ok(())
}

/// The test pack's planned match update `update_id`.
fn pack_update(
    world: &HarnessWorld,
    update_id: &str,
) -> Result<crate::harness::testpack::PlannedUpdate, StepFailure> {
    world.env()?.pack.update(update_id).cloned().ok_or_else(|| {
        StepFailure::test_data(format!(
            "test data: match update {update_id:?} is not in the test pack"
        ))
    })
}

#[when(expr = "match update {string} is applied while the fault is armed")]
async fn apply_update_step(world: &mut HarnessWorld, update_id: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, apply_update(world, update_id)).await;
    world.settle(outcome)
}

/// Have the provider apply one of the test pack's match updates to the PeI this scenario set
/// up, as in stage 2 but with a C&A fault armed: the embedded reference provider directly,
/// a real target through its `[updates] command`. Whether the update was applied is judged at
/// the C&A by the next steps, not by what the provider or its command said (a solution may
/// well report a refused update as a failure).
async fn apply_update(world: &mut HarnessWorld, update_id: String) -> StepResult {
    let env = world.env()?;
    let planned = pack_update(world, &update_id)?;
    let reg = registered(world, planned.case.get_ref())?;
    if !env.can_apply_updates() {
        return Err(StepFailure::configuration(format!(
            "update {update_id}: the target file names no [updates] command, so the update cannot be applied (run with the pack, which leaves this case out as not applicable)"
        )));
    }
    let update = MatchUpdate {
        update_id: update_id.clone(),
        case: planned.case.get_ref().clone(),
        pei: reg.name.clone(),
        asset_guid: reg.asset_guid().unwrap_or_default().to_ascii_lowercase(),
        resource_id: reg.resource_id.clone(),
        current_match_status: reg.match_status.to_string(),
        action: planned.action,
        new_match_status: (planned.action == UpdateAction::Confirm).then(|| "match-yes".to_owned()),
        deletion_reason: planned.action.deletion_reason().map(str::to_owned),
    };
    // The run's registration audit expects this PATCH or DELETE.
    if let Some(audit) = &world.audit {
        audit.expect_update(update.clone());
    }
    let file = MatchUpdateFile {
        format: crate::harness::updates::FORMAT.to_owned(),
        run_id: format!("errors-{update_id}"),
        holdername_guid: env.pack.holdername_guid().to_owned(),
        generated_at: chrono::Utc::now(),
        updates: vec![update],
    };
    match env.apply_match_updates_now(file).await {
        Ok(text) => env.recorder.observed(text),
        Err(e) => env
            .recorder
            .observed(format!("update {update_id}: not applied as a whole: {e}")),
    }
    Ok(())
}

#[then(expr = "the C&A still holds the PeI of match update {string} unchanged")]
async fn update_not_applied_step(world: &mut HarnessWorld, update_id: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, update_not_applied(world, update_id)).await;
    world.settle(outcome)
}

/// A refused update (404 resource not found) leaves the registration as set up: not
/// deleted, its match status and PATCHes as before.
async fn update_not_applied(world: &mut HarnessWorld, update_id: String) -> StepResult {
    let env = world.env()?;
    let planned = pack_update(world, &update_id)?;
    let before = registered(world, planned.case.get_ref())?;
    let now = env.cas.registration(&before.resource_id).ok_or_else(|| {
        StepFailure::system_under_test(format!(
            "update {update_id}: the C&A has no registration {} any more",
            before.resource_id
        ))
    })?;
    let unchanged = now.deleted.is_none()
        && now.match_status == before.match_status
        && now.patches == before.patches;
    if !unchanged {
        let observed = match &now.deleted {
            Some(d) => format!("deleted with deletion_reason {}", d.reason),
            None => format!("{} (PATCHes: {})", now.match_status, now.patches.join(", ")),
        };
        return Err(StepFailure::system_under_test(format!(
            "update {update_id}: expected {} to stay {} after the C&A refused the update, observed {observed}",
            before.name, before.match_status
        )));
    }
    env.recorder.observed(format!(
        "update {update_id}: {} still {}",
        before.name, now.match_status
    ));
    Ok(())
}
