//! The whole-run registration audit: every call the C&A received on `/rreguri` (POST, PATCH,
//! DELETE, including ones it deduplicated or refused) is attributed to the find request that
//! caused it, by its `inbound_request_id`, by the PAT (issued for that find's token) or, for a
//! PATCH or DELETE, by the find that registered its PeI, and
//! judged against the test pack. A scenario's own steps watch only briefly after its find; this
//! catches what arrives later (a second member's PeI, a duplicate POST, an unasked DELETE or
//! PATCH, a call with a PAT from before a clear-down) and, at the end of each stage, compares the
//! C&A's live registrations with exactly what the pack expects.
//!
//! Findings amend the verdict of the scenario whose find caused them, or, when nothing can be
//! attributed, fail a run-level check (see [`crate::record::events::LogEvent::AuditFinding`]).

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cda::cas::{Cas, RreguriCall, pei_parts};
use crate::cda::finder::FindOutcome;
use crate::harness::testpack::{Case, UpdateAction};
use crate::harness::updates::MatchUpdateFile;
use crate::record::run::ScenarioKey;

/// What a find the harness sent should cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKind {
    /// A find whose case's expected PeIs must be registered (none for a no-match case).
    Expected,
    /// The same person's find again: it must register nothing.
    Repeat,
    /// A forged or malformed find (bad token, missing request id) the provider must refuse:
    /// it must register nothing.
    Refused,
}

/// A find request the harness sent, as the audit needs it.
#[derive(Debug, Clone)]
struct FindEntry {
    request_id: String,
    token_jti: Option<String>,
    case_id: String,
    expected: BTreeSet<String>,
    kind: FindKind,
    scenario: Option<ScenarioKey>,
    sent_at: DateTime<Utc>,
    /// The C&A's clear-down epoch when it was sent.
    epoch: u64,
    /// Assets this find has registered (a second POST of one is a duplicate).
    posted: HashSet<String>,
}

/// Something the audit found wrong: for the scenario whose find caused it, or for the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub scenario: Option<ScenarioKey>,
    pub message: String,
}

#[derive(Debug, Default)]
struct Ledger {
    finds: Vec<FindEntry>,
    /// Calls up to this sequence number have been judged.
    judged: u64,
    /// Updates (by update id) whose PATCH or DELETE has been seen.
    consumed: HashSet<String>,
    /// Updates a scenario had applied to the PeI it set up (the error catalogue's PATCH and
    /// DELETE cases), by resource id; taken off when their PATCH or DELETE is seen.
    applied_in_scenario: Vec<crate::harness::updates::MatchUpdate>,
    /// Assets already named by a call finding, so the state audit does not repeat them.
    reported: HashSet<String>,
    last_find_at: Option<DateTime<Utc>>,
}

/// The audit of one run. Shared by the runner and the scenarios' steps.
#[derive(Debug)]
pub struct Audit {
    ledger: Mutex<Ledger>,
    /// Finds being sent (by ticket): their registrations can reach the C&A before the find is
    /// recorded, so a watch judging what other finds caused waits for them ([`Sending`]).
    sending: tokio::sync::watch::Sender<BTreeSet<u64>>,
    next_ticket: std::sync::atomic::AtomicU64,
}

/// A find being sent, from before it leaves until it is recorded ([`Audit::record_find`]).
pub struct Sending {
    audit: std::sync::Arc<Audit>,
    ticket: u64,
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.audit.sending.send_modify(|s| {
            s.remove(&self.ticket);
        });
    }
}

fn when(at: &DateTime<Utc>) -> String {
    at.format("%H:%M:%S%.3f").to_string()
}

fn asset_of(name: &str) -> Option<String> {
    pei_parts(name).map(|(_, a)| a.to_ascii_lowercase())
}

