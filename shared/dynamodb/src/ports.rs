//! The port traits over the parts above.

use super::*;

#[async_trait]
impl CredentialWriter for DynamoStore {
    async fn insert(&self, created: &Transition) -> Result<(), StoreError> {
        self.insert_with(created, None).await
    }

    async fn delete(&self, credential: &Credential, event: &AuditEvent) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                credential_pk(&credential.client_id),
                CREDENTIAL_SK,
            )))
            .condition_expression("#version = :expected_version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected_version", n(credential.version))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.transact_event(
            vec![(
                TransactItem::Change,
                TransactWriteItem::builder().delete(delete).build(),
            )],
            event,
            None,
            StoreError::Conflict,
        )
        .await
    }
}

#[async_trait]
impl CredentialReader for DynamoStore {
    async fn get(&self, client_id: &ClientId) -> Result<Option<Credential>, StoreError> {
        let Some(item) = self
            .get_item(key(credential_pk(client_id), CREDENTIAL_SK))
            .await?
        else {
            return Ok(None);
        };
        from_item::<CredentialItem>(item)?
            .into_credential()
            .map(Some)
    }
}

#[async_trait]
impl TransitionWriter for DynamoStore {
    async fn update(&self, expected_version: u64, change: &Transition) -> Result<(), StoreError> {
        self.update_with(expected_version, change, None).await
    }
}

#[async_trait]
impl CredentialListing for DynamoStore {
    async fn list(&self, query: &CredentialQuery<'_>) -> Result<Page<Credential>, StoreError> {
        let (tenant, status, page) = (query.tenant, query.status, query.page);
        let mut names = HashMap::new();
        let mut values = HashMap::from([
            (":pk".to_owned(), s(tenant_pk(tenant))),
            (":prefix".to_owned(), s(credential_listing_prefix())),
        ]);
        let mut filter = self.live_filter(&mut names, &mut values).to_owned();
        if let Some(status) = status {
            let (expression, uses_now) = status_filter(status);
            if uses_now {
                values.insert(":now".into(), s(key_format(self.clock.now())));
            }
            filter = format!("{filter} AND {expression}");
        }
        if let Some(since) = query.unused_since {
            // A never-used credential counts from its creation.
            values.insert(":unused_since".into(), s(key_format(since)));
            filter = format!(
                "{filter} AND ((attribute_exists(last_used_at) AND last_used_at < :unused_since) \
                 OR (attribute_not_exists(last_used_at) AND created_at < :unused_since))"
            );
        }
        let start = match &page.cursor {
            Some(cursor) => {
                let cursor = cursor.check(Listing::Credentials)?;
                let client_id = cursor.client_id.as_ref().ok_or(StoreError::InvalidCursor)?;
                let own = key(credential_pk(client_id), CREDENTIAL_SK);
                Some(tenant_index_start(tenant, own, &cursor.sort_key))
            }
            None => None,
        };
        self.query_page(
            Query::tenant_index(filter, names, values, start),
            page.limit,
            |item| from_item::<CredentialItem>(item)?.into_credential(),
            Cursor::for_credential,
            "GSI1SK",
        )
        .await
    }
}

#[async_trait]
impl AuditLog for DynamoStore {
    async fn list_events(
        &self,
        scope: &AuditScope,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let cursor = match &page.cursor {
            Some(cursor) => Some(cursor.check(Listing::Audit)?),
            None => None,
        };
        let mut names = HashMap::new();
        let mut values = HashMap::from([(":prefix".to_owned(), s(audit_prefix()))]);
        let live = self.live_filter(&mut names, &mut values);
        let (query, sort_attribute) = match scope {
            AuditScope::Tenant(tenant) => {
                values.insert(":pk".into(), s(tenant_pk(tenant)));
                let start = cursor.map(|c| {
                    let own = key(event_pk(tenant, c.client_id.as_ref()), c.sort_key.clone());
                    tenant_index_start(tenant, own, &c.sort_key)
                });
                let filter = live.to_owned();
                (Query::tenant_index(filter, names, values, start), "GSI1SK")
            }
            AuditScope::Credential(tenant, client_id) => {
                values.insert(":pk".into(), s(credential_pk(client_id)));
                values.insert(":tenant".into(), s(tenant.as_str()));
                let query = Query {
                    index: None,
                    key_condition: "PK = :pk AND begins_with(SK, :prefix)",
                    filter: format!("{live} AND tenant = :tenant"),
                    names,
                    values,
                    start: cursor.map(|c| key(credential_pk(client_id), c.sort_key.clone())),
                };
                (query, "SK")
            }
        };
        self.query_page(
            query,
            page.limit,
            AuditItem::event_of,
            Cursor::for_event,
            sort_attribute,
        )
        .await
    }
}

