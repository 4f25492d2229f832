//! Rules the standards state for reporting data that the reporting API's schema admits: the
//! harness refuses such a record before sending it, naming the item and the reason.

use super::model::{self, Record};
use super::validate::FieldError;

/// Response-time items the reporting API's schema admits but the standards do not: a response
/// that did not exceed 10 seconds, a negative duration, or a request outside the reported
/// (daily) period. Refused with the item and the reason, so an export's mistake is not sent.
pub fn response_time_errors(record: &Record) -> Vec<FieldError> {
    let model::Payload::ResponseTimes { items, .. } = &record.payload else {
        return Vec::new();
    };
    let start = record.header.reporting_period_start;
    let end = start + chrono::Duration::days(1);
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let took = item.resp_date_ts - item.req_date_ts;
        let reason = if took < chrono::Duration::zero() {
            Some((
                "NEGATIVE_DURATION",
                format!(
                    "the response ({}) is before the request ({})",
                    model::ts(&item.resp_date_ts),
                    model::ts(&item.req_date_ts)
                ),
            ))
        } else if took <= chrono::Duration::seconds(10) {
            Some((
                "NOT_OVER_10_SECONDS",
                format!(
                    "took {:.3} s: only responses that exceeded 10 seconds are reported",
                    took.num_milliseconds() as f64 / 1000.0
                ),
            ))
        } else if item.req_date_ts < start || item.req_date_ts >= end {
            Some((
                "OUTSIDE_REPORTING_PERIOD",
                format!(
                    "the request ({}) is outside the reported period {} to {}",
                    model::ts(&item.req_date_ts),
                    model::ts(&start),
                    model::ts(&end)
                ),
            ))
        } else {
            None
        };
        if let Some((code, message)) = reason {
            errors.push(FieldError {
                field: format!("items[{i}]"),
                code: code.to_owned(),
                message,
            });
        }
    }
    errors
}
