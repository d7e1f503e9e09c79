//! Webhook endpoints as a tenant's admins manage them: registered with a signing secret shown
//! once, changed, rotated with a day of double signatures, tested, deleted; every change one
//! conditional write with its audit event, which is itself an event the endpoints receive.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;

use crate::audit::{Actor, AuditAction, AuditEvent, Context};
use crate::ids::{EventId, TenantId, WebhookId};
use crate::service::{Acting, MAX_ATTEMPTS, RETRY_AFTER_CONFLICT};
use crate::store::{Page, PageRequest, StoreError, WebhookPorts};
use crate::time::Clock;
use crate::webhook::delivery::Delivery;
use crate::webhook::{
    DESCRIPTION_MAX_CHARS, DestinationRules, DisabledReason, EventFilter, SECRET_OVERLAP,
    SealingKey, SigningSecret, UnknownEventType, UrlRefusal, Webhook, WebhookStatus, WebhookUrl,
};

/// Resolves a webhook's host, as a delivery would connect to it.
#[async_trait]
pub trait HostResolver: Send + Sync {
    /// Every address `host` resolves to; none when it does not resolve.
    async fn resolve(&self, host: &str, port: u16) -> Vec<IpAddr>;
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("No webhook {0} exists in this tenant.")]
    NotFound(WebhookId),
    #[error("{0}")]
    InvalidUrl(#[from] UrlRefusal),
    #[error("The field {field} {reason}.")]
    InvalidField { field: &'static str, reason: String },
    #[error(
        "This tenant already has {} webhook endpoints, the most it may have.",
        crate::webhook::MAX_WEBHOOKS_PER_TENANT
    )]
    LimitReached,
    #[error("The webhook is disabled; enable it to send a test.")]
    Disabled,
    /// This function was deployed without the sealing key, so it cannot issue secrets.
    #[error("this function holds no webhook sealing key")]
    NoSealingKey,
    #[error("the new signing secret could not be sealed")]
    Sealing,
    #[error("The webhook is being changed by other requests at this moment; try again.")]
    Contention,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LimitReached => WebhookError::LimitReached,
            other => WebhookError::Store(other),
        }
    }
}

impl From<UnknownEventType> for WebhookError {
    fn from(e: UnknownEventType) -> Self {
        WebhookError::InvalidField {
            field: "event_types",
            reason: format!("names an {e}"),
        }
    }
}

/// A new endpoint as an admin describes it.
#[derive(Debug, Clone, Default)]
pub struct NewWebhook {
    pub url: String,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
}

/// The fields a change sets; `Some(None)` clears `event_types` (every type) or `description`.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub event_types: Option<Option<Vec<String>>>,
    pub description: Option<Option<String>>,
    pub status: Option<WebhookStatus>,
}

/// An endpoint with the signing secret just issued for it, to be shown once.
#[derive(Debug)]
pub struct WithSecret {
    pub webhook: Webhook,
    pub secret: SigningSecret,
}

pub struct WebhookService {
    store: Arc<dyn WebhookPorts>,
    clock: Arc<dyn Clock>,
    rules: DestinationRules,
    resolver: Arc<dyn HostResolver>,
    /// Only the function that issues secrets holds it.
    sealing: Option<Arc<SealingKey>>,
}

fn description(text: Option<String>) -> Result<Option<String>, WebhookError> {
    let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > DESCRIPTION_MAX_CHARS || text.chars().any(char::is_control) {
        return Err(WebhookError::InvalidField {
            field: "description",
            reason: format!(
                "must be at most {DESCRIPTION_MAX_CHARS} characters, without control characters"
            ),
        });
    }
    Ok(Some(text))
}

impl WebhookService {
    pub fn new(
        store: Arc<dyn WebhookPorts>,
        clock: Arc<dyn Clock>,
        rules: DestinationRules,
        resolver: Arc<dyn HostResolver>,
    ) -> Self {
        Self {
            store,
            clock,
            rules,
            resolver,
            sealing: None,
        }
    }

    /// With the key that seals new signing secrets: for the function that issues them.
    pub fn issuing_secrets(mut self, sealing: Arc<SealingKey>) -> Self {
        self.sealing = Some(sealing);
        self
    }

