//! Idempotency keys for the two requests that hand out a secret (create and rotate), so that a
//! caller who never saw the answer can repeat the request and get the same credential and the
//! same secret, without the table ever holding a secret the server alone can read.
//!
//! The key itself is never stored. Two independent values are derived from it with HKDF-SHA256:
//! a lookup digest (the item's key) and an AES-256-GCM key that seals the secret in the item.
//! The sealing key is derived from the idempotency key **and** a server-held pepper (Secrets
//! Manager in AWS, read by create and rotate only): whoever presents the key again to the
//! service can open the secret; a reader of the table cannot, even with a guessed key.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use aws_lc_rs::digest;
use aws_lc_rs::hkdf::{self, HKDF_SHA256, KeyType};
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::ids::{ClientId, TenantId};
use crate::secret::ClientSecret;
use crate::time::Timestamp;

/// How long a key is remembered: a client retrying after a day is making a new request.
pub const REMEMBERED_FOR: chrono::Duration = chrono::Duration::hours(24);

const MIN_LEN: usize = 32;
const MAX_LEN: usize = 255;
const SALT: &[u8] = b"clavis idempotency v1";
const LOOKUP_INFO: &[u8] = b"lookup";
const SEAL_INFO: &[u8] = b"secret sealing key";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Idempotency-Key must be one value of {MIN_LEN} to {MAX_LEN} visible ASCII characters without commas, such as a UUID v4."
)]
pub struct InvalidIdempotencyKey;

/// The server's half of every sealing key: 32 or more random bytes that never leave the
/// functions that create and rotate secrets. Never printed.
pub struct IdempotencyPepper(SecretBox<[u8]>);

/// Fewer bytes than a pepper needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the idempotency pepper must be at least {PEPPER_MIN_LEN} random bytes")]
pub struct WeakPepper;

const PEPPER_MIN_LEN: usize = 32;

impl IdempotencyPepper {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WeakPepper> {
        if bytes.len() < PEPPER_MIN_LEN {
            return Err(WeakPepper);
        }
        Ok(Self(SecretBox::new(bytes.into())))
    }

    /// A fresh one: for a process that keeps no records beyond its life (tests, `STORE=memory`),
    /// or to be stored once (the local data directory).
    pub fn generate() -> Self {
        let bytes: [u8; PEPPER_MIN_LEN] = crate::random::bytes();
        Self(SecretBox::new(Box::new(bytes)))
    }

    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for IdempotencyPepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyPepper(<redacted>)")
    }
}

/// A caller's `Idempotency-Key`: as sensitive as the secret it can unseal, so never printed.
pub struct IdempotencyKey(SecretString);

impl IdempotencyKey {
    /// Commas are refused because HTTP joins repeated headers with them: two keys sent at once
    /// would otherwise read as one.
    pub fn parse(presented: &str) -> Result<Self, InvalidIdempotencyKey> {
        let visible = presented.bytes().all(|b| b.is_ascii_graphic() && b != b',');
        if visible && (MIN_LEN..=MAX_LEN).contains(&presented.len()) {
            Ok(Self(SecretString::from(presented)))
        } else {
            Err(InvalidIdempotencyKey)
        }
    }

