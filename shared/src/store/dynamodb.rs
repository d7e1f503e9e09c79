//! The DynamoDB adapter: translates between domain types and the single-table items of the
//! design, and nowhere else. Every lifecycle write is one TransactWriteItems of the credential
//! change and its audit event, conditioned on the version the caller read.

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

use super::keys::{
    CREDENTIAL_SK, DENIED_TOKEN_SK, IDEMPOTENCY_SK, Listing, SWEEP_CHECKPOINT_PK,
    SWEEP_CHECKPOINT_SK, audit_key, audit_prefix, credential_listing_key,
    credential_listing_prefix, credential_pk, denied_token_pk, failure_window_sk, idempotency_pk,
    page_from, sweep_bucket, sweep_sort_key, sweep_sort_key_until, tenant_pk, throttle_pk,
};
use super::schema::{GSI1, GSI2, TABLE};
use super::{
    AuditLog, AuditScope, CredentialState, CredentialStateReader, CredentialStore, Cursor,
    DueCursor, DuePage, FailureCounter, IdempotencyStore, Page, PageRequest, Retention, StoreError,
    SweepIndex, TokenDenyList, UsageBatch, UsageMonth, UsageStore,
};
use crate::audit::AuditEvent;
use crate::credential::{
    Credential, Description, Environment, Name, PreviousSecret, Reason, RequestQuota, Revocation,
    Scopes, SecretRecord, Status,
};
use crate::idempotency::{Fingerprint, IdempotencyRecord, KeyDigest, Operation};
use crate::ids::{ClientId, TenantId};
use crate::lifecycle::Transition;
use crate::secret::SecretHash;
use crate::time::{Clock, Timestamp, key_format, parse_rfc3339};

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
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }
}

// ---------------------------------------------------------------------------------------------
// Items

const ENTITY_CREDENTIAL: &str = "credential";
const ENTITY_AUDIT: &str = "audit";
const ENTITY_USAGE: &str = "usage";
const ENTITY_DENIED_TOKEN: &str = "denied_token";
const ENTITY_FAILURES: &str = "auth_failures";
const ENTITY_SWEEP_CHECKPOINT: &str = "sweep_checkpoint";
const ENTITY_IDEMPOTENCY: &str = "idempotency";

#[derive(Debug, Serialize, Deserialize)]
struct CredentialItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    entity: String,
    client_id: String,
    tenant: String,
    name: String,
    description: String,
    scopes: Vec<String>,
    environment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monthly_request_quota: Option<u64>,
    created_at: String,
    created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    secret_hash: String,
    secret_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_rotated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous_secret_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous_secret_valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suspended_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocation_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry_recorded_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry_notice_recorded_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used_at: Option<String>,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

/// Attributes a lifecycle write never sets: the key, and what the token endpoint maintains.
const NOT_WRITTEN_BY_LIFECYCLE: [&str; 3] = ["PK", "SK", "last_used_at"];
/// Attributes a lifecycle write removes when the new state has no value for them.
const OPTIONAL_ATTRIBUTES: [&str; 14] = [
    "GSI2PK",
    "monthly_request_quota",
    "GSI2SK",
    "expires_at",
    "secret_rotated_at",
    "previous_secret_hash",
    "previous_secret_valid_until",
    "suspended_at",
    "revoked_at",
    "revoked_by",
    "revocation_reason",
    "expiry_recorded_at",
    "expiry_notice_recorded_at",
    "ttl",
];

fn epoch(at: Timestamp) -> i64 {
    at.timestamp()
}

fn corrupt(field: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "{field} has an unreadable value ({} bytes)",
        value.len()
    ))
}

fn stored_time(field: &str, value: &str) -> Result<Timestamp, StoreError> {
    parse_rfc3339(value).ok_or_else(|| corrupt(field, value))
}

fn stored_time_opt(field: &str, value: Option<&String>) -> Result<Option<Timestamp>, StoreError> {
    value.map(|v| stored_time(field, v)).transpose()
}

