//! The provider restarted between acknowledging a find and registering its matches: PDP's
//! code of connection asks a provider to restore service without losing acknowledged data.

use crate::net::recorder::in_scenario;
use cucumber::when;

use super::{StepFailure, StepResult, last_find};
use crate::runner::world::HarnessWorld;

#[when("the provider is restarted before it has registered the find's matches")]
async fn restarted_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, restarted(world)).await;
    world.settle(outcome)
}

async fn restarted(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let request_id = last_find(world)?.outcome.request_id.clone();
    // Only a restart before the registration proves anything: a provider that had already
    // registered would pass whether or not it keeps what it acknowledged.
    let early = env
        .cas
        .registrations()
        .into_iter()
        .filter(|r| r.inbound_request_id.as_deref() == Some(request_id.as_str()))
        .count();
    if early > 0 {
        return Err(StepFailure::configuration(format!(
            "scenario: the provider registered {early} PeI(s) for the find before the restart, so the restart proves nothing; the scenario must hold the registration back (e.g. with a C&A fault and Retry-After) until after it"
        )));
    }
    // The restart, like the clear-down, is the test set-up's: its failure is the environment's.
    let done = env
        .restart_provider()
        .await
        .map_err(|e| StepFailure::environment(e.to_string()))?;
    env.recorder.observed(done);
    Ok(())
}