    /// The URL's form, then where its host resolves now.
    async fn destination(&self, text: &str) -> Result<WebhookUrl, WebhookError> {
        let url = self.rules.parse(text.trim())?;
        let addresses = self.resolver.resolve(url.host(), url.port()).await;
        self.rules.check_addresses(&addresses)?;
        Ok(url)
    }

    fn sealing(&self) -> Result<&SealingKey, WebhookError> {
        self.sealing.as_deref().ok_or(WebhookError::NoSealingKey)
    }

    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<Webhook>, WebhookError> {
        Ok(self.store.webhooks(tenant).await?)
    }

    pub async fn get(&self, tenant: &TenantId, id: &WebhookId) -> Result<Webhook, WebhookError> {
        self.store
            .webhook(tenant, id)
            .await?
            .ok_or_else(|| WebhookError::NotFound(id.clone()))
    }

    pub async fn create(
        &self,
        acting: &Acting,
        new: NewWebhook,
    ) -> Result<WithSecret, WebhookError> {
        let event_types = EventFilter::parse(new.event_types)?;
        let description = description(new.description)?;
        let url = self.destination(&new.url).await?;
        let id = WebhookId::generate();
        let now = self.clock.now();
        let created = EventId::generate();
        let secret = SigningSecret::generate();
        let sealed = self
            .sealing()?
            .seal(&id, &secret)
            .map_err(|_| WebhookError::Sealing)?;
        let webhook = Webhook {
            id,
            tenant: acting.tenant.clone(),
            url,
            event_types,
            description,
            status: WebhookStatus::Enabled,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
            secret: sealed,
            previous_secret: None,
            secret_rotated_at: None,
            failing_since: None,
            since: created.clone(),
            version: 1,
        };
        let mut event = AuditEvent::for_tenant(
            &acting.tenant,
            &acting.at(now),
            AuditAction::WebhookCreated {
                webhook_id: webhook.id.clone(),
                destination: webhook.url.origin(),
                event_types: webhook.event_types.types().map(<[String]>::to_vec),
            },
        );
        event.id = created;
        self.store.insert_webhook(&webhook, &event).await?;
        Ok(WithSecret { webhook, secret })
    }

