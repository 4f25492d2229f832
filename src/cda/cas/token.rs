//! `/token` (token-v1_2.yaml): PATs for a find token (the MaPS stub's model) or for the
//! provider's own signed assertion (the PAT refresh route), and RPTs for a permission ticket
//! and the dashboard's RQP claim token. Every refusal is an OAuth error naming the check.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{RawQuery, State};
use serde_json::{Value, json};

use super::Cas;
use super::claims::{CasClaims, Permission, assertion_key};
use super::error::{CasError, TokenErrorCode};
use super::state::{CasState, K_AUDIT_PAT, K_PAT, K_PAT_BY_ASSERTION, K_RPT, K_TICKET, PatRecord};
use crate::cda::store::{Op, Scope};
use crate::net::jwt::{self, Expect};
use crate::protocol::tokens::{GrantType, RQP_FORMAT, RQP_FORMAT_TYPO, TokenType};

/// The longest lifetime (`exp - iat`) of a provider's own PAT assertion: 5 minutes.
pub const PAT_ASSERTION_MAX_LIFETIME_SECS: i64 = 300;
/// Provider PAT assertion `jti`s remembered at once (each only until its assertion expires, so
/// at most 5 minutes' worth): beyond this, new assertions are refused rather than memory grown.
const SEEN_JTI_CAP: usize = 100_000;

