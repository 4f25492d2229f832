//! The find and view wire contracts, kept in one place.
//!
//! The official find and view schemas of technical standards v2.0 (`find-requests v1_3.yaml`,
//! `view-data v1_2.yaml` and the data standards' token payload schemas) are published by PDP but
//! were not available to us. This module holds the *documented default* described in the digest
//! (section 9) and lets an organisation override every name and shape from the `[contract]`
//! table of its target file, so it can match its copy of the official schemas without a code
//! change. The harness (finder, dashboard) and the reference provider both build and parse
//! messages through this module only, so the two sides can never drift apart.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Everything configurable about the find and view endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WireContract {
    /// A short name shown in the evidence, e.g. "documented default" or "ACME copy of TS v2.0".
    pub name: String,
    pub find: FindContract,
    pub view: ViewContract,
    /// Lifetimes of the PATs the simulated C&A issues (README, "The PAT model").
    pub pat: PatContract,
    /// The view data token payload schema judging view data: the project's own (built in)
    /// unless this names a file, e.g. the organisation's copy of the official
    /// `view_data_token_payload v1.3.json`. Relative to the target file.
    pub view_data_schema: Option<std::path::PathBuf>,
    /// Turn warnings (where the public sources disagree) into failures.
    pub strict: bool,
}

impl Default for WireContract {
    fn default() -> Self {
        WireContract {
            name: "pdp-harness documented default (digest section 9)".to_owned(),
            find: FindContract::default(),
            view: ViewContract::default(),
            pat: PatContract::default(),
            view_data_schema: None,
            strict: false,
        }
    }
}

/// How the find request token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindBodyMode {
    /// JSON body `{"<token_field>": "<JWS>"}` (default).
    Token,
    /// The raw claims as the JSON body, unsigned (only for organisations whose schema says so).
    Claims,
    /// `Authorization: Bearer <JWS>` and an empty JSON object body.
    Bearer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FindContract {
    pub method: String,
    /// Path appended to the find base URL.
    pub path: String,
    pub request_id_header: String,
    pub body_mode: FindBodyMode,
    /// Body field carrying the token in `token` mode.
    pub token_field: String,
    /// `iss` of find request tokens (the yaml example's pension finder issuer).
    pub issuer: String,
    pub token_lifetime_secs: i64,
    /// `aud` of find request tokens. Absent: the C&A's token-service URL (its public base URL
    /// and `/token`), as the MaPS stub's example user assertion is addressed to the C&A's token
    /// service (`https://…/am/oauth2`): the find token is the assertion the C&A takes at
    /// `/token`. `"holdername"`: the provider's holdername GUID (this harness's earlier
    /// default). Any other value is used as it is.
    pub audience: Option<String>,
    /// Send `nbf` (the stub's example has it).
    pub include_nbf: bool,
    /// Send `name`, a 40-hex-digit hash of the member's identity (the stub's example has one).
    pub include_name: bool,
    /// Send a `jti` (the stub's example has none, so a provider must not depend on it).
    pub include_jti: bool,
    /// Status codes that count as an acknowledgement.
    pub accepted_statuses: Vec<u16>,
    pub fields: FindFieldNames,
}

/// `[contract.find] audience = "holdername"`: find tokens addressed to the holdername GUID.
pub const AUDIENCE_HOLDERNAME: &str = "holdername";

/// How long the simulated C&A's PATs live (`[contract.pat]`). PDP's lifetimes are not
/// public; a short value rehearses a provider's PAT refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatContract {
    /// A PAT issued for a find token (the user assertion).
    pub find_pat_lifetime_secs: u64,
    /// A PAT issued for the provider's own signed assertion (the PAT refresh route).
    pub refreshed_pat_lifetime_secs: u64,
}

impl Default for PatContract {
    fn default() -> Self {
        PatContract {
            find_pat_lifetime_secs: 3600,
            refreshed_pat_lifetime_secs: 3600,
        }
    }
}

