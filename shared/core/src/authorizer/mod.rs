//! Request verification for the platform's own API: may this request, on this route, go through?
//! The rules of DESIGN.md's "Request verification", in the order it gives them, without HTTP or
//! Lambda (the handler in `api::authorizer` parses the event and renders the answer):
//!
//! 1. the route is configured (`ROUTE_SCOPES`), or there is a `$default` entry;
//! 2. the `Authorization` header holds a valid access token, or a client ID and secret;
//! 3. the token is not revoked (RFC 7009);
//! 4. the credential exists and is active now, read live, and the token was issued after
//!    whatever ended its credential's tokens (a suspension, a rotation that asked to);
//! 5. the key's environment is one this API accepts (`ACCEPTED_ENVIRONMENTS`);
//! 6. the route's scopes are all granted, by the token **and** by the credential now;
//! 7. this month's requests are below the credential's quota;
//!
//! and, after 4, the credential complies with its tenant's policy (read in the same round
//! trip as the credential), existing tokens included.
//!
//! Rotation follows the seeds: an old secret stops at once (Basic is authenticated like the
//! token endpoint, failures counted per client ID and source address), while tokens issued
//! before a rotation stay valid until they expire unless the rotation ended them.

pub mod quota_notices;
mod routes;
mod rules;

use quota_notices::QuotaNotices;
pub use routes::RouteScopes;
pub use rules::{
    Acceptance, Allowed, Refusal, VerifyError, admit_bearer, presented, verify_bearer,
};
use rules::{require_environment, require_quota, require_scopes};

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use lru::LruCache;

use crate::authorization::Authorization;
use crate::client_auth::{AuthFailure, ClientAuthenticator};
use crate::credential::{Credential, Environment, Scope};
use crate::ids::{ClientId, TenantId};
use crate::source::SourceAddress;
use crate::store::{CredentialState, StateQuery, StoreError, UsageMonth, VerifierPorts};
use crate::time::Clock;
use crate::token::Tokens;
use crate::usage::UsageRecorder;

/// Credential states read within the last `max_age` (`LIVE_STATUS_MAX_AGE_SECONDS`), per
/// client and token: an operator's trade of that much staleness for fewer reads.
struct StateCache {
    max_age: StdDuration,
    entries: Mutex<LruCache<(ClientId, String), (Instant, CredentialState)>>,
}

/// Enough for the tokens (and credentials) in use at once on one warm instance.
const STATE_CACHE_ENTRIES: NonZeroUsize = NonZeroUsize::new(10_000).unwrap();

impl StateCache {
    fn get(&self, key: &(ClientId, String)) -> Option<CredentialState> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some((read_at, state)) if read_at.elapsed() <= self.max_age => Some(state.clone()),
            _ => None,
        }
    }

    fn put(&self, key: (ClientId, String), state: CredentialState) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.put(key, (Instant::now(), state));
    }
}

/// Which credentials this instance last saw with a quota: those without one are verified
/// without reading their usage counter (one key fewer per request, a third of the reads).
struct KnownQuotas(Mutex<LruCache<ClientId, bool>>);

impl KnownQuotas {
    fn may_have_quota(&self, client_id: &ClientId) -> bool {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known.get(client_id).copied().unwrap_or(true)
    }

    fn remember(&self, client_id: &ClientId, has_quota: bool) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known.put(client_id.clone(), has_quota);
    }
}

/// Decides requests: see the module's comment. One per warm instance.
pub struct RequestVerifier {
    routes: RouteScopes,
    tokens: Tokens,
    clients: ClientAuthenticator,
    store: Arc<dyn VerifierPorts>,
    clock: Arc<dyn Clock>,
    usage: Arc<UsageRecorder>,
    /// `None`: the credential is read on every request.
    recent: Option<StateCache>,
    quotas: KnownQuotas,
    quota_notices: QuotaNotices,
    accepted_environments: Vec<Environment>,
}

/// What an operator decides about the platform's API: its routes' scopes, the key
/// environments it takes, and how stale a credential's state may be.
#[derive(Debug, Clone)]
pub struct ApiRules {
    pub routes: RouteScopes,
    pub accepted_environments: Vec<Environment>,
    /// Zero reads the credential on every request.
    pub live_status_max_age: StdDuration,
}

impl RequestVerifier {
    pub fn new(
        rules: ApiRules,
        tokens: Tokens,
        clients: ClientAuthenticator,
        store: Arc<dyn VerifierPorts>,
        clock: Arc<dyn Clock>,
        usage: Arc<UsageRecorder>,
    ) -> Self {
        let ApiRules {
            routes,
            accepted_environments,
            live_status_max_age,
        } = rules;
        let quota_notices = QuotaNotices::new(store.clone(), STATE_CACHE_ENTRIES);
        let recent = (!live_status_max_age.is_zero()).then(|| StateCache {
            max_age: live_status_max_age,
            entries: Mutex::new(LruCache::new(STATE_CACHE_ENTRIES)),
        });
        Self {
            routes,
            tokens,
            clients,
            store,
            clock,
            usage,
            recent,
            quotas: KnownQuotas(Mutex::new(LruCache::new(STATE_CACHE_ENTRIES))),
            quota_notices,
            accepted_environments,
        }
    }

