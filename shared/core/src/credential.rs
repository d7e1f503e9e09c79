//! The credential model, its computed status, and the value types that guard its fields.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::environment::Environment;
use crate::ids::{ClientId, TenantId};
use crate::leak::{LeakOutcome, LeakSource, SecretFingerprint};
use crate::secret::{SecretHash, looks_like_secret};
use crate::source::SourceAddress;
use crate::time::Timestamp;

/// A credential as the domain sees it. The secret itself never appears here, only its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub client_id: ClientId,
    pub tenant: TenantId,
    pub name: Name,
    pub description: Description,
    pub scopes: Scopes,
    pub environment: Environment,
    /// API requests allowed per calendar month (UTC), enforced by the request authorizer.
    pub monthly_request_quota: Option<RequestQuota>,
    pub created_at: Timestamp,
    pub created_by: String,
    pub expires_at: Option<Timestamp>,
    /// When the expiry was last edited; `None`: as created. A tenant policy's lifetime counts
    /// from here.
    pub expiry_set_at: Option<Timestamp>,
    pub secret: SecretRecord,
    pub suspended_at: Option<Timestamp>,
    /// Tokens carry the generation they were issued in; one of an earlier generation is
    /// refused where requests are verified. A suspension and a rotation that ends existing
    /// tokens advance it: a counter, not a time, because `iat` has whole seconds and a token
    /// issued just after a reactivation must work within the same second.
    pub token_generation: u32,
    pub revocation: Option<Revocation>,
    /// Set once the sweeper has written the `credential.expired` event.
    pub expiry_recorded_at: Option<Timestamp>,
    /// Set once the sweeper has written the `credential.expiring_soon` event for the current
    /// expiry; cleared when the expiry changes, so a new expiry gets its own notice.
    pub expiry_notice_recorded_at: Option<Timestamp>,
    /// Maintained by the token endpoint outside the versioned lifecycle writes.
    pub last_used_at: Option<Timestamp>,
    /// Where the use at `last_used_at` came from; maintained with it.
    pub last_used_from: Option<SourceAddress>,
    /// The last report that the current secret leaked; cleared when a rotation replaces it.
    pub leak: Option<LeakNotice>,
    /// Optimistic-concurrency version: every lifecycle write increments it by one.
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecretRecord {
    pub hash: SecretHash,
    /// What finds this credential from the secret when it leaks; `None` for a secret issued
    /// before fingerprints were kept (a hash cannot give one).
    pub fingerprint: Option<SecretFingerprint>,
    /// 1 for the secret issued at creation, +1 per rotation.
    pub version: u32,
    pub rotated_at: Option<Timestamp>,
    /// The secret replaced by the last rotation, while its grace period lasts.
    pub previous: Option<PreviousSecret>,
}

/// What is kept of a newly issued secret: its argon2id hash, to verify it, and its
/// fingerprint, to find it when it leaks.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSecret {
    pub hash: SecretHash,
    pub fingerprint: Option<SecretFingerprint>,
}

impl StoredSecret {
    pub fn of(secret: &crate::secret::ClientSecret, hash: SecretHash) -> Self {
        Self {
            hash,
            fingerprint: Some(SecretFingerprint::of(secret)),
        }
    }
}

/// A hash alone: a secret whose fingerprint is not known (tests of rules that need none).
impl From<SecretHash> for StoredSecret {
    fn from(hash: SecretHash) -> Self {
        Self {
            hash,
            fingerprint: None,
        }
    }
}

