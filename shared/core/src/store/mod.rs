//! The storage port: narrow traits the handlers depend on, and the two adapters that implement
//! them (DynamoDB for real, memory for fast tests and `STORE=memory`). Both pass one contract
//! suite (`tests/tests/integration/store_contract.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, NaiveDate};

use crate::audit::AuditEvent;
use crate::credential::{Credential, Status};
use crate::idempotency::{IdempotencyRecord, KeyDigest};
use crate::ids::{ClientId, TenantId};
use crate::leak::{IssuedSecret, SecretFingerprint};
use crate::lifecycle::{LeakRecord, PolicyChange, Transition};
use crate::policy::StoredPolicy;
use crate::source::SourceAddress;
use crate::time::Timestamp;
use crate::usage_days::{DayCounts, UsageRange};

mod events;
pub mod keys;
pub mod memory;

pub use events::{
    DeliveryLog, DeliveryStore, EndpointChange, EventFeed, EventRecorder, FeedPosition,
    WebhookReader, WebhookWriter,
};
pub use keys::{Cursor, USAGE_SHARDS, UsageMonth, UsageShard};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the item's version or state is no longer what the caller read.
    #[error("the credential was changed by another request")]
    Conflict,
    #[error("an item with this key already exists")]
    AlreadyExists,
    /// A write carrying an idempotency record lost to another request with the same key,
    /// whose record is now stored; nothing of this write was applied.
    #[error("another request with this idempotency key was applied first")]
    IdempotencyKeyTaken,
    #[error("the pagination cursor is not valid for this listing")]
    InvalidCursor,
    /// Throttling, timeouts, an unreachable endpoint, before anything was written: worth
    /// retrying later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A lifecycle write the database never confirmed (timeouts, dropped connections, errors on
    /// its side, outlasting the client's retries): the transaction may or may not have been
    /// applied, and only reading the credential again tells which. Either way it is all or
    /// nothing, credential and audit event together.
    #[error("the database did not confirm the write, which may or may not have been applied: {0}")]
    OutcomeUnknown(String),
    #[error("a stored item could not be read: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(String),
    /// The tenant already has as many of these as it may.
    #[error("the tenant has reached its limit")]
    LimitReached,
}

/// One page of a listing: newest first, at most `limit` items, and a cursor when there are more.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: usize = 25;
    pub const MAX_LIMIT: usize = 100;

    pub fn first(limit: usize) -> Self {
        Self {
            limit: limit.clamp(1, Self::MAX_LIMIT),
            cursor: None,
        }
    }

    pub fn after(limit: usize, cursor: Cursor) -> Self {
        Self {
            limit: limit.clamp(1, Self::MAX_LIMIT),
            cursor: Some(cursor),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    Tenant(TenantId),
    Credential(TenantId, ClientId),
}

/// How long items outlive their usefulness before DynamoDB's TTL removes them, and how early
/// before an expiry the sweep index brings a credential up for its expiring-soon notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// A revoked or (recorded) expired credential stays visible, and revocable, this long.
    pub ended_credentials: Duration,
    pub audit_events: Duration,
    pub usage_counters: Duration,
    pub expiry_notice: Duration,
    /// How long a secret's fingerprint leads back to its credential after it was issued.
    pub secret_fingerprints: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            ended_credentials: Duration::days(90),
            audit_events: Duration::days(400),
            usage_counters: Duration::days(400),
            expiry_notice: Duration::days(7),
            secret_fingerprints: Duration::days(400),
        }
    }
}

impl Retention {
    /// When a credential item may be removed: a while after it was revoked, or a while after
    /// the expiry the sweeper recorded. Live credentials are kept.
    pub fn credential_expires_at(&self, credential: &Credential) -> Option<Timestamp> {
        if let Some(revocation) = &credential.revocation {
            return Some(revocation.at + self.ended_credentials);
        }
        credential
            .expiry_recorded_at
            .and(credential.expires_at)
            .map(|expired| expired + self.ended_credentials)
    }

