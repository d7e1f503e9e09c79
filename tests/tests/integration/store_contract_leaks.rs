//! The store contract for leaked secrets, both adapters: the lookup item a create or rotation
//! writes with its change, and a leak recorded once, all or nothing.

use chrono::Duration;
use clavis_core::credential::{Environment, StoredSecret};
use clavis_core::leak::{LeakReport, LeakSource, SecretFingerprint};
use clavis_core::lifecycle::{self, GracePeriod, record_leak};
use clavis_core::policy::LeakAction;
use clavis_core::secret::ClientSecret;
use clavis_core::store::{AuditScope, PageRequest, StoreError};
use clavis_core::testing;
use clavis_tests::{Fixture, fake_hash, tenant};

clavis_tests::against_both_stores!(
    each_issued_secret_leads_to_its_credential_and_version,
    a_leak_is_recorded_once_and_not_at_all_on_a_conflict,
);

fn issued_secret() -> (ClientSecret, StoredSecret) {
    let secret = ClientSecret::generate(Environment::Live);
    let stored = StoredSecret::of(&secret, fake_hash("issued"));
    (secret, stored)
}

/// A credential of acme stored with a fingerprinted secret, and that secret.
async fn stored_credential(fx: &Fixture) -> (lifecycle::Transition, ClientSecret) {
    let (secret, stored) = issued_secret();
    let created = lifecycle::create(
        testing::new_credential("acme", &["products:read"]),
        clavis_core::ids::ClientId::generate(),
        stored,
        &fx.context(),
    )
    .expect("created");
    fx.store.insert(&created).await.expect("insert");
    (created, secret)
}

async fn each_issued_secret_leads_to_its_credential_and_version(fx: Fixture) {
    let (created, first) = stored_credential(&fx).await;
    let (second, stored) = issued_secret();
    let rotated = lifecycle::rotate_secret(
        &created.credential,
        stored,
        GracePeriod::none(),
        &fx.context(),
    )
    .expect("rotated");
    fx.store
        .update(created.credential.version, &rotated)
        .await
        .expect("rotate");
    // A change that issues nothing writes no lookup.
    let suspended = lifecycle::suspend(&rotated.credential, &fx.context()).expect("suspended");
    fx.store
        .update(rotated.credential.version, &suspended)
        .await
        .expect("suspend");

    let never = ClientSecret::generate(Environment::Live);
    let asked = [
        SecretFingerprint::of(&first),
        SecretFingerprint::of(&second),
        SecretFingerprint::of(&never),
    ];
    let mut found = fx.store.issued_secrets(&asked).await.expect("lookup");
    found.sort_by_key(|i| i.secret_version);
    let versions: Vec<u32> = found.iter().map(|i| i.secret_version).collect();
    assert_eq!(versions, [1, 2]);
    for issued in &found {
        assert_eq!(issued.client_id, created.credential.client_id);
        assert_eq!(issued.tenant, tenant("acme"));
    }
    assert_eq!(found[0].fingerprint, asked[0]);
    // The fingerprint is kept on the credential too; a hash-only secret has none.
    let stored = fx
        .store
        .get(&created.credential.client_id)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stored.secret.fingerprint, Some(asked[1].clone()));
    let legacy = testing::create(
        testing::new_credential("acme", &["products:read"]),
        fake_hash("legacy"),
        &fx.context(),
    );
    fx.store.insert(&legacy).await.expect("insert");
    let read = fx
        .store
        .get(&legacy.credential.client_id)
        .await
        .expect("get");
    assert_eq!(read.expect("present").secret.fingerprint, None);
    // Looked up past their 400 days, secrets are no longer found.
    fx.advance(Duration::days(401));
    assert!(
        fx.store
            .issued_secrets(&asked)
            .await
            .expect("lookup")
            .is_empty()
    );
}

async fn a_leak_is_recorded_once_and_not_at_all_on_a_conflict(fx: Fixture) {
    let (created, secret) = stored_credential(&fx).await;
    let (_, other_secret) = stored_credential(&fx).await;
    let mut both = fx
        .store
        .issued_secrets(&[
            SecretFingerprint::of(&secret),
            SecretFingerprint::of(&other_secret),
        ])
        .await
        .expect("lookup");
    both.sort_by_key(|issued| issued.fingerprint != SecretFingerprint::of(&secret));
    assert_eq!(both.len(), 2);
    let issued = both[0].clone();
    let recorded = |fx: &Fixture| {
        let store = fx.store.clone();
        let both = both.clone();
        async move { store.recorded_leaks(&both).await.expect("markers") }
    };
    assert!(recorded(&fx).await.is_empty(), "nothing recorded yet");
    let report = LeakReport {
        source: LeakSource::Github,
        url: None,
    };
    let trail = |fx: &Fixture| {
        let store = fx.store.clone();
        let scope = AuditScope::Credential(tenant("acme"), created.credential.client_id.clone());
        async move {
            store
                .list_events(&scope, &PageRequest::first(100))
                .await
                .expect("trail")
                .items
                .len()
        }
    };
    let before = trail(&fx).await;

    // Decided on a stale read: nothing is written, not even the marker.
    let mut stale = created.credential.clone();
    stale.version += 5;
    let record = record_leak(
        Some(&stale),
        &issued,
        &report,
        LeakAction::Revoke,
        &fx.context(),
    );
    assert!(matches!(
        fx.store.record_leak(&record).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(trail(&fx).await, before);
    assert!(recorded(&fx).await.is_empty(), "no marker after a conflict");

    let record = record_leak(
        Some(&created.credential),
        &issued,
        &report,
        LeakAction::Revoke,
        &fx.context(),
    );
    assert!(fx.store.record_leak(&record).await.expect("recorded"));
    assert_eq!(
        recorded(&fx).await,
        std::collections::HashSet::from([issued.fingerprint.clone()]),
        "this secret's leak, not the other credential's"
    );
    let revoked = fx
        .store
        .get(&created.credential.client_id)
        .await
        .expect("get")
        .expect("present");
    assert!(revoked.revocation.is_some());
    assert!(revoked.leak.is_some());
    assert_eq!(
        trail(&fx).await,
        before + 2,
        "credential.leaked and credential.revoked"
    );

    // Again, decided afresh on the revoked credential: nothing more.
    let again = record_leak(
        Some(&revoked),
        &issued,
        &report,
        LeakAction::Revoke,
        &fx.context(),
    );
    assert!(!fx.store.record_leak(&again).await.expect("answered"));
    assert_eq!(trail(&fx).await, before + 2);
    assert_eq!(
        fx.store
            .get(&created.credential.client_id)
            .await
            .expect("get")
            .expect("present"),
        revoked
    );
}
