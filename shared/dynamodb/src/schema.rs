//! The one table, described once. Tests and the local gateway create it from this description,
//! and the drift test compares the SAM template's table with it.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};

use super::map_sdk_error;
use clavis_core::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDef {
    pub partition: &'static str,
    pub sort: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    pub name: &'static str,
    pub key: KeyDef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSchema {
    pub key: KeyDef,
    /// Every index projects all attributes: listings and the sweeper read whole items.
    pub indexes: [IndexDef; 2],
    pub ttl_attribute: &'static str,
}

pub const GSI1: &str = "GSI1";
pub const GSI2: &str = "GSI2";

pub const TABLE: TableSchema = TableSchema {
    key: KeyDef {
        partition: "PK",
        sort: "SK",
    },
    indexes: [
        // A tenant's credentials and audit events, newest first.
        IndexDef {
            name: GSI1,
            key: KeyDef {
                partition: "GSI1PK",
                sort: "GSI1SK",
            },
        },
        // Sparse: only credentials the sweeper still has something to record for, by hour due.
        IndexDef {
            name: GSI2,
            key: KeyDef {
                partition: "GSI2PK",
                sort: "GSI2SK",
            },
        },
    ],
    ttl_attribute: "ttl",
};

impl TableSchema {
    /// Every key attribute of the table and its indexes (all strings).
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut names = vec![self.key.partition, self.key.sort];
        for index in &self.indexes {
            names.extend([index.key.partition, index.key.sort]);
        }
        names
    }
}

fn key_schema(key: KeyDef) -> Result<Vec<KeySchemaElement>, StoreError> {
    [(key.partition, KeyType::Hash), (key.sort, KeyType::Range)]
        .into_iter()
        .map(|(name, key_type)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))
        })
        .collect()
}

/// Creates the table (on-demand billing) with both indexes and TTL on `ttl`.
pub async fn create_table(client: &Client, table_name: &str) -> Result<(), StoreError> {
    let build_error = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend(e.to_string());
    let attributes = TABLE
        .key_attributes()
        .into_iter()
        .map(|name| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let indexes = TABLE
        .indexes
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .set_key_schema(Some(key_schema(index.key)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_error)
        })
        .collect::<Result<Vec<_>, _>>()?;
    client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(TABLE.key)?))
        .set_global_secondary_indexes(Some(indexes))
        .stream_specification(stream_specification()?)
        .send()
        .await
        .map_err(map_sdk_error)?;
    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TABLE.ttl_attribute)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(map_sdk_error)?;
    Ok(())
}

/// The table's stream: each new item's image, which the event publisher reads (the stream is
/// the outbox of events: an event is delivered if and only if it was written).
fn stream_specification() -> Result<StreamSpecification, StoreError> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewImage)
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))
}

/// Creates the table unless it exists, and turns its stream on if a table made before events
/// has none; for the local gateway, whose data persists across runs.
pub async fn ensure_table(client: &Client, table_name: &str) -> Result<(), StoreError> {
    match client.describe_table().table_name(table_name).send().await {
        Ok(described) => {
            let streaming = described
                .table()
                .and_then(|t| t.stream_specification())
                .is_some_and(|s| s.stream_enabled());
            if !streaming {
                client
                    .update_table()
                    .table_name(table_name)
                    .stream_specification(stream_specification()?)
                    .send()
                    .await
                    .map_err(map_sdk_error)?;
            }
            Ok(())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            create_table(client, table_name).await
        }
        Err(e) => Err(map_sdk_error(e)),
    }
}