    pub fn audit_expires_at(&self, event: &AuditEvent) -> Timestamp {
        event.at + self.audit_events
    }
}

/// Reads one credential.
#[async_trait]
pub trait CredentialReader: Send + Sync {
    /// Strongly consistent. `None` for unknown, deleted, or past-retention credentials.
    async fn get(&self, client_id: &ClientId) -> Result<Option<Credential>, StoreError>;
}

/// A page of a tenant's credentials; `status` filters on the status computed at the store's
/// current time.
#[derive(Debug, Clone, Copy)]
pub struct CredentialQuery<'a> {
    pub tenant: &'a TenantId,
    pub status: Option<Status>,
    /// Only credentials not used since this time (a never-used one: not created since).
    pub unused_since: Option<Timestamp>,
    pub page: &'a PageRequest,
}

/// Lists a tenant's credentials.
#[async_trait]
pub trait CredentialListing: Send + Sync {
    /// Newest first.
    async fn list(&self, query: &CredentialQuery<'_>) -> Result<Page<Credential>, StoreError>;
}

/// Adds and removes credentials. Every write carries its audit event and lands atomically
/// with it.
#[async_trait]
pub trait CredentialWriter: Send + Sync {
    /// Fails with `AlreadyExists` if the client ID is taken.
    async fn insert(&self, created: &Transition) -> Result<(), StoreError>;
    /// Fails with `Conflict` unless the stored version is still `credential.version`.
    async fn delete(&self, credential: &Credential, event: &AuditEvent) -> Result<(), StoreError>;
}

/// Applies a lifecycle transition to a stored credential, with its audit event, atomically,
/// conditioned on the version the caller read.
#[async_trait]
pub trait TransitionWriter: Send + Sync {
    /// Fails with `Conflict` unless the stored version is still `expected_version`.
    async fn update(&self, expected_version: u64, change: &Transition) -> Result<(), StoreError>;
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Newest first.
    async fn list_events(
        &self,
        scope: &AuditScope,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, StoreError>;
}

/// One credential's uses and refusals on one UTC day, as one flush of a usage recorder writes
/// them: added to the day's counts and, the uses, to the month's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBatch {
    pub client_id: ClientId,
    /// The credential's tenant, under which its days are listed.
    pub tenant: TenantId,
    pub day: NaiveDate,
    pub counts: DayCounts,
    /// The latest use (or first refusal) counted: it picks the month.
    pub latest: Timestamp,
    /// Also set the credential's `last_used_at` and `last_used_from` to this use (callers do
    /// at most once a minute: it is shown, not billed, and skipping it halves the writes of a
    /// busy client).
    pub refresh: Option<LastUse>,
    /// Identifies this batch: writing it again with the same ID (a retry after an answer that
    /// was lost) counts nothing more, for at least [`USAGE_WRITE_ID_LIFETIME`].
    pub write_id: String,
    /// Which of the credential's counter items the batch adds to (its instance's).
    pub shard: UsageShard,
}

/// A use: when, and from which source address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUse {
    pub at: Timestamp,
    pub from: SourceAddress,
}

impl UsageBatch {
    /// A batch with a write ID of its own.
    pub fn new(
        client_id: ClientId,
        tenant: TenantId,
        day: NaiveDate,
        counts: DayCounts,
        latest: Timestamp,
        refresh: Option<LastUse>,
    ) -> Self {
        Self {
            client_id,
            tenant,
            day,
            counts,
            latest,
            refresh,
            write_id: ulid::Ulid::generate().to_string(),
            shard: UsageShard::FIRST,
        }
    }

    /// The batch, added to `shard` of the credential's counters.
    pub fn in_shard(self, shard: UsageShard) -> Self {
        Self { shard, ..self }
    }
}

/// One credential's counts on one day, as the tenant's days are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedDay {
    pub client_id: ClientId,
    pub day: NaiveDate,
    pub counts: DayCounts,
}

