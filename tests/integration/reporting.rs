//! Reporting: generated bodies against the official yaml (`$PDP_SPECS_DIR/
//! reporting-api-v2_1.yaml`, read at test time), every forbidden body refused by the harness's
//! validator and by the simulator over mTLS, 429 recovery, no duplicate after a crash between
//! send and journal, the midnight guard with a fake clock, reconciliation catching a planted
//! mismatch, and `run --pack reporting` end to end.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pdp_harness::net::recorder::Recorder;
use pdp_harness::record::redact::Redactor;
use pdp_harness::reporting::Endpoint;
use pdp_harness::reporting::client::{Outcome, RecordingSleeper};
use pdp_harness::reporting::clock::{DayStart, NearMidnight};
use pdp_harness::reporting::clock::{FakeClock, check_day};
use pdp_harness::reporting::model::{
    self, Calculation, Calculations, EndpointData, Outage, PlanOptions, SlowResponse,
    SubmissionStatus, UnavailableCounts, ValueCode,
};
use pdp_harness::reporting::session::{Mode, ReportingSession, Settings};
use pdp_harness::reporting::setup::{Simulated, simulated};
use pdp_harness::reporting::simulator::{ErrorCode, StubConfiguration};
use pdp_harness::reporting::sources::{self, Source};
use pdp_harness::reporting::validate::{self, Strictness};
use serde_json::{Value, json};
use uuid::Uuid;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

/// The schema the yaml's discriminator maps `reason` to, for `endpoint`; `None` when the
/// mapping has no such reason (the yaml forbids it).
fn mapped_schema(doc: &Value, endpoint: Endpoint, reason: &str) -> Option<Value> {
    let pointer = format!(
        "/paths/{}/post/requestBody/content/application~1json/schema/discriminator/mapping",
        endpoint.path().replace('/', "~1")
    );
    let mapping = doc.pointer(&pointer).expect("every path has a mapping");
    let target = mapping.get(reason)?.as_str()?;
    Some(common::to_json_schema(doc, &json!({ "$ref": target })))
}

/// What the yaml (discriminator applied, formats checked) says is wrong with `body`.
fn yaml_errors(doc: &Value, endpoint: Endpoint, body: &Value) -> Vec<String> {
    let reason = body["submission_reason"].as_str().unwrap_or("");
    let Some(schema) = mapped_schema(doc, endpoint, reason) else {
        return vec![format!(
            "no schema is mapped for submission_reason {reason:?}"
        )];
    };
    common::schema_errors(&schema, body)
}

fn outages(n: usize, at: DateTime<Utc>) -> Vec<Outage> {
    (0..n)
        .map(|i| Outage {
            start_date_ts: at + chrono::Duration::minutes(i as i64),
            end_date_ts: at + chrono::Duration::minutes(i as i64 + 1),
            unavail_scheduled: i % 2 == 0,
            unavail_reason: model::sanitise_reason("DB upgrade (phase #2)"),
        })
        .collect()
}

fn calcs(n: usize, at: DateTime<Utc>) -> Vec<Calculation> {
    (0..n)
        .map(|i| Calculation {
            value_code: if i % 2 == 0 {
                ValueCode::Dbc
            } else {
                ValueCode::Dcc
            },
            calculation_start_date: at,
            calculation_end_date: at + chrono::Duration::hours(1),
        })
        .collect()
}

fn slow(n: usize, at: DateTime<Utc>) -> Vec<SlowResponse> {
    (0..n)
        .map(|i| SlowResponse {
            req_date_ts: at + chrono::Duration::seconds(i as i64),
            resp_date_ts: at + chrono::Duration::seconds(i as i64 + 11),
        })
        .collect()
}

