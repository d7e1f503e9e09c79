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
//! 7. this month's requests are below the credential's quota.
//!
//! Rotation follows the seeds: an old secret stops at once (Basic is authenticated like the
//! token endpoint, failures counted per client ID and source address), while tokens issued
//! before a rotation stay valid until they expire unless the rotation ended them.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use lru::LruCache;

use crate::authorization::{Authorization, MalformedAuthorization};
use crate::client_auth::{AuthFailure, ClientAuthenticator};
use crate::credential::{Credential, Environment, Scope, Status};
use crate::ids::ClientId;
use crate::source::SourceAddress;
use crate::store::{CredentialState, StoreError, UsageMonth, VerifierPorts};
use crate::time::{Clock, Timestamp};
use crate::token::{AccessTokenClaims, Tokens};
use crate::token_service::still_granted;
use crate::usage::UsageRecorder;

/// Why a request is refused: the first check that failed. The code is logged, never shown to
/// the caller (API Gateway answers every refusal with the same 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no scopes are configured for this route")]
    RouteNotConfigured,
    #[error("the Authorization header holds no valid access token")]
    InvalidToken,
    #[error("the client ID and secret do not authenticate")]
    InvalidClient,
    #[error("too many failed attempts from this address")]
    Throttled,
    #[error("the token was revoked")]
    TokenRevoked,
    #[error("the credential is revoked")]
    CredentialRevoked,
    #[error("the credential is suspended")]
    CredentialSuspended,
    #[error("the credential has expired")]
    CredentialExpired,
    #[error("the credential does not exist")]
    CredentialNotFound,
    #[error("the route needs scopes the request was not granted")]
    InsufficientScope,
    #[error("the credential's monthly request quota is used up")]
    QuotaExceeded,
    #[error("this API does not accept keys of the credential's environment")]
    EnvironmentNotAccepted,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::RouteNotConfigured => "route_not_configured",
            Self::InvalidToken => "invalid_token",
            Self::InvalidClient => "invalid_client",
            Self::Throttled => "throttled",
            Self::TokenRevoked => "token_revoked",
            Self::CredentialRevoked => "credential_revoked",
            Self::CredentialSuspended => "credential_suspended",
            Self::CredentialExpired => "credential_expired",
            Self::CredentialNotFound => "credential_not_found",
            Self::InsufficientScope => "insufficient_scope",
            Self::QuotaExceeded => "quota_exceeded",
            Self::EnvironmentNotAccepted => "environment_not_accepted",
        }
    }

    fn inactive(status: Status) -> Option<Self> {
        match status {
            Status::Active => None,
            Status::Suspended => Some(Self::CredentialSuspended),
            Status::Expired => Some(Self::CredentialExpired),
            Status::Revoked => Some(Self::CredentialRevoked),
        }
    }
}

/// A refusal, or a failure to decide (the store could not be read); either way the request
/// does not go through.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("verification could not run: {0}")]
    Failed(String),
}

impl From<StoreError> for VerifyError {
    fn from(e: StoreError) -> Self {
        Self::Failed(e.to_string())
    }
}

/// What an allowed request carries on to the platform's integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub tenant: String,
    pub client_id: String,
    /// Space-separated: the token's scopes that the credential still holds, or the
    /// credential's for Basic.
    pub scope: String,
    /// The key's environment, `live` or `test`.
    pub environment: Environment,
    /// Empty for Basic.
    pub jti: String,
}

/// One segment of a route's path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: any one non-empty segment.
    Parameter,
    /// `{name+}`, last only: one or more segments.
    Greedy,
}

#[derive(Debug, Clone)]
struct RouteTemplate {
    key: String,
    /// `None` for `ANY`.
    method: Option<String>,
    segments: Vec<Segment>,
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];
const DEFAULT_ROUTE: &str = "$default";

