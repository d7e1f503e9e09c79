//! Client secrets: generation, the checksum that lets a cheap check (and secret scanners) tell a
//! real secret from noise, and argon2id hashing. A plaintext secret lives only in a
//! [`ClientSecret`], which never prints itself.

use std::fmt;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use rand::distr::{Alphanumeric, SampleString};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::environment::Environment;

pub const SECRET_PREFIX: &str = "csk";
/// 43 base62 characters carry 256.03 bits.
const RANDOM_LEN: usize = 43;
/// 62^6 > 2^32, so every CRC32 fits.
const CHECKSUM_LEN: usize = 6;
/// `csk_` + `live_` + 43 + `_` + 6.
pub const SECRET_LEN: usize = SECRET_PREFIX.len() + 1 + 5 + RANDOM_LEN + 1 + CHECKSUM_LEN;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A plaintext client secret. `Debug` shows nothing of it; only [`ClientSecret::expose`] does,
/// and the only callers are the one response that hands it out and the hasher.
#[derive(Clone)]
pub struct ClientSecret(SecretString);

impl ClientSecret {
    /// `csk_<environment>_<43 random base62 characters>_<checksum>` from the OS CSPRNG.
    pub fn generate(environment: Environment) -> Self {
        // The OS CSPRNG failing is unrecoverable: there is no safe secret to hand out instead.
        let random = Alphanumeric.sample_string(&mut crate::random::os_rng(), RANDOM_LEN);
        let body = format!("{SECRET_PREFIX}_{}_{random}", environment.as_str());
        let checksum = checksum(body.as_bytes());
        Self(SecretString::from(format!("{body}_{checksum}")))
    }