#[test]
#[cfg_attr(
    pdp_specs_absent,
    ignore = "the MaPS specs folder (PDP_SPECS_DIR, default ../shared/specs/pdp) is absent"
)]
fn every_generated_variant_validates_against_the_official_yaml() {
    let doc = common::spec("reporting-api-v2_1.yaml");
    let at = t("2026-11-23T09:00:00Z");
    let period = model::utc_midnight(at);
    let h = || Uuid::new_v4();
    let (h1, h2, h3) = (h(), h(), h());
    let many: Vec<(Uuid, Vec<Outage>)> = (0..700).map(|_| (h(), outages(1, at))).collect();
    let cases: Vec<(Endpoint, EndpointData, &str)> = vec![
        (
            Endpoint::ServiceAvailabilityFind,
            EndpointData::Availability(vec![(h1, outages(3, at)), (h2, Vec::new())]),
            "data plus a null part for the holder with nothing",
        ),
        (
            Endpoint::ServiceAvailabilityView,
            EndpointData::Availability(vec![(h1, outages(150, at)), (h3, outages(2, at))]),
            "150 periods: one holder split over two maps",
        ),
        (
            Endpoint::ServiceAvailabilityFind,
            EndpointData::Availability(many),
            "700 holders: beyond 667 maps",
        ),
        (
            Endpoint::ViewResponseRequestNumber,
            EndpointData::RequestNumber(vec![(h1, 7), (h2, 0)]),
            "request numbers",
        ),
        (
            Endpoint::ViewResponseResponseTime,
            EndpointData::ResponseTimes(vec![(h1, slow(1500, at)), (h2, Vec::new())]),
            "1500 slow responses and a holder with none",
        ),
        (
            Endpoint::ViewResponseCalculations,
            EndpointData::Calculations(vec![(h1, Calculations::Single(calcs(3, at)))]),
            "single",
        ),
        (
            Endpoint::ViewResponseCalculations,
            EndpointData::Calculations(vec![
                (
                    h1,
                    Calculations::Multiple {
                        eri: calcs(1400, at),
                        accrued: calcs(2, at),
                    },
                ),
                (h2, Calculations::Single(Vec::new())),
            ]),
            "multiple beyond 1300 and a holder with none",
        ),
        (
            Endpoint::ViewResponseUnavailable,
            EndpointData::Unavailable(vec![(
                h1,
                UnavailableCounts {
                    contact_count: 2,
                    accrued_unavail_ppf_count: 1,
                    ..UnavailableCounts::default()
                },
            )]),
            "counts",
        ),
    ];
    let mut checked = 0;
    for (endpoint, data, what) in cases {
        for resubmission in [false, true] {
            let opts = PlanOptions {
                period_start: period,
                status: SubmissionStatus::OnTime,
                resubmission,
            };
            let records = model::plan(endpoint, &data, opts).expect("planned");
            // Batches share their submission_id; null parts carry none.
            let mut by_sid: std::collections::BTreeMap<Uuid, usize> = Default::default();
            for r in &records {
                let body = r.to_json();
                assert!(
                    validate::check(endpoint, &body, Strictness::default()).is_empty(),
                    "{endpoint} ({what}): our validator accepts what we generate"
                );
                let errors = yaml_errors(&doc, endpoint, &body);
                assert!(errors.is_empty(), "{endpoint} ({what}): {errors:?}\n{body}");
                assert!(r.to_bytes().len() <= model::MAX_BODY_BYTES);
                if let Some(sid) = r.header.submission_id {
                    *by_sid.entry(sid).or_default() += 1;
                }
                if r.is_null_submission() {
                    assert!(r.header.submission_id.is_none());
                }
                checked += 1;
            }
            if what.contains("beyond") || what.contains("1500") || what.contains("150 periods") {
                assert!(
                    by_sid.values().any(|n| *n >= 2),
                    "{endpoint} ({what}): split into records sharing a submission_id: {by_sid:?}"
                );
            }
        }
    }
    // The null variants, exactly where the spec has them.
    for endpoint in Endpoint::ALL {
        let records = model::null_submission(endpoint, &[h1, h2], period, SubmissionStatus::OnTime);
        assert_eq!(
            records.is_some(),
            endpoint.allows_null_submission(),
            "{endpoint}"
        );
        for r in records.unwrap_or_default() {
            let body = r.to_json();
            assert_eq!(body["submission_id"], Value::Null);
            let errors = yaml_errors(&doc, endpoint, &body);
            assert!(errors.is_empty(), "{endpoint} null: {errors:?}\n{body}");
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} bodies checked");
}

/// A valid body for `endpoint`, to mutate.
fn base(endpoint: Endpoint, null: bool) -> Value {
    let at = Utc::now();
    let holder = Uuid::new_v4();
    if null {
        let records = model::null_submission(
            endpoint,
            &[holder],
            model::utc_midnight(at),
            SubmissionStatus::OnTime,
        )
        .expect("a null variant");
        return records[0].to_json();
    }
    let data = match endpoint {
        Endpoint::ServiceAvailabilityFind | Endpoint::ServiceAvailabilityView => {
            EndpointData::Availability(vec![(holder, outages(2, at))])
        }
        Endpoint::ViewResponseResponseTime => {
            EndpointData::ResponseTimes(vec![(holder, slow(2, at))])
        }
        Endpoint::ViewResponseCalculations => {
            EndpointData::Calculations(vec![(holder, Calculations::Single(calcs(2, at)))])
        }
        e => EndpointData::nothing(e, &[holder]),
    };
    let opts = PlanOptions {
        period_start: model::utc_midnight(at),
        status: SubmissionStatus::OnTime,
        resubmission: false,
    };
    model::plan(endpoint, &data, opts).expect("planned")[0].to_json()
}

type Mutation = Box<dyn Fn(&mut Value)>;

fn set(key: &'static str, v: Value) -> Mutation {
    Box::new(move |b: &mut Value| b[key] = v.clone())
}

fn remove(key: &'static str) -> Mutation {
    Box::new(move |b: &mut Value| {
        if let Some(o) = b.as_object_mut() {
            o.remove(key);
        }
    })
}

/// A session against a fresh simulator over mTLS, with `clock` and a recording sleeper.
fn simulated_session(
    clock: Arc<dyn pdp_harness::reporting::clock::Clock>,
    journal: Option<std::path::PathBuf>,
) -> (ReportingSession, RecordingSleeper) {
    let sleeper = RecordingSleeper::default();
    let settings = Settings {
        journal,
        ..Settings::default()
    };
    let session = simulated(
        settings,
        Arc::new(Recorder::new(Redactor::new(Vec::new(), false))),
        Uuid::new_v4(),
        None,
        Simulated {
            pki: None,
            client: None,
            clock,
            sleeper: Arc::new(sleeper.clone()),
        },
    )
    .expect("the simulator starts");
    (session, sleeper)
}

fn system_clock() -> Arc<dyn pdp_harness::reporting::clock::Clock> {
    Arc::new(pdp_harness::reporting::clock::SystemClock)
}

/// (endpoint, null variant?, what, mutation, field named, code, forbidden by the yaml's schemas;
/// false where the rule is in the yaml's text or the MaPS stub only)
type ForbiddenCase = (
    Endpoint,
    bool,
    &'static str,
    Mutation,
    &'static str,
    &'static str,
    bool,
);

/// Bodies the reporting API forbids, each with the field and code our validator must name.
fn forbidden_cases() -> Vec<ForbiddenCase> {
    use Endpoint::*;
    let v1_uuid = "a8098c1a-f86e-11da-bd1a-00112444be1e";
    let cases: Vec<ForbiddenCase> = vec![
        (
            ViewResponseRequestNumber,
            false,
            "negative count",
            set("req_count", json!(-1)),
            "req_count",
            "INVALID_REQ_COUNT",
            true,
        ),
        (
            ViewResponseRequestNumber,
            false,
            "count as text",
            set("req_count", json!("7")),
            "req_count",
            "INVALID_REQ_COUNT",
            true,
        ),
        (
            ViewResponseRequestNumber,
            false,
            "count beyond int32",
            set("req_count", json!(2_147_483_648u64)),
            "req_count",
            "INVALID_REQ_COUNT",
            // format int32: JSON Schema validators do not check it.
            false,
        ),
        (
            ViewResponseRequestNumber,
            false,
            "holder not a GUID",
            set("holdernameGuid", json!("abc")),
            "holdernameGuid",
            "INVALID_HOLDERNAMEGUID",
            true,
        ),
        (
            ViewResponseRequestNumber,
            false,
            "no record_id",
            remove("record_id"),
            "record_id",
            "INVALID_RECORD_ID",
            true,
        ),
        (
            ViewResponseRequestNumber,
            false,
            "no submission_id key",
            remove("submission_id"),
            "submission_id",
            "INVALID_SUBMISSION_ID",
            true,
        ),
        (
            ViewResponseRequestNumber,
            false,
            "null submission where none is mapped",
            set("submission_reason", json!("null submission")),
            "submission_reason",
            "INVALID_SUBMISSION_REASON",
            true,
        ),
        (
            ViewResponseRequestNumber,
            false,
            "a bare date as period start",
            set("reporting_period_start", json!("2026-11-23")),
            "reporting_period_start",
            "INVALID_REPORTING_PERIOD_START",
            true,
        ),
        (
            ViewResponseRequestNumber,
            false,
            "unknown status",
            set("submission_status", json!("early")),
            "submission_status",
            "INVALID_SUBMISSION_STATUS",
            true,
        ),
        (
            ViewResponseRequestNumber,
            false,
            "record_id not v4",
            set("record_id", json!(v1_uuid)),
            "record_id",
            "INVALID_RECORD_ID",
            false,
        ),
        (
            ViewResponseRequestNumber,
            false,
            "unknown top-level field",
            set("comment", json!("x")),
            "comment",
            "INVALID_UNEXPECTED_FIELD",
            false,
        ),
        (
            ViewResponseUnavailable,
            false,
            "a count missing",
            remove("contact_count"),
            "contact_count",
            "INVALID_CONTACT_COUNT",
            true,
        ),
        (
            ViewResponseUnavailable,
            false,
            "null submission",
            set("submission_reason", json!("null submission")),
            "submission_reason",
            "INVALID_SUBMISSION_REASON",
            true,
        ),
        (
            ViewResponseResponseTime,
            false,
            "no items",
            set("items", json!([])),
            "items",
            "INVALID_REQ_DATE_TS",
            true,
        ),
        (
            ViewResponseResponseTime,
            false,
            "1401 items",
            Box::new(|b: &mut Value| {
                let item = b["items"][0].clone();
                b["items"] = Value::Array(vec![item; 1401]);
            }),
            "items",
            "INVALID_REQ_DATE_TS",
            true,
        ),
        (
            ViewResponseResponseTime,
            false,
            "unknown key in a closed item",
            Box::new(|b: &mut Value| b["items"][0]["note"] = json!("x")),
            "items[0].note",
            "INVALID_UNEXPECTED_FIELD",
            true,
        ),
        (
            ViewResponseResponseTime,
            false,
            "response time not a date-time",
            Box::new(|b: &mut Value| b["items"][0]["resp_date_ts"] = json!("yesterday")),
            "items[0].resp_date_ts",
            "INVALID_RESP_DATE_TS",
            true,
        ),
        (
            ViewResponseResponseTime,
            true,
            "submission_id on a null submission",
            set("submission_id", json!(Uuid::new_v4().to_string())),
            "submission_id",
            "INVALID_SUBMISSION_ID",
            false,
        ),
        (
            ViewResponseCalculations,
            false,
            "unknown calculation type",
            set("calculation_type", json!("double")),
            "calculation_type",
            "INVALID_CALCULATION_TYPE",
            true,
        ),
        (
            ViewResponseCalculations,
            false,
            "unknown value code",
            Box::new(|b: &mut Value| {
                b["single_calculation"]["items"][0]["value_code"] = json!("XYZ")
            }),
            "single_calculation.items[0].value_code",
            "INVALID_VALUE_CODE",
            true,
        ),
        (
            ViewResponseCalculations,
            false,
            "1301 calculations",
            Box::new(|b: &mut Value| {
                let item = b["single_calculation"]["items"][0].clone();
                b["single_calculation"]["items"] = Value::Array(vec![item; 1301]);
            }),
            "single_calculation.items",
            "INVALID_VALUE_CODE",
            true,
        ),
        (
            ServiceAvailabilityFind,
            false,
            "reason with forbidden characters",
            Box::new(|b: &mut Value| {
                let map = b["items"][0].as_object_mut().expect("map");
                let periods = map.values_mut().next().expect("periods");
                periods[0]["unavail_reason"] = json!("upgrade, (phase 2)");
            }),
            "unavail_reason",
            "INVALID_UNAVAIL_REASON",
            true,
        ),
        (
            ServiceAvailabilityView,
            false,
            "scheduled as text",
            Box::new(|b: &mut Value| {
                let map = b["items"][0].as_object_mut().expect("map");
                let periods = map.values_mut().next().expect("periods");
                periods[0]["unavail_scheduled"] = json!("yes");
            }),
            "unavail_scheduled",
            "INVALID_UNAVAIL_SCHEDULED",
            true,
        ),
        (
            ServiceAvailabilityFind,
            false,
            "668 holder maps",
            Box::new(|b: &mut Value| {
                let item = b["items"][0].clone();
                b["items"] = Value::Array(vec![item; 668]);
            }),
            "items",
            "INVALID_HOLDERNAMEGUID",
            true,
        ),
        (
            ServiceAvailabilityFind,
            false,
            "101 periods for one holder",
            Box::new(|b: &mut Value| {
                let map = b["items"][0].as_object_mut().expect("map");
                let periods = map.values_mut().next().expect("periods");
                let p = periods[0].clone();
                *periods = Value::Array(vec![p; 101]);
            }),
            "items[0]",
            "INVALID_HOLDERNAMEGUID",
            true,
        ),
        (
            ServiceAvailabilityView,
            true,
            "null submission listing a non-GUID",
            set("items", json!(["not-a-guid"])),
            "items[0]",
            "INVALID_HOLDERNAMEGUID",
            true,
        ),
    ];
    cases
}

/// The project's own validator and simulator refuse every forbidden body; needs no specs folder.
#[tokio::test]
async fn bodies_the_spec_forbids_are_refused_by_the_validator_and_by_the_simulator() {
    let (session, _) = simulated_session(system_clock(), None);
    for (endpoint, null, what, mutate, field, code, _) in forbidden_cases() {
        let mut body = base(endpoint, null);
        mutate(&mut body);
        let ours = validate::check(endpoint, &body, Strictness::default());
        assert!(
            ours.iter()
                .any(|e| e.field.contains(field) && e.code == code),
            "{endpoint} ({what}): expected our validator to name {field} with {code}, got {ours:?}"
        );
        let bytes = serde_json::to_vec(&body).expect("json");
        let result = session.client.post(endpoint, &bytes).await;
        match &result.outcome {
            Outcome::Refused { problem } => {
                assert_eq!(problem.status, 400, "{endpoint} ({what})");
                assert!(
                    problem.codes.iter().any(|c| c == code),
                    "{endpoint} ({what}): expected {code} from the simulator, got {problem}"
                );
            }
            other => panic!(
                "{endpoint} ({what}): expected 400, got {}",
                other.describe()
            ),
        }
        assert_eq!(result.attempts.len(), 1, "a 400 is not retried");
    }
    // Nothing invalid was taken.
    let sim = session.simulator.as_ref().expect("simulator");
    assert!(sim.received().iter().all(|r| r.status == 400));
    assert!(sim.pipeline().is_empty());
    session.shutdown();
}

/// Cross-check: the official yaml forbids the same bodies (where its schemas can say so).
#[test]
#[cfg_attr(
    pdp_specs_absent,
    ignore = "the MaPS specs folder (PDP_SPECS_DIR, default ../shared/specs/pdp) is absent"
)]
fn the_official_yaml_forbids_the_bodies_our_validator_refuses() {
    let doc = common::spec("reporting-api-v2_1.yaml");
    for (endpoint, null, what, mutate, _, _, yaml_forbids) in forbidden_cases() {
        if !yaml_forbids {
            continue;
        }
        let mut body = base(endpoint, null);
        mutate(&mut body);
        assert!(
            !yaml_errors(&doc, endpoint, &body).is_empty(),
            "{endpoint} ({what}): the yaml forbids this body too"
        );
    }
}

