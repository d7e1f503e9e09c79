//! The rules of the OAuth endpoints, without HTTP: which client gets a token and with which
//! scopes, what introspection may tell whom, who may revoke which token, and counting uses.
//! The handlers in `api::oauth` parse and render; this decides.

use std::sync::Arc;

use crate::client_auth::{AuthFailure, ClientAuthenticator};
use crate::credential::{Credential, Scopes, Status};
use crate::ids::ClientId;
use crate::source::SourceAddress;
use crate::store::{StateQuery, StoreError, TokenPorts};
use crate::time::{Clock, Timestamp};
use crate::token::{AccessTokenClaims, IssuedToken, Tokens};
use crate::usage::UsageRecorder;
use crate::usage_days::RefusalReason;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Auth(#[from] AuthFailure),
    /// The requested scopes are malformed, or not all the credential's.
    #[error("{0}")]
    InvalidScope(String),
    #[error("A client may revoke only the tokens issued to it.")]
    NotYourToken,
    #[error("the token could not be signed: {0}")]
    Signing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What introspection tells the caller about a token.
#[derive(Debug)]
pub enum Introspection {
    /// Not a good token right now, or not the caller's to ask about: the same answer.
    Inactive,
    Active(Box<AccessTokenClaims>),
}

pub struct TokenService {
    clients: ClientAuthenticator,
    tokens: Tokens,
    store: Arc<dyn TokenPorts>,
    clock: Arc<dyn Clock>,
    usage: Arc<UsageRecorder>,
}

impl TokenService {
    pub fn new(
        clients: ClientAuthenticator,
        tokens: Tokens,
        store: Arc<dyn TokenPorts>,
        clock: Arc<dyn Clock>,
        usage: Arc<UsageRecorder>,
    ) -> Self {
        Self {
            clients,
            tokens,
            store,
            clock,
            usage,
        }
    }

    /// Where this instance counts uses; its owner flushes it (see [`UsageRecorder`]).
    pub fn usage(&self) -> &Arc<UsageRecorder> {
        &self.usage
    }

    /// The signing keys and issuer, for discovery.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The credential whose client ID and secret these are, if it may be used now, for a
    /// request from `source`.
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: &str,
        source: &SourceAddress,
    ) -> Result<Credential, TokenError> {
        Ok(self.clients.authenticate(client_id, secret, source).await?)
    }

    /// A token for an authenticated credential, with all its scopes or the `requested`
    /// (space-separated) subset of them, asked for from `source`.
    pub async fn issue(
        &self,
        credential: &Credential,
        requested: Option<&str>,
        source: &SourceAddress,
    ) -> Result<IssuedToken, TokenError> {
        let now = self.clock.now();
        let scopes = granted_scopes(requested, credential).inspect_err(|_| {
            self.usage
                .refuse(credential, RefusalReason::InsufficientScope, now)
        })?;
        let issued = self
            .tokens
            .issue(credential, &scopes, now)
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        self.usage.record(credential, now, source);
        Ok(issued)
    }

    /// Whether `token` is good right now, as far as `caller` may know: only tokens of the
    /// caller's own tenant are described; a revoked token, a credential that is no longer
    /// active, and a token ended by a suspension or rotation show at once; the scopes
    /// described are those the credential still holds (none left: inactive).
    pub async fn introspect(
        &self,
        caller: &Credential,
        token: &str,
        source: &SourceAddress,
    ) -> Result<Introspection, TokenError> {
        let now = self.clock.now();
        let Ok(claims) = self.tokens.verify(token, now) else {
            return Ok(Introspection::Inactive);
        };
        if claims.tenant != caller.tenant.as_str() {
            return Ok(Introspection::Inactive);
        }
        let Some(client_id) = ClientId::parse(&claims.client_id) else {
            return Ok(Introspection::Inactive);
        };
        // The credential, the deny list and the tenant's policy in one round trip, as the
        // authorizer reads them.
        let state = self
            .store
            .credential_state(&StateQuery {
                client_id: &client_id,
                jti: Some(&claims.jti),
                month: None,
                policy_of: Some(&caller.tenant),
            })
            .await?;
        let (false, Some(credential)) = (state.token_denied, state.credential) else {
            return Ok(Introspection::Inactive);
        };
        let blocked = state.policy.is_none_or(|stored| {
            !stored
                .policy
                .violations(&credential, credential.expiry_decided_at())
                .is_empty()
        });
        if blocked {
            return Ok(Introspection::Inactive);
        }
        match still_granted(&claims, &credential, now) {
            Some(scope) => {
                self.usage.record(&credential, now, source);
                Ok(Introspection::Active(Box::new(AccessTokenClaims {
                    scope,
                    environment: Some(credential.environment.as_str().to_owned()),
                    ..claims
                })))
            }
            None => Ok(Introspection::Inactive),
        }
    }

    /// Revokes one of the caller's own tokens until it would have expired anyway. A token that
    /// is invalid or already expired needs nothing done (RFC 7009 §2.2): `Ok(None)`; otherwise
    /// the revoked token's ID.
    pub async fn revoke(
        &self,
        caller: &Credential,
        token: &str,
    ) -> Result<Option<String>, TokenError> {
        let now = self.clock.now();
        let Ok(claims) = self.tokens.verify(token, now) else {
            return Ok(None);
        };
        if claims.client_id != caller.client_id.as_str() {
            return Err(TokenError::NotYourToken);
        }
        let expires_at = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
        self.store.deny_token(&claims.jti, expires_at).await?;
        Ok(Some(claims.jti))
    }
}

