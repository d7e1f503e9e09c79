use std::future::Future;
use std::task::Poll;

use super::*;
use crate::audit::Context;
use crate::credential::Environment;

use crate::lifecycle::{self, GracePeriod, NewCredential, Transition};
use crate::store::memory::MemoryStore;
use crate::store::{CredentialWriter, Retention, ThrottleReader, TransitionWriter};
use crate::testing;
use crate::time::{ManualClock, SystemClock};

struct Setup {
    auth: ClientAuthenticator,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    hasher: Arc<SecretHasher>,
}

fn setup(cache_entries: usize) -> Setup {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let store = Arc::new(MemoryStore::new(clock.clone(), Retention::default()));
    let hasher = Arc::new(SecretHasher::new(64, 1, 1).unwrap());
    let auth = ClientAuthenticator::new(
        store.clone(),
        hasher.clone(),
        clock.clone(),
        VerificationCache::new(cache_entries),
        ThrottlePolicy::default(),
    );
    Setup {
        auth,
        store,
        clock,
        hasher,
    }
}

fn context(s: &Setup) -> Context {
    testing::context_at(s.clock.now())
}

async fn create(s: &Setup) -> (Credential, ClientSecret) {
    let secret = ClientSecret::generate(Environment::Live);
    let created = testing::create(
        NewCredential {
            expires_at: Some(s.clock.now() + Duration::days(1)),
            ..testing::new_credential("acme", &["a:read"])
        },
        s.hasher.hash(&secret).unwrap(),
        &context(s),
    );
    s.store.insert(&created).await.unwrap();
    (created.credential, secret)
}

/// The owner's address, and a stranger's.
fn owner() -> SourceAddress {
    SourceAddress::parse("127.0.0.3").unwrap()
}

fn stranger() -> SourceAddress {
    SourceAddress::parse("127.0.0.2").unwrap()
}

/// The client `c` authenticating with `secret` from the owner's address.
async fn present(
    s: &Setup,
    c: &Credential,
    secret: &ClientSecret,
) -> Result<Credential, AuthFailure> {
    present_from(s, c, secret, &owner()).await
}

async fn present_from(
    s: &Setup,
    c: &Credential,
    secret: &ClientSecret,
    source: &SourceAddress,
) -> Result<Credential, AuthFailure> {
    s.auth
        .authenticate(c.client_id.as_str(), secret.expose(), source)
        .await
}

async fn apply(s: &Setup, before: &Credential, change: Transition) -> Credential {
    s.store.update(before.version, &change).await.unwrap();
    change.credential
}

/// Failures of `id` from the owner's address.
async fn failures(s: &Setup, id: &ClientId) -> u32 {
    let (window_start, window_end) = ThrottlePolicy::default().window_at(s.clock.now());
    let attempt = Attempt {
        client_id: id,
        source: &owner(),
        window_start,
        window_end,
    };
    let read = s
        .store
        .credential_and_failures(&attempt, None)
        .await
        .unwrap();
    read.failures.client_from_source
}

#[tokio::test]
async fn the_right_secret_authenticates_again_and_again() {
    let s = setup(100);
    let (c, secret) = create(&s).await;
    for _ in 0..3 {
        let got = present(&s, &c, &secret).await.unwrap();
        assert_eq!(got.client_id, c.client_id);
    }
}

#[tokio::test]
async fn wrong_and_unknown_are_the_same_failure_and_are_counted() {
    let s = setup(100);
    let (c, _) = create(&s).await;
    let wrong = ClientSecret::generate(Environment::Live);
    let unknown = ClientId::generate();
    assert!(matches!(
        present(&s, &c, &wrong).await,
        Err(AuthFailure::BadCredentials)
    ));
    assert!(matches!(
        s.auth
            .authenticate(unknown.as_str(), wrong.expose(), &owner())
            .await,
        Err(AuthFailure::BadCredentials)
    ));
    assert_eq!(failures(&s, &c.client_id).await, 1);
    assert_eq!(failures(&s, &unknown).await, 1);
}

