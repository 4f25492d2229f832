//! The reference provider as a client of the C&A: one call with bounded retries, PATs (from a
//! find token, or by the refresh route with its own assertion key) and the one retry after a
//! 401. Kept apart from the find and view handlers that use it, so the retry and PAT rules
//! are read in one place.

use std::time::Duration;

use axum::http::header;
use serde_json::{Value, json};

use super::{CAS_CALL_TIMEOUT, Fault, NOT_FOUND_RETRIES, ReferenceProvider, RegisteredAsset};
use crate::net::jwt;

/// The grant of a PAT request (a jwt-bearer assertion), as the C&A's `/token` takes it.
pub(super) const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The token type `/introspect` gives an RPT.
pub(super) const TOKEN_TYPE_RPT: &str = "pension_dashboard_rpt";

/// Why one attempt at a C&A call got no complete answer.
#[derive(Debug, thiserror::Error)]
pub enum NoAnswer {
    #[error("{0}")]
    Send(#[source] reqwest::Error),
    #[error("the answer broke off: {0}")]
    BrokeOff(#[source] reqwest::Error),
}

/// A C&A call, or a PAT, that did not work out.
#[derive(Debug, thiserror::Error)]
pub enum CasCallError {
    /// No complete answer, retries included.
    #[error("C&A call failed after {attempts} attempt(s): {last}")]
    Unanswered {
        attempts: u32,
        #[source]
        last: NoAnswer,
    },
    #[error("/token answered {status}: {body}")]
    TokenRefused { status: u16, body: Value },
    #[error("no access_token in /token response")]
    NoAccessToken,
    #[error("no PAT assertion key is configured")]
    NoAssertionKey,
    #[error("the find carried no token (claims mode) and the provider has no PAT assertion key")]
    NoFindToken,
    #[error("{0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

impl ReferenceProvider {
    /// Call the C&A with a fresh X-Request-ID, retrying 429, 5xx and calls that got no
    /// complete answer (timed out at [`CAS_CALL_TIMEOUT`], connection closed) with
    /// exponential backoff that honours `Retry-After`, bounded to 5 attempts. A 4xx other
    /// than 429 is final: retrying it cannot succeed.
    pub(super) async fn call_cas(
        &self,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<(u16, Value), CasCallError> {
        let f = &self.opts().faults;
        let mut delay = Duration::from_millis(200);
        let attempts = if f.has(Fault::NoRetry) { 1 } else { 5 };
        // The defect's 404s may go on past the bound of the others.
        let most = if f.has(Fault::RetriesNotFound) {
            NOT_FOUND_RETRIES
        } else {
            attempts
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = make(&self.opts().client)
                .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
                .timeout(CAS_CALL_TIMEOUT)
                .send()
                .await;
            let failure = match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(Duration::from_secs);
                    if status == 404 && f.has(Fault::RetriesNotFound) && attempt < most {
                        // Deliberate defect: a 404 retried as if it were transient.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    let transient = status == 429 || status >= 500;
                    match resp.bytes().await {
                        Ok(_) if transient && attempt < attempts => {
                            tokio::time::sleep(retry_after.unwrap_or(delay)).await;
                            delay *= 2;
                            continue;
                        }
                        Ok(body) => {
                            let value = serde_json::from_slice(&body).unwrap_or_else(|_| {
                                Value::String(String::from_utf8_lossy(&body).into())
                            });
                            return Ok((status, value));
                        }
                        // The answer broke off: as good as none.
                        Err(e) => NoAnswer::BrokeOff(e),
                    }
                }
                Err(e) => NoAnswer::Send(e),
            };
            tracing::warn!(error = %failure, attempt, "C&A call failed");
            if attempt >= attempts {
                return Err(CasCallError::Unanswered {
                    attempts,
                    last: failure,
                });
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }

    /// Whether it obtains fresh PATs (it has a registered assertion key and no fault says
    /// otherwise).
    pub(super) fn may_refresh(&self) -> bool {
        self.opts().pat_key.is_some() && !self.opts().faults.has(Fault::NeverRefreshesPat)
    }

    /// A fresh PAT by the refresh route: a jwt-bearer assertion signed with its own key, `iss`
    /// and `sub` its holdername GUID, `aud` the C&A's token URL, two minutes' lifetime and a
    /// new `jti`. Kept for reuse (stage 2 updates) until the C&A refuses it.
    pub(super) async fn fresh_pat(&self) -> Result<String, CasCallError> {
        let o = self.opts();
        let key = o.pat_key.as_ref().ok_or(CasCallError::NoAssertionKey)?;
        let holder = o.pack.holdername_guid();
        let now = jwt::now_epoch();
        let claims = json!({
            "iss": holder,
            "sub": holder,
            "aud": crate::protocol::contract::cas_token_url(&o.cas_base_url),
            "iat": now,
            "exp": now + 120,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        let assertion = key.sign(&claims).map_err(CasCallError::Sign)?;
        let pat = self.obtain_pat(&assertion).await?;
        self.state().refreshed_pat = Some(pat.clone());
        Ok(pat)
    }

    /// The PAT for work not caused by a find (stage 2 updates): the kept refreshed PAT, or a
    /// new one; `fallback` (the find's) when it does not refresh.
    pub(super) async fn update_pat(&self, fallback: &str) -> String {
        if !self.may_refresh() {
            return fallback.to_owned();
        }
        if let Some(p) = self.state().refreshed_pat.clone() {
            return p;
        }
        match self.fresh_pat().await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("could not obtain a fresh PAT: {e}; using the find's");
                fallback.to_owned()
            }
        }
    }

    /// Call the C&A with `pat`; on a 401 (the PAT expired, or the C&A forgot it) obtain a fresh
    /// PAT and retry once with it. The answer, and the PAT last used.
    pub(super) async fn call_cas_with_pat(
        &self,
        pat: &str,
        make: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<(u16, Value, String), CasCallError> {
        let (status, v) = self.call_cas(|c| make(c, pat)).await?;
        if status != 401
            || !self.may_refresh()
            || self.opts().faults.has(Fault::RegistersWithoutPat)
        {
            return Ok((status, v, pat.to_owned()));
        }
        tracing::info!("the C&A answered 401 ({v}); obtaining a fresh PAT");
        let fresh = match self.fresh_pat().await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("could not obtain a fresh PAT: {e}");
                return Ok((status, v, pat.to_owned()));
            }
        };
        let (status, v) = self.call_cas(|c| make(c, &fresh)).await?;
        Ok((status, v, fresh))
    }

    /// Keep `pat` as `asset`'s PAT when a call had to refresh it.
    pub(super) fn keep_pat(&self, asset: &RegisteredAsset, pat: String) {
        if pat != asset.pat
            && let Some(a) = self
                .state()
                .by_asset
                .values_mut()
                .find(|a| a.resource_id == asset.resource_id)
        {
            a.pat = pat;
        }
    }

    /// A PAT for `assertion` (a find token, or its own signed assertion) from `/token`.
    pub(super) async fn obtain_pat(&self, assertion: &str) -> Result<String, CasCallError> {
        let url = format!("{}/token", self.opts().cas_base_url);
        let (status, v) = self
            .call_cas(|c| {
                c.post(&url).form(&[
                    ("grant_type", GRANT_JWT_BEARER),
                    ("scope", "uma_protection"),
                    ("assertion", assertion),
                ])
            })
            .await?;
        if status != 200 {
            return Err(CasCallError::TokenRefused { status, body: v });
        }
        v["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or(CasCallError::NoAccessToken)
    }
}
