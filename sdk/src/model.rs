//! The management API's documents, as they travel: what it answers and what requests carry.
//! Defined here rather than shared with the server so that users do not compile the server.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// A point in time as the API writes it: UTC, whole seconds.
pub type Timestamp = DateTime<Utc>;

/// A credential's status, computed by the server at the time of the response:
/// `revoked` > `expired` > `suspended` > `active`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    Active,
    Suspended,
    Expired,
    Revoked,
    /// A status this version of the SDK does not know yet.
    #[serde(other)]
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
            Status::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "active" => Ok(Status::Active),
            "suspended" => Ok(Status::Suspended),
            "expired" => Ok(Status::Expired),
            "revoked" => Ok(Status::Revoked),
            other => Err(format!(
                "unknown status {other:?}: use active, suspended, expired or revoked"
            )),
        }
    }
}

/// Which secrets a credential gets: `csk_live_…` or `csk_test_…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Environment {
    #[default]
    Live,
    Test,
    /// An environment this version of the SDK does not know yet.
    #[serde(other)]
    Unknown,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
            Environment::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "live" => Ok(Environment::Live),
            "test" => Ok(Environment::Test),
            other => Err(format!("unknown environment {other:?}: use live or test")),
        }
    }
}

/// A credential as the management API shows it. It never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Credential {
    /// Public and permanent, e.g. `cid_…`.
    pub client_id: String,
    pub tenant: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `resource:action` strings, sorted.
    pub scopes: Vec<String>,
    pub environment: Environment,
    pub status: Status,
    pub created_at: Timestamp,
    #[serde(default)]
    pub created_by: String,
    pub expires_at: Option<Timestamp>,
    /// Whether the expiry is within 72 hours and so can no longer be edited.
    #[serde(default)]
    pub expiry_locked: bool,
    pub secret_version: u32,
    pub secret_rotated_at: Option<Timestamp>,
    /// While a rotation's grace period lasts, the replaced secret works until this time.
    pub previous_secret_valid_until: Option<Timestamp>,
    pub suspended_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    pub revocation_reason: Option<String>,
    pub last_used_at: Option<Timestamp>,
    /// The source address of the use at `last_used_at`.
    #[serde(default)]
    pub last_used_from: Option<String>,
    /// API requests the authorizer allowed, tokens issued and introspections, in
    /// `usage_month` (UTC, `yyyy-mm`).
    #[serde(default)]
    pub request_count: u64,
    #[serde(default)]
    pub usage_month: String,
    /// The most API requests allowed per calendar month; `None`: no quota.
    #[serde(default)]
    pub monthly_request_quota: Option<u64>,
    /// The rules of the tenant's policy this credential breaks, as sentences. While there are
    /// any it is blocked (no tokens; those it holds are refused) until an admin edits it or
    /// the policy is relaxed.
    #[serde(default)]
    pub policy_violations: Vec<String>,
    /// The last report that the current secret leaked, and what it did; `None` when there is
    /// none (a rotation clears it).
    #[serde(default)]
    pub leak: Option<LeakNotice>,
    /// The optimistic-concurrency version, which is also the ETag: pass it to
    /// [`CredentialRef::if_match`](crate::CredentialRef::if_match) so that a change applies
    /// only to the credential as you last saw it.
    pub version: u64,
}

/// A report that a credential's current secret leaked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LeakNotice {
    pub reported_at: Timestamp,
    /// `github` (GitHub's secret scanning) or `admin` (reported through the API).
    pub source: String,
    /// What the tenant's policy did: `revoked`, `suspended` or `none`.
    pub action: String,
    /// Where the secret was found, if the report said.
    pub url: Option<String>,
}

/// What reporting a leaked secret did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LeakReport {
    /// The credential the secret belongs to.
    pub client_id: String,
    /// `revoked`, `suspended` or `none` (the policy only notifies, the secret no longer works,
    /// or it was reported before).
    pub action: String,
    /// Whether the credential still accepted the secret.
    pub secret_current: bool,
    /// The secret was reported before: nothing changed this time.
    pub already_reported: bool,
}

