//! Webhook endpoints (in their tenant's partition, with the count that keeps the limit),
//! deliveries (in their endpoint's partition, newest last, kept 30 days), and events recorded
//! on their own or once per marker.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use clavis_core::ids::{EventId, WebhookId};
use clavis_core::store::keys::{
    WEBHOOK_COUNT_SK, delivery_pk, delivery_prefix, delivery_sk, webhook_prefix, webhook_sk,
};
use clavis_core::store::{
    DeliveryLog, DeliveryStore, EndpointChange, EventRecorder, WebhookReader, WebhookWriter,
};
use clavis_core::webhook::delivery::{
    AttemptError, DELIVERY_KEPT, Delivery, DeliveryKey, DeliveryState,
};
use clavis_core::webhook::{
    DisabledReason, EventFilter, MAX_WEBHOOKS_PER_TENANT, PreviousSecret, SealedSecret, UrlKey,
    Webhook, WebhookStatus, WebhookUrl,
};

use super::*;

#[derive(Debug, Serialize, Deserialize)]
struct WebhookItem {
    #[serde(flatten)]
    key: OwnKey,
    entity: String,
    id: WebhookId,
    tenant: TenantId,
    /// Scheme, host and port, in the clear for whoever operates the table; the whole URL is in
    /// `sealed_url` (items from before URLs were sealed have `url` instead).
    #[serde(default)]
    origin: Option<String>,
    #[serde(default, with = "optional_bytes")]
    sealed_url: Option<Vec<u8>>,
    #[serde(default)]
    url: Option<WebhookUrl>,
    event_types: EventFilter,
    #[serde(default)]
    description: Option<String>,
    status: WebhookStatus,
    #[serde(default)]
    disabled_reason: Option<DisabledReason>,
    created_at: String,
    updated_at: String,
    #[serde(with = "serde_bytes_base64")]
    secret: Vec<u8>,
    #[serde(default, with = "optional_bytes")]
    previous_secret: Option<Vec<u8>>,
    #[serde(default)]
    previous_secret_valid_until: Option<String>,
    #[serde(default)]
    secret_rotated_at: Option<String>,
    #[serde(default)]
    failing_since: Option<String>,
    since: EventId,
    version: u64,
}

mod optional_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => super::serde_bytes_base64::serialize(bytes, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super::serde_bytes_base64")] Vec<u8>);
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|w| w.0))
    }
}