#[tokio::test]
async fn a_secret_failing_its_checksum_is_refused_without_hashing_but_counted() {
    let s = setup(100);
    let (c, secret) = create(&s).await;
    let mut typo = secret.expose().to_owned();
    typo.replace_range(10..11, if &typo[10..11] == "a" { "b" } else { "a" });
    for presented in [typo.as_str(), ""] {
        assert!(matches!(
            s.auth
                .authenticate(c.client_id.as_str(), presented, &owner())
                .await,
            Err(AuthFailure::Malformed)
        ));
    }
    assert_eq!(failures(&s, &c.client_id).await, 2);
    // A client ID that is not one names nobody: refused before anything is read.
    assert!(matches!(
        s.auth
            .authenticate("cid_nope", secret.expose(), &owner())
            .await,
        Err(AuthFailure::Malformed)
    ));
}

#[tokio::test]
async fn repeated_failures_are_throttled_until_the_window_ends() {
    let s = setup(100);
    let (c, secret) = create(&s).await;
    let wrong = ClientSecret::generate(Environment::Live);
    for _ in 0..10 {
        assert!(matches!(
            present(&s, &c, &wrong).await,
            Err(AuthFailure::BadCredentials)
        ));
    }
    let Err(AuthFailure::Throttled {
        retry_after_seconds,
    }) = present(&s, &c, &wrong).await
    else {
        panic!("the eleventh failure in a window is throttled");
    };
    assert!((1..=300).contains(&retry_after_seconds));
    // From the failing address, even the right secret waits.
    assert!(matches!(
        present(&s, &c, &secret).await,
        Err(AuthFailure::Throttled { .. })
    ));
    s.clock.advance(Duration::seconds(retry_after_seconds));
    assert!(present(&s, &c, &secret).await.is_ok());
}

#[tokio::test]
async fn a_stranger_who_knows_the_client_id_cannot_lock_its_owner_out() {
    for cache in [0, 100] {
        let s = setup(cache);
        let (c, secret) = create(&s).await;
        let wrong = ClientSecret::generate(Environment::Live);
        for _ in 0..30 {
            let _ = present_from(&s, &c, &wrong, &stranger()).await;
        }
        assert!(matches!(
            present_from(&s, &c, &wrong, &stranger()).await,
            Err(AuthFailure::Throttled { .. })
        ));
        // The owner, never verified on this instance (cache 0) or not, is served.
        assert!(present(&s, &c, &secret).await.is_ok(), "cache {cache}");
        assert!(present(&s, &c, &secret).await.is_ok(), "cache {cache}");
        // The stranger's address is throttled even with the right secret, cached or not.
        assert!(matches!(
            present_from(&s, &c, &secret, &stranger()).await,
            Err(AuthFailure::Throttled { .. })
        ));
    }
}

#[tokio::test]
async fn one_address_is_throttled_across_client_ids() {
    let s = setup(100);
    let (c, secret) = create(&s).await;
    let wrong = ClientSecret::generate(Environment::Live);
    // 100 failures over ten unknown client IDs, ten each: no one ID reaches its limit
    // of 10 before the address reaches its 100.
    for _ in 0..10 {
        let unknown = ClientId::generate();
        for _ in 0..10 {
            let _ = s
                .auth
                .authenticate(unknown.as_str(), wrong.expose(), &stranger())
                .await;
        }
    }
    assert!(matches!(
        present_from(&s, &c, &secret, &stranger()).await,
        Err(AuthFailure::Throttled { .. })
    ));
    assert!(present(&s, &c, &secret).await.is_ok());
}

#[tokio::test]
async fn argon2_verifications_wait_for_a_free_core() {
    let s = setup(0);
    let (c, secret) = create(&s).await;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let busy = s
        .auth
        .verifying
        .acquire_many(u32::try_from(cores).unwrap())
        .await
        .unwrap();
    let mut verification = std::pin::pin!(present(&s, &c, &secret));
    let first = std::future::poll_fn(|cx| Poll::Ready(verification.as_mut().poll(cx))).await;
    assert!(
        first.is_pending(),
        "no verification finishes while every core is busy"
    );
    // A core set free goes to the verification queued for one, and to nobody else: had it
    // not waited (or waited on anything else), the core would be left free.
    s.auth.verifying.add_permits(1);
    assert_eq!(
        s.auth.verifying.available_permits(),
        0,
        "the verification was waiting for a core"
    );
    assert!(verification.await.is_ok());
    drop(busy);
}

