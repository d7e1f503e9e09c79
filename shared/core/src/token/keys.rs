//! Signing keys for JWTs: loaded from PKCS#8 PEM (as operators store them) or generated for
//! local development, each with the public JWK that verifiers fetch. The key ID is the key's
//! RFC 7638 thumbprint, so it is stable and needs no bookkeeping.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm as JwkAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;

/// The signature algorithms Clavis signs with. RS256 by default: it is the only family API
/// Gateway's JWT authorizer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyAlgorithm {
    #[default]
    Rs256,
    Es256,
    EdDsa,
}

impl KeyAlgorithm {
    pub fn jwt_algorithm(self) -> Algorithm {
        match self {
            KeyAlgorithm::Rs256 => Algorithm::RS256,
            KeyAlgorithm::Es256 => Algorithm::ES256,
            KeyAlgorithm::EdDsa => Algorithm::EdDSA,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Rs256 => "RS256",
            KeyAlgorithm::Es256 => "ES256",
            KeyAlgorithm::EdDsa => "EdDSA",
        }
    }
}

impl FromStr for KeyAlgorithm {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        match text {
            "RS256" => Ok(KeyAlgorithm::Rs256),
            "ES256" => Ok(KeyAlgorithm::Es256),
            "EdDSA" => Ok(KeyAlgorithm::EdDsa),
            other => Err(KeyError(format!(
                "unsupported signing algorithm {other:?}; use RS256, ES256 or EdDSA"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing key: {0}")]
pub struct KeyError(pub String);

fn key_error(e: impl fmt::Display) -> KeyError {
    KeyError(e.to_string())
}

/// The private key, parsed once: jsonwebtoken re-parses (and re-validates) an RSA key on every
/// signature, which is 60% of an RS256 signing's cost, so Clavis signs with aws-lc directly.
enum Signer {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Signer {
    fn from_pem(algorithm: KeyAlgorithm, pem: &str) -> Result<Self, KeyError> {
        let block = pem::parse(pem).map_err(key_error)?;
        let der = block.contents();
        let parsed = match (algorithm, block.tag()) {
            (KeyAlgorithm::Rs256, "RSA PRIVATE KEY") => RsaKeyPair::from_der(der)
                .map(Signer::Rsa)
                .map_err(key_error),
            (KeyAlgorithm::Rs256, _) => RsaKeyPair::from_pkcs8(der)
                .map(Signer::Rsa)
                .map_err(key_error),
            (KeyAlgorithm::Es256, _) => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map(Signer::Ecdsa)
                    .map_err(key_error)
            }
            (KeyAlgorithm::EdDsa, _) => Ed25519KeyPair::from_pkcs8(der)
                .map(Signer::Ed25519)
                .map_err(key_error),
        };
        parsed.map_err(|e| {
            KeyError(format!(
                "not a {} private key in PEM form: {}",
                algorithm.as_str(),
                e.0
            ))
        })
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match self {
            Signer::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(key_error)?;
                Ok(signature)
            }
            Signer::Ecdsa(pair) => Ok(pair
                .sign(&rng, message)
                .map_err(key_error)?
                .as_ref()
                .to_vec()),
            Signer::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

/// A private signing key with its public half.
#[derive(Clone)]
pub struct SigningKey {
    algorithm: KeyAlgorithm,
    kid: String,
    signer: Arc<Signer>,
    decoding: DecodingKey,
    jwk: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({} {})", self.algorithm.as_str(), self.kid)
    }
}

impl SigningKey {
    /// Reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`; PKCS#1 for RSA too).
    pub fn from_pem(algorithm: KeyAlgorithm, pem: &str) -> Result<Self, KeyError> {
        let bytes = pem.as_bytes();
        let encoding = match algorithm {
            KeyAlgorithm::Rs256 => EncodingKey::from_rsa_pem(bytes),
            KeyAlgorithm::Es256 => EncodingKey::from_ec_pem(bytes),
            KeyAlgorithm::EdDsa => EncodingKey::from_ed_pem(bytes),
        }
        .map_err(|e| {
            KeyError(format!(
                "not a {} private key in PEM form: {e}",
                algorithm.as_str()
            ))
        })?;
        let mut jwk =
            Jwk::from_encoding_key(&encoding, algorithm.jwt_algorithm()).map_err(key_error)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(key_error)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(match algorithm {
            KeyAlgorithm::Rs256 => JwkAlgorithm::RS256,
            KeyAlgorithm::Es256 => JwkAlgorithm::ES256,
            KeyAlgorithm::EdDsa => JwkAlgorithm::EdDSA,
        });
        let decoding = DecodingKey::from_jwk(&jwk).map_err(key_error)?;
        let signer = Signer::from_pem(algorithm, pem)?;
        Ok(Self {
            algorithm,
            kid,
            signer: Arc::new(signer),
            decoding,
            jwk,
        })
    }

    /// A new key from the OS CSPRNG, and its PKCS#8 PEM to keep (the local gateway keeps its
    /// development keys under `.data/`).
    pub fn generate(algorithm: KeyAlgorithm) -> Result<(Self, String), KeyError> {
        let der: Vec<u8> = match algorithm {
            KeyAlgorithm::Rs256 => {
                let pair =
                    aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).map_err(key_error)?;
                AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                    .map_err(key_error)?
                    .as_ref()
                    .to_vec()
            }
            KeyAlgorithm::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(key_error)?
                .as_ref()
                .to_vec(),
            KeyAlgorithm::EdDsa => Ed25519KeyPair::generate()
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(key_error)?
                .as_ref()
                .to_vec(),
        };
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der));
        Ok((Self::from_pem(algorithm, &pem)?, pem))
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as published in a JWKS.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// Signs `claims` with this key's algorithm and ID, under the JOSE `typ` given: a JWS in
    /// compact serialisation (RFC 7515 §7.1).
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(self.algorithm.jwt_algorithm());
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.kid.clone());
        let message = format!("{}.{}", encoded_part(&header)?, encoded_part(claims)?);
        let signature = self.signer.sign(message.as_bytes())?;
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// A public key that verifies tokens: what every function that does not issue tokens holds, so
/// that code execution in one of them cannot forge a token.
#[derive(Clone)]
pub struct VerifyingKey {
    algorithm: KeyAlgorithm,
    kid: String,
    decoding: DecodingKey,
    jwk: Jwk,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({} {})", self.algorithm.as_str(), self.kid)
    }
}

impl VerifyingKey {
    /// A key of a published JWKS: it must name its key ID and one of the algorithms Clavis
    /// signs with, and hold a public key of that algorithm's type.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        let kid = jwk
            .common
            .key_id
            .clone()
            .filter(|kid| !kid.is_empty())
            .ok_or_else(|| KeyError("a public key has no kid".into()))?;
        let algorithm = match jwk.common.key_algorithm {
            Some(JwkAlgorithm::RS256) => KeyAlgorithm::Rs256,
            Some(JwkAlgorithm::ES256) => KeyAlgorithm::Es256,
            Some(JwkAlgorithm::EdDSA) => KeyAlgorithm::EdDsa,
            _ => {
                return Err(KeyError(format!(
                    "public key {kid} names no algorithm of RS256, ES256 or EdDSA"
                )));
            }
        };
        let decoding =
            DecodingKey::from_jwk(jwk).map_err(|e| KeyError(format!("public key {kid}: {e}")))?;
        Ok(Self {
            algorithm,
            kid,
            decoding,
            jwk: jwk.clone(),
        })
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }
}

impl From<&SigningKey> for VerifyingKey {
    fn from(key: &SigningKey) -> Self {
        Self {
            algorithm: key.algorithm,
            kid: key.kid.clone(),
            decoding: key.decoding.clone(),
            jwk: key.jwk.clone(),
        }
    }
}

/// One part of a compact JWS: base64url of its JSON.
fn encoded_part<T: Serialize + ?Sized>(value: &T) -> Result<String, KeyError> {
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).map_err(key_error)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Validation;

