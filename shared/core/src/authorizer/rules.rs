//! The checks of a request, as plain functions: why a request is refused, and what an allowed
//! one carries on.

use crate::authorization::{Authorization, MalformedAuthorization};
use crate::credential::{Credential, Environment, Scope, Status};
use crate::policy::StoredPolicy;
use crate::store::{CredentialState, StoreError};
use crate::time::Timestamp;
use crate::token::{AccessTokenClaims, Tokens};
use crate::token_service::still_granted;
use crate::usage_days::RefusalReason;

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
    #[error("the credential breaks its tenant's policy")]
    PolicyViolation,
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
            Self::PolicyViolation => "policy_violation",
        }
    }

    /// The reason this refusal is counted under in its credential's usage; `None` for those
    /// that name no credential verified to exist.
    pub fn counted_as(self) -> Option<RefusalReason> {
        Some(match self {
            Self::RouteNotConfigured | Self::InvalidToken | Self::CredentialNotFound => {
                return None;
            }
            Self::InvalidClient => RefusalReason::InvalidClient,
            Self::Throttled => RefusalReason::Throttled,
            Self::TokenRevoked => RefusalReason::TokenRevoked,
            Self::CredentialRevoked => RefusalReason::CredentialRevoked,
            Self::CredentialSuspended => RefusalReason::CredentialSuspended,
            Self::CredentialExpired => RefusalReason::CredentialExpired,
            Self::InsufficientScope => RefusalReason::InsufficientScope,
            Self::QuotaExceeded => RefusalReason::QuotaExceeded,
            Self::EnvironmentNotAccepted => RefusalReason::EnvironmentNotAccepted,
            Self::PolicyViolation => RefusalReason::PolicyViolation,
        })
    }

    pub(super) fn inactive(status: Status) -> Option<Self> {
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

pub(super) fn require_scopes(
    granted: impl Fn(&Scope) -> bool,
    required: &[Scope],
) -> Result<(), Refusal> {
    if required.iter().all(granted) {
        Ok(())
    } else {
        Err(Refusal::InsufficientScope)
    }
}

/// `stored`: this month's uses as read, `None` if they were not (which a credential with a
/// quota is refused for: nothing may pass a quota unchecked); `unflushed`: this instance's
/// uses not yet written.
pub(super) fn require_quota(
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

pub(super) fn require_environment(
    credential: &Credential,
    accepted: &[Environment],
) -> Result<(), Refusal> {
    if accepted.contains(&credential.environment) {
        Ok(())
    } else {
        Err(Refusal::EnvironmentNotAccepted)
    }
}

/// The credential complies with its tenant's policy, as read with it (`None`, not read, is
/// refused: nothing passes a policy unchecked).
pub(super) fn require_policy(
    credential: &Credential,
    policy: Option<&StoredPolicy>,
) -> Result<(), Refusal> {
    match policy {
        Some(stored)
            if stored.tenant == credential.tenant
                && stored
                    .policy
                    .violations(credential, credential.expiry_decided_at())
                    .is_empty() =>
        {
            Ok(())
        }
        _ => Err(Refusal::PolicyViolation),
    }
}

/// What an API accepts beyond a valid key: its route table's scopes and its environments.
#[derive(Debug, Clone, Copy)]
pub struct Acceptance<'a> {
    pub required: &'a [Scope],
    pub environments: &'a [Environment],
}

/// Checks 3 to 7 (and the tenant's policy) for a verified token, given what was read of its credential and the uses this
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
    require_policy(credential, state.policy.as_ref())?;
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