    /// Accepts a presented secret only when its shape and checksum are right, which costs
    /// nanoseconds: a mistyped or random string is refused before any hash is computed.
    pub fn parse(presented: &str) -> Result<(Self, Environment), MalformedSecret> {
        let environment = check_format(presented.as_bytes()).ok_or(MalformedSecret)?;
        Ok((Self(SecretString::from(presented)), environment))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a well-formed client secret")]
pub struct MalformedSecret;

fn checksum(body: &[u8]) -> String {
    let mut value = crc32fast::hash(body);
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

fn check_format(candidate: &[u8]) -> Option<Environment> {
    if candidate.len() != SECRET_LEN {
        return None;
    }
    let (body, tail) = candidate.split_at(SECRET_LEN - CHECKSUM_LEN - 1);
    let rest = body
        .strip_prefix(SECRET_PREFIX.as_bytes())?
        .strip_prefix(b"_")?;
    let (environment, random) = rest.split_at(4);
    let environment = Environment::parse(std::str::from_utf8(environment).ok()?)?;
    let random = random.strip_prefix(b"_")?;
    let presented_checksum = tail.strip_prefix(b"_")?;
    let well_formed = random.len() == RANDOM_LEN
        && random.iter().all(u8::is_ascii_alphanumeric)
        && presented_checksum.iter().all(u8::is_ascii_alphanumeric);
    if !well_formed {
        return None;
    }
    let expected = checksum(body);
    bool::from(expected.as_bytes().ct_eq(presented_checksum)).then_some(environment)
}

/// True when `text` contains a string with a valid secret checksum anywhere in it. Used to keep
/// pasted secrets out of names, descriptions and revocation reasons, which land in audit events.
pub fn looks_like_secret(text: &str) -> bool {
    let bytes = text.as_bytes();
    let needle = SECRET_PREFIX.as_bytes();
    (0..bytes.len().saturating_sub(SECRET_LEN - 1)).any(|start| {
        bytes[start..].starts_with(needle)
            && check_format(&bytes[start..start + SECRET_LEN]).is_some()
    })
}

/// An argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). `Debug` hides it: a hash
/// is no secret, but it is offline-guessable material and has no business in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid argon2 parameters: {0}")]
    Params(argon2::Error),
    #[error("hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
}

/// argon2id with configurable cost; OWASP's recommendation (m=19456 KiB, t=2, p=1) by default.
/// Verification reads the cost from the stored PHC string, so raising the cost later never
/// breaks secrets hashed before.
#[derive(Debug, Clone)]
pub struct SecretHasher {
    params: Params,
}

impl Default for SecretHasher {
    fn default() -> Self {
        Self {
            params: Params::DEFAULT,
        }
    }
}

impl SecretHasher {
    pub const DEFAULT_MEMORY_KIB: u32 = Params::DEFAULT_M_COST;
    pub const DEFAULT_ITERATIONS: u32 = Params::DEFAULT_T_COST;
    pub const DEFAULT_PARALLELISM: u32 = Params::DEFAULT_P_COST;

    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, HashError> {
        let params =
            Params::new(memory_kib, iterations, parallelism, None).map_err(HashError::Params)?;
        Ok(Self { params })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn hash(&self, secret: &ClientSecret) -> Result<SecretHash, HashError> {
        let hash = self
            .argon2()
            .hash_password(secret.expose().as_bytes())
            .map_err(HashError::Hash)?;
        Ok(SecretHash(hash.to_string()))
    }

    /// A hash that no secret matches, at this hasher's cost, made without hashing anything: a
    /// random salt and a random output. Verifying against it costs exactly what verifying
    /// against a real hash does, which is what the token endpoint needs for unknown client IDs,
    /// and building it adds nothing to a cold start.
    pub fn decoy(&self) -> SecretHash {
        use base64::Engine;
        use base64::engine::general_purpose::STANDARD_NO_PAD;
        let salt: [u8; 16] = crate::random::bytes();
        let output: [u8; 32] = crate::random::bytes();
        SecretHash(format!(
            "$argon2id$v=19${}${}${}",
            self.params,
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(output)
        ))
    }

    /// Constant-time in the secret (argon2's output comparison is). A stored hash that does
    /// not parse verifies nothing.
    pub fn verify(&self, secret: &ClientSecret, hash: &SecretHash) -> bool {
        let Ok(parsed) = PasswordHash::new(&hash.0) else {
            return false;
        };
        self.argon2()
            .verify_password(secret.expose().as_bytes(), &parsed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoy_has_the_hashers_cost_and_matches_no_secret() {
        let hasher = SecretHasher::default();
        let secret = ClientSecret::generate(Environment::Live);
        let real = hasher.hash(&secret).expect("hash");
        let decoy = hasher.decoy();
        let cost = |hash: &SecretHash| {
            let parsed = PasswordHash::new(hash.as_phc()).expect("a PHC string");
            (
                parsed.algorithm.to_string(),
                Params::try_from(&parsed).expect("argon2 parameters"),
                parsed.hash.map(|h| h.len()),
            )
        };
        assert_eq!(cost(&decoy), cost(&real));
        assert!(!hasher.verify(&secret, &decoy));
        assert_ne!(decoy.as_phc(), hasher.decoy().as_phc());
    }

    #[test]
    fn generated_secrets_have_the_documented_shape() {
        let secret = ClientSecret::generate(Environment::Live);
        let text = secret.expose();
        assert_eq!(text.len(), SECRET_LEN);
        assert!(text.starts_with("csk_live_"));
        let parts: Vec<&str> = text.split('_').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[2].len(), 43);
        assert_eq!(parts[3].len(), 6);
        assert!(
            ClientSecret::generate(Environment::Test)
                .expose()
                .starts_with("csk_test_")
        );
    }

    #[test]
    fn generated_secrets_pass_the_checksum_and_are_distinct() {
        let a = ClientSecret::generate(Environment::Live);
        let b = ClientSecret::generate(Environment::Live);
        assert_ne!(a.expose(), b.expose());
        let (_, env) = ClientSecret::parse(a.expose()).unwrap();
        assert_eq!(env, Environment::Live);
    }

    #[test]
    fn checksum_catches_every_single_character_typo() {
        let secret = ClientSecret::generate(Environment::Test);
        let text = secret.expose().to_owned();
        let alternatives = b"0aZ";
        for i in 0..text.len() {
            for &replacement in alternatives {
                let mut bytes = text.clone().into_bytes();
                if bytes[i] == replacement || bytes[i] == b'_' {
                    continue;
                }
                bytes[i] = replacement;
                let typo = String::from_utf8(bytes).unwrap();
                assert!(ClientSecret::parse(&typo).is_err(), "typo at {i} accepted");
            }
        }
    }

    #[test]
    fn malformed_secrets_are_refused() {
        let good = ClientSecret::generate(Environment::Live)
            .expose()
            .to_owned();
        for bad in [
            String::new(),
            "csk_live_".to_owned(),
            good[..good.len() - 1].to_owned(),
            format!("{good}x"),
            good.replace("csk_", "sk__"),
            good.replace("_live_", "_prod_"),
            "é".repeat(SECRET_LEN / 2 + 1),
        ] {
            assert_eq!(
                ClientSecret::parse(&bad).unwrap_err(),
                MalformedSecret,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = ClientSecret::generate(Environment::Live);
        let shown = format!("{secret:?}");
        assert!(!shown.contains(secret.expose()));
        assert!(!shown.contains("csk_"));
    }

    #[test]
    fn secrets_are_found_inside_text() {
        let secret = ClientSecret::generate(Environment::Live);
        assert!(looks_like_secret(secret.expose()));
        assert!(looks_like_secret(&format!("éé {} éé", secret.expose())));
        assert!(!looks_like_secret("csk_live_ is our prefix"));
        assert!(!looks_like_secret(""));
    }

    #[test]
    fn hashes_verify_only_their_own_secret() {
        // Cheap parameters: this checks the plumbing, not the cost.
        let hasher = SecretHasher::new(64, 1, 1).unwrap();
        let secret = ClientSecret::generate(Environment::Live);
        let other = ClientSecret::generate(Environment::Live);
        let hash = hasher.hash(&secret).unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(hasher.verify(&secret, &hash));
        assert!(!hasher.verify(&other, &hash));
        assert!(!hasher.verify(&secret, &SecretHash::from_phc("garbage".into())));
        assert!(!format!("{hash:?}").contains("argon2"));
    }

    #[test]
    fn default_parameters_are_owasps() {
        let hash = SecretHasher::default()
            .hash(&ClientSecret::generate(Environment::Live))
            .unwrap();
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[test]
    fn verification_follows_the_stored_parameters() {
        let secret = ClientSecret::generate(Environment::Live);
        let old = SecretHasher::new(64, 1, 1).unwrap().hash(&secret).unwrap();
        assert!(SecretHasher::default().verify(&secret, &old));
    }

    #[test]
    fn impossible_parameters_are_refused() {
        assert!(SecretHasher::new(1, 1, 1).is_err());
        assert!(SecretHasher::new(64, 0, 1).is_err());
    }
}
