//! A local stand-in for the platform's identity provider: it mints management tokens with a
//! development key, and verifies them the way API Gateway's JWT authorizer would before the
//! request reaches a function.

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use clavis_core::token::keys::{KeyAlgorithm, KeyError, SigningKey};
use jsonwebtoken::Validation;
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "https://idp.clavis.local";
pub const AUDIENCE: &str = "clavis-management";
const KEY_FILE: &str = "dev-idp-key.pem";

/// What a management token says about its bearer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DevClaims {
    pub sub: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advises: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct LocalIdp {
    key: SigningKey,
}

#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("development key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

impl LocalIdp {
    /// A throwaway identity provider (tests).
    pub fn ephemeral() -> Result<Self, IdpError> {
        Ok(Self {
            key: SigningKey::generate(KeyAlgorithm::Rs256)?.0,
        })
    }

    /// The development identity provider of `make run`: its key is kept in `data_dir` so that
    /// tokens printed once keep working across restarts.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, IdpError> {
        let (key, _) = persistent_key(&data_dir.join(KEY_FILE), KeyAlgorithm::Rs256)?;
        Ok(Self { key })
    }

    /// A signed management token, valid for `hours`.
    pub fn mint(&self, claims: &DevClaims, hours: i64) -> Result<String, IdpError> {
        #[derive(Serialize)]
        struct Token<'a> {
            iss: &'static str,
            aud: &'static str,
            iat: i64,
            exp: i64,
            #[serde(flatten)]
            claims: &'a DevClaims,
        }
        let now = Utc::now().timestamp();
        let token = Token {
            iss: ISSUER,
            aud: AUDIENCE,
            iat: now,
            exp: now + hours * 3600,
            claims,
        };
        Ok(self.key.sign("JWT", &token)?)
    }

    /// Verifies a bearer token as API Gateway's JWT authorizer does (signature, `iss`, `aud`,
    /// `exp`, `nbf`) and returns its claims in the form API Gateway hands them to a function:
    /// every value a string, lists as `"[a b]"`.
    pub fn verify(&self, token: &str) -> Option<HashMap<String, String>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.kid.as_deref() != Some(self.key.kid()) {
            return None;
        }
        let mut validation = Validation::new(self.key.algorithm().jwt_algorithm());
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<HashMap<String, serde_json::Value>>(
            token,
            self.key.decoding_key(),
            &validation,
        )
        .ok()?;
        Some(
            data.claims
                .into_iter()
                .map(|(name, value)| (name, api_gateway_claim(value)))
                .collect(),
        )
    }
}

/// API Gateway's rendering of a claim value.
fn api_gateway_claim(value: serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) => s,
        Value::Array(items) => {
            let parts: Vec<String> = items.into_iter().map(api_gateway_claim).collect();
            format!("[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

/// A development key kept at `path` (created, owner-readable only, on first use), and its PEM.
pub fn persistent_key(
    path: &Path,
    algorithm: KeyAlgorithm,
) -> Result<(SigningKey, String), IdpError> {
    let file_error = |source| IdpError::File {
        path: path.display().to_string(),
        source,
    };
    if let Ok(pem) = std::fs::read_to_string(path) {
        return Ok((SigningKey::from_pem(algorithm, &pem)?, pem));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(file_error)?;
    }
    let (key, pem) = SigningKey::generate(algorithm)?;
    write_private(path, &pem).map_err(file_error)?;
    Ok((key, pem))
}

/// The idempotency pepper kept beside the data (base64, as `IDEMPOTENCY_PEPPER` takes it), so
/// that a create or rotation retried after a restart still opens its record.
pub fn persistent_pepper(path: &Path) -> Result<String, IdpError> {
    use base64::Engine;
    let file_error = |source| IdpError::File {
        path: path.display().to_string(),
        source,
    };
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(text.trim().to_owned());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(file_error)?;
    }
    let pepper = clavis_core::idempotency::IdempotencyPepper::generate();
    let text = base64::engine::general_purpose::STANDARD.encode(pepper.expose());
    write_private(path, &text).map_err(file_error)?;
    Ok(text)
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> DevClaims {
        DevClaims {
            sub: "alice".into(),
            role: "advisor".into(),
            tenant: Some("agency".into()),
            advises: vec!["acme".into(), "globex".into()],
        }
    }

    #[test]
    fn claims_arrive_as_api_gateway_delivers_them() {
        let idp = LocalIdp::ephemeral().unwrap();
        let claims = idp.verify(&idp.mint(&admin(), 1).unwrap()).unwrap();
        assert_eq!(claims["advises"], "[acme globex]");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["iss"], ISSUER);
        assert!(claims["exp"].parse::<i64>().is_ok());
    }

    #[test]
    fn foreign_expired_and_garbled_tokens_are_refused() {
        let idp = LocalIdp::ephemeral().unwrap();
        let other = LocalIdp::ephemeral().unwrap();
        assert!(
            idp.verify(&other.mint(&admin(), 1).unwrap()).is_none(),
            "another key"
        );
        assert!(
            idp.verify(&idp.mint(&admin(), -1).unwrap()).is_none(),
            "expired"
        );
        assert!(idp.verify("not.a.token").is_none());
        assert!(idp.verify("").is_none());
    }

    #[test]
    fn the_development_key_survives_restarts() {
        let dir = std::env::temp_dir().join(format!("clavis-idp-{}", ulid::Ulid::generate()));
        let first = LocalIdp::load_or_create(&dir).unwrap();
        let token = first.mint(&admin(), 1).unwrap();
        let again = LocalIdp::load_or_create(&dir).unwrap();
        assert!(again.verify(&token).is_some());
        let mode = std::fs::metadata(dir.join(KEY_FILE)).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
