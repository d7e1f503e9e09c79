//! Client authentication for the OAuth endpoints: is this the secret of this client, and may
//! the client use it now? Built to keep argon2id's cost where it belongs:
//!
//! - a secret failing its checksum is refused before anything is read or hashed;
//! - a secret this instance already verified against the very hash now stored skips argon2
//!   and costs one read, the credential item, which is read on every request so that a
//!   rotation, revocation or suspension takes effect on the next one;
//! - any other request reads the credential and its failure counter in one round trip;
//! - a refused secret always costs two argon2 verifications (the current hash and the one a
//!   rotation's grace period keeps, padded with a decoy hash), so timing tells neither which
//!   client IDs exist nor which are mid-rotation;
//! - failures are counted per client ID **and source address**, and per address across client
//!   IDs, in fixed windows, by counters that expire with their window: an address that keeps
//!   failing is made to wait (the right secret included, cached or not), while the right
//!   secret from any other address is still served. Client IDs are public, so knowing one
//!   must never be enough to lock its owner out; the per-address count bounds the argon2id
//!   work one source can force across client IDs.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use aws_lc_rs::hmac;
use chrono::{Duration, TimeZone, Utc};
use lru::LruCache;
use tokio::sync::Semaphore;

use crate::credential::{Credential, Status};
use crate::ids::ClientId;
use crate::secret::{ClientSecret, SecretHash, SecretHasher};
use crate::source::SourceAddress;
use crate::store::{ClientPorts, Failures, StoreError};
use crate::time::{Clock, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// The client ID or secret is not even well formed.
    #[error("malformed client credentials")]
    Malformed,
    /// Unknown client or wrong secret: deliberately indistinguishable.
    #[error("unknown client or wrong secret")]
    BadCredentials,
    /// The right secret, for a credential that may not be used now.
    #[error("the credential is {0}")]
    Inactive(Status),
    #[error("too many failed attempts; retry after {retry_after_seconds} s")]
    Throttled { retry_after_seconds: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("secret verification failed to run: {0}")]
    Internal(String),
}

/// How many failures a source address may accumulate in a window, for one client ID and
/// across all of them, before it is made to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// `TOKEN_FAILURE_LIMIT`: for one client ID from one address.
    pub max_failures: u32,
    /// `ADDRESS_FAILURE_LIMIT`: from one address across client IDs.
    pub max_address_failures: u32,
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 10,
            max_address_failures: 100,
            window: Duration::minutes(5),
        }
    }
}

impl ThrottlePolicy {
    fn throttles(&self, failures: Failures) -> bool {
        failures.client_from_source >= self.max_failures
            || failures.source >= self.max_address_failures
    }

    /// The fixed window `now` falls in: `[start, end)`.
    fn window_at(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        let length = self.window.num_seconds().max(1);
        let start = now.timestamp() - now.timestamp().rem_euclid(length);
        let start = Utc.timestamp_opt(start, 0).single().unwrap_or(now);
        (start, start + Duration::seconds(length))
    }
}

/// Secrets this instance has verified: per client ID and secret, remembered as an HMAC under a
/// key that never leaves the process, the stored hash the secret matched. Looked up before
/// anything is read, so that a client this instance already knows costs one read (the
/// credential, to see that the hash is still the one stored and the credential active) while
/// an unknown one reads the credential and its failure counter together.
pub struct VerificationCache {
    key: hmac::Key,
    entries: Option<Mutex<LruCache<Vec<u8>, String>>>,
}

impl VerificationCache {
    /// `capacity` 0 disables the cache (every request pays argon2).
    pub fn new(capacity: usize) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &crate::random::bytes::<32>());
        Self {
            key,
            entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
        }
    }

    fn lock(&self) -> Option<std::sync::MutexGuard<'_, LruCache<Vec<u8>, String>>> {
        self.entries
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The entry's key: without the process's HMAC key, neither the secret nor a key that
    /// would match it can be learnt from it.
    fn tag(&self, client_id: &ClientId, secret: &ClientSecret) -> Vec<u8> {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(client_id.as_str().as_bytes());
        // The client ID never holds a NUL byte, so ID and secret cannot be shifted across it.
        context.update(&[0]);
        context.update(secret.expose().as_bytes());
        context.sign().as_ref().to_vec()
    }

    /// The stored hash (PHC string) this client's secret was verified against, if any.
    fn recall(&self, client_id: &ClientId, secret: &ClientSecret) -> Option<String> {
        let mut entries = self.lock()?;
        entries.get(&self.tag(client_id, secret)).cloned()
    }

    fn remember(&self, client_id: &ClientId, secret: &ClientSecret, hash: &SecretHash) {
        if let Some(mut entries) = self.lock() {
            entries.put(self.tag(client_id, secret), hash.as_phc().to_owned());
        }
    }
}