/// Parameters of `/token`: declared `in: query` in token-v1_2.yaml; the stub also takes a form
/// body. Both are merged here (the body wins).
pub(super) async fn token(
    State(cas): State<Cas>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Result<Json<Value>, CasError> {
    let mut params: HashMap<String, String> = HashMap::new();
    for source in [query.unwrap_or_default().as_bytes(), &body[..]] {
        for (k, v) in url::form_urlencoded::parse(source) {
            params.insert(k.into_owned(), v.into_owned());
        }
    }
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match get("grant_type").map(|g| (g, GrantType::from_wire(g))) {
        Some((_, Some(GrantType::JwtBearer))) => issue_pat(&cas, get("scope"), get("assertion")),
        Some((_, Some(GrantType::UmaTicket))) => issue_rpt(
            &cas,
            get("scope"),
            get("ticket"),
            get("claim_token"),
            get("claim_token_format"),
        ),
        Some((other, None)) => refuse(
            TokenErrorCode::UnsupportedGrantType,
            format!("grant_type {other:?} is not supported"),
        ),
        None => refuse(TokenErrorCode::InvalidRequest, "grant_type is required"),
    }
}

fn issue_pat(cas: &Cas, scope: Option<&str>, assertion: Option<&str>) -> Issued {
    if scope != Some("uma_protection") {
        return refuse(
            TokenErrorCode::InvalidScope,
            "the jwt-bearer grant issues PATs for scope uma_protection only",
        );
    }
    let Some(assertion) = assertion else {
        return refuse(TokenErrorCode::InvalidRequest, "assertion is required");
    };
    // The issuer says which kind of assertion it is: the pension finder's find token (the
    // user assertion), or the provider's own, signed with a key registered for its holdername.
    let iss = jwt::peek_claims(assertion).and_then(|c| c["iss"].as_str().map(str::to_owned));
    match iss {
        Some(iss) if iss != cas.inner.settings.finder_issuer => {
            issue_refreshed_pat(cas, assertion, &iss)
        }
        _ => issue_find_pat(cas, assertion),
    }
}

/// A PAT for a find token: for the registered holdername, one per assertion (the stub's UAT
/// -> PAT model), keyed by [`assertion_key`] since the token need carry no `jti`.
fn issue_find_pat(cas: &Cas, assertion: &str) -> Issued {
    let s = &cas.inner.settings;
    let Some(holder) = cas.state().registry.holdername.clone() else {
        return refuse(
            TokenErrorCode::InvalidGrant,
            "no holdername GUID is registered with this C&A, so it cannot tell whose PAT this would be",
        );
    };
    let audience = crate::protocol::contract::find_audience(
        s.find_audience.as_deref(),
        cas.base_url(),
        &holder,
    );
    let verified = jwt::verify::<Value>(
        assertion,
        &cas.inner.trusted,
        &Expect {
            issuer: Some(&s.finder_issuer),
            audience: Some(&audience),
            ..Expect::default()
        },
    );
    let claims = match verified {
        Ok(c) => c,
        Err(jwt::TokenError::WrongAudience(_)) => {
            let aud = jwt::peek_claims(assertion)
                .map(|c| c["aud"].to_string())
                .unwrap_or_default();
            return refuse(
                TokenErrorCode::InvalidGrant,
                format!(
                    "assertion rejected: the find token is addressed to {aud}, not to {audience:?}: this C&A issues a PAT only for a find token addressed to it, for holdername {holder} (a find token addressed to another holder is refused)"
                ),
            );
        }
        Err(e) => {
            return refuse(
                TokenErrorCode::InvalidGrant,
                format!("assertion rejected: {e}"),
            );
        }
    };
    let key = assertion_key(assertion);
    let mut state = cas.state();
    if let Some(existing) = state.pat_by_assertion.get(&key) {
        return Ok(Json(
            json!({ "access_token": existing, "token_type": TokenType::Pat }),
        ));
    }
    let sub = claims["sub"].as_str().unwrap_or("provider").to_owned();
    let lifetime = s.lifetimes.pat;
    let token = mint_pat(
        cas,
        &mut state,
        sub,
        holder,
        lifetime,
        Assertion::FindToken(key),
    )?;
    drop(state);
    Ok(Json(
        json!({ "access_token": token.0, "token_type": TokenType::Pat }),
    ))
}

/// Sign a PAT for `holder` and remember it; (token, jti).
fn mint_pat(
    cas: &Cas,
    state: &mut CasState,
    sub: String,
    holder: String,
    lifetime: Duration,
    assertion: Assertion,
) -> Result<(String, String), CasError> {
    let now = jwt::now_epoch();
    let pat = CasClaims {
        iss: cas.inner.settings.issuer.clone(),
        sub,
        iat: now,
        exp: now + lifetime.as_secs() as i64,
        jti: uuid::Uuid::new_v4().to_string(),
        token_type: TokenType::Pat,
        scope: Some("uma_protection".to_owned()),
        holder: Some(holder.clone()),
        permissions: None,
        azp: None,
    };
    let token = cas.sign(&pat)?;
    let record = PatRecord {
        jti: pat.jti.clone(),
        holder: Some(holder),
        expires: pat.exp,
    };
    let (key, by_find_token) = match assertion {
        Assertion::FindToken(key) => (key, true),
        Assertion::Provider(jti) => (format!("provider assertion {jti}"), false),
    };
    // Lock order state, then audit (as clear): the epoch cannot move under this PAT.
    let mut audit = cas.audit();
    let attribution = (key.clone(), audit.epoch);
    cas.persist(|| {
        let mut ops = vec![Op::put(Scope::Live, K_PAT, &pat.jti, &record)?];
        if by_find_token {
            ops.push(Op::put(Scope::Live, K_PAT_BY_ASSERTION, &key, &pat)?);
        }
        ops.push(Op::put(Scope::Kept, K_AUDIT_PAT, &pat.jti, &attribution)?);
        Ok(ops)
    })?;
    audit.pats.insert(pat.jti.clone(), attribution);
    drop(audit);
    state.pats.insert(pat.jti.clone(), record);
    if by_find_token {
        state.pat_by_assertion.insert(key, token.clone());
    }
    Ok((token, pat.jti))
}

/// What a PAT is issued for: a find token (by its [`assertion_key`]) or the provider's own
/// assertion (by its `jti`).
enum Assertion {
    FindToken(String),
    Provider(String),
}

/// The PAT refresh route: a jwt-bearer assertion the provider signs itself, with a key
/// registered for its holdername (`iss` and `sub` = the holdername GUID, `aud` = this C&A's
/// token URL, `exp - iat` at most 5 minutes, a `jti` never used before). Every refusal names
/// the check that failed.
fn issue_refreshed_pat(cas: &Cas, assertion: &str, iss: &str) -> Issued {
    let s = &cas.inner.settings;
    let holder = iss.to_ascii_lowercase();
    let Some(keys) = cas
        .state()
        .registry
        .pat_assertion_keys
        .get(&holder)
        .cloned()
    else {
        return refuse(
            TokenErrorCode::InvalidClient,
            format!(
                "assertion rejected: iss {iss:?} is neither the pension finder ({:?}) nor a holdername GUID with PAT assertion keys registered at this C&A ([provider] pat_assertion_keys)",
                s.finder_issuer
            ),
        );
    };
    let audience = crate::protocol::contract::cas_token_url(cas.base_url());
    let claims: Value = match jwt::verify(
        assertion,
        &keys,
        &Expect {
            issuer: Some(iss),
            audience: Some(&audience),
            required: &["sub", "iat", "jti"],
        },
    ) {
        Ok(c) => c,
        Err(e @ (jwt::TokenError::UnknownKey(_) | jwt::TokenError::MissingKid)) => {
            return refuse(
                TokenErrorCode::InvalidClient,
                format!(
                    "assertion rejected: {e}: it is not a PAT assertion key registered for holdername {holder}"
                ),
            );
        }
        Err(jwt::TokenError::WrongAudience(_)) => {
            return refuse(
                TokenErrorCode::InvalidGrant,
                format!("assertion rejected: aud must be this C&A's token URL {audience:?}"),
            );
        }
        Err(e) => {
            return refuse(
                TokenErrorCode::InvalidGrant,
                format!("assertion rejected: {e}"),
            );
        }
    };
    if claims["sub"].as_str() != Some(iss) {
        return refuse(
            TokenErrorCode::InvalidGrant,
            format!(
                "assertion rejected: sub {} must be the holdername GUID, as iss {iss:?} is",
                claims["sub"]
            ),
        );
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return refuse(
            TokenErrorCode::InvalidGrant,
            "assertion rejected: iat and exp must be NumericDates (integers)",
        );
    };
    if exp - iat > PAT_ASSERTION_MAX_LIFETIME_SECS {
        return refuse(
            TokenErrorCode::InvalidGrant,
            format!(
                "assertion rejected: its lifetime (exp - iat) is {} s; at most {PAT_ASSERTION_MAX_LIFETIME_SECS} s (5 minutes) is accepted",
                exp - iat
            ),
        );
    }
    let jti = claims["jti"].as_str().unwrap_or_default();
    let now = jwt::now_epoch();
    let mut state = cas.state();
    let seen = &mut state.registry.seen_assertion_jtis;
    seen.retain(|_, until| *until + jwt::LEEWAY_SECS >= now);
    let seen_key = format!("{holder} {jti}");
    if seen.contains_key(&seen_key) {
        return refuse(
            TokenErrorCode::InvalidGrant,
            format!(
                "assertion rejected: jti {jti:?} was already used: each assertion is good for one PAT"
            ),
        );
    }
    if seen.len() >= SEEN_JTI_CAP {
        return refuse(
            TokenErrorCode::InvalidGrant,
            "assertion rejected: too many PAT assertions in the last 5 minutes",
        );
    }
    seen.insert(seen_key, exp);
    let lifetime = s.lifetimes.refreshed_pat;
    let token = mint_pat(
        cas,
        &mut state,
        holder.clone(),
        holder,
        lifetime,
        Assertion::Provider(jti.to_owned()),
    )?;
    drop(state);
    Ok(Json(
        json!({ "access_token": token.0, "token_type": TokenType::Pat }),
    ))
}

fn issue_rpt(
    cas: &Cas,
    scope: Option<&str>,
    ticket: Option<&str>,
    claim_token: Option<&str>,
    claim_token_format: Option<&str>,
) -> Issued {
    if scope != Some("owner") {
        return refuse(
            TokenErrorCode::InvalidScope,
            "the uma-ticket grant issues RPTs for scope owner",
        );
    }
    let Some(ticket) = ticket else {
        return refuse(TokenErrorCode::InvalidRequest, "ticket is required");
    };
    let Some(claim_token) = claim_token else {
        return refuse(TokenErrorCode::InvalidRequest, "claim_token is required");
    };
    if !matches!(claim_token_format, Some(RQP_FORMAT | RQP_FORMAT_TYPO)) {
        return refuse(
            TokenErrorCode::InvalidRequest,
            "claim_token_format must be pension_dashboard_rqp",
        );
    }
    let s = &cas.inner.settings;
    let rqp: Value = match jwt::verify(
        claim_token,
        &cas.inner.trusted,
        &Expect {
            issuer: Some(&s.dashboard_issuer),
            ..Expect::default()
        },
    ) {
        Ok(c) => c,
        Err(e) => {
            return refuse(
                TokenErrorCode::InvalidGrant,
                format!("claim token rejected: {e}"),
            );
        }
    };
    let ticket_claims = match cas.verify_own(ticket, TokenType::Ticket) {
        Ok(c) => c,
        Err(e) => {
            return refuse(
                TokenErrorCode::InvalidGrant,
                format!("ticket rejected: {e}"),
            );
        }
    };
    let now = jwt::now_epoch();
    let mut state = cas.state();
    let Some(record) = state.tickets.get_mut(&ticket_claims.jti) else {
        return refuse(
            TokenErrorCode::InvalidGrant,
            "ticket was not issued by this C&A",
        );
    };
    if record.redeemed {
        return refuse(
            TokenErrorCode::InvalidGrant,
            "ticket has already been redeemed",
        );
    }
    let mut redeemed = record.clone();
    redeemed.redeemed = true;
    cas.persist(|| {
        Ok(vec![Op::put(
            Scope::Live,
            K_TICKET,
            &ticket_claims.jti,
            &redeemed,
        )?])
    })?;
    record.redeemed = true;
    let resource_id = record.resource_id.clone();
    // A deleted PeI ends access to it: its outstanding tickets no longer redeem.
    let live = state
        .registrations
        .iter()
        .any(|r| r.resource_id == resource_id && r.deleted.is_none());
    if !live {
        return refuse(
            TokenErrorCode::InvalidGrant,
            "the PeI this ticket was issued for has been deleted",
        );
    }
    let Some(record) = state.tickets.get(&ticket_claims.jti) else {
        return refuse(
            TokenErrorCode::InvalidGrant,
            "ticket was not issued by this C&A",
        );
    };
    let exp = now + s.lifetimes.rpt.as_secs() as i64;
    let rpt = CasClaims {
        iss: s.issuer.clone(),
        sub: rqp["sub"].as_str().unwrap_or("dashboard-user").to_owned(),
        iat: now,
        exp,
        jti: uuid::Uuid::new_v4().to_string(),
        token_type: TokenType::Rpt,
        scope: Some("owner".to_owned()),
        holder: None,
        permissions: Some(vec![Permission {
            resource_id: record.resource_id.clone(),
            resource_scopes: record.scopes.clone(),
            exp,
        }]),
        azp: Some(s.dashboard_issuer.clone()),
    };
    let token = cas.sign(&rpt)?;
    cas.persist(|| Ok(vec![Op::put(Scope::Live, K_RPT, &rpt.jti, &exp)?]))?;
    state.rpts.insert(rpt.jti.clone(), exp);
    drop(state);
    cas.changed();
    Ok(Json(
        json!({ "access_token": token, "token_type": TokenType::Rpt }),
    ))
}

/// What `/token` answers: the token, or the OAuth error.
type Issued = Result<Json<Value>, CasError>;

/// A `/token` refusal: the OAuth error `code` and what failed.
fn refuse<T>(code: TokenErrorCode, description: impl Into<String>) -> Result<T, CasError> {
    Err(CasError::token(code, description))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::pki::SigningKey;
    use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

    /// The memory of used PAT assertion `jti`s is bounded: an entry is forgotten once its
    /// assertion would have expired anyway (so at most 5 minutes' worth is kept), while a live
    /// one still refuses its replay.
    #[test]
    fn used_assertion_jtis_are_forgotten_once_their_assertion_expired() {
        let keys = SigningKey::generate_all(&["cas", "pat"]).expect("keys");
        let (cas_key, pat_key) = (&keys[0], &keys[1]);
        let cas = Cas::new(
            crate::cda::service::cas_settings(&crate::protocol::contract::WireContract::default()),
            cas_key.clone(),
            crate::net::pki::jwks_of([cas_key]),
        );
        cas.set_base_url("https://cas.test".to_owned());
        let holder = "6f1c0f2e-8c5a-4d0e-9a43-2b7d9e0c1a55";
        cas.register_pat_assertion_keys(holder, &crate::net::pki::jwks_of([pat_key]));
        let now = jwt::now_epoch();
        cas.state()
            .registry
            .seen_assertion_jtis
            .insert(format!("{holder} long-expired"), now - 600);
        let assertion = |jti: &str| {
            pat_key
                .sign(&json!({
                    "iss": holder, "sub": holder, "aud": "https://cas.test/token",
                    "iat": now, "exp": now + 60, "jti": jti,
                }))
                .expect("signed")
        };
        let status = |issued: Issued| issued.map_or_else(|e| e.status(), |_| StatusCode::OK);
        let first = status(issue_refreshed_pat(&cas, &assertion("j-1"), holder));
        assert_eq!(first, StatusCode::OK);
        let seen: Vec<String> = cas
            .state()
            .registry
            .seen_assertion_jtis
            .keys()
            .cloned()
            .collect();
        assert_eq!(seen, vec![format!("{holder} j-1")]);
        let replay = status(issue_refreshed_pat(&cas, &assertion("j-1"), holder));
        assert_eq!(replay, StatusCode::BAD_REQUEST);
        // A clear-down keeps the registry: the replay is still refused after it.
        cas.clear().expect("cleared");
        let replay = status(issue_refreshed_pat(&cas, &assertion("j-1"), holder));
        assert_eq!(replay, StatusCode::BAD_REQUEST);
    }

    /// A PAT past its `exp` and the clock leeway is "expired" when the C&A knows it (the
    /// provider's cue to refresh, which the audit does not count), and "not known" after a
    /// clear-down (late activity).
    #[tokio::test]
    async fn a_long_expired_pat_is_named_expired_unless_a_clear_down_forgot_it() {
        let key = SigningKey::generate("cas").expect("key");
        let cas = Cas::new(
            crate::cda::service::cas_settings(&crate::protocol::contract::WireContract::default()),
            key.clone(),
            crate::net::pki::jwks_of([&key]),
        );
        let (_, jti) = {
            let mut state = cas.state();
            mint_pat(
                &cas,
                &mut state,
                "p".to_owned(),
                "h".to_owned(),
                Duration::ZERO,
                Assertion::FindToken("a".to_owned()),
            )
            .expect("minted")
        };
        let now = jwt::now_epoch();
        let old = cas
            .sign(&CasClaims {
                iss: cas.inner.settings.issuer.clone(),
                sub: "p".to_owned(),
                iat: now - 120,
                exp: now - 60,
                jti,
                token_type: TokenType::Pat,
                scope: None,
                holder: Some("h".to_owned()),
                permissions: None,
                azp: None,
            })
            .expect("signed");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {old}")).expect("header"),
        );
        let reason = |refused: CasError| {
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
            refused.to_string()
        };
        let err = cas.authenticate_pat(&headers).expect_err("expired");
        let why = reason(err);
        assert!(why.starts_with(super::super::PAT_EXPIRED), "{why}");
        cas.clear().expect("cleared");
        let err = cas.authenticate_pat(&headers).expect_err("forgotten");
        let why = reason(err);
        assert!(why.contains("not known to the C&A"), "{why}");
    }
}