#[async_trait]
impl UsageWriter for DynamoStore {
    async fn record_uses(&self, batch: &UsageBatch) -> Result<(), StoreError> {
        let client_id = &batch.client_id;
        let at = batch.latest;
        // One transaction rather than plain updates for its client request token: DynamoDB
        // applies a retried batch (its answer lost) only once, so an `ADD` can be retried
        // without counting twice. At most two items: the month's count and the day's.
        let mut counters = Vec::with_capacity(2);
        if batch.counts.uses > 0 {
            let month = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(
                    usage_pk(client_id, batch.shard),
                    UsageMonth::of(at).sort_key(),
                )))
                .update_expression(
                    "ADD request_count :uses SET last_used_at = :at, #ttl = :ttl, entity = :entity, client_id = :client_id",
                )
                .expression_attribute_names("#ttl", TABLE.ttl_attribute)
                .expression_attribute_values(":uses", n(batch.counts.uses))
                .expression_attribute_values(":at", s(key_format(at)))
                .expression_attribute_values(":ttl", n(epoch(at + self.retention.usage_counters)))
                .expression_attribute_values(":entity", s(ENTITY_USAGE))
                .expression_attribute_values(":client_id", s(client_id.as_str()))
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            counters.push(TransactWriteItem::builder().update(month).build());
        }
        counters.push(
            TransactWriteItem::builder()
                .update(day_update(&self.table, batch)?)
                .build(),
        );
        let roles = vec![TransactItem::Change; counters.len()];
        let counted = self
            .client
            .transact_write_items()
            .set_transact_items(Some(counters))
            .client_request_token(&batch.write_id)
            .send();
        let Some(last) = &batch.refresh else {
            counted
                .await
                .map_err(|e| map_transaction_error(e, &roles, StoreError::Conflict))?;
            return Ok(());
        };
        let last_used = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(credential_pk(client_id), CREDENTIAL_SK)))
            .update_expression("SET last_used_at = :at, last_used_from = :from")
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(last_used_at) OR last_used_at < :at)",
            )
            .expression_attribute_values(":at", s(key_format(last.at)))
            .expression_attribute_values(":from", s(last.from.as_str()))
            .send();
        let (counted, last_used) = tokio::join!(counted, last_used);
        counted.map_err(|e| map_transaction_error(e, &roles, StoreError::Conflict))?;
        match last_used {
            // A deleted credential, or a later use already recorded: nothing to do.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            other => other.map(drop).map_err(map_sdk_error),
        }
    }
}

