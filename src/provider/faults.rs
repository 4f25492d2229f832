//! Deliberately wrong behaviours of the reference provider: a **test facility** that proves
//! the harness notices each kind of defect and names it. They are set only through the
//! library API ([`crate::provider::ProviderOptions::faults`]); no command-line flag or
//! configuration file reaches them.

use std::collections::HashSet;

/// One deliberate defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Registers a match as `match-possible` instead of `match-yes` (and vice versa).
    WrongMatchStatus,
    /// Leaves `inbound_request_id` out of the registration.
    MissingInboundRequestId,
    /// Uses something other than the scheme name as the registration description.
    WrongDescription,
    /// Answers a find request with 200 and a body instead of 202.
    FindAnswers200,
    /// Returns the view data of another pension than the one asked for.
    ViewDataForWrongPei,
    /// Serves view data to any bearer token without introspecting it.
    AcceptsAnyBearer,
    /// Registers a possible match as `match-yes`.
    PossibleMatchAsYes,
    /// Registers a PeI (as match-possible) even when nothing matched.
    RegistersOnNoMatch,
    /// Registers only the first of several matched pensions.
    ForgetsSecondPension,
    /// Registers again when the same person's find arrives twice.
    RegistersEveryFind,
    /// Puts a definite arrangement beside the limited possible-match one.
    MixesPossibleAndDefinite,
    /// Leaves out an illustration component whose value is unavailable, instead of returning
    /// it with its unavailable code.
    OmitsUnavailableComponent,
    /// Deletes a rejected possible match with `asset-removed` instead of `match-no`.
    WrongDeletionReason,
    /// Gives up on the first 429 or 5xx from the C&A instead of retrying with backoff.
    NoRetry,
    /// 0.6 s after registering a find's matches, registers another member's pension as
    /// `match-yes` under the same `inbound_request_id` and PAT.
    RegistersAnotherMemberLate,
    /// POSTs every registration twice (the C&A deduplicates the second).
    RegistersTwice,
    /// DELETEs each registration 0.6 s after making it, with no update asking for it.
    DeletesAfterRegistering,
    /// PATCHes a `match-possible` registration to `match-yes` at once, with no update asking.
    PatchesPossibleAtOnce,
    /// POSTs registrations without an `Authorization` header (the C&A refuses them: 401).
    RegistersWithoutPat,
    /// Acknowledges a find with 202 but puts its match results in the body.
    Find202WithResults,
    /// Serves the view response as `text/plain` (the body itself unchanged).
    ViewAsTextPlain,
    /// Serves the view response's JSON cut off half-way.
    ViewTruncatedJson,
    /// Never answers a find request (sleeps 120 s first).
    FindHangs,
    /// Serves a 4 MiB view response.
    HugeViewBody,
}

/// A set of faults; empty for a correct provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults(HashSet<Fault>);

impl Faults {
    pub fn none() -> Faults {
        Faults::default()
    }

    pub fn with(mut self, fault: Fault) -> Faults {
        self.0.insert(fault);
        self
    }

    pub fn has(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }
}
