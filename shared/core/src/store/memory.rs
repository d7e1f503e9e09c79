//! The in-memory adapter: the same semantics as DynamoDB (conditional writes, newest-first
//! ordering, cursors, TTL filtering) behind one mutex. For unit tests and `STORE=memory`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::keys::{Listing, audit_key, credential_listing_key, page_from, sweep_sort_key};
use super::{
    Attempt, AuditLog, AuditScope, ClientRead, CountedDay, CredentialListing, CredentialQuery,
    CredentialReader, CredentialState, CredentialStateReader, CredentialWriter, Cursor,
    DailyUsageReader, DueCursor, DuePage, DueQuery, FailureRecorder, Failures, IdempotencyReader,
    Page, PageRequest, PolicyReader, PolicyWriter, RememberingWriter, Retention, StateQuery,
    StoreError, SweepCheckpoint, SweepIndex, ThrottleReader, TokenDenyList, TransitionWriter,
    USAGE_WRITE_ID_LIFETIME, UsageBatch, UsageMonth, UsageReader, UsageWriter,
};
use crate::audit::AuditEvent;
use crate::credential::Credential;
use crate::idempotency::{IdempotencyRecord, KeyDigest};
use crate::ids::{ClientId, TenantId, WebhookId};
use crate::leak::{IssuedSecret, SecretFingerprint};
use crate::lifecycle::PolicyChange;
use crate::lifecycle::Transition;
use crate::policy::StoredPolicy;
use crate::source::SourceAddress;
use crate::time::{Clock, Timestamp};
use crate::usage_days::{DayCounts, UsageRange, day_expires_at};
use crate::webhook::Webhook;
use crate::webhook::delivery::Delivery;
use chrono::NaiveDate;

pub struct MemoryStore {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
    retention: Retention,
}

#[derive(Default)]
struct State {
    credentials: HashMap<ClientId, Credential>,
    events: Vec<AuditEvent>,
    usage: HashMap<(ClientId, UsageMonth), Usage>,
    /// Usage batches written lately, by write ID, and when.
    usage_writes: HashMap<String, Timestamp>,
    denied_tokens: HashMap<String, Timestamp>,
    failures: HashMap<(FailureCount, Timestamp), (u32, Timestamp)>,
    /// GSI2: where each credential sits in the sweep index.
    sweep_index: HashMap<ClientId, Timestamp>,
    sweep_checkpoint: Option<Timestamp>,
    idempotency: HashMap<(TenantId, KeyDigest), IdempotencyRecord>,
    policies: HashMap<TenantId, StoredPolicy>,
    usage_days: HashMap<(ClientId, NaiveDate), CountedDayEntry>,
    /// Endpoints in the order they were made.
    webhooks: Vec<Webhook>,
    deliveries: HashMap<(WebhookId, String), Delivery>,
    /// Markers of events recorded once: (owner partition, marker).
    once: std::collections::HashSet<(String, String)>,
    /// The lookup items of issued secrets, until their TTL.
    secret_lookups: HashMap<SecretFingerprint, (IssuedSecret, Timestamp)>,
}

/// One credential's counts on one day, with its tenant and the day's TTL.
struct CountedDayEntry {
    tenant: TenantId,
    counts: DayCounts,
    expires_at: Timestamp,
}

impl State {
    /// A creation's or rotation's secret, findable by its fingerprint from now on.
    fn remember_issued(&mut self, change: &Transition, retention: &Retention) {
        if let Some(issued) = change.issued_secret() {
            let until = issued.issued_at + retention.secret_fingerprints;
            self.secret_lookups
                .insert(issued.fingerprint.clone(), (issued, until));
        }
    }

    fn index_for_sweep(&mut self, change: &Transition, notice_window: chrono::Duration) {
        let client_id = &change.credential.client_id;
        match change.sweep_index_at(notice_window) {
            Some(at) => self.sweep_index.insert(client_id.clone(), at),
            None => self.sweep_index.remove(client_id),
        };
    }
}

/// Which failure count: the DynamoDB adapter's two counter items.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FailureCount {
    ClientFromSource(ClientId, SourceAddress),
    Source(SourceAddress),
}