impl CredentialItem {
    /// `sweep_at`: where the credential sits in the sweep index (GSI2), if anywhere.
    fn from_credential(
        credential: &Credential,
        retention: &Retention,
        sweep_at: Option<Timestamp>,
    ) -> Self {
        let due = sweep_at;
        let revocation = credential.revocation.as_ref();
        let previous = credential.secret.previous.as_ref();
        Self {
            pk: credential_pk(&credential.client_id),
            sk: CREDENTIAL_SK.to_owned(),
            gsi1pk: tenant_pk(&credential.tenant),
            gsi1sk: credential_listing_key(credential),
            gsi2pk: due.map(sweep_bucket),
            gsi2sk: due.map(|d| sweep_sort_key(d, &credential.client_id)),
            entity: ENTITY_CREDENTIAL.to_owned(),
            client_id: credential.client_id.to_string(),
            tenant: credential.tenant.to_string(),
            name: credential.name.to_string(),
            description: credential.description.to_string(),
            scopes: credential.scopes.to_strings(),
            environment: credential.environment.as_str().to_owned(),
            monthly_request_quota: credential.monthly_request_quota.map(RequestQuota::get),
            created_at: key_format(credential.created_at),
            created_by: credential.created_by.clone(),
            expires_at: credential.expires_at.map(key_format),
            secret_hash: credential.secret.hash.as_phc().to_owned(),
            secret_version: credential.secret.version,
            secret_rotated_at: credential.secret.rotated_at.map(key_format),
            previous_secret_hash: previous.map(|p| p.hash.as_phc().to_owned()),
            previous_secret_valid_until: previous.map(|p| key_format(p.valid_until)),
            suspended_at: credential.suspended_at.map(key_format),
            revoked_at: revocation.map(|r| key_format(r.at)),
            revoked_by: revocation.map(|r| r.by.clone()),
            revocation_reason: revocation.and_then(|r| r.reason.as_ref().map(Reason::to_string)),
            expiry_recorded_at: credential.expiry_recorded_at.map(key_format),
            expiry_notice_recorded_at: credential.expiry_notice_recorded_at.map(key_format),
            last_used_at: credential.last_used_at.map(key_format),
            version: credential.version,
            ttl: retention.credential_expires_at(credential).map(epoch),
        }
    }

