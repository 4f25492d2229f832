//! Step definitions: the Gherkin sentences of `features/` and what each checks, one module per
//! part of the flow. Every failure message names the case, what was expected and what was
//! observed, so a technical contact can act on it without reading code. Every failure is a
//! [`StepFailure`] whose class (who has to act) the step sets where it knows it; each step keeps
//! it on the world ([`HarnessWorld::settle`]) for the evidence writer.

mod errors;
mod find;
mod reporting;
mod reporting_received;
mod reporting_retries;
mod resilience;
mod restart;
mod updates;
mod view;

use std::collections::BTreeSet;
use std::time::Duration;

use super::audit::FindKind;
use super::world::{HarnessWorld, SentFind};
use crate::cda::cas::Registration;
use crate::harness::testpack::Case;
use crate::net::recorder::Observed;
use crate::protocol::contract::FindData;

pub(super) use crate::record::classify::StepFailure;

pub(super) type StepResult = Result<(), StepFailure>;

pub(super) fn case(world: &HarnessWorld, id: &str) -> Result<Case, StepFailure> {
    let env = world.env()?;
    env.pack.case(id).cloned().ok_or_else(|| {
        StepFailure::test_data(format!(
            "test data: case {id:?} is not in the test pack {}",
            env.pack.path.display()
        ))
    })
}

pub(super) fn last_find(world: &HarnessWorld) -> Result<&SentFind, StepFailure> {
    world.last_find.as_ref().ok_or_else(|| {
        StepFailure::configuration("scenario: no find request has been sent in this scenario")
    })
}

