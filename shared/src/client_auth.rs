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
//! - repeated failures for one client ID are throttled per fixed window, by counters that
//!   expire with their window.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use chrono::{Duration, TimeZone, Utc};
use lru::LruCache;
use tokio::sync::Semaphore;

use crate::credential::{Credential, Status};
use crate::ids::ClientId;
use crate::secret::{ClientSecret, SecretHash, SecretHasher};
use crate::store::{SharedClientStore, StoreError};
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

/// How many failures one client ID may accumulate in a window before it is made to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub max_failures: u32,
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 10,
            window: Duration::minutes(5),
        }
    }
}

impl ThrottlePolicy {
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
    pub fn new(capacity: usize) -> Result<Self, AuthFailure> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| AuthFailure::Internal("no randomness for the cache key".into()))?;
        Ok(Self {
            key,
            entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
        })
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
    store: SharedClientStore,
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
        store: SharedClientStore,
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

    /// The credential the presented ID and secret belong to, if it is active.
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Credential, AuthFailure> {
        let (Some(client_id), Ok((secret, _))) =
            (ClientId::parse(client_id), ClientSecret::parse(secret))
        else {
            return Err(AuthFailure::Malformed);
        };
        let now = self.clock.now();
        let (window_start, window_end) = self.throttle.window_at(now);
        let remembered = self.cache.recall(&client_id, &secret);
        let (credential, failures) = match remembered {
            Some(_) => (self.store.get(&client_id).await?, None),
            None => {
                let (credential, failures) = self
                    .store
                    .credential_and_failures(&client_id, window_start)
                    .await?;
                (credential, Some(failures))
            }
        };
        let hashes = credential
            .as_ref()
            .map(|c| accepted_hashes(c, now))
            .unwrap_or_default();
        if let Some(verified) = &remembered
            && hashes.iter().any(|hash| hash.as_phc() == verified)
        {
            return admit(credential, now);
        }
        // Remembered, but the hash changed since (a rotation): the full check, as for a
        // stranger.
        let failures = match failures {
            Some(failures) => failures,
            None => self.store.failures(&client_id, window_start).await?,
        };
        if failures >= self.throttle.max_failures {
            return Err(AuthFailure::Throttled {
                retry_after_seconds: (window_end - now).num_seconds().max(1),
            });
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
                self.store
                    .record_failure(&client_id, window_start, window_end)
                    .await?;
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
    use crate::store::{CredentialStore, FailureCounter, Retention};
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
            VerificationCache::new(cache_entries).unwrap(),
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

    /// The client `c` authenticating with `secret`.
    async fn present(
        s: &Setup,
        c: &Credential,
        secret: &ClientSecret,
    ) -> Result<Credential, AuthFailure> {
        s.auth
            .authenticate(c.client_id.as_str(), secret.expose())
            .await
    }

    async fn apply(s: &Setup, before: &Credential, change: Transition) -> Credential {
        s.store.update(before.version, &change).await.unwrap();
        change.credential
    }

    async fn failures(s: &Setup, id: &ClientId) -> u32 {
        let (start, _) = ThrottlePolicy::default().window_at(s.clock.now());
        s.store.failures(id, start).await.unwrap()
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
            s.auth.authenticate(unknown.as_str(), wrong.expose()).await,
            Err(AuthFailure::BadCredentials)
        ));
        assert_eq!(failures(&s, &c.client_id).await, 1);
        assert_eq!(failures(&s, &unknown).await, 1);
    }

    #[tokio::test]
    async fn malformed_input_is_refused_without_counting_or_hashing() {
        let s = setup(100);
        let (c, secret) = create(&s).await;
        let mut typo = secret.expose().to_owned();
        typo.replace_range(10..11, if &typo[10..11] == "a" { "b" } else { "a" });
        for (id, presented) in [
            (c.client_id.as_str(), typo.as_str()),
            ("cid_nope", secret.expose()),
            (c.client_id.as_str(), ""),
        ] {
            assert!(matches!(
                s.auth.authenticate(id, presented).await,
                Err(AuthFailure::Malformed)
            ));
        }
        assert_eq!(failures(&s, &c.client_id).await, 0);
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
        // Even the right secret waits, unless this instance has verified it before.
        assert!(matches!(
            present(&s, &c, &secret).await,
            Err(AuthFailure::Throttled { .. })
        ));
        s.clock.advance(Duration::seconds(retry_after_seconds));
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
    async fn a_verified_client_is_not_locked_out_by_someone_elses_failures() {
        let s = setup(100);
        let (c, secret) = create(&s).await;
        present(&s, &c, &secret).await.unwrap();
        let wrong = ClientSecret::generate(Environment::Live);
        for _ in 0..12 {
            let _ = present(&s, &c, &wrong).await;
        }
        assert!(present(&s, &c, &secret).await.is_ok());
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