#[tokio::test]
async fn the_simulator_answers_transport_errors_with_problem_json() {
    let (session, _) = simulated_session(system_clock(), None);
    let url = session.client.url(Endpoint::ViewResponseRequestNumber);
    let http = &session.client.http;
    let body = serde_json::to_vec(&base(Endpoint::ViewResponseRequestNumber, false)).expect("json");
    let rid = Uuid::new_v4().to_string();
    let check = |status: u16, code: &str, resp: reqwest::Response| {
        let code = code.to_owned();
        async move {
            assert_eq!(resp.status().as_u16(), status, "{code}");
            assert_eq!(
                resp.headers()["content-type"].to_str().expect("ascii"),
                "application/problem+json"
            );
            let v: Value = resp.json().await.expect("problem json");
            assert_eq!(v["status"], json!(status));
            assert_eq!(v["errors"][0]["code"], json!(code));
        }
    };
    let r = http
        .post(&url)
        .header("X-Request-ID", &rid)
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    check(415, "INVALID_CONTENT_TYPE", r).await;
    let r = http
        .post(&url)
        .header("X-Request-ID", "not-a-uuid")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    check(400, "INVALID_X_REQUEST_ID", r).await;
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    check(400, "INVALID_X_REQUEST_ID", r).await;
    let r = http
        .post(&url)
        .header("X-Request-ID", &rid)
        .header("content-type", "application/json")
        .body(vec![b' '; model::MAX_BODY_BYTES + 1])
        .send()
        .await
        .expect("sent");
    check(413, "CONTENT_TOO_LARGE", r).await;
    let r = http
        .post(format!("{}/view-response/nothing", session.client.base_url))
        .header("X-Request-ID", &rid)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    check(404, "INVALID_URL", r).await;
    let r = http
        .get(&url)
        .header("X-Request-ID", &rid)
        .send()
        .await
        .expect("sent");
    check(405, "METHOD_NOT_ALLOWED", r).await;
    let r = http
        .post(&url)
        .header("X-Request-ID", &rid)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    check(400, "INVALID_REQUEST_BODY", r).await;
    session.shutdown();
}