pub(super) fn short(s: &str) -> String {
    const MAX: usize = 300;
    if s.chars().count() > MAX {
        format!("{}...", s.chars().take(MAX).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// Send the find of a case's persona; `repeat`: the same person's find again, which must
/// register nothing (the audit judges what it causes accordingly).
pub(super) async fn send_find(world: &mut HarnessWorld, case_id: &str, repeat: bool) -> StepResult {
    let kind = if repeat {
        FindKind::Repeat
    } else {
        FindKind::Expected
    };
    send_find_as(world, case_id, kind, None).await
}

/// A forged or malformed find for a case's persona: what is wrong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Forgery {
    /// The token's signature does not verify (its last byte changed).
    BadSignature,
    /// The token expired ten minutes ago.
    Expired,
    /// The token names an issuer that is not the CDA's.
    WrongIssuer,
    /// The token is addressed to another holder.
    WrongAudience,
    /// The request carries no request id header.
    NoRequestId,
    /// The request id header is not a UUID.
    MalformedRequestId,
}

impl Forgery {
    /// The step text's words for it.
    pub(super) fn parse(words: &str) -> Option<Forgery> {
        Some(match words {
            "a find token with a bad signature" => Forgery::BadSignature,
            "an expired find token" => Forgery::Expired,
            "a find token from the wrong issuer" => Forgery::WrongIssuer,
            "a find token for the wrong audience" => Forgery::WrongAudience,
            "no X-Request-ID" => Forgery::NoRequestId,
            "a malformed X-Request-ID" => Forgery::MalformedRequestId,
            _ => return None,
        })
    }

    /// What is wrong with the find, for messages.
    pub(super) fn describe(self) -> &'static str {
        match self {
            Forgery::BadSignature => "its find token's signature does not verify",
            Forgery::Expired => "its find token expired 10 minutes ago",
            Forgery::WrongIssuer => "its find token's issuer is not the CDA",
            Forgery::WrongAudience => "its find token is addressed to another holder",
            Forgery::NoRequestId => "it carries no X-Request-ID",
            Forgery::MalformedRequestId => "its X-Request-ID is not a UUID (\"not-a-request-id\")",
        }
    }
}

/// Send the find of a case's persona, forged or malformed as `forgery` says when given.
pub(super) async fn send_find_as(
    world: &mut HarnessWorld,
    case_id: &str,
    kind: FindKind,
    forgery: Option<Forgery>,
) -> StepResult {
    let env = world.env()?;
    let case = case(world, case_id)?;
    let persona = env.pack.persona(case.persona.get_ref()).ok_or_else(|| {
        StepFailure::test_data(format!(
            "test data: persona {} of case {case_id} is not in the pack",
            case.persona.get_ref()
        ))
    })?;
    let data = FindData::of(persona);
    // Known to the audit as being sent until recorded below.
    let sending = world.audit.as_ref().map(|a| a.sending());
    let outcome = match forgery {
        None => env.finder.send(&data).await,
        Some(f) => {
            let token = forged_token(&env.finder, &data, f)?;
            let request_id = match f {
                Forgery::NoRequestId => None,
                Forgery::MalformedRequestId => Some("not-a-request-id".to_owned()),
                _ => Some(uuid::Uuid::new_v4().to_string()),
            };
            env.finder
                .send_with_request_id(&token, request_id.as_deref())
                .await
        }
    };
    if let Some(audit) = &world.audit {
        audit.record_find(&env.cas, &outcome, &case, kind, world.scenario.clone());
    }
    drop(sending);
    world.registrations.clear();
    world.forged = forgery.map(Forgery::describe);
    world.last_find = Some(SentFind { case, outcome });
    Ok(())
}

/// The find token `forgery` calls for; a valid one when only the request id is wrong.
fn forged_token(
    finder: &crate::cda::finder::PensionFinder,
    data: &FindData,
    forgery: Forgery,
) -> Result<String, StepFailure> {
    let internal = |what: String| {
        StepFailure::harness(format!(
            "internal: could not sign the forged find token: {what}"
        ))
    };
    let mut claims = finder.claims(data, finder.contract.token_lifetime_secs);
    let now = chrono::Utc::now().timestamp();
    match forgery {
        Forgery::Expired => {
            claims.insert("iat".into(), serde_json::Value::from(now - 900));
            claims.insert("exp".into(), serde_json::Value::from(now - 600));
        }
        Forgery::WrongIssuer => {
            claims.insert(
                "iss".into(),
                serde_json::Value::String("https://not-the-cda.invalid".to_owned()),
            );
        }
        Forgery::WrongAudience => {
            claims.insert(
                "aud".into(),
                serde_json::Value::String(uuid::Uuid::new_v4().to_string()),
            );
        }
        Forgery::BadSignature | Forgery::NoRequestId | Forgery::MalformedRequestId => {}
    }
    let token = finder
        .key
        .sign(&claims)
        .map_err(|e| internal(e.to_string()))?;
    if forgery != Forgery::BadSignature {
        return Ok(token);
    }
    // Change the signature's first byte: same header and claims, a signature that fails.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (signed, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| internal("the signed token has no signature".to_owned()))?;
    let mut bytes = b64.decode(signature).map_err(|e| internal(e.to_string()))?;
    if let Some(b) = bytes.first_mut() {
        *b ^= 0xff;
    }
    Ok(format!("{signed}.{}", b64.encode(bytes)))
}

/// Registrations of the expected assets or carrying the find's request id.
pub(super) fn relevant(
    regs: &[Registration],
    expected: &BTreeSet<String>,
    request_id: &str,
) -> Vec<Registration> {
    regs.iter()
        .filter(|r| r.deleted.is_none())
        .filter(|r| {
            r.inbound_request_id.as_deref() == Some(request_id)
                || r.asset_guid()
                    .is_some_and(|a| expected.contains(&a.to_ascii_lowercase()))
        })
        .cloned()
        .collect()
}

/// Wait (event-driven) until the expected registrations of the last find have arrived, then
/// watch for the settle window for unexpected extras.
pub(super) async fn await_registrations(
    world: &HarnessWorld,
) -> Result<Vec<Registration>, StepFailure> {
    await_registrations_then(world, Settle::Now).await
}

/// Whether a step waits out the settle window after the registrations it awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settle {
    Now,
    /// A later step of the same set-up waits it out, covering this one's too (it starts later).
    Later,
}

pub(super) async fn await_registrations_then(
    world: &HarnessWorld,
    settle: Settle,
) -> Result<Vec<Registration>, StepFailure> {
    let env = world.env()?;
    let sent = last_find(world)?;
    let expected = sent.case.expected_assets();
    let request_id = sent.outcome.request_id.clone();
    let limit = Duration::from_millis(env.limits.registration_ms);
    let want = expected.len();
    let got = env
        .cas
        .wait_for(limit, |regs| {
            let rel = relevant(regs, &expected, &request_id);
            (want > 0 && rel.len() >= want).then_some(rel)
        })
        .await;
    if (got.is_some() || want == 0) && settle == Settle::Now {
        // Keep watching briefly for registrations that should not be there.
        let settle = Duration::from_millis(env.limits.registration_settle_ms);
        let _ = env
            .cas
            .wait_for(settle, |regs| {
                (relevant(regs, &expected, &request_id).len() > want).then_some(())
            })
            .await;
    }
    let regs = relevant(&env.cas.registrations(), &expected, &request_id);
    Ok(regs)
}

