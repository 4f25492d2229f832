//! Tampered and expired tokens are refused wherever they arrive: the provider's find
//! endpoint, the C&A's /token, /rreguri and /introspect, and the dashboard's check of a view
//! data token. Over real mTLS sockets.

use crate::common;

use std::time::Duration;

use base64::Engine;
use pdp_harness::harness::environment::Environment;
use serde_json::{Value, json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Change one claim of a signed token and keep the old signature.
fn tamper(token: &str, claim: &str, value: Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&B64.decode(parts[1]).expect("base64")).expect("json");
    payload[claim] = value;
    let body = B64.encode(serde_json::to_vec(&payload).expect("json"));
    format!("{}.{}.{}", parts[0], body, parts[2])
}

use common::{cas_client, member, rid};

async fn pat_for(env: &Environment, assertion: &str) -> reqwest::Response {
    cas_client(env)
        .post(format!("{}/token", env.cas.base_url()))
        .header("X-Request-ID", rid())
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("scope", "uma_protection"),
            ("assertion", assertion),
        ])
        .send()
        .await
        .expect("/token answers")
}

#[tokio::test]
async fn the_provider_refuses_tampered_and_expired_find_tokens_and_registers_nothing() {
    let env = common::environment(Default::default()).await;
    let good = env.finder.find_token(&member(&env)).expect("token");
    let tampered = tamper(&good, "aud", json!(uuid::Uuid::new_v4().to_string()));
    let expired = env
        .finder
        .key
        .sign(&env.finder.claims(&member(&env), -120))
        .expect("token");
    for (what, token) in [("tampered", tampered), ("expired", expired)] {
        let outcome = env.finder.send_token(&token).await;
        assert_eq!(outcome.status, Some(401), "{what}: {}", outcome.body);
        assert!(
            outcome.body.contains("find request token rejected"),
            "{what}: {}",
            outcome.body
        );
    }
    let registered = env
        .cas
        .wait_for(Duration::from_millis(500), |r| {
            (!r.is_empty()).then_some(())
        })
        .await;
    assert!(
        registered.is_none(),
        "nothing may be registered from a refused find"
    );
    // The genuine token is accepted and leads to a registration.
    let outcome = env.finder.send_token(&good).await;
    assert_eq!(outcome.status, Some(202));
    let registered = env
        .cas
        .wait_for(Duration::from_secs(10), |r| (!r.is_empty()).then_some(()))
        .await;
    assert!(registered.is_some());
}

#[tokio::test]
async fn the_cas_refuses_tampered_and_expired_assertions_and_missing_request_ids() {
    let env = common::environment(Default::default()).await;
    let good = env.finder.find_token(&member(&env)).expect("token");
    let expired = env
        .finder
        .key
        .sign(&env.finder.claims(&member(&env), -120))
        .expect("token");
    for (what, assertion) in [
        ("tampered", tamper(&good, "sub", json!("someone-else"))),
        ("expired", expired),
    ] {
        let resp = pat_for(&env, &assertion).await;
        assert_eq!(resp.status(), 400, "{what}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
    }
    let resp = cas_client(&env)
        .post(format!("{}/token", env.cas.base_url()))
        .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")])
        .send()
        .await
        .expect("answers");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
    let resp = pat_for(&env, &good).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "pension_dashboard_pat");
}

async fn register(env: &Environment, pat: &str, asset: &str, status: &str) -> reqwest::Response {
    cas_client(env)
        .post(format!("{}/rreguri", env.cas.base_url()))
        .header("X-Request-ID", rid())
        .bearer_auth(pat)
        .json(&json!({
            "name": format!("urn:pei:{}:{asset}", env.pack.holdername_guid()),
            "description": "Northwind Workplace Pension Scheme",
            "match_status": status,
            "inbound_request_id": rid(),
            "resource_scopes": ["owner", "value", "delegate"],
        }))
        .send()
        .await
        .expect("rreguri answers")
}

async fn valid_pat(env: &Environment) -> String {
    let token = env.finder.find_token(&member(env)).expect("token");
    let body: Value = pat_for(env, &token).await.json().await.expect("json");
    body["access_token"].as_str().expect("PAT").to_owned()
}

