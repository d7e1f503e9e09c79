//! Events on their way out: the publisher turns each audit event into one delivery per
//! endpoint that wants it (and, optionally, an event on a bus); the deliverer makes one
//! attempt at a delivery, signs and posts it, and records what came of it. Both are safe to
//! run twice on the same input, since the stream and the queue that feed them deliver at
//! least once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::audit::{AuditAction, AuditEvent};
use crate::ids::WebhookId;
use crate::store::{DeliveryPorts, EndpointChange, StoreError};
use crate::time::{Clock, Timestamp};
use crate::webhook::delivery::{
    AttemptOutcome, Delivery, DeliveryKey, DeliveryState, DeliveryTicket, RetrySchedule,
};
use crate::webhook::{SealingKey, TEST_EVENT_TYPE, WebhookUrl, signature_header};
use crate::webhook_service::{disabled_event, system_context};

/// Where tickets wait until they are due: SQS deployed (at most 15 minutes at a time; the
/// deliverer re-queues a ticket that is not due yet), a timer in the process locally.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    async fn enqueue(&self, ticket: &DeliveryTicket, delay: Duration) -> Result<(), QueueError>;
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("the delivery queue refused a message: {0}")]
pub struct QueueError(pub String);

/// An optional second destination for every event: an EventBridge bus.
#[async_trait]
pub trait EventBus: Send + Sync {
    async fn put(&self, event: &AuditEvent, body: &str) -> Result<(), QueueError>;
}

/// One signed request, as the sender posts it.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub url: WebhookUrl,
    pub message_id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
}

/// Posts a signed request: no redirects followed, the 15 s timeout, and the destination rules
/// applied to the addresses it connects to.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn post(&self, request: &SignedRequest) -> AttemptOutcome;
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The sealed secret does not open with this deployment's key.
    #[error("a webhook's signing secret could not be opened")]
    Sealing,
}

/// The body every endpoint receives for `event`:
/// `{"type", "timestamp", "data": {"tenant", "client_id", "name", "actor", "details"}}`.
/// Built from the audit event, which holds no secret, hash or token by construction.
pub fn event_body(event: &AuditEvent, credential_name: Option<&str>) -> String {
    let action = serde_json::to_value(&event.action).unwrap_or_default();
    let details = action
        .get("details")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    serde_json::json!({
        "type": event.kind(),
        "timestamp": crate::time::key_format(event.at),
        "data": {
            "tenant": event.tenant,
            "client_id": event.client_id,
            "name": credential_name,
            "actor": event.actor,
            "details": details,
        },
    })
    .to_string()
}

/// A delivery of `event` to `webhook`, due now.
pub fn delivery_of(
    event: &AuditEvent,
    webhook: &WebhookId,
    body: String,
    now: Timestamp,
) -> Delivery {
    let key = DeliveryKey {
        tenant: event.tenant.clone(),
        webhook_id: webhook.clone(),
        event_id: event.id.clone(),
        event_at: event.at,
    };
    Delivery::new(key, event.kind(), body, now)
}

fn delay_until(due: Timestamp, now: Timestamp) -> Duration {
    (due - now).to_std().unwrap_or(Duration::ZERO)
}

fn ticket_of(delivery: &Delivery, now: Timestamp) -> DeliveryTicket {
    DeliveryTicket {
        key: delivery.key(),
        attempts: delivery.attempts,
        due_at: delivery.next_attempt_at.unwrap_or(now),
    }
}

pub struct Publisher {
    store: Arc<dyn DeliveryPorts>,
    queue: Arc<dyn DeliveryQueue>,
    bus: Option<Arc<dyn EventBus>>,
    clock: Arc<dyn Clock>,
}

impl Publisher {
    pub fn new(
        store: Arc<dyn DeliveryPorts>,
        queue: Arc<dyn DeliveryQueue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            queue,
            bus: None,
            clock,
        }
    }

    pub fn with_bus(mut self, bus: Arc<dyn EventBus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Makes (or finds, when the event was seen before) one delivery per enabled endpoint whose
    /// filter takes the event, and queues each still pending. Returns how many were queued.
    pub async fn publish(&self, event: &AuditEvent) -> Result<usize, EventError> {
        let kind = event.kind();
        let test_target = match &event.action {
            AuditAction::WebhookTest { webhook_id } => Some(webhook_id),
            _ => None,
        };
        let targets: Vec<_> = self
            .store
            .webhooks(&event.tenant)
            .await?
            .into_iter()
            // An endpoint hears of what happens once it exists: a feed read again from its start
            // (a local restart) must not send it the day before.
            .filter(|w| w.is_enabled() && w.since <= event.id && w.event_types.matches(kind))
            .filter(|w| match test_target {
                Some(id) => &w.id == id,
                None => kind != TEST_EVENT_TYPE,
            })
            .collect();
        if targets.is_empty() && self.bus.is_none() {
            return Ok(0);
        }
        let body = event_body(event, self.credential_name(event).await?.as_deref());
        let now = self.clock.now();
        let mut queued = 0;
        for webhook in targets {
            let made = delivery_of(event, &webhook.id, body.clone(), now);
            let stored = self.store.put_delivery(&made).await?;
            if stored.state == DeliveryState::Pending {
                let ticket = ticket_of(&stored, now);
                self.queue
                    .enqueue(&ticket, delay_until(ticket.due_at, now))
                    .await?;
                queued += 1;
            }
        }
        if let Some(bus) = &self.bus {
            bus.put(event, &body).await?;
        }
        Ok(queued)
    }

    /// The name of the credential an event is about, as receivers show it.
    async fn credential_name(&self, event: &AuditEvent) -> Result<Option<String>, StoreError> {
        if let AuditAction::Deleted { name } = &event.action {
            return Ok(Some(name.clone()));
        }
        let Some(client_id) = &event.client_id else {
            return Ok(None);
        };
        let credential = self.store.get(client_id).await?;
        Ok(credential
            .filter(|c| c.tenant == event.tenant)
            .map(|c| c.name.as_str().to_owned()))
    }
}

