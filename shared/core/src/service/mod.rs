//! Credential operations as callers see them: load, check the caller's precondition, apply a
//! lifecycle rule, write conditionally, and retry when another writer got there first. No HTTP
//! here and no AWS: the handlers translate, the store persists.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use crate::audit::{Actor, AuditEvent, Context};
use crate::catalogue::ScopeCatalogue;
use crate::credential::{
    Credential, Description, Environment, Name, Reason, RequestQuota, Scopes, Status,
};
use crate::idempotency::{IdempotencyPepper, IdempotencyRecord};
use crate::ids::{ClientId, TenantId};
use crate::lifecycle::{self, DetailsPatch, LifecycleError, Transition};
use crate::policy::{InvalidPolicy, StoredPolicy, TenantPolicy, Violation};
use crate::retry::Backoff;
use crate::secret::{HashError, SecretHasher};
use crate::store::{
    AuditScope, CredentialQuery, ManagementPorts, Page, PageRequest, StoreError, UsageMonth,
};
use crate::time::{Clock, Timestamp};

/// How many times an operation without `If-Match` re-reads and re-decides after losing a race.
pub(crate) const MAX_ATTEMPTS: u32 = 5;
/// Between attempts that lost a race: short, since the winner has already committed, and
/// jittered, so that the losers do not meet again on their next try.
pub(crate) const RETRY_AFTER_CONFLICT: Backoff =
    Backoff::new(StdDuration::from_millis(10), StdDuration::from_millis(160));

mod issue;
mod policy;
mod usage;

pub use issue::{Issued, Once};
pub use usage::{DailyReport, TOP_CREDENTIALS, TopCredential};

/// An authorized caller acting on one tenant, within one request.
#[derive(Debug, Clone)]
pub struct Acting {
    pub actor: Actor,
    pub tenant: TenantId,
    pub request_id: Option<String>,
}

impl Acting {
    /// The audit context of this caller's change made at `now`.
    pub fn at(&self, now: Timestamp) -> Context {
        Context {
            actor: self.actor.clone(),
            now,
            request_id: self.request_id.clone(),
        }
    }
}

/// The caller's `If-Match`: the versions it expects, or `*` for any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    Any,
    Versions(Vec<u64>),
}

impl Precondition {
    pub fn holds_for(&self, version: u64) -> bool {
        match self {
            Precondition::Any => true,
            Precondition::Versions(versions) => versions.contains(&version),
        }
    }
}

/// A credential as read at one instant, with this month's usage and the rules of its
/// tenant's policy it breaks.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub credential: Credential,
    pub requests_this_month: u64,
    pub usage_month: UsageMonth,
    pub read_at: Timestamp,
    /// Sentences; while there are any, the credential is blocked.
    pub policy_violations: Vec<String>,
}

impl Snapshot {
    fn new(
        credential: Credential,
        usage: Usage,
        policy: &TenantPolicy,
        read_at: Timestamp,
    ) -> Self {
        // A revoked or expired credential is ended already: a policy has nothing to block.
        let policy_violations = match credential.status(read_at) {
            Status::Active | Status::Suspended => policy
                .violations(&credential, credential.expiry_decided_at())
                .into_iter()
                .map(|v| v.sentence)
                .collect(),
            Status::Expired | Status::Revoked => Vec::new(),
        };
        Self {
            credential,
            requests_this_month: usage.count,
            usage_month: usage.month,
            read_at,
            policy_violations,
        }
    }

    pub fn status(&self) -> Status {
        self.credential.status(self.read_at)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("No credential {0} exists in this tenant.")]
    NotFound(ClientId),
    #[error(transparent)]
    Rule(#[from] LifecycleError),
    #[error("The credential has changed since you read it: its version is {}, not the one in If-Match.", .0.credential.version)]
    PreconditionFailed(Box<Snapshot>),
    #[error("The credential is being changed by other requests at this moment; try again.")]
    Contention,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not hash a new secret: {0}")]
    Hashing(String),
    #[error(
        "This Idempotency-Key was already used for a different request. Use a new key for a new request."
    )]
    IdempotencyKeyReused,
    #[error("could not seal the new secret for safe retries")]
    Sealing,
    /// The change breaks the tenant's policy.
    #[error(transparent)]
    PolicyViolation(#[from] Violation),
    #[error(transparent)]
    InvalidPolicy(#[from] InvalidPolicy),
    #[error("The policy has changed since you read it: its version is {}, not the one in If-Match.", .0.version)]
    PolicyPreconditionFailed(Box<StoredPolicy>),
}

impl From<HashError> for ServiceError {
    fn from(e: HashError) -> Self {
        ServiceError::Hashing(e.to_string())
    }
}

/// Uses of one credential in one month.
#[derive(Debug, Clone, Copy)]
struct Usage {
    count: u64,
    month: UsageMonth,
}

/// What a caller asks for when creating a credential; the expiry is resolved against the
/// server's clock.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub name: Name,
    pub description: Description,
    pub scopes: Scopes,
    pub environment: Environment,
    pub expires_at: Option<Timestamp>,
    pub expires_in_days: Option<i64>,
    pub monthly_request_quota: Option<RequestQuota>,
}