#[tokio::test]
async fn rreguri_refuses_a_tampered_pat_and_enforces_the_state_rules() {
    let env = common::environment(Default::default()).await;
    let pat = valid_pat(&env).await;
    let asset = uuid::Uuid::new_v4().to_string();
    let tampered = tamper(&pat, "sub", json!("intruder"));
    assert_eq!(
        register(&env, &tampered, &asset, "match-yes")
            .await
            .status(),
        401
    );

    let resp = register(&env, &pat, &asset, "match-yes").await;
    assert_eq!(resp.status(), 201);
    assert!(resp.headers().get("location").is_some());
    let id = resp.json::<Value>().await.expect("json")["resource_id"]
        .as_str()
        .expect("id")
        .to_owned();
    // Registering the same name again answers 200 with the same resource.
    let again = register(&env, &pat, &asset, "match-yes").await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Value>().await.expect("json")["resource_id"],
        id.as_str()
    );

    let client = cas_client(&env);
    let delete = |reason: &'static str| {
        client
            .delete(format!("{}/rreguri/{id}", env.cas.base_url()))
            .query(&[("deletion_reason", reason)])
            .header("X-Request-ID", rid())
            .bearer_auth(&pat)
            .send()
    };
    // match-no is for possible matches only.
    assert_eq!(delete("match-no").await.expect("answers").status(), 400);
    assert_eq!(delete("bogus").await.expect("answers").status(), 400);
    assert_eq!(
        delete("match-withdrawn").await.expect("answers").status(),
        204
    );
    let get = client
        .get(format!("{}/rreguri/{id}", env.cas.base_url()))
        .header("X-Request-ID", rid())
        .bearer_auth(&pat)
        .send()
        .await
        .expect("answers");
    assert_eq!(get.status(), 404);
    let reg = env.cas.registration(&id).expect("kept for evidence");
    assert_eq!(reg.deleted.expect("deleted").reason, "match-withdrawn");

    // A bad name is a field error.
    let bad = cas_client(&env)
        .post(format!("{}/rreguri", env.cas.base_url()))
        .header("X-Request-ID", rid())
        .bearer_auth(&pat)
        .json(&json!({"name": "pei:not-a-urn", "description": "x", "match_status": "match-yes", "resource_scopes": ["owner"]}))
        .send()
        .await
        .expect("answers");
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body[0]["field"], "name");
}

#[tokio::test]
async fn introspection_refuses_a_tampered_rpt_and_the_dashboard_a_tampered_view_token() {
    let env = common::environment(Default::default()).await;
    let outcome = env.finder.send(&member(&env)).await;
    assert_eq!(outcome.status, Some(202));
    let reg = env
        .cas
        .wait_for(Duration::from_secs(10), |r| r.first().cloned())
        .await
        .expect("registered");
    let flow = env
        .dashboard
        .obtain_view_token(reg.asset_guid().expect("asset"))
        .await
        .expect("UMA flow succeeds");
    assert!(env.dashboard.verify_view_token(&flow.token).await.is_ok());
    let forged = tamper(&flow.token, "view_data", json!({"arrangements": []}));
    let err = env
        .dashboard
        .verify_view_token(&forged)
        .await
        .expect_err("tampered");
    assert!(err.message.contains("signature does not verify"), "{err}");

    // The provider's PAT is not ours to see, so introspect as another registrant: a tampered
    // RPT is refused before any ownership question.
    let pat = valid_pat(&env).await;
    let resp = cas_client(&env)
        .post(format!("{}/introspect", env.cas.base_url()))
        .header("X-Request-ID", rid())
        .bearer_auth(&pat)
        .form(&[("token", tamper(&flow.rpt, "exp", json!(4_102_444_800i64)))])
        .send()
        .await
        .expect("answers");
    assert_eq!(resp.status(), 400);

    // A view request with a tampered RPT gets a fresh challenge, not data.
    let resp = env
        .dashboard
        .call_view(
            reg.asset_guid().expect("asset"),
            Some(&tamper(&flow.rpt, "sub", json!("x"))),
        )
        .await
        .expect("answers");
    assert_eq!(resp.status, 401);
    assert!(resp.header("www-authenticate").is_some());
}

