//! What the management API shows of a credential and of the audit trail. Built from domain
//! types at one instant; there is no field here that could carry a secret or its hash.

use serde::Serialize;

use clavis_core::audit::AuditEvent;
use clavis_core::credential::{Environment, RequestQuota, Status};
use clavis_core::lifecycle::is_expiry_locked;
use clavis_core::policy::{PolicyDocument, StoredPolicy};
use std::collections::BTreeMap;

use clavis_core::ids::{ClientId, EventId, TenantId, WebhookId};
use clavis_core::leak::{LeakOutcome, LeakSource};
use clavis_core::service::{DailyReport, Snapshot, TopCredential};
use clavis_core::store::Page;
use clavis_core::time::Timestamp;
use clavis_core::webhook::delivery::{Delivery, DeliveryState};
use clavis_core::webhook::{DisabledReason, Webhook, WebhookStatus};

#[derive(Debug, Serialize)]
pub struct CredentialView {
    pub client_id: String,
    pub tenant: String,
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub environment: Environment,
    /// Computed at the time of the response: `revoked` > `expired` > `suspended` > `active`.
    pub status: Status,
    pub created_at: Timestamp,
    pub created_by: String,
    pub expires_at: Option<Timestamp>,
    /// Whether the expiry is within the 72-hour window in which it can no longer be edited.
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
    pub last_used_from: Option<String>,
    /// API requests the authorizer allowed, tokens issued and introspections, in
    /// `usage_month` (UTC).
    pub request_count: u64,
    pub usage_month: String,
    /// `null`: no quota.
    pub monthly_request_quota: Option<u64>,
    /// The rules of the tenant's policy the credential breaks, as sentences: while there are
    /// any, it is blocked.
    pub policy_violations: Vec<String>,
    /// The last report that the current secret leaked, and what it did; `null` when none
    /// (a rotation clears it).
    pub leak: Option<LeakView>,
    /// The optimistic-concurrency version; also the ETag.
    pub version: u64,
}

#[derive(Debug, Serialize)]
pub struct LeakView {
    pub reported_at: Timestamp,
    pub source: LeakSource,
    pub action: LeakOutcome,
    pub url: Option<String>,
}

impl From<&Snapshot> for CredentialView {
    fn from(snapshot: &Snapshot) -> Self {
        let c = &snapshot.credential;
        let now = snapshot.read_at;
        let revocation = c.revocation.as_ref();
        Self {
            client_id: c.client_id.to_string(),
            tenant: c.tenant.to_string(),
            name: c.name.to_string(),
            description: c.description.to_string(),
            scopes: c.scopes.to_strings(),
            environment: c.environment,
            status: c.status(now),
            created_at: c.created_at,
            created_by: c.created_by.clone(),
            expires_at: c.expires_at,
            expiry_locked: c.expires_at.is_some_and(|at| is_expiry_locked(at, now)),
            secret_version: c.secret.version,
            secret_rotated_at: c.secret.rotated_at,
            previous_secret_valid_until: c
                .secret
                .previous
                .as_ref()
                .map(|p| p.valid_until)
                .filter(|until| *until > now),
            suspended_at: c.suspended_at,
            revoked_at: revocation.map(|r| r.at),
            revoked_by: revocation.map(|r| r.by.clone()),
            revocation_reason: revocation.and_then(|r| r.reason.as_ref().map(|r| r.to_string())),
            last_used_at: c.last_used_at,
            last_used_from: c
                .last_used_from
                .as_ref()
                .map(|from| from.as_str().to_owned()),
            request_count: snapshot.requests_this_month,
            usage_month: snapshot.usage_month.to_string(),
            monthly_request_quota: c.monthly_request_quota.map(RequestQuota::get),
            policy_violations: snapshot.policy_violations.clone(),
            leak: c.leak.as_ref().map(|l| LeakView {
                reported_at: l.reported_at,
                source: l.source,
                action: l.action,
                url: l.url.clone(),
            }),
            version: c.version,
        }
    }
}

/// The response that hands out a secret (the only place one ever leaves Clavis), less its
/// `client_secret`, which is added as it is sent, so that this part can be kept for a repeated
/// request without the secret.
#[derive(Debug, Serialize)]
pub struct IssuedSecretView {
    pub credential: CredentialView,
    pub client_secret_notice: &'static str,
}

pub const SECRET_NOTICE: &str = "Store this secret now: it is shown only once and cannot be retrieved again. If you lose it, rotate the credential.";

#[derive(Debug, Serialize)]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl PageView<CredentialView> {
    pub fn credentials(page: &Page<Snapshot>) -> Self {
        Self {
            items: page.items.iter().map(CredentialView::from).collect(),
            next_cursor: page.next_cursor.as_ref().map(|c| c.encode()),
        }
    }
}