/// A change to a credential's state or details; each is a rule of [`crate::lifecycle`].
#[derive(Debug, Clone)]
pub enum Change {
    Details(DetailsPatch),
    /// Sets (`Some`) or removes (`None`) the expiry.
    Expiry(Option<Timestamp>),
    Suspend,
    Reactivate,
    Revoke(Option<Reason>),
}

/// What a lifecycle decision asks the store to do.
// Lives for one iteration of the retry loop; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Write {
    Update(Transition),
    /// An update that also stores the record of an idempotent request.
    UpdateRemembered(Transition, IdempotencyRecord),
    Delete(AuditEvent),
    Nothing,
}

pub struct CredentialService {
    store: Arc<dyn ManagementPorts>,
    hasher: Arc<SecretHasher>,
    clock: Arc<dyn Clock>,
    catalogue: ScopeCatalogue,
    /// Seals the secrets idempotency records keep, with each record's idempotency key.
    pepper: Arc<IdempotencyPepper>,
}

impl CredentialService {
    pub fn new(
        store: Arc<dyn ManagementPorts>,
        hasher: Arc<SecretHasher>,
        clock: Arc<dyn Clock>,
        pepper: Arc<IdempotencyPepper>,
    ) -> Self {
        Self {
            store,
            hasher,
            clock,
            catalogue: ScopeCatalogue::default(),
            pepper,
        }
    }

    /// Credentials may then carry only the scopes the catalogue offers.
    pub fn with_catalogue(mut self, catalogue: ScopeCatalogue) -> Self {
        self.catalogue = catalogue;
        self
    }