#[tokio::test]
async fn a_possible_match_can_be_patched_to_match_yes_and_only_to_match_yes() {
    let env = common::environment(Default::default()).await;
    let pat = valid_pat(&env).await;
    let asset = uuid::Uuid::new_v4().to_string();
    let resp = register(&env, &pat, &asset, "match-possible").await;
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.expect("json")["resource_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let client = cas_client(&env);
    let patch = |status: &'static str, with_id: bool| {
        let mut req = client
            .patch(format!("{}/rreguri/{id}", env.cas.base_url()))
            .bearer_auth(&pat)
            .json(&json!({ "match_status": status }));
        if with_id {
            req = req.header("X-Request-ID", rid());
        }
        req.send()
    };
    assert_eq!(
        patch("match-yes", false).await.expect("answers").status(),
        400,
        "X-Request-ID is required"
    );
    assert_eq!(
        patch("match-no", true).await.expect("answers").status(),
        400
    );
    assert_eq!(
        patch("match-yes", true).await.expect("answers").status(),
        200
    );
    let got: Value = client
        .get(format!("{}/rreguri/{id}", env.cas.base_url()))
        .header("X-Request-ID", rid())
        .bearer_auth(&pat)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(got["match_status"], "match-yes");
    for field in [
        "resource_id",
        "name",
        "description",
        "match_status",
        "resource_scopes",
    ] {
        assert!(
            got.get(field).is_some(),
            "registered_pei.{field} is required by rreguri-v1_2.yaml"
        );
    }
}

async fn ticket_for(env: &Environment, pat: &str, resource_id: &str) -> String {
    let resp = cas_client(env)
        .post(format!("{}/perm", env.cas.base_url()))
        .header("X-Request-ID", rid())
        .bearer_auth(pat)
        .json(&json!({ "resource_id": resource_id, "resource_scopes": ["owner", "value"] }))
        .send()
        .await
        .expect("/perm answers");
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("json");
    body["ticket"].as_str().expect("ticket").to_owned()
}