/// A credential with its newly issued secret: what `create` and `rotate` answer, the only time
/// the secret can be read. Its `Debug` output shows no secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssuedSecret {
    pub credential: Credential,
    /// Read it with [`secrecy::ExposeSecret`], store it, and drop it.
    pub client_secret: SecretString,
    /// The server's reminder that the secret cannot be shown again.
    pub notice: String,
}

/// The wire form of [`IssuedSecret`].
#[derive(Deserialize)]
pub(crate) struct IssuedSecretDocument {
    pub credential: Credential,
    pub client_secret: String,
    #[serde(default)]
    pub client_secret_notice: String,
}

impl From<IssuedSecretDocument> for IssuedSecret {
    fn from(document: IssuedSecretDocument) -> Self {
        Self {
            credential: document.credential,
            client_secret: SecretString::from(document.client_secret),
            notice: document.client_secret_notice,
        }
    }
}

/// A new credential. `name` and at least one scope are required.
///
/// ```
/// use clavis_sdk::{Environment, NewCredential};
///
/// let request = NewCredential::new("Inventory sync", ["products:read", "stock:write"])
///     .description("Nightly stock levels")
///     .environment(Environment::Test)
///     .expires_in_days(90);
/// assert_eq!(request.scopes().len(), 2);
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct NewCredential {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<Environment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    monthly_request_quota: Option<u64>,
}

impl NewCredential {
    pub fn new(
        name: impl Into<String>,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            name: name.into(),
            description: None,
            scopes: scopes.into_iter().map(Into::into).collect(),
            environment: None,
            expires_at: None,
            expires_in_days: None,
            monthly_request_quota: None,
        }
    }

    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// `live` unless set.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// An exact expiry, in the future and at most 3650 days ahead.
    pub fn expires_at(mut self, at: Timestamp) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// An expiry this many days from now (server time).
    pub fn expires_in_days(mut self, days: i64) -> Self {
        self.expires_in_days = Some(days);
        self
    }

    /// At most this many API requests per calendar month (1 to 10^12).
    pub fn monthly_request_quota(mut self, requests: u64) -> Self {
        self.monthly_request_quota = Some(requests);
        self
    }

    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

/// A change of name, description, scopes or quota; fields left unset stay as they are. New
/// scopes replace the old ones: added ones apply to the next token issued, removed ones stop
/// at once for tokens already issued too, wherever Clavis verifies requests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CredentialUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<Vec<String>>,
    /// `Some(None)` is sent as `null`: remove the quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    monthly_request_quota: Option<Option<u64>>,
}

impl CredentialUpdate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// At most this many API requests per calendar month (1 to 10^12); `None` removes the
    /// quota.
    pub fn monthly_request_quota(mut self, requests: Option<u64>) -> Self {
        self.monthly_request_quota = Some(requests);
        self
    }

    /// Whether nothing would change (the API refuses an empty update).
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.scopes.is_none()
            && self.monthly_request_quota.is_none()
    }
}

/// Who did something recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Actor {
    pub subject: String,
    /// `admin`, `advisor` or `system` (the expiry sweeper).
    pub role: String,
}

/// One entry of the audit trail. It never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEvent {
    pub id: String,
    pub tenant: String,
    /// `None` for events about the tenant itself (`tenant.policy_changed`).
    #[serde(default)]
    pub client_id: Option<String>,
    pub at: Timestamp,
    pub actor: Actor,
    #[serde(default)]
    pub request_id: Option<String>,
    /// `credential.created`, `credential.secret_rotated`, `credential.revoked`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// What changed, shaped by `kind` (e.g. `before`/`after` for an expiry change).
    #[serde(default)]
    pub details: serde_json::Value,
}

/// One page of a listing, as the API answers it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PageDocument<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// One scope of the platform's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScopeDescription {
    pub scope: String,
    pub description: String,
}

/// What Clavis does to a credential whose secret is reported leaked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeakAction {
    #[default]
    Revoke,
    Suspend,
    /// Only the event; the tenant's people decide.
    Notify,
}

impl LeakAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LeakAction::Revoke => "revoke",
            LeakAction::Suspend => "suspend",
            LeakAction::Notify => "notify",
        }
    }
}