#[tokio::test]
async fn too_many_requests_is_retried_with_backoff_honouring_retry_after_then_accepted() {
    let (session, sleeper) = simulated_session(system_clock(), None);
    let sim = session.simulator.clone().expect("simulator");
    let endpoint = Endpoint::ViewResponseUnavailable;
    let force = |status: i64, code: &str, count: i64, retry_after: Option<u64>| StubConfiguration {
        endpoint: endpoint.path().to_owned(),
        status,
        code: code.to_owned(),
        count,
        errors: vec![ErrorCode {
            code: code.to_owned(),
        }],
        retry_after,
    };
    sim.configure(&[force(429, "TOO_MANY_REQUESTS", 2, Some(3))])
        .expect("configured");
    let bytes = serde_json::to_vec(&base(endpoint, false)).expect("json");
    let result = session.client.post(endpoint, &bytes).await;
    assert!(
        result.outcome.is_accepted(),
        "{}",
        result.outcome.describe()
    );
    assert_eq!(result.attempts.len(), 3);
    let ids: std::collections::BTreeSet<&str> = result
        .attempts
        .iter()
        .map(|a| a.request_id.as_str())
        .collect();
    assert_eq!(ids.len(), 3, "a fresh X-Request-ID per attempt");
    let delays = sleeper.delays();
    assert_eq!(delays.len(), 2);
    assert!(
        delays.iter().all(|d| *d >= Duration::from_secs(3)),
        "{delays:?}"
    );
    // The same record: every attempt carried the same record_id.
    let received = sim.received();
    assert_eq!(received.len(), 3);
    assert!(
        received
            .windows(2)
            .all(|w| w[0].record_id == w[1].record_id)
    );

    // 503 is retried up to a bound, then reported as not delivered (not in doubt).
    sim.configure(&[force(503, "SERVICE_UNAVAILABLE", 10, None)])
        .expect("configured");
    let result = session.client.post(endpoint, &bytes).await;
    match &result.outcome {
        Outcome::Failed { in_doubt, reason } => {
            assert!(!in_doubt);
            assert!(reason.contains("SERVICE_UNAVAILABLE"), "{reason}");
        }
        other => panic!("expected a failure, got {}", other.describe()),
    }
    assert_eq!(result.attempts.len(), 3);
    // Backoff grows: each wait is within its exponential band (50-100 % of base * 2^n).
    let d = sleeper.delays();
    assert!(d[2] <= Duration::from_millis(500) && d[3] <= Duration::from_millis(1000));
    sim.configure(&[]).expect("cleared");
    session.shutdown();
}