    fn into_credential(self) -> Result<Credential, StoreError> {
        if self.entity != ENTITY_CREDENTIAL {
            return Err(StoreError::Corrupt(format!(
                "expected a credential, found {}",
                self.entity
            )));
        }
        let client_id = ClientId::parse(&self.client_id)
            .ok_or_else(|| corrupt("client_id", &self.client_id))?;
        let tenant =
            TenantId::parse(&self.tenant).ok_or_else(|| corrupt("tenant", &self.tenant))?;
        // Stored text passed validation when it was written; a failure here means the item was
        // edited by hand, and is reported rather than served.
        let name = Name::parse(&self.name).map_err(|_| corrupt("name", &self.name))?;
        let description = Description::parse(&self.description)
            .map_err(|_| corrupt("description", &self.description))?;
        let scopes =
            Scopes::parse(&self.scopes).map_err(|_| corrupt("scopes", &self.scopes.join(" ")))?;
        let environment = Environment::parse(&self.environment)
            .ok_or_else(|| corrupt("environment", &self.environment))?;
        let monthly_request_quota = self
            .monthly_request_quota
            .map(|q| {
                RequestQuota::new(q).map_err(|_| corrupt("monthly_request_quota", &q.to_string()))
            })
            .transpose()?;
        let previous = match (self.previous_secret_hash, &self.previous_secret_valid_until) {
            (Some(hash), Some(until)) => Some(PreviousSecret {
                hash: SecretHash::from_phc(hash),
                valid_until: stored_time("previous_secret_valid_until", until)?,
            }),
            (None, None) => None,
            // Half a grace period cannot be honoured either way: report it, as other damage.
            (Some(_), None) => {
                return Err(StoreError::Corrupt(
                    "previous_secret_hash has no previous_secret_valid_until".into(),
                ));
            }
            (None, Some(until)) => return Err(corrupt("previous_secret_valid_until", until)),
        };
        let revocation = match &self.revoked_at {
            Some(at) => Some(Revocation {
                at: stored_time("revoked_at", at)?,
                by: self.revoked_by.unwrap_or_default(),
                reason: self
                    .revocation_reason
                    .as_deref()
                    .map(Reason::parse)
                    .transpose()
                    .map_err(|_| StoreError::Corrupt("revocation_reason is unreadable".into()))?,
            }),
            None => None,
        };
        Ok(Credential {
            client_id,
            tenant,
            name,
            description,
            scopes,
            environment,
            monthly_request_quota,
            created_at: stored_time("created_at", &self.created_at)?,
            created_by: self.created_by,
            expires_at: stored_time_opt("expires_at", self.expires_at.as_ref())?,
            secret: SecretRecord {
                hash: SecretHash::from_phc(self.secret_hash),
                version: self.secret_version,
                rotated_at: stored_time_opt("secret_rotated_at", self.secret_rotated_at.as_ref())?,
                previous,
            },
            suspended_at: stored_time_opt("suspended_at", self.suspended_at.as_ref())?,
            revocation,
            expiry_recorded_at: stored_time_opt(
                "expiry_recorded_at",
                self.expiry_recorded_at.as_ref(),
            )?,
            expiry_notice_recorded_at: stored_time_opt(
                "expiry_notice_recorded_at",
                self.expiry_notice_recorded_at.as_ref(),
            )?,
            last_used_at: stored_time_opt("last_used_at", self.last_used_at.as_ref())?,
            version: self.version,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct AuditItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    entity: String,
    #[serde(flatten)]
    event: AuditEvent,
    ttl: i64,
}

impl AuditItem {
    fn from_event(event: &AuditEvent, retention: &Retention) -> Self {
        let key = audit_key(event);
        Self {
            pk: credential_pk(&event.client_id),
            sk: key.clone(),
            gsi1pk: tenant_pk(&event.tenant),
            gsi1sk: key,
            entity: ENTITY_AUDIT.to_owned(),
            event: event.clone(),
            ttl: epoch(retention.audit_expires_at(event)),
        }
    }
}

/// A request made with an idempotency key. The key is not here, only its digest; the secret
/// is sealed under a key derived from it (see `crate::idempotency`).
#[derive(Debug, Serialize, Deserialize)]
struct IdempotencyItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    tenant: String,
    key_digest: String,
    operation: String,
    client_id: String,
    fingerprint: String,
    /// The response body without the secret, as JSON text.
    response: String,
    #[serde(with = "serde_bytes_base64")]
    sealed_secret: Vec<u8>,
    created_at: String,
    ttl: i64,
}

/// Binary attributes as base64 text: the item stays readable in the console and in scans.
mod serde_bytes_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

impl IdempotencyItem {
    fn from_record(record: &IdempotencyRecord) -> Self {
        Self {
            pk: idempotency_pk(&record.tenant, &record.key),
            sk: IDEMPOTENCY_SK.to_owned(),
            entity: ENTITY_IDEMPOTENCY.to_owned(),
            tenant: record.tenant.to_string(),
            key_digest: record.key.as_str().to_owned(),
            operation: record.operation.as_str().to_owned(),
            client_id: record.client_id.to_string(),
            fingerprint: record.fingerprint.as_str().to_owned(),
            response: record.response.to_string(),
            sealed_secret: record.sealed_secret.clone(),
            created_at: key_format(record.created_at),
            ttl: epoch(record.expires_at),
        }
    }

    fn into_record(self) -> Result<IdempotencyRecord, StoreError> {
        if self.entity != ENTITY_IDEMPOTENCY {
            return Err(StoreError::Corrupt(format!(
                "expected an idempotency record, found {}",
                self.entity
            )));
        }
        Ok(IdempotencyRecord {
            tenant: TenantId::parse(&self.tenant).ok_or_else(|| corrupt("tenant", &self.tenant))?,
            key: KeyDigest::parse(&self.key_digest)
                .ok_or_else(|| corrupt("key_digest", &self.key_digest))?,
            operation: Operation::parse(&self.operation)
                .ok_or_else(|| corrupt("operation", &self.operation))?,
            client_id: ClientId::parse(&self.client_id)
                .ok_or_else(|| corrupt("client_id", &self.client_id))?,
            fingerprint: Fingerprint::from_stored(&self.fingerprint),
            response: serde_json::from_str(&self.response)
                .map_err(|_| corrupt("response", &self.response))?,
            sealed_secret: self.sealed_secret,
            created_at: stored_time("created_at", &self.created_at)?,
            expires_at: chrono::DateTime::from_timestamp(self.ttl, 0)
                .ok_or_else(|| corrupt("ttl", &self.ttl.to_string()))?,
        })
    }
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode item: {e}")))
}

fn from_item<'a, T: Deserialize<'a>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode item: {e}")))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))])
}

/// Item time-to-live as DynamoDB stores it, or `None` when the item has none.
fn ttl_of(item: &Item) -> Option<i64> {
    match item.get(TABLE.ttl_attribute) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// DynamoDB deletes expired items up to days late; every read treats them as gone already.
fn is_live(item: &Item, now: Timestamp) -> bool {
    ttl_of(item).is_none_or(|ttl| ttl > epoch(now))
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Throttling, timeouts and unreachable endpoints become `Unavailable` (the caller may retry);
/// everything else is a `Backend` error, which no caller should ever see the details of.
pub(crate) fn map_sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => matches!(
            service.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "LimitExceededException"
            )
        ),
        _ => false,
    };
    let text = DisplayErrorContext(&err).to_string();
    if transient {
        StoreError::Unavailable(text)
    } else {
        StoreError::Backend(text)
    }
}

