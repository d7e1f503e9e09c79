//! Access tokens: JWTs per RFC 9068, signed with the current key, verifiable with the current
//! or the previous one (so a key rotation never breaks tokens in flight).

use chrono::Duration;
use jsonwebtoken::Validation;
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};

use crate::credential::{Credential, Scopes};
use crate::time::Timestamp;

pub mod keys;

use keys::{KeyError, SigningKey, VerifyingKey};

/// RFC 9068's media type for JWT access tokens, in the JOSE `typ` header.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::hours(1);
/// How far in the future an `iat` may lie before the token is refused (clock skew).
const MAX_CLOCK_SKEW: Duration = Duration::seconds(60);

/// The claims of a Clavis access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The client ID: the token represents the integration itself.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// Clavis never sets it, but a token that carries one is not accepted before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    pub client_id: String,
    /// Space-separated, as granted.
    pub scope: String,
    pub tenant: String,
    pub secret_version: u32,
    /// The credential's environment (`live`/`test`); absent from tokens issued before it was
    /// added, which then take the credential's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The credential's token generation when the token was issued (see
    /// [`Credential::accepts_token_generation`]); 0 for tokens issued before generations.
    #[serde(default)]
    pub token_generation: u32,
}

/// The keys verifiers may meet: the one signing now, and the one before it.
#[derive(Debug, Clone)]
pub struct KeySet {
    current: SigningKey,
    previous: Option<SigningKey>,
}

impl KeySet {
    pub fn new(current: SigningKey, previous: Option<SigningKey>) -> Result<Self, KeyError> {
        if previous.as_ref().is_some_and(|p| p.kid() == current.kid()) {
            return Err(KeyError(
                "the previous signing key is the current one".into(),
            ));
        }
        Ok(Self { current, previous })
    }

    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The public halves, current first.
    pub fn public(&self) -> PublicKeys {
        PublicKeys(
            std::iter::once(&self.current)
                .chain(self.previous.as_ref())
                .map(VerifyingKey::from)
                .collect(),
        )
    }
}

/// The public keys tokens are verified with, current first: all that a function that does
/// not issue tokens holds (read from the JWKS that key set-up and rotation publish).
#[derive(Debug, Clone)]
pub struct PublicKeys(Vec<VerifyingKey>);

impl PublicKeys {
    /// At most two keys (current and previous), each well formed, no key ID twice.
    pub fn from_jwks(jwks: &JwkSet) -> Result<Self, KeyError> {
        if jwks.keys.is_empty() || jwks.keys.len() > 2 {
            return Err(KeyError(format!(
                "the public key set must hold the current key and at most the previous one, not {}",
                jwks.keys.len()
            )));
        }
        let keys = jwks
            .keys
            .iter()
            .map(VerifyingKey::from_jwk)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.len() == 2 && keys[0].kid() == keys[1].kid() {
            return Err(KeyError("the public key set names one key ID twice".into()));
        }
        Ok(Self(keys))
    }

    fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        self.0.iter().find(|key| key.kid() == kid)
    }

    /// The key tokens are signed with now.
    pub fn current(&self) -> &VerifyingKey {
        // `from_jwks` and `KeySet::public` never make an empty set.
        &self.0[0]
    }

    /// As `/.well-known/jwks.json` serves them.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.0.iter().map(|key| key.public_jwk().clone()).collect(),
        }
    }
}

/// Why a presented token is not a valid Clavis access token. Callers answer all of them the
/// same way (`active: false`, or silence for revocation); the reasons are for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    #[error("not a JWT")]
    Malformed,
    #[error("not an access token (typ)")]
    WrongType,
    #[error("signed by no key of ours")]
    UnknownKey,
    #[error("signature, algorithm, issuer or audience do not check out")]
    Invalid,
    #[error("expired")]
    Expired,
    #[error("issued in the future")]
    IssuedInFuture,
    #[error("not valid yet (nbf)")]
    NotYetValid,
}

/// Why no token could be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// This function was given the public keys only: only `issue-token` signs.
    #[error("this function holds no signing key")]
    NoSigningKey,
    #[error(transparent)]
    Key(#[from] KeyError),
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    pub claims: AccessTokenClaims,
}

/// Issues (with a signing key) and verifies access tokens for one issuer and audience.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// `None` in every function but the token issuer.
    signer: Option<SigningKey>,
    public: PublicKeys,
    issuer: String,
    audience: String,
}

impl Tokens {
    /// The token issuer's: signs with the current key.
    pub fn new(keys: KeySet, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            public: keys.public(),
            signer: Some(keys.current),
            issuer: issuer.into(),
            audience: audience.into(),
        }
    }

    /// A verifier's: checks tokens, issues none.
    pub fn verifying(
        public: PublicKeys,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            signer: None,
            public,
            issuer: issuer.into(),
            audience: audience.into(),
        }
    }

    /// The same issuer and audience with the public keys only: what a process that serves
    /// every function (the local gateway) hands the functions that only verify.
    pub fn verifying_only(&self) -> Self {
        Self {
            signer: None,
            ..self.clone()
        }
    }

    pub fn public_keys(&self) -> &PublicKeys {
        &self.public
    }

    /// The issuer's signing key; `None` in a verifier.
    pub fn signing_key(&self) -> Option<&SigningKey> {
        self.signer.as_ref()
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A one-hour token for `credential`, carrying `scopes` (already checked to be its own).
    pub fn issue(
        &self,
        credential: &Credential,
        scopes: &Scopes,
        now: Timestamp,
    ) -> Result<IssuedToken, IssueError> {
        let signer = self.signer.as_ref().ok_or(IssueError::NoSigningKey)?;
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: credential.client_id.to_string(),
            aud: self.audience.clone(),
            exp: (now + ACCESS_TOKEN_LIFETIME).timestamp(),
            iat: now.timestamp(),
            nbf: None,
            jti: ulid::Ulid::generate().to_string(),
            client_id: credential.client_id.to_string(),
            scope: scopes.to_oauth_string(),
            tenant: credential.tenant.to_string(),
            secret_version: credential.secret.version,
            environment: Some(credential.environment.as_str().to_owned()),
            token_generation: credential.token_generation,
        };
        let access_token = signer.sign(ACCESS_TOKEN_TYPE, &claims)?;
        Ok(IssuedToken {
            access_token,
            expires_in: ACCESS_TOKEN_LIFETIME.num_seconds(),
            scope: claims.scope.clone(),
            claims,
        })
    }

    /// Checks a presented token: our type, one of our keys with that key's own algorithm (so
    /// `alg: none` and HMAC-with-the-public-key never verify), our issuer and audience, and
    /// `exp`/`iat`/`nbf` against `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<AccessTokenClaims, TokenRejected> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejected::Malformed)?;
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
                || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(TokenRejected::WrongType);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.public.find(kid))
            .ok_or(TokenRejected::UnknownKey)?;
        let algorithm = key.algorithm().jwt_algorithm();
        if header.alg != algorithm {
            return Err(TokenRejected::Invalid);
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Time is checked below against the service's clock, not the library's.
        validation.validate_exp = false;
        let claims =
            jsonwebtoken::decode::<AccessTokenClaims>(token, key.decoding_key(), &validation)
                .map_err(|_| TokenRejected::Invalid)?
                .claims;
        if claims.exp <= now.timestamp() {
            return Err(TokenRejected::Expired);
        }
        if claims.iat > (now + MAX_CLOCK_SKEW).timestamp() {
            return Err(TokenRejected::IssuedInFuture);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > (now + MAX_CLOCK_SKEW).timestamp())
        {
            return Err(TokenRejected::NotYetValid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests;
