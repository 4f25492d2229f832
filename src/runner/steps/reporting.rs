//! Reporting steps: submissions to the six reporting API endpoints, the same-UTC-day check,
//! null submissions, the refusal of invalid bodies, and the reconciliation of what was
//! reported with what the harness observed. Forced answers and retries:
//! [`super::reporting_retries`].

use crate::net::recorder::in_scenario;
use cucumber::{then, when};
use serde_json::Value;

use super::{StepFailure, StepResult};
use crate::reporting::Endpoint;
use crate::reporting::client::RawRequest;
use crate::reporting::model::{self, EndpointData, PlanOptions, SubmissionStatus};
use crate::reporting::session::{Mode, ReportingSession};
use crate::reporting::validate::{self, Strictness};
use crate::runner::world::HarnessWorld;

pub(super) fn endpoint(text: &str) -> Result<Endpoint, StepFailure> {
    Endpoint::parse(text).ok_or_else(|| {
        StepFailure::configuration(format!(
            "scenario: {text:?} is not a reporting endpoint (expected one of {})",
            Endpoint::ALL.map(Endpoint::path).join(", ")
        ))
    })
}

async fn submit(world: &mut HarnessWorld, path: &str, mode: Mode) -> StepResult {
    let env = world.env()?;
    let endpoint = endpoint(path)?;
    world.reporting_sent.clear();
    world.reporting_error = None;
    match env.reporting.submit(endpoint, mode).await {
        Ok(sent) => world.reporting_sent = sent,
        Err(e) => world.reporting_error = Some(submit_failure(&e)),
    }
    Ok(())
}

#[when(expr = "the organisation submits its reporting data to {string}")]
async fn submits_step(world: &mut HarnessWorld, path: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, submits(world, path)).await;
    world.settle(outcome)
}

async fn submits(world: &mut HarnessWorld, path: String) -> StepResult {
    submit(world, &path, Mode::Initial).await
}

#[when(expr = "the organisation sends a null submission to {string}")]
async fn sends_null_step(world: &mut HarnessWorld, path: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, sends_null(world, path)).await;
    world.settle(outcome)
}

async fn sends_null(world: &mut HarnessWorld, path: String) -> StepResult {
    submit(world, &path, Mode::Null).await
}

#[when(expr = "the organisation resubmits its reporting data to {string} as a correction")]
async fn resubmits_step(world: &mut HarnessWorld, path: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, resubmits(world, path)).await;
    world.settle(outcome)
}

async fn resubmits(world: &mut HarnessWorld, path: String) -> StepResult {
    submit(world, &path, Mode::Resubmission).await
}

/// Why a submission could not be made, classed by the error's kind: an export that does not
/// read is the organisation's data, a record the harness refuses to send is the organisation's
/// doing, a spec without the variant the feature asks for is the feature's wording.
fn submit_failure(e: &crate::reporting::session::SessionError) -> StepFailure {
    use crate::reporting::session::SessionError;
    let message = format!("nothing was submitted: {e}");
    match e {
        SessionError::Source(_) => StepFailure::test_data(message),
        SessionError::NoNullVariant { .. } => StepFailure::configuration(message),
        _ => StepFailure::system_under_test(message),
    }
}

/// The submission's records, or why there are none.
pub(super) fn sent(
    world: &HarnessWorld,
) -> Result<&[crate::record::run::ReportingSubmission], StepFailure> {
    if let Some(e) = &world.reporting_error {
        return Err(e.clone());
    }
    if world.reporting_sent.is_empty() {
        return Err(StepFailure::configuration(
            "scenario: no reporting submission has been made in this scenario",
        ));
    }
    Ok(&world.reporting_sent)
}

#[then("every record is accepted with 202, a message and a timestamp")]
async fn all_accepted_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, all_accepted(world)).await;
    world.settle(outcome)
}

