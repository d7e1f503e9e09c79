//! Audit events: what happened to a credential (or to its tenant's policy), who did it, and
//! when. By construction they hold no secret and no hash: no variant has a field that could
//! carry one.

use serde::{Deserialize, Serialize};

use crate::credential::{Credential, Environment};
use crate::ids::{ClientId, EventId, TenantId, WebhookId};
use crate::leak::{LeakOutcome, LeakSource, SourceUrl};
use crate::policy::PolicyDocument;
use crate::time::Timestamp;
use crate::webhook::{DisabledReason, WebhookStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: EventId,
    pub tenant: TenantId,
    /// `None` for events about the tenant itself (its policy).
    pub client_id: Option<ClientId>,
    pub at: Timestamp,
    pub actor: Actor,
    pub request_id: Option<String>,
    #[serde(flatten)]
    pub action: AuditAction,
}

impl AuditEvent {
    pub fn new(credential: &Credential, context: &Context, action: AuditAction) -> Self {
        Self {
            id: EventId::generate(),
            tenant: credential.tenant.clone(),
            client_id: Some(credential.client_id.clone()),
            at: context.now,
            actor: context.actor.clone(),
            request_id: context.request_id.clone(),
            action,
        }
    }

    /// An event about the tenant itself, not one of its credentials.
    pub fn for_tenant(tenant: &TenantId, context: &Context, action: AuditAction) -> Self {
        Self {
            id: EventId::generate(),
            tenant: tenant.clone(),
            client_id: None,
            at: context.now,
            actor: context.actor.clone(),
            request_id: context.request_id.clone(),
            action,
        }
    }

    pub fn kind(&self) -> &'static str {
        self.action.kind()
    }
}

/// Who is acting, when, and under which request: everything a lifecycle rule needs to know
/// about the call besides the credential itself.
#[derive(Debug, Clone)]
pub struct Context {
    pub actor: Actor,
    pub now: Timestamp,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub subject: String,
    pub role: ActorRole,
}