/// A leak of the credential's current secret, as its views show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakNotice {
    pub reported_at: Timestamp,
    pub source: LeakSource,
    pub action: LeakOutcome,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PreviousSecret {
    pub hash: SecretHash,
    pub valid_until: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revocation {
    pub at: Timestamp,
    pub by: String,
    pub reason: Option<Reason>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Suspended,
    Expired,
    Revoked,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Active,
        Status::Suspended,
        Status::Expired,
        Status::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Credential {
    /// Whether it has had no use since `since` (a never-used one: was not created since).
    pub fn unused_since(&self, since: Timestamp) -> bool {
        self.last_used_at.unwrap_or(self.created_at) < since
    }

    /// When its expiry (or the lack of one) was decided: the last expiry edit, or its creation.
    pub fn expiry_decided_at(&self) -> Timestamp {
        self.expiry_set_at.unwrap_or(self.created_at)
    }

    /// Status is derived, never stored: `revoked` > `expired` > `suspended` > `active`, with
    /// expiry effective to the second whether or not the sweeper has recorded it yet.
    pub fn status(&self, now: Timestamp) -> Status {
        if self.revocation.is_some() {
            Status::Revoked
        } else if self.is_past_expiry(now) {
            Status::Expired
        } else if self.suspended_at.is_some() {
            Status::Suspended
        } else {
            Status::Active
        }
    }

    /// Whether a token issued in `generation` was issued after everything that ended this
    /// credential's tokens.
    pub fn accepts_token_generation(&self, generation: u32) -> bool {
        generation >= self.token_generation
    }

    pub fn is_past_expiry(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// When the sweeper next has something to record for this credential, if ever: the
    /// expiring-soon notice `notice_window` before the expiry, then the expiry itself. Revoked
    /// credentials and recorded expiries have nothing left; the expiry index holds only the rest.
    pub fn sweep_due_at(&self, notice_window: chrono::Duration) -> Option<Timestamp> {
        if self.revocation.is_some() || self.expiry_recorded_at.is_some() {
            return None;
        }
        let expires_at = self.expires_at?;
        Some(match self.expiry_notice_recorded_at {
            Some(_) => expires_at,
            None => expires_at - notice_window,
        })
    }
}

/// A field a caller supplied that breaks a rule of the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// The request field at fault, as the caller named it.
    pub field: &'static str,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// A sentence a person understands.
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            code,
            message: message.into(),
        }
    }
}