async fn all_accepted(world: &mut HarnessWorld) -> StepResult {
    let problems: Vec<String> = sent(world)?
        .iter()
        // Accepted earlier today (journal): it counts for today's pipeline, and is not resent.
        .filter(|s| s.outcome != "accepted" && s.outcome != "already_accepted")
        .map(|s| {
            format!(
                "record {} to {}: expected 202 ACCEPTED, got {} ({})",
                s.record_id, s.endpoint, s.outcome, s.detail
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StepFailure::system_under_test(problems.join("; ")))
    }
}

#[then(expr = "every record is a {string} with submission_id null")]
async fn reason_and_null_id_step(world: &mut HarnessWorld, reason: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, reason_and_null_id(world, reason)).await;
    world.settle(outcome)
}

async fn reason_and_null_id(world: &mut HarnessWorld, reason: String) -> StepResult {
    for s in sent(world)? {
        if s.submission_reason != reason || s.submission_id.is_some() {
            return Err(StepFailure::system_under_test(format!(
                "record {} to {}: expected submission_reason {reason:?} and submission_id null, got {:?} and {:?}",
                s.record_id, s.endpoint, s.submission_reason, s.submission_id
            )));
        }
    }
    Ok(())
}

#[then(expr = "every record is a {string} with submission_status {string}")]
async fn reason_and_status_step(
    world: &mut HarnessWorld,
    reason: String,
    status: String,
) -> StepResult {
    let outcome = in_scenario(world.scenario_id, reason_and_status(world, reason, status)).await;
    world.settle(outcome)
}

async fn reason_and_status(world: &mut HarnessWorld, reason: String, status: String) -> StepResult {
    for s in sent(world)? {
        if s.submission_reason != reason || s.submission_status != status {
            return Err(StepFailure::system_under_test(format!(
                "record {} to {}: expected {reason:?} / {status:?}, got {:?} / {:?}",
                s.record_id, s.endpoint, s.submission_reason, s.submission_status
            )));
        }
    }
    Ok(())
}

#[then("all six reporting endpoints have accepted submissions on one UTC calendar day")]
async fn same_day_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, same_day(world)).await;
    world.settle(outcome)
}

async fn same_day(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let spread = env.reporting.day_check();
    if spread.complete_day().is_none() || spread.days.len() != 1 {
        return Err(StepFailure::system_under_test(format!(
            "expected all six endpoints to be accepted on one UTC day: {}",
            spread.describe()
        )));
    }
    // On the simulator, the pipeline's own view must agree.
    if let Some(sim) = &env.reporting.simulator {
        let days = sim.pipeline();
        if !days.iter().any(|d| d.complete) {
            let seen: Vec<String> = days
                .iter()
                .map(|d| format!("{}: missing {}", d.date, d.missing.join(", ")))
                .collect();
            return Err(StepFailure::system_under_test(format!(
                "the reporting simulator's pipeline check found no UTC day with schema-valid submissions to all six endpoints ({})",
                seen.join("; ")
            )));
        }
    }
    Ok(())
}

#[then(expr = "the harness refuses to build a null submission for {string}, saying why")]
async fn no_null_variant_step(world: &mut HarnessWorld, path: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, no_null_variant(world, path)).await;
    world.settle(outcome)
}

async fn no_null_variant(world: &mut HarnessWorld, path: String) -> StepResult {
    let env = world.env()?;
    let endpoint = endpoint(&path)?;
    match env.reporting.plan(endpoint, Mode::Null) {
        Err(crate::reporting::session::SessionError::NoNullVariant { .. }) => Ok(()),
        Err(e) => Err(StepFailure::harness(format!(
            "{endpoint}: expected the harness to refuse a null submission because the spec has none, but it failed otherwise: {e}"
        ))),
        Ok(records) => Err(StepFailure::harness(format!(
            "{endpoint}: expected no null submission (the spec has no null variant here), but the harness built {} record(s)",
            records.len()
        ))),
    }
}