pub struct ClientAuthenticator {
    store: Arc<dyn ClientPorts>,
    hasher: Arc<SecretHasher>,
    clock: Arc<dyn Clock>,
    cache: VerificationCache,
    /// The hash an unknown client's secret is checked against, made with the configured cost.
    decoy: SecretHash,
    throttle: ThrottlePolicy,
    /// Verifications running at once, at most one per core: each holds its argon2id memory
    /// (19 MiB by default), so an unbounded burst would exhaust memory, and more threads than
    /// cores only thrash the caches without finishing any sooner.
    verifying: Semaphore,
}

impl ClientAuthenticator {
    pub fn new(
        store: Arc<dyn ClientPorts>,
        hasher: Arc<SecretHasher>,
        clock: Arc<dyn Clock>,
        cache: VerificationCache,
        throttle: ThrottlePolicy,
    ) -> Self {
        let decoy = hasher.decoy();
        Self {
            store,
            hasher,
            clock,
            cache,
            decoy,
            throttle,
            verifying: Semaphore::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            ),
        }
    }

    /// The credential the presented ID and secret belong to, if it is active, for a request
    /// from `source`.
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: &str,
        source: &SourceAddress,
    ) -> Result<Credential, AuthFailure> {
        // A malformed client ID names nobody and costs no hash: refused before anything is
        // read.
        let Some(client_id) = ClientId::parse(client_id) else {
            return Err(AuthFailure::Malformed);
        };
        let secret = ClientSecret::parse(secret).ok().map(|(secret, _)| secret);
        let now = self.clock.now();
        let (window_start, window_end) = self.throttle.window_at(now);
        // One round trip whatever the cache holds: an address that is throttled stays
        // throttled for a secret this instance has verified before.
        let (credential, failures) = self
            .store
            .credential_and_failures(&client_id, source, window_start)
            .await?;
        if self.throttle.throttles(failures) {
            return Err(AuthFailure::Throttled {
                retry_after_seconds: (window_end - now).num_seconds().max(1),
            });
        }
        let failed = async || {
            self.store
                .record_failure(&client_id, source, window_start, window_end)
                .await
        };
        // A secret failing its checksum is refused without a hash, but counted like any
        // other failure: otherwise it would be a free way to probe.
        let Some(secret) = secret else {
            failed().await?;
            return Err(AuthFailure::Malformed);
        };
        let hashes = credential
            .as_ref()
            .map(|c| accepted_hashes(c, now))
            .unwrap_or_default();
        if let Some(verified) = self.cache.recall(&client_id, &secret)
            && hashes.iter().any(|hash| hash.as_phc() == verified)
        {
            return admit(credential, now);
        }
        // Pad with the decoy to the most hashes a known credential can have, so that a refusal
        // costs the same for an unknown ID, a known one, and one inside a rotation's grace
        // period. A match against the decoy (random bytes) is never a match.
        let known = hashes.len();
        let mut checked = hashes;
        checked.resize(MAX_ACCEPTED_HASHES, self.decoy.clone());
        let matched = self
            .verify(&secret, checked)
            .await?
            .filter(|(index, _)| *index < known);
        match (matched, &credential) {
            (Some((_, hash)), Some(_)) => {
                self.cache.remember(&client_id, &secret, &hash);
                admit(credential, now)
            }
            _ => {
                failed().await?;
                Err(AuthFailure::BadCredentials)
            }
        }
    }

    /// The first of `hashes` the secret verifies against, and its position, off the async
    /// workers.
    async fn verify(
        &self,
        secret: &ClientSecret,
        hashes: Vec<SecretHash>,
    ) -> Result<Option<(usize, SecretHash)>, AuthFailure> {
        let _permit = self
            .verifying
            .acquire()
            .await
            .map_err(|e| AuthFailure::Internal(e.to_string()))?;
        let hasher = Arc::clone(&self.hasher);
        let secret = secret.clone();
        tokio::task::spawn_blocking(move || {
            hashes
                .into_iter()
                .enumerate()
                .find(|(_, hash)| hasher.verify(&secret, hash))
        })
        .await
        .map_err(|e| AuthFailure::Internal(e.to_string()))
    }
}

/// A credential's current secret and, during a rotation's grace period, the replaced one.
const MAX_ACCEPTED_HASHES: usize = 2;

/// The hashes a presented secret may match: the current secret's, and the replaced one's while
/// its grace period lasts.
fn accepted_hashes(credential: &Credential, now: Timestamp) -> Vec<SecretHash> {
    std::iter::once(credential.secret.hash.clone())
        .chain(
            credential
                .secret
                .previous
                .as_ref()
                .filter(|p| p.valid_until > now)
                .map(|p| p.hash.clone()),
        )
        .collect()
}

fn admit(credential: Option<Credential>, now: Timestamp) -> Result<Credential, AuthFailure> {
    let credential = credential.ok_or(AuthFailure::BadCredentials)?;
    match credential.status(now) {
        Status::Active => Ok(credential),
        other => Err(AuthFailure::Inactive(other)),
    }
}

#[cfg(test)]
mod tests {
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
        let (start, _) = ThrottlePolicy::default().window_at(s.clock.now());
        let (_, failures) = s
            .store
            .credential_and_failures(id, &owner(), start)
            .await
            .unwrap();
        failures.client_from_source
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
}
