//! One clear-down shared by a feature's scenarios ([`super::CLEARED_DOWN_ONCE`]). The first
//! selected scenario performs it in its own Background step, so its evidence holds the call at
//! any concurrency; the others wait for that outcome before they send anything. A clear-down
//! per scenario would wipe, under a scenario running beside it, what that one registered.

use std::time::Duration;

use tokio::sync::watch;

use crate::record::classify::StepFailure;
use crate::record::run::ScenarioKey;

/// The outcome of the shared clear-down: what it did, or why it failed.
type Outcome = Result<String, StepFailure>;

#[derive(Debug)]
pub struct SharedClearDown {
    /// The scenario that performs it: the feature's first selected one.
    pub by: ScenarioKey,
    done: watch::Sender<Option<Outcome>>,
}

impl SharedClearDown {
    pub fn new(by: ScenarioKey) -> SharedClearDown {
        SharedClearDown {
            by,
            done: watch::Sender::new(None),
        }
    }

    /// The performing scenario's outcome, for the waiting ones.
    pub fn finish(&self, outcome: Outcome) {
        self.done.send_replace(Some(outcome));
    }

    /// The outcome, once the performing scenario has one; an error after `limit` (the
    /// clear-down's own limit and a margin), so a waiting scenario never hangs.
    pub async fn wait(&self, limit: Duration) -> Outcome {
        let mut rx = self.done.subscribe();
        let waited = tokio::time::timeout(limit, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(outcome)) => outcome.clone().unwrap_or_else(|| {
                Err(StepFailure::harness(
                    "internal: the shared clear-down had no outcome",
                ))
            }),
            Ok(Err(_)) => Err(StepFailure::harness(
                "internal: the shared clear-down was dropped before it finished",
            )),
            Err(_) => Err(StepFailure::harness(format!(
                "{} did not clear the test data down within {:.1} s",
                self.by.label(),
                limit.as_secs_f64()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ScenarioKey {
        ScenarioKey {
            case_id: Some("FN-01".into()),
            feature: "Find negatives".into(),
            name: "first".into(),
        }
    }

    #[tokio::test]
    async fn waiters_get_the_performers_outcome_and_give_up_after_the_limit() {
        let shared = std::sync::Arc::new(SharedClearDown::new(key()));
        let waiter = tokio::spawn({
            let shared = shared.clone();
            async move { shared.wait(Duration::from_secs(5)).await }
        });
        tokio::task::yield_now().await;
        shared.finish(Ok("cleared".into()));
        assert_eq!(waiter.await.unwrap().unwrap(), "cleared");

        // A performer that never finishes: the waiter gives up at its limit, naming it.
        let never = SharedClearDown::new(key());
        let failure = never.wait(Duration::from_millis(20)).await.unwrap_err();
        assert!(failure.message.contains("FN-01"), "{}", failure.message);
        assert_eq!(
            failure.class,
            crate::record::classify::FailureClass::Harness
        );
    }
}