impl RouteTemplate {
    fn parse(key: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("route key {key:?} {why}");
        let (method, path) = key
            .split_once(' ')
            .ok_or_else(|| bad("is not \"METHOD /path\" or \"$default\""))?;
        if !METHODS.contains(&method) {
            return Err(bad(&format!(
                "has an unknown method (one of {})",
                METHODS.join(", ")
            )));
        }
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| bad("has a path that does not start with /"))?;
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if name.ends_with('+') && name.len() > 1 => {
                    if i + 1 != parts.len() {
                        return Err(bad("has a greedy {name+} that is not the last segment"));
                    }
                    Segment::Greedy
                }
                Some(name) if !name.is_empty() && !name.contains(['{', '}', '+']) => {
                    Segment::Parameter
                }
                Some(_) => return Err(bad("has an empty or malformed {parameter}")),
                None if part.is_empty() => return Err(bad("has an empty path segment")),
                None if part.contains(['{', '}']) => {
                    return Err(bad("has a segment that is part literal, part parameter"));
                }
                None => Segment::Literal((*part).to_owned()),
            };
            segments.push(segment);
        }
        Ok(Self {
            key: key.to_owned(),
            method: (method != "ANY").then(|| method.to_owned()),
            segments,
        })
    }

    /// How specific a match is, as API Gateway ranks routes: more literal segments, then no
    /// greedy segment, then a named method over `ANY`, then the longer run of literal
    /// segments from the start. (Two templates still level, such as `/a/{x}` against `/{x}/a`
    /// with the same prefix, are told apart by their keys in [`RouteScopes::route_key`], so
    /// the pick never depends on a hash order.)
    fn matches(&self, method: &str, path: &[&str]) -> Option<(usize, bool, bool, usize)> {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return None;
        }
        let greedy = self.segments.last() == Some(&Segment::Greedy);
        let fixed = if greedy {
            self.segments.len() - 1
        } else {
            self.segments.len()
        };
        let length_ok = if greedy {
            path.len() > fixed
        } else {
            path.len() == fixed
        };
        if !length_ok {
            return None;
        }
        let mut literals = 0;
        for (segment, actual) in self.segments[..fixed].iter().zip(path) {
            match segment {
                Segment::Literal(text) if text == actual => literals += 1,
                Segment::Parameter if !actual.is_empty() => {}
                _ => return None,
            }
        }
        let literal_prefix = self
            .segments
            .iter()
            .take_while(|segment| matches!(segment, Segment::Literal(_)))
            .count();
        Some((literals, !greedy, self.method.is_some(), literal_prefix))
    }
}

/// The scopes each route of the platform's API requires (`ROUTE_SCOPES`): a JSON object from
/// API Gateway route key (`"GET /products"`, `"POST /orders/{id}"`, `"ANY /files/{path+}"` or
/// `"$default"`) to a list of scopes, all of which a request needs. A route that is not listed
/// is refused unless there is a `"$default"` entry: deny by default.
#[derive(Debug, Clone)]
pub struct RouteScopes {
    routes: HashMap<String, Vec<Scope>>,
    templates: Vec<RouteTemplate>,
}

