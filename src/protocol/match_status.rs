//! A registration's match status and the deletion reasons of `DELETE /rreguri` (rreguri-v1_2
//! and the MaPS stub v2.0 rules), typed once for the C&A, the reference provider and the audit.

use serde::{Deserialize, Serialize};

/// `match_status` of a registered PeI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MatchStatus {
    #[serde(rename = "match-yes")]
    Yes,
    #[serde(rename = "match-possible")]
    Possible,
}

impl MatchStatus {
    pub const fn wire(self) -> &'static str {
        match self {
            MatchStatus::Yes => "match-yes",
            MatchStatus::Possible => "match-possible",
        }
    }

    /// The status a wire string names; `None` for any other (the C&A refuses those).
    pub fn from_wire(s: &str) -> Option<MatchStatus> {
        [MatchStatus::Yes, MatchStatus::Possible]
            .into_iter()
            .find(|m| m.wire() == s)
    }
}

impl std::fmt::Display for MatchStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire())
    }
}

/// Compared with what a step or file holds as text (`"match-yes"`).
impl PartialEq<str> for MatchStatus {
    fn eq(&self, other: &str) -> bool {
        self.wire() == other
    }
}

impl PartialEq<&str> for MatchStatus {
    fn eq(&self, other: &&str) -> bool {
        self.wire() == *other
    }
}

/// `deletion_reason` of `DELETE /rreguri/{resource_id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeletionReason {
    #[serde(rename = "match-no")]
    MatchNo,
    #[serde(rename = "match-timeout")]
    MatchTimeout,
    #[serde(rename = "match-withdrawn")]
    MatchWithdrawn,
    #[serde(rename = "asset-removed")]
    AssetRemoved,
}

impl DeletionReason {
    pub const ALL: [DeletionReason; 4] = [
        DeletionReason::MatchNo,
        DeletionReason::MatchTimeout,
        DeletionReason::MatchWithdrawn,
        DeletionReason::AssetRemoved,
    ];

    pub const fn wire(self) -> &'static str {
        match self {
            DeletionReason::MatchNo => "match-no",
            DeletionReason::MatchTimeout => "match-timeout",
            DeletionReason::MatchWithdrawn => "match-withdrawn",
            DeletionReason::AssetRemoved => "asset-removed",
        }
    }

    pub fn from_wire(s: &str) -> Option<DeletionReason> {
        DeletionReason::ALL.into_iter().find(|r| r.wire() == s)
    }

    /// Whether this reason may remove a PeI of `status` (MaPS stub v2.0 rules): a match
    /// that was never confirmed is rejected or times out, a confirmed one is withdrawn, and
    /// either may go with its asset.
    pub fn may_remove(self, status: MatchStatus) -> bool {
        match self {
            DeletionReason::MatchNo | DeletionReason::MatchTimeout => {
                status == MatchStatus::Possible
            }
            DeletionReason::MatchWithdrawn => status == MatchStatus::Yes,
            DeletionReason::AssetRemoved => true,
        }
    }
}

impl std::fmt::Display for DeletionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire())
    }
}

/// Which stored match status each deletion reason may remove, on wire strings (a match
/// update file's): `None` for an unknown reason, `Some(false)` for a status it may not remove
/// (an unknown status included).
pub fn deletion_allowed(reason: &str, match_status: &str) -> Option<bool> {
    let reason = DeletionReason::from_wire(reason)?;
    Some(MatchStatus::from_wire(match_status).is_some_and(|s| reason.may_remove(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stub's table, on wire strings, and serde spelling each value as `wire()` does.
    #[test]
    fn deletion_rules_and_wire_strings() {
        let table = [
            ("match-no", "match-possible", Some(true)),
            ("match-no", "match-yes", Some(false)),
            ("match-timeout", "match-possible", Some(true)),
            ("match-timeout", "match-yes", Some(false)),
            ("match-withdrawn", "match-yes", Some(true)),
            ("match-withdrawn", "match-possible", Some(false)),
            ("asset-removed", "match-yes", Some(true)),
            ("asset-removed", "match-possible", Some(true)),
            ("asset-removed", "match-maybe", Some(false)),
            ("gone", "match-yes", None),
        ];
        for (reason, status, allowed) in table {
            assert_eq!(
                deletion_allowed(reason, status),
                allowed,
                "{reason} {status}"
            );
        }
        for r in DeletionReason::ALL {
            assert_eq!(serde_json::to_value(r).ok(), Some(r.wire().into()));
        }
        for m in [MatchStatus::Yes, MatchStatus::Possible] {
            assert_eq!(serde_json::to_value(m).ok(), Some(m.wire().into()));
            assert_eq!(MatchStatus::from_wire(m.wire()), Some(m));
        }
    }
}
