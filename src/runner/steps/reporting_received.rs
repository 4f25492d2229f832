//! Reporting-received steps: what `serve`'s reporting simulator received from the
//! organisation's own reporting client that UTC day (its journal), judged as PDP's pipeline
//! judges it. Apart from the reporting steps, which drive the harness's own submissions.

use crate::net::recorder::in_scenario;
use cucumber::{given, then};

use super::reporting::endpoint;
use super::{StepFailure, StepResult};
use crate::runner::world::HarnessWorld;

/// The day's verdict on what `serve`'s reporting simulator received, or why there is none.
fn received_day(
    world: &HarnessWorld,
) -> Result<&crate::reporting::received::DayVerdict, StepFailure> {
    world.received_day.as_ref().ok_or_else(|| {
        StepFailure::configuration("scenario: read what the reporting simulator received first")
    })
}

#[given("what serve's reporting simulator received today (UTC) is read from its journal")]
async fn read_received_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, read_received(world)).await;
    world.settle(outcome)
}

async fn read_received(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let path = env.reporting.settings.received_journal.clone().ok_or_else(|| {
        StepFailure::configuration(
            "the target file has no [reporting_simulator] section: serve runs no reporting simulator for your own client",
        )
    })?;
    let all = crate::reporting::received::load(&path).map_err(|e| {
        use crate::reporting::received::ReceivedError;
        let message = format!(
            "{e} (it is written by `pdp-harness serve` with [reporting_simulator], once your reporting client has submitted)"
        );
        match &e {
            // No journal: serve's simulator never received a request from the client under test.
            ReceivedError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                StepFailure::system_under_test(message)
            }
            ReceivedError::Io { .. } => StepFailure::environment(message),
            // The journal is written by our own simulator.
            _ => StepFailure::harness(message),
        }
    })?;
    let day = env.reporting.clock.now().date_naive();
    world.received_day = Some(crate::reporting::received::judge(&all, day));
    Ok(())
}

#[then(expr = "{string} received an accepted, valid submission that day")]
async fn received_accepted_step(world: &mut HarnessWorld, path: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, received_accepted(world, path)).await;
    world.settle(outcome)
}

async fn received_accepted(world: &mut HarnessWorld, path: String) -> StepResult {
    let endpoint = endpoint(&path)?;
    let day = received_day(world)?;
    if day.endpoints.get(&endpoint).is_some_and(|d| d.accepted > 0) {
        Ok(())
    } else {
        Err(StepFailure::system_under_test(format!(
            "expected an accepted, valid submission on {} (UTC): {}",
            day.day,
            day.why_missing(endpoint)
        )))
    }
}

#[then("every request received that day was valid")]
async fn received_all_valid_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, received_all_valid(world)).await;
    world.settle(outcome)
}

async fn received_all_valid(world: &mut HarnessWorld) -> StepResult {
    let day = received_day(world)?;
    let refused = day.refusals();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(StepFailure::system_under_test(format!(
            "{} request(s) received on {} (UTC) were refused: {}",
            refused.len(),
            day.day,
            refused.join("; ")
        )))
    }
}

#[then("null submissions were received only where the specification has one")]
async fn received_nulls_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, received_nulls(world)).await;
    world.settle(outcome)
}

async fn received_nulls(world: &mut HarnessWorld) -> StepResult {
    let day = received_day(world)?;
    let wrong: Vec<String> = day
        .endpoints
        .values()
        .flat_map(|d| d.null_not_allowed.iter())
        .map(crate::reporting::received::null_not_allowed)
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(StepFailure::system_under_test(wrong.join("; ")))
    }
}

#[then("all six endpoints received accepted submissions within that one UTC calendar day")]
async fn received_all_six_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, received_all_six(world)).await;
    world.settle(outcome)
}

async fn received_all_six(world: &mut HarnessWorld) -> StepResult {
    let day = received_day(world)?;
    let missing = day.missing();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StepFailure::system_under_test(format!(
            "PDP's pipeline processes only the current UTC day's submissions; on {} {} of the six endpoints had none that counts: {}",
            day.day,
            missing.len(),
            missing
                .iter()
                .map(|e| day.why_missing(*e))
                .collect::<Vec<_>>()
                .join("; ")
        )))
    }
}
