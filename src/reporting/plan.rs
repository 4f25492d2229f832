//! From what there is to report to request bodies: data records where there is data, the
//! spec's null-submission variant where there is none and the endpoint has one, and several
//! records sharing one `submission_id` where the array limits or the 1 MiB body limit force a
//! split. Apart from the bodies' types (`model.rs`), which say what one record is.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Endpoint;
use super::model::{
    Calculations, EndpointData, Header, MAX_BODY_BYTES, MAX_CALCULATIONS, MAX_HOLDERS,
    MAX_PERIODS_PER_HOLDER, MAX_RESPONSE_TIMES, ModelError, Outage, Payload, Record,
    SubmissionReason, SubmissionStatus,
};

/// How records are built: the period, the status, and whether this is a deliberate
/// resubmission (which is always sent as `resubmission` with status `correction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    pub period_start: DateTime<Utc>,
    pub status: SubmissionStatus,
    pub resubmission: bool,
}

/// Split `items` into chunks of at most `max` (at least one chunk, possibly empty).
fn chunks<T: Clone>(items: &[T], max: usize) -> Vec<Vec<T>> {
    if items.is_empty() {
        return vec![Vec::new()];
    }
    items.chunks(max.max(1)).map(<[T]>::to_vec).collect()
}

/// Turn what there is to report into request bodies (see the module comment).
pub fn plan(
    endpoint: Endpoint,
    data: &EndpointData,
    opts: PlanOptions,
) -> Result<Vec<Record>, ModelError> {
    if !data.fits(endpoint) {
        return Err(ModelError::Invalid {
            endpoint,
            message: "the data given is for another endpoint".to_owned(),
        });
    }
    let (reason, status) = if opts.resubmission {
        (SubmissionReason::Resubmission, SubmissionStatus::Correction)
    } else {
        (SubmissionReason::Initial, opts.status)
    };
    let header = |submission_id: Option<Uuid>, reason: SubmissionReason| Header {
        record_id: Uuid::new_v4(),
        submission_id,
        submission_reason: reason,
        submission_status: status,
        reporting_period_start: opts.period_start,
    };
    let null_reason = SubmissionReason::Null;
    let mut out = Vec::new();
    let record = |header: Header, payload: Payload| Record {
        endpoint,
        header,
        payload,
    };
    match data {
        EndpointData::Availability(holders) => {
            let empty: Vec<Uuid> = holders
                .iter()
                .filter(|(_, o)| o.is_empty())
                .map(|(g, _)| *g)
                .collect();
            let with: Vec<&(Uuid, Vec<Outage>)> =
                holders.iter().filter(|(_, o)| !o.is_empty()).collect();
            if !with.is_empty() {
                let batches = availability_batches(&with);
                let sid = Uuid::new_v4();
                for maps in batches {
                    out.push(record(
                        header(Some(sid), reason),
                        Payload::Availability(maps),
                    ));
                }
            }
            if !empty.is_empty() {
                // A null submission carries no batch id (digest 8.2): each part stands alone.
                for part in chunks(&empty, MAX_HOLDERS) {
                    out.push(record(
                        header(None, null_reason),
                        Payload::AvailabilityNull(part),
                    ));
                }
            }
        }
        EndpointData::RequestNumber(list) => {
            // A lone record per holder: submission_id null, as the yaml's examples for #3.
            for (g, n) in list {
                out.push(record(
                    header(None, reason),
                    Payload::RequestNumber {
                        holder: *g,
                        req_count: *n,
                    },
                ));
            }
        }
        EndpointData::ResponseTimes(list) => {
            for (g, items) in list {
                if items.is_empty() {
                    out.push(record(
                        header(None, null_reason),
                        Payload::HolderNull { holder: *g },
                    ));
                    continue;
                }
                let sid = Uuid::new_v4();
                for part in chunks(items, MAX_RESPONSE_TIMES) {
                    out.push(record(
                        header(Some(sid), reason),
                        Payload::ResponseTimes {
                            holder: *g,
                            items: part,
                        },
                    ));
                }
            }
        }
        EndpointData::Calculations(list) => {
            for (g, calcs) in list {
                if calcs.is_empty() {
                    out.push(record(
                        header(None, null_reason),
                        Payload::HolderNull { holder: *g },
                    ));
                    continue;
                }
                let sid = Uuid::new_v4();
                let parts: Vec<Calculations> = match calcs {
                    Calculations::Single(items) => chunks(items, MAX_CALCULATIONS)
                        .into_iter()
                        .map(Calculations::Single)
                        .collect(),
                    Calculations::Multiple { eri, accrued } => {
                        let e = chunks(eri, MAX_CALCULATIONS);
                        let a = chunks(accrued, MAX_CALCULATIONS);
                        (0..e.len().max(a.len()))
                            .map(|i| Calculations::Multiple {
                                eri: e.get(i).cloned().unwrap_or_default(),
                                accrued: a.get(i).cloned().unwrap_or_default(),
                            })
                            .collect()
                    }
                };
                for calculations in parts {
                    out.push(record(
                        header(Some(sid), reason),
                        Payload::Calculations {
                            holder: *g,
                            calculations,
                        },
                    ));
                }
            }
        }
        EndpointData::Unavailable(list) => {
            // The yaml's examples give #6 a submission_id; one per record.
            for (g, counts) in list {
                out.push(record(
                    header(Some(Uuid::new_v4()), reason),
                    Payload::Unavailable {
                        holder: *g,
                        counts: *counts,
                    },
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(ModelError::Invalid {
            endpoint,
            message: "nothing to submit: no holdernameGuid was given".to_owned(),
        });
    }
    Ok(out)
}

/// Approximate serialised size of one outage (for the 1 MiB budget).
fn outage_bytes(o: &Outage) -> usize {
    // Two timestamps (24 each), the boolean, the reason, keys and punctuation.
    110 + o.unavail_reason.len()
}

/// Pack holders' periods into request bodies: ≤ 100 periods per map (a holder with more is
/// split over several maps, never two in one body), ≤ 667 maps and under 1 MiB per body.
fn availability_batches(holders: &[&(Uuid, Vec<Outage>)]) -> Vec<Vec<(Uuid, Vec<Outage>)>> {
    const OVERHEAD: usize = 400;
    let budget = MAX_BODY_BYTES - 16 * 1024;
    let mut batches: Vec<Vec<(Uuid, Vec<Outage>)>> = Vec::new();
    let mut current: Vec<(Uuid, Vec<Outage>)> = Vec::new();
    let mut size = OVERHEAD;
    for (g, outages) in holders {
        for part in outages.chunks(MAX_PERIODS_PER_HOLDER) {
            let part_size = 50 + part.iter().map(outage_bytes).sum::<usize>();
            let clash = current.iter().any(|(h, _)| h == g);
            if !current.is_empty()
                && (clash || current.len() >= MAX_HOLDERS || size + part_size > budget)
            {
                batches.push(std::mem::take(&mut current));
                size = OVERHEAD;
            }
            current.push((*g, part.to_vec()));
            size += part_size;
        }
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// A null submission for an endpoint that has one; `None` where the spec has no null variant.
pub fn null_submission(
    endpoint: Endpoint,
    holders: &[Uuid],
    period_start: DateTime<Utc>,
    status: SubmissionStatus,
) -> Option<Vec<Record>> {
    if !endpoint.allows_null_submission() || holders.is_empty() {
        return None;
    }
    let header = || Header {
        record_id: Uuid::new_v4(),
        submission_id: None,
        submission_reason: SubmissionReason::Null,
        submission_status: status,
        reporting_period_start: period_start,
    };
    Some(match endpoint {
        Endpoint::ServiceAvailabilityFind | Endpoint::ServiceAvailabilityView => {
            chunks(holders, MAX_HOLDERS)
                .into_iter()
                .map(|part| Record {
                    endpoint,
                    header: header(),
                    payload: Payload::AvailabilityNull(part),
                })
                .collect()
        }
        _ => holders
            .iter()
            .map(|g| Record {
                endpoint,
                header: header(),
                payload: Payload::HolderNull { holder: *g },
            })
            .collect(),
    })
}