/// Text a person types into a form ends up in listings and audit events: refuse control
/// characters (they corrupt terminals and logs) and anything shaped like a client secret.
fn check_text(
    field: &'static str,
    code: &'static str,
    text: &str,
    allow_newlines: bool,
) -> Result<(), ValidationError> {
    let bad_char = text
        .chars()
        .find(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\t')));
    if let Some(c) = bad_char {
        return Err(ValidationError::new(
            field,
            code,
            format!(
                "{field} must not contain control characters (found U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    if looks_like_secret(text) {
        return Err(ValidationError::new(
            field,
            "secret_in_text",
            format!(
                "{field} appears to contain a client secret; secrets must never be stored as text"
            ),
        ));
    }
    Ok(())
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
        #[serde(transparent)]
        pub struct $ty(String);

        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_newtype!(
    /// 1 to 100 characters, trimmed, no control characters.
    Name
);
text_newtype!(
    /// Up to 500 characters; newlines allowed.
    Description
);
text_newtype!(
    /// Why an admin revoked a credential: up to 500 characters.
    Reason
);

/// Person-typed text as stored: surrounding whitespace trimmed. The checks apply to the text as
/// sent (as infra/openapi.yaml states them), so a trailing control character is refused rather
/// than trimmed away, and the length limit is the one the caller's validator saw.
fn parse_text(
    field: &'static str,
    code: &'static str,
    text: &str,
    required: bool,
    max_chars: usize,
    allow_newlines: bool,
) -> Result<String, ValidationError> {
    let chars = text.chars().count();
    let trimmed = text.trim();
    if chars > max_chars || (required && trimmed.is_empty()) {
        let min = usize::from(required);
        return Err(ValidationError::new(
            field,
            code,
            format!("{field} must be {min} to {max_chars} characters, not blank (got {chars})"),
        ));
    }
    check_text(field, code, text, allow_newlines)?;
    Ok(trimmed.to_owned())
}

impl Name {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        parse_text("name", "invalid_name", text, true, Self::MAX_CHARS, false).map(Self)
    }
}

impl Description {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        parse_text(
            "description",
            "invalid_description",
            text,
            false,
            Self::MAX_CHARS,
            true,
        )
        .map(Self)
    }
}

impl Reason {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        parse_text(
            "reason",
            "invalid_reason",
            text,
            true,
            Self::MAX_CHARS,
            true,
        )
        .map(Self)
    }
}

/// The most requests a credential may make in one calendar month: 1 to 10^12. Read from JSON
/// as an integer only, so `1.5`, `-1`, `"10"` and `0` are refused where the body is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RequestQuota(u64);

impl RequestQuota {
    pub const MAX: u64 = 1_000_000_000_000;

    pub fn new(requests: u64) -> Result<Self, ValidationError> {
        if (1..=Self::MAX).contains(&requests) {
            Ok(Self(requests))
        } else {
            Err(ValidationError::new(
                "monthly_request_quota",
                "invalid_field",
                format!(
                    "monthly_request_quota must be an integer from 1 to {}, or null for no quota",
                    Self::MAX
                ),
            ))
        }
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// Whether `used` requests this month leave room for one more.
    pub fn allows_another(self, used: u64) -> bool {
        used < self.0
    }
}

impl<'de> Deserialize<'de> for RequestQuota {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let requests = u64::deserialize(d)?;
        Self::new(requests).map_err(serde::de::Error::custom)
    }
}

/// `resource:action`, each part a lower-case letter then up to 63 of `a-z 0-9 _ - .`,
/// e.g. `products:read` or `events-register:read`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Scope(String);

impl Scope {
    pub const PART_MAX_LEN: usize = 64;
    /// The same rule as [`Scope::parse`], for documents that describe the API.
    pub const PATTERN: &'static str = "^[a-z][a-z0-9_.-]{0,63}:[a-z][a-z0-9_.-]{0,63}$";

    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let part_ok = |part: &str| {
            let mut bytes = part.bytes();
            bytes.next().is_some_and(|b| b.is_ascii_lowercase())
                && part.len() <= Self::PART_MAX_LEN
                && bytes.all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
                })
        };
        match text.split_once(':') {
            Some((resource, action)) if part_ok(resource) && part_ok(action) => {
                Ok(Self(text.to_owned()))
            }
            _ => Err(ValidationError::new(
                "scopes",
                "invalid_scope",
                format!(
                    "scope {text:?} is not of the form resource:action \
                     (lower-case letters, digits, '_', '-', '.'; e.g. products:read)"
                ),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One to fifty distinct scopes, kept sorted: their order carries no meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    pub const MAX: usize = 50;

    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, ValidationError> {
        if items.is_empty() {
            return Err(ValidationError::new(
                "scopes",
                "missing_scopes",
                "at least one scope is required",
            ));
        }
        let set = items
            .iter()
            .map(|s| Scope::parse(s.as_ref()))
            .collect::<Result<BTreeSet<_>, _>>()?;
        if set.len() > Self::MAX {
            return Err(ValidationError::new(
                "scopes",
                "too_many_scopes",
                format!(
                    "at most {} scopes are allowed (got {})",
                    Self::MAX,
                    set.len()
                ),
            ));
        }
        Ok(Self(set))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    pub fn contains(&self, scope: &Scope) -> bool {
        self.0.contains(scope)
    }

    pub fn is_superset(&self, other: &Scopes) -> bool {
        self.0.is_superset(&other.0)
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|s| s.0.clone()).collect()
    }

    /// Space-separated, as OAuth's `scope` parameter and claim carry them.
    pub fn to_oauth_string(&self) -> String {
        self.to_strings().join(" ")
    }
}

#[cfg(test)]
mod tests;