/// Adds a batch to its day's counts: the uses, and each refusal reason in an attribute of its
/// own (`refused_<reason>`), listed in the tenant's index by day.
fn day_update(table: &str, batch: &UsageBatch) -> Result<Update, StoreError> {
    let mut adds = vec!["uses :uses".to_owned()];
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key(
            usage_pk(&batch.client_id, batch.shard),
            usage_day_sk(batch.day),
        )))
        .expression_attribute_values(":uses", n(batch.counts.uses));
    for (i, (reason, count)) in batch.counts.refused.iter().enumerate() {
        adds.push(format!("#r{i} :r{i}"));
        update = update
            .expression_attribute_names(format!("#r{i}"), refused_attribute(*reason))
            .expression_attribute_values(format!(":r{i}"), n(*count));
    }
    update
        .update_expression(format!(
            "ADD {} SET entity = :entity, client_id = :client_id, tenant = :tenant, #day = :day, \
             GSI1PK = :gsi1pk, GSI1SK = :gsi1sk, #ttl = :ttl",
            adds.join(", ")
        ))
        .expression_attribute_names("#day", "day")
        .expression_attribute_names("#ttl", TABLE.ttl_attribute)
        .expression_attribute_values(":entity", s(ENTITY_USAGE_DAY))
        .expression_attribute_values(":client_id", s(batch.client_id.as_str()))
        .expression_attribute_values(":tenant", s(batch.tenant.as_str()))
        .expression_attribute_values(":day", s(batch.day.format("%Y-%m-%d").to_string()))
        .expression_attribute_values(":gsi1pk", s(usage_day_index_pk(&batch.tenant, batch.shard)))
        .expression_attribute_values(
            ":gsi1sk",
            s(usage_day_listing_key(batch.day, &batch.client_id)),
        )
        .expression_attribute_values(":ttl", n(epoch(day_expires_at(batch.day))))
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))
}

#[async_trait]
impl DailyUsageReader for DynamoStore {
    /// One `Query` per shard, at once, summed by day.
    async fn credential_days(
        &self,
        client_id: &ClientId,
        range: &UsageRange,
    ) -> Result<HashMap<NaiveDate, DayCounts>, StoreError> {
        let shards = UsageShard::all().map(|shard| {
            self.days_query(
                None,
                "PK = :pk AND SK BETWEEN :from AND :to",
                usage_pk(client_id, shard),
                usage_day_sk(range.from()),
                usage_day_sk(range.to()),
            )
        });
        let mut days: HashMap<NaiveDate, DayCounts> = HashMap::new();
        for counted in futures_util::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
        {
            days.entry(counted.day).or_default().add(&counted.counts);
        }
        Ok(days)
    }

    /// One `Query` of the tenant's index per shard, at once, summed by credential and day.
    async fn tenant_days(
        &self,
        tenant: &TenantId,
        range: &UsageRange,
    ) -> Result<Vec<CountedDay>, StoreError> {
        let shards = UsageShard::all().map(|shard| {
            self.days_query(
                Some(GSI1),
                "GSI1PK = :pk AND GSI1SK BETWEEN :from AND :to",
                usage_day_index_pk(tenant, shard),
                usage_day_sk(range.from()),
                usage_day_listing_end(range.to()),
            )
        });
        let mut days: HashMap<(ClientId, NaiveDate), DayCounts> = HashMap::new();
        for counted in futures_util::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
        {
            days.entry((counted.client_id, counted.day))
                .or_default()
                .add(&counted.counts);
        }
        Ok(days
            .into_iter()
            .map(|((client_id, day), counts)| CountedDay {
                client_id,
                day,
                counts,
            })
            .collect())
    }
}

impl DynamoStore {
    /// The live day counts of one partition (of the table, or of `index`) between two sort keys.
    async fn days_query(
        &self,
        index: Option<&'static str>,
        key_condition: &'static str,
        pk: String,
        from: String,
        to: String,
    ) -> Result<Vec<CountedDay>, StoreError> {
        let mut names = HashMap::new();
        let mut values = HashMap::from([
            (":pk".to_owned(), s(pk)),
            (":from".to_owned(), s(from)),
            (":to".to_owned(), s(to)),
        ]);
        let filter = self.live_filter(&mut names, &mut values).to_owned();
        let items = self
            .query_all(Query {
                index,
                key_condition,
                filter,
                names,
                values,
                start: None,
            })
            .await?;
        items.iter().map(day_counts_of).collect()
    }
}