#[tokio::test]
async fn rotation_suspension_and_revocation_apply_to_the_very_next_request() {
    let s = setup(100);
    let (c, first) = create(&s).await;
    present(&s, &c, &first).await.unwrap();
    let second = ClientSecret::generate(Environment::Live);
    let c = apply(
        &s,
        &c,
        lifecycle::rotate_secret(
            &c,
            s.hasher.hash(&second).unwrap(),
            GracePeriod::none(),
            &context(&s),
        )
        .unwrap(),
    )
    .await;
    assert!(
        matches!(
            present(&s, &c, &first).await,
            Err(AuthFailure::BadCredentials)
        ),
        "a cached old secret is dead once the stored hash changed"
    );
    present(&s, &c, &second).await.unwrap();
    let c = apply(&s, &c, lifecycle::suspend(&c, &context(&s)).unwrap()).await;
    assert!(matches!(
        present(&s, &c, &second).await,
        Err(AuthFailure::Inactive(Status::Suspended))
    ));
    let c = apply(&s, &c, lifecycle::revoke(&c, None, &context(&s)).unwrap()).await;
    assert!(matches!(
        present(&s, &c, &second).await,
        Err(AuthFailure::Inactive(Status::Revoked))
    ));
}

#[tokio::test]
async fn expiry_applies_at_the_second_without_a_sweep() {
    let s = setup(100);
    let (c, secret) = create(&s).await;
    present(&s, &c, &secret).await.unwrap();
    s.clock.set(c.expires_at.unwrap());
    assert!(matches!(
        present(&s, &c, &secret).await,
        Err(AuthFailure::Inactive(Status::Expired))
    ));
}

#[tokio::test]
async fn both_secrets_work_inside_a_grace_period_and_only_the_new_one_after() {
    for cache in [0, 100] {
        let s = setup(cache);
        let (c, old) = create(&s).await;
        let new = ClientSecret::generate(Environment::Live);
        let grace = GracePeriod::from_seconds(600).unwrap();
        let c = apply(
            &s,
            &c,
            lifecycle::rotate_secret(&c, s.hasher.hash(&new).unwrap(), grace, &context(&s))
                .unwrap(),
        )
        .await;
        for _ in 0..2 {
            assert!(present(&s, &c, &old).await.is_ok());
            assert!(present(&s, &c, &new).await.is_ok());
        }
        s.clock.advance(Duration::seconds(600));
        assert!(matches!(
            present(&s, &c, &old).await,
            Err(AuthFailure::BadCredentials)
        ));
        assert!(present(&s, &c, &new).await.is_ok());
    }
}

#[tokio::test]
async fn the_right_secret_of_a_credential_its_policy_blocks_is_refused_with_the_rule() {
    use crate::policy::{PolicyFields, StoredPolicy, TenantPolicy};
    use crate::store::PolicyWriter;

    let s = setup(100);
    let (c, secret) = create(&s).await;
    present(&s, &c, &secret).await.unwrap();
    // The tenant now allows only another scope.
    let tightened = TenantPolicy::new(PolicyFields {
        allowed_scopes: Some(crate::credential::Scopes::parse(&["b:write"]).unwrap()),
        ..PolicyFields::default()
    })
    .unwrap();
    let open = StoredPolicy::open(c.tenant.clone());
    let change = lifecycle::replace_policy(&open, tightened, &context(&s));
    s.store.put_policy(0, &change).await.unwrap();

    match present(&s, &c, &secret).await {
        Err(AuthFailure::BlockedByPolicy(rules)) => {
            assert_eq!(rules, ["This tenant does not allow the scope a:read."]);
        }
        other => panic!("expected a block, got {other:?}"),
    }
    // A wrong secret learns nothing of the policy, and is counted as ever.
    let (_, other_secret) = create(&s).await;
    assert!(matches!(
        present(&s, &c, &other_secret).await,
        Err(AuthFailure::BadCredentials)
    ));
    assert_eq!(failures(&s, &c.client_id).await, 1);

    // Relaxed: the same secret works at once.
    let relax = lifecycle::replace_policy(&change.policy, TenantPolicy::default(), &context(&s));
    s.store.put_policy(1, &relax).await.unwrap();
    present(&s, &c, &secret).await.unwrap();
}