impl<'a> PageView<&'a AuditEvent> {
    pub fn events(page: &'a Page<AuditEvent>) -> Self {
        Self {
            items: page.items.iter().collect(),
            next_cursor: page.next_cursor.as_ref().map(|c| c.encode()),
        }
    }
}

/// A tenant's policy: its rules, its version (0 while it never set one; also the ETag), and
/// who last set it.
#[derive(Debug, Serialize)]
pub struct PolicyView {
    pub tenant: String,
    #[serde(flatten)]
    pub rules: PolicyDocument,
    pub version: u64,
    pub updated_at: Option<Timestamp>,
    pub updated_by: Option<String>,
}

impl From<&StoredPolicy> for PolicyView {
    fn from(stored: &StoredPolicy) -> Self {
        Self {
            tenant: stored.tenant.to_string(),
            rules: stored.policy.document(),
            version: stored.version,
            updated_at: stored.updated_at,
            updated_by: stored.updated_by.clone(),
        }
    }
}

/// One day of usage: the uses, and the refusals by reason (a reason with none left out).
#[derive(Debug, Serialize)]
pub struct UsageDayView {
    pub date: String,
    pub uses: u64,
    pub refused: BTreeMap<&'static str, u64>,
}

fn day_views(report: &DailyReport) -> Vec<UsageDayView> {
    report
        .days
        .iter()
        .map(|(day, counts)| UsageDayView {
            date: day.format("%Y-%m-%d").to_string(),
            uses: counts.uses,
            refused: counts
                .refused
                .iter()
                .map(|(reason, n)| (reason.as_str(), *n))
                .collect(),
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct CredentialUsageView {
    pub client_id: String,
    pub from: String,
    pub to: String,
    pub days: Vec<UsageDayView>,
    pub total_uses: u64,
    pub total_refused: u64,
}

impl CredentialUsageView {
    pub fn new(client_id: &ClientId, report: &DailyReport) -> Self {
        Self {
            client_id: client_id.to_string(),
            from: report.range.from().format("%Y-%m-%d").to_string(),
            to: report.range.to().format("%Y-%m-%d").to_string(),
            days: day_views(report),
            total_uses: report.total.uses,
            total_refused: report.total.total_refused(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TopCredentialView {
    pub client_id: String,
    /// `null` for a credential deleted since.
    pub name: Option<String>,
    pub uses: u64,
}

#[derive(Debug, Serialize)]
pub struct TenantUsageView {
    pub tenant: String,
    pub from: String,
    pub to: String,
    pub days: Vec<UsageDayView>,
    pub total_uses: u64,
    pub total_refused: u64,
    pub top: Vec<TopCredentialView>,
}

impl TenantUsageView {
    pub fn new(tenant: &TenantId, report: &DailyReport, top: &[TopCredential]) -> Self {
        Self {
            tenant: tenant.to_string(),
            from: report.range.from().format("%Y-%m-%d").to_string(),
            to: report.range.to().format("%Y-%m-%d").to_string(),
            days: day_views(report),
            total_uses: report.total.uses,
            total_refused: report.total.total_refused(),
            top: top
                .iter()
                .map(|t| TopCredentialView {
                    client_id: t.client_id.to_string(),
                    name: t.name.clone(),
                    uses: t.uses,
                })
                .collect(),
        }
    }
}

/// An endpoint as its admins see it: the URL in full (it is theirs), never a secret.
#[derive(Debug, Serialize)]
pub struct WebhookView<'a> {
    pub id: &'a WebhookId,
    pub url: &'a str,
    pub event_types: Option<&'a [String]>,
    pub description: Option<&'a str>,
    pub status: WebhookStatus,
    pub disabled_reason: Option<DisabledReason>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub secret_rotated_at: Option<Timestamp>,
    /// While the replaced secret still signs beside the new one.
    pub previous_secret_valid_until: Option<Timestamp>,
}

impl<'a> WebhookView<'a> {
    pub fn of(webhook: &'a Webhook, now: Timestamp) -> Self {
        Self {
            id: &webhook.id,
            url: webhook.url.as_str(),
            event_types: webhook.event_types.types(),
            description: webhook.description.as_deref(),
            status: webhook.status,
            disabled_reason: webhook.disabled_reason,
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
            secret_rotated_at: webhook.secret_rotated_at,
            previous_secret_valid_until: webhook.previous_secret_valid_until(now),
        }
    }
}

/// A delivery without its body: the event is in the audit trail, and the receiver has it.
#[derive(Debug, Serialize)]
pub struct DeliveryView<'a> {
    pub event_id: &'a EventId,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
    pub state: DeliveryState,
    pub created_at: Timestamp,
}

impl<'a> From<&'a Delivery> for DeliveryView<'a> {
    fn from(d: &'a Delivery) -> Self {
        Self {
            event_id: &d.event_id,
            event_type: &d.event_type,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error.map(|e| e.to_string()),
            next_attempt_at: d.next_attempt_at,
            state: d.state,
            created_at: d.event_at,
        }
    }
}
