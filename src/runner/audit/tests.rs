//! Unit tests of the audit's waits: for registrations still due, and for finds being sent.

use std::sync::Arc;

use super::*;
use crate::cda::cas::Registration;
use crate::protocol::match_status::MatchStatus;

const HOLDER: &str = "5d0c1b6e-3f5a-4c1e-9a43-0b6d4c2f7e11";
const ASSET: &str = "8f2e4c1a-7b3d-4e5f-9a6b-1c2d3e4f5a6b";
const OTHER: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const LIMIT: Duration = Duration::from_secs(30);

fn cas() -> Cas {
    let key = crate::net::pki::SigningKey::generate_es256("cas").unwrap();
    Cas::new(
        crate::cda::service::cas_settings(&crate::protocol::contract::WireContract::default()),
        key.clone(),
        crate::net::pki::jwks_of([&key]),
    )
}

fn case(id: &str, asset: &str) -> Case {
    toml::from_str(&format!(
        "id = \"{id}\"\ntitle = \"t\"\npersona = \"p\"\nexpect = \"match-yes\"\npensions = [\"{asset}\"]\n"
    ))
    .unwrap()
}

/// A find for `case` sent `ago` before now, recorded as `kind`.
fn record(audit: &Audit, cas: &Cas, case: &Case, kind: FindKind, ago: Duration) {
    let outcome = FindOutcome {
        request_id: format!("req-{}", case.id.get_ref()),
        token_jti: None,
        sent_at: Utc::now() - chrono::Duration::from_std(ago).unwrap(),
        sent_instant: tokio::time::Instant::now(),
        status: Some(202),
        elapsed_ms: 1.0,
        body: String::new(),
        error: None,
    };
    audit.record_find(cas, &outcome, case, kind, None);
}

/// A find that must register `asset`, sent `ago` before now.
fn expected(audit: &Audit, cas: &Cas, id: &str, asset: &str, ago: Duration) {
    record(audit, cas, &case(id, asset), FindKind::Expected, ago);
}

fn registered(cas: &Cas, asset: &str, at: DateTime<Utc>) {
    cas.insert_registration(Registration {
        resource_id: format!("r-{asset}"),
        name: format!("urn:pei:{HOLDER}:{asset}"),
        description: "d".into(),
        match_status: MatchStatus::Yes,
        resource_scopes: vec!["value".into(), "owner".into(), "delegate".into()],
        inbound_request_id: None,
        request_id: format!("post-{asset}"),
        registered_at: at,
        pat_jti: "pat".into(),
        holder: Some(HOLDER.into()),
        deleted: None,
        patches: Vec::new(),
    });
}

/// A stage's audit waits for a registration still due: not satisfied by another asset's,
/// nor by one of its asset made before the find was sent; done once it comes.
#[tokio::test]
async fn await_expected_waits_for_a_registration_still_due_until_it_comes() {
    let cas = cas();
    let audit = Arc::new(Audit::new(&cas));
    expected(&audit, &cas, "S1-01", ASSET, Duration::ZERO);
    let waiting = {
        let (cas, audit) = (cas.clone(), audit.clone());
        tokio::spawn(async move { audit.await_expected(&cas, LIMIT).await })
    };
    registered(&cas, OTHER, Utc::now());
    registered(&cas, ASSET, Utc::now() - chrono::Duration::seconds(5));
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(
        !waiting.is_finished(),
        "satisfied by the wrong registrations"
    );
    registered(&cas, ASSET, Utc::now());
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("done once the registration came")
        .unwrap();
}

/// With nothing coming it waits out the find's registration limit, and no longer.
#[tokio::test(start_paused = true)]
async fn await_expected_gives_up_at_the_registration_limit() {
    let cas = cas();
    let audit = Audit::new(&cas);
    expected(&audit, &cas, "S1-01", ASSET, Duration::from_secs(10));
    let started = tokio::time::Instant::now();
    audit.await_expected(&cas, LIMIT).await;
    let waited = started.elapsed();
    assert!(
        waited > Duration::from_secs(19) && waited <= Duration::from_secs(20),
        "{waited:?}: the rest of the 30 s limit of a find sent 10 s ago"
    );
}

/// Nothing is due from a find past its limit, one sent before a clear-down, or one that
/// must register nothing: the audit goes on at once.
#[tokio::test(start_paused = true)]
async fn await_expected_waits_for_nothing_not_due() {
    let cas = cas();
    let audit = Audit::new(&cas);
    expected(&audit, &cas, "S1-01", ASSET, Duration::from_secs(31));
    record(
        &audit,
        &cas,
        &case("FN-01", ASSET),
        FindKind::Refused,
        Duration::ZERO,
    );
    expected(&audit, &cas, "S1-02", OTHER, Duration::ZERO);
    cas.clear().unwrap();
    let started = tokio::time::Instant::now();
    audit.await_expected(&cas, LIMIT).await;
    assert_eq!(started.elapsed(), Duration::ZERO);

    // The same find after the clear-down is waited for.
    expected(&audit, &cas, "S1-02", OTHER, Duration::ZERO);
    audit.await_expected(&cas, LIMIT).await;
    assert!(started.elapsed() > Duration::from_secs(29));
}

/// A no-registration watch waits for the finds being sent when it ends to be recorded
/// (not for one sent after), and at most its limit.
#[tokio::test(start_paused = true)]
async fn a_watch_waits_for_the_finds_being_sent_to_be_recorded() {
    let audit = Arc::new(Audit::new(&cas()));
    let started = tokio::time::Instant::now();
    audit.finds_being_sent_recorded(LIMIT).await;
    assert_eq!(started.elapsed(), Duration::ZERO, "nothing being sent");

    let being_sent = audit.sending();
    let watch = {
        let audit = audit.clone();
        tokio::spawn(async move { audit.finds_being_sent_recorded(LIMIT).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!watch.is_finished(), "a find being sent is waited for");
    let sent_later = audit.sending();
    drop(being_sent);
    watch.await.unwrap();
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(1),
        "not for one sent later"
    );

    // A find never recorded costs the limit, no more.
    audit.finds_being_sent_recorded(LIMIT).await;
    assert_eq!(started.elapsed(), Duration::from_secs(1) + LIMIT);
    drop(sent_later);
}