/// A valid body for `endpoint` with nothing to report (zero counts, an empty holder map
/// replaced by one period where the shape needs data).
fn valid_body(session: &ReportingSession, endpoint: Endpoint) -> Result<Value, StepFailure> {
    let now = session.clock.now();
    let data = match endpoint {
        Endpoint::ServiceAvailabilityFind | Endpoint::ServiceAvailabilityView => {
            EndpointData::Availability(vec![(
                session.holder,
                vec![model::Outage {
                    start_date_ts: model::utc_midnight(now),
                    end_date_ts: now,
                    unavail_scheduled: true,
                    unavail_reason: "planned maintenance".to_owned(),
                }],
            )])
        }
        Endpoint::ViewResponseResponseTime => EndpointData::ResponseTimes(vec![(
            session.holder,
            vec![model::SlowResponse {
                req_date_ts: now - chrono::Duration::seconds(12),
                resp_date_ts: now,
            }],
        )]),
        // One calculation, so the scripts can break its value code and dates.
        Endpoint::ViewResponseCalculations => EndpointData::Calculations(vec![(
            session.holder,
            model::Calculations::Single(vec![model::Calculation {
                value_code: model::ValueCode::Dbc,
                calculation_start_date: now - chrono::Duration::seconds(30),
                calculation_end_date: now,
            }]),
        )]),
        e => EndpointData::nothing(e, &[session.holder]),
    };
    let records = model::plan(
        endpoint,
        &data,
        PlanOptions {
            period_start: model::utc_midnight(now),
            status: SubmissionStatus::OnTime,
            resubmission: false,
        },
    )
    .map_err(|e| StepFailure::harness(format!("internal: {e}")))?;
    records
        .first()
        .map(model::Record::to_json)
        .ok_or_else(|| StepFailure::harness(format!("internal: no body planned for {endpoint}")))
}

/// One step of a field path: an object key (`*` = the object's first key, e.g. the holder
/// GUID of an availability map) or an array index.
#[derive(Debug, PartialEq)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// A scenario's field path that does not fit the planned body.
#[derive(Debug, PartialEq, thiserror::Error)]
enum FieldPathError {
    #[error("scenario: {0:?} is not a field path (e.g. items[0].*[0].unavail_reason)")]
    NotAPath(String),
    #[error("scenario: {0:?} names no field")]
    Empty(String),
    #[error("scenario: the planned body has no field at {0:?}")]
    Missing(String),
}

/// `items[0].*[0].unavail_reason` -> key items, index 0, first key, index 0, key unavail_reason.
fn parse_path(path: &str) -> Result<Vec<PathStep>, FieldPathError> {
    let bad = || FieldPathError::NotAPath(path.to_owned());
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !name.is_empty() {
            steps.push(PathStep::Key(name.to_owned()));
        }
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(bad)?;
            let index = rest
                .get(1..close)
                .and_then(|n| n.parse().ok())
                .ok_or_else(bad)?;
            steps.push(PathStep::Index(index));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad());
            }
        }
        if name.is_empty() && steps.is_empty() {
            return Err(bad());
        }
    }
    Ok(steps)
}

/// Set (or with `None` remove) the field at `path` of `body`.
fn set_path(body: &mut Value, path: &str, value: Option<Value>) -> Result<(), FieldPathError> {
    let steps = parse_path(path)?;
    let Some((last, parents)) = steps.split_last() else {
        return Err(FieldPathError::Empty(path.to_owned()));
    };
    let missing = || FieldPathError::Missing(path.to_owned());
    let mut node = body;
    for step in parents {
        node = match step {
            PathStep::Key(k) if k == "*" => node
                .as_object_mut()
                .and_then(|o| o.values_mut().next())
                .ok_or_else(missing)?,
            PathStep::Key(k) => node.get_mut(k.as_str()).ok_or_else(missing)?,
            PathStep::Index(i) => node.get_mut(*i).ok_or_else(missing)?,
        };
    }
    match (last, value) {
        (PathStep::Key(k), Some(v)) => {
            node.as_object_mut()
                .ok_or_else(missing)?
                .insert(k.clone(), v);
        }
        (PathStep::Key(k), None) => {
            node.as_object_mut().ok_or_else(missing)?.remove(k);
        }
        (PathStep::Index(i), Some(v)) => *node.get_mut(*i).ok_or_else(missing)? = v,
        (PathStep::Index(i), None) => {
            let list = node.as_array_mut().ok_or_else(missing)?;
            if *i >= list.len() {
                return Err(missing());
            }
            list.remove(*i);
        }
    }
    Ok(())
}