impl Actor {
    /// The scheduled sweeper.
    pub fn system() -> Self {
        Self {
            subject: "system".to_owned(),
            role: ActorRole::System,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorRole {
    Admin,
    Advisor,
    System,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change<T> {
    pub before: T,
    pub after: T,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "details")]
pub enum AuditAction {
    #[serde(rename = "credential.created")]
    Created {
        name: String,
        scopes: Vec<String>,
        environment: Environment,
        expires_at: Option<Timestamp>,
    },
    #[serde(rename = "credential.secret_rotated")]
    SecretRotated {
        secret_version: u32,
        /// When the replaced secret stops working; absent when it stopped at once.
        previous_secret_valid_until: Option<Timestamp>,
        /// Whether the tokens issued before the rotation were ended with it.
        #[serde(default)]
        end_existing_tokens: bool,
    },
    #[serde(rename = "credential.expiry_changed")]
    ExpiryChanged {
        before: Option<Timestamp>,
        after: Option<Timestamp>,
    },
    #[serde(rename = "credential.updated")]
    Updated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<Change<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<Change<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scopes: Option<Change<Vec<String>>>,
        /// `null` on either side: no quota.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        monthly_request_quota: Option<Change<Option<u64>>>,
    },
    #[serde(rename = "credential.suspended")]
    Suspended {},
    #[serde(rename = "credential.reactivated")]
    Reactivated {},
    #[serde(rename = "credential.revoked")]
    Revoked {
        reason: Option<String>,
        /// Whether the credential had already expired: revoking it records intent, not effect.
        was_expired: bool,
    },
    #[serde(rename = "credential.deleted")]
    Deleted { name: String },
    #[serde(rename = "credential.expired")]
    Expired { expires_at: Timestamp },
    #[serde(rename = "credential.expiring_soon")]
    ExpiringSoon { expires_at: Timestamp },
    #[serde(rename = "tenant.policy_changed")]
    PolicyChanged {
        before: PolicyDocument,
        after: PolicyDocument,
    },
    /// This month's verified requests reached `percent` (80 or 100) of the credential's quota;
    /// recorded once per credential, month and threshold.
    #[serde(rename = "credential.quota_threshold")]
    QuotaThreshold {
        percent: u8,
        /// `yyyy-mm`, UTC.
        month: String,
        monthly_request_quota: u64,
    },
    /// Webhook events name the endpoint's origin (scheme, host, port), never its full URL: a
    /// receiver's path or query often carries a token of its own.
    #[serde(rename = "webhook.created")]
    WebhookCreated {
        webhook_id: WebhookId,
        destination: String,
        event_types: Option<Vec<String>>,
    },
    #[serde(rename = "webhook.updated")]
    WebhookUpdated {
        webhook_id: WebhookId,
        destination: String,
        /// The fields the change set: `url`, `event_types`, `description`, `status`.
        changed: Vec<String>,
        status: WebhookStatus,
    },
    #[serde(rename = "webhook.secret_rotated")]
    WebhookSecretRotated {
        webhook_id: WebhookId,
        previous_secret_valid_until: Timestamp,
    },
    #[serde(rename = "webhook.deleted")]
    WebhookDeleted {
        webhook_id: WebhookId,
        destination: String,
    },
    #[serde(rename = "webhook.disabled")]
    WebhookDisabled {
        webhook_id: WebhookId,
        destination: String,
        reason: DisabledReason,
    },
    /// A secret of the credential was reported found (DESIGN: "Leaked secrets"); `action`
    /// is what the tenant's policy did about it.
    #[serde(rename = "credential.leaked")]
    Leaked {
        source: LeakSource,
        url: Option<SourceUrl>,
        /// Whether the credential still accepted the secret (its current one, or the previous
        /// one within its grace period).
        secret_current: bool,
        action: LeakOutcome,
    },
    /// Sent by **Send test** to this one endpoint.
    #[serde(rename = "webhook.test")]
    WebhookTest { webhook_id: WebhookId },
}

impl AuditAction {
    pub const KINDS: [&'static str; 19] = [
        "credential.created",
        "credential.secret_rotated",
        "credential.expiry_changed",
        "credential.updated",
        "credential.suspended",
        "credential.reactivated",
        "credential.revoked",
        "credential.deleted",
        "credential.expired",
        "credential.expiring_soon",
        "tenant.policy_changed",
        "credential.quota_threshold",
        "webhook.created",
        "webhook.updated",
        "webhook.secret_rotated",
        "webhook.deleted",
        "webhook.disabled",
        "webhook.test",
        "credential.leaked",
    ];

    pub fn kind(&self) -> &'static str {
        match self {
            AuditAction::Created { .. } => Self::KINDS[0],
            AuditAction::SecretRotated { .. } => Self::KINDS[1],
            AuditAction::ExpiryChanged { .. } => Self::KINDS[2],
            AuditAction::Updated { .. } => Self::KINDS[3],
            AuditAction::Suspended {} => Self::KINDS[4],
            AuditAction::Reactivated {} => Self::KINDS[5],
            AuditAction::Revoked { .. } => Self::KINDS[6],
            AuditAction::Deleted { .. } => Self::KINDS[7],
            AuditAction::Expired { .. } => Self::KINDS[8],
            AuditAction::ExpiringSoon { .. } => Self::KINDS[9],
            AuditAction::PolicyChanged { .. } => Self::KINDS[10],
            AuditAction::QuotaThreshold { .. } => Self::KINDS[11],
            AuditAction::WebhookCreated { .. } => Self::KINDS[12],
            AuditAction::WebhookUpdated { .. } => Self::KINDS[13],
            AuditAction::WebhookSecretRotated { .. } => Self::KINDS[14],
            AuditAction::WebhookDeleted { .. } => Self::KINDS[15],
            AuditAction::WebhookDisabled { .. } => Self::KINDS[16],
            AuditAction::WebhookTest { .. } => Self::KINDS[17],
            AuditAction::Leaked { .. } => Self::KINDS[18],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_their_documented_type_names() {
        let actions = [
            AuditAction::Created {
                name: "n".into(),
                scopes: vec!["a:b".into()],
                environment: Environment::Live,
                expires_at: None,
            },
            AuditAction::SecretRotated {
                secret_version: 2,
                previous_secret_valid_until: None,
                end_existing_tokens: false,
            },
            AuditAction::ExpiryChanged {
                before: None,
                after: None,
            },
            AuditAction::Updated {
                name: None,
                description: None,
                scopes: None,
                monthly_request_quota: None,
            },
            AuditAction::Suspended {},
            AuditAction::Reactivated {},
            AuditAction::Revoked {
                reason: None,
                was_expired: false,
            },
            AuditAction::Deleted { name: "n".into() },
            AuditAction::Expired {
                expires_at: chrono::DateTime::UNIX_EPOCH,
            },
            AuditAction::ExpiringSoon {
                expires_at: chrono::DateTime::UNIX_EPOCH,
            },
            AuditAction::PolicyChanged {
                before: crate::policy::TenantPolicy::default().document(),
                after: crate::policy::TenantPolicy::default().document(),
            },
            AuditAction::QuotaThreshold {
                percent: 80,
                month: "2026-12".into(),
                monthly_request_quota: 10,
            },
            AuditAction::WebhookCreated {
                webhook_id: WebhookId::generate(),
                destination: "https://hooks.example".into(),
                event_types: None,
            },
            AuditAction::WebhookUpdated {
                webhook_id: WebhookId::generate(),
                destination: "https://hooks.example".into(),
                changed: vec!["status".into()],
                status: WebhookStatus::Disabled,
            },
            AuditAction::WebhookSecretRotated {
                webhook_id: WebhookId::generate(),
                previous_secret_valid_until: chrono::DateTime::UNIX_EPOCH,
            },
            AuditAction::WebhookDeleted {
                webhook_id: WebhookId::generate(),
                destination: "https://hooks.example".into(),
            },
            AuditAction::WebhookDisabled {
                webhook_id: WebhookId::generate(),
                destination: "https://hooks.example".into(),
                reason: DisabledReason::Gone,
            },
            AuditAction::WebhookTest {
                webhook_id: WebhookId::generate(),
            },
            AuditAction::Leaked {
                source: LeakSource::Github,
                url: SourceUrl::parse("https://github.com/o/r/blob/1/a.env"),
                secret_current: true,
                action: LeakOutcome::Revoked,
            },
        ];
        assert_eq!(actions.len(), AuditAction::KINDS.len());
        for action in actions {
            let json = serde_json::to_value(&action).unwrap();
            assert_eq!(json["type"], action.kind());
            let back: AuditAction = serde_json::from_value(json).unwrap();
            assert_eq!(back, action);
        }
    }
}