impl Default for FindContract {
    fn default() -> Self {
        FindContract {
            method: "POST".to_owned(),
            path: "/find".to_owned(),
            request_id_header: "X-Request-ID".to_owned(),
            body_mode: FindBodyMode::Token,
            token_field: "find_request_token".to_owned(),
            issuer: "http://pensionsdashboard.org/pfsissuer".to_owned(),
            token_lifetime_secs: 60,
            audience: None,
            include_nbf: true,
            include_name: true,
            include_jti: false,
            accepted_statuses: vec![202],
            fields: FindFieldNames::default(),
        }
    }
}

/// The `aud` of find tokens under the `[contract.find] audience` setting `audience`.
pub fn find_audience(audience: Option<&str>, cas_base_url: &str, holdername_guid: &str) -> String {
    match audience {
        None => cas_token_url(cas_base_url),
        Some(AUDIENCE_HOLDERNAME) => holdername_guid.to_owned(),
        Some(other) => other.to_owned(),
    }
}

/// The C&A's token-service URL: the `aud` of find tokens by default and of a provider's own
/// PAT assertions.
pub fn cas_token_url(cas_base_url: &str) -> String {
    format!("{}/token", cas_base_url.trim_end_matches('/'))
}

/// Claim names of the find data inside the find request token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FindFieldNames {
    pub given_name: String,
    pub family_name: String,
    pub previous_family_names: String,
    pub date_of_birth: String,
    pub national_insurance_number: String,
    pub address: String,
    pub previous_addresses: String,
    pub email: String,
    pub mobile_number: String,
    /// Names of the address lines, in order (up to five).
    pub address_lines: Vec<String>,
    pub postcode: String,
    pub value: String,
    pub verified: String,
}

impl Default for FindFieldNames {
    fn default() -> Self {
        FindFieldNames {
            given_name: "givenName".to_owned(),
            family_name: "familyName".to_owned(),
            previous_family_names: "previousFamilyNames".to_owned(),
            date_of_birth: "dateOfBirth".to_owned(),
            national_insurance_number: "nationalInsuranceNumber".to_owned(),
            address: "address".to_owned(),
            previous_addresses: "previousAddresses".to_owned(),
            email: "email".to_owned(),
            mobile_number: "mobileNumber".to_owned(),
            address_lines: (1..=5).map(|i| format!("addressLine{i}")).collect(),
            postcode: "postcode".to_owned(),
            value: "value".to_owned(),
            verified: "verified".to_owned(),
        }
    }
}

/// The form of the `WWW-Authenticate` challenge on a view request without a valid RPT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChallengeForm {
    /// Auth scheme token; UMA 2.0 §3.2 says `UMA`. Empty means none (as MaPS's emulator emits).
    pub scheme: String,
    pub realm: String,
    pub as_uri_param: String,
    pub ticket_param: String,
}

impl Default for ChallengeForm {
    fn default() -> Self {
        ChallengeForm {
            scheme: "UMA".to_owned(),
            realm: "pensions-dashboards".to_owned(),
            as_uri_param: "as_uri".to_owned(),
            ticket_param: "ticket".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewContract {
    pub method: String,
    /// Path appended to the view base URL; `{assetGuid}` is replaced.
    pub path_template: String,
    /// Query string sent with every view request (MaPS dashboard code sends `scope=owner`).
    pub query: String,
    pub request_id_header: String,
    pub challenge: ChallengeForm,
    /// Field of the 200 body carrying the view data token.
    pub token_field: String,
    /// Claim of the view data token carrying the view data.
    pub view_data_claim: String,
    /// Provider-hosted view token keys (not how the live service works: MaPS's dashboard looks
    /// them up at the CDA's `/jwk_uri`). Setting either of these verifies view data tokens
    /// against the provider's own JWKS: `jwks_path` appended to the view base URL, or
    /// `jwks_url`. Neither set: against the simulated C&A's `/jwk_uri`, holding the keys of
    /// `[provider] view_token_keys`.
    pub jwks_path: Option<String>,
    pub jwks_url: Option<String>,
    /// Resource scopes the provider requests a ticket for at `/perm`.
    pub perm_scopes: Vec<String>,
    /// The first view call, before the dashboard holds an RPT: `"empty-bearer"` sends
    /// `Authorization: Bearer` with no credential, as MaPS's .NET dashboard does; `"omit"`
    /// sends no `Authorization` header.
    pub first_call_authorization: FirstCallAuthorization,
}

/// The `Authorization` header of the dashboard's first view call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FirstCallAuthorization {
    /// `Authorization: Bearer` with an empty credential (MaPS's dashboard, RPT still null).
    #[default]
    EmptyBearer,
    /// No `Authorization` header.
    Omit,
}

impl Default for ViewContract {
    fn default() -> Self {
        ViewContract {
            method: "GET".to_owned(),
            path_template: "/view-data/{assetGuid}".to_owned(),
            query: "scope=owner".to_owned(),
            request_id_header: "X-Request-ID".to_owned(),
            challenge: ChallengeForm::default(),
            token_field: "view_data_token".to_owned(),
            view_data_claim: "view_data".to_owned(),
            jwks_path: None,
            jwks_url: None,
            perm_scopes: vec!["value".to_owned(), "owner".to_owned()],
            first_call_authorization: FirstCallAuthorization::EmptyBearer,
        }
    }
}

/// A postal address as the find data carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// addressLine1..addressLine5, in order.
    pub lines: Vec<String>,
    pub postcode: String,
}

/// The find data of a persona, as it travels in the find request token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FindData {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub previous_family_names: Vec<String>,
    pub date_of_birth: Option<String>,
    pub national_insurance_number: Option<String>,
    pub address: Option<Address>,
    pub previous_addresses: Vec<Address>,
    pub email: Option<String>,
    pub mobile_number: Option<String>,
}

