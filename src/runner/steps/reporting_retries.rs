//! Reporting steps for the reporting API's forced answers (the stub's `/configuration`, or the
//! harness's simulator) and what the organisation's submissions do with them: 429 retried with
//! exponential backoff (or after `Retry-After`), 400 shown with its code and not retried.

use cucumber::{given, then};

use super::reporting::{endpoint, sent};
use super::{StepFailure, StepResult};
use crate::net::recorder::in_scenario;
use crate::reporting::session::ForceError;
use crate::reporting::simulator::{ErrorCode, StubConfiguration};
use crate::runner::world::HarnessWorld;

async fn force(
    world: &mut HarnessWorld,
    path: &str,
    status: u16,
    code: String,
    count: u32,
    retry_after: Option<u64>,
) -> StepResult {
    let env = world.env()?;
    let endpoint = endpoint(path)?;
    env.reporting
        .force_error(StubConfiguration {
            endpoint: endpoint.path().to_owned(),
            status: i64::from(status),
            code: code.clone(),
            count: i64::from(count),
            errors: vec![ErrorCode { code }],
            retry_after,
        })
        .await
        .map_err(|e| match e {
            // Without the simulator or the stub nothing can be forced: the feature asks for
            // what this target cannot do. Otherwise the stub did not take the configuration.
            ForceError::NoStub => StepFailure::configuration(e.to_string()),
            _ => StepFailure::environment(e.to_string()),
        })
}

#[given(
    expr = "the reporting API will answer {string} with {int} {word} for the next {int} call(s)"
)]
async fn forced_step(
    world: &mut HarnessWorld,
    path: String,
    status: u16,
    code: String,
    count: u32,
) -> StepResult {
    let outcome = in_scenario(
        world.scenario_id,
        force(world, &path, status, code, count, None),
    )
    .await;
    world.settle(outcome)
}

#[given(
    expr = "the reporting API will answer {string} with {int} {word} and Retry-After {int} for the next {int} call(s)"
)]
async fn forced_retry_after_step(
    world: &mut HarnessWorld,
    path: String,
    status: u16,
    code: String,
    retry_after: u64,
    count: u32,
) -> StepResult {
    let outcome = in_scenario(
        world.scenario_id,
        force(world, &path, status, code, count, Some(retry_after)),
    )
    .await;
    world.settle(outcome)
}

#[then(
    expr = "the record is accepted after {int} attempts, waiting at least {int} second(s) before each retry"
)]
async fn accepted_after_step(world: &mut HarnessWorld, attempts: usize, secs: u64) -> StepResult {
    let outcome = in_scenario(world.scenario_id, accepted_after(world, attempts, secs)).await;
    world.settle(outcome)
}

/// The record was accepted, at attempt number `attempts`.
fn accepted_at_attempt(s: &crate::record::run::ReportingSubmission, attempts: usize) -> StepResult {
    if s.outcome != "accepted" {
        return Err(StepFailure::system_under_test(format!(
            "record {} to {}: expected acceptance after retries, got {} ({})",
            s.record_id, s.endpoint, s.outcome, s.detail
        )));
    }
    if s.attempts != attempts {
        return Err(StepFailure::system_under_test(format!(
            "record {} to {}: expected {attempts} attempts, made {} ({})",
            s.record_id, s.endpoint, s.attempts, s.detail
        )));
    }
    Ok(())
}

async fn accepted_after(world: &mut HarnessWorld, attempts: usize, secs: u64) -> StepResult {
    for s in sent(world)? {
        accepted_at_attempt(s, attempts)?;
        if s.waits_ms.len() + 1 != s.attempts {
            return Err(StepFailure::harness(format!(
                "record {} to {}: {} attempts but {} waits between them were recorded",
                s.record_id,
                s.endpoint,
                s.attempts,
                s.waits_ms.len()
            )));
        }
        if let Some(w) = s.waits_ms.iter().find(|w| **w < secs * 1000) {
            return Err(StepFailure::system_under_test(format!(
                "record {} to {}: expected every retry to wait at least {secs} s (Retry-After), one waited {w} ms",
                s.record_id, s.endpoint
            )));
        }
    }
    Ok(())
}