/// Reads why DynamoDB cancelled a transaction whose first item is the credential write.
///
/// A cancellation is an answer: DynamoDB evaluated the transaction and wrote nothing. (Had an
/// earlier attempt of the SDK's committed, the retry, carrying the same client request token,
/// would have been answered with success instead.) Anything else that makes the write fail
/// after the request may have left (a timeout, a dropped connection, an error on DynamoDB's
/// side, or throttling of a retry whose first attempt timed out) leaves its outcome unknown.
/// Where a write's idempotency record sits in its transaction: after the change and its event.
const REMEMBERED_ITEM: usize = 2;

fn map_transaction_error<R: std::fmt::Debug>(
    err: SdkError<TransactWriteItemsError, R>,
    on_condition_failed: StoreError,
) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    {
        let codes: Vec<&str> = cancelled
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().unwrap_or("None"))
            .collect();
        // The idempotency record, when there is one, is the third item; its failure explains
        // any other (the twin request that wrote it also changed the credential).
        if codes.get(REMEMBERED_ITEM) == Some(&"ConditionalCheckFailed") {
            return StoreError::IdempotencyKeyTaken;
        }
        if codes.first() == Some(&"ConditionalCheckFailed") {
            return on_condition_failed;
        }
        if codes.contains(&"TransactionConflict") {
            return StoreError::Conflict;
        }
        if codes.iter().any(|c| {
            matches!(
                *c,
                "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded"
            )
        }) {
            return StoreError::Unavailable(format!("transaction throttled: {codes:?}"));
        }
        return StoreError::Backend(format!("transaction cancelled: {codes:?}"));
    }
    match map_sdk_error(err) {
        StoreError::Unavailable(cause) => StoreError::OutcomeUnknown(cause),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Writes

/// `SET` every attribute the new state has and `REMOVE` every optional one it lacks, except
/// what lifecycle writes do not own. An update, not a put, so that a concurrent
/// `last_used_at` written by the token endpoint survives.
fn lifecycle_update(item: Item) -> (String, HashMap<String, String>, Item) {
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
    fn audit_put(&self, event: &AuditEvent) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&AuditItem::from_event(
                event,
                &self.retention,
            ))?))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Writes `first` and the audit event atomically. The event's ID doubles as the
    /// idempotency token, so an SDK retry of a write that did land is not reported as a conflict.
    /// An idempotency record, unless a live one already has its key (an expired one that
    /// DynamoDB has not deleted yet may be replaced).
    fn remembered_put(&self, record: &IdempotencyRecord) -> Result<TransactWriteItem, StoreError> {
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

    async fn transact(
        &self,
        first: TransactWriteItem,
        event: &AuditEvent,
        remembered: Option<&IdempotencyRecord>,
        on_condition_failed: StoreError,
    ) -> Result<(), StoreError> {
        let mut items = vec![first, self.audit_put(event)?];
        if let Some(record) = remembered {
            items.push(self.remembered_put(record)?);
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(event.id.as_str())
            .send()
            .await
            .map_err(|e| map_transaction_error(e, on_condition_failed))?;
        Ok(())
    }

    /// An unconditional put of an item outside the lifecycle (checkpoint, deny-list entry).
    async fn put_item(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }

    /// The items of up to [`BATCH_GET_MAX_KEYS`] keys in one round trip (more only for keys
    /// DynamoDB leaves unprocessed, retried with backoff). Keys still unprocessed after
    /// [`BATCH_GET_ATTEMPTS`] are an error: an item left unread would pass for an absent one.
    async fn batch_get(&self, keys: Vec<Item>, consistent: bool) -> Result<Vec<Item>, StoreError> {
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
                _ => return Ok(items),
            }
        }
        Err(StoreError::Unavailable(format!(
            "{} items still unprocessed after {BATCH_GET_ATTEMPTS} attempts",
            pending.keys().len()
        )))
    }

    async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
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