impl Audit {
    /// Start auditing the calls after the C&A's current one (a `serve` C&A outlives runs).
    pub fn new(cas: &Cas) -> Audit {
        Audit {
            ledger: Mutex::new(Ledger {
                judged: cas.last_rreguri_seq(),
                ..Ledger::default()
            }),
            sending: tokio::sync::watch::Sender::new(BTreeSet::new()),
            next_ticket: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A find is about to be sent: held until it is recorded.
    pub fn sending(self: &std::sync::Arc<Self>) -> Sending {
        let ticket = self
            .next_ticket
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.sending.send_modify(|s| {
            s.insert(ticket);
        });
        Sending {
            audit: self.clone(),
            ticket,
        }
    }

    /// Wait (at most `limit`) until every find being sent now has been recorded: a
    /// registration it caused is then known as its own, not taken for an unexplained one.
    pub async fn finds_being_sent_recorded(&self, limit: Duration) {
        let now: BTreeSet<u64> = self.sending.borrow().clone();
        if now.is_empty() {
            return;
        }
        let mut rx = self.sending.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|left| now.is_disjoint(left))).await;
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remember a find the harness sent, with what the pack expects it to register.
    pub fn record_find(
        &self,
        cas: &Cas,
        outcome: &FindOutcome,
        case: &Case,
        kind: FindKind,
        scenario: Option<ScenarioKey>,
    ) {
        let mut l = self.ledger();
        l.last_find_at = Some(outcome.sent_at);
        l.finds.push(FindEntry {
            request_id: outcome.request_id.clone(),
            token_jti: outcome.token_jti.clone(),
            case_id: case.id.get_ref().clone(),
            expected: match kind {
                FindKind::Expected => case.expected_assets(),
                FindKind::Repeat | FindKind::Refused => BTreeSet::new(),
            },
            kind,
            scenario,
            sent_at: outcome.sent_at,
            epoch: cas.epoch(),
            posted: HashSet::new(),
        });
    }

    /// Whether another find of this run than the one sent with `own_request_id` caused a
    /// registration: it names that find's request id as `inbound_request_id`, or the PAT that
    /// registered it was issued for that find's token. A watch over what one find causes
    /// leaves these to that find: with `--concurrency` above 1 other scenarios' finds register
    /// beside it (some wrongly), and the audit judges each find's registrations as its own.
    pub fn caused_by_another_find(
        &self,
        cas: &Cas,
        own_request_id: &str,
        registration: &crate::cda::cas::Registration,
    ) -> bool {
        self.other_find_behind(cas, own_request_id, registration)
            .is_some()
    }

    /// The case of the scenario whose find caused `registration`, where another find did
    /// ([`Audit::caused_by_another_find`]), to name in a failure.
    pub fn other_find_behind(
        &self,
        cas: &Cas,
        own_request_id: &str,
        registration: &crate::cda::cas::Registration,
    ) -> Option<String> {
        let assertion = cas.assertion_of_pat(&registration.pat_jti);
        let l = self.ledger();
        let by_inbound = registration.inbound_request_id.as_deref().and_then(|id| {
            l.finds
                .iter()
                .find(|f| f.request_id.eq_ignore_ascii_case(id))
        });
        let by_pat = || {
            let key = assertion.as_deref()?;
            l.finds.iter().find(|f| f.token_jti.as_deref() == Some(key))
        };
        by_inbound
            .or_else(by_pat)
            .filter(|f| !f.request_id.eq_ignore_ascii_case(own_request_id))
            .map(|f| match &f.scenario {
                // A negative sends another case's member: named by its own case.
                Some(scenario) => scenario.id().to_owned(),
                None => f.case_id.clone(),
            })
    }

    /// A scenario had `update` applied to the registration it set up: its PATCH or DELETE of
    /// that resource is expected (the stage's match-update file does not name it).
    pub fn expect_update(&self, update: crate::harness::updates::MatchUpdate) {
        self.ledger().applied_in_scenario.push(update);
    }

    /// The case of the find the harness sent with `request_id`, if it sent one.
    pub fn case_of_find(&self, request_id: &str) -> Option<String> {
        self.ledger()
            .finds
            .iter()
            .find(|f| f.request_id == request_id)
            .map(|f| f.case_id.clone())
    }

    /// A stage 2 run continuing an earlier stage 1 (`--after`): the live registrations that
    /// stage 1 left are what the C&A is expected to hold, as if this run had sent its finds.
    pub fn expect_left(&self, cas: &Cas, left: &crate::harness::updates::Stage1Left) {
        let mut l = self.ledger();
        l.finds.push(FindEntry {
            // Never an X-Request-ID: calls are attributed to this entry by nothing.
            request_id: format!("(stage 1 of run {})", left.run_id),
            token_jti: None,
            case_id: format!("stage 1 of run {}", left.run_id),
            expected: left
                .registrations
                .iter()
                .map(|r| r.asset_guid.to_ascii_lowercase())
                .collect(),
            kind: FindKind::Expected,
            scenario: None,
            sent_at: left.at,
            epoch: cas.epoch(),
            posted: HashSet::new(),
        });
    }

    /// Wait until every find that must register has had its expected PeIs registered since it
    /// was sent, or until its registration limit (`limit` after it was sent) has passed. A
    /// scenario that failed early (its find answered 200, say) does not wait for its
    /// registrations, and the stage's audit and match-update file must not be decided before
    /// they can have come. Costs nothing where every scenario waited for its own.
    pub async fn await_expected(&self, cas: &Cas, limit: Duration) {
        let limit = chrono::Duration::from_std(limit).unwrap_or_default();
        let (epoch, now) = (cas.epoch(), Utc::now());
        // Only finds still within their limit, and not cleared down since they were sent.
        let pending: Vec<(BTreeSet<String>, DateTime<Utc>)> = self
            .ledger()
            .finds
            .iter()
            .filter(|f| f.kind == FindKind::Expected && !f.expected.is_empty())
            .filter(|f| f.epoch == epoch && f.sent_at + limit > now)
            .map(|f| (f.expected.clone(), f.sent_at))
            .collect();
        let Some(deadline) = pending.iter().map(|(_, sent)| *sent + limit).max() else {
            return;
        };
        let Ok(wait) = (deadline - Utc::now()).to_std() else {
            return;
        };
        let arrived = |regs: &[crate::cda::cas::Registration]| {
            pending.iter().all(|(assets, sent)| {
                assets.iter().all(|asset| {
                    regs.iter().any(|r| {
                        r.registered_at >= *sent
                            && r.asset_guid()
                                .is_some_and(|a| a.eq_ignore_ascii_case(asset))
                    })
                })
            })
        };
        let _ = cas.wait_for(wait, |regs| arrived(regs).then_some(())).await;
    }

    /// The quiet period before a stage's final audit: until `quiet` has passed since the last
    /// find and the last `/rreguri` call (later calls extend it, up to `max`). It overlaps the
    /// stage's own work: after a long stage it is already over.
    pub async fn settle(&self, cas: &Cas, quiet: Duration, max: Duration) {
        let started = tokio::time::Instant::now();
        let quiet = chrono::Duration::from_std(quiet).unwrap_or_default();
        loop {
            let last_call = cas
                .rreguri_calls_after(cas.last_rreguri_seq().saturating_sub(1))
                .last()
                .map(|c| c.at);
            let last = [self.ledger().last_find_at, last_call]
                .into_iter()
                .flatten()
                .max();
            let Some(last) = last else { return };
            let wait = (last + quiet - Utc::now()).to_std().unwrap_or_default();
            if wait.is_zero() || started.elapsed() >= max {
                return;
            }
            tokio::time::sleep(wait.min(max.saturating_sub(started.elapsed()))).await;
        }
    }

    /// Judge every call not judged yet, then (when `stage` is given) compare the C&A's live
    /// registrations with what the pack expects at the end of that stage.
    pub fn judge(
        &self,
        cas: &Cas,
        updates: Option<&MatchUpdateFile>,
        stage: Option<&str>,
    ) -> Vec<Finding> {
        let mut l = self.ledger();
        let calls = cas.rreguri_calls_after(l.judged);
        let mut findings = Vec::new();
        for call in &calls {
            l.judged = l.judged.max(call.seq);
            if let Some(f) = judge_call(&mut l, call, updates) {
                if let Some(a) = call.name.as_deref().and_then(asset_of) {
                    l.reported.insert(a);
                }
                findings.push(f);
            }
        }
        if let Some(stage) = stage {
            findings.extend(judge_state(&l, cas, updates, stage));
        }
        findings
    }
}

/// "POST /rreguri for urn:pei:… (match-yes) at 10:41:02.300".
fn describe(call: &RreguriCall) -> String {
    let target = call
        .name
        .clone()
        .or_else(|| call.resource_id.clone())
        .unwrap_or_else(|| "(no PeI)".to_owned());
    let detail = call
        .detail
        .as_deref()
        .map(|d| {
            if call.method == "DELETE" {
                format!(" with deletion_reason {d}")
            } else {
                format!(" ({d})")
            }
        })
        .unwrap_or_default();
    format!(
        "{} /rreguri for {target}{detail} at {}",
        call.method,
        when(&call.at)
    )
}

/// The C&A's answer in words: "answered 201", "refused it: 401, the PAT is not known …".
fn answer(call: &RreguriCall) -> String {
    match (&call.refusal, call.status) {
        (Some(r), s) if s >= 400 => format!("the C&A refused it: {s}, {r}"),
        (None, s) if s >= 400 => format!("the C&A refused it: {s}"),
        (_, 200) if call.method == "POST" => {
            "the C&A answered 200 (it deduplicated the registration)".to_owned()
        }
        (_, s) => format!("the C&A answered {s}"),
    }
}

fn judge_call(
    l: &mut Ledger,
    call: &RreguriCall,
    updates: Option<&MatchUpdateFile>,
) -> Option<Finding> {
    let by_inbound = call.inbound_request_id.as_deref().and_then(|id| {
        l.finds
            .iter()
            .rposition(|f| f.request_id.eq_ignore_ascii_case(id))
    });
    let by_pat = call.assertion_jti.as_deref().and_then(|j| {
        l.finds
            .iter()
            .rposition(|f| f.token_jti.as_deref() == Some(j))
    });
    let asset = call.name.as_deref().and_then(asset_of);
    // A PATCH or DELETE made with a refreshed PAT (no find's) and no inbound_request_id belongs
    // to the find that registered its PeI.
    let by_registration = || {
        asset.as_ref().and_then(|a| {
            (call.method != "POST")
                .then(|| l.finds.iter().rposition(|f| f.posted.contains(a)))
                .flatten()
        })
    };
    let index = by_inbound.or(by_pat).or_else(by_registration);
    // A 401 for an expired PAT is how a provider learns to obtain a fresh one (README, "The
    // PAT model"): not a finding (unless it is late activity after a clear-down). A provider
    // that then does not retry misses the registration or update, which the scenario's own
    // checks and the stage audit name.
    let pat_expired = call.status == 401
        && call
            .refusal
            .as_deref()
            .is_some_and(|r| r.starts_with(crate::cda::cas::PAT_EXPIRED));
    // A PATCH or DELETE a planned match update asked for is expected whoever sent it.
    if call.method != "POST"
        && call.status < 400
        && let (Some(u), Some(a)) = (updates, &asset)
        && let Some(update) = u.updates.iter().find(|u| {
            u.asset_guid.eq_ignore_ascii_case(a)
                && (u.action == UpdateAction::Confirm) == (call.method == "PATCH")
                && !l.consumed.contains(&u.update_id)
        })
    {
        l.consumed.insert(update.update_id.clone());
        return None;
    }
    if call.method != "POST"
        && call.status < 400
        && let Some(i) = l.applied_in_scenario.iter().position(|u| {
            call.resource_id.as_deref() == Some(u.resource_id.as_str())
                && (u.action == UpdateAction::Confirm) == (call.method == "PATCH")
        })
    {
        l.applied_in_scenario.remove(i);
        return None;
    }
    let Some(index) = index else {
        if pat_expired {
            return None;
        }
        return Some(Finding {
            scenario: None,
            message: format!(
                "{} ({}, inbound_request_id {}) cannot be attributed to any find request the harness sent in this run: neither its inbound_request_id nor its PAT belongs to one",
                describe(call),
                answer(call),
                call.inbound_request_id.as_deref().unwrap_or("none")
            ),
        });
    };
    let f = &mut l.finds[index];
    let whose = format!(
        "case {} (find request {} sent at {})",
        f.case_id,
        if f.request_id.is_empty() {
            "without an X-Request-ID"
        } else {
            &f.request_id
        },
        when(&f.sent_at)
    );
    let scenario = f.scenario.clone();
    let found = |message: String| {
        Some(Finding {
            scenario: scenario.clone(),
            message: format!("registration audit: {message}"),
        })
    };
    if call.pat_epoch.is_some_and(|e| e < call.epoch)
        || (call.status == 401 && f.epoch < call.epoch)
    {
        return found(format!(
            "late activity after a clear-down: {} for {whose} used a PAT from before the clear-down; {}",
            describe(call),
            answer(call)
        ));
    }
    if pat_expired {
        return None;
    }
    if call.status >= 400 {
        return found(format!(
            "the provider tried {} for {whose} and {}",
            describe(call),
            answer(call)
        ));
    }
    match call.method.as_str() {
        "POST" => {
            let Some(asset) = asset else {
                return found(format!("{} for {whose} names no PeI", describe(call)));
            };
            if f.kind == FindKind::Repeat {
                return found(format!(
                    "{} for {whose}, a repeated find for a member already registered: nothing should be registered again; {}",
                    describe(call),
                    answer(call)
                ));
            }
            if f.kind == FindKind::Refused {
                return found(format!(
                    "{} for {whose}, a forged or malformed find the provider must refuse: nothing should be registered; {}",
                    describe(call),
                    answer(call)
                ));
            }
            if !f.expected.contains(&asset) {
                return found(format!(
                    "{} for {whose}: the test pack expects only {} for this find; {}",
                    describe(call),
                    if f.expected.is_empty() {
                        "no registration".to_owned()
                    } else {
                        f.expected.iter().cloned().collect::<Vec<_>>().join(", ")
                    },
                    answer(call)
                ));
            }
            if !f.posted.insert(asset) {
                return found(format!(
                    "{} for {whose} registered the same PeI again; {}",
                    describe(call),
                    answer(call)
                ));
            }
            None
        }
        _ => found(format!(
            "{} for {whose}, though no match update asked for it; {}",
            describe(call),
            answer(call)
        )),
    }
}

/// The C&A's live registrations against what the pack expects at the end of `stage`: the
/// expected assets of every find since the last clear-down, less what the applied updates
/// deleted.
fn judge_state(
    l: &Ledger,
    cas: &Cas,
    updates: Option<&MatchUpdateFile>,
    stage: &str,
) -> Vec<Finding> {
    let epoch = cas.epoch();
    let current: Vec<&FindEntry> = l
        .finds
        .iter()
        .filter(|f| f.epoch == epoch && f.kind == FindKind::Expected)
        .collect();
    let deleted: HashSet<String> = updates
        .map(|u| {
            u.updates
                .iter()
                .filter(|u| u.action != UpdateAction::Confirm)
                .map(|u| u.asset_guid.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let live: Vec<_> = cas
        .registrations()
        .into_iter()
        .filter(|r| r.deleted.is_none())
        .collect();
    let live_assets: HashSet<String> = live
        .iter()
        .filter_map(|r| r.asset_guid().map(str::to_ascii_lowercase))
        .collect();
    let mut findings = Vec::new();
    let mut expected_all = HashSet::new();
    for f in &current {
        for asset in f.expected.iter().filter(|a| !deleted.contains(*a)) {
            if !expected_all.insert(asset.clone()) {
                continue;
            }
            if !live_assets.contains(asset) && !l.reported.contains(asset) {
                findings.push(Finding {
                    scenario: f.scenario.clone(),
                    message: format!(
                        "registration audit at the end of {stage}: the test pack expects asset {asset} (case {}) registered at the C&A; it holds no live registration for it",
                        f.case_id
                    ),
                });
            }
        }
    }
    for r in &live {
        let Some(asset) = r.asset_guid().map(str::to_ascii_lowercase) else {
            continue;
        };
        if expected_all.contains(&asset) || l.reported.contains(&asset) {
            continue;
        }
        let by = r.inbound_request_id.as_deref().and_then(|id| {
            current
                .iter()
                .rev()
                .find(|f| f.request_id.eq_ignore_ascii_case(id))
        });
        findings.push(Finding {
            scenario: by.and_then(|f| f.scenario.clone()),
            message: format!(
                "registration audit at the end of {stage}: the C&A holds {} ({}, registered at {}{}), which the test pack does not expect at this point",
                r.name,
                r.match_status,
                when(&r.registered_at),
                by.map(|f| format!(" for case {}", f.case_id))
                    .unwrap_or_default()
            ),
        });
    }
    findings
}

#[cfg(test)]
mod tests;