#[async_trait]
impl UsageReader for DynamoStore {
    async fn request_counts(
        &self,
        client_ids: &[ClientId],
        month: UsageMonth,
    ) -> Result<HashMap<ClientId, u64>, StoreError> {
        // Every shard of every credential's month, summed by the partition each came from.
        let owners: HashMap<String, &ClientId> = client_ids
            .iter()
            .flat_map(|id| UsageShard::all().map(move |shard| (usage_pk(id, shard), id)))
            .collect();
        let keys: Vec<Item> = owners
            .keys()
            .map(|pk| key(pk.clone(), month.sort_key()))
            .collect();
        let mut counts: HashMap<ClientId, u64> = HashMap::new();
        let now = self.clock.now();
        // A page of 25 credentials is 200 keys: its batches go at once, not one after another.
        for item in self.batch_get_all(keys, false).await? {
            if !is_live(&item, now) {
                continue;
            }
            let pk = string_attr(&item, "PK").unwrap_or_default();
            let client_id = owners.get(pk).ok_or_else(|| corrupt("PK", pk))?;
            *counts.entry((*client_id).clone()).or_default() += usage_count(&item)?;
        }
        Ok(counts)
    }
}

#[async_trait]
impl TokenDenyList for DynamoStore {
    async fn deny_token(&self, jti: &str, token_expires_at: Timestamp) -> Result<(), StoreError> {
        let mut item = key(denied_token_pk(jti), DENIED_TOKEN_SK);
        item.insert("entity".into(), s(ENTITY_DENIED_TOKEN));
        item.insert(TABLE.ttl_attribute.into(), n(epoch(token_expires_at)));
        self.put_item(item).await
    }
}

#[async_trait]
impl ThrottleReader for DynamoStore {
    async fn credential_and_failures(
        &self,
        attempt: &Attempt<'_>,
        policy_of: Option<&TenantId>,
    ) -> Result<ClientRead, StoreError> {
        let (client_id, source, window_start) =
            (attempt.client_id, attempt.source, attempt.window_start);
        let credential_pk = credential_pk(client_id);
        let window = failure_window_sk(window_start);
        let mut keys = vec![
            key(credential_pk.clone(), CREDENTIAL_SK),
            key(throttle_pk(client_id, source), window.clone()),
            key(source_throttle_pk(source), window),
        ];
        keys.extend(policy_of.map(policy_key));
        let mut items = self.batch_get(keys, true).await?;
        let failures = failures_of(&items, client_id, source)?;
        let policy = policy_of
            .map(|tenant| take_policy(&mut items, tenant))
            .transpose()?;
        let credential = items
            .into_iter()
            .find(|item| string_attr(item, "PK") == Some(credential_pk.as_str()))
            .map(|item| from_item::<CredentialItem>(item)?.into_credential())
            .transpose()?;
        Ok(ClientRead {
            credential,
            failures,
            policy,
        })
    }
}

#[async_trait]
impl FailureRecorder for DynamoStore {
    async fn record_failure(&self, failure: &Attempt<'_>) -> Result<(), StoreError> {
        let window = failure_window_sk(failure.window_start);
        let count = |pk: String| {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(pk, window.clone())))
                .update_expression("ADD failures :one SET #ttl = :ttl, entity = :entity")
                .expression_attribute_names("#ttl", TABLE.ttl_attribute)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":ttl", n(epoch(failure.window_end)))
                .expression_attribute_values(":entity", s(ENTITY_FAILURES))
                .send()
        };
        let (for_client, for_source) = tokio::join!(
            count(throttle_pk(failure.client_id, failure.source)),
            count(source_throttle_pk(failure.source))
        );
        for_client.map_err(map_sdk_error)?;
        for_source.map_err(map_sdk_error)?;
        Ok(())
    }
}

fn policy_key(tenant: &TenantId) -> Item {
    key(tenant_pk(tenant), POLICY_SK)
}

/// Takes `tenant`'s policy out of items read back; the open policy when it has none.
fn take_policy(items: &mut Vec<Item>, tenant: &TenantId) -> Result<StoredPolicy, StoreError> {
    let pk = tenant_pk(tenant);
    let found = items.iter().position(|item| {
        string_attr(item, "PK") == Some(pk.as_str()) && string_attr(item, "SK") == Some(POLICY_SK)
    });
    match found {
        Some(at) => from_item::<PolicyItem>(items.swap_remove(at))?.into_policy(),
        None => Ok(StoredPolicy::open(tenant.clone())),
    }
}