impl WebhookItem {
    fn from_webhook(w: &Webhook, urls: &UrlKey) -> Result<Self, StoreError> {
        let sealed_url = urls
            .seal(&w.id, &w.url)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Self {
            key: OwnKey {
                pk: tenant_pk(&w.tenant),
                sk: webhook_sk(&w.id),
            },
            entity: ENTITY_WEBHOOK.to_owned(),
            id: w.id.clone(),
            tenant: w.tenant.clone(),
            origin: Some(w.url.origin()),
            sealed_url: Some(sealed_url),
            url: None,
            event_types: w.event_types.clone(),
            description: w.description.clone(),
            status: w.status,
            disabled_reason: w.disabled_reason,
            created_at: key_format(w.created_at),
            updated_at: key_format(w.updated_at),
            secret: w.secret.as_bytes().to_vec(),
            previous_secret: w
                .previous_secret
                .as_ref()
                .map(|p| p.sealed.as_bytes().to_vec()),
            previous_secret_valid_until: w
                .previous_secret
                .as_ref()
                .map(|p| key_format(p.valid_until)),
            secret_rotated_at: w.secret_rotated_at.map(key_format),
            failing_since: w.failing_since.map(key_format),
            since: w.since.clone(),
            version: w.version,
        })
    }

    fn into_webhook(self, urls: &UrlKey) -> Result<Webhook, StoreError> {
        if self.entity != ENTITY_WEBHOOK {
            return Err(corrupt("entity", &self.entity));
        }
        let url = match (self.sealed_url, self.url) {
            (Some(sealed), _) => urls
                .open(&self.id, &sealed)
                .map_err(|_| corrupt("sealed_url", self.id.as_str()))?,
            (None, Some(url)) => url,
            (None, None) => return Err(corrupt("url", self.id.as_str())),
        };
        let previous_secret = match (self.previous_secret, self.previous_secret_valid_until) {
            (Some(sealed), Some(until)) => Some(PreviousSecret {
                sealed: SealedSecret::from_stored(sealed),
                valid_until: stored_time("previous_secret_valid_until", &until)?,
            }),
            _ => None,
        };
        Ok(Webhook {
            id: self.id,
            tenant: self.tenant,
            url,
            event_types: self.event_types,
            description: self.description,
            status: self.status,
            disabled_reason: self.disabled_reason,
            created_at: stored_time("created_at", &self.created_at)?,
            updated_at: stored_time("updated_at", &self.updated_at)?,
            secret: SealedSecret::from_stored(self.secret),
            previous_secret,
            secret_rotated_at: stored_time_opt(
                "secret_rotated_at",
                self.secret_rotated_at.as_ref(),
            )?,
            failing_since: stored_time_opt("failing_since", self.failing_since.as_ref())?,
            since: self.since,
            version: self.version,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct DeliveryItem {
    #[serde(flatten)]
    key: OwnKey,
    entity: String,
    tenant: TenantId,
    webhook_id: WebhookId,
    event_id: EventId,
    event_type: String,
    event_at: String,
    body: String,
    attempts: u32,
    #[serde(default)]
    last_status: Option<u16>,
    #[serde(default)]
    last_error: Option<AttemptError>,
    #[serde(default)]
    next_attempt_at: Option<String>,
    state: DeliveryState,
    ttl: i64,
}

fn delivery_key(key: &DeliveryKey) -> Item {
    super::key(
        delivery_pk(&key.webhook_id),
        delivery_sk(key.event_at, &key.event_id),
    )
}

impl DeliveryItem {
    fn from_delivery(d: &Delivery) -> Self {
        Self {
            key: OwnKey {
                pk: delivery_pk(&d.webhook_id),
                sk: delivery_sk(d.event_at, &d.event_id),
            },
            entity: ENTITY_DELIVERY.to_owned(),
            tenant: d.tenant.clone(),
            webhook_id: d.webhook_id.clone(),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            event_at: key_format(d.event_at),
            body: d.body.clone(),
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at.map(key_format),
            state: d.state,
            ttl: epoch(d.event_at + DELIVERY_KEPT),
        }
    }

    fn into_delivery(self) -> Result<Delivery, StoreError> {
        if self.entity != ENTITY_DELIVERY {
            return Err(corrupt("entity", &self.entity));
        }
        Ok(Delivery {
            tenant: self.tenant,
            webhook_id: self.webhook_id,
            event_id: self.event_id,
            event_type: self.event_type,
            event_at: stored_time("event_at", &self.event_at)?,
            body: self.body,
            attempts: self.attempts,
            last_status: self.last_status,
            last_error: self.last_error,
            next_attempt_at: stored_time_opt("next_attempt_at", self.next_attempt_at.as_ref())?,
            state: self.state,
        })
    }
}

fn built<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Backend(e.to_string()))
}

impl DynamoStore {
    fn webhook_put(
        &self,
        webhook: &Webhook,
        expected_version: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&WebhookItem::from_webhook(
                webhook,
                self.webhook_urls()?,
            )?)?));
        let put = match expected_version {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(version) => put
                .condition_expression("#version = :expected_version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected_version", n(version)),
        };
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    /// Adds `by` to the tenant's count of endpoints; an addition past the limit fails.
    fn webhook_count(&self, tenant: &TenantId, by: i64) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk(tenant), WEBHOOK_COUNT_SK)))
            .update_expression("ADD #count :by SET entity = :entity")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":by", n(by))
            .expression_attribute_values(":entity", s("webhook_count"));
        let update = if by > 0 {
            update
                .condition_expression("attribute_not_exists(#count) OR #count < :max")
                .expression_attribute_values(":max", n(MAX_WEBHOOKS_PER_TENANT))
        } else {
            update
        };
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }

    fn delivery_put(
        &self,
        delivery: &Delivery,
        expected_attempts: u32,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&DeliveryItem::from_delivery(delivery))?))
            .condition_expression("attempts = :expected")
            .expression_attribute_values(":expected", n(expected_attempts));
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }
}

impl DynamoStore {
    /// The key webhook items are read and written with; a store built without it (any function
    /// but the webhook ones) has no business with endpoints.
    fn webhook_urls(&self) -> Result<&UrlKey, StoreError> {
        self.webhook_urls.as_deref().ok_or_else(|| {
            StoreError::Backend(
                "webhook endpoints need the URL key (WEBHOOK_URL_KEY_SECRET_ID)".into(),
            )
        })
    }
}

#[async_trait]
impl WebhookReader for DynamoStore {
    async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>, StoreError> {
        let query = Query {
            index: None,
            key_condition: "PK = :pk AND begins_with(SK, :prefix)",
            filter: "#entity = :entity".to_owned(),
            names: HashMap::from([("#entity".to_owned(), "entity".to_owned())]),
            values: HashMap::from([
                (":pk".to_owned(), s(tenant_pk(tenant))),
                (":prefix".to_owned(), s(webhook_prefix())),
                (":entity".to_owned(), s(ENTITY_WEBHOOK)),
            ]),
            start: None,
        };
        let urls = self.webhook_urls()?;
        let mut webhooks = self
            .query_all(query)
            .await?
            .into_iter()
            .map(|item| from_item::<WebhookItem>(item)?.into_webhook(urls))
            .collect::<Result<Vec<_>, _>>()?;
        webhooks.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(webhooks)
    }