/// Reads the counts of days.
#[async_trait]
pub trait DailyUsageReader: Send + Sync {
    /// A credential's counted days in `range`; a day with nothing counted is absent.
    async fn credential_days(
        &self,
        client_id: &ClientId,
        range: &UsageRange,
    ) -> Result<HashMap<NaiveDate, DayCounts>, StoreError>;
    /// The counted days in `range` of every credential of `tenant` (deleted ones included).
    async fn tenant_days(
        &self,
        tenant: &TenantId,
        range: &UsageRange,
    ) -> Result<Vec<CountedDay>, StoreError>;
}

/// How long a store remembers a usage batch's write ID (DynamoDB keeps a transaction's client
/// request token for ten minutes).
pub const USAGE_WRITE_ID_LIFETIME: Duration = Duration::minutes(10);

/// Counts uses, a batch at a time.
#[async_trait]
pub trait UsageWriter: Send + Sync {
    /// Adds the batch's uses to its month's count in one atomic, idempotent write.
    async fn record_uses(&self, batch: &UsageBatch) -> Result<(), StoreError>;
}

/// Reads the counted uses.
#[async_trait]
pub trait UsageReader: Send + Sync {
    /// Uses in `month`; credentials with none are absent from the map.
    async fn request_counts(
        &self,
        client_ids: &[ClientId],
        month: UsageMonth,
    ) -> Result<HashMap<ClientId, u64>, StoreError>;
}

#[async_trait]
pub trait TokenDenyList: Send + Sync {
    /// Remembers a revoked token until it would have expired anyway.
    async fn deny_token(&self, jti: &str, token_expires_at: Timestamp) -> Result<(), StoreError>;
}

/// Failed client authentications in one fixed time window, as throttling counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    /// For one client ID from one source address.
    pub client_from_source: u32,
    /// From one source address, across all client IDs (unknown ones included).
    pub source: u32,
}

/// What an authentication reads before it decides whether to spend a hash: the credential and
/// the failures that may throttle the request. Counting per address (never per client ID
/// alone) keeps a stranger who knows a public client ID from locking its owner out.
#[async_trait]
pub trait ThrottleReader: Send + Sync {
    /// The credential (strongly consistent) and the failures recorded in the attempt's window,
    /// and the policy of `policy_of` if given (the tenant the caller expects the credential to
    /// be in), in one round trip.
    async fn credential_and_failures(
        &self,
        attempt: &Attempt<'_>,
        policy_of: Option<&TenantId>,
    ) -> Result<ClientRead, StoreError>;
}

/// What [`ThrottleReader::credential_and_failures`] read.
#[derive(Debug, Clone)]
pub struct ClientRead {
    pub credential: Option<Credential>,
    pub failures: Failures,
    /// The policy asked for; `None` when none was.
    pub policy: Option<StoredPolicy>,
}

/// Reads a tenant's policy.
#[async_trait]
pub trait PolicyReader: Send + Sync {
    /// Strongly consistent; the open policy (version 0) for a tenant that never set one.
    async fn policy(&self, tenant: &TenantId) -> Result<StoredPolicy, StoreError>;
}

/// Replaces a tenant's policy, with its audit event, atomically, conditioned on the version
/// the caller read.
#[async_trait]
pub trait PolicyWriter: Send + Sync {
    /// Fails with `Conflict` unless the stored version is still `expected_version` (0: the
    /// tenant has none stored).
    async fn put_policy(
        &self,
        expected_version: u64,
        change: &PolicyChange,
    ) -> Result<(), StoreError>;
}

/// A client authentication, as throttling counts it: the client ID, where it came from, and
/// the fixed window it falls in.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub client_id: &'a ClientId,
    pub source: &'a SourceAddress,
    /// The fixed window it falls in.
    pub window_start: Timestamp,
    pub window_end: Timestamp,
}

