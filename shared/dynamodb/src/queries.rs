//! Queries paged through a round-trip budget, and the sweep index.

use super::*;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

/// One query, paged through until `want` matching items are in hand or the partition ends.
pub(super) struct Query<'a> {
    pub(super) index: Option<&'static str>,
    pub(super) key_condition: &'a str,
    pub(super) filter: String,
    pub(super) names: HashMap<String, String>,
    pub(super) values: Item,
    pub(super) start: Option<Item>,
}

/// A tenant's listings in its index (GSI1), newest first: `:pk` is the tenant's key and
/// `:prefix` the kind of item listed.
const TENANT_LISTING: &str = "GSI1PK = :pk AND begins_with(GSI1SK, :prefix)";

impl<'a> Query<'a> {
    /// A listing from a tenant's index (GSI1), resuming after `start`.
    pub(super) fn tenant_index(
        filter: String,
        names: HashMap<String, String>,
        values: Item,
        start: Option<Item>,
    ) -> Self {
        Self {
            index: Some(GSI1),
            key_condition: TENANT_LISTING,
            filter,
            names,
            values,
            start,
        }
    }
}

/// Where a page of a tenant's index (GSI1) resumes: after the item whose own key is
/// `item_key`, listed at `sort_key`.
pub(super) fn tenant_index_start(tenant: &TenantId, mut item_key: Item, sort_key: &str) -> Item {
    item_key.insert("GSI1PK".into(), s(tenant_pk(tenant)));
    item_key.insert("GSI1SK".into(), s(sort_key.to_owned()));
    item_key
}

/// Matching items in listing order, and where to resume if the round-trip budget ran out
/// before `want` items were found.
pub(super) struct Found {
    items: Vec<Item>,
    resume_from: Option<Item>,
}

impl DynamoStore {
    pub(super) async fn query(
        &self,
        mut query: Query<'_>,
        want: usize,
    ) -> Result<Found, StoreError> {
        let mut items = Vec::new();
        for _ in 0..MAX_QUERY_ROUND_TRIPS {
            let output = self
                .next_page_of(&mut query)
                .scan_index_forward(false)
                .limit(i32::try_from((want - items.len()).max(25)).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(map_sdk_error)?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                _ if items.len() >= want => {
                    items.truncate(want);
                    return Ok(Found {
                        items,
                        resume_from: None,
                    });
                }
                Some(last) => query.start = Some(last),
                None => {
                    return Ok(Found {
                        items,
                        resume_from: None,
                    });
                }
            }
        }
        Ok(Found {
            items,
            resume_from: query.start,
        })
    }

    /// The request for the next page of `query`, from where the last one stopped.
    fn next_page_of(&self, query: &mut Query<'_>) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .set_index_name(query.index.map(str::to_owned))
            .key_condition_expression(query.key_condition)
            .filter_expression(&query.filter)
            .set_expression_attribute_names(Some(query.names.clone()))
            .set_expression_attribute_values(Some(query.values.clone()))
            .set_exclusive_start_key(query.start.take())
    }

    /// Every item `query` matches, in key order, however many round trips that takes (for
    /// reads bounded by their key range, such as a range of days).
    pub(super) async fn query_all(&self, mut query: Query<'_>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        loop {
            let output = self
                .next_page_of(&mut query)
                .send()
                .await
                .map_err(map_sdk_error)?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(last) => query.start = Some(last),
                None => return Ok(items),
            }
        }
    }

    /// The filter every read applies: items past their TTL are gone, whether or not DynamoDB
    /// has deleted them yet.
    pub(super) fn live_filter(
        &self,
        names: &mut HashMap<String, String>,
        values: &mut Item,
    ) -> &'static str {
        names.insert("#ttl".into(), TABLE.ttl_attribute.into());
        values.insert(":now_epoch".into(), n(epoch(self.clock.now())));
        "(attribute_not_exists(#ttl) OR #ttl > :now_epoch)"
    }

    /// One page of a listing: `query` run for one item more than `limit` (to know whether
    /// there is a next page), decoded, and ended at the resume point when the round-trip budget
    /// ran out first. `sort_attribute` names the sort key the listing's cursors carry.
    pub(super) async fn query_page<T>(
        &self,
        query: Query<'_>,
        limit: usize,
        decode: impl Fn(Item) -> Result<T, StoreError>,
        cursor_of: impl Fn(&T) -> Cursor,
        sort_attribute: &str,
    ) -> Result<Page<T>, StoreError> {
        let found = self.query(query, limit + 1).await?;
        let items = found
            .items
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let mut page = page_from(items, limit, cursor_of);
        if page.next_cursor.is_none() {
            page.next_cursor = found
                .resume_from
                .as_ref()
                .and_then(|key| cursor_at(key, sort_attribute));
        }
        Ok(page)
    }
}

