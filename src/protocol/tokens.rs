//! Grant types and token types of the C&A's `/token` (token-v1_2.yaml), with their wire
//! strings: typed once so the C&A, the dashboard and the reference provider cannot disagree.

use serde::{Deserialize, Serialize};

pub const GRANT_JWT_BEARER: &str = GrantType::JwtBearer.wire();
pub const GRANT_UMA_TICKET: &str = GrantType::UmaTicket.wire();
pub const TOKEN_TYPE_PAT: &str = TokenType::Pat.wire();
pub const TOKEN_TYPE_RPT: &str = TokenType::Rpt.wire();

/// The claim token format; token-v1_2.yaml spells it `pension_dashboad_rqp` (sic), which the
/// C&A accepts too ([`RQP_FORMAT_TYPO`]).
pub const RQP_FORMAT: &str = "pension_dashboard_rqp";
pub const RQP_FORMAT_TYPO: &str = "pension_dashboad_rqp";

/// The issuer of the C&A's own tokens (PATs, tickets, RPTs).
pub const CAS_ISSUER: &str = "pdp-harness-cas";
/// The issuer of the dashboard's RQP claim tokens.
pub const DASHBOARD_ISSUER: &str = "pdp-harness-dashboard";

/// `grant_type` of `/token`: what is being exchanged for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantType {
    /// An assertion (a find token, or the provider's own) for a PAT.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer,
    /// A permission ticket and an RQP claim token for an RPT.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:uma-ticket")]
    UmaTicket,
}

impl GrantType {
    pub const fn wire(self) -> &'static str {
        match self {
            GrantType::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            GrantType::UmaTicket => "urn:ietf:params:oauth:grant-type:uma-ticket",
        }
    }

    /// The grant type a wire string names; `None` for any other.
    pub fn from_wire(s: &str) -> Option<GrantType> {
        [GrantType::JwtBearer, GrantType::UmaTicket]
            .into_iter()
            .find(|g| g.wire() == s)
    }
}

/// `token_type` of what the C&A issues (in its answer and in the token's own claims).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    #[serde(rename = "pension_dashboard_pat")]
    Pat,
    #[serde(rename = "pension_dashboard_rpt")]
    Rpt,
    #[serde(rename = "pension_dashboard_ticket")]
    Ticket,
}

impl TokenType {
    pub const fn wire(self) -> &'static str {
        match self {
            TokenType::Pat => "pension_dashboard_pat",
            TokenType::Rpt => "pension_dashboard_rpt",
            TokenType::Ticket => "pension_dashboard_ticket",
        }
    }
}

impl std::fmt::Display for TokenType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde and `wire()` spell every variant the same way, so a token the C&A signs reads
    /// back as what it compares.
    #[test]
    fn serde_and_wire_strings_agree() {
        for g in [GrantType::JwtBearer, GrantType::UmaTicket] {
            assert_eq!(serde_json::to_value(g).ok(), Some(g.wire().into()));
            assert_eq!(GrantType::from_wire(g.wire()), Some(g));
        }
        for t in [TokenType::Pat, TokenType::Rpt, TokenType::Ticket] {
            assert_eq!(serde_json::to_value(t).ok(), Some(t.wire().into()));
        }
        assert_eq!(GrantType::from_wire("password"), None);
    }
}