/// Counts failed client authentications per client ID and source address, and per source
/// address, in fixed time windows.
#[async_trait]
pub trait FailureRecorder: Send + Sync {
    /// Counts the attempt as failed in both counts; the counters expire (by TTL) at the
    /// window's end.
    async fn record_failure(&self, failure: &Attempt<'_>) -> Result<(), StoreError>;
}

/// What the request authorizer needs to know about a token's credential, read together.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialState {
    /// Strongly consistent; `None` for unknown, deleted or past-retention credentials.
    pub credential: Option<Credential>,
    /// Whether the token asked about is on the deny list (RFC 7009).
    pub token_denied: bool,
    /// Uses stored in the month asked about; `None` when none was.
    pub uses_this_month: Option<u64>,
    /// The policy of the tenant asked about; `None` when none was asked.
    pub policy: Option<StoredPolicy>,
}

/// What to read of a credential's state: the credential, whether the token `jti` is denied
/// (`false` without one), and the stored uses in `month` (if asked: only a credential with a
/// quota needs them, and each key read costs).
#[derive(Debug, Clone, Copy)]
pub struct StateQuery<'a> {
    pub client_id: &'a ClientId,
    pub jti: Option<&'a str>,
    pub month: Option<UsageMonth>,
    /// The tenant whose policy to read too (the one the token names).
    pub policy_of: Option<&'a TenantId>,
}

/// The request authorizer's one read per request.
#[async_trait]
pub trait CredentialStateReader: Send + Sync {
    /// The credential, whether the token `jti` is denied (`false` without one), and the
    /// credential's stored uses in `month` (if asked: only a credential with a quota needs
    /// them, and each key read costs), in one round trip.
    async fn credential_state(&self, read: &StateQuery<'_>) -> Result<CredentialState, StoreError>;
}

/// Where a page of the sweep index ended; the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCursor {
    pub sort_key: String,
    pub client_id: ClientId,
}

/// A page of the sweep index to read: credentials in the bucket of the hour starting at
/// `hour` that are due at or before `until`, after `after`, at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct DueQuery<'a> {
    pub hour: Timestamp,
    pub until: Timestamp,
    pub after: Option<&'a DueCursor>,
    pub limit: usize,
}

/// One page of credentials due in one hour bucket of the sweep index.
#[derive(Debug, Clone)]
pub struct DuePage {
    pub credentials: Vec<Credential>,
    pub next: Option<DueCursor>,
    /// Index entries the store read to answer (DynamoDB's `ScannedCount`): what the page cost.
    pub items_read: u64,
}

/// Where the sweeper got to in the expiry index: its own bookmark, which only it reads and
/// writes.
#[async_trait]
pub trait SweepCheckpoint: Send + Sync {
    /// The start of the oldest hour that may still hold unrecorded work; `None` before the
    /// first sweep.
    async fn sweep_checkpoint(&self) -> Result<Option<Timestamp>, StoreError>;
    async fn save_sweep_checkpoint(&self, hour: Timestamp) -> Result<(), StoreError>;
}