    #[test]
    fn every_algorithm_signs_what_its_public_jwk_verifies() {
        for algorithm in [
            KeyAlgorithm::Rs256,
            KeyAlgorithm::Es256,
            KeyAlgorithm::EdDsa,
        ] {
            let (key, pem) = SigningKey::generate(algorithm).unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
            let token = key
                .sign(
                    "JWT",
                    &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}),
                )
                .unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(key.kid()));
            let from_jwk = DecodingKey::from_jwk(key.public_jwk()).unwrap();
            let mut validation = Validation::new(algorithm.jwt_algorithm());
            validation.required_spec_claims.clear();
            assert!(
                jsonwebtoken::decode::<serde_json::Value>(&token, &from_jwk, &validation).is_ok(),
                "{algorithm:?}"
            );
            // The same PEM loads to the same key ID.
            assert_eq!(
                SigningKey::from_pem(algorithm, &pem).unwrap().kid(),
                key.kid()
            );
        }
    }

    #[test]
    fn public_jwks_carry_no_private_material() {
        let (key, _) = SigningKey::generate(KeyAlgorithm::Rs256).unwrap();
        let jwk = serde_json::to_value(key.public_jwk()).unwrap();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(jwk.get(private).is_none(), "{private}");
        }
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_published_jwk_verifies_what_its_private_key_signed() {
        for algorithm in [
            KeyAlgorithm::Rs256,
            KeyAlgorithm::Es256,
            KeyAlgorithm::EdDsa,
        ] {
            let (key, _) = SigningKey::generate(algorithm).unwrap();
            let published: Jwk =
                serde_json::from_value(serde_json::to_value(key.public_jwk()).unwrap()).unwrap();
            let public = VerifyingKey::from_jwk(&published).unwrap();
            assert_eq!(public.kid(), key.kid());
            assert_eq!(public.algorithm(), algorithm);
        }
        let (key, _) = SigningKey::generate(KeyAlgorithm::Rs256).unwrap();
        let mut nameless = key.public_jwk().clone();
        nameless.common.key_id = None;
        assert!(VerifyingKey::from_jwk(&nameless).is_err());
        let mut hmac = key.public_jwk().clone();
        hmac.common.key_algorithm = Some(JwkAlgorithm::HS256);
        assert!(VerifyingKey::from_jwk(&hmac).is_err());
    }

    #[test]
    fn wrong_or_garbled_pem_is_refused() {
        let (_, ed_pem) = SigningKey::generate(KeyAlgorithm::EdDsa).unwrap();
        assert!(SigningKey::from_pem(KeyAlgorithm::Rs256, &ed_pem).is_err());
        assert!(
            SigningKey::from_pem(
                KeyAlgorithm::EdDsa,
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
            )
            .is_err()
        );
        assert!("HS256".parse::<KeyAlgorithm>().is_err());
    }
}