impl FindContract {
    /// The `aud` find tokens carry, and the C&A and a provider expect: see
    /// [`FindContract::audience`]. `cas_base_url` is the C&A's public base URL.
    pub fn expected_audience(&self, cas_base_url: &str, holdername_guid: &str) -> String {
        find_audience(self.audience.as_deref(), cas_base_url, holdername_guid)
    }

    /// The find data as JSON claims, named as this contract says. Identity data (names, date
    /// of birth, current address) is marked verified; volunteered data is not.
    pub fn find_claims(&self, data: &FindData) -> Map<String, Value> {
        let f = &self.fields;
        let scalar = |v: &str, verified: bool| {
            let mut m = Map::new();
            m.insert(f.value.clone(), Value::String(v.to_owned()));
            m.insert(f.verified.clone(), Value::Bool(verified));
            Value::Object(m)
        };
        let mut out = Map::new();
        let mut put = |name: &str, v: Option<Value>| {
            if let Some(v) = v {
                out.insert(name.to_owned(), v);
            }
        };
        put(
            &f.given_name,
            data.given_name.as_deref().map(|v| scalar(v, true)),
        );
        put(
            &f.family_name,
            data.family_name.as_deref().map(|v| scalar(v, true)),
        );
        put(
            &f.date_of_birth,
            data.date_of_birth.as_deref().map(|v| scalar(v, true)),
        );
        put(
            &f.national_insurance_number,
            data.national_insurance_number
                .as_deref()
                .map(|v| scalar(v, false)),
        );
        put(
            &f.address,
            data.address.as_ref().map(|a| self.address_json(a, true)),
        );
        put(
            &f.previous_family_names,
            Some(Value::Array(
                data.previous_family_names
                    .iter()
                    .map(|n| scalar(n, false))
                    .collect(),
            )),
        );
        put(
            &f.previous_addresses,
            Some(Value::Array(
                data.previous_addresses
                    .iter()
                    .map(|a| self.address_json(a, false))
                    .collect(),
            )),
        );
        put(&f.email, data.email.as_deref().map(|v| scalar(v, false)));
        put(
            &f.mobile_number,
            data.mobile_number.as_deref().map(|v| scalar(v, false)),
        );
        out
    }

    fn address_json(&self, a: &Address, verified: bool) -> Value {
        let f = &self.fields;
        let mut m = Map::new();
        for (name, line) in f.address_lines.iter().zip(a.lines.iter()) {
            m.insert(name.clone(), Value::String(line.clone()));
        }
        m.insert(f.postcode.clone(), Value::String(a.postcode.clone()));
        m.insert(f.verified.clone(), Value::Bool(verified));
        Value::Object(m)
    }