/// A tenant's rules for its credentials, as sent to `PUT …/policy`: the whole document. The
/// default allows everything (what a tenant that never set a policy has).
///
/// ```
/// use clavis_sdk::{Environment, PolicyRules};
///
/// let mut rules = PolicyRules::default();
/// rules.max_lifetime_days = Some(90);
/// rules.allowed_environments = vec![Environment::Live];
/// assert!(!rules.require_expiry);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PolicyRules {
    /// Every credential expires within this many days (1–366) of when its expiry was set.
    pub max_lifetime_days: Option<u16>,
    pub require_expiry: bool,
    /// The longest a rotated-out secret may keep working (0–604800).
    pub max_grace_seconds: Option<u32>,
    /// The scopes credentials may carry; `None`: any.
    pub allowed_scopes: Option<Vec<String>>,
    pub allowed_environments: Vec<Environment>,
    pub leak_action: LeakAction,
}

impl Default for PolicyRules {
    fn default() -> Self {
        Self {
            max_lifetime_days: None,
            require_expiry: false,
            max_grace_seconds: None,
            allowed_scopes: None,
            allowed_environments: vec![Environment::Live, Environment::Test],
            leak_action: LeakAction::Revoke,
        }
    }
}

/// A tenant's policy as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Policy {
    pub tenant: String,
    #[serde(flatten)]
    pub rules: PolicyRules,
    /// 0 while the tenant never set one; also the ETag: pass it to
    /// [`Tenant::set_policy`](crate::Tenant::set_policy) so that the change applies only to
    /// the policy as you last saw it.
    pub version: u64,
    pub updated_at: Option<Timestamp>,
    pub updated_by: Option<String>,
}

/// One UTC day of usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UsageDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub uses: u64,
    /// Refusals by reason (`invalid_client`, `quota_exceeded`, …); a reason with none is absent.
    #[serde(default)]
    pub refused: std::collections::BTreeMap<String, u64>,
}

impl UsageDay {
    /// All refusals of the day.
    pub fn total_refused(&self) -> u64 {
        self.refused.values().sum()
    }
}

/// What a credential, or a tenant's credentials together, did on each day of a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    /// The credential's (absent for a tenant's usage).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The tenant's (absent for a credential's usage).
    #[serde(default)]
    pub tenant: Option<String>,
    pub from: String,
    pub to: String,
    /// Every day of the range, oldest first, zeros included.
    pub days: Vec<UsageDay>,
    pub total_uses: u64,
    pub total_refused: u64,
    /// A tenant's most used credentials in the range (empty for a credential's usage).
    #[serde(default)]
    pub top: Vec<TopCredential>,
}

/// One of a tenant's most used credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TopCredential {
    pub client_id: String,
    /// `None` for a credential deleted since.
    pub name: Option<String>,
    pub uses: u64,
}

/// Whether a webhook endpoint is sent events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum WebhookStatus {
    Enabled,
    Disabled,
    /// A status this version of the SDK does not know yet.
    #[serde(other)]
    Unknown,
}

impl WebhookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Enabled => "enabled",
            WebhookStatus::Disabled => "disabled",
            WebhookStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for WebhookStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a webhook endpoint is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DisabledReason {
    /// An admin disabled it.
    Admin,
    /// Every delivery to it failed for 5 days.
    Failing,
    /// It answered `410 Gone`.
    Gone,
    /// A reason this version of the SDK does not know yet.
    #[serde(other)]
    Unknown,
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Admin => "admin",
            DisabledReason::Failing => "failing",
            DisabledReason::Gone => "gone",
            DisabledReason::Unknown => "unknown",
        }
    }
}

impl fmt::Display for DisabledReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A webhook endpoint of a tenant, as the API shows it. It never holds the signing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Webhook {
    /// `wh_…`.
    pub id: String,
    /// Where events are posted.
    pub url: String,
    /// The event types it is sent (`credential.revoked`, …); `None`: every type.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    pub status: WebhookStatus,
    /// Set while it is disabled.
    #[serde(default)]
    pub disabled_reason: Option<DisabledReason>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    #[serde(default)]
    pub secret_rotated_at: Option<Timestamp>,
    /// After a rotation, the replaced secret signs beside the new one until this time.
    #[serde(default)]
    pub previous_secret_valid_until: Option<Timestamp>,
}