#[then(
    expr = "the record is accepted after {int} attempts, backing off exponentially before each retry"
)]
async fn accepted_after_backoff_step(world: &mut HarnessWorld, attempts: usize) -> StepResult {
    let outcome = in_scenario(world.scenario_id, accepted_after_backoff(world, attempts)).await;
    world.settle(outcome)
}

/// The reporting API asks 429's retries to back off exponentially and sends no `Retry-After`:
/// the client must have waited before each retry at least what its policy allows for it (its
/// least, jittered backoff, which doubles per retry).
async fn accepted_after_backoff(world: &mut HarnessWorld, attempts: usize) -> StepResult {
    let env = world.env()?;
    let policy = env.reporting.client.retry;
    for s in sent(world)? {
        accepted_at_attempt(s, attempts)?;
        check_backoff(&s.waits_ms, s.attempts, &policy).map_err(|why| {
            StepFailure::harness(format!("record {} to {}: {why}", s.record_id, s.endpoint))
        })?;
        let measured: Vec<String> = (1u32..)
            .zip(&s.waits_ms)
            .map(|(retry, w)| {
                format!(
                    "{w} ms before retry {retry} (at least {} ms)",
                    policy.least_backoff(retry).as_millis()
                )
            })
            .collect();
        env.recorder.observed(format!(
            "record {} accepted at attempt {}: {}",
            s.record_id,
            s.attempts,
            measured.join(", ")
        ));
    }
    Ok(())
}

/// Whether `waits_ms` (between `attempts` attempts) back off exponentially under `policy`.
fn check_backoff(
    waits_ms: &[u64],
    attempts: usize,
    policy: &crate::reporting::client::RetryPolicy,
) -> Result<(), String> {
    if waits_ms.len() + 1 != attempts {
        return Err(format!(
            "{attempts} attempts but {} waits between them were recorded",
            waits_ms.len()
        ));
    }
    if policy.least_backoff(1).is_zero() {
        return Err("the reporting client's retry policy has no backoff".to_owned());
    }
    for (retry, waited) in (1u32..).zip(waits_ms) {
        let least = policy.least_backoff(retry).as_millis();
        if u128::from(*waited) < least {
            return Err(format!(
                "retry {retry} came after {waited} ms; backing off exponentially it must wait at least {least} ms (half of {} ms, {} ms doubled per retry)",
                policy.nominal(retry).as_millis(),
                policy.base.as_millis()
            ));
        }
    }
    Ok(())
}

#[then(
    expr = "the reporting API refuses it with {int} and the code {string}, and it is not retried"
)]
async fn refused_with_step(world: &mut HarnessWorld, status: u16, code: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, refused_with(world, status, code)).await;
    world.settle(outcome)
}

async fn refused_with(world: &mut HarnessWorld, status: u16, code: String) -> StepResult {
    for s in sent(world)? {
        if s.outcome != "refused" || s.http_status != Some(status) || !s.codes.contains(&code) {
            return Err(StepFailure::system_under_test(format!(
                "record {} to {}: expected a refusal with {status} and code {code}, got {} ({})",
                s.record_id, s.endpoint, s.outcome, s.detail
            )));
        }
        if s.attempts != 1 {
            return Err(StepFailure::system_under_test(format!(
                "record {} to {}: a {status} must not be retried, but {} attempts were made",
                s.record_id, s.endpoint, s.attempts
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_backoff;
    use crate::reporting::client::RetryPolicy;

    #[test]
    fn retries_that_do_not_back_off_exponentially_are_caught() {
        let policy = RetryPolicy::default();
        // 500 ms doubling, jittered to 50-100 %: at least 250 ms, then 500 ms.
        assert!(check_backoff(&[260, 510], 3, &policy).is_ok());
        assert!(check_backoff(&[499, 999], 3, &policy).is_ok());
        // A constant backoff passes the first retry and fails the second.
        let constant = check_backoff(&[300, 300], 3, &policy).unwrap_err();
        assert!(constant.contains("retry 2 came after 300 ms"), "{constant}");
        assert!(check_backoff(&[0, 600], 3, &policy).is_err());
        // Waits missing for the attempts made, or a policy that never waits.
        assert!(check_backoff(&[260], 3, &policy).is_err());
        let none = RetryPolicy {
            base: std::time::Duration::ZERO,
            ..policy
        };
        assert!(check_backoff(&[0, 0], 3, &none).is_err());
    }
}
