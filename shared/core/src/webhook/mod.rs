//! Webhook endpoints: where a tenant's events are sent, which of them, and the secret that
//! signs them (Standard Webhooks 1.0, so any of its libraries verifies Clavis). The rules are
//! plain functions; `service::webhooks` applies them for admins, `events` for deliveries.

pub mod delivery;
pub mod destination;

#[cfg(test)]
mod tests;

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use aws_lc_rs::hkdf::{self, HKDF_SHA256};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};

use crate::ids::{EventId, TenantId, WebhookId};
use crate::time::Timestamp;
pub use destination::{DestinationRules, UrlRefusal, WebhookUrl};

/// A tenant's endpoints: enough for a pager, a chat room and a few systems, few enough that
/// one event never fans out into a storm.
pub const MAX_WEBHOOKS_PER_TENANT: usize = 10;
/// How long a replaced signing secret keeps signing beside the new one, so that receivers can
/// switch without dropping a delivery.
pub const SECRET_OVERLAP: chrono::Duration = chrono::Duration::hours(24);
/// An endpoint whose deliveries have all failed this long is disabled.
pub const FAILING_DISABLES_AFTER: chrono::Duration = chrono::Duration::days(5);
pub const DESCRIPTION_MAX_CHARS: usize = 500;

/// Every event type an endpoint can ask for.
pub const EVENT_TYPES: &[&str] = &[
    "credential.created",
    "credential.updated",
    "credential.secret_rotated",
    "credential.expiry_changed",
    "credential.suspended",
    "credential.reactivated",
    "credential.revoked",
    "credential.deleted",
    "credential.expired",
    "credential.expiring_soon",
    "credential.quota_threshold",
    "credential.leaked",
    "tenant.policy_changed",
    "webhook.created",
    "webhook.updated",
    "webhook.secret_rotated",
    "webhook.deleted",
    "webhook.disabled",
];

/// Sent by **Send test** to one endpoint, whatever its filter.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// Which event types an endpoint receives: every one, or those listed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventFilter(Option<Vec<String>>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}")]
pub struct UnknownEventType(pub String);

impl EventFilter {
    pub fn every_type() -> Self {
        Self(None)
    }

    /// `None` is every type; a list is deduplicated and each entry must be in [`EVENT_TYPES`].
    pub fn parse(types: Option<Vec<String>>) -> Result<Self, UnknownEventType> {
        let Some(mut types) = types else {
            return Ok(Self(None));
        };
        if let Some(unknown) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
            return Err(UnknownEventType(unknown.clone()));
        }
        types.sort();
        types.dedup();
        Ok(Self(Some(types)))
    }

    pub fn matches(&self, event_type: &str) -> bool {
        event_type == TEST_EVENT_TYPE
            || self
                .0
                .as_ref()
                .is_none_or(|types| types.iter().any(|t| t == event_type))
    }

    pub fn types(&self) -> Option<&[String]> {
        self.0.as_deref()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStatus {
    Enabled,
    Disabled,
}

/// Why an endpoint is disabled: by an admin, after 5 days of failures, or because it answered
/// 410 Gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisabledReason {
    Admin,
    Failing,
    Gone,
}

/// A signing secret as the receiver holds it: `whsec_` and the base64 of 32 random bytes.
/// Shown once; stored only sealed.
pub struct SigningSecret(SecretString);

const SIGNING_SECRET_PREFIX: &str = "whsec_";

impl SigningSecret {
    pub fn generate() -> Self {
        let bytes: [u8; 32] = crate::random::bytes();
        Self(format!("{SIGNING_SECRET_PREFIX}{}", STANDARD.encode(bytes)).into())
    }