/// Every `POST /rreguri` of the last find that the C&A refused, in words that say why:
/// "the provider tried to register urn:pei:… at 10:41:02.300 and the C&A refused it: 401, …".
pub(super) fn refusals(world: &HarnessWorld) -> Vec<String> {
    let (Ok(env), Ok(sent)) = (world.env(), last_find(world)) else {
        return Vec::new();
    };
    let expected = sent.case.expected_assets();
    env.cas
        .registration_attempts()
        .into_iter()
        .filter(|a| a.at >= sent.outcome.sent_at && a.status >= 400)
        .filter(|a| {
            a.inbound_request_id.as_deref() == Some(sent.outcome.request_id.as_str())
                || a.name
                    .as_deref()
                    .and_then(crate::cda::cas::pei_parts)
                    .is_some_and(|(_, asset)| expected.contains(&asset.to_ascii_lowercase()))
        })
        .map(|a| {
            format!(
                "the provider tried to register {} at {} and the C&A refused it: {}{}",
                a.name.as_deref().unwrap_or("(no name)"),
                a.at.format("%H:%M:%S%.3f"),
                a.status,
                a.refusal.map(|r| format!(", {r}")).unwrap_or_default()
            )
        })
        .collect()
}

/// A failure of the system under test whose `message` is headed by the C&A's refusals of the
/// last find's registrations, if any.
pub(super) fn with_refusals(world: &HarnessWorld, case_id: &str, message: String) -> StepFailure {
    let refused = refusals(world);
    if refused.is_empty() {
        return StepFailure::system_under_test(message);
    }
    let rest = message
        .strip_prefix(&format!("case {case_id}: "))
        .unwrap_or(&message);
    StepFailure::system_under_test(format!("case {case_id}: {}; {rest}", refused.join("; ")))
}

pub(super) fn registered(world: &HarnessWorld, case_id: &str) -> Result<Registration, StepFailure> {
    world.registered_by_case.get(case_id).cloned().ok_or_else(|| {
        StepFailure::configuration(format!("scenario: no PeI was set up for case {case_id} (add \"Given the member of test case \\\"{case_id}\\\" has a registered PeI\")"))
    })
}

/// The most recent raw view request's target and response.
pub(super) fn last_view(world: &HarnessWorld) -> Result<(Registration, Observed), StepFailure> {
    let none =
        || StepFailure::configuration("scenario: no view request has been made in this scenario");
    let reg = world.last_view_target.clone().ok_or_else(none)?;
    match world.last_view_response.clone() {
        Some(Ok(r)) => Ok((reg, r)),
        Some(Err(e)) => Err(StepFailure::new(
            e.class(),
            format!("{}: the view request got no response: {e}", reg.name),
        )),
        None => Err(none()),
    }
}

/// Mark the find request with this X-Request-ID as the exchange a check judged.
pub(super) fn judged_find(env: &crate::harness::environment::Environment, request_id: &str) {
    env.recorder.judged_latest(|e| {
        e.party == crate::cda::finder::PARTY
            && e.request_headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("x-request-id") && v == request_id)
    });
}

/// Mark the latest POST /rreguri registering `pei` as the exchange a check judged.
pub(super) fn judged_registration(env: &crate::harness::environment::Environment, pei: &str) {
    env.recorder.judged_latest(|e| {
        e.party == crate::harness::environment::PARTY_PROVIDER_TO_CAS
            && e.method == "POST"
            && e.url.contains("rreguri")
            && e.request_body.as_deref().is_some_and(|b| b.contains(pei))
    });
}

/// One line on what was registered: each PeI with its match status.
pub(super) fn observe_registrations(
    env: &crate::harness::environment::Environment,
    regs: &[Registration],
) {
    if regs.is_empty() {
        return;
    }
    env.recorder.observed(format!(
        "{} registration(s): {}",
        regs.len(),
        regs.iter()
            .map(|r| format!(
                "{} {} \"{}\" inbound_request_id {}",
                r.name,
                r.match_status,
                r.description,
                r.inbound_request_id.as_deref().unwrap_or("none")
            ))
            .collect::<Vec<_>>()
            .join("; ")
    ));
}
