//! Writes (lifecycle transactions, with or without an idempotency record) and reads by key.

use super::*;

/// `SET` every attribute the new state has and `REMOVE` every optional one it lacks, except
/// what lifecycle writes do not own. An update, not a put, so that a concurrent
/// `last_used_at` written by the token endpoint survives.
pub(super) fn lifecycle_update(item: Item) -> (String, HashMap<String, String>, Item) {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut sets = Vec::new();
    for (i, (name, value)) in item
        .into_iter()
        .filter(|(name, _)| !NOT_WRITTEN_BY_LIFECYCLE.contains(&name.as_str()))
        .enumerate()
    {
        names.insert(format!("#s{i}"), name.clone());
        values.insert(format!(":s{i}"), value);
        sets.push(format!("#s{i} = :s{i}"));
    }
    let present: Vec<String> = names.values().cloned().collect();
    let removes: Vec<String> = OPTIONAL_ATTRIBUTES
        .iter()
        .filter(|name| !present.iter().any(|p| p.as_str() == **name))
        .enumerate()
        .map(|(i, name)| {
            names.insert(format!("#r{i}"), (*name).to_owned());
            format!("#r{i}")
        })
        .collect();
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    (expression, names, values)
}

impl DynamoStore {
    pub(super) fn audit_put(&self, event: &AuditEvent) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(AuditItem::item_of(event, &self.retention)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Writes `first` and the audit event atomically. The event's ID doubles as the
    /// idempotency token, so an SDK retry of a write that did land is not reported as a conflict.
    /// An idempotency record, unless a live one already has its key (an expired one that
    /// DynamoDB has not deleted yet may be replaced).
    pub(super) fn remembered_put(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&IdempotencyItem::from_record(record))?))
            .condition_expression("attribute_not_exists(PK) OR #ttl <= :now_epoch")
            .expression_attribute_names("#ttl", TABLE.ttl_attribute)
            .expression_attribute_values(":now_epoch", n(epoch(self.clock.now())))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A lifecycle change: `first` (the credential's write), its audit event, the lookup item
    /// of a secret it issues, and the idempotency record that remembers it, atomically.
    pub(super) async fn transact(
        &self,
        first: TransactWriteItem,
        change: &Transition,
        remembered: Option<&IdempotencyRecord>,
        on_condition_failed: StoreError,
    ) -> Result<(), StoreError> {
        let mut items = vec![(TransactItem::Change, first)];
        if let Some(lookup) = self.secret_lookup_put(change)? {
            items.push((TransactItem::Lookup, lookup));
        }
        self.transact_event(items, &change.event, remembered, on_condition_failed)
            .await
    }

    /// `items` and the audit event, with the idempotency record if any, atomically. The
    /// event's ID doubles as the client request token.
    pub(super) async fn transact_event(
        &self,
        mut items: Vec<(TransactItem, TransactWriteItem)>,
        event: &AuditEvent,
        remembered: Option<&IdempotencyRecord>,
        on_condition_failed: StoreError,
    ) -> Result<(), StoreError> {
        items.push((TransactItem::Event, self.audit_put(event)?));
        if let Some(record) = remembered {
            items.push((TransactItem::Remembered, self.remembered_put(record)?));
        }
        self.transact_items(items, event.id.as_str(), on_condition_failed)
            .await
    }

    /// Writes `items` atomically; `token` makes an SDK retry of a transaction that did land
    /// succeed rather than conflict with itself.
    pub(super) async fn transact_items(
        &self,
        items: Vec<(TransactItem, TransactWriteItem)>,
        token: &str,
        on_condition_failed: StoreError,
    ) -> Result<(), StoreError> {
        let (kinds, items): (Vec<_>, Vec<_>) = items.into_iter().unzip();
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .send()
            .await
            .map_err(|e| map_transaction_error(e, &kinds, on_condition_failed))?;
        Ok(())
    }

    /// An unconditional put of an item outside the lifecycle (checkpoint, deny-list entry).
    pub(super) async fn put_item(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    /// The items of any number of keys: their batches of [`BATCH_GET_MAX_KEYS`] sent at once,
    /// not one after another.
    pub(super) async fn batch_get_all(
        &self,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let reads = keys
            .chunks(BATCH_GET_MAX_KEYS)
            .map(|chunk| self.batch_get(chunk.to_vec(), consistent));
        Ok(futures_util::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// The items of up to [`BATCH_GET_MAX_KEYS`] keys in one round trip (more only for keys
    /// DynamoDB leaves unprocessed, retried with backoff). Keys still unprocessed after
    /// [`BATCH_GET_ATTEMPTS`] are an error: an item left unread would pass for an absent one.
    pub(super) async fn batch_get(
        &self,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(consistent)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut items = Vec::new();
        for attempt in 0..BATCH_GET_ATTEMPTS {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, pending.clone())
                .send()
                .await
                .map_err(map_sdk_error)?;
            items.extend(
                output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default(),
            );
            match output
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
            {
                Some(rest) if !rest.keys().is_empty() => {
                    pending = rest;
                    if attempt + 1 < BATCH_GET_ATTEMPTS {
                        tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                    }
                }
                // As every read: an item past its TTL that DynamoDB has not removed yet is gone.
                _ => {
                    let now = self.clock.now();
                    return Ok(items
                        .into_iter()
                        .filter(|item| is_live(item, now))
                        .collect());
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "{} items still unprocessed after {BATCH_GET_ATTEMPTS} attempts",
            pending.keys().len()
        )))
    }

    pub(super) async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(output.item.filter(|item| is_live(item, self.clock.now())))
    }
}

impl DynamoStore {
    pub(super) async fn insert_with(
        &self,
        created: &Transition,
        remembered: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let item = to_item(&CredentialItem::from_credential(
            &created.credential,
            &self.retention,
            created.sweep_index_at(self.retention.expiry_notice),
        ))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.transact(
            TransactWriteItem::builder().put(put).build(),
            created,
            remembered,
            StoreError::AlreadyExists,
        )
        .await
    }

    pub(super) async fn update_with(
        &self,
        expected_version: u64,
        change: &Transition,
        remembered: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        self.transact(
            self.lifecycle_update_of(expected_version, change)?,
            change,
            remembered,
            StoreError::Conflict,
        )
        .await
    }

    /// The credential's new state, written over the stored one only if it is still at
    /// `expected_version`.
    pub(super) fn lifecycle_update_of(
        &self,
        expected_version: u64,
        change: &Transition,
    ) -> Result<TransactWriteItem, StoreError> {
        let credential = &change.credential;
        let item = to_item(&CredentialItem::from_credential(
            credential,
            &self.retention,
            change.sweep_index_at(self.retention.expiry_notice),
        ))?;
        let (expression, mut names, mut values) = lifecycle_update(item);
        names.insert("#expected_version".into(), "version".into());
        values.insert(":expected_version".into(), n(expected_version));
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                credential_pk(&credential.client_id),
                CREDENTIAL_SK,
            )))
            .update_expression(expression)
            .condition_expression("attribute_exists(PK) AND #expected_version = :expected_version")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

#[async_trait]
impl IdempotencyReader for DynamoStore {
    async fn recall(
        &self,
        tenant: &TenantId,
        digest: &KeyDigest,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let Some(item) = self
            .get_item(key(idempotency_pk(tenant, digest), IDEMPOTENCY_SK))
            .await?
        else {
            return Ok(None);
        };
        from_item::<IdempotencyItem>(item)?.into_record().map(Some)
    }
}

#[async_trait]
impl RememberingWriter for DynamoStore {
    async fn insert_remembered(
        &self,
        created: &Transition,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError> {
        self.insert_with(created, Some(record)).await
    }

    async fn update_remembered(
        &self,
        expected_version: u64,
        change: &Transition,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError> {
        self.update_with(expected_version, change, Some(record))
            .await
    }
}