#[tokio::test]
async fn a_crash_between_send_and_journal_does_not_send_the_record_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("reporting-journal.jsonl");
    let (session, _) = simulated_session(system_clock(), Some(journal.clone()));
    let sim = session.simulator.clone().expect("simulator");
    let mut settings = session.settings.clone();
    settings
        .sources
        .insert(Endpoint::ViewResponseRequestNumber, Source::Null);
    settings
        .sources
        .insert(Endpoint::ViewResponseUnavailable, Source::Null);
    let session = ReportingSession::new(session.client.clone(), settings, session.holder, None);

    session.simulate_crash_after_next_send();
    let crashed = session
        .submit(Endpoint::ViewResponseRequestNumber, Mode::Initial)
        .await;
    assert!(crashed.is_err(), "the simulated crash surfaces");
    assert_eq!(sim.received().len(), 1, "the record reached the API");

    // A new process (a new session over the same journal) does not send it again.
    let again = ReportingSession::new(
        session.client.clone(),
        session.settings.clone(),
        session.holder,
        None,
    );
    let held = again
        .submit(Endpoint::ViewResponseRequestNumber, Mode::Initial)
        .await
        .expect("planned");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].outcome, "held_in_doubt", "{}", held[0].detail);
    assert_eq!(sim.received().len(), 1, "nothing was sent twice");

    // Accepted data is not resent either; a deliberate correction is.
    let first = again
        .submit(Endpoint::ViewResponseUnavailable, Mode::Initial)
        .await
        .expect("sent");
    assert_eq!(first[0].outcome, "accepted");
    let second = again
        .submit(Endpoint::ViewResponseUnavailable, Mode::Initial)
        .await
        .expect("planned");
    assert_eq!(second[0].outcome, "already_accepted");
    assert_eq!(sim.received().len(), 2);
    let correction = again
        .submit(Endpoint::ViewResponseRequestNumber, Mode::Resubmission)
        .await
        .expect("sent");
    assert_eq!(correction[0].outcome, "accepted");
    assert_eq!(correction[0].submission_reason, "resubmission");
    assert_eq!(correction[0].submission_status, "correction");
    assert_eq!(sim.received().len(), 3);

    // The journal names every state change, sending before the answer.
    let text = std::fs::read_to_string(&journal).expect("journal");
    let states: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("line")["state"].to_string())
        .collect();
    assert_eq!(
        states,
        [
            "\"sending\"",
            "\"sending\"",
            "\"accepted\"",
            "\"sending\"",
            "\"accepted\""
        ]
    );
    sim.clear();
}