    /// Read find data back out of claims named as this contract says. Missing items are `None`:
    /// no find data item is mandatory (data standards v1.2).
    pub fn parse_find_claims(&self, claims: &Map<String, Value>) -> FindData {
        let f = &self.fields;
        let scalar = |v: Option<&Value>| -> Option<String> {
            match v? {
                Value::String(s) => Some(s.clone()),
                Value::Object(m) => m.get(&f.value)?.as_str().map(str::to_owned),
                _ => None,
            }
        };
        let address = |v: &Value| -> Option<Address> {
            let m = v.as_object()?;
            let lines = f
                .address_lines
                .iter()
                .filter_map(|n| m.get(n).and_then(Value::as_str).map(str::to_owned))
                .collect();
            Some(Address {
                lines,
                postcode: m.get(&f.postcode)?.as_str()?.to_owned(),
            })
        };
        let list = |name: &str| -> Vec<Value> {
            claims
                .get(name)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        FindData {
            given_name: scalar(claims.get(&f.given_name)),
            family_name: scalar(claims.get(&f.family_name)),
            previous_family_names: list(&f.previous_family_names)
                .iter()
                .filter_map(|v| scalar(Some(v)))
                .collect(),
            date_of_birth: scalar(claims.get(&f.date_of_birth)),
            national_insurance_number: scalar(claims.get(&f.national_insurance_number)),
            address: claims.get(&f.address).and_then(address),
            previous_addresses: list(&f.previous_addresses)
                .iter()
                .filter_map(address)
                .collect(),
            email: scalar(claims.get(&f.email)),
            mobile_number: scalar(claims.get(&f.mobile_number)),
        }
    }
}

impl ViewContract {
    /// The provider's own JWKS URL when view token keys are provider-hosted (`jwks_url` or
    /// `jwks_path` set); `None` means the CDA's `/jwk_uri`.
    pub fn provider_jwks_url(&self, view_base_url: &str) -> Option<String> {
        self.jwks_url.clone().or_else(|| {
            self.jwks_path
                .as_ref()
                .map(|p| format!("{}{p}", view_base_url.trim_end_matches('/')))
        })
    }

    /// Where the reference provider serves its own JWKS (for provider-hosted mode).
    pub fn provider_jwks_route(&self) -> &str {
        self.jwks_path.as_deref().unwrap_or("/jwks")
    }

    /// `path_template` with the asset GUID filled in, plus the query string.
    pub fn path_for(&self, asset_guid: &str) -> String {
        let path = self.path_template.replace("{assetGuid}", asset_guid);
        if self.query.is_empty() {
            path
        } else {
            format!("{path}?{}", self.query)
        }
    }

    /// The axum route pattern the reference provider serves (`{assetGuid}` is already axum's
    /// capture syntax).
    pub fn route(&self) -> String {
        self.path_template.clone()
    }

    /// The `WWW-Authenticate` value a provider sends with a ticket.
    pub fn challenge_header(&self, as_uri: &str, ticket: &str) -> String {
        let c = &self.challenge;
        let params = format!(
            "realm=\"{}\", {}=\"{as_uri}\", {}=\"{ticket}\"",
            c.realm, c.as_uri_param, c.ticket_param
        );
        if c.scheme.is_empty() {
            params
        } else {
            format!("{} {params}", c.scheme)
        }
    }