    pub fn catalogue(&self) -> &ScopeCatalogue {
        &self.catalogue
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn context(&self, acting: &Acting) -> Context {
        acting.at(self.clock.now())
    }

    async fn load(
        &self,
        tenant: &TenantId,
        client_id: &ClientId,
    ) -> Result<Credential, ServiceError> {
        // Another tenant's credential is indistinguishable from none, so IDs cannot be probed.
        match self.store.get(client_id).await? {
            Some(credential) if &credential.tenant == tenant => Ok(credential),
            _ => Err(ServiceError::NotFound(client_id.clone())),
        }
    }

    async fn snapshots(
        &self,
        credentials: Vec<Credential>,
        policy: &TenantPolicy,
    ) -> Result<Vec<Snapshot>, ServiceError> {
        let read_at = self.clock.now();
        let usage_month = UsageMonth::of(read_at);
        let ids: Vec<ClientId> = credentials.iter().map(|c| c.client_id.clone()).collect();
        let counts: HashMap<ClientId, u64> = if ids.is_empty() {
            HashMap::new()
        } else {
            self.store.request_counts(&ids, usage_month).await?
        };
        Ok(credentials
            .into_iter()
            .map(|credential| {
                let usage = Usage {
                    count: counts.get(&credential.client_id).copied().unwrap_or(0),
                    month: usage_month,
                };
                Snapshot::new(credential, usage, policy, read_at)
            })
            .collect())
    }

    /// This month's uses of one credential. Writes read it before they write, so that once a
    /// change is committed nothing can fail any more: a failure after the commit would answer
    /// an error for a change that was made, and lose the secret of a rotation.
    async fn usage(&self, client_id: &ClientId) -> Result<Usage, ServiceError> {
        let month = UsageMonth::of(self.clock.now());
        let counts = self
            .store
            .request_counts(std::slice::from_ref(client_id), month)
            .await?;
        Ok(Usage {
            count: counts.get(client_id).copied().unwrap_or(0),
            month,
        })
    }

    /// The credential as a write left it, with the usage and the policy read before the
    /// write.
    fn written(&self, credential: Credential, usage: Usage, policy: &TenantPolicy) -> Snapshot {
        Snapshot::new(credential, usage, policy, self.clock.now())
    }

    async fn snapshot(&self, credential: Credential) -> Result<Snapshot, ServiceError> {
        let (usage, policy) = tokio::join!(
            self.usage(&credential.client_id),
            self.store.policy(&credential.tenant)
        );
        Ok(self.written(credential, usage?, &policy?.policy))
    }

    /// Read, check, decide, write; on a lost race, read again and decide again. With a
    /// precondition, a version that moved on answers `PreconditionFailed` with the fresh state.
    async fn mutate(
        &self,
        acting: &Acting,
        client_id: &ClientId,
        precondition: Option<&Precondition>,
        decide: impl FnMut(&Credential, &Context) -> Result<Write, LifecycleError>,
    ) -> Result<Credential, ServiceError> {
        self.mutate_from(None, acting, client_id, precondition, decide)
            .await
    }

    /// As [`mutate`](Self::mutate), starting from `loaded` (a read the caller already made)
    /// instead of reading again; a conflict re-reads as usual.
    async fn mutate_from(
        &self,
        mut loaded: Option<Credential>,
        acting: &Acting,
        client_id: &ClientId,
        precondition: Option<&Precondition>,
        mut decide: impl FnMut(&Credential, &Context) -> Result<Write, LifecycleError>,
    ) -> Result<Credential, ServiceError> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                RETRY_AFTER_CONFLICT.wait(attempt - 1).await;
            }
            let current = match loaded.take() {
                Some(current) => current,
                None => self.load(&acting.tenant, client_id).await?,
            };
            if let Some(precondition) = precondition
                && !precondition.holds_for(current.version)
            {
                return Err(ServiceError::PreconditionFailed(Box::new(
                    self.snapshot(current).await?,
                )));
            }
            let context = self.context(acting);
            let written = match decide(&current, &context)? {
                Write::Nothing => return Ok(current),
                Write::Update(change) => self
                    .store
                    .update(current.version, &change)
                    .await
                    .map(|()| change.credential),
                Write::UpdateRemembered(change, record) => self
                    .store
                    .update_remembered(current.version, &change, &record)
                    .await
                    .map(|()| change.credential),
                Write::Delete(event) => self.store.delete(&current, &event).await.map(|()| current),
            };
            match written {
                Err(StoreError::Conflict) => continue,
                other => return other.map_err(ServiceError::from),
            }
        }
        Err(ServiceError::Contention)
    }

    pub async fn get(
        &self,
        tenant: &TenantId,
        client_id: &ClientId,
    ) -> Result<Snapshot, ServiceError> {
        let (credential, usage, policy) = tokio::join!(
            self.load(tenant, client_id),
            self.usage(client_id),
            self.store.policy(tenant)
        );
        Ok(self.written(credential?, usage?, &policy?.policy))
    }

    /// A page of the tenant's credentials, newest first: with `status` only those, with
    /// `unused_for_days` only those not used in that many days.
    pub async fn list(
        &self,
        tenant: &TenantId,
        status: Option<Status>,
        unused_for_days: Option<u16>,
        page: &PageRequest,
    ) -> Result<Page<Snapshot>, ServiceError> {
        let unused_since =
            unused_for_days.map(|days| self.clock.now() - chrono::Duration::days(i64::from(days)));
        let query = CredentialQuery {
            tenant,
            status,
            unused_since,
            page,
        };
        let (found, policy) = tokio::join!(self.store.list(&query), self.store.policy(tenant));
        let found = found?;
        Ok(Page {
            items: self.snapshots(found.items, &policy?.policy).await?,
            next_cursor: found.next_cursor,
        })
    }

    /// Applies one of the versioned changes that return the credential as it is afterwards.
    pub async fn change(
        &self,
        acting: &Acting,
        client_id: &ClientId,
        precondition: Option<&Precondition>,
        change: Change,
    ) -> Result<Snapshot, ServiceError> {
        let (usage, policy) =
            tokio::join!(self.usage(client_id), self.store.policy(&acting.tenant));
        let (usage, policy) = (usage?, policy?.policy);
        match &change {
            Change::Details(DetailsPatch {
                scopes: Some(scopes),
                ..
            }) => {
                self.catalogue.check(scopes).map_err(LifecycleError::from)?;
                policy.check_scopes(scopes)?;
            }
            Change::Expiry(expires_at) => policy.check_expiry(*expires_at, self.clock.now())?,
            _ => {}
        }
        let after = self
            .mutate(acting, client_id, precondition, |current, context| {
                let transition = match &change {
                    Change::Details(patch) => {
                        match lifecycle::update_details(current, patch.clone(), context)? {
                            Some(transition) => transition,
                            None => return Ok(Write::Nothing),
                        }
                    }
                    Change::Expiry(expires_at) => {
                        lifecycle::set_expiry(current, *expires_at, context)?
                    }
                    Change::Suspend => lifecycle::suspend(current, context)?,
                    Change::Reactivate => lifecycle::reactivate(current, context)?,
                    Change::Revoke(reason) => lifecycle::revoke(current, reason.clone(), context)?,
                };
                Ok(Write::Update(transition))
            })
            .await?;
        Ok(self.written(after, usage, &policy))
    }

    pub async fn delete(
        &self,
        acting: &Acting,
        client_id: &ClientId,
        precondition: Option<&Precondition>,
    ) -> Result<(), ServiceError> {
        self.mutate(acting, client_id, precondition, |current, context| {
            Ok(Write::Delete(lifecycle::delete(current, context)))
        })
        .await
        .map(drop)
    }

    /// A tenant's audit trail, or one credential's (which outlives the credential itself).
    pub async fn audit(
        &self,
        tenant: &TenantId,
        client_id: Option<&ClientId>,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, ServiceError> {
        let scope = match client_id {
            Some(id) => AuditScope::Credential(tenant.clone(), id.clone()),
            None => AuditScope::Tenant(tenant.clone()),
        };
        let found = self.store.list_events(&scope, page).await?;
        // An ID with no trail in this tenant never existed here (or its trail aged out).
        if let Some(id) = client_id
            && found.items.is_empty()
            && page.cursor.is_none()
        {
            return Err(ServiceError::NotFound(id.clone()));
        }
        Ok(found)
    }
}
