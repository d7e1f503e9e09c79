//! Webhooks, deliveries and the event feed, in memory.

use async_trait::async_trait;

use super::{MemoryStore, newest_first};
use crate::audit::AuditEvent;
use crate::ids::{TenantId, WebhookId};
use crate::store::keys::{Listing, delivery_sk, event_pk};
use crate::store::{
    Cursor, DeliveryLog, DeliveryStore, EndpointChange, EventFeed, EventRecorder, FeedPosition,
    Page, PageRequest, StoreError, WebhookReader, WebhookWriter,
};
use crate::webhook::delivery::{Delivery, DeliveryKey};
use crate::webhook::{MAX_WEBHOOKS_PER_TENANT, Webhook};

fn delivery_key(key: &DeliveryKey) -> (WebhookId, String) {
    (
        key.webhook_id.clone(),
        delivery_sk(key.event_at, &key.event_id),
    )
}

fn position_of(state_len: usize) -> FeedPosition {
    FeedPosition(vec![("memory".to_owned(), state_len.to_string())])
}

#[async_trait]
impl WebhookReader for MemoryStore {
    async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>, StoreError> {
        let state = self.state();
        Ok(state
            .webhooks
            .iter()
            .filter(|w| &w.tenant == tenant)
            .cloned()
            .collect())
    }

    async fn webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
    ) -> Result<Option<Webhook>, StoreError> {
        let state = self.state();
        Ok(state
            .webhooks
            .iter()
            .find(|w| &w.tenant == tenant && &w.id == id)
            .cloned())
    }
}

#[async_trait]
impl WebhookWriter for MemoryStore {
    async fn insert_webhook(
        &self,
        webhook: &Webhook,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let count = state
            .webhooks
            .iter()
            .filter(|w| w.tenant == webhook.tenant)
            .count();
        if count >= MAX_WEBHOOKS_PER_TENANT {
            return Err(StoreError::LimitReached);
        }
        if state.webhooks.iter().any(|w| w.id == webhook.id) {
            return Err(StoreError::AlreadyExists);
        }
        state.webhooks.push(webhook.clone());
        state.events.push(event.clone());
        Ok(())
    }

    async fn update_webhook(
        &self,
        expected_version: u64,
        webhook: &Webhook,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let stored = state
            .webhooks
            .iter_mut()
            .find(|w| w.tenant == webhook.tenant && w.id == webhook.id)
            .filter(|w| w.version == expected_version)
            .ok_or(StoreError::Conflict)?;
        *stored = webhook.clone();
        state.events.push(event.clone());
        Ok(())
    }

    async fn delete_webhook(
        &self,
        webhook: &Webhook,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let at = state
            .webhooks
            .iter()
            .position(|w| {
                w.tenant == webhook.tenant && w.id == webhook.id && w.version == webhook.version
            })
            .ok_or(StoreError::Conflict)?;
        state.webhooks.remove(at);
        state.events.push(event.clone());
        Ok(())
    }
}

#[async_trait]
impl EventRecorder for MemoryStore {
    async fn record_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.state().events.push(event.clone());
        Ok(())
    }

    async fn record_event_once(
        &self,
        marker: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let owner = event_pk(&event.tenant, event.client_id.as_ref());
        if !state.once.insert((owner, marker.to_owned())) {
            return Ok(false);
        }
        state.events.push(event.clone());
        Ok(true)
    }
}

#[async_trait]
impl DeliveryLog for MemoryStore {
    async fn deliveries(
        &self,
        tenant: &TenantId,
        webhook: &WebhookId,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let state = self.state();
        let matching = state
            .deliveries
            .iter()
            .filter(|((id, _), d)| id == webhook && &d.tenant == tenant)
            .map(|((_, sk), d)| (sk.clone(), d));
        newest_first(matching, page, Listing::Deliveries, Cursor::for_delivery)
    }
}

#[async_trait]
impl DeliveryStore for MemoryStore {
    async fn put_delivery(&self, delivery: &Delivery) -> Result<Delivery, StoreError> {
        let mut state = self.state();
        Ok(state
            .deliveries
            .entry(delivery_key(&delivery.key()))
            .or_insert_with(|| delivery.clone())
            .clone())
    }

    async fn delivery(&self, key: &DeliveryKey) -> Result<Option<Delivery>, StoreError> {
        let state = self.state();
        Ok(state
            .deliveries
            .get(&delivery_key(key))
            .filter(|d| d.tenant == key.tenant)
            .cloned())
    }

    async fn record_attempt(
        &self,
        expected_attempts: u32,
        delivery: &Delivery,
        endpoint: Option<EndpointChange<'_>>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let key = delivery_key(&delivery.key());
        if state.deliveries.get(&key).map(|d| d.attempts) != Some(expected_attempts) {
            return Err(StoreError::Conflict);
        }
        if let Some(change) = endpoint {
            let webhook = change.webhook;
            let stored = state
                .webhooks
                .iter_mut()
                .find(|w| w.tenant == webhook.tenant && w.id == webhook.id)
                .filter(|w| w.version == change.expected_version)
                .ok_or(StoreError::Conflict)?;
            *stored = webhook.clone();
            if let Some(event) = change.event {
                state.events.push(event.clone());
            }
        }
        state.deliveries.insert(key, delivery.clone());
        Ok(())
    }
}

#[async_trait]
impl EventFeed for MemoryStore {
    /// The memory store's events are one log, read from an index into it.
    async fn events_since(
        &self,
        position: &FeedPosition,
    ) -> Result<(Vec<AuditEvent>, FeedPosition), StoreError> {
        let state = self.state();
        let from = position
            .0
            .first()
            .and_then(|(_, at)| at.parse::<usize>().ok())
            .unwrap_or(0)
            .min(state.events.len());
        Ok((
            state.events[from..].to_vec(),
            position_of(state.events.len()),
        ))
    }
}
