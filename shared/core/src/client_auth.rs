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
//!   work one source can force across client IDs;
//! - a credential that breaks its tenant's policy is blocked (never revoked) while it does:
//!   the policy is read in the same round trip as the credential once this instance knows the
//!   credential's tenant, and by one more read the first time.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use aws_lc_rs::hmac;
use chrono::{Duration, TimeZone, Utc};
use lru::LruCache;
use tokio::sync::Semaphore;

use crate::credential::{Credential, Status};
use crate::ids::{ClientId, TenantId};
use crate::policy::StoredPolicy;
use crate::secret::{ClientSecret, SecretHash, SecretHasher};
use crate::source::SourceAddress;
use crate::store::{Attempt, ClientPorts, ClientRead, Failures, StoreError};
use crate::time::{Clock, Timestamp};
use crate::usage::UsageRecorder;
use crate::usage_days::RefusalReason;

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
    /// The right secret, for a credential its tenant's policy blocks: the rules it breaks,
    /// as sentences.
    #[error("the credential is blocked by its tenant's policy: {}", .0.join(" "))]
    BlockedByPolicy(Vec<String>),
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

/// The tenant of each credential this instance has authenticated, so that the next request
/// reads the tenant's policy with the credential. A credential never changes tenant.
struct KnownTenants(Mutex<LruCache<ClientId, TenantId>>);

/// Enough for the credentials in use at once on one warm instance.
const KNOWN_TENANTS: NonZeroUsize = NonZeroUsize::new(10_000).unwrap();

impl KnownTenants {
    fn recall(&self, client_id: &ClientId) -> Option<TenantId> {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known.get(client_id).cloned()
    }

    fn remember(&self, credential: &Credential) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known.put(credential.client_id.clone(), credential.tenant.clone());
    }
}

pub struct ClientAuthenticator {
    store: Arc<dyn ClientPorts>,
    tenants: KnownTenants,
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
    /// Where refusals of a known credential are counted, for its owner's usage view.
    refusals: Option<Arc<UsageRecorder>>,
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
            tenants: KnownTenants(Mutex::new(LruCache::new(KNOWN_TENANTS))),
            hasher,
            clock,
            cache,
            decoy,
            throttle,
            verifying: Semaphore::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            ),
            refusals: None,
        }
    }

    /// Counts each refusal of a request that named an existing credential in `usage`.
    pub fn counting_refusals(mut self, usage: Arc<UsageRecorder>) -> Self {
        self.refusals = Some(usage);
        self
    }

    fn refused(&self, credential: Option<&Credential>, reason: RefusalReason, now: Timestamp) {
        if let (Some(usage), Some(credential)) = (&self.refusals, credential) {
            usage.refuse(credential, reason, now);
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
        let attempt = Attempt {
            client_id: &client_id,
            source,
            window_start,
            window_end,
        };
        let known_tenant = self.tenants.recall(&client_id);
        let ClientRead {
            credential,
            failures,
            policy,
        } = self
            .store
            .credential_and_failures(&attempt, known_tenant.as_ref())
            .await?;
        if self.throttle.throttles(failures) {
            self.refused(credential.as_ref(), RefusalReason::Throttled, now);
            return Err(AuthFailure::Throttled {
                retry_after_seconds: (window_end - now).num_seconds().max(1),
            });
        }
        let failed = async || self.store.record_failure(&attempt).await;
        // A secret failing its checksum is refused without a hash, but counted like any
        // other failure: otherwise it would be a free way to probe.
        let Some(secret) = secret else {
            self.refused(credential.as_ref(), RefusalReason::InvalidClient, now);
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
            return self.admit(credential, policy, now).await;
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
                self.admit(credential, policy, now).await
            }
            _ => {
                self.refused(credential.as_ref(), RefusalReason::InvalidClient, now);
                failed().await?;
                Err(AuthFailure::BadCredentials)
            }
        }
    }

    /// The credential whose secret was presented, if it is active and complies with its
    /// tenant's policy.
    async fn admit(
        &self,
        credential: Option<Credential>,
        policy: Option<StoredPolicy>,
        now: Timestamp,
    ) -> Result<Credential, AuthFailure> {
        let credential = credential.ok_or(AuthFailure::BadCredentials)?;
        let status = credential.status(now);
        let inactive = match status {
            Status::Active => return self.comply(credential, policy, now).await,
            Status::Suspended => RefusalReason::CredentialSuspended,
            Status::Expired => RefusalReason::CredentialExpired,
            Status::Revoked => RefusalReason::CredentialRevoked,
        };
        self.refused(Some(&credential), inactive, now);
        Err(AuthFailure::Inactive(status))
    }

    /// The credential, if it complies with its tenant's policy: the one read with it, or read
    /// now when this instance did not know the tenant yet.
    async fn comply(
        &self,
        credential: Credential,
        read: Option<StoredPolicy>,
        now: Timestamp,
    ) -> Result<Credential, AuthFailure> {
        let policy = match read.filter(|p| p.tenant == credential.tenant) {
            Some(policy) => policy,
            None => {
                self.tenants.remember(&credential);
                self.store.policy(&credential.tenant).await?
            }
        };
        let violations = policy
            .policy
            .violations(&credential, credential.expiry_decided_at());
        if violations.is_empty() {
            Ok(credential)
        } else {
            self.refused(Some(&credential), RefusalReason::PolicyViolation, now);
            Err(AuthFailure::BlockedByPolicy(
                violations.into_iter().map(|v| v.sentence).collect(),
            ))
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

#[cfg(test)]
mod tests;