    fn parse(text: &str) -> Option<Self> {
        let key = text.strip_prefix(SIGNING_SECRET_PREFIX)?;
        let decoded = STANDARD.decode(key).ok()?;
        (decoded.len() == 32).then(|| Self(text.to_owned().into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// A signing secret as the table holds it: AES-256-GCM under a key derived from the
/// deployment's [`SealingKey`], bound to its webhook, so a copy of the table signs nothing
/// and a sealed secret moved to another webhook's item does not open.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedSecret(..)")
    }
}

/// The deployment's key for signing secrets at rest (Secrets Manager, or `.data/` locally):
/// held only by the functions that issue secrets and the one that delivers.
pub struct SealingKey(DeploymentKey);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the webhook sealing key must be at least 32 bytes")]
pub struct WeakSealingKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a webhook signing secret could not be sealed or opened")]
pub struct SealError;

const SEALING_INFO: &[u8] = b"clavis webhook signing secret";

/// 32 or more random bytes a deployment keeps (Secrets Manager, or `.data/` locally), from
/// which each webhook item's own AES-256-GCM keys are derived.
struct DeploymentKey(SecretBox<[u8]>);

impl DeploymentKey {
    fn from_bytes(bytes: &[u8]) -> Result<Self, WeakSealingKey> {
        if bytes.len() < 32 {
            return Err(WeakSealingKey);
        }
        Ok(Self(SecretBox::new(bytes.into())))
    }

    fn generate() -> Self {
        let bytes: [u8; 32] = crate::random::bytes();
        Self(SecretBox::new(Box::new(bytes)))
    }

    /// The key for what `info` names in `webhook`'s item: HKDF-SHA256 with the webhook's ID as
    /// salt, so a sealed value moved to another item does not open.
    fn for_webhook(&self, webhook: &WebhookId, info: &[u8]) -> LessSafeKey {
        let prk = hkdf::Salt::new(HKDF_SHA256, webhook.as_str().as_bytes())
            .extract(self.0.expose_secret());
        let info = [info];
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .unwrap_or_else(|_| unreachable!("32 bytes is within HKDF's output limit"));
        LessSafeKey::new(UnboundKey::from(okm))
    }
}

impl SealingKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WeakSealingKey> {
        DeploymentKey::from_bytes(bytes).map(Self)
    }

    pub fn generate() -> Self {
        Self(DeploymentKey::generate())
    }

    fn key_for(&self, webhook: &WebhookId) -> LessSafeKey {
        self.0.for_webhook(webhook, SEALING_INFO)
    }

    pub fn seal(
        &self,
        webhook: &WebhookId,
        secret: &SigningSecret,
    ) -> Result<SealedSecret, SealError> {
        let context = webhook.as_str().as_bytes();
        crate::aead::seal(&self.key_for(webhook), context, secret.expose().as_bytes())
            .map(SealedSecret)
            .map_err(|_| SealError)
    }

    pub fn open(
        &self,
        webhook: &WebhookId,
        sealed: &SealedSecret,
    ) -> Result<SigningSecret, SealError> {
        let context = webhook.as_str().as_bytes();
        let plain =
            crate::aead::open(&self.key_for(webhook), context, &sealed.0).map_err(|_| SealError)?;
        let text = std::str::from_utf8(&plain).map_err(|_| SealError)?;
        SigningSecret::parse(text).ok_or(SealError)
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

const URL_SEALING_INFO: &[u8] = b"clavis webhook url";

/// The deployment's key for endpoint URLs at rest: a URL's path or query often carries the
/// receiver's own token (a chat service's incoming hook is one), so a copy of the table must
/// not hand them out. Held by the webhook functions, which read and write endpoints; it is
/// not the [`SealingKey`], which only the functions that sign may hold.
pub struct UrlKey(DeploymentKey);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a webhook URL could not be sealed or opened")]
pub struct UrlSealError;

impl UrlKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WeakSealingKey> {
        DeploymentKey::from_bytes(bytes).map(Self)
    }

    pub fn generate() -> Self {
        Self(DeploymentKey::generate())
    }

    /// `url` sealed for `webhook`'s item: it opens for that webhook only.
    pub fn seal(&self, webhook: &WebhookId, url: &WebhookUrl) -> Result<Vec<u8>, UrlSealError> {
        let key = self.0.for_webhook(webhook, URL_SEALING_INFO);
        crate::aead::seal(&key, webhook.as_str().as_bytes(), url.as_str().as_bytes())
            .map_err(|_| UrlSealError)
    }

    pub fn open(&self, webhook: &WebhookId, sealed: &[u8]) -> Result<WebhookUrl, UrlSealError> {
        let key = self.0.for_webhook(webhook, URL_SEALING_INFO);
        let plain = crate::aead::open(&key, webhook.as_str().as_bytes(), sealed)
            .map_err(|_| UrlSealError)?;
        let text = String::from_utf8(plain).map_err(|_| UrlSealError)?;
        WebhookUrl::try_from(text).map_err(|_| UrlSealError)
    }
}

impl fmt::Debug for UrlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UrlKey(<redacted>)")
    }
}