// ---------------------------------------------------------------------------------------------
// Queries

/// One query, paged through until `want` matching items are in hand or the partition ends.
struct Query<'a> {
    index: Option<&'static str>,
    key_condition: &'a str,
    filter: String,
    names: HashMap<String, String>,
    values: Item,
    start: Option<Item>,
}

/// Matching items in listing order, and where to resume if the round-trip budget ran out
/// before `want` items were found.
struct Found {
    items: Vec<Item>,
    resume_from: Option<Item>,
}

impl DynamoStore {
    async fn query(&self, mut query: Query<'_>, want: usize) -> Result<Found, StoreError> {
        let mut items = Vec::new();
        for _ in 0..MAX_QUERY_ROUND_TRIPS {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(query.index.map(str::to_owned))
                .key_condition_expression(query.key_condition)
                .filter_expression(&query.filter)
                .set_expression_attribute_names(Some(query.names.clone()))
                .set_expression_attribute_values(Some(query.values.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from((want - items.len()).max(25)).unwrap_or(i32::MAX))
                .set_exclusive_start_key(query.start.take())
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

    /// The filter every read applies: items past their TTL are gone, whether or not DynamoDB
    /// has deleted them yet.
    fn live_filter(&self, names: &mut HashMap<String, String>, values: &mut Item) -> &'static str {
        names.insert("#ttl".into(), TABLE.ttl_attribute.into());
        values.insert(":now_epoch".into(), n(epoch(self.clock.now())));
        "(attribute_not_exists(#ttl) OR #ttl > :now_epoch)"
    }

    /// Builds a page from a query's results, ending it at the resume point when the round-trip
    /// budget ran out first.
    fn page<T>(
        found: Found,
        limit: usize,
        decode: impl Fn(Item) -> Result<T, StoreError>,
        cursor_of: impl Fn(&T) -> Cursor,
        resume_cursor: impl Fn(&Item) -> Option<Cursor>,
    ) -> Result<Page<T>, StoreError> {
        let items = found
            .items
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let mut page = page_from(items, limit, cursor_of);
        if page.next_cursor.is_none() {
            page.next_cursor = found.resume_from.as_ref().and_then(resume_cursor);
        }
        Ok(page)
    }
}

fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// A cursor at a position DynamoDB reported (`LastEvaluatedKey`).
fn cursor_at(key: &Item, sort_attribute: &str) -> Option<Cursor> {
    let client_id = string_attr(key, "PK")?
        .strip_prefix("CRED#")
        .and_then(ClientId::parse)?;
    Some(Cursor {
        sort_key: string_attr(key, sort_attribute)?.to_owned(),
        client_id,
    })
}

/// The filter expression for a computed status, and whether it compares against `:now`.
fn status_filter(status: Status) -> (&'static str, bool) {
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
impl SweepIndex for DynamoStore {
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

    async fn due(
        &self,
        hour: Timestamp,
        until: Timestamp,
        after: Option<&DueCursor>,
        limit: usize,
    ) -> Result<DuePage, StoreError> {
        let bucket = sweep_bucket(hour);
        let start = after.map(|cursor| {
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
            .expression_attribute_values(":until", s(sweep_sort_key_until(until)))
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
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
                let client_id = pk
                    .strip_prefix("CRED#")
                    .and_then(ClientId::parse)
                    .ok_or_else(|| corrupt("PK", &pk))?;
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

// ---------------------------------------------------------------------------------------------
// Lifecycle writes, with or without an idempotency record

impl DynamoStore {
    async fn insert_with(
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
            &created.event,
            remembered,
            StoreError::AlreadyExists,
        )
        .await
    }

    async fn update_with(
        &self,
        expected_version: u64,
        change: &Transition,
        remembered: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
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
        self.transact(
            TransactWriteItem::builder().update(update).build(),
            &change.event,
            remembered,
            StoreError::Conflict,
        )
        .await
    }
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
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

// ---------------------------------------------------------------------------------------------
// Ports

#[async_trait]
impl CredentialStore for DynamoStore {
    async fn insert(&self, created: &Transition) -> Result<(), StoreError> {
        self.insert_with(created, None).await
    }

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

    async fn update(&self, expected_version: u64, change: &Transition) -> Result<(), StoreError> {
        self.update_with(expected_version, change, None).await
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
        self.transact(
            TransactWriteItem::builder().delete(delete).build(),
            event,
            None,
            StoreError::Conflict,
        )
        .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        status: Option<Status>,
        page: &PageRequest,
    ) -> Result<Page<Credential>, StoreError> {
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
        let start = match &page.cursor {
            Some(cursor) => {
                let cursor = cursor.check(Listing::Credentials)?;
                let mut start = key(credential_pk(&cursor.client_id), CREDENTIAL_SK);
                start.insert("GSI1PK".into(), s(tenant_pk(tenant)));
                start.insert("GSI1SK".into(), s(cursor.sort_key.clone()));
                Some(start)
            }
            None => None,
        };
        let query = Query {
            index: Some(GSI1),
            key_condition: "GSI1PK = :pk AND begins_with(GSI1SK, :prefix)",
            filter,
            names,
            values,
            start,
        };
        let found = self.query(query, page.limit + 1).await?;
        Self::page(
            found,
            page.limit,
            |item| from_item::<CredentialItem>(item)?.into_credential(),
            Cursor::for_credential,
            |key| cursor_at(key, "GSI1SK"),
        )
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
        let (index, key_condition, filter, sort_attribute, start) = match scope {
            AuditScope::Tenant(tenant) => {
                values.insert(":pk".into(), s(tenant_pk(tenant)));
                let start = cursor.map(|c| {
                    let mut start = key(credential_pk(&c.client_id), c.sort_key.clone());
                    start.insert("GSI1PK".into(), s(tenant_pk(tenant)));
                    start.insert("GSI1SK".into(), s(c.sort_key.clone()));
                    start
                });
                let condition = "GSI1PK = :pk AND begins_with(GSI1SK, :prefix)";
                (Some(GSI1), condition, live.to_owned(), "GSI1SK", start)
            }
            AuditScope::Credential(tenant, client_id) => {
                values.insert(":pk".into(), s(credential_pk(client_id)));
                values.insert(":tenant".into(), s(tenant.as_str()));
                let start = cursor.map(|c| key(credential_pk(client_id), c.sort_key.clone()));
                let condition = "PK = :pk AND begins_with(SK, :prefix)";
                (
                    None,
                    condition,
                    format!("{live} AND tenant = :tenant"),
                    "SK",
                    start,
                )
            }
        };
        let query = Query {
            index,
            key_condition,
            filter,
            names,
            values,
            start,
        };
        let found = self.query(query, page.limit + 1).await?;
        Self::page(
            found,
            page.limit,
            |item| Ok(from_item::<AuditItem>(item)?.event),
            Cursor::for_event,
            |key| cursor_at(key, sort_attribute),
        )
    }
}

#[async_trait]
impl UsageStore for DynamoStore {
    async fn record_uses(&self, batch: &UsageBatch) -> Result<(), StoreError> {
        let client_id = &batch.client_id;
        let at = batch.latest;
        // A one-item transaction rather than a plain update for its client request token:
        // DynamoDB applies a retried batch (its answer lost) only once, so an `ADD` can be
        // retried without counting twice.
        let add = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(credential_pk(client_id), UsageMonth::of(at).sort_key())))
            .update_expression(
                "ADD request_count :uses SET last_used_at = :at, #ttl = :ttl, entity = :entity, client_id = :client_id",
            )
            .expression_attribute_names("#ttl", TABLE.ttl_attribute)
            .expression_attribute_values(":uses", n(batch.uses))
            .expression_attribute_values(":at", s(key_format(at)))
            .expression_attribute_values(":ttl", n(epoch(at + self.retention.usage_counters)))
            .expression_attribute_values(":entity", s(ENTITY_USAGE))
            .expression_attribute_values(":client_id", s(client_id.as_str()))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let counter = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(add).build())
            .client_request_token(&batch.write_id)
            .send();
        if !batch.refresh_last_used {
            counter
                .await
                .map_err(|e| map_transaction_error(e, StoreError::Conflict))?;
            return Ok(());
        }
        let last_used = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(credential_pk(client_id), CREDENTIAL_SK)))
            .update_expression("SET last_used_at = :at")
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(last_used_at) OR last_used_at < :at)",
            )
            .expression_attribute_values(":at", s(key_format(at)))
            .send();
        let (counter, last_used) = tokio::join!(counter, last_used);
        counter.map_err(|e| map_transaction_error(e, StoreError::Conflict))?;
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

    async fn request_counts(
        &self,
        client_ids: &[ClientId],
        month: UsageMonth,
    ) -> Result<HashMap<ClientId, u64>, StoreError> {
        let mut counts = HashMap::new();
        let now = self.clock.now();
        for chunk in client_ids.chunks(BATCH_GET_MAX_KEYS) {
            let keys = chunk
                .iter()
                .map(|id| key(credential_pk(id), month.sort_key()))
                .collect();
            for item in self.batch_get(keys, false).await? {
                if !is_live(&item, now) {
                    continue;
                }
                let pk = string_attr(&item, "PK").unwrap_or_default();
                let client_id = pk
                    .strip_prefix("CRED#")
                    .and_then(ClientId::parse)
                    .ok_or_else(|| corrupt("PK", pk))?;
                counts.insert(client_id, usage_count(&item)?);
            }
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

    async fn is_token_denied(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(self
            .get_item(key(denied_token_pk(jti), DENIED_TOKEN_SK))
            .await?
            .is_some())
    }
}

#[async_trait]
impl FailureCounter for DynamoStore {
    async fn failures(
        &self,
        client_id: &ClientId,
        window_start: Timestamp,
    ) -> Result<u32, StoreError> {
        self.get_item(key(throttle_pk(client_id), failure_window_sk(window_start)))
            .await?
            .map_or(Ok(0), |item| failure_count(&item))
    }

    async fn credential_and_failures(
        &self,
        client_id: &ClientId,
        window_start: Timestamp,
    ) -> Result<(Option<Credential>, u32), StoreError> {
        let credential_pk = credential_pk(client_id);
        let items = self
            .batch_get(
                vec![
                    key(credential_pk.clone(), CREDENTIAL_SK),
                    key(throttle_pk(client_id), failure_window_sk(window_start)),
                ],
                true,
            )
            .await?;
        let mut credential = None;
        let mut failures = 0;
        for item in items {
            if string_attr(&item, "PK") == Some(credential_pk.as_str()) {
                credential = Some(from_item::<CredentialItem>(item)?.into_credential()?);
            } else {
                failures = failure_count(&item)?;
            }
        }
        Ok((credential, failures))
    }

    async fn record_failure(
        &self,
        client_id: &ClientId,
        window_start: Timestamp,
        window_end: Timestamp,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                throttle_pk(client_id),
                failure_window_sk(window_start),
            )))
            .update_expression("ADD failures :one SET #ttl = :ttl, entity = :entity")
            .expression_attribute_names("#ttl", TABLE.ttl_attribute)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(epoch(window_end)))
            .expression_attribute_values(":entity", s(ENTITY_FAILURES))
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(())
    }
}