    async fn webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
    ) -> Result<Option<Webhook>, StoreError> {
        match self
            .get_item(key(tenant_pk(tenant), webhook_sk(id)))
            .await?
        {
            Some(item) => from_item::<WebhookItem>(item)?
                .into_webhook(self.webhook_urls()?)
                .map(Some),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl WebhookWriter for DynamoStore {
    async fn insert_webhook(
        &self,
        webhook: &Webhook,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let items = vec![
            (TransactItem::Change, self.webhook_put(webhook, None)?),
            (TransactItem::Limit, self.webhook_count(&webhook.tenant, 1)?),
            (TransactItem::Event, self.audit_put(event)?),
        ];
        self.transact_items(items, event.id.as_str(), StoreError::AlreadyExists)
            .await
    }

    async fn update_webhook(
        &self,
        expected_version: u64,
        webhook: &Webhook,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let items = vec![
            (
                TransactItem::Change,
                self.webhook_put(webhook, Some(expected_version))?,
            ),
            (TransactItem::Event, self.audit_put(event)?),
        ];
        self.transact_items(items, event.id.as_str(), StoreError::Conflict)
            .await
    }

    async fn delete_webhook(
        &self,
        webhook: &Webhook,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                tenant_pk(&webhook.tenant),
                webhook_sk(&webhook.id),
            )))
            .condition_expression("#version = :expected_version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected_version", n(webhook.version));
        let items = vec![
            (
                TransactItem::Change,
                TransactWriteItem::builder()
                    .delete(built(delete.build())?)
                    .build(),
            ),
            (
                TransactItem::Limit,
                self.webhook_count(&webhook.tenant, -1)?,
            ),
            (TransactItem::Event, self.audit_put(event)?),
        ];
        self.transact_items(items, event.id.as_str(), StoreError::Conflict)
            .await
    }
}

#[async_trait]
impl EventRecorder for DynamoStore {
    async fn record_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.put_item(AuditItem::item_of(event, &self.retention)?)
            .await
    }

    async fn record_event_once(
        &self,
        marker: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let items = vec![
            (TransactItem::Once, self.once_put(marker, event)?),
            (TransactItem::Event, self.audit_put(event)?),
        ];
        match self
            .transact_items(items, event.id.as_str(), StoreError::AlreadyExists)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::AlreadyExists) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl DeliveryLog for DynamoStore {
    async fn deliveries(
        &self,
        tenant: &TenantId,
        webhook: &WebhookId,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let cursor = match &page.cursor {
            Some(cursor) => Some(cursor.check(Listing::Deliveries)?),
            None => None,
        };
        let pk = delivery_pk(webhook);
        let mut names = HashMap::new();
        let mut values = HashMap::from([
            (":pk".to_owned(), s(pk.clone())),
            (":prefix".to_owned(), s(delivery_prefix())),
            (":tenant".to_owned(), s(tenant.as_str())),
        ]);
        let live = self.live_filter(&mut names, &mut values);
        let query = Query {
            index: None,
            key_condition: "PK = :pk AND begins_with(SK, :prefix)",
            filter: format!("{live} AND tenant = :tenant"),
            names,
            values,
            start: cursor.map(|c| key(pk.clone(), c.sort_key.clone())),
        };
        self.query_page(
            query,
            page.limit,
            |item| from_item::<DeliveryItem>(item)?.into_delivery(),
            Cursor::for_delivery,
            "SK",
        )
        .await
    }
}

#[async_trait]
impl DeliveryStore for DynamoStore {
    async fn put_delivery(&self, delivery: &Delivery) -> Result<Delivery, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&DeliveryItem::from_delivery(delivery))?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(delivery.clone()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                self.delivery(&delivery.key())
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("a delivery vanished as it was made".into()))
            }
            Err(e) => Err(map_sdk_error(e)),
        }
    }

    async fn delivery(&self, key: &DeliveryKey) -> Result<Option<Delivery>, StoreError> {
        let Some(item) = self.get_item(delivery_key(key)).await? else {
            return Ok(None);
        };
        let delivery = from_item::<DeliveryItem>(item)?.into_delivery()?;
        Ok((delivery.tenant == key.tenant).then_some(delivery))
    }

    async fn record_attempt(
        &self,
        expected_attempts: u32,
        delivery: &Delivery,
        endpoint: Option<EndpointChange<'_>>,
    ) -> Result<(), StoreError> {
        let mut items = vec![(
            TransactItem::Change,
            self.delivery_put(delivery, expected_attempts)?,
        )];
        if let Some(change) = endpoint {
            items.push((
                TransactItem::Change,
                self.webhook_put(change.webhook, Some(change.expected_version))?,
            ));
            if let Some(event) = change.event {
                items.push((TransactItem::Event, self.audit_put(event)?));
            }
        }
        let token = attempt_token();
        self.transact_items(items, &token, StoreError::Conflict)
            .await
    }
}

/// A transaction's client request token for one attempt's record: fresh per call, so that
/// the SDK's own retry of a record that landed succeeds, while a second worker recording the
/// same attempt is refused by the condition rather than taken for that retry.
fn attempt_token() -> String {
    let bytes: [u8; 16] = clavis_core::random::bytes();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