    /// Reads the endpoint, applies `change` to it, and writes it with the event `change`
    /// returns, retrying when another writer got there first.
    async fn change<T>(
        &self,
        acting: &Acting,
        id: &WebhookId,
        change: impl Fn(&Webhook, &Context) -> Result<Option<(Webhook, AuditAction, T)>, WebhookError>,
    ) -> Result<(Webhook, Option<T>), WebhookError> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                RETRY_AFTER_CONFLICT.wait(attempt - 1).await;
            }
            let current = self.get(&acting.tenant, id).await?;
            let context = acting.at(self.clock.now());
            let Some((mut next, action, extra)) = change(&current, &context)? else {
                return Ok((current, None));
            };
            next.version = current.version + 1;
            next.updated_at = context.now;
            let event = AuditEvent::for_tenant(&acting.tenant, &context, action);
            match self
                .store
                .update_webhook(current.version, &next, &event)
                .await
            {
                Ok(()) => return Ok((next, Some(extra))),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(WebhookError::Contention)
    }

    pub async fn update(
        &self,
        acting: &Acting,
        id: &WebhookId,
        patch: WebhookPatch,
    ) -> Result<Webhook, WebhookError> {
        let url = match &patch.url {
            Some(text) => Some(self.destination(text).await?),
            None => None,
        };
        let event_types = patch
            .event_types
            .clone()
            .map(EventFilter::parse)
            .transpose()?;
        let description = patch.description.clone().map(description).transpose()?;
        let (webhook, _) = self
            .change(acting, id, |current, _| {
                let mut next = current.clone();
                let mut changed = Vec::new();
                if let Some(url) = url.clone().filter(|u| *u != current.url) {
                    next.url = url;
                    changed.push("url".to_owned());
                }
                if let Some(types) = event_types.clone().filter(|t| *t != current.event_types) {
                    next.event_types = types;
                    changed.push("event_types".to_owned());
                }
                if let Some(text) = description.clone().filter(|d| *d != current.description) {
                    next.description = text;
                    changed.push("description".to_owned());
                }
                if let Some(status) = patch.status.filter(|s| *s != current.status) {
                    next.status = status;
                    next.disabled_reason =
                        (status == WebhookStatus::Disabled).then_some(DisabledReason::Admin);
                    // Enabled again, it starts with a clean record.
                    next.failing_since = None;
                    changed.push("status".to_owned());
                }
                if changed.is_empty() {
                    return Ok(None);
                }
                let action = AuditAction::WebhookUpdated {
                    webhook_id: next.id.clone(),
                    destination: next.url.origin(),
                    changed,
                    status: next.status,
                };
                Ok(Some((next, action, ())))
            })
            .await?;
        Ok(webhook)
    }

    pub async fn delete(&self, acting: &Acting, id: &WebhookId) -> Result<(), WebhookError> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                RETRY_AFTER_CONFLICT.wait(attempt - 1).await;
            }
            let current = self.get(&acting.tenant, id).await?;
            let event = AuditEvent::for_tenant(
                &acting.tenant,
                &acting.at(self.clock.now()),
                AuditAction::WebhookDeleted {
                    webhook_id: current.id.clone(),
                    destination: current.url.origin(),
                },
            );
            match self.store.delete_webhook(&current, &event).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(WebhookError::Contention)
    }

    /// A new signing secret; the one it replaces signs beside it for
    /// [`SECRET_OVERLAP`]. A secret replaced before that ends at once: at most two sign.
    pub async fn rotate_secret(
        &self,
        acting: &Acting,
        id: &WebhookId,
    ) -> Result<WithSecret, WebhookError> {
        let sealing = self.sealing()?;
        let (webhook, secret) = self
            .change(acting, id, |current, context| {
                let secret = SigningSecret::generate();
                let sealed = sealing
                    .seal(&current.id, &secret)
                    .map_err(|_| WebhookError::Sealing)?;
                let valid_until = context.now + SECRET_OVERLAP;
                let mut next = current.clone();
                next.previous_secret = Some(crate::webhook::PreviousSecret {
                    sealed: std::mem::replace(&mut next.secret, sealed),
                    valid_until,
                });
                next.secret_rotated_at = Some(context.now);
                let action = AuditAction::WebhookSecretRotated {
                    webhook_id: current.id.clone(),
                    previous_secret_valid_until: valid_until,
                };
                Ok(Some((next, action, secret)))
            })
            .await?;
        let secret = secret.ok_or(WebhookError::Contention)?;
        Ok(WithSecret { webhook, secret })
    }

    /// Records a `webhook.test` event for this endpoint; the publisher sends it to this one
    /// endpoint whatever its filter.
    pub async fn send_test(
        &self,
        acting: &Acting,
        id: &WebhookId,
    ) -> Result<EventId, WebhookError> {
        let webhook = self.get(&acting.tenant, id).await?;
        if !webhook.is_enabled() {
            return Err(WebhookError::Disabled);
        }
        let event = AuditEvent::for_tenant(
            &acting.tenant,
            &acting.at(self.clock.now()),
            AuditAction::WebhookTest {
                webhook_id: webhook.id,
            },
        );
        self.store.record_event(&event).await?;
        Ok(event.id)
    }

    pub async fn deliveries(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, WebhookError> {
        self.get(tenant, id).await?;
        Ok(self.store.deliveries(tenant, id, page).await?)
    }
}

/// The audit event of an endpoint the deliverer disabled.
pub(crate) fn disabled_event(
    webhook: &Webhook,
    reason: DisabledReason,
    context: &Context,
) -> AuditEvent {
    AuditEvent::for_tenant(
        &webhook.tenant,
        context,
        AuditAction::WebhookDisabled {
            webhook_id: webhook.id.clone(),
            destination: webhook.url.origin(),
            reason,
        },
    )
}

/// The deliverer acts as the system, like the sweeper.
pub(crate) fn system_context(now: crate::time::Timestamp) -> Context {
    Context {
        actor: Actor::system(),
        now,
        request_id: None,
    }
}