    /// Parse a `WWW-Authenticate` challenge tolerantly: with or without the scheme token,
    /// quoted or bare values. Returns the parsed challenge and whether its scheme was as expected.
    pub fn parse_challenge(&self, header: &str) -> Option<Challenge> {
        let c = &self.challenge;
        let trimmed = header.trim();
        let (scheme, rest) = match trimmed.split_once(char::is_whitespace) {
            Some((first, rest)) if !first.contains('=') => (Some(first.to_owned()), rest),
            _ => (None, trimmed),
        };
        let mut as_uri = None;
        let mut ticket = None;
        let mut realm = None;
        for part in split_params(rest) {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            let k = k.trim();
            let v = v.trim().trim_matches('"').to_owned();
            if k.eq_ignore_ascii_case(&c.as_uri_param) {
                as_uri = Some(v);
            } else if k.eq_ignore_ascii_case(&c.ticket_param) {
                ticket = Some(v);
            } else if k.eq_ignore_ascii_case("realm") {
                realm = Some(v);
            }
        }
        Some(Challenge {
            scheme_as_expected: match &scheme {
                Some(s) => s.eq_ignore_ascii_case(&c.scheme),
                None => c.scheme.is_empty(),
            },
            scheme,
            realm,
            as_uri: as_uri?,
            ticket: ticket?,
        })
    }
}

/// Read `as_uri` and `ticket` as MaPS's dashboard does: the text after `<param>=` up to the
/// next comma, quotes removed. A challenge it reads differently from a standard parse would
/// break the live view flow.
pub fn maps_challenge_reading(
    header: &str,
    as_uri_param: &str,
    ticket_param: &str,
) -> Option<(String, String)> {
    let read = |param: &str| -> Option<String> {
        let (_, after) = header.split_once(&format!("{param}="))?;
        Some(after.split(',').next().unwrap_or_default().replace('"', ""))
    };
    Some((read(as_uri_param)?, read(ticket_param)?))
}

/// Split `a="x, y", b=z` at commas outside quotes.
fn split_params(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in s.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                cur.push(ch);
            }
            ',' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    if !cur.trim().is_empty() {
        parts.push(cur);
    }
    parts
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: Option<String>,
    pub scheme_as_expected: bool,
    pub realm: Option<String>,
    pub as_uri: String,
    pub ticket: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_round_trips_with_and_without_scheme() {
        let mut v = ViewContract::default();
        let h = v.challenge_header("https://cas.example:8443", "abc.def.ghi");
        let c = v.parse_challenge(&h).expect("parses");
        assert_eq!(c.as_uri, "https://cas.example:8443");
        assert_eq!(c.ticket, "abc.def.ghi");
        assert!(c.scheme_as_expected);
        let bare = "realm=\"PensionDashboard\", as_uri=\"https://x\", ticket=\"t\"";
        let c = v.parse_challenge(bare).expect("parses without scheme");
        assert!(!c.scheme_as_expected);
        assert_eq!(c.ticket, "t");
        v.challenge.scheme.clear();
        assert!(v.parse_challenge(bare).expect("parses").scheme_as_expected);
        assert!(v.parse_challenge("UMA realm=\"x\"").is_none());
    }

    #[test]
    fn find_claims_round_trip_under_renamed_fields() {
        let mut c = FindContract::default();
        c.fields.family_name = "surname".to_owned();
        c.fields.address_lines = vec!["line1".into(), "line2".into()];
        let data = FindData {
            given_name: Some("JANE".into()),
            family_name: Some("DOE".into()),
            previous_family_names: vec!["SMITH".into()],
            date_of_birth: Some("1973-09-18".into()),
            national_insurance_number: None,
            address: Some(Address {
                lines: vec!["1 HIGH ST".into(), "TOWN".into()],
                postcode: "AB1 2CD".into(),
            }),
            previous_addresses: vec![],
            email: None,
            mobile_number: None,
        };
        let claims = c.find_claims(&data);
        assert!(claims.contains_key("surname"));
        assert!(!claims.contains_key("familyName"));
        assert_eq!(c.parse_find_claims(&claims), data);
    }

    /// Names travel exactly as the pack gives them: nothing is stripped or re-cased.
    #[test]
    fn find_claims_carry_names_exactly() {
        let c = FindContract::default();
        let data = FindData {
            given_name: Some("ANNA-LENA".into()),
            family_name: Some("O'BRIEN-ST. JOHN".into()),
            previous_family_names: vec!["MULLER-GOSSMANN".into()],
            email: Some("a@example.com".into()),
            ..FindData::default()
        };
        let claims = c.find_claims(&data);
        let value = |name: &str| claims[name][&c.fields.value].clone();
        assert_eq!(value(&c.fields.given_name), "ANNA-LENA");
        assert_eq!(value(&c.fields.family_name), "O'BRIEN-ST. JOHN");
        assert_eq!(
            claims[&c.fields.previous_family_names][0][&c.fields.value],
            "MULLER-GOSSMANN"
        );
        assert_eq!(value(&c.fields.email), "a@example.com");
    }
}