/// The sparse expiry index (GSI2).
#[async_trait]
pub trait SweepIndex: Send + Sync {
    /// One page of the credentials `query` asks for, in due order. Read from an eventually
    /// consistent index: callers write with the version they read, and re-read on a conflict.
    async fn due(&self, query: &DueQuery<'_>) -> Result<DuePage, StoreError>;
}

/// Reads the records of requests made with an idempotency key.
#[async_trait]
pub trait IdempotencyReader: Send + Sync {
    /// The live record for `key` in `tenant` (strongly consistent), if any.
    async fn recall(
        &self,
        tenant: &TenantId,
        key: &KeyDigest,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
}

/// Lifecycle writes made with an idempotency key: the record is written in the same
/// transaction as the change, so that a record exists exactly when its change was applied.
#[async_trait]
pub trait RememberingWriter: Send + Sync {
    /// [`CredentialWriter::insert`] with `record`, atomically; `IdempotencyKeyTaken` when a
    /// live record has the key.
    async fn insert_remembered(
        &self,
        created: &Transition,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError>;
    /// [`TransitionWriter::update`] with `record`, atomically; `IdempotencyKeyTaken` when a
    /// live record has the key (whether or not the version still matches).
    async fn update_remembered(
        &self,
        expected_version: u64,
        change: &Transition,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError>;
}

/// Finds the secrets Clavis issued by their fingerprints (DESIGN: "Leaked secrets").
#[async_trait]
pub trait SecretLookup: Send + Sync {
    /// The secrets issued with these fingerprints within
    /// [`Retention::secret_fingerprints`], whichever tenant's; unknown ones are absent.
    async fn issued_secrets(
        &self,
        fingerprints: &[SecretFingerprint],
    ) -> Result<Vec<IssuedSecret>, StoreError>;

    /// The fingerprints among `secrets` whose leak was already recorded for their credential
    /// (read strongly consistent): a report naming them again has nothing left to do.
    async fn recorded_leaks(
        &self,
        secrets: &[IssuedSecret],
    ) -> Result<HashSet<SecretFingerprint>, StoreError>;
}

/// Records a leak report.
#[async_trait]
pub trait LeakWriter: Send + Sync {
    /// Writes the report's events and change atomically, unless this secret's leak was
    /// recorded for the credential before: `false` then, and nothing written. `Conflict` when
    /// the credential is no longer at the version the record read.
    async fn record_leak(&self, leak: &LeakRecord) -> Result<bool, StoreError>;
}

// Each consumer holds exactly the ports it calls (ARCHITECTURE.md has the table), bundled
// under one name so that it holds one `Arc`; a test's fake implements only those ports, and a
// function's bootstrap links only their implementations.

/// Declares a consumer's bundle of ports, implemented by every store that has them all.
macro_rules! ports {
    ($(#[$doc:meta])* $name:ident: $first:ident $(+ $rest:ident)*) => {
        $(#[$doc])*
        pub trait $name: $first $(+ $rest)* {}
        impl<T: $first $(+ $rest)* + ?Sized> $name for T {}
    };
}

ports! {
    /// The client authenticator's: the credential with the failures that throttle it,
    /// counting a failure, and the credential's tenant policy when it was not read with it.
    ClientPorts: ThrottleReader + FailureRecorder + PolicyReader
}

ports! {
    /// The token service's (introspection and revocation): a token's credential and the deny
    /// list in one read, and denying a token.
    TokenPorts: CredentialStateReader + TokenDenyList
}

ports! {
    /// The request authorizer's: a token's credential state in one read, and a Basic client's
    /// stored uses when its credential has a quota, and the quota thresholds it records.
    VerifierPorts: CredentialStateReader + UsageReader + EventRecorder
}

ports! {
    /// The expiry sweeper's: the index, its bookmark in it, and the transitions it records.
    SweepPorts: SweepIndex + SweepCheckpoint + CredentialReader + TransitionWriter
}

ports! {
    /// The management service's: reading, listing and writing credentials (with their
    /// idempotency records), the audit trail, and the request counts its views show.
    ManagementPorts: CredentialReader
        + CredentialListing
        + CredentialWriter
        + TransitionWriter
        + RememberingWriter
        + IdempotencyReader
        + AuditLog
        + UsageReader
        + DailyUsageReader
        + PolicyReader
        + PolicyWriter
}

ports! {
    /// The webhook management service's: the endpoints, a test event, the deliveries.
    WebhookPorts: WebhookReader + WebhookWriter + EventRecorder + DeliveryLog
}

ports! {
    /// The publisher's (an event to its deliveries) and the deliverer's (one attempt): the
    /// endpoints, the credential an event names, and the deliveries.
    DeliveryPorts: WebhookReader + CredentialReader + DeliveryStore
}

ports! {
    /// The leak responder's: a found secret to its credential, the credential and its
    /// tenant's policy, and the record of what the report did.
    LeakPorts: SecretLookup + CredentialReader + PolicyReader + LeakWriter
}

ports! {
    /// Everything a deployment's storage offers: what one process serving every function (the
    /// local gateway, the test harness) holds and hands out as the bundles above.
    Store: ClientPorts
        + TokenPorts
        + VerifierPorts
        + SweepPorts
        + ManagementPorts
        + UsageWriter
        + WebhookPorts
        + DeliveryPorts
        + LeakPorts
}

pub type SharedStore = Arc<dyn Store>;