#[async_trait]
impl CredentialStateReader for DynamoStore {
    async fn credential_state(
        &self,
        client_id: &ClientId,
        jti: Option<&str>,
        month: Option<UsageMonth>,
    ) -> Result<CredentialState, StoreError> {
        let credential_pk = credential_pk(client_id);
        let usage_sk = month.map(UsageMonth::sort_key);
        let mut keys = vec![key(credential_pk.clone(), CREDENTIAL_SK)];
        keys.extend(
            usage_sk
                .iter()
                .map(|sk| key(credential_pk.clone(), sk.clone())),
        );
        keys.extend(jti.map(|jti| key(denied_token_pk(jti), DENIED_TOKEN_SK)));
        let now = self.clock.now();
        let mut state = CredentialState {
            credential: None,
            token_denied: false,
            uses_this_month: month.map(|_| 0),
        };
        for item in self.batch_get(keys, true).await? {
            if !is_live(&item, now) {
                continue;
            }
            match (string_attr(&item, "PK"), string_attr(&item, "SK")) {
                (Some(pk), Some(CREDENTIAL_SK)) if pk == credential_pk => {
                    state.credential = Some(from_item::<CredentialItem>(item)?.into_credential()?);
                }
                (Some(pk), Some(sk)) if pk == credential_pk && Some(sk) == usage_sk.as_deref() => {
                    state.uses_this_month = Some(usage_count(&item)?);
                }
                _ => state.token_denied = true,
            }
        }
        Ok(state)
    }
}

