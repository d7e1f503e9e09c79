//! The ports of events and webhooks: a tenant's endpoints, events recorded on their own, the
//! deliveries, and the feed of events a publisher reads (DynamoDB's stream deployed and
//! locally, the memory store's log for `STORE=memory`).

use async_trait::async_trait;

use super::{Page, PageRequest, StoreError};
use crate::audit::AuditEvent;
use crate::ids::{TenantId, WebhookId};
use crate::webhook::Webhook;
use crate::webhook::delivery::{Delivery, DeliveryKey};

#[async_trait]
pub trait WebhookReader: Send + Sync {
    /// A tenant's endpoints, oldest first.
    async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>, StoreError>;
    async fn webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
    ) -> Result<Option<Webhook>, StoreError>;
}

/// Every write is one transaction with its audit event.
#[async_trait]
pub trait WebhookWriter: Send + Sync {
    /// `LimitReached` when the tenant already has
    /// [`MAX_WEBHOOKS_PER_TENANT`](crate::webhook::MAX_WEBHOOKS_PER_TENANT).
    async fn insert_webhook(&self, webhook: &Webhook, event: &AuditEvent)
    -> Result<(), StoreError>;
    /// `Conflict` unless the stored endpoint is at `expected_version`.
    async fn update_webhook(
        &self,
        expected_version: u64,
        webhook: &Webhook,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// `Conflict` unless the stored endpoint is at the version of `webhook`.
    async fn delete_webhook(&self, webhook: &Webhook, event: &AuditEvent)
    -> Result<(), StoreError>;
}

/// Events that are not part of a change of state: a test event, a quota threshold.
#[async_trait]
pub trait EventRecorder: Send + Sync {
    async fn record_event(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Records `event` unless an event was recorded under `marker` for its owner before:
    /// `false`, and nothing written, if one was. Markers live as long as audit events.
    async fn record_event_once(&self, marker: &str, event: &AuditEvent)
    -> Result<bool, StoreError>;
}

#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// A webhook's deliveries, newest event first.
    async fn deliveries(
        &self,
        tenant: &TenantId,
        webhook: &WebhookId,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError>;
}

/// What an attempt changed about its endpoint, written with the delivery.
#[derive(Debug, Clone, Copy)]
pub struct EndpointChange<'a> {
    pub expected_version: u64,
    pub webhook: &'a Webhook,
    /// `webhook.disabled`, when the attempt disabled it.
    pub event: Option<&'a AuditEvent>,
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Stores `delivery` unless one with its key exists, and returns the one stored: a
    /// publisher that sees an event twice makes one delivery.
    async fn put_delivery(&self, delivery: &Delivery) -> Result<Delivery, StoreError>;
    async fn delivery(&self, key: &DeliveryKey) -> Result<Option<Delivery>, StoreError>;
    /// `Conflict` unless the stored delivery has had `expected_attempts` attempts (or, with
    /// `endpoint`, the endpoint is at its expected version): two workers holding duplicate
    /// tickets record one attempt.
    async fn record_attempt(
        &self,
        expected_attempts: u32,
        delivery: &Delivery,
        endpoint: Option<EndpointChange<'_>>,
    ) -> Result<(), StoreError>;
}

/// Where a feed of events has been read to. Opaque to the reader; the feed's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedPosition(pub Vec<(String, String)>);

/// The events recorded since `position`, in the order each source keeps, for a publisher
/// that runs in the process (locally). Deployed, Lambda's stream event source reads the same
/// events.
#[async_trait]
pub trait EventFeed: Send + Sync {
    async fn events_since(
        &self,
        position: &FeedPosition,
    ) -> Result<(Vec<AuditEvent>, FeedPosition), StoreError>;
}