    pub fn routes(&self) -> &RouteScopes {
        &self.routes
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Where this instance counts allowed requests; its owner flushes it.
    pub fn usage(&self) -> &Arc<UsageRecorder> {
        &self.usage
    }

    /// Decides one request from `source` to `route_key` carrying `authorization`; an allowed
    /// request counts one use of its credential.
    pub async fn verify(
        &self,
        route_key: &str,
        authorization: &str,
        source: &SourceAddress,
    ) -> Result<Allowed, VerifyError> {
        let required = self
            .routes
            .required(route_key)
            .ok_or(Refusal::RouteNotConfigured)?;
        let accept = Acceptance {
            required,
            environments: &self.accepted_environments,
        };
        let now = self.clock.now();
        let month = UsageMonth::of(now);
        // What was decided once the credential was known: refusals from then on are counted
        // in its usage (the client authenticator counts its own).
        let (decided, credential, used) = match presented(authorization)? {
            Authorization::Bearer(token) => {
                let claims = verify_bearer(&self.tokens, token, now)?;
                let client_id =
                    ClientId::parse(&claims.client_id).ok_or(Refusal::CredentialNotFound)?;
                let tenant = TenantId::parse(&claims.tenant).ok_or(Refusal::CredentialNotFound)?;
                let state = self
                    .bearer_state(&client_id, &tenant, &claims.jti, month)
                    .await?;
                let unflushed = self.usage.unflushed(&client_id, month);
                let decided = admit_bearer(&claims, &state, accept, unflushed, now);
                let used = state.uses_this_month.map(|stored| stored + unflushed);
                let known = state.credential.filter(|c| c.tenant == tenant);
                (decided, known, used)
            }
            Authorization::Basic { client_id, secret } => {
                let credential = self
                    .clients
                    .authenticate(&client_id, &secret, source)
                    .await
                    .map_err(basic_refusal)?;
                let (decided, used) = self
                    .admit_basic(&credential, required, accept, month)
                    .await?;
                (decided, Some(credential), used)
            }
        };
        if let (Some(credential), Some(used)) = (&credential, used) {
            let used = used + u64::from(decided.is_ok());
            self.quota_notices.notice(credential, used, now).await;
        }
        match (&decided, &credential) {
            (Ok(_), Some(credential)) => self.usage.record(credential, now, source),
            (Err(refusal), Some(credential)) => {
                if let Some(reason) = refusal.counted_as() {
                    self.usage.refuse(credential, reason, now);
                }
            }
            (_, None) => {}
        }
        Ok(decided?)
    }

    /// Checks 5 to 7 for a client authenticated by its ID and secret; with this month's uses
    /// so far when the credential has a quota.
    async fn admit_basic(
        &self,
        credential: &Credential,
        required: &[Scope],
        accept: Acceptance<'_>,
        month: UsageMonth,
    ) -> Result<(Result<Allowed, Refusal>, Option<u64>), StoreError> {
        let checked = require_environment(credential, accept.environments)
            .and_then(|()| require_scopes(|s| credential.scopes.contains(s), required));
        if let Err(refusal) = checked {
            return Ok((Err(refusal), None));
        }
        let mut used = None;
        if credential.monthly_request_quota.is_some() {
            let stored = self.stored_uses(&credential.client_id, month).await?;
            let unflushed = self.usage.unflushed(&credential.client_id, month);
            used = Some(stored + unflushed);
            if let Err(refusal) = require_quota(credential, Some(stored), unflushed) {
                return Ok((Err(refusal), used));
            }
        }
        let allowed = Allowed {
            tenant: credential.tenant.to_string(),
            client_id: credential.client_id.to_string(),
            scope: credential.scopes.to_oauth_string(),
            environment: credential.environment,
            jti: String::new(),
        };
        Ok((Ok(allowed), used))
    }

    /// This month's stored uses of a credential whose item is already in hand: the usage
    /// counter alone.
    async fn stored_uses(
        &self,
        client_id: &ClientId,
        month: UsageMonth,
    ) -> Result<u64, StoreError> {
        let counts = self
            .store
            .request_counts(std::slice::from_ref(client_id), month)
            .await?;
        Ok(counts.get(client_id).copied().unwrap_or(0))
    }

    /// What a Bearer request needs read: the credential and the deny list, and this month's
    /// uses only if the credential has a quota. Whether it has one is known from the last
    /// read of it on this instance (unknown: assume it has); a quota set since is seen in the
    /// credential read now, and its uses are then read at once.
    async fn bearer_state(
        &self,
        client_id: &ClientId,
        tenant: &TenantId,
        jti: &str,
        month: UsageMonth,
    ) -> Result<CredentialState, StoreError> {
        let key = (client_id.clone(), jti.to_owned());
        if let Some(state) = self.recent.as_ref().and_then(|cache| cache.get(&key)) {
            return Ok(state);
        }
        let read_uses = self.quotas.may_have_quota(client_id);
        let mut state = self
            .store
            .credential_state(&StateQuery {
                client_id,
                jti: Some(jti),
                month: read_uses.then_some(month),
                policy_of: Some(tenant),
            })
            .await?;
        let has_quota = state
            .credential
            .as_ref()
            .is_some_and(|c| c.monthly_request_quota.is_some());
        self.quotas.remember(client_id, has_quota);
        if has_quota && state.uses_this_month.is_none() {
            state.uses_this_month = Some(self.stored_uses(client_id, month).await?);
        }
        if let Some(cache) = &self.recent {
            cache.put(key, state.clone());
        }
        Ok(state)
    }
}

fn basic_refusal(failure: AuthFailure) -> VerifyError {
    match failure {
        AuthFailure::Malformed | AuthFailure::BadCredentials => Refusal::InvalidClient.into(),
        AuthFailure::Throttled { .. } => Refusal::Throttled.into(),
        AuthFailure::BlockedByPolicy(_) => Refusal::PolicyViolation.into(),
        AuthFailure::Inactive(status) => Refusal::inactive(status)
            .unwrap_or(Refusal::InvalidClient)
            .into(),
        AuthFailure::Store(e) => e.into(),
        AuthFailure::Internal(cause) => VerifyError::Failed(cause),
    }
}

#[cfg(test)]
mod tests;
