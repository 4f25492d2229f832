//! Steps that inject faults into the simulated C&A and check that the provider retried, backed
//! off (honouring `Retry-After`) and recovered.

use crate::net::recorder::in_scenario;
use std::time::Duration;

use cucumber::{given, then};

use crate::cda::faults::{CasEndpoint, FaultRule, gaps};
use crate::runner::world::HarnessWorld;

use super::{StepFailure, StepResult};

pub(super) fn endpoint(word: &str) -> Result<CasEndpoint, StepFailure> {
    CasEndpoint::parse(word).ok_or_else(|| {
        StepFailure::configuration(format!(
            "scenario: {word:?} is not a C&A endpoint (token, perm, introspect, rreguri)"
        ))
    })
}

fn arm(
    world: &HarnessWorld,
    word: &str,
    status: u16,
    retry_after: Option<u64>,
    calls: u32,
) -> StepResult {
    let env = world.env()?;
    if !(100..=599).contains(&status) {
        return Err(StepFailure::configuration(format!(
            "scenario: {status} is not an HTTP status"
        )));
    }
    env.cas.faults().inject(FaultRule::status(
        endpoint(word)?,
        status,
        retry_after,
        calls,
    ));
    Ok(())
}

#[given(expr = "the C&A answers {word} with {int} and Retry-After {int} for the next {int} calls")]
async fn answers_with_retry_after_step(
    world: &mut HarnessWorld,
    word: String,
    status: u16,
    secs: u64,
    calls: u32,
) -> StepResult {
    let outcome = in_scenario(
        world.scenario_id,
        answers_with_retry_after(world, word, status, secs, calls),
    )
    .await;
    world.settle(outcome)
}

async fn answers_with_retry_after(
    world: &mut HarnessWorld,
    word: String,
    status: u16,
    secs: u64,
    calls: u32,
) -> StepResult {
    arm(world, &word, status, Some(secs), calls)
}

#[given(expr = "{word} requests fail with {int} once")]
async fn fail_once_step(world: &mut HarnessWorld, word: String, status: u16) -> StepResult {
    let outcome = in_scenario(world.scenario_id, fail_once(world, word, status)).await;
    world.settle(outcome)
}

async fn fail_once(world: &mut HarnessWorld, word: String, status: u16) -> StepResult {
    arm(world, &word, status, None, 1)
}

#[given(expr = "{word} requests fail with {int} for the next {int} calls")]
async fn fail_n_step(
    world: &mut HarnessWorld,
    word: String,
    status: u16,
    calls: u32,
) -> StepResult {
    let outcome = in_scenario(world.scenario_id, fail_n(world, word, status, calls)).await;
    world.settle(outcome)
}

async fn fail_n(world: &mut HarnessWorld, word: String, status: u16, calls: u32) -> StepResult {
    arm(world, &word, status, None, calls)
}

/// The statuses the C&A answered, in order, injected ones marked: "503 (injected), 201".
pub(super) fn statuses_seen(calls: &[crate::cda::faults::CallRecord]) -> String {
    calls
        .iter()
        .map(|c| {
            format!(
                "{}{}",
                c.status,
                if c.injected { " (injected)" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The injected failures on `word` and the success after them; an error naming what was seen.
fn retried(world: &HarnessWorld, word: &str, min_wait: Option<u64>) -> StepResult {
    let env = world.env()?;
    let ep = endpoint(word)?;
    let calls = env.cas.faults().calls(ep);
    let seen = statuses_seen(&calls);
    let Some(first_fault) = calls.iter().position(|c| c.injected) else {
        return Err(StepFailure::system_under_test(format!(
            "expected the provider to call {} and meet the injected fault; it made no such call",
            ep.name()
        )));
    };
    let Some(success) = calls[first_fault..]
        .iter()
        .position(|c| !c.injected && (200..300).contains(&c.status))
        .map(|i| i + first_fault)
    else {
        return Err(StepFailure::system_under_test(format!(
            "expected the provider to retry {} after the injected failure(s) until it succeeded; observed calls: {seen}",
            ep.name()
        )));
    };
    if let Some(secs) = min_wait {
        let wanted = Duration::from_secs(secs);
        // A little slack for the clock of two processes; a retry sooner than this ignores Retry-After.
        let slack = Duration::from_millis(50);
        let early: Vec<String> = gaps(&calls[first_fault..=success])
            .into_iter()
            .filter(|g| *g + slack < wanted)
            .map(|g| format!("{:.2} s", g.as_secs_f64()))
            .collect();
        if !early.is_empty() {
            return Err(StepFailure::system_under_test(format!(
                "expected the provider to wait at least {secs} s (Retry-After) between attempts at {}; observed gaps of {}",
                ep.name(),
                early.join(", ")
            )));
        }
    }
    Ok(())
}

#[then(
    expr = "the provider retried {word} until it succeeded, waiting at least {int} seconds between attempts"
)]
async fn retried_with_wait_step(world: &mut HarnessWorld, word: String, secs: u64) -> StepResult {
    let outcome = in_scenario(world.scenario_id, retried_with_wait(world, word, secs)).await;
    world.settle(outcome)
}

async fn retried_with_wait(world: &mut HarnessWorld, word: String, secs: u64) -> StepResult {
    retried(world, &word, Some(secs))
}

#[then(expr = "the provider retried {word} after the failure")]
async fn retried_after_failure_step(world: &mut HarnessWorld, word: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, retried_after_failure(world, word)).await;
    world.settle(outcome)
}

async fn retried_after_failure(world: &mut HarnessWorld, word: String) -> StepResult {
    retried(world, &word, None)
}
