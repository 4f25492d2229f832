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
    /// Keeps acknowledged finds in memory only: a restart between the 202 and the
    /// registration loses them (the code of connection asks for no loss of acknowledged data).
    LosesAcknowledgedFinds,
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
    /// Leaves `possibleMatch` out of definite arrangements (MaPS's dashboard throws).
    OmitsPossibleMatch,
    /// Names the pots `dcPot` instead of `estimatedPot` (2.310) / `accruedPot` (2.410).
    UsesDcPot,
    /// Sends an unavailable code the data standards do not have (`DCSM`) on AP components.
    UnknownUnavailableCode,
    /// Sends an ERI-only unavailable code (`DCHA`) on AP components.
    UnavailableCodeOnWrongComponent,
    /// Puts `additionalDataSources` in a possible-match (limited) arrangement.
    AdditionalDataSourcesInPossibleMatch,
    /// Adds `monthlyAmount` (2.307/2.407) to recurring income: in one public schema only, so
    /// a warning, or a failure under `[contract] strict = true`.
    SendsMonthlyAmount,
    /// Signs view data tokens with a key that is not registered at the CDA's `/jwk_uri` (it
    /// publishes it at its own JWKS path, which the live dashboard never reads).
    SignsWithUnregisteredKey,
    /// Signs view data tokens with a key it publishes nowhere.
    SignsWithUnpublishedKey,
    /// Rotates its view token key: publishes the new key beside the old one at its own JWKS
    /// path after the second token, signs with it from the third (correct in provider-hosted
    /// mode).
    RotatesViewKey,
    /// Answers the dashboard's first view call (`Authorization: Bearer`, empty credential) with
    /// 400 instead of a 401 challenge.
    RejectsEmptyBearer,
    /// Writes the challenge as `as_uri = "…", ticket = "…"` (spaces around `=`), which a
    /// standard parser reads and MaPS's dashboard cannot.
    ChallengeWithSpacedEquals,
    /// Registers PeIs with braces around the asset GUID (`urn:pei:<holder>:{<asset>}`).
    BracedPei,
    /// Parses the C&A's `resource_id` as a UUID and loses the registration when it is not one.
    ParsesResourceIdAsUuid,
    /// Dates its illustrations tomorrow (2.501 in the future).
    FutureIllustrationDate,
    /// Returns annual amounts one pound higher than the test pack provisioned.
    WrongAnnualAmount,
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
    /// Skips verifying the find token and the request id: accepts a forged, expired or
    /// misaddressed token and a missing or malformed `X-Request-ID` (using a fresh one), and
    /// registers the matches.
    AcceptsForgedFindTokens,
    /// Accepts a find without an `X-Request-ID` (using a fresh one) and registers the
    /// matches; everything else about a find it checks. Lenient on one negative only.
    AcceptsFindWithoutRequestId,
    /// Retries a 404 from the C&A (user removed, resource not found, unknown RPT) as if it
    /// were transient: 30 attempts, 100 ms apart.
    RetriesNotFound,
    /// Serves view data whenever `/introspect` answers 200, whatever the result says
    /// (inactive, wrong token type, no owner permission, expired).
    IgnoresIntrospectionResult,
    /// Strips full stops, hyphens and apostrophes from the names a find carries before matching
    /// them with its records, which keep them (`ST. JOHN` becomes `ST JOHN` and matches no one).
    StripsNamePunctuation,
    /// Takes 50 ms before acknowledging each find (a slow find endpoint, for load tests).
    SlowFind,
    /// Names an `as_uri` in its 401 challenge that is not the C&A (a closed local port).
    WrongAsUri,
    /// Asks `/perm` for a ticket for another of its registered resources (the most recently
    /// registered other one, when there is one) instead of the one being viewed.
    TicketForAnotherResource,
    /// Serves something that is not a JWKS at its own JWKS path.
    GarbageJwks,
    /// Never answers a request for its own JWKS (sleeps 120 s first).
    JwksHangs,
    /// Holds each find's registrations back until the next find arrives, then registers them
    /// (under the earlier find's request id) before matching the new one.
    RegistersOnNextFind,
    /// Never obtains a fresh PAT: on a 401 from the C&A (an expired PAT) it gives up, and it
    /// applies stage 2 updates with the find's PAT.
    NeverRefreshesPat,
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