#[tokio::test]
async fn the_midnight_guard_refuses_a_run_that_could_straddle_00_00_utc() {
    let err = check_day(t("2026-11-23T23:50:00Z"), Duration::from_secs(15 * 60))
        .expect_err("10 minutes left, 15 needed");
    let text = err.to_string();
    assert!(text.contains("only 10 min 0 s remain"), "{text}");
    assert!(text.contains("Wait 11 min 0 s"), "{text}");
    assert!(text.contains("start after 00:01 UTC"), "{text}");
    check_day(t("2026-11-23T10:00:00Z"), Duration::from_secs(15 * 60)).expect("plenty of time");

    // The session's guard uses its (injected) clock.
    let clock = FakeClock::at(t("2026-11-23T23:58:00Z"));
    let (mut session, _) = simulated_session(Arc::new(clock.clone()), None);
    assert!(session.day_start().is_err(), "refuses by default");
    // Told to wait (the simulator's setting), it names the new day's first second instead.
    session.settings.near_midnight = NearMidnight::Wait;
    assert_eq!(
        session.day_start().ok(),
        Some(DayStart::WaitUntil(t("2026-11-24T00:00:01Z")))
    );
    assert_eq!(
        session.time_until(t("2026-11-24T00:00:01Z")),
        Duration::from_secs(121)
    );
    clock.set(t("2026-11-24T00:01:00Z"));
    assert_eq!(session.day_start().ok(), Some(DayStart::Go));
    session.shutdown();
}

#[tokio::test]
async fn a_day_change_mid_run_is_reported_endpoint_by_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Three endpoints before midnight, three after.
    let clock = FakeClock::at(t("2026-11-23T23:59:50Z"));
    let (session, _) = simulated_session(
        Arc::new(clock.clone()),
        Some(dir.path().join("journal.jsonl")),
    );
    let mut settings = session.settings.clone();
    for e in Endpoint::ALL {
        settings.sources.insert(e, Source::Null);
    }
    let sim = session.simulator.clone().expect("simulator");
    let session = ReportingSession::new(session.client.clone(), settings, session.holder, None);
    for (i, e) in Endpoint::ALL.into_iter().enumerate() {
        if i == 3 {
            clock.set(t("2026-11-24T00:00:05Z"));
        }
        let sent = session.submit(e, Mode::Initial).await.expect("sent");
        assert!(sent.iter().all(|s| s.outcome == "accepted"));
    }
    let spread = session.day_check();
    assert!(spread.complete_day().is_none());
    assert_eq!(spread.days.len(), 2);
    let text = spread.describe();
    assert!(
        text.starts_with("INCOMPLETE: the UTC day changed"),
        "{text}"
    );
    assert!(
        text.contains("2026-11-23: ") && text.contains("2026-11-24: "),
        "{text}"
    );
    // The simulator's pipeline check agrees: no day has all six.
    assert!(sim.pipeline().iter().all(|d| !d.complete));
    sim.clear();
}

#[test]
fn exported_files_are_read_and_their_errors_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = Uuid::new_v4();
    let csv = dir.path().join("calc.csv");
    std::fs::write(
        &csv,
        format!(
            "holdernameGuid,calculation_type,array,value_code,calculation_start_date,calculation_end_date\n\
{g},multiple,eri,DBC,2026-11-23T09:00:00Z,2026-11-23T10:00:00Z\n\
{g},multiple,accrued,DCC,2026-11-23T09:00:00Z,2026-11-23T10:00:00Z\n"
        ),
    )
    .expect("written");
    match sources::load_file(Endpoint::ViewResponseCalculations, &csv).expect("read") {
        EndpointData::Calculations(list) => {
            assert_eq!(list.len(), 1);
            assert!(
                matches!(&list[0].1, Calculations::Multiple { eri, accrued } if eri.len() == 1 && accrued.len() == 1)
            );
        }
        other => panic!("{other:?}"),
    }
    let bad = dir.path().join("avail.csv");
    std::fs::write(
        &bad,
        format!(
            "holdernameGuid,start_date_ts,end_date_ts,unavail_scheduled,unavail_reason\n\
{g},2026-11-23T01:00:00Z,23/11/2026,true,upgrade\n"
        ),
    )
    .expect("written");
    let err = sources::load_file(Endpoint::ServiceAvailabilityFind, &bad)
        .expect_err("a bad date")
        .to_string();
    assert!(err.contains("avail.csv"), "{err}");
    assert!(err.contains("line 2, column end_date_ts"), "{err}");
    let json_file = dir.path().join("counts.json");
    std::fs::write(&json_file, format!("{{\"{g}\": {{\"contact_count\": 1}}}}")).expect("written");
    let err = sources::load_file(Endpoint::ViewResponseUnavailable, &json_file)
        .expect_err("counts missing")
        .to_string();
    assert!(err.contains("missingadmin_count"), "{err}");
}

