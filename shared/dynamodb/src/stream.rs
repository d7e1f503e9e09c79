//! The table's stream as a feed of events. Deployed, Lambda reads the stream and hands
//! `publish-events` its records' images; locally, [`StreamFeed`] reads DynamoDB Local's stream
//! with the Streams API. Either way [`audit_event_of`] turns an image into the event.

use std::sync::Mutex;

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use clavis_core::store::{EventFeed, FeedPosition};

use super::*;

/// The audit event a new item's image holds, or `None` for any other item.
pub fn audit_event_of(
    image: impl Into<serde_dynamo::Item>,
) -> Result<Option<AuditEvent>, StoreError> {
    let image: serde_dynamo::Item = image.into();
    let is_event = matches!(
        image.get("entity"),
        Some(serde_dynamo::AttributeValue::S(entity)) if entity == ENTITY_AUDIT
    );
    if !is_event {
        return Ok(None);
    }
    let item: Item = image.into();
    AuditItem::event_of(item).map(Some)
}

/// Reads a table's stream from its oldest record, shard by shard, keeping each shard's
/// iterator between reads. A new feed starts over from the oldest record the stream keeps
/// (24 hours): events seen before are published again, and make no second delivery.
pub struct StreamFeed {
    dynamodb: Client,
    streams: aws_sdk_dynamodbstreams::Client,
    table: String,
    shards: Mutex<Shards>,
}

#[derive(Default)]
struct Shards {
    stream_arn: Option<String>,
    /// The next iterator of each shard being read; `None` once a closed shard is read out.
    iterators: HashMap<String, Option<String>>,
}

fn streams_error<E: std::error::Error + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(format!(
        "the table's stream: {}",
        aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)
    ))
}

impl StreamFeed {
    pub fn new(
        dynamodb: Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: impl Into<String>,
    ) -> Self {
        Self {
            dynamodb,
            streams,
            table: table.into(),
            shards: Mutex::new(Shards::default()),
        }
    }

    fn shards(&self) -> std::sync::MutexGuard<'_, Shards> {
        self.shards.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn stream_arn(&self) -> Result<String, StoreError> {
        if let Some(arn) = self.shards().stream_arn.clone() {
            return Ok(arn);
        }
        let described = self
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(map_sdk_error)?;
        let arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| StoreError::Backend(format!("table {} has no stream", self.table)))?
            .to_owned();
        self.shards().stream_arn = Some(arn.clone());
        Ok(arn)
    }

    /// Starts reading every shard not seen yet, from its oldest record.
    async fn discover_shards(&self, arn: &str) -> Result<(), StoreError> {
        let mut start: Option<String> = None;
        loop {
            let described = self
                .streams
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start.clone())
                .send()
                .await
                .map_err(streams_error)?;
            let Some(description) = described.stream_description() else {
                return Ok(());
            };
            for shard in description.shards() {
                let Some(id) = shard.shard_id() else { continue };
                if self.shards().iterators.contains_key(id) {
                    continue;
                }
                let iterator = self
                    .streams
                    .get_shard_iterator()
                    .stream_arn(arn)
                    .shard_id(id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .map_err(streams_error)?
                    .shard_iterator;
                self.shards().iterators.insert(id.to_owned(), iterator);
            }
            match description.last_evaluated_shard_id() {
                Some(last) => start = Some(last.to_owned()),
                None => return Ok(()),
            }
        }
    }
}

#[async_trait]
impl EventFeed for StreamFeed {
    async fn events_since(
        &self,
        _position: &FeedPosition,
    ) -> Result<(Vec<AuditEvent>, FeedPosition), StoreError> {
        let arn = self.stream_arn().await?;
        self.discover_shards(&arn).await?;
        let open: Vec<(String, String)> = self
            .shards()
            .iterators
            .iter()
            .filter_map(|(shard, it)| it.clone().map(|it| (shard.clone(), it)))
            .collect();
        let mut events = Vec::new();
        let mut read_to = Vec::new();
        for (shard, iterator) in open {
            let output = match self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(1000)
                .send()
                .await
            {
                Ok(output) => output,
                // An iterator can expire, and DynamoDB Local calls a shard read from its
                // oldest record before it had one "trimmed": the shard is read again from its
                // oldest record on the next call (a record seen twice is published harmlessly).
                Err(e)
                    if e.as_service_error().is_some_and(|s| {
                        s.is_trimmed_data_access_exception() || s.is_expired_iterator_exception()
                    }) =>
                {
                    self.shards().iterators.remove(&shard);
                    continue;
                }
                Err(e) => return Err(streams_error(e)),
            };
            for record in output.records() {
                let Some(image) = record.dynamodb().and_then(|r| r.new_image()) else {
                    continue;
                };
                if let Some(sequence) = record.dynamodb().and_then(|r| r.sequence_number()) {
                    read_to.push((shard.clone(), sequence.to_owned()));
                }
                if let Some(event) = audit_event_of(image.clone())? {
                    events.push(event);
                }
            }
            self.shards()
                .iterators
                .insert(shard, output.next_shard_iterator);
        }
        Ok((events, FeedPosition(read_to)))
    }
}
