//! The simulated dashboard: calls the provider's view endpoint without an RPT, follows the
//! 401 `WWW-Authenticate` challenge (as_uri, ticket) to the C&A's `/token` with an RQP claim
//! token, retries once with the RPT and verifies the view data token it gets back.

use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;

use crate::net::jwt::{self, Expect};
use crate::net::pki::SigningKey;
use crate::net::recorder::{Observed, Recorder, SendFailure};
use crate::protocol::contract::{Challenge, ViewContract};
use crate::protocol::tokens::{GRANT_UMA_TICKET, RQP_FORMAT};
use crate::record::classify::FailureClass;

pub const PARTY_VIEW: &str = "dashboard -> provider view endpoint";
pub const PARTY_TOKEN: &str = "dashboard -> C&A /token";
pub const PARTY_JWKS: &str = "dashboard -> provider JWKS";
pub const PARTY_JWK_URI: &str = "dashboard -> C&A /jwk_uri";

#[derive(Debug)]
pub struct Dashboard {
    /// Calls the provider's view endpoint.
    pub client: reqwest::Client,
    /// Calls the C&A's token endpoint (the same client unless the C&A needs another identity).
    pub cas_client: reqwest::Client,
    /// Signs RQP claim tokens.
    pub key: SigningKey,
    pub issuer: String,
    pub contract: ViewContract,
    pub recorder: Arc<Recorder>,
    pub view_base_url: String,
    /// The CDA's `/jwk_uri`, where view data token keys are looked up by `kid` (unless the
    /// contract makes them provider-hosted).
    cda_jwk_uri: String,
    /// The view token keys as last fetched.
    view_keys: tokio::sync::Mutex<Option<JwkSet>>,
    /// Key ids that already caused a refetch: each unknown `kid` is refetched for once, so a
    /// provider that rotates passes and a token under an unpublished key costs one fetch.
    refetched_for: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// A failed expectation in the view flow: which stage, what was expected, what was seen, and
/// who has to act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct ViewFailure {
    pub stage: &'static str,
    pub message: String,
    pub class: FailureClass,
    /// The provider's challenge, when the flow got that far: a later stage's failure may be
    /// the challenge's doing (an `as_uri` that is not the C&A, a ticket for another resource),
    /// which the caller can judge against the C&A.
    pub challenge: Option<Box<Challenge>>,
}

/// A view data token obtained through the UMA flow (not yet verified).
#[derive(Debug, Clone)]
pub struct ViewToken {
    pub challenge: Challenge,
    pub rpt: String,
    /// The 401 to the request without an RPT.
    pub first: Observed,
    /// The 200 to the request with the RPT.
    pub second: Observed,
    pub token: String,
    /// Things that are tolerated but worth a warning (e.g. challenge without the UMA scheme).
    pub warnings: Vec<String>,
}