/// What [`Deliverer::deliver`] did with a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// One attempt, and the delivery as it now stands.
    Attempted(Delivery),
    /// Not due yet: queued again for the rest of its wait.
    Requeued,
    /// A duplicate or stale ticket, or a delivery no longer stored: nothing to do.
    Skipped,
}

pub struct Deliverer {
    store: Arc<dyn DeliveryPorts>,
    queue: Arc<dyn DeliveryQueue>,
    sender: Arc<dyn WebhookSender>,
    sealing: Arc<SealingKey>,
    schedule: RetrySchedule,
    clock: Arc<dyn Clock>,
}

impl Deliverer {
    pub fn new(
        store: Arc<dyn DeliveryPorts>,
        queue: Arc<dyn DeliveryQueue>,
        sender: Arc<dyn WebhookSender>,
        sealing: Arc<SealingKey>,
        schedule: RetrySchedule,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            queue,
            sender,
            sealing,
            schedule,
            clock,
        }
    }

    /// One attempt at the ticket's delivery. The follow-up ticket is queued before the attempt
    /// is recorded: if recording fails, the caller's retry of this ticket attempts again (at
    /// least once), and the follow-up, no longer matching, does nothing.
    pub async fn deliver(&self, ticket: &DeliveryTicket) -> Result<Handled, EventError> {
        let now = self.clock.now();
        if ticket.due_at > now {
            self.queue
                .enqueue(ticket, delay_until(ticket.due_at, now))
                .await?;
            return Ok(Handled::Requeued);
        }
        let Some(delivery) = self.store.delivery(&ticket.key).await? else {
            return Ok(Handled::Skipped);
        };
        if delivery.state != DeliveryState::Pending || delivery.attempts != ticket.attempts {
            return Ok(Handled::Skipped);
        }
        let webhook = self
            .store
            .webhook(&ticket.key.tenant, &ticket.key.webhook_id)
            .await?
            .filter(|w| w.is_enabled());
        let Some(webhook) = webhook else {
            let abandoned = delivery.abandoned();
            return match self
                .store
                .record_attempt(delivery.attempts, &abandoned, None)
                .await
            {
                Ok(()) => Ok(Handled::Attempted(abandoned)),
                Err(StoreError::Conflict) => Ok(Handled::Skipped),
                Err(e) => Err(e.into()),
            };
        };
        let secrets = webhook
            .signing_secrets(now)
            .into_iter()
            .map(|sealed| self.sealing.open(&webhook.id, sealed))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| EventError::Sealing)?;
        let timestamp = now.timestamp();
        let message_id = delivery.event_id.to_string();
        let signature = signature_header(&secrets, &message_id, timestamp, &delivery.body)
            .map_err(|_| EventError::Sealing)?;
        let outcome = self
            .sender
            .post(&SignedRequest {
                url: webhook.url.clone(),
                message_id,
                timestamp,
                signature,
                body: delivery.body.clone(),
            })
            .await;
        let now = self.clock.now();
        let next = delivery.after_attempt(outcome, now, &self.schedule);
        if next.state == DeliveryState::Pending {
            let follow_up = ticket_of(&next, now);
            self.queue
                .enqueue(&follow_up, delay_until(follow_up.due_at, now))
                .await?;
        }
        let endpoint = webhook
            .after_attempt(outcome.succeeded(), outcome.gone(), now)
            .map(|mut changed| {
                changed.version = webhook.version + 1;
                let event = (changed.status != webhook.status)
                    .then_some(changed.disabled_reason)
                    .flatten()
                    .map(|reason| disabled_event(&changed, reason, &system_context(now)));
                (changed, event)
            });
        let change = endpoint.as_ref().map(|(changed, event)| EndpointChange {
            expected_version: webhook.version,
            webhook: changed,
            event: event.as_ref(),
        });
        match self
            .store
            .record_attempt(delivery.attempts, &next, change)
            .await
        {
            Ok(()) => {}
            // The endpoint changed meanwhile (an admin's edit, another delivery's attempt):
            // the attempt still counts; the endpoint's record follows the next attempt.
            Err(StoreError::Conflict) if change.is_some() => {
                match self
                    .store
                    .record_attempt(delivery.attempts, &next, None)
                    .await
                {
                    Ok(()) | Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(StoreError::Conflict) => return Ok(Handled::Skipped),
            Err(e) => return Err(e.into()),
        }
        Ok(Handled::Attempted(next))
    }
}

#[cfg(test)]
mod tests;
