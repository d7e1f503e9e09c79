//! The DynamoDB adapter: translates between domain types and the single-table items of the
//! design, and nowhere else. Every lifecycle write is one TransactWriteItems of the credential
//! change and its audit event, conditioned on the version the caller read.
//!
//! In parts: `items` (the item types and attribute helpers), `errors` (SDK errors to
//! `StoreError`), `writes` (transactions, puts and reads by key), `queries` (pagers, the sweep
//! index), `ports` (the port traits), and `schema` (the table itself).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

use chrono::NaiveDate;
use clavis_core::audit::AuditEvent;
use clavis_core::credential::{
    Credential, Description, Environment, Name, PreviousSecret, Reason, RequestQuota, Revocation,
    Scopes, SecretRecord, Status,
};
use clavis_core::idempotency::{Fingerprint, IdempotencyRecord, KeyDigest, Operation};
use clavis_core::ids::{ClientId, TenantId};
use clavis_core::lifecycle::{PolicyChange, Transition};
use clavis_core::policy::{PolicyDocument, StoredPolicy, TenantPolicy};
use clavis_core::secret::SecretHash;
use clavis_core::source::SourceAddress;
use clavis_core::store::keys::{
    CREDENTIAL_SK, DENIED_TOKEN_SK, IDEMPOTENCY_SK, Listing, POLICY_SK, SWEEP_CHECKPOINT_PK,
    SWEEP_CHECKPOINT_SK, audit_key, audit_prefix, client_id_of_pk, credential_listing_key,
    credential_listing_prefix, credential_pk, denied_token_pk, event_owner_of_pk, event_pk,
    failure_window_sk, idempotency_pk, page_from, source_throttle_pk, sweep_bucket, sweep_sort_key,
    sweep_sort_key_until, tenant_pk, throttle_pk, usage_day_index_pk, usage_day_listing_end,
    usage_day_listing_key, usage_day_sk, usage_pk,
};
use clavis_core::store::{
    Attempt, AuditLog, AuditScope, ClientRead, CountedDay, CredentialListing, CredentialQuery,
    CredentialReader, CredentialState, CredentialStateReader, CredentialWriter, Cursor,
    DailyUsageReader, DueCursor, DuePage, DueQuery, FailureRecorder, Failures, IdempotencyReader,
    Page, PageRequest, PolicyReader, PolicyWriter, RememberingWriter, Retention, StateQuery,
    StoreError, SweepCheckpoint, SweepIndex, ThrottleReader, TokenDenyList, TransitionWriter,
    UsageBatch, UsageMonth, UsageReader, UsageShard, UsageWriter,
};
use clavis_core::time::{Clock, Timestamp, key_format, parse_rfc3339};
use clavis_core::usage_days::{DayCounts, RefusalReason, UsageRange, day_expires_at};
use clavis_core::webhook::UrlKey;
use schema::{GSI1, GSI2, TABLE};

mod errors;
mod items;
mod leaks;
mod ports;
mod queries;
pub mod schema;
pub mod stream;
mod webhooks;
mod writes;

pub(crate) use errors::map_sdk_error;
use errors::*;
use items::*;
use queries::*;

type Item = HashMap<String, AttributeValue>;

/// A listing never makes more round trips than this for one page; past it, the page is
/// returned short with a cursor, and the caller continues from there.
const MAX_QUERY_ROUND_TRIPS: usize = 10;
/// BatchGetItem takes at most 100 keys.
const BATCH_GET_MAX_KEYS: usize = 100;
/// How often BatchGetItem is sent for keys DynamoDB left unprocessed (throttling) before the
/// read fails as unavailable.
const BATCH_GET_ATTEMPTS: u32 = 5;

pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    retention: Retention,
    /// Seals endpoint URLs in webhook items; only the webhook functions are given it, and a
    /// store without it neither reads nor writes endpoints.
    webhook_urls: Option<Arc<UrlKey>>,
}

impl DynamoStore {
    pub fn new(
        client: Client,
        table: impl Into<String>,
        clock: Arc<dyn Clock>,
        retention: Retention,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
            retention,
            webhook_urls: None,
        }
    }

    /// This store, reading and writing webhook endpoints with their URLs sealed under `key`.
    pub fn with_webhook_url_key(self, key: Arc<UrlKey>) -> Self {
        Self {
            webhook_urls: Some(key),
            ..self
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }
}

#[cfg(test)]
mod tests;