impl Dashboard {
    pub fn new(
        client: reqwest::Client,
        key: SigningKey,
        issuer: String,
        contract: ViewContract,
        recorder: Arc<Recorder>,
        view_base_url: String,
    ) -> Dashboard {
        Dashboard {
            cas_client: client.clone(),
            client,
            key,
            issuer,
            contract,
            recorder,
            view_base_url,
            cda_jwk_uri: String::new(),
            view_keys: tokio::sync::Mutex::new(None),
            refetched_for: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Look view data token keys up at this C&A `/jwk_uri` (the live service's model).
    pub fn with_cda_jwk_uri(mut self, url: String) -> Dashboard {
        self.cda_jwk_uri = url;
        self
    }

    /// Redeem tickets at the C&A with `client` instead of the view client.
    pub fn with_cas_client(mut self, client: reqwest::Client) -> Dashboard {
        self.cas_client = client;
        self
    }

    pub fn view_url(&self, asset_guid: &str) -> String {
        format!(
            "{}{}",
            self.view_base_url,
            self.contract.path_for(asset_guid)
        )
    }

    /// Where view token keys come from, and whether that is the provider's own JWKS.
    pub fn view_keys_source(&self) -> (String, bool) {
        match self.contract.provider_jwks_url(&self.view_base_url) {
            Some(url) => (url, true),
            None => (self.cda_jwk_uri.clone(), false),
        }
    }

    /// Call the view endpoint for `asset_guid`, with `rpt` as bearer if given.
    pub async fn call_view(
        &self,
        asset_guid: &str,
        rpt: Option<&str>,
    ) -> Result<Observed, SendFailure> {
        let method = reqwest::Method::from_bytes(self.contract.method.as_bytes())
            .unwrap_or(reqwest::Method::GET);
        let mut builder = self
            .client
            .request(method, self.view_url(asset_guid))
            .header(
                self.contract.request_id_header.as_str(),
                uuid::Uuid::new_v4().to_string(),
            );
        match (rpt, self.contract.first_call_authorization) {
            (Some(rpt), _) => builder = builder.bearer_auth(rpt),
            // MaPS's dashboard holds no RPT yet and .NET writes the scheme alone.
            (None, crate::protocol::contract::FirstCallAuthorization::EmptyBearer) => {
                builder = builder.header(reqwest::header::AUTHORIZATION, "Bearer");
            }
            (None, crate::protocol::contract::FirstCallAuthorization::Omit) => {}
        }
        let request = builder
            .build()
            .map_err(|e| SendFailure::NotSent(e.to_string()))?;
        self.recorder.send(PARTY_VIEW, &self.client, request).await
    }

    /// A view call the live dashboard would not make, to see the provider refuse it: at
    /// `asset_path` (which may be no GUID), with `rpt`, `request_id` instead of a fresh
    /// X-Request-ID, and `scope` instead of the contract's.
    pub async fn call_view_malformed(
        &self,
        asset_path: &str,
        rpt: &str,
        request_id: Option<&str>,
        scope: Option<&str>,
    ) -> Result<Observed, SendFailure> {
        let method = reqwest::Method::from_bytes(self.contract.method.as_bytes())
            .unwrap_or(reqwest::Method::GET);
        let mut url = format!(
            "{}{}",
            self.view_base_url,
            self.contract
                .path_template
                .replace("{assetGuid}", asset_path)
        );
        let mut query: Vec<(String, String)> =
            url::form_urlencoded::parse(self.contract.query.as_bytes())
                .into_owned()
                .collect();
        if let Some(scope) = scope {
            query.retain(|(k, _)| k != "scope");
            query.push(("scope".to_owned(), scope.to_owned()));
        }
        if !query.is_empty() {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&query)
                .finish();
            url = format!("{url}?{encoded}");
        }
        let request_id = request_id
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let request = self
            .client
            .request(method, url)
            .header(self.contract.request_id_header.as_str(), request_id)
            .bearer_auth(rpt)
            .build()
            .map_err(|e| SendFailure::NotSent(e.to_string()))?;
        self.recorder.send(PARTY_VIEW, &self.client, request).await
    }

    /// Parse the challenge of a 401 view response.
    pub fn challenge_of(&self, response: &Observed) -> Result<Challenge, ViewFailure> {
        let header = response.header("www-authenticate").ok_or_else(|| ViewFailure {
            class: FailureClass::SystemUnderTest,
            challenge: None,
            stage: "challenge",
            message: format!(
                "expected a WWW-Authenticate header with {} and {} on the {} response, found none",
                self.contract.challenge.as_uri_param,
                self.contract.challenge.ticket_param,
                response.status
            ),
        })?;
        let c = &self.contract.challenge;
        let challenge = self
            .contract
            .parse_challenge(header)
            .ok_or_else(|| ViewFailure {
                class: FailureClass::SystemUnderTest,
                challenge: None,
                stage: "challenge",
                message: format!(
                    "expected WWW-Authenticate to carry {}=\"...\" and {}=\"...\", found {header:?}",
                    c.as_uri_param, c.ticket_param
                ),
            })?;
        // The live dashboard reads the header by splitting on `ticket=`/`as_uri=` and commas.
        let maps = crate::protocol::contract::maps_challenge_reading(
            header,
            &c.as_uri_param,
            &c.ticket_param,
        );
        if maps.as_ref().map(|(a, t)| (a.trim(), t.trim()))
            != Some((challenge.as_uri.as_str(), challenge.ticket.as_str()))
        {
            return Err(ViewFailure {
                class: FailureClass::SystemUnderTest,
                challenge: None,
                stage: "challenge",
                message: format!(
                    "MaPS's dashboard could not read this WWW-Authenticate challenge: it takes the text after {}= and {}= up to the next comma, which here gives {} instead of as_uri {:?} and ticket {:?}; found {header:?}",
                    c.as_uri_param,
                    c.ticket_param,
                    match &maps {
                        Some((a, t)) => format!("as_uri {a:?} and ticket {t:?}"),
                        None => "nothing".to_owned(),
                    },
                    challenge.as_uri,
                    challenge.ticket
                ),
            });
        }
        Ok(challenge)
    }

    /// The RQP claim token: who the dashboard user is.
    fn claim_token(&self) -> Result<String, jsonwebtoken::errors::Error> {
        let now = jwt::now_epoch();
        let claims = serde_json::json!({
            "iss": self.issuer,
            "sub": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "exp": now + 60,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        self.key.sign(&claims)
    }

    /// Redeem `ticket` at `{as_uri}/token` (uma-ticket grant, scope owner, RQP claim token).
    pub async fn request_rpt(&self, as_uri: &str, ticket: &str) -> Result<String, ViewFailure> {
        let fail = |message: String| ViewFailure {
            class: FailureClass::SystemUnderTest,
            challenge: None,
            stage: "RPT",
            message,
        };
        let claim_token = self.claim_token().map_err(|e| ViewFailure {
            class: FailureClass::Harness,
            ..fail(format!("the RQP claim token could not be signed: {e}"))
        })?;
        let request = self
            .cas_client
            .post(format!("{}/token", as_uri.trim_end_matches('/')))
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .form(&[
                ("grant_type", GRANT_UMA_TICKET),
                ("ticket", ticket),
                ("claim_token", &claim_token),
                ("claim_token_format", RQP_FORMAT),
                ("scope", "owner"),
            ])
            .build()
            .map_err(|e| ViewFailure {
                class: FailureClass::Harness,
                ..fail(e.to_string())
            })?;
        let obs = self
            .recorder
            .send(PARTY_TOKEN, &self.cas_client, request)
            .await
            .map_err(|e| ViewFailure {
                class: e.class(),
                ..fail(format!("the C&A at {as_uri} could not be reached: {e}"))
            })?;
        if obs.status != 200 {
            return Err(fail(format!(
                "expected the C&A to exchange the provider's ticket for an RPT (200), got {} {}",
                obs.status,
                obs.text()
            )));
        }
        obs.json()
            .and_then(|v| v["access_token"].as_str().map(str::to_owned))
            .ok_or_else(|| fail("the /token response carries no access_token".to_owned()))
    }

    /// The view token keys: fetched once, and again when `refetch` (an unknown `kid`).
    async fn view_keys(&self, refetch: bool) -> Result<JwkSet, ViewFailure> {
        let mut cached = self.view_keys.lock().await;
        if let (Some(keys), false) = (cached.as_ref(), refetch) {
            return Ok(keys.clone());
        }
        let (url, provider_hosted) = self.view_keys_source();
        let (stage, party, client) = if provider_hosted {
            ("provider JWKS", PARTY_JWKS, &self.client)
        } else {
            ("C&A /jwk_uri", PARTY_JWK_URI, &self.cas_client)
        };
        // The provider's own JWKS is the system under test; the C&A's /jwk_uri is the harness
        // serving the keys the target file names.
        let (answer_class, content_class) = if provider_hosted {
            (FailureClass::SystemUnderTest, FailureClass::SystemUnderTest)
        } else {
            (FailureClass::Harness, FailureClass::Configuration)
        };
        let fail = |class: FailureClass, message: String| ViewFailure {
            stage,
            message,
            class,
            challenge: None,
        };
        let request = client
            .get(&url)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .build()
            .map_err(|e| fail(FailureClass::Harness, e.to_string()))?;
        let obs = self
            .recorder
            .send(party, client, request)
            .await
            .map_err(|e| {
                let class = match e.class() {
                    FailureClass::SystemUnderTest => answer_class,
                    other => other,
                };
                fail(class, format!("{url} could not be fetched: {e}"))
            })?;
        if obs.status != 200 {
            return Err(fail(
                answer_class,
                format!("expected 200 from {url}, got {}", obs.status),
            ));
        }
        let keys = serde_json::from_slice::<JwkSet>(&obs.body)
            .map_err(|e| fail(content_class, format!("{url} is not a JWKS: {e}")))?;
        *cached = Some(keys.clone());
        Ok(keys)
    }

    /// The view token keys (for doctor): fetched as verification would.
    pub async fn provider_jwks(&self) -> Result<JwkSet, ViewFailure> {
        self.view_keys(false).await
    }

    /// Verify a view data token and return (claims, view data).
    pub async fn verify_view_token(&self, token: &str) -> Result<(Value, Value), ViewFailure> {
        let expect = Expect {
            required: &["iat"],
            ..Expect::default()
        };
        let jwks = self.view_keys(false).await?;
        let mut verified = jwt::verify::<Value>(token, &jwks, &expect);
        if let Err(jwt::TokenError::UnknownKey(kid)) = &verified {
            // Rate limited: one refetch per unknown kid (a rotation publishes the new key).
            let first_time = self
                .refetched_for
                .lock()
                .map(|mut seen| seen.insert(kid.clone()))
                .unwrap_or(false);
            if first_time {
                let jwks = self.view_keys(true).await?;
                verified = jwt::verify::<Value>(token, &jwks, &expect);
            }
        }
        let (url, provider_hosted) = self.view_keys_source();
        let claims = verified.map_err(|e| ViewFailure {
            class: FailureClass::SystemUnderTest,
            challenge: None,
            stage: "view data token",
            message: if provider_hosted {
                format!("expected a view data token signed by a key in the provider's JWKS ({url}): {e}")
            } else {
                format!(
                    "expected a view data token signed by a key registered at the CDA's /jwk_uri ([provider] view_token_keys), as the live dashboard verifies it: {e}"
                )
            },
        })?;
        let claim = &self.contract.view_data_claim;
        let view_data = match claims.get(claim) {
            Some(Value::Object(_)) => claims[claim].clone(),
            Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| ViewFailure {
                class: FailureClass::SystemUnderTest,
                challenge: None,
                stage: "view data token",
                message: format!("claim {claim} is a string that is not JSON: {e}"),
            })?,
            _ => {
                return Err(ViewFailure {
                    class: FailureClass::SystemUnderTest,
                    challenge: None,
                    stage: "view data token",
                    message: format!("expected claim {claim:?} holding the view data, found none"),
                });
            }
        };
        Ok((claims, view_data))
    }

    /// The UMA view flow for `asset_guid`: call without an RPT, follow the challenge to
    /// `/token`, retry once with the RPT and take the view data token from the 200.
    pub async fn obtain_view_token(&self, asset_guid: &str) -> Result<ViewToken, ViewFailure> {
        let url = self.view_url(asset_guid);
        let first = self
            .call_view(asset_guid, None)
            .await
            .map_err(|e| ViewFailure {
                class: e.class(),
                challenge: None,
                stage: "view without RPT",
                message: transport_failure(&url, &e),
            })?;
        if first.status != 401 {
            let empty_bearer = self.contract.first_call_authorization
                == crate::protocol::contract::FirstCallAuthorization::EmptyBearer;
            return Err(ViewFailure {
                class: FailureClass::SystemUnderTest,
                challenge: None,
                stage: "view without RPT",
                message: if first.status == 400 && empty_bearer {
                    "expected 401 with a ticket for the first view call, got 400: that call carries `Authorization: Bearer` with an empty credential, as MaPS's dashboard sends it before it holds an RPT, and the live dashboard only follows a 401 challenge, so this pension could not be viewed live (answer it with 401 and a ticket; [contract.view] first_call_authorization = \"omit\" sends no header instead)".to_owned()
                } else {
                    format!(
                        "expected 401 with a ticket for a view request without an RPT, got {}",
                        first.status
                    )
                },
            });
        }
        let challenge = self.challenge_of(&first)?;
        let mut warnings = Vec::new();
        if !challenge.scheme_as_expected {
            warnings.push(format!(
                "WWW-Authenticate scheme is {:?}, expected {:?} (UMA 2.0 section 3.2)",
                challenge.scheme.as_deref().unwrap_or("(none)"),
                self.contract.challenge.scheme
            ));
        }
        let rpt = self
            .request_rpt(&challenge.as_uri, &challenge.ticket)
            .await
            .map_err(|f| ViewFailure {
                challenge: Some(Box::new(challenge.clone())),
                ..f
            })?;
        let second = self
            .call_view(asset_guid, Some(&rpt))
            .await
            .map_err(|e| ViewFailure {
                class: e.class(),
                challenge: Some(Box::new(challenge.clone())),
                stage: "view with RPT",
                message: transport_failure(&url, &e),
            })?;
        if second.status != 200 {
            return Err(ViewFailure {
                class: FailureClass::SystemUnderTest,
                challenge: Some(Box::new(challenge.clone())),
                stage: "view with RPT",
                message: format!(
                    "expected 200 with a view data token after presenting a valid RPT, got {} {}",
                    second.status,
                    second.text().chars().take(200).collect::<String>()
                ),
            });
        }
        let field = &self.contract.token_field;
        // The view response is JSON by the standards: another media type fails, and a body
        // that does not parse is named as malformed, with where it breaks.
        let media = second.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        if media.as_deref() != Some("application/json") {
            return Err(ViewFailure {
                class: FailureClass::SystemUnderTest,
                challenge: Some(Box::new(challenge.clone())),
                stage: "view with RPT",
                message: format!(
                    "expected the view response as Content-Type application/json, observed {}",
                    media.as_deref().unwrap_or("no Content-Type")
                ),
            });
        }
        let body: Value = serde_json::from_slice(&second.body).map_err(|e| ViewFailure {
            class: FailureClass::SystemUnderTest,
            challenge: Some(Box::new(challenge.clone())),
            stage: "view with RPT",
            message: format!(
                "the view response body is malformed JSON ({} bytes): {e}",
                second.body.len()
            ),
        })?;
        let token = Some(body)
            .and_then(|v| v.get(field).and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| ViewFailure {
                class: FailureClass::SystemUnderTest,
                challenge: Some(Box::new(challenge.clone())),
                stage: "view with RPT",
                message: format!("expected a JSON body with {field:?}, found none"),
            })?;
        Ok(ViewToken {
            challenge,
            rpt,
            first,
            second,
            token,
            warnings,
        })
    }
}

/// A view call that got no usable answer: one that answered (too much, too late, broken off)
/// says so; one that never connected is "could not be reached".
fn transport_failure(url: &str, error: &SendFailure) -> String {
    match error {
        SendFailure::TooLarge(_) => format!("{url} answered, but {error}"),
        SendFailure::TimedOut(_) | SendFailure::Broken(_) => format!("{url}: {error}"),
        SendFailure::Unreachable(_) | SendFailure::NotSent(_) => {
            format!("{url} could not be reached: {error}")
        }
    }
}