struct Usage {
    count: u64,
    expires_at: Timestamp,
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>, retention: Retention) -> Self {
        Self {
            state: Mutex::new(State::default()),
            clock,
            retention,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section below completes its checks before it mutates anything, so a
        // poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_live(&self, credential: &Credential, now: Timestamp) -> bool {
        self.retention
            .credential_expires_at(credential)
            .is_none_or(|ttl| ttl > now)
    }

    /// One transaction: the optional idempotency record's condition, then `apply`, which checks
    /// before it mutates; the record is stored only when `apply` succeeded.
    fn write(
        &self,
        record: Option<&IdempotencyRecord>,
        apply: impl FnOnce(&Self, &mut State, Timestamp) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut state = self.state();
        if let Some(record) = record
            && live_record(&state, &record.tenant, &record.key, now).is_some()
        {
            return Err(StoreError::IdempotencyKeyTaken);
        }
        apply(self, &mut state, now)?;
        if let Some(record) = record {
            state
                .idempotency
                .insert((record.tenant.clone(), record.key.clone()), record.clone());
        }
        Ok(())
    }

    fn insert_in(
        &self,
        state: &mut State,
        created: &Transition,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let credential = &created.credential;
        if self.live(state, &credential.client_id, now).is_some() {
            return Err(StoreError::AlreadyExists);
        }
        let mut stored = credential.clone();
        stored.last_used_at = None;
        state
            .credentials
            .insert(credential.client_id.clone(), stored);
        state.index_for_sweep(created, self.retention.expiry_notice);
        state.remember_issued(created, &self.retention);
        state.events.push(created.event.clone());
        Ok(())
    }

    fn update_in(
        &self,
        state: &mut State,
        expected_version: u64,
        change: &Transition,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let credential = &change.credential;
        let stored = self
            .live(state, &credential.client_id, now)
            .filter(|stored| stored.version == expected_version)
            .ok_or(StoreError::Conflict)?;
        // Lifecycle writes never carry usage: the token endpoint owns `last_used_at`.
        let mut next = credential.clone();
        next.last_used_at = stored.last_used_at;
        state.credentials.insert(credential.client_id.clone(), next);
        state.index_for_sweep(change, self.retention.expiry_notice);
        state.remember_issued(change, &self.retention);
        state.events.push(change.event.clone());
        Ok(())
    }

    /// The stored credential at `client_id` if DynamoDB would still return it.
    fn live<'a>(
        &self,
        state: &'a State,
        client_id: &ClientId,
        now: Timestamp,
    ) -> Option<&'a Credential> {
        state
            .credentials
            .get(client_id)
            .filter(|c| self.is_live(c, now))
    }

    /// The failures counted in the window that starts at `window_start`.
    fn failures(
        &self,
        client_id: &ClientId,
        source: &SourceAddress,
        window_start: Timestamp,
    ) -> Failures {
        let now = self.clock.now();
        let state = self.state();
        let count = |counter: FailureCount| {
            state
                .failures
                .get(&(counter, window_start))
                .filter(|(_, expires_at)| *expires_at > now)
                .map_or(0, |(count, _)| *count)
        };
        Failures {
            client_from_source: count(FailureCount::ClientFromSource(
                client_id.clone(),
                source.clone(),
            )),
            source: count(FailureCount::Source(source.clone())),
        }
    }
}

#[async_trait]
impl CredentialWriter for MemoryStore {
    async fn insert(&self, created: &Transition) -> Result<(), StoreError> {
        self.write(None, |this, state, now| this.insert_in(state, created, now))
    }

    async fn delete(&self, credential: &Credential, event: &AuditEvent) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut state = self.state();
        self.live(&state, &credential.client_id, now)
            .filter(|stored| stored.version == credential.version)
            .ok_or(StoreError::Conflict)?;
        state.credentials.remove(&credential.client_id);
        state.sweep_index.remove(&credential.client_id);
        state.events.push(event.clone());
        Ok(())
    }
}

#[async_trait]
impl CredentialReader for MemoryStore {
    async fn get(&self, client_id: &ClientId) -> Result<Option<Credential>, StoreError> {
        let now = self.clock.now();
        let state = self.state();
        Ok(self.live(&state, client_id, now).cloned())
    }
}

#[async_trait]
impl TransitionWriter for MemoryStore {
    async fn update(&self, expected_version: u64, change: &Transition) -> Result<(), StoreError> {
        self.write(None, |this, state, now| {
            this.update_in(state, expected_version, change, now)
        })
    }
}