/// A replaced signing secret, signing beside the current one until `valid_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    pub sealed: SealedSecret,
    pub valid_until: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub tenant: TenantId,
    pub url: WebhookUrl,
    pub event_types: EventFilter,
    pub description: Option<String>,
    pub status: WebhookStatus,
    pub disabled_reason: Option<DisabledReason>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub secret: SealedSecret,
    pub previous_secret: Option<PreviousSecret>,
    pub secret_rotated_at: Option<Timestamp>,
    /// When the first of the failures since the last success happened; `None` while
    /// deliveries succeed.
    pub failing_since: Option<Timestamp>,
    /// The event that created it: it is sent that event and those after it (event IDs are
    /// ULIDs, which order by the millisecond), never one from before, even from the same
    /// second or from a feed read again from its start.
    pub since: EventId,
    pub version: u64,
}

impl Webhook {
    pub fn is_enabled(&self) -> bool {
        self.status == WebhookStatus::Enabled
    }

    /// The sealed secrets that sign now: the current one, and the replaced one within its 24 h.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&SealedSecret> {
        let previous = self
            .previous_secret
            .as_ref()
            .filter(|p| p.valid_until > now)
            .map(|p| &p.sealed);
        std::iter::once(&self.secret).chain(previous).collect()
    }

    /// `previous_secret_valid_until` as shown: only while it still signs.
    pub fn previous_secret_valid_until(&self, now: Timestamp) -> Option<Timestamp> {
        self.previous_secret
            .as_ref()
            .map(|p| p.valid_until)
            .filter(|until| *until > now)
    }

    /// The endpoint as it stands after a delivery's attempt: failing since the first failure,
    /// recovered by a success, disabled by a 410 or by failures lasting
    /// [`FAILING_DISABLES_AFTER`]. `None` when nothing about the endpoint changes.
    pub fn after_attempt(&self, succeeded: bool, gone: bool, now: Timestamp) -> Option<Webhook> {
        let mut next = self.clone();
        if succeeded {
            next.failing_since = None;
        } else {
            let since = *next.failing_since.get_or_insert(now);
            let reason = if gone {
                Some(DisabledReason::Gone)
            } else if now - since >= FAILING_DISABLES_AFTER {
                Some(DisabledReason::Failing)
            } else {
                None
            };
            if let Some(reason) = reason.filter(|_| self.is_enabled()) {
                next.status = WebhookStatus::Disabled;
                next.disabled_reason = Some(reason);
                next.updated_at = now;
            }
        }
        (next != *self).then_some(next)
    }
}

/// The `webhook-signature` header: one `v1,<base64 HMAC-SHA256>` per secret that signs,
/// space-separated, made by the Standard Webhooks library itself.
pub fn signature_header(
    secrets: &[SigningSecret],
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, SealError> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let signer = standardwebhooks::Webhook::new(secret.expose()).map_err(|_| SealError)?;
        let signature = signer
            .sign(message_id, timestamp, body.as_bytes())
            .map_err(|_| SealError)?;
        signatures.push(signature);
    }
    Ok(signatures.join(" "))
}