/// rreguri, token, perm and introspect declare `X-Request-ID` `format: uuid`: the canonical
/// hyphenated form only, on all seven operations (as the reporting simulator already does).
/// Each refusal must be for the request id (the bodies here are otherwise invalid too), and
/// the canonical form in upper case passes the check (RFC 9562: hex digits in either case).
#[tokio::test]
async fn the_cas_takes_only_canonical_request_ids_on_all_seven_operations() {
    const REFUSAL: &str = "X-Request-ID header is required and must be a canonical hyphenated UUID";
    let env = common::environment(Default::default()).await;
    let pat = valid_pat(&env).await;
    let resp = register(&env, &pat, &uuid::Uuid::new_v4().to_string(), "match-yes").await;
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.expect("json")["resource_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let base = env.cas.base_url().to_owned();
    let client = cas_client(&env);
    let ops = || {
        [
            (
                "POST /token",
                client
                    .post(format!("{base}/token"))
                    .form(&[("grant_type", "x")]),
            ),
            (
                "POST /perm",
                client.post(format!("{base}/perm")).json(&json!({})),
            ),
            (
                "POST /introspect",
                client
                    .post(format!("{base}/introspect"))
                    .form(&[("token", "x")]),
            ),
            (
                "POST /rreguri",
                client.post(format!("{base}/rreguri")).json(&json!({})),
            ),
            (
                "GET /rreguri/{id}",
                client.get(format!("{base}/rreguri/{id}")),
            ),
            (
                "PATCH /rreguri/{id}",
                client
                    .patch(format!("{base}/rreguri/{id}"))
                    .json(&json!({ "match_status": "match-yes" })),
            ),
            (
                "DELETE /rreguri/{id}",
                client
                    .delete(format!("{base}/rreguri/{id}"))
                    .query(&[("deletion_reason", "asset-removed")]),
            ),
        ]
    };
    let u = uuid::Uuid::new_v4();
    for form in [
        format!("{{{u}}}"),
        format!("urn:uuid:{u}"),
        u.simple().to_string(),
        format!("{{{}}}", u.to_string().to_uppercase()),
        format!(" {u}"),
    ] {
        for (op, request) in ops() {
            let resp = request
                .header("X-Request-ID", form.as_str())
                .bearer_auth(&pat)
                .send()
                .await
                .expect("answers");
            assert_eq!(resp.status(), 400, "{op} with X-Request-ID {form:?}");
            let body = resp.text().await.expect("body");
            assert!(
                body.contains(REFUSAL),
                "{op} with X-Request-ID {form:?} is refused for the request id: {body}"
            );
        }
    }
    assert!(env.cas.registration(&id).expect("kept").deleted.is_none());
    // The canonical form in upper case gets past the check on every operation: the DELETE,
    // last, deletes.
    let upper = uuid::Uuid::new_v4().to_string().to_uppercase();
    for (op, request) in ops() {
        let resp = request
            .header("X-Request-ID", upper.as_str())
            .bearer_auth(&pat)
            .send()
            .await
            .expect("answers");
        let body = resp.text().await.expect("body");
        assert!(
            !body.contains(REFUSAL),
            "{op} with X-Request-ID {upper}: {body}"
        );
    }
    assert!(env.cas.registration(&id).expect("kept").deleted.is_some());
}

/// The reference provider takes `X-Request-ID` only as a canonical hyphenated UUID, as the
/// C&A does: braced, `urn:uuid:` and bare-hex forms (which `Uuid::parse_str` accepts) are
/// refused on the find and on the view; the canonical form, upper case too, is taken.
#[tokio::test]
async fn the_reference_provider_takes_only_canonical_request_ids() {
    let env = common::environment(Default::default()).await;
    let token = env.finder.find_token(&member(&env)).expect("token");
    let asset = env
        .pack
        .pensions_of("P-CP-01")
        .next()
        .expect("P-CP-01's pension")
        .asset_guid
        .get_ref()
        .clone();
    let view = format!(
        "{}/view-data/{asset}?scope=owner",
        common::provider(&env).base_url()
    );
    let client = cas_client(&env);
    let u = uuid::Uuid::new_v4();
    for form in [
        format!("{{{u}}}"),
        format!("urn:uuid:{u}"),
        u.simple().to_string(),
    ] {
        let outcome = env.finder.send_with_request_id(&token, Some(&form)).await;
        assert_eq!(outcome.status, Some(400), "find with X-Request-ID {form}");
        assert!(
            outcome.body.contains("must be a canonical hyphenated UUID"),
            "{}",
            outcome.body
        );
        let resp = client
            .get(&view)
            .header("X-Request-ID", form.as_str())
            .send()
            .await
            .expect("the view endpoint answers");
        assert_eq!(resp.status(), 400, "view with X-Request-ID {form}");
    }
    // The same calls with a canonical id in upper case get past the check: the view answers
    // for the PeI (not registered yet: 404), the find is acknowledged.
    let upper = uuid::Uuid::new_v4().to_string().to_uppercase();
    let resp = client
        .get(&view)
        .header("X-Request-ID", upper.as_str())
        .send()
        .await
        .expect("the view endpoint answers");
    assert_eq!(resp.status(), 404);
    let outcome = env.finder.send_with_request_id(&token, Some(&upper)).await;
    assert_eq!(outcome.status, Some(202), "{}", outcome.body);
}

/// `inbound_request_id` is typed a string: an explicit null is refused; the resource id is
/// minted as the real C&A's (a UUID with a trailing digit).
#[tokio::test]
async fn rreguri_refuses_a_null_inbound_request_id_and_mints_live_resource_ids() {
    let env = common::environment(Default::default()).await;
    let pat = valid_pat(&env).await;
    let resp = cas_client(&env)
        .post(format!("{}/rreguri", env.cas.base_url()))
        .header("X-Request-ID", rid())
        .bearer_auth(&pat)
        .json(&json!({
            "name": format!("urn:pei:{}:{}", env.pack.holdername_guid(), uuid::Uuid::new_v4()),
            "description": "Northwind Workplace Pension Scheme",
            "match_status": "match-yes",
            "inbound_request_id": null,
            "resource_scopes": ["owner", "value"],
        }))
        .send()
        .await
        .expect("answers");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body[0]["field"], "inbound_request_id");

    let resp = register(&env, &pat, &uuid::Uuid::new_v4().to_string(), "match-yes").await;
    let id = resp.json::<Value>().await.expect("json")["resource_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(id.len(), 37, "{id}");
    assert!(uuid::Uuid::try_parse(&id[..36]).is_ok(), "{id}");
    assert!(id[36..].chars().all(|c| c.is_ascii_digit()), "{id}");
    assert!(uuid::Uuid::try_parse(&id).is_err(), "{id} is not a UUID");
}

/// Deleting a PeI ends access to it: its outstanding tickets no longer redeem, and an RPT
/// for it is no longer introspected as active.
#[tokio::test]
async fn a_deleted_pei_ends_its_tickets_and_its_rpts() {
    let env = common::environment(Default::default()).await;
    let pat = valid_pat(&env).await;
    let resp = register(&env, &pat, &uuid::Uuid::new_v4().to_string(), "match-yes").await;
    let id = resp.json::<Value>().await.expect("json")["resource_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let base = env.cas.base_url().to_owned();
    let outstanding = ticket_for(&env, &pat, &id).await;
    let redeemed = ticket_for(&env, &pat, &id).await;
    let rpt = env
        .dashboard
        .request_rpt(&base, &redeemed)
        .await
        .expect("an RPT while the PeI is live");
    let introspect = || {
        cas_client(&env)
            .post(format!("{base}/introspect"))
            .header("X-Request-ID", rid())
            .bearer_auth(&pat)
            .form(&[("token", rpt.as_str())])
            .send()
    };
    let before: Value = introspect()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(before["active"], true);

    let deleted = cas_client(&env)
        .delete(format!("{base}/rreguri/{id}"))
        .query(&[("deletion_reason", "asset-removed")])
        .header("X-Request-ID", rid())
        .bearer_auth(&pat)
        .send()
        .await
        .expect("answers");
    assert_eq!(deleted.status(), 204);

    let refused = env.dashboard.request_rpt(&base, &outstanding).await;
    let message = refused
        .expect_err("the ticket of a deleted PeI does not redeem")
        .message;
    assert!(message.contains("has been deleted"), "{message}");
    let after: Value = introspect()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(after, json!({ "active": false }));
}

/// Issue 15 item 8 and issue 13 item 6: an assertion whose nbf is an hour ahead, whose iat is
/// a day ahead, or that carries an unknown `crit` header gets no PAT; the provider refuses
/// such find tokens too. One without a jti gets its PAT (issue 14 item 8: the stub's user
/// assertion has none, so the C&A keys its PATs by a hash of the assertion).
#[tokio::test]
async fn assertions_and_find_tokens_not_yet_valid_from_the_future_or_critical_are_refused_and_no_jti_is_fine()
 {
    let env = common::environment(Default::default()).await;
    let now = chrono::Utc::now().timestamp();
    let claims = |extra: Value| {
        let mut c = env.finder.claims(&member(&env), 60);
        if let Value::Object(e) = extra {
            c.extend(e);
        }
        c
    };
    let mut crit = serde_json::Map::new();
    crit.insert("crit".into(), json!(["urn:example:ext"]));
    crit.insert("urn:example:ext".into(), json!(true));
    let mut no_jti = claims(json!({ "jti": "j-1" }));
    no_jti.remove("jti");
    let tokens = [
        (
            "nbf an hour ahead",
            env.finder
                .key
                .sign(&claims(json!({ "nbf": now + 3600 })))
                .expect("token"),
            "not yet valid",
        ),
        (
            "iat a day ahead",
            env.finder
                .key
                .sign(&claims(json!({ "iat": now + 86_400 })))
                .expect("token"),
            "issued in the future",
        ),
        (
            "unknown crit",
            env.finder
                .key
                .sign_with_header(&crit, &claims(json!({})))
                .expect("token"),
            "critical (crit)",
        ),
    ];
    for (what, token, reason) in &tokens {
        let r = pat_for(&env, token).await;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, 400, "{what}: {body}");
        assert!(body.contains("invalid_grant"), "{what}: {body}");
        assert!(body.contains(reason), "{what}: {body}");
    }
    for (what, token, _) in tokens.iter().take(3) {
        let outcome = env.finder.send_token(token).await;
        assert_eq!(outcome.status, Some(401), "{what}: {}", outcome.body);
    }
    let r = pat_for(&env, &env.finder.key.sign(&no_jti).expect("token")).await;
    assert_eq!(
        r.status(),
        200,
        "no jti: {}",
        r.text().await.unwrap_or_default()
    );
    env.shutdown();
}