#[async_trait]
impl CredentialListing for MemoryStore {
    async fn list(&self, query: &CredentialQuery<'_>) -> Result<Page<Credential>, StoreError> {
        let (tenant, status, page) = (query.tenant, query.status, query.page);
        let now = self.clock.now();
        let state = self.state();
        let matching = state
            .credentials
            .values()
            .filter(|c| &c.tenant == tenant && self.is_live(c, now))
            .filter(|c| status.is_none_or(|s| c.status(now) == s))
            .filter(|c| query.unused_since.is_none_or(|since| c.unused_since(since)))
            .map(|c| (credential_listing_key(c), c));
        newest_first(matching, page, Listing::Credentials, Cursor::for_credential)
    }
}

/// The record for `key` in `tenant` unless its TTL has passed.
fn live_record<'a>(
    state: &'a State,
    tenant: &TenantId,
    key: &KeyDigest,
    now: Timestamp,
) -> Option<&'a IdempotencyRecord> {
    state
        .idempotency
        .get(&(tenant.clone(), key.clone()))
        .filter(|record| record.expires_at > now)
}

#[async_trait]
impl IdempotencyReader for MemoryStore {
    async fn recall(
        &self,
        tenant: &TenantId,
        key: &KeyDigest,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let now = self.clock.now();
        Ok(live_record(&self.state(), tenant, key, now).cloned())
    }
}

#[async_trait]
impl RememberingWriter for MemoryStore {
    async fn insert_remembered(
        &self,
        created: &Transition,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError> {
        self.write(Some(record), |this, state, now| {
            this.insert_in(state, created, now)
        })
    }

    async fn update_remembered(
        &self,
        expected_version: u64,
        change: &Transition,
        record: &IdempotencyRecord,
    ) -> Result<(), StoreError> {
        self.write(Some(record), |this, state, now| {
            this.update_in(state, expected_version, change, now)
        })
    }
}

/// One page of `matching` (each with its listing key) newest first, after the page's cursor,
/// as the DynamoDB adapter's descending index queries return them.
pub(super) fn newest_first<'a, T: Clone + 'a>(
    matching: impl Iterator<Item = (String, &'a T)>,
    page: &PageRequest,
    listing: Listing,
    cursor_of: impl Fn(&T) -> Cursor,
) -> Result<Page<T>, StoreError> {
    let after = match &page.cursor {
        Some(cursor) => Some(cursor.check(listing)?.sort_key.clone()),
        None => None,
    };
    let mut matching: Vec<(String, &T)> = matching
        .filter(|(key, _)| after.as_ref().is_none_or(|after| key < after))
        .collect();
    matching.sort_by(|a, b| b.0.cmp(&a.0));
    let items = matching
        .into_iter()
        .take(page.limit + 1)
        .map(|(_, item)| item.clone())
        .collect();
    Ok(page_from(items, page.limit, cursor_of))
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn list_events(
        &self,
        scope: &AuditScope,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let now = self.clock.now();
        let state = self.state();
        let in_scope = |e: &AuditEvent| match scope {
            AuditScope::Tenant(tenant) => &e.tenant == tenant,
            AuditScope::Credential(tenant, client_id) => {
                &e.tenant == tenant && e.client_id.as_ref() == Some(client_id)
            }
        };
        let matching = state
            .events
            .iter()
            .filter(|e| in_scope(e) && self.retention.audit_expires_at(e) > now)
            .map(|e| (audit_key(e), e));
        newest_first(matching, page, Listing::Audit, Cursor::for_event)
    }
}

#[async_trait]
impl PolicyReader for MemoryStore {
    async fn policy(&self, tenant: &TenantId) -> Result<StoredPolicy, StoreError> {
        Ok(self
            .state()
            .policies
            .get(tenant)
            .cloned()
            .unwrap_or_else(|| StoredPolicy::open(tenant.clone())))
    }
}

#[async_trait]
impl PolicyWriter for MemoryStore {
    async fn put_policy(
        &self,
        expected_version: u64,
        change: &PolicyChange,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        let tenant = &change.policy.tenant;
        let stored = state.policies.get(tenant).map_or(0, |p| p.version);
        if stored != expected_version {
            return Err(StoreError::Conflict);
        }
        state.policies.insert(tenant.clone(), change.policy.clone());
        state.events.push(change.event.clone());
        Ok(())
    }
}

mod counters;
mod leaks;
mod sweep;
mod webhooks;