#[async_trait]
impl PolicyReader for DynamoStore {
    async fn policy(&self, tenant: &TenantId) -> Result<StoredPolicy, StoreError> {
        match self.get_item(policy_key(tenant)).await? {
            Some(item) => from_item::<PolicyItem>(item)?.into_policy(),
            None => Ok(StoredPolicy::open(tenant.clone())),
        }
    }
}

#[async_trait]
impl PolicyWriter for DynamoStore {
    async fn put_policy(
        &self,
        expected_version: u64,
        change: &PolicyChange,
    ) -> Result<(), StoreError> {
        let item = PolicyItem::from_policy(&change.policy).ok_or_else(|| {
            StoreError::Backend("a policy change must say when and by whom".into())
        })?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?));
        let put = if expected_version == 0 {
            put.condition_expression("attribute_not_exists(PK)")
        } else {
            put.condition_expression("#version = :expected_version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected_version", n(expected_version))
        };
        let put = put
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.transact_event(
            vec![(
                TransactItem::Change,
                TransactWriteItem::builder().put(put).build(),
            )],
            &change.event,
            None,
            StoreError::Conflict,
        )
        .await
    }
}

/// The two failure counts among items read back (an absent counter is zero).
fn failures_of(
    items: &[Item],
    client_id: &ClientId,
    source: &SourceAddress,
) -> Result<Failures, StoreError> {
    let (for_client, for_source) = (throttle_pk(client_id, source), source_throttle_pk(source));
    let mut failures = Failures::default();
    for item in items {
        match string_attr(item, "PK") {
            Some(pk) if pk == for_client => failures.client_from_source = failure_count(item)?,
            Some(pk) if pk == for_source => failures.source = failure_count(item)?,
            _ => {}
        }
    }
    Ok(failures)
}

#[async_trait]
impl CredentialStateReader for DynamoStore {
    async fn credential_state(&self, read: &StateQuery<'_>) -> Result<CredentialState, StoreError> {
        let (client_id, jti, month) = (read.client_id, read.jti, read.month);
        let credential_pk = credential_pk(client_id);
        let usage_sk = month.map(UsageMonth::sort_key);
        let usage_pks: Vec<String> = UsageShard::all()
            .map(|shard| usage_pk(client_id, shard))
            .collect();
        let mut keys = vec![key(credential_pk.clone(), CREDENTIAL_SK)];
        // Every shard of the month's count, in the same round trip.
        if let Some(sk) = &usage_sk {
            keys.extend(usage_pks.iter().map(|pk| key(pk.clone(), sk.clone())));
        }
        keys.extend(jti.map(|jti| key(denied_token_pk(jti), DENIED_TOKEN_SK)));
        keys.extend(read.policy_of.map(policy_key));
        let now = self.clock.now();
        let mut items = self.batch_get(keys, true).await?;
        let mut state = CredentialState {
            credential: None,
            token_denied: false,
            uses_this_month: month.map(|_| 0),
            policy: read
                .policy_of
                .map(|tenant| take_policy(&mut items, tenant))
                .transpose()?,
        };
        for item in items {
            if !is_live(&item, now) {
                continue;
            }
            match (string_attr(&item, "PK"), string_attr(&item, "SK")) {
                (Some(pk), Some(CREDENTIAL_SK)) if pk == credential_pk => {
                    state.credential = Some(from_item::<CredentialItem>(item)?.into_credential()?);
                }
                (Some(pk), Some(sk))
                    if Some(sk) == usage_sk.as_deref() && usage_pks.iter().any(|p| p == pk) =>
                {
                    let uses = usage_count(&item)?;
                    state.uses_this_month = Some(state.uses_this_month.unwrap_or(0) + uses);
                }
                _ => state.token_denied = true,
            }
        }
        Ok(state)
    }
}