/// Whether the validator's `field` is the one `pattern` names, `*` standing for any one key
/// (the holder GUID in `items[0].<guid>[0].unavail_reason`).
fn field_matches(pattern: &str, field: &str) -> bool {
    let re = format!("^{}$", regex::escape(pattern).replace(r"\*", r"[^.\[\]]+"));
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(field))
}

#[when(expr = "the harness checks a {string} body whose {string} is {string}")]
async fn check_mutated_step(
    world: &mut HarnessWorld,
    path: String,
    field: String,
    value: String,
) -> StepResult {
    let outcome = in_scenario(world.scenario_id, check_mutated(world, path, field, value)).await;
    world.settle(outcome)
}

async fn check_mutated(
    world: &mut HarnessWorld,
    path: String,
    field: String,
    value: String,
) -> StepResult {
    let env = world.env()?;
    let endpoint = endpoint(&path)?;
    let mut body = valid_body(&env.reporting, endpoint)?;
    let value = (value != "(absent)").then(|| {
        // JSON if it parses (numbers, null, booleans, arrays), else the text itself.
        serde_json::from_str(&value).unwrap_or(Value::String(value.clone()))
    });
    set_path(&mut body, &field, value).map_err(|e| StepFailure::configuration(e.to_string()))?;
    let errors = validate::check(endpoint, &body, Strictness::default());
    world.checked_body = Some((endpoint, body, errors));
    Ok(())
}

#[then(expr = "the harness refuses it before sending, naming {string} with {string}")]
async fn refused_locally_step(world: &mut HarnessWorld, field: String, code: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, refused_locally(world, field, code)).await;
    world.settle(outcome)
}

async fn refused_locally(world: &mut HarnessWorld, field: String, code: String) -> StepResult {
    let (endpoint, _, errors) = world.checked_body.as_ref().ok_or_else(|| {
        StepFailure::configuration("scenario: no body has been checked in this scenario")
    })?;
    if errors
        .iter()
        .any(|e| field_matches(&field, &e.field) && e.code == code)
    {
        Ok(())
    } else {
        Err(StepFailure::harness(format!(
            "{endpoint}: expected the harness's validator to name {field} with {code}, it found: {}",
            if errors.is_empty() {
                "nothing wrong".to_owned()
            } else {
                validate::describe(errors)
            }
        )))
    }
}

#[then(expr = "the reporting API refuses the same body with {int} and {string}")]
async fn refused_remotely_step(world: &mut HarnessWorld, status: u16, code: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, refused_remotely(world, status, code)).await;
    world.settle(outcome)
}

async fn refused_remotely(world: &mut HarnessWorld, status: u16, code: String) -> StepResult {
    let env = world.env()?;
    let (endpoint, body, _) = world.checked_body.clone().ok_or_else(|| {
        StepFailure::configuration("scenario: no body has been checked in this scenario")
    })?;
    let bytes =
        serde_json::to_vec(&body).map_err(|e| StepFailure::harness(format!("internal: {e}")))?;
    let result = env.reporting.client.post(endpoint, &bytes).await;
    match &result.outcome {
        crate::reporting::client::Outcome::Refused { problem }
            if problem.status == status && problem.codes.contains(&code) =>
        {
            Ok(())
        }
        other => Err(StepFailure::system_under_test(format!(
            "{endpoint}: expected the reporting API to refuse the invalid body with {status} and {code}, got {}",
            other.describe()
        ))),
    }
}

