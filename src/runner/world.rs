//! The cucumber `World`: one per scenario, holding what the scenario has done so far.
//! The environment (simulators, provider, clients) is shared across scenarios and injected by
//! the runner's `before` hook.

use std::collections::HashMap;
use std::sync::Arc;

use crate::cda::cas::Registration;
use crate::cda::finder::FindOutcome;
use crate::harness::environment::Environment;
use crate::harness::testpack::Case;
use crate::net::recorder::Observed;
use crate::record::classify::StepFailure;

/// A find request sent in this scenario, and the case it belongs to.
#[derive(Debug, Clone)]
pub struct SentFind {
    pub case: Case,
    pub outcome: FindOutcome,
}

/// A view token obtained through the UMA flow for one registration.
#[derive(Debug, Clone)]
pub struct ObtainedView {
    pub registration: Registration,
    pub token: String,
    pub response: Observed,
    pub rpt: String,
    /// Filled by the step that verifies the token.
    pub view_data: Option<serde_json::Value>,
}

#[derive(Default, cucumber::World)]
#[world(init = Self::new)]
pub struct HarnessWorld {
    env: Option<Arc<Environment>>,
    /// The run's registration audit, told of every find this scenario sends.
    pub audit: Option<Arc<crate::runner::audit::Audit>>,
    /// This scenario's identity, to which the audit attributes what its finds cause.
    pub scenario: Option<crate::record::run::ScenarioKey>,
    /// This scenario's run-wide number: its steps run as it
    /// ([`crate::net::recorder::in_scenario`]), so the recorder tells its calls from those of
    /// scenarios running beside it (0: none).
    pub scenario_id: u64,
    /// The clear-down this scenario's feature shares ([`crate::runner::CLEARED_DOWN_ONCE`]).
    pub shared_clear_down: Option<Arc<crate::runner::shared_clear_down::SharedClearDown>>,
    /// Its place among the scenarios active at once, where two files run beside each other
    /// ([`crate::runner::overlap`]); given up by the runner's after hook.
    pub place: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Why the runner did not let this scenario start ([`crate::runner::overlap`]): each of
    /// its steps fails with it, sending nothing.
    pub not_admitted: Option<StepFailure>,
    /// The most recent find request.
    pub last_find: Option<SentFind>,
    /// What was forged or malformed in the most recent find, for a negative scenario.
    pub forged: Option<&'static str>,
    /// The first of two find requests for the same person (duplicate-find case).
    pub first_find: Option<SentFind>,
    /// Registrations judged for the most recent find.
    pub registrations: Vec<Registration>,
    /// Registrations set up per case id (by "has a registered PeI" steps).
    pub registered_by_case: HashMap<String, Registration>,
    pub views: Vec<ObtainedView>,
    /// The most recent raw view response (negative checks).
    pub last_view_response: Option<Result<Observed, crate::net::recorder::SendFailure>>,
    /// The registration the most recent raw view request was for.
    pub last_view_target: Option<Registration>,
    /// What the most recent reporting submission did, record by record.
    pub reporting_sent: Vec<crate::record::run::ReportingSubmission>,
    /// Why the most recent reporting submission could not be made at all.
    pub reporting_error: Option<StepFailure>,
    /// The failure of the step that just ran, kept (class and all) for the evidence writer:
    /// cucumber hands a step's error on as text only, and the world with it.
    pub failure: Option<crate::record::classify::StepFailure>,
    /// A reporting body the harness checked (endpoint, body, problems found).
    pub checked_body: Option<(
        crate::reporting::Endpoint,
        serde_json::Value,
        Vec<crate::reporting::validate::FieldError>,
    )>,
    /// The request a reporting transport case sent (method and path) and the answer to it.
    pub raw_answer: Option<(
        String,
        Result<crate::reporting::client::Problem, crate::net::recorder::SendFailure>,
    )>,
    /// What `serve`'s reporting simulator received on the judged UTC day.
    pub received_day: Option<crate::reporting::received::DayVerdict>,
}

impl std::fmt::Debug for HarnessWorld {
    // Keep tokens and personal data out of any debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HarnessWorld")
            .field("registrations", &self.registrations.len())
            .field("views", &self.views.len())
            .finish_non_exhaustive()
    }
}

impl HarnessWorld {
    fn new() -> Self {
        Self::default()
    }

    pub fn attach(&mut self, env: Arc<Environment>) {
        self.env = Some(env);
    }

    /// The shared environment; a step run outside the runner, or of a scenario the runner did
    /// not admit, fails with a clear message.
    pub fn env(&self) -> Result<Arc<Environment>, StepFailure> {
        if let Some(refused) = &self.not_admitted {
            return Err(refused.clone());
        }
        self.env.clone().ok_or_else(|| {
            StepFailure::harness("internal: the scenario has no environment attached")
        })
    }

    /// Keep a step's outcome for the evidence writer and hand it on to cucumber.
    pub fn settle(&mut self, outcome: Result<(), StepFailure>) -> Result<(), StepFailure> {
        self.failure = outcome.as_ref().err().cloned();
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scenario the runner refused fails each step with why, before any step can send.
    #[test]
    fn a_scenario_not_admitted_gets_no_environment() {
        let world = HarnessWorld {
            not_admitted: Some(StepFailure::harness("S1-01 ... did not start")),
            ..HarnessWorld::default()
        };
        let refused = world.env().unwrap_err();
        assert!(
            refused.to_string().contains("S1-01 ... did not start"),
            "{refused}"
        );
    }
}