/// A usage counter's count; anything but a number is corruption, not zero.
fn usage_count(item: &Item) -> Result<u64, StoreError> {
    match item.get("request_count") {
        Some(AttributeValue::N(value)) => value
            .parse::<u64>()
            .map_err(|_| corrupt("request_count", value)),
        _ => Err(StoreError::Corrupt(
            "a usage counter has no numeric request_count".into(),
        )),
    }
}

/// A failure counter's count; anything but a number is corruption, not zero.
fn failure_count(item: &Item) -> Result<u32, StoreError> {
    match item.get("failures") {
        Some(AttributeValue::N(count)) => count.parse().map_err(|_| corrupt("failures", count)),
        _ => Err(StoreError::Corrupt(
            "a failure counter has no numeric failures".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Actor, ActorRole, Context};
    use crate::lifecycle::{self, NewCredential};

    fn sample(all_optional: bool) -> Credential {
        let now = parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let context = Context {
            actor: Actor {
                subject: "u1".into(),
                role: ActorRole::Admin,
            },
            now,
            request_id: None,
        };
        let mut credential = lifecycle::create(
            NewCredential {
                tenant: TenantId::parse("acme").unwrap(),
                name: Name::parse("n").unwrap(),
                description: Description::parse("").unwrap(),
                scopes: Scopes::parse(&["a:b"]).unwrap(),
                environment: Environment::Live,
                expires_at: None,
                monthly_request_quota: all_optional.then(|| RequestQuota::new(1_000).unwrap()),
            },
            ClientId::generate(),
            SecretHash::from_phc("$argon2id$x".into()),
            &context,
        )
        .unwrap()
        .credential;
        if all_optional {
            credential.expires_at = Some(now);
            credential.secret.rotated_at = Some(now);
            credential.secret.previous = Some(PreviousSecret {
                hash: SecretHash::from_phc("$argon2id$y".into()),
                valid_until: now,
            });
            credential.suspended_at = Some(now);
            credential.revocation = Some(Revocation {
                at: now,
                by: "u2".into(),
                reason: Some(Reason::parse("r").unwrap()),
            });
            credential.expiry_recorded_at = Some(now);
            credential.expiry_notice_recorded_at = Some(now);
            credential.last_used_at = Some(now);
        }
        credential
    }

    #[test]
    fn optional_attribute_list_matches_the_item() {
        let full: Vec<String> = to_item(&CredentialItem::from_credential(
            &sample(true),
            &Retention::default(),
            None,
        ))
        .unwrap()
        .into_keys()
        .collect();
        let minimal = to_item(&CredentialItem::from_credential(
            &sample(false),
            &Retention::default(),
            None,
        ))
        .unwrap();
        let mut optional: Vec<&str> = full
            .iter()
            .map(String::as_str)
            .filter(|k| !minimal.contains_key(*k) && !NOT_WRITTEN_BY_LIFECYCLE.contains(k))
            .collect();
        // A revoked credential leaves the sweep index, so fill GSI2 from a live one.
        optional.extend(["GSI2PK", "GSI2SK"]);
        optional.sort_unstable();
        let mut expected = OPTIONAL_ATTRIBUTES.to_vec();
        expected.sort_unstable();
        assert_eq!(optional, expected);
    }

    #[test]
    fn credential_items_round_trip() {
        for credential in [sample(false), sample(true)] {
            let item = to_item(&CredentialItem::from_credential(
                &credential,
                &Retention::default(),
                None,
            ))
            .unwrap();
            let back = from_item::<CredentialItem>(item)
                .unwrap()
                .into_credential()
                .unwrap();
            assert_eq!(back, credential);
        }
    }

    #[test]
    fn lifecycle_updates_remove_absent_optionals_and_spare_usage() {
        let item = to_item(&CredentialItem::from_credential(
            &sample(false),
            &Retention::default(),
            None,
        ))
        .unwrap();
        let (expression, names, _) = lifecycle_update(item);
        assert!(expression.contains(" REMOVE "));
        let named: Vec<&String> = names.values().collect();
        assert!(
            !named
                .iter()
                .any(|n| n.as_str() == "last_used_at" || n.as_str() == "PK")
        );
        for optional in OPTIONAL_ATTRIBUTES {
            assert!(named.iter().any(|n| n.as_str() == optional), "{optional}");
        }
    }
}
