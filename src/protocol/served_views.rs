//! What a provider served at its view endpoint, as its reporting counts it: the record the
//! reference provider keeps of each view request and the reporting data derived from it. Here,
//! below both, so the provider records what reporting reads without importing reporting.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a view response carried that reporting counts (data items 2.004-2.006, 2.301, 2.401).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewFlags {
    /// Arrangements with 2.004 "contact the scheme" (`contactScheme`, as MaPS's dashboard
    /// schema names it).
    pub contact: u64,
    /// Arrangements with 2.005 (`administrativeDetailsNotAvailable`).
    pub missing_admin: u64,
    /// Arrangements with 2.006 (`temporarySystemError`).
    pub temp_error: u64,
    /// Unavailable codes of ERI components (2.301), e.g. "DBC", "ANO".
    pub eri_unavailable: Vec<String>,
    /// Unavailable codes of accrued (AP) components (2.401).
    pub accrued_unavailable: Vec<String>,
}

/// Read the flags from view data `{"arrangements": [...]}` (the harness's documented field
/// names, as the reference provider writes them).
pub fn flags_of(view_data: &Value) -> ViewFlags {
    let mut f = ViewFlags::default();
    let empty = Vec::new();
    for a in view_data["arrangements"].as_array().unwrap_or(&empty) {
        let set = |k: &str| a[k].as_bool() == Some(true);
        f.contact += u64::from(set("contactScheme"));
        f.missing_admin += u64::from(set("administrativeDetailsNotAvailable"));
        f.temp_error += u64::from(set("temporarySystemError"));
        for ill in a["benefitIllustrations"].as_array().unwrap_or(&empty) {
            for c in ill["illustrationComponents"].as_array().unwrap_or(&empty) {
                let Some(code) = c["unavailableReason"].as_str() else {
                    continue;
                };
                match c["illustrationType"].as_str() {
                    Some("ERI") => f.eri_unavailable.push(code.to_owned()),
                    Some("AP") => f.accrued_unavailable.push(code.to_owned()),
                    _ => {}
                }
            }
        }
    }
    f
}

/// One view request as the provider served it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedView {
    pub received_at: DateTime<Utc>,
    pub responded_at: DateTime<Utc>,
    pub status: u16,
    pub asset_guid: String,
    /// Only for responses with view data (200).
    pub flags: ViewFlags,
}