#[test]
fn run_reporting_submits_to_all_six_endpoints_and_lists_each_submission() {
    let out = tempfile::tempdir().expect("tempdir");
    let output = common::bin()
        .args(["run", "--pack", "reporting", "--out"])
        .arg(out.path())
        .output()
        .expect("runs");
    let text = common::output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let dir = common::only_run_dir(out.path());
    let record: Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).expect("run.json"))
            .expect("json");
    let submissions = record["reporting"]["submissions"]
        .as_array()
        .expect("submissions");
    let pdf = common::pdf_text(&dir.join("evidence.pdf"));
    // Table cells wrap long paths; compare without white space.
    let squeezed: String = pdf.chars().filter(|c| !c.is_whitespace()).collect();
    for e in Endpoint::ALL {
        let accepted: Vec<&Value> = submissions
            .iter()
            .filter(|s| s["endpoint"] == json!(e.path()) && s["outcome"] == json!("accepted"))
            .collect();
        assert!(!accepted.is_empty(), "{e} accepted");
        for s in accepted {
            let id = s["record_id"].as_str().expect("id");
            assert!(squeezed.contains(id), "the PDF lists record {id} of {e}");
        }
        assert!(squeezed.contains(e.path()), "{e} in the PDF");
    }
    assert!(pdf.contains("all six endpoints were submitted on"), "{pdf}");
    assert_eq!(
        record["reporting"]["day_checks"][0]["complete"],
        json!(true)
    );
    // The journal is in the bundle.
    assert!(dir.join("reporting-journal.jsonl").exists());
}

#[test]
fn reconciliation_catches_a_planted_mismatch() {
    let out = tempfile::tempdir().expect("tempdir");
    let holder = common::pack().holdername_guid().to_owned();
    std::fs::write(
        out.path().join("request-number.json"),
        format!("{{\"{holder}\": 99}}"),
    )
    .expect("written");
    let target = out.path().join("target.toml");
    std::fs::write(
        &target,
        "[reporting.sources]\nview-response-request-number = \"file:request-number.json\"\n",
    )
    .expect("written");
    let output = common::bin()
        .args([
            "run",
            "--pack",
            "reporting",
            "--tags",
            "not @stub",
            "--target",
        ])
        .arg(&target)
        .arg("--out")
        .arg(out.path().join("reports"))
        .output()
        .expect("runs");
    let text = common::output_text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("RP-09"), "{text}");
    assert!(
        text.contains("view requests received (req_count): reported 99 but the harness observed 4"),
        "{text}"
    );
    let dir = common::only_run_dir(&out.path().join("reports"));
    let pdf = common::pdf_text(&dir.join("evidence.pdf"));
    assert!(pdf.contains("DIFFERS"), "the PDF flags the difference");
}

#[test]
fn submit_reporting_sends_the_minimal_set_checks_without_sending_and_names_missing_sources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let testpacks = common::root().join("testpacks");
    let output = common::bin()
        .current_dir(dir.path())
        .args(["submit-reporting", "--null", "--testpacks"])
        .arg(&testpacks)
        .output()
        .expect("runs");
    let text = common::output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for e in Endpoint::ALL {
        assert!(
            text.lines()
                .any(|l| l.starts_with(e.path()) && l.contains(": accepted - 202 ACCEPTED")),
            "{e}: {text}"
        );
    }
    assert!(
        text.contains("all six endpoints were submitted on"),
        "{text}"
    );

    let output = common::bin()
        .current_dir(dir.path())
        .args([
            "submit-reporting",
            "--null",
            "--dry-run",
            "--endpoint",
            "view-response-unavailable",
            "--testpacks",
        ])
        .arg(&testpacks)
        .output()
        .expect("runs");
    let text = common::output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("valid; not sent (dry run)"), "{text}");
    assert!(
        text.contains("\"contact_count\":0"),
        "the body is shown: {text}"
    );
    assert!(!text.contains("ACCEPTED"), "nothing sent: {text}");

    let output = common::bin()
        .current_dir(dir.path())
        .args(["submit-reporting", "--testpacks"])
        .arg(&testpacks)
        .output()
        .expect("runs");
    let text = common::output_text(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("[reporting.sources] service-availability-find"),
        "{text}"
    );
    // A rehearsal against the simulator leaves no journal behind.
    assert!(!dir.path().join("reporting-journal.jsonl").exists());
}

/// Response-time items the schema admits but the standards do not (not over 10 s, a negative
/// duration, a request outside the reported day) are refused with the item and the reason,
/// not sent.
#[test]
fn response_times_that_are_not_slow_negative_or_outside_the_period_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let testpacks = common::root().join("testpacks");
    let holder = common::pack().holdername_guid().to_owned();
    let today = model::utc_midnight(Utc::now());
    let at = |secs: i64| model::ts(&(today + chrono::Duration::seconds(secs)));
    std::fs::write(
        dir.path().join("slow.csv"),
        format!(
            "holdernameGuid,req_date_ts,resp_date_ts\n\
{holder},{},{}\n{holder},{},{}\n{holder},{},{}\n{holder},{},{}\n",
            at(60),
            at(65),
            at(120),
            at(100),
            at(-3600),
            at(-3580),
            at(300),
            at(312),
        ),
    )
    .expect("written");
    std::fs::write(
        dir.path().join("target.toml"),
        "[reporting.sources]\nview-response-response-time = \"file:slow.csv\"\n",
    )
    .expect("written");
    let output = common::bin()
        .current_dir(dir.path())
        .args([
            "submit-reporting",
            "--dry-run",
            "--target",
            "target.toml",
            "--endpoint",
            "view-response-response-time",
            "--testpacks",
        ])
        .arg(&testpacks)
        .output()
        .expect("runs");
    let text = common::output_text(&output);
    assert_ne!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("items[0]") && text.contains("NOT_OVER_10_SECONDS"),
        "{text}"
    );
    assert!(text.contains("took 5.000 s"), "{text}");
    assert!(
        text.contains("items[1]") && text.contains("NEGATIVE_DURATION"),
        "{text}"
    );
    assert!(
        text.contains("items[2]") && text.contains("OUTSIDE_REPORTING_PERIOD"),
        "{text}"
    );
    assert!(
        !text.contains("items[3]"),
        "the 12 s item in the period is fine: {text}"
    );
    assert!(!text.contains("valid; not sent"), "{text}");
}

