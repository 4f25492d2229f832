//! The PAT model (issues 14 item 8, 17 item 0, 20 item 7): find tokens shaped as the MaPS stub's
//! user assertion, PATs issued for the registered holdername, the PAT refresh route (an
//! assertion the provider signs with its own registered key), resources bound to the
//! holdername, and a reference provider that refreshes an expired PAT. Over real mTLS sockets.

use crate::common;

use std::time::Duration;

use pdp_harness::cda::cas::{PAT_EXPIRED, RreguriCall};
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::harness::environment::Environment;
use pdp_harness::harness::updates::MatchUpdateFile;
use pdp_harness::net::pki::{SigningKey, jwks_of};
use pdp_harness::protocol::contract::FindData;
use pdp_harness::provider::{Fault, Faults};
use pdp_harness::record::run::{Status, Verdict};
use pdp_harness::runner::Pack;
use serde_json::{Value, json};

fn persona_of(env: &Environment, case: &str) -> FindData {
    let case = env.pack.case(case).expect("case");
    FindData::of(env.pack.persona(case.persona.get_ref()).expect("persona"))
}

use common::{cas_client, member, rid};

fn token_url(env: &Environment) -> String {
    format!("{}/token", env.cas.base_url())
}

/// `/token` with a jwt-bearer assertion: (status, body).
async fn token(env: &Environment, assertion: &str) -> (u16, Value) {
    let resp = cas_client(env)
        .post(token_url(env))
        .header("X-Request-ID", rid())
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("scope", "uma_protection"),
            ("assertion", assertion),
        ])
        .send()
        .await
        .expect("/token answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

async fn pat(env: &Environment, assertion: &str) -> String {
    let (status, body) = token(env, assertion).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("PAT").to_owned()
}

/// A provider-signed PAT assertion for `holder`; `over` replaces claims (null removes one).
fn assertion(key: &SigningKey, env: &Environment, holder: &str, over: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": holder, "sub": holder, "aud": token_url(env),
        "iat": now, "exp": now + 120, "jti": rid(),
    });
    if let (Some(c), Value::Object(o)) = (claims.as_object_mut(), over) {
        for (k, v) in o {
            if v.is_null() {
                c.remove(&k);
            } else {
                c.insert(k, v);
            }
        }
    }
    key.sign(&claims).expect("signed")
}

/// A find token of the persona with `over` replacing claims, signed by the finder's key.
fn find_token(env: &Environment, over: Value) -> String {
    let mut claims = env.finder.claims(&member(env), 60);
    if let Value::Object(o) = over {
        claims.extend(o);
    }
    env.finder.key.sign(&claims).expect("signed")
}