/// A webhook endpoint with its signing secret (`whsec_…`): what creating an endpoint and
/// rotating its secret answer, the only time the secret can be read. Its `Debug` output shows
/// no secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    /// Read it with [`secrecy::ExposeSecret`], give it to the receiver's verifier (any
    /// Standard Webhooks library), and drop it.
    pub secret: SecretString,
}

/// The wire form of [`CreatedWebhook`].
#[derive(Deserialize)]
pub(crate) struct CreatedWebhookDocument {
    pub webhook: Webhook,
    pub secret: String,
}

impl From<CreatedWebhookDocument> for CreatedWebhook {
    fn from(document: CreatedWebhookDocument) -> Self {
        Self {
            webhook: document.webhook,
            secret: SecretString::from(document.secret),
        }
    }
}

/// A new webhook endpoint. Only `url` is required.
///
/// ```
/// use clavis_sdk::NewWebhook;
///
/// let request = NewWebhook::new("https://hooks.example.com/clavis")
///     .event_types(["credential.revoked", "credential.expiring_soon"])
///     .description("Pager");
/// assert_eq!(request.event_types.as_ref().map(Vec::len), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewWebhook {
    /// `https://` (a private, loopback or metadata destination is refused), at most 1 KiB.
    pub url: String,
    /// The event types to send; `None`: every type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    /// At most 500 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl NewWebhook {
    /// An endpoint at `url` sent every event type.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            event_types: None,
            description: None,
        }
    }

    /// Only these event types.
    pub fn event_types(mut self, types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.event_types = Some(types.into_iter().map(Into::into).collect());
        self
    }

    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// A change of a webhook endpoint; fields left unset stay as they are.
///
/// ```
/// use clavis_sdk::WebhookPatch;
///
/// let patch = WebhookPatch::new().all_event_types().enable();
/// assert!(!patch.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WebhookPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// `Some(None)` is sent as `null`: every type.
    #[serde(skip_serializing_if = "Option::is_none")]
    event_types: Option<Option<Vec<String>>>,
    /// `Some(None)` is sent as `null`: no description.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<WebhookStatus>,
}

impl WebhookPatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// A new destination (checked as on create).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Only these event types from now on.
    pub fn event_types(mut self, types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.event_types = Some(Some(types.into_iter().map(Into::into).collect()));
        self
    }

    /// Every event type from now on.
    pub fn all_event_types(mut self) -> Self {
        self.event_types = Some(None);
        self
    }

    /// A new description; `None` removes it.
    pub fn description(mut self, description: Option<String>) -> Self {
        self.description = Some(description);
        self
    }

    /// Enabled or disabled. Enabling clears `disabled_reason`.
    pub fn status(mut self, status: WebhookStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Sends it events again (clearing `disabled_reason`).
    pub fn enable(self) -> Self {
        self.status(WebhookStatus::Enabled)
    }

    /// Stops sending it events until enabled again.
    pub fn disable(self) -> Self {
        self.status(WebhookStatus::Disabled)
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.url.is_none()
            && self.event_types.is_none()
            && self.description.is_none()
            && self.status.is_none()
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DeliveryState {
    /// Not delivered yet; another try is scheduled (`next_attempt_at`).
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every try of the schedule failed; no more will be made.
    Failed,
    /// A state this version of the SDK does not know yet.
    #[serde(other)]
    Unknown,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Unknown => "unknown",
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Delivery {
    /// The event's ID: the `webhook-id` header, the same on every try.
    pub event_id: String,
    /// `credential.revoked`, `webhook.test`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Tries made so far (every try counts, the first included).
    pub attempts: u32,
    /// The HTTP status of the last try; `None` when there was no answer.
    #[serde(default)]
    pub last_status: Option<u16>,
    /// Why the last try failed without an HTTP status: `timeout`, `connection failed`,
    /// `destination not allowed`, `endpoint unavailable` (disabled or deleted meanwhile), …
    /// (a redirect is an answer: its status is in `last_status`, and it is not followed).
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the next try is due, while `pending`.
    #[serde(default)]
    pub next_attempt_at: Option<Timestamp>,
    pub state: DeliveryState,
    pub created_at: Timestamp,
}

/// One page of an endpoint's deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    /// Pass it to [`Tenant::webhook_deliveries`](crate::Tenant::webhook_deliveries) for the
    /// next page; `None` after the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
}