/// A cursor at a position DynamoDB reported (`LastEvaluatedKey`).
pub(super) fn cursor_at(key: &Item, sort_attribute: &str) -> Option<Cursor> {
    let client_id = event_owner_of_pk(string_attr(key, "PK")?)?;
    Some(Cursor {
        sort_key: string_attr(key, sort_attribute)?.to_owned(),
        client_id,
    })
}

/// The filter expression for a computed status, and whether it compares against `:now`.
pub(super) fn status_filter(status: Status) -> (&'static str, bool) {
    let expression = match status {
        Status::Revoked => "attribute_exists(revoked_at)",
        Status::Expired => "attribute_not_exists(revoked_at) AND expires_at <= :now",
        Status::Suspended => {
            "attribute_not_exists(revoked_at) AND (attribute_not_exists(expires_at) OR expires_at > :now) AND attribute_exists(suspended_at)"
        }
        Status::Active => {
            "attribute_not_exists(revoked_at) AND (attribute_not_exists(expires_at) OR expires_at > :now) AND attribute_not_exists(suspended_at)"
        }
    };
    (expression, status != Status::Revoked)
}

#[async_trait]
impl SweepCheckpoint for DynamoStore {
    async fn sweep_checkpoint(&self) -> Result<Option<Timestamp>, StoreError> {
        let Some(item) = self
            .get_item(key(SWEEP_CHECKPOINT_PK.into(), SWEEP_CHECKPOINT_SK))
            .await?
        else {
            return Ok(None);
        };
        match item.get("oldest_hour") {
            Some(AttributeValue::S(hour)) => stored_time("oldest_hour", hour).map(Some),
            _ => Err(StoreError::Corrupt(
                "the sweep checkpoint has no oldest_hour".into(),
            )),
        }
    }

    async fn save_sweep_checkpoint(&self, hour: Timestamp) -> Result<(), StoreError> {
        let mut item = key(SWEEP_CHECKPOINT_PK.into(), SWEEP_CHECKPOINT_SK);
        item.insert("entity".into(), s(ENTITY_SWEEP_CHECKPOINT));
        item.insert("oldest_hour".into(), s(key_format(hour)));
        self.put_item(item).await
    }
}

#[async_trait]
impl SweepIndex for DynamoStore {
    async fn due(&self, query: &DueQuery<'_>) -> Result<DuePage, StoreError> {
        let bucket = sweep_bucket(query.hour);
        let start = query.after.map(|cursor| {
            let mut start = key(credential_pk(&cursor.client_id), CREDENTIAL_SK);
            start.insert("GSI2PK".into(), s(bucket.clone()));
            start.insert("GSI2SK".into(), s(cursor.sort_key.clone()));
            start
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI2)
            .key_condition_expression("GSI2PK = :bucket AND GSI2SK <= :until")
            .expression_attribute_values(":bucket", s(bucket))
            .expression_attribute_values(":until", s(sweep_sort_key_until(query.until)))
            .set_exclusive_start_key(start)
            .limit(i32::try_from(query.limit.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(map_sdk_error)?;
        let items_read = u64::try_from(out.scanned_count()).unwrap_or(0);
        let next = match out.last_evaluated_key() {
            Some(last) => {
                let text = |name: &str| match last.get(name) {
                    Some(AttributeValue::S(value)) => Ok(value.clone()),
                    _ => Err(StoreError::Backend(format!(
                        "the sweep index page ended without {name}"
                    ))),
                };
                let pk = text("PK")?;
                let client_id = client_id_of_pk(&pk).ok_or_else(|| corrupt("PK", &pk))?;
                Some(DueCursor {
                    sort_key: text("GSI2SK")?,
                    client_id,
                })
            }
            None => None,
        };
        let credentials = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<CredentialItem>(item)?.into_credential())
            .collect::<Result<_, _>>()?;
        Ok(DuePage {
            credentials,
            next,
            items_read,
        })
    }
}