/// Two sessions over one journal whose last line was torn (a process died mid-write): both
/// submit, and the journal reads back whole.
#[tokio::test]
async fn a_torn_journal_line_does_not_stop_later_submits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("reporting-journal.jsonl");
    std::fs::write(
        &journal,
        "{\"at\":\"2026-11-23T09:00:00Z\",\"key\":\"torn\",\"endpo",
    )
    .expect("write");
    let (session, _) = simulated_session(system_clock(), Some(journal.clone()));
    let mut settings = session.settings.clone();
    for e in [
        Endpoint::ViewResponseRequestNumber,
        Endpoint::ViewResponseUnavailable,
    ] {
        settings.sources.insert(e, Source::Null);
    }
    let first = ReportingSession::new(session.client.clone(), settings, session.holder, None);
    let sent = first
        .submit(Endpoint::ViewResponseRequestNumber, Mode::Initial)
        .await
        .expect("the first submit goes");
    assert_eq!(sent[0].outcome, "accepted", "{}", sent[0].detail);
    // A new process over the same journal.
    let second = ReportingSession::new(
        first.client.clone(),
        first.settings.clone(),
        first.holder,
        None,
    );
    let sent = second
        .submit(Endpoint::ViewResponseUnavailable, Mode::Initial)
        .await
        .expect("the second submit goes too");
    assert_eq!(sent[0].outcome, "accepted", "{}", sent[0].detail);
    let text = std::fs::read_to_string(&journal).expect("journal");
    assert_eq!(text.lines().count(), 4, "{text}");
    for line in text.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    session.shutdown();
}

/// A submission in flight when the run stops is in that run's evidence, as in doubt.
#[tokio::test]
async fn a_submission_in_flight_when_the_run_stops_is_evidenced_as_in_doubt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (session, _) = simulated_session(
        system_clock(),
        Some(dir.path().join("reporting-journal.jsonl")),
    );
    let mut settings = session.settings.clone();
    settings
        .sources
        .insert(Endpoint::ViewResponseRequestNumber, Source::Null);
    let reporting = ReportingSession::new(session.client.clone(), settings, session.holder, None);
    let log = pdp_harness::record::runlog::RunLog::create(dir.path()).expect("log");
    let header = pdp_harness::record::synthetic::record(1).header;
    log.append(&pdp_harness::record::events::LogEvent::RunStarted(
        Box::new(header),
    ))
    .expect("header");
    reporting.attach_log(log);
    // The process "dies" after sending, before the answer is journaled or logged.
    reporting.simulate_crash_after_next_send();
    assert!(
        reporting
            .submit(Endpoint::ViewResponseRequestNumber, Mode::Initial)
            .await
            .is_err()
    );
    let record = pdp_harness::evidence::load_record(dir.path()).expect("record");
    let subs = &record.reporting.submissions;
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(subs[0].outcome, "in_doubt", "{}", subs[0].detail);
    assert_eq!(subs[0].endpoint, Endpoint::ViewResponseRequestNumber.path());
    session.shutdown();
}

/// The `Retry-After` steps, which no built-in feature uses since RP-15 answers as the live
/// reporting API does: in an organisation's own feature, a 429 with `Retry-After 1` is waited
/// out before the retry, and a step claiming a longer wait than was made fails, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feature_forcing_retry_after_sees_the_wait_honoured_and_no_longer() {
    use pdp_harness::record::run::Status;
    use pdp_harness::runner::{self, Pack, RunOptions, writer::Collect};
    let features = tempfile::tempdir().expect("tempdir");
    let scenario = |case: &str, secs: &str| {
        format!(
            r#"
  @case:{case} @stub
  Scenario: {case} a correction refused once with Retry-After 1
    Given the reporting API will answer "/view-response/request-number" with 429 TOO_MANY_REQUESTS and Retry-After 1 for the next 1 call
    When the organisation resubmits its reporting data to "/view-response/request-number" as a correction
    Then the record is accepted after 2 attempts, waiting at least {secs} before each retry
"#
        )
    };
    std::fs::write(
        features.path().join("retry_after.feature"),
        format!(
            "@reporting\nFeature: Retry-After\n{}{}",
            scenario("RA-01", "1 second"),
            scenario("RA-02", "2 seconds")
        ),
    )
    .expect("write the feature");
    let out = tempfile::tempdir().expect("tempdir");
    let env = common::environment(pdp_harness::provider::Faults::none()).await;
    let options = RunOptions {
        features_dir: features.path().to_owned(),
        ..common::run_options(
            Pack::Reporting,
            out.path(),
            pdp_harness::harness::config::TargetConfig::default(),
        )
    };
    let outcome = runner::run(
        env.clone(),
        &options,
        Box::new(Collect(Arc::new(std::sync::Mutex::new(Vec::new())))),
    )
    .await;
    env.shutdown();
    let record = outcome.expect("the run completes").record;
    assert_eq!(
        common::scenario(&record, "RA-01").status,
        Status::Passed,
        "{:#?}",
        common::statuses(&record)
    );
    let (step, message) = common::failed_step(&record, "RA-02");
    assert!(step.contains("waiting at least 2 seconds"), "{step}");
    assert!(
        message.contains("expected every retry to wait at least 2 s (Retry-After), one waited 1"),
        "{message}"
    );
}