#[then("what the organisation reported agrees with what the harness observed")]
async fn reconciled_step(world: &mut HarnessWorld) -> StepResult {
    let outcome = in_scenario(world.scenario_id, reconciled(world)).await;
    world.settle(outcome)
}

async fn reconciled(world: &mut HarnessWorld) -> StepResult {
    let env = world.env()?;
    let (from, to) = env.reporting.window();
    let exchanges = env.recorder.exchanges_between(None, from.into(), to.into());
    let observed = env
        .reporting
        .observed(&exchanges, crate::cda::dashboard::PARTY_VIEW);
    let findings = env.reporting.reconcile(&observed);
    if findings.is_empty() {
        return Err(StepFailure::configuration(
            "scenario: nothing reported to reconcile: submit /view-response/request-number, /view-response/response-time and /view-response/unavailable first",
        ));
    }
    let differences: Vec<String> = findings
        .iter()
        .filter(|f| !f.agrees)
        .map(|f| f.describe())
        .collect();
    if differences.is_empty() {
        Ok(())
    } else {
        Err(StepFailure::system_under_test(format!(
            "the organisation's reporting differs from what the harness observed between {} and {}: {}",
            model::ts(&from),
            model::ts(&to),
            differences.join("; ")
        )))
    }
}

/// The body of a valid submission to `endpoint`, as bytes.
fn valid_bytes(world: &HarnessWorld, endpoint: Endpoint) -> Result<Vec<u8>, StepFailure> {
    let env = world.env()?;
    let body = valid_body(&env.reporting, endpoint)?;
    serde_json::to_vec(&body).map_err(|e| StepFailure::harness(format!("internal: {e}")))
}

/// The one thing a raw request gets wrong on purpose; the rest is a valid request.
enum Deviation<'a> {
    None,
    RequestId(Option<&'a str>),
    ContentType(&'a str),
    Method(reqwest::Method),
}

/// Send `body` to `path` as a `POST` of JSON with a fresh X-Request-ID, but for `deviation`,
/// and keep the answer for the step that judges it.
async fn send_raw(
    world: &mut HarnessWorld,
    path: &str,
    body: Vec<u8>,
    deviation: Deviation<'_>,
) -> StepResult {
    let env = world.env()?;
    let fresh = uuid::Uuid::new_v4().to_string();
    let mut raw = RawRequest {
        method: reqwest::Method::POST,
        path,
        request_id: Some(&fresh),
        content_type: Some("application/json"),
        body,
    };
    match deviation {
        Deviation::None => {}
        Deviation::RequestId(id) => raw.request_id = id,
        Deviation::ContentType(t) => raw.content_type = Some(t),
        Deviation::Method(m) => raw.method = m,
    }
    let what = format!("{} {}", raw.method, raw.path);
    world.raw_answer = Some((what, env.reporting.client.send_raw(raw).await));
    Ok(())
}

#[when(expr = "the organisation posts a valid {string} body with X-Request-ID {string}")]
async fn posts_with_request_id_step(
    world: &mut HarnessWorld,
    path: String,
    id: String,
) -> StepResult {
    let outcome = in_scenario(world.scenario_id, posts_with_request_id(world, path, id)).await;
    world.settle(outcome)
}

async fn posts_with_request_id(world: &mut HarnessWorld, path: String, id: String) -> StepResult {
    let endpoint = endpoint(&path)?;
    let body = valid_bytes(world, endpoint)?;
    let id = (id != "(absent)").then_some(id);
    let deviation = Deviation::RequestId(id.as_deref());
    send_raw(world, endpoint.path(), body, deviation).await
}

#[when(expr = "the organisation posts a valid {string} body as {string}")]
async fn posts_as_step(world: &mut HarnessWorld, path: String, content_type: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, posts_as(world, path, content_type)).await;
    world.settle(outcome)
}