/// A C&A call with `pat`: (status, body text).
async fn call(
    env: &Environment,
    method: reqwest::Method,
    path: &str,
    pat: &str,
    body: Option<Value>,
) -> (u16, String) {
    let mut req = cas_client(env)
        .request(method, format!("{}{path}", env.cas.base_url()))
        .header("X-Request-ID", rid())
        .bearer_auth(pat);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("the C&A answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

fn registration(holder: &str) -> Value {
    json!({
        "name": format!("urn:pei:{holder}:{}", rid()),
        "description": "Northwind Workplace Pension Scheme",
        "match_status": "match-possible",
        "inbound_request_id": rid(),
        "resource_scopes": ["owner", "value", "delegate"],
    })
}

#[tokio::test]
async fn find_tokens_are_shaped_as_the_stubs_user_assertion_and_each_claim_is_configurable() {
    let env = common::environment(Faults::none()).await;
    let token = env.finder.find_token(&member(&env)).expect("token");
    let c = pdp_harness::net::jwt::peek_claims(&token).expect("claims");
    assert_eq!(c["aud"], token_url(&env), "{c}");
    assert_eq!(c["iss"], "http://pensionsdashboard.org/pfsissuer");
    for n in ["nbf", "iat", "exp"] {
        assert!(c[n].is_i64(), "{n}: {c}");
    }
    assert!(c["sub"].is_string(), "{c}");
    let name = c["name"].as_str().expect("name");
    assert!(
        name.len() == 40 && name.chars().all(|ch| ch.is_ascii_hexdigit()),
        "{name}"
    );
    assert!(c.get("jti").is_none(), "no jti: {c}");
    // The reference provider takes it (verifying aud = the C&A) and registers.
    let outcome = env.finder.send_token(&token).await;
    assert_eq!(outcome.status, Some(202), "{}", outcome.body);
    let registered = env
        .cas
        .wait_for(Duration::from_secs(10), |r| (!r.is_empty()).then_some(()))
        .await;
    assert!(registered.is_some(), "registered from a token without jti");
    env.shutdown();

    // [contract.find] changes each claim, and both sides follow.
    let mut config = TargetConfig::default();
    config.contract.find.audience = Some("holdername".to_owned());
    config.contract.find.include_jti = true;
    config.contract.find.include_nbf = false;
    config.contract.find.include_name = false;
    let env = common::environment_with(Faults::none(), &config).await;
    let token = env.finder.find_token(&member(&env)).expect("token");
    let c = pdp_harness::net::jwt::peek_claims(&token).expect("claims");
    assert_eq!(c["aud"], env.pack.holdername_guid(), "{c}");
    assert!(c["jti"].is_string(), "{c}");
    assert!(c.get("nbf").is_none() && c.get("name").is_none(), "{c}");
    let outcome = env.finder.send_token(&token).await;
    assert_eq!(outcome.status, Some(202), "{}", outcome.body);
    let registered = env
        .cas
        .wait_for(Duration::from_secs(10), |r| (!r.is_empty()).then_some(()))
        .await;
    assert!(registered.is_some());
    env.shutdown();
}

#[tokio::test]
async fn the_cas_issues_no_pat_for_a_find_token_addressed_to_another_holder() {
    let env = common::environment(Faults::none()).await;
    let holder = env.pack.holdername_guid().to_owned();
    let good = env.finder.find_token(&member(&env)).expect("token");
    let first = pat(&env, &good).await;
    let claims = pdp_harness::net::jwt::peek_claims(&first).expect("claims");
    assert_eq!(claims["holder"], holder.to_ascii_lowercase(), "{claims}");
    // Without a jti the PAT is keyed by the whole assertion: the same token, the same PAT.
    assert_eq!(pat(&env, &good).await, first);
    let other = env.finder.find_token(&member(&env)).expect("token");
    assert_ne!(pat(&env, &other).await, first);

    let elsewhere = rid();
    let misaddressed = find_token(&env, json!({ "aud": elsewhere }));
    let (status, body) = token(&env, &misaddressed).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let why = body["error_description"].as_str().unwrap_or_default();
    assert!(
        why.contains(&format!("addressed to \"{elsewhere}\"")) && why.contains(&token_url(&env)),
        "{why}"
    );
    // The provider refuses such a find too (FN-04).
    assert_eq!(env.finder.send_token(&misaddressed).await.status, Some(401));
    env.shutdown();

    // With find tokens addressed to holdernames, another holder's GUID is refused as well.
    let mut config = TargetConfig::default();
    config.contract.find.audience = Some("holdername".to_owned());
    let env = common::environment_with(Faults::none(), &config).await;
    pat(&env, &env.finder.find_token(&member(&env)).expect("token")).await;
    let (status, body) = token(&env, &find_token(&env, json!({ "aud": elsewhere }))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("addressed to another holder")),
        "{body}"
    );
    env.shutdown();
}

#[tokio::test]
async fn the_pat_refresh_route_gives_a_pat_and_refuses_each_bad_assertion_naming_the_check() {
    let env = common::environment(Faults::none()).await;
    let holder = env.pack.holdername_guid().to_owned();
    let key = SigningKey::generate("test-pat-1").expect("key");
    env.cas
        .register_pat_assertion_keys(&holder, &jwks_of([&key]));
    let fresh = pat(&env, &assertion(&key, &env, &holder, json!({}))).await;
    let (status, text) = call(
        &env,
        reqwest::Method::POST,
        "/rreguri",
        &fresh,
        Some(registration(&holder)),
    )
    .await;
    assert_eq!(status, 201, "a refreshed PAT registers: {text}");

    let now = chrono::Utc::now().timestamp();
    let unregistered = SigningKey::generate("not-registered").expect("key");
    let impostor = SigningKey::generate("test-pat-1").expect("key");
    let replayed = rid();
    pat(
        &env,
        &assertion(&key, &env, &holder, json!({ "jti": replayed })),
    )
    .await;
    let stranger = rid();
    let cases = [
        (
            "iss not a registered holdername",
            assertion(&key, &env, &stranger, json!({})),
            "invalid_client",
            "neither the pension finder",
        ),
        (
            "sub not the holdername",
            assertion(&key, &env, &holder, json!({ "sub": rid() })),
            "invalid_grant",
            "must be the holdername GUID",
        ),
        (
            "expired",
            assertion(
                &key,
                &env,
                &holder,
                json!({ "iat": now - 200, "exp": now - 60 }),
            ),
            "invalid_grant",
            "expired",
        ),
        (
            "lifetime over 5 minutes",
            assertion(&key, &env, &holder, json!({ "iat": now, "exp": now + 301 })),
            "invalid_grant",
            "at most 300 s",
        ),
        (
            "replayed jti",
            assertion(&key, &env, &holder, json!({ "jti": replayed })),
            "invalid_grant",
            "already used",
        ),
        (
            "unregistered key",
            assertion(&unregistered, &env, &holder, json!({})),
            "invalid_client",
            "not a PAT assertion key registered for holdername",
        ),
        (
            "a registered kid, another key",
            assertion(&impostor, &env, &holder, json!({})),
            "invalid_grant",
            "signature does not verify",
        ),
        (
            "aud not the C&A",
            assertion(
                &key,
                &env,
                &holder,
                json!({ "aud": "https://elsewhere.invalid/token" }),
            ),
            "invalid_grant",
            "aud must be this C&A's token URL",
        ),
        (
            "no jti",
            assertion(&key, &env, &holder, json!({ "jti": null })),
            "invalid_grant",
            "jti",
        ),
    ];
    for (what, a, code, reason) in &cases {
        let (status, body) = token(&env, a).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["error"], *code, "{what}: {body}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(reason), "{what}: {description}");
    }
    env.shutdown();
}

#[tokio::test]
async fn resources_are_bound_to_the_holdername_and_another_holders_pat_cannot_act_on_them() {
    let env = common::environment(Faults::none()).await;
    let a = env.pack.holdername_guid().to_owned();
    let b = rid();
    let (key_a, key_b) = (
        SigningKey::generate("a-pat").expect("key"),
        SigningKey::generate("b-pat").expect("key"),
    );
    env.cas.register_pat_assertion_keys(&a, &jwks_of([&key_a]));
    env.cas.register_pat_assertion_keys(&b, &jwks_of([&key_b]));
    // Holder A registers with the PAT of a find token.
    let find_pat = pat(&env, &env.finder.find_token(&member(&env)).expect("token")).await;
    let (status, text) = call(
        &env,
        reqwest::Method::POST,
        "/rreguri",
        &find_pat,
        Some(registration(&a)),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let id = serde_json::from_str::<Value>(&text).expect("json")["resource_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let item = format!("/rreguri/{id}");
    let perm = json!({ "resource_id": id, "resource_scopes": ["value", "owner"] });
    let patch = json!({ "match_status": "match-yes" });

    // Holder B's PAT can do nothing with it.
    let pat_b = pat(&env, &assertion(&key_b, &env, &b, json!({}))).await;
    for (method, path, body) in [
        (reqwest::Method::GET, item.clone(), None),
        (reqwest::Method::PATCH, item.clone(), Some(patch.clone())),
        (
            reqwest::Method::DELETE,
            format!("{item}?deletion_reason=match-no"),
            None,
        ),
        (
            reqwest::Method::POST,
            "/perm".to_owned(),
            Some(perm.clone()),
        ),
    ] {
        let (status, text) = call(&env, method.clone(), &path, &pat_b, body).await;
        assert_eq!(status, 401, "{method} {path} with holder B's PAT: {text}");
        assert!(text.contains("another holdername GUID"), "{text}");
    }
    // Nor register under A's holdername.
    let (status, text) = call(
        &env,
        reqwest::Method::POST,
        "/rreguri",
        &pat_b,
        Some(registration(&a)),
    )
    .await;
    assert_eq!(status, 400, "{text}");

    // Any live PAT of holder A may: a refreshed one, not the one that registered it.
    let pat_a = pat(&env, &assertion(&key_a, &env, &a, json!({}))).await;
    assert_ne!(pat_a, find_pat);
    assert_eq!(
        call(&env, reqwest::Method::POST, "/perm", &pat_a, Some(perm))
            .await
            .0,
        201
    );
    assert_eq!(
        call(&env, reqwest::Method::PATCH, &item, &pat_a, Some(patch))
            .await
            .0,
        200
    );
    assert_eq!(
        call(
            &env,
            reqwest::Method::DELETE,
            &format!("{item}?deletion_reason=match-withdrawn"),
            &pat_a,
            None
        )
        .await
        .0,
        204
    );
    env.shutdown();
}

/// The POSTs to /rreguri the C&A has seen so far.
fn posts(env: &Environment) -> Vec<RreguriCall> {
    env.cas
        .rreguri_calls_after(0)
        .into_iter()
        .filter(|c| c.method == "POST")
        .collect()
}

/// Find tokens' PATs that expire at once: [contract.pat] find_pat_lifetime_secs = 0.
fn expiring_pats() -> TargetConfig {
    let mut config = TargetConfig::default();
    config.contract.pat.find_pat_lifetime_secs = 0;
    config
}

#[tokio::test]
async fn a_provider_whose_pat_expired_refreshes_it_and_registers() {
    let env = common::environment_with(Faults::none(), &expiring_pats()).await;
    let outcome = env.finder.send(&member(&env)).await;
    assert_eq!(outcome.status, Some(202), "{}", outcome.body);
    let registered = env
        .cas
        .wait_for(Duration::from_secs(10), |r| (!r.is_empty()).then_some(()))
        .await;
    assert!(registered.is_some(), "{:#?}", posts(&env));
    let calls = posts(&env);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[0].status, 401, "{calls:#?}");
    assert!(
        calls[0]
            .refusal
            .as_deref()
            .is_some_and(|r| r.starts_with(PAT_EXPIRED)),
        "{calls:#?}"
    );
    assert_eq!(calls[1].status, 201, "{calls:#?}");
    assert!(
        calls[1]
            .assertion_jti
            .as_deref()
            .is_some_and(|a| a.starts_with("provider assertion ")),
        "the retry used a refreshed PAT: {calls:#?}"
    );
    assert_eq!(calls[0].inbound_request_id, calls[1].inbound_request_id);
    env.shutdown();
}

#[tokio::test]
async fn a_provider_that_never_refreshes_an_expired_pat_fails_the_registration() {
    // The correct provider passes under PATs that expire at once; the one that never refreshes
    // fails the scenario that registers, at the registration step, naming the expired PAT.
    let dir = tempfile::tempdir().expect("temp dir");
    let good = common::run_pack_with(
        Pack::ConnectionProving,
        Faults::none(),
        dir.path(),
        expiring_pats(),
    )
    .await;
    assert_eq!(
        good.verdict,
        Verdict::Passed,
        "{:#?}",
        common::statuses(&good)
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let record = common::run_pack_with(
        Pack::ConnectionProving,
        Faults::none().with(Fault::NeverRefreshesPat),
        dir.path(),
        expiring_pats(),
    )
    .await;
    assert_eq!(record.verdict, Verdict::Failed);
    let (step, msg) = common::failed_step(&record, "CP-01");
    assert!(
        step.starts_with("exactly the PeIs expected by the test pack are registered"),
        "{step}: {msg}"
    );
    assert!(msg.contains(PAT_EXPIRED), "{msg}");
    assert_eq!(common::scenario(&record, "CP-01").status, Status::Failed);
}

#[tokio::test]
async fn stage_2_updates_go_with_a_refreshed_pat_not_the_finds() {
    for (faults, refreshed) in [
        (Faults::none(), true),
        (Faults::none().with(Fault::NeverRefreshesPat), false),
    ] {
        let env = common::environment(faults).await;
        let outcome = env.finder.send(&persona_of(&env, "S1-05")).await;
        assert_eq!(outcome.status, Some(202), "{}", outcome.body);
        let registered = env
            .cas
            .wait_for(Duration::from_secs(10), |r| (!r.is_empty()).then_some(()))
            .await;
        assert!(registered.is_some());
        let (mut file, _) = MatchUpdateFile::plan(&env.pack, &env.cas.registrations(), "run");
        file.updates.retain(|u| u.update_id == "U-01");
        assert_eq!(file.updates.len(), 1, "U-01 confirms S1-05's PeI");
        let applied = env.apply_match_updates(file).await.expect("applied");
        assert!(applied.iter().all(|a| a.applied), "{applied:#?}");
        let calls = env.cas.rreguri_calls_after(0);
        let post = calls.iter().find(|c| c.method == "POST").expect("POST");
        let patch = calls.iter().find(|c| c.method == "PATCH").expect("PATCH");
        assert_eq!(patch.status, 200, "{calls:#?}");
        let by_refresh = patch
            .assertion_jti
            .as_deref()
            .is_some_and(|a| a.starts_with("provider assertion "));
        assert_eq!(by_refresh, refreshed, "{calls:#?}");
        assert_eq!(patch.pat_jti != post.pat_jti, refreshed, "{calls:#?}");
        env.shutdown();
    }
}