/// What of a verified token its credential still backs now: the token's scopes that the
/// credential still holds (space-separated), or `None` when the token no longer counts (the
/// credential is not active, the token was issued before a suspension or a rotation that
/// ended it, or none of its scopes is left). Scopes added since are not granted to it.
pub fn still_granted(
    claims: &AccessTokenClaims,
    credential: &Credential,
    now: Timestamp,
) -> Option<String> {
    if credential.tenant.as_str() != claims.tenant
        || credential.status(now) != Status::Active
        || !credential.accepts_token_generation(claims.token_generation)
    {
        return None;
    }
    let kept: Vec<&str> = claims
        .scope
        .split(' ')
        .filter(|s| credential.scopes.iter().any(|held| held.as_str() == *s))
        .collect();
    (!kept.is_empty()).then(|| kept.join(" "))
}

/// The scopes granted: all of the credential's, or the requested subset of them.
pub fn granted_scopes(
    requested: Option<&str>,
    credential: &Credential,
) -> Result<Scopes, TokenError> {
    let Some(requested) = requested else {
        return Ok(credential.scopes.clone());
    };
    let items: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    let scopes = Scopes::parse(&items).map_err(|e| TokenError::InvalidScope(e.message))?;
    if credential.scopes.is_superset(&scopes) {
        return Ok(scopes);
    }
    let extra: Vec<String> = scopes
        .iter()
        .filter(|s| !credential.scopes.contains(s))
        .map(ToString::to_string)
        .collect();
    Err(TokenError::InvalidScope(format!(
        "The credential is not granted: {}.",
        extra.join(" ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(scopes: &[&str]) -> Credential {
        crate::testing::created(scopes, None, chrono::Utc::now()).credential
    }

    #[test]
    fn a_token_carries_all_scopes_or_a_requested_subset_and_never_more() {
        let c = credential(&["orders:write", "products:read"]);
        assert_eq!(
            granted_scopes(None, &c).unwrap().to_oauth_string(),
            "orders:write products:read"
        );
        assert_eq!(
            granted_scopes(Some(" products:read "), &c)
                .unwrap()
                .to_oauth_string(),
            "products:read"
        );
        match granted_scopes(Some("products:read users:admin"), &c) {
            Err(TokenError::InvalidScope(why)) => assert!(why.contains("users:admin"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            granted_scopes(Some("Not A Scope"), &c),
            Err(TokenError::InvalidScope(_))
        ));
        assert!(matches!(
            granted_scopes(Some("   "), &c),
            Err(TokenError::InvalidScope(_))
        ));
    }
}