async fn posts_as(world: &mut HarnessWorld, path: String, content_type: String) -> StepResult {
    let endpoint = endpoint(&path)?;
    let body = valid_bytes(world, endpoint)?;
    let deviation = Deviation::ContentType(&content_type);
    send_raw(world, endpoint.path(), body, deviation).await
}

#[when(expr = "the organisation posts a valid {string} body padded to over {int} MiB")]
async fn posts_oversized_step(world: &mut HarnessWorld, path: String, mib: usize) -> StepResult {
    let outcome = in_scenario(world.scenario_id, posts_oversized(world, path, mib)).await;
    world.settle(outcome)
}

async fn posts_oversized(world: &mut HarnessWorld, path: String, mib: usize) -> StepResult {
    let endpoint = endpoint(&path)?;
    let mut body = valid_bytes(world, endpoint)?;
    // Trailing whitespace keeps it valid JSON: only its size is wrong.
    body.resize(mib * 1024 * 1024 + 1, b' ');
    send_raw(world, endpoint.path(), body, Deviation::None).await
}

#[when(expr = "the organisation sends {word} to {string}")]
async fn sends_method_step(world: &mut HarnessWorld, method: String, path: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, sends_method(world, method, path)).await;
    world.settle(outcome)
}

async fn sends_method(world: &mut HarnessWorld, method: String, path: String) -> StepResult {
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
        StepFailure::configuration(format!("scenario: {method:?} is not an HTTP method"))
    })?;
    // A valid body when the path is one of the six, so only the method or path is wrong.
    let body = match Endpoint::parse(&path) {
        Some(e) => valid_bytes(world, e)?,
        None => b"{}".to_vec(),
    };
    send_raw(world, &path, body, Deviation::Method(method)).await
}

#[then(expr = "the reporting API answers {int} with the code {string}")]
async fn answers_with_step(world: &mut HarnessWorld, status: u16, code: String) -> StepResult {
    let outcome = in_scenario(world.scenario_id, answers_with(world, status, code)).await;
    world.settle(outcome)
}

async fn answers_with(world: &mut HarnessWorld, status: u16, code: String) -> StepResult {
    let (what, answer) = world.raw_answer.as_ref().ok_or_else(|| {
        StepFailure::configuration("scenario: no request has been sent in this scenario")
    })?;
    match answer {
        Ok(p) if p.status == status && p.codes.contains(&code) => Ok(()),
        Ok(p) => Err(StepFailure::system_under_test(format!(
            "{what}: expected the reporting API to answer {status} with the code {code}, got {p}"
        ))),
        // The reporting API is the peer here: its transport failure is classed by kind.
        Err(e) => Err(StepFailure::new(
            e.class(),
            format!(
                "{what}: expected the reporting API to answer {status} with the code {code}, got no answer: {e}"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_reach_nested_fields_and_the_holder_key() {
        let mut body = serde_json::json!({
            "items": [{ "1093cd4a-0000-4000-8000-000000000001": [{ "unavail_reason": "ok" }] }],
            "req_count": 1
        });
        set_path(
            &mut body,
            "items[0].*[0].unavail_reason",
            Some(Value::from("a (b)")),
        )
        .expect("set");
        assert_eq!(
            body["items"][0]["1093cd4a-0000-4000-8000-000000000001"][0]["unavail_reason"],
            "a (b)"
        );
        set_path(&mut body, "req_count", None).expect("removed");
        assert!(body.get("req_count").is_none());
        assert!(set_path(&mut body, "items[3].x", Some(Value::Null)).is_err());
        assert!(parse_path("items[x]").is_err());
        assert!(field_matches(
            "items[0].*[0].unavail_reason",
            "items[0].1093cd4a-0000-4000-8000-000000000001[0].unavail_reason"
        ));
        assert!(!field_matches(
            "items[0].*[0].unavail_reason",
            "items[0].a.b[0].unavail_reason"
        ));
        assert!(!field_matches("req_count", "req_counts"));
    }
}