impl RouteScopes {
    pub fn parse(json: &str) -> Result<Self, String> {
        let raw: HashMap<String, Vec<String>> = serde_json::from_str(json).map_err(|e| {
            format!("must be a JSON object from route key to a list of scopes ({e})")
        })?;
        let mut routes = HashMap::with_capacity(raw.len());
        let mut templates = Vec::new();
        for (key, scopes) in raw {
            if key != DEFAULT_ROUTE {
                templates.push(RouteTemplate::parse(&key)?);
            }
            let scopes = scopes
                .iter()
                .map(|s| Scope::parse(s).map_err(|e| format!("route {key:?}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            routes.insert(key, scopes);
        }
        Ok(Self { routes, templates })
    }

    /// The scopes `route_key` requires, falling back to `$default`; `None`: not configured.
    pub fn required(&self, route_key: &str) -> Option<&[Scope]> {
        self.routes
            .get(route_key)
            .or_else(|| self.routes.get(DEFAULT_ROUTE))
            .map(Vec::as_slice)
    }

    /// The route key API Gateway would pick for a request, if the platform's routes are the
    /// ones listed here: the most specific match, else `$default`. The local gateway uses it;
    /// in AWS, API Gateway hands the authorizer its route key.
    pub fn route_key(&self, method: &str, path: &str) -> String {
        let segments: Vec<&str> = path
            .strip_prefix('/')
            .unwrap_or(path)
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        self.templates
            .iter()
            .filter_map(|t| t.matches(method, &segments).map(|rank| (rank, &t.key)))
            // The most specific; between equals, the key first in byte order, on every start.
            .max_by(|(a, a_key), (b, b_key)| a.cmp(b).then_with(|| b_key.cmp(a_key)))
            .map_or_else(|| DEFAULT_ROUTE.to_owned(), |(_, key)| key.clone())
    }
}

/// Reads `Authorization` with the one parser every endpoint uses.
pub fn presented(authorization: &str) -> Result<Authorization<'_>, Refusal> {
    Authorization::parse(authorization).map_err(|e| match e {
        MalformedAuthorization::Scheme => Refusal::InvalidToken,
        MalformedAuthorization::Basic => Refusal::InvalidClient,
    })
}

/// Checks a bearer token offline: signature (current or previous key), `typ`, `iss`, `aud`,
/// `exp`, `nbf`.
pub fn verify_bearer(
    tokens: &Tokens,
    token: &str,
    now: Timestamp,
) -> Result<AccessTokenClaims, Refusal> {
    tokens.verify(token, now).map_err(|_| Refusal::InvalidToken)
}

fn require_scopes(granted: impl Fn(&Scope) -> bool, required: &[Scope]) -> Result<(), Refusal> {
    if required.iter().all(granted) {
        Ok(())
    } else {
        Err(Refusal::InsufficientScope)
    }
}

/// `stored`: this month's uses as read, `None` if they were not (which a credential with a
/// quota is refused for: nothing may pass a quota unchecked); `unflushed`: this instance's
/// uses not yet written.
fn require_quota(
    credential: &Credential,
    stored: Option<u64>,
    unflushed: u64,
) -> Result<(), Refusal> {
    match (credential.monthly_request_quota, stored) {
        (None, _) => Ok(()),
        (Some(quota), Some(stored)) if quota.allows_another(stored + unflushed) => Ok(()),
        (Some(_), _) => Err(Refusal::QuotaExceeded),
    }
}

fn require_environment(credential: &Credential, accepted: &[Environment]) -> Result<(), Refusal> {
    if accepted.contains(&credential.environment) {
        Ok(())
    } else {
        Err(Refusal::EnvironmentNotAccepted)
    }
}

/// What an API accepts beyond a valid key: its route table's scopes and its environments.
#[derive(Debug, Clone, Copy)]
pub struct Acceptance<'a> {
    pub required: &'a [Scope],
    pub environments: &'a [Environment],
}

/// Checks 3 to 7 for a verified token, given what was read of its credential and the uses this
/// instance counted but has not flushed.
pub fn admit_bearer(
    claims: &AccessTokenClaims,
    state: &CredentialState,
    accept: Acceptance<'_>,
    unflushed: u64,
    now: Timestamp,
) -> Result<Allowed, Refusal> {
    if state.token_denied {
        return Err(Refusal::TokenRevoked);
    }
    let credential = state
        .credential
        .as_ref()
        .filter(|c| c.tenant.as_str() == claims.tenant)
        .ok_or(Refusal::CredentialNotFound)?;
    if let Some(refusal) = Refusal::inactive(credential.status(now)) {
        return Err(refusal);
    }
    // Ended by a suspension, or by a rotation that asked to end the tokens before it.
    if !credential.accepts_token_generation(claims.token_generation) {
        return Err(Refusal::TokenRevoked);
    }
    require_environment(credential, accept.environments)?;
    let scope = still_granted(claims, credential, now).ok_or(Refusal::InsufficientScope)?;
    let granted: Vec<&str> = scope.split(' ').collect();
    require_scopes(|s| granted.contains(&s.as_str()), accept.required)?;
    require_quota(credential, state.uses_this_month, unflushed)?;
    Ok(Allowed {
        tenant: claims.tenant.clone(),
        client_id: claims.client_id.clone(),
        scope,
        environment: credential.environment,
        jti: claims.jti.clone(),
    })
}

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
        let (allowed, credential) = match presented(authorization)? {
            Authorization::Bearer(token) => {
                let claims = verify_bearer(&self.tokens, token, now)?;
                let client_id =
                    ClientId::parse(&claims.client_id).ok_or(Refusal::CredentialNotFound)?;
                let state = self.bearer_state(&client_id, &claims.jti, month).await?;
                let unflushed = self.usage.unflushed(&client_id, month);
                let allowed = admit_bearer(&claims, &state, accept, unflushed, now)?;
                (allowed, state.credential)
            }
            Authorization::Basic { client_id, secret } => {
                let credential = self
                    .clients
                    .authenticate(&client_id, &secret, source)
                    .await
                    .map_err(basic_refusal)?;
                require_environment(&credential, accept.environments)?;
                require_scopes(|s| credential.scopes.contains(s), required)?;
                if credential.monthly_request_quota.is_some() {
                    let stored = self.stored_uses(&credential.client_id, month).await?;
                    let unflushed = self.usage.unflushed(&credential.client_id, month);
                    require_quota(&credential, Some(stored), unflushed)?;
                }
                let allowed = Allowed {
                    tenant: credential.tenant.to_string(),
                    client_id: credential.client_id.to_string(),
                    scope: credential.scopes.to_oauth_string(),
                    environment: credential.environment,
                    jti: String::new(),
                };
                (allowed, Some(credential))
            }
        };
        if let Some(credential) = &credential {
            self.usage.record(credential, now);
        }
        Ok(allowed)
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
            .credential_state(client_id, Some(jti), read_uses.then_some(month))
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
        AuthFailure::Inactive(status) => Refusal::inactive(status)
            .unwrap_or(Refusal::InvalidClient)
            .into(),
        AuthFailure::Store(e) => e.into(),
        AuthFailure::Internal(cause) => VerifyError::Failed(cause),
    }
}

#[cfg(test)]
mod tests;
