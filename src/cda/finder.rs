//! The simulated pension finder service: signs a find request token carrying a persona's find
//! data and sends it to the provider's find endpoint with a fresh `X-Request-ID`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::net::pki::SigningKey;
use crate::net::recorder::Recorder;
use crate::protocol::contract::{FindBodyMode, FindContract, FindData};

pub const PARTY: &str = "pension finder -> provider find endpoint";

#[derive(Debug)]
pub struct PensionFinder {
    pub client: reqwest::Client,
    pub key: SigningKey,
    pub contract: FindContract,
    pub recorder: Arc<Recorder>,
    /// Base URL of the provider's find endpoint; the contract's path is appended.
    pub find_base_url: String,
    /// The provider's holdername GUID.
    pub holdername_guid: String,
    /// `aud` of find tokens (see [`FindContract::expected_audience`]): by default the C&A's
    /// token-service URL.
    pub audience: String,
}

/// What happened when a find request was sent.
#[derive(Debug, Clone)]
pub struct FindOutcome {
    pub request_id: String,
    /// The find request token's assertion key ([`crate::cda::cas::assertion_key`]: its `jti`,
    /// or a hash of the whole token when it has none): a provider's PAT is issued for that
    /// assertion, which attributes its later `/rreguri` calls to this find.
    pub token_jti: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub sent_instant: tokio::time::Instant,
    pub status: Option<u16>,
    pub elapsed_ms: f64,
    pub body: String,
    /// Why no response was usable (TLS refusal, connection refused, timeout, oversized body).
    pub error: Option<crate::net::recorder::SendFailure>,
}

/// The `name` claim: 40 hex digits (the length of the stub example's) hashed from the member's
/// identity, so the same member has the same `name` and no personal data is sent in it.
fn identity_hash(data: &FindData) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in [&data.given_name, &data.family_name, &data.date_of_birth] {
        h.update(part.as_deref().unwrap_or_default().as_bytes());
        h.update([0u8]);
    }
    let mut hex = hex::encode(h.finalize());
    hex.truncate(40);
    hex
}

impl PensionFinder {
    pub fn url(&self) -> String {
        format!("{}{}", self.find_base_url, self.contract.path)
    }

    /// The signed find request token for `data`.
    pub fn find_token(&self, data: &FindData) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = self.claims(data, self.contract.token_lifetime_secs);
        self.key.sign(&claims)
    }

    /// Claims of a find request token living `lifetime_secs` (negative: already expired), shaped
    /// as the MaPS stub's example user assertion: `sub`, `aud` (the C&A's token service), `nbf`,
    /// `iss`, `name` (a 40-hex hash), `exp`, `iat` and no `jti`; `[contract.find]` changes each.
    pub fn claims(&self, data: &FindData, lifetime_secs: i64) -> Map<String, Value> {
        let now = Utc::now().timestamp();
        let c = &self.contract;
        let mut claims = Map::new();
        claims.insert(
            "sub".into(),
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
        claims.insert("aud".into(), Value::String(self.audience.clone()));
        if c.include_nbf {
            claims.insert("nbf".into(), Value::from(now));
        }
        claims.insert("iss".into(), Value::String(c.issuer.clone()));
        if c.include_name {
            claims.insert("name".into(), Value::String(identity_hash(data)));
        }
        claims.insert("exp".into(), Value::from(now + lifetime_secs));
        claims.insert("iat".into(), Value::from(now));
        if c.include_jti {
            claims.insert(
                "jti".into(),
                Value::String(uuid::Uuid::new_v4().to_string()),
            );
        }
        claims.extend(c.find_claims(data));
        claims
    }

    /// Send a find request for `data`.
    pub async fn send(&self, data: &FindData) -> FindOutcome {
        match self.find_token(data) {
            Ok(token) => self.send_token(&token).await,
            Err(e) => FindOutcome {
                request_id: String::new(),
                token_jti: None,
                sent_at: Utc::now(),
                sent_instant: tokio::time::Instant::now(),
                status: None,
                elapsed_ms: 0.0,
                body: String::new(),
                error: Some(crate::net::recorder::SendFailure::NotSent(format!(
                    "could not sign the find request token: {e}"
                ))),
            },
        }
    }

    /// Send an already-made token (tests send tampered and expired ones this way).
    pub async fn send_token(&self, token: &str) -> FindOutcome {
        let request_id = uuid::Uuid::new_v4().to_string();
        self.send_with_request_id(token, Some(&request_id)).await
    }

    /// Send `token` with `request_id` as the request id header, or without that header
    /// (`None`): the find-side negatives send missing and malformed request ids this way.
    /// The outcome's `request_id` is what was sent (empty when none was).
    pub async fn send_with_request_id(&self, token: &str, request_id: Option<&str>) -> FindOutcome {
        let token_jti = Some(crate::cda::cas::assertion_key(token));
        let builder = self.request_with(&self.client, token, request_id);
        let request_id = request_id.unwrap_or_default().to_owned();
        let sent_at = Utc::now();
        let sent_instant = tokio::time::Instant::now();
        let request = match builder.build() {
            Ok(r) => r,
            Err(e) => {
                return FindOutcome {
                    request_id,
                    token_jti,
                    sent_at,
                    sent_instant,
                    status: None,
                    elapsed_ms: 0.0,
                    body: String::new(),
                    error: Some(crate::net::recorder::SendFailure::NotSent(format!(
                        "could not build the find request: {e}"
                    ))),
                };
            }
        };
        match self.recorder.send(PARTY, &self.client, request).await {
            Ok(obs) => FindOutcome {
                request_id,
                token_jti,
                sent_at,
                sent_instant,
                status: Some(obs.status),
                elapsed_ms: obs.elapsed_ms,
                body: obs.text(),
                error: None,
            },
            Err(e) => FindOutcome {
                request_id,
                token_jti,
                sent_at,
                sent_instant,
                status: None,
                elapsed_ms: sent_instant.elapsed().as_secs_f64() * 1000.0,
                body: String::new(),
                error: Some(e),
            },
        }
    }

    /// The find request for `token` as the contract shapes it (method, request id header,
    /// body), on `client`; `load` sends it without recording.
    pub fn request(
        &self,
        client: &reqwest::Client,
        token: &str,
        request_id: &str,
    ) -> reqwest::RequestBuilder {
        self.request_with(client, token, Some(request_id))
    }

    /// As [`PensionFinder::request`], with the request id header left out when `None`.
    pub fn request_with(
        &self,
        client: &reqwest::Client,
        token: &str,
        request_id: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(self.contract.method.as_bytes())
            .unwrap_or(reqwest::Method::POST);
        let mut builder = client.request(method, self.url());
        if let Some(id) = request_id {
            builder = builder.header(self.contract.request_id_header.as_str(), id);
        }
        match self.contract.body_mode {
            FindBodyMode::Token => {
                let mut body = Map::new();
                body.insert(
                    self.contract.token_field.clone(),
                    Value::String(token.to_owned()),
                );
                builder.json(&body)
            }
            FindBodyMode::Bearer => builder.bearer_auth(token).json(&Map::new()),
            FindBodyMode::Claims => builder
                .json(&crate::net::jwt::peek_claims(token).unwrap_or(Value::Object(Map::new()))),
        }
    }
}