    /// Runs `use_okm` on HKDF-SHA256 output for `info` in `tenant`'s context, extracted with
    /// `salt` (the fixed one for the lookup digest, the pepper for the sealing key: HKDF's
    /// salt is its key, RFC 5869 §3.1).
    fn derive<L: KeyType, T>(
        &self,
        salt: &[u8],
        tenant: &TenantId,
        info: &[u8],
        len: L,
        use_okm: impl FnOnce(hkdf::Okm<'_, L>) -> T,
    ) -> T {
        let prk = hkdf::Salt::new(HKDF_SHA256, salt).extract(self.0.expose_secret().as_bytes());
        let info = [info, tenant.as_str().as_bytes()];
        // Both output lengths used here (32 bytes) are far under HKDF's limit of 255 blocks.
        let okm = prk
            .expand(&info, len)
            .unwrap_or_else(|_| unreachable!("HKDF output length is fixed and valid"));
        use_okm(okm)
    }

    /// Where the request's record is kept: per tenant, and useless for unsealing.
    pub fn digest(&self, tenant: &TenantId) -> KeyDigest {
        let mut bytes = [0u8; 32];
        self.derive(SALT, tenant, LOOKUP_INFO, Bytes(32), |okm| {
            okm.fill(&mut bytes)
                .unwrap_or_else(|_| unreachable!("the buffer has the derived length"))
        });
        KeyDigest(hex(&bytes))
    }

    fn sealing_key(&self, pepper: &IdempotencyPepper, tenant: &TenantId) -> LessSafeKey {
        self.derive(pepper.expose(), tenant, SEAL_INFO, &AES_256_GCM, |okm| {
            LessSafeKey::new(UnboundKey::from(okm))
        })
    }

    /// The secret encrypted under this key, bound to the record it belongs in (`context`), as
    /// nonce followed by ciphertext and tag.
    pub fn seal(
        &self,
        pepper: &IdempotencyPepper,
        tenant: &TenantId,
        context: &[u8],
        secret: &ClientSecret,
    ) -> Result<Vec<u8>, SealError> {
        let key = self.sealing_key(pepper, tenant);
        crate::aead::seal(&key, context, secret.expose().as_bytes()).map_err(|_| SealError)
    }

    /// The secret [`seal`](Self::seal) sealed, if this is the key and `context` the record.
    pub fn open(
        &self,
        pepper: &IdempotencyPepper,
        tenant: &TenantId,
        context: &[u8],
        sealed: &[u8],
    ) -> Result<ClientSecret, SealError> {
        let key = self.sealing_key(pepper, tenant);
        let plain = crate::aead::open(&key, context, sealed).map_err(|_| SealError)?;
        let text = std::str::from_utf8(&plain).map_err(|_| SealError)?;
        ClientSecret::parse(text)
            .map(|(secret, _)| secret)
            .map_err(|_| SealError)
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyKey(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sealed secret could not be sealed or opened")]
pub struct SealError;

/// HKDF output of a chosen length, for the lookup digest.
struct Bytes(usize);

impl KeyType for Bytes {
    fn len(&self) -> usize {
        self.0
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The stored stand-in for a key: 64 hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyDigest(String);

impl KeyDigest {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A digest read back from storage.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(text.to_owned()))
    }
}

/// The operations that take an idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    RotateSecret,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::RotateSecret => "rotate_secret",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "create" => Some(Operation::Create),
            "rotate_secret" => Some(Operation::RotateSecret),
            _ => None,
        }
    }
}

/// What makes two requests "the same request": the operation and its target, the caller, and
/// every byte that could change the outcome. SHA-256, hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// `parts` are hashed with their lengths, so no two different lists collide by
    /// concatenation.
    pub fn of(parts: &[&[u8]]) -> Self {
        let mut context = digest::Context::new(&digest::SHA256);
        for part in parts {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part);
        }
        Self(hex(context.finish().as_ref()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// What a request with a key left behind: enough to answer a repeat exactly as the first time,
/// and to tell a repeat from a different request under the same key.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub tenant: TenantId,
    pub key: KeyDigest,
    pub operation: Operation,
    pub client_id: ClientId,
    /// The credential's version after the change: the answer's ETag.
    pub version: u64,
    pub fingerprint: Fingerprint,
    /// The response body without the secret, as the handler rendered it.
    pub response: serde_json::Value,
    /// The secret, sealed under the idempotency key (see [`IdempotencyKey::seal`]).
    pub sealed_secret: Vec<u8>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl IdempotencyRecord {
    /// What the sealed secret is bound to: this tenant's record for this key and request.
    pub fn seal_context(key: &KeyDigest, fingerprint: &Fingerprint) -> Vec<u8> {
        format!("{}#{}", key.as_str(), fingerprint.as_str()).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::Environment;

    fn key(text: &str) -> IdempotencyKey {
        IdempotencyKey::parse(text).unwrap()
    }

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).unwrap()
    }

    #[test]
    fn keys_are_32_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse(&"a".repeat(32)).is_ok());
        assert!(IdempotencyKey::parse(&"~".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("7d1f6a5e-4b7c-4d2a-9c1e-3f0b8a6d2e91").is_ok());
        for refused in [
            "a".repeat(31),
            "a".repeat(256),
            format!("{} ", "a".repeat(32)),
            format!("{}\t", "a".repeat(32)),
            format!("{}é", "a".repeat(32)),
            format!("{}\0", "a".repeat(32)),
            format!("{},{}", "a".repeat(32), "b".repeat(32)),
            String::new(),
        ] {
            assert_eq!(
                IdempotencyKey::parse(&refused).err(),
                Some(InvalidIdempotencyKey),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn a_key_never_prints() {
        let text = "7d1f6a5e-4b7c-4d2a-9c1e-3f0b8a6d2e91";
        assert!(!format!("{:?}", key(text)).contains("7d1f"));
    }

    #[test]
    fn the_digest_is_stable_per_tenant_and_reveals_nothing_of_the_key() {
        let text = "7d1f6a5e-4b7c-4d2a-9c1e-3f0b8a6d2e91";
        let acme = key(text).digest(&tenant("acme"));
        assert_eq!(acme, key(text).digest(&tenant("acme")));
        assert_ne!(acme, key(text).digest(&tenant("globex")));
        assert_ne!(acme, key(&"b".repeat(36)).digest(&tenant("acme")));
        assert_eq!(acme.as_str().len(), 64);
        assert!(!acme.as_str().contains("7d1f6a5e"));
        assert_eq!(KeyDigest::parse(acme.as_str()), Some(acme));
    }

    #[test]
    fn only_the_same_key_tenant_and_record_open_a_sealed_secret() {
        let pepper = IdempotencyPepper::from_bytes(&[7; 32]).unwrap();
        let secret = ClientSecret::generate(Environment::Live);
        let the_key = key(&"k".repeat(40));
        let acme = tenant("acme");
        let sealed = the_key.seal(&pepper, &acme, b"record-1", &secret).unwrap();
        assert!(
            !sealed
                .windows(20)
                .any(|w| secret.expose().as_bytes().windows(20).any(|s| s == w)),
            "nothing of the secret shows in the sealed bytes"
        );
        let opened = the_key.open(&pepper, &acme, b"record-1", &sealed).unwrap();
        assert_eq!(opened.expose(), secret.expose());

        assert_eq!(
            key(&"j".repeat(40))
                .open(&pepper, &acme, b"record-1", &sealed)
                .err(),
            Some(SealError)
        );
        assert_eq!(
            the_key
                .open(&pepper, &tenant("globex"), b"record-1", &sealed)
                .err(),
            Some(SealError)
        );
        assert_eq!(
            the_key.open(&pepper, &acme, b"record-2", &sealed).err(),
            Some(SealError)
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            the_key.open(&pepper, &acme, b"record-1", &tampered).err(),
            Some(SealError)
        );
        assert_eq!(
            the_key.open(&pepper, &acme, b"record-1", &[1, 2]).err(),
            Some(SealError)
        );
        // A copy of the table and the right key open nothing without the server's pepper.
        let other = IdempotencyPepper::generate();
        assert_eq!(
            the_key.open(&other, &acme, b"record-1", &sealed).err(),
            Some(SealError)
        );
        assert_eq!(
            IdempotencyPepper::from_bytes(&[7; 31]).err(),
            Some(WeakPepper)
        );
        assert!(!format!("{pepper:?}").contains('7'));
        // A fresh nonce every time: the same secret never seals to the same bytes.
        assert_ne!(
            sealed,
            the_key.seal(&pepper, &acme, b"record-1", &secret).unwrap()
        );
    }

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_eq!(
            Fingerprint::of(&[b"ab", b"c"]),
            Fingerprint::of(&[b"ab", b"c"])
        );
        assert_ne!(
            Fingerprint::of(&[b"ab", b"c"]),
            Fingerprint::of(&[b"a", b"bc"])
        );
        assert_ne!(Fingerprint::of(&[b"ab"]), Fingerprint::of(&[b"ab", b""]));
    }
}
