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
use crate::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyRecord, KeyDigest, Operation, REMEMBERED_FOR,
};
use crate::ids::{ClientId, TenantId};
use crate::lifecycle::{
    self, DetailsPatch, GracePeriod, LifecycleError, NewCredential, Transition,
};
use crate::secret::{ClientSecret, HashError, SecretHash, SecretHasher};
use crate::store::{AuditScope, Page, PageRequest, SharedManagementStore, StoreError, UsageMonth};
use crate::time::{Clock, Timestamp};

/// How many times an operation without `If-Match` re-reads and re-decides after losing a race.
const MAX_ATTEMPTS: u32 = 5;

/// An authorized caller acting on one tenant, within one request.
#[derive(Debug, Clone)]
pub struct Acting {
    pub actor: Actor,
    pub tenant: TenantId,
    pub request_id: Option<String>,
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

/// A credential as read at one instant, with this month's usage.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub credential: Credential,
    pub requests_this_month: u64,
    pub usage_month: UsageMonth,
    pub read_at: Timestamp,
}

impl Snapshot {
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

/// A request that hands out a secret, made with an idempotency key: repeated with the same key
/// and the same request, it answers what the first answered, secret included, and changes
/// nothing.
pub struct Once<'a> {
    pub key: IdempotencyKey,
    /// What of the request, beyond its operation, target and caller, could change its outcome:
    /// the body as sent, `If-Match`.
    pub request: Vec<&'a [u8]>,
    /// The response body without the secret, as the handler renders it, kept for repeats.
    pub render: &'a (dyn Fn(&Snapshot) -> serde_json::Value + Send + Sync),
}

/// A secret handed out by create or rotate: just now, or again to a repeated request.
// Returned once per request and taken apart at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Issued {
    Fresh(Snapshot, ClientSecret),
    /// The first answer's body without its secret, and the secret, unsealed with the key.
    Replayed {
        response: serde_json::Value,
        secret: ClientSecret,
    },
}

/// A [`Once`] readied for writing: its digest, fingerprint and sealed secret, which do not
/// depend on the attempt.
struct Remembering<'a> {
    tenant: TenantId,
    key: KeyDigest,
    operation: Operation,
    fingerprint: Fingerprint,
    sealed_secret: Vec<u8>,
    render: &'a (dyn Fn(&Snapshot) -> serde_json::Value + Send + Sync),
}

impl Remembering<'_> {
    fn record(&self, snapshot: &Snapshot) -> IdempotencyRecord {
        IdempotencyRecord {
            tenant: self.tenant.clone(),
            key: self.key.clone(),
            operation: self.operation,
            client_id: snapshot.credential.client_id.clone(),
            fingerprint: self.fingerprint.clone(),
            response: (self.render)(snapshot),
            sealed_secret: self.sealed_secret.clone(),
            created_at: snapshot.read_at,
            expires_at: snapshot.read_at + REMEMBERED_FOR,
        }
    }
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
    store: SharedManagementStore,
    hasher: Arc<SecretHasher>,
    clock: Arc<dyn Clock>,
    catalogue: ScopeCatalogue,
}

impl CredentialService {
    pub fn new(
        store: SharedManagementStore,
        hasher: Arc<SecretHasher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            hasher,
            clock,
            catalogue: ScopeCatalogue::default(),
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
        Context {
            actor: acting.actor.clone(),
            now: self.clock.now(),
            request_id: acting.request_id.clone(),
        }
    }

    /// argon2id takes milliseconds of CPU: keep it off the async workers.
    async fn new_secret(
        &self,
        environment: Environment,
    ) -> Result<(ClientSecret, SecretHash), ServiceError> {
        let hasher = Arc::clone(&self.hasher);
        tokio::task::spawn_blocking(move || {
            let secret = ClientSecret::generate(environment);
            let hash = hasher.hash(&secret)?;
            Ok((secret, hash))
        })
        .await
        .map_err(|e| ServiceError::Hashing(e.to_string()))?
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

    async fn snapshots(&self, credentials: Vec<Credential>) -> Result<Vec<Snapshot>, ServiceError> {
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
            .map(|credential| Snapshot {
                requests_this_month: counts.get(&credential.client_id).copied().unwrap_or(0),
                credential,
                usage_month,
                read_at,
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

    /// The credential as a write left it, with the usage read before the write.
    fn written(&self, credential: Credential, usage: Usage) -> Snapshot {
        Snapshot {
            credential,
            requests_this_month: usage.count,
            usage_month: usage.month,
            read_at: self.clock.now(),
        }
    }

    async fn snapshot(&self, credential: Credential) -> Result<Snapshot, ServiceError> {
        let mut snapshots = self.snapshots(vec![credential]).await?;
        snapshots
            .pop()
            .ok_or(ServiceError::Store(StoreError::Backend(
                "empty snapshot".into(),
            )))
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
                tokio::time::sleep(StdDuration::from_millis(5 << attempt)).await;
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

    /// What identifies a request made with a key: its operation and target, the caller, and
    /// what it sent.
    fn fingerprint(
        acting: &Acting,
        operation: Operation,
        target: Option<&ClientId>,
        once: &Once<'_>,
    ) -> Fingerprint {
        let target = target.map(ClientId::to_string).unwrap_or_default();
        let mut parts: Vec<&[u8]> = vec![
            operation.as_str().as_bytes(),
            acting.tenant.as_str().as_bytes(),
            target.as_bytes(),
            acting.actor.subject.as_bytes(),
        ];
        parts.extend(once.request.iter().copied());
        Fingerprint::of(&parts)
    }

    /// The first answer to this key, if there was one: the same request gets it again, a
    /// different request is refused.
    async fn replay(
        &self,
        acting: &Acting,
        operation: Operation,
        target: Option<&ClientId>,
        once: &Once<'_>,
    ) -> Result<Option<Issued>, ServiceError> {
        let digest = once.key.digest(&acting.tenant);
        let Some(record) = self.store.recall(&acting.tenant, &digest).await? else {
            return Ok(None);
        };
        if record.fingerprint != Self::fingerprint(acting, operation, target, once) {
            return Err(ServiceError::IdempotencyKeyReused);
        }
        let context = IdempotencyRecord::seal_context(&digest, &record.fingerprint);
        let secret = once
            .key
            .open(&acting.tenant, &context, &record.sealed_secret)
            .map_err(|_| {
                StoreError::Corrupt("an idempotency record's sealed secret does not open".into())
            })?;
        Ok(Some(Issued::Replayed {
            response: record.response,
            secret,
        }))
    }

    fn remembering<'a>(
        &self,
        acting: &Acting,
        operation: Operation,
        target: Option<&ClientId>,
        once: &Once<'a>,
        secret: &ClientSecret,
    ) -> Result<Remembering<'a>, ServiceError> {
        let key = once.key.digest(&acting.tenant);
        let fingerprint = Self::fingerprint(acting, operation, target, once);
        let context = IdempotencyRecord::seal_context(&key, &fingerprint);
        let sealed_secret = once
            .key
            .seal(&acting.tenant, &context, secret)
            .map_err(|_| ServiceError::Sealing)?;
        Ok(Remembering {
            tenant: acting.tenant.clone(),
            key,
            operation,
            fingerprint,
            sealed_secret,
            render: once.render,
        })
    }

    /// A twin request with the same key may have won the race this one lost: then its answer
    /// is this one's too.
    async fn settle_race(
        &self,
        acting: &Acting,
        operation: Operation,
        target: Option<&ClientId>,
        once: Option<&Once<'_>>,
        outcome: Result<Issued, ServiceError>,
    ) -> Result<Issued, ServiceError> {
        match (outcome, once) {
            (
                Err(
                    lost @ (ServiceError::Store(StoreError::IdempotencyKeyTaken)
                    | ServiceError::PreconditionFailed(_)
                    | ServiceError::Contention),
                ),
                Some(once),
            ) => match self.replay(acting, operation, target, once).await? {
                Some(replayed) => Ok(replayed),
                None => Err(lost),
            },
            (outcome, _) => outcome,
        }
    }

    pub async fn create(
        &self,
        acting: &Acting,
        request: CreateRequest,
        once: Option<Once<'_>>,
    ) -> Result<Issued, ServiceError> {
        let operation = Operation::Create;
        if let Some(once) = &once
            && let Some(replayed) = self.replay(acting, operation, None, once).await?
        {
            return Ok(replayed);
        }
        let outcome = self.create_new(acting, request, once.as_ref()).await;
        self.settle_race(acting, operation, None, once.as_ref(), outcome)
            .await
    }

    async fn create_new(
        &self,
        acting: &Acting,
        request: CreateRequest,
        once: Option<&Once<'_>>,
    ) -> Result<Issued, ServiceError> {
        self.catalogue
            .check(&request.scopes)
            .map_err(LifecycleError::from)?;
        let now = self.clock.now();
        let expires_at =
            lifecycle::requested_expiry(request.expires_at, request.expires_in_days, now)
                .map_err(LifecycleError::from)?;
        let (secret, hash) = self.new_secret(request.environment).await?;
        let remembering = once
            .map(|once| self.remembering(acting, Operation::Create, None, once, &secret))
            .transpose()?;
        let new = NewCredential {
            tenant: acting.tenant.clone(),
            name: request.name,
            description: request.description,
            scopes: request.scopes,
            environment: request.environment,
            expires_at,
            monthly_request_quota: request.monthly_request_quota,
        };
        // 130 random bits make a collision practically impossible; should one happen anyway,
        // another ID settles it rather than failing the request. A transaction conflict (another
        // transaction on the same items at that moment) wrote nothing either: try again.
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(StdDuration::from_millis(5 << attempt)).await;
            }
            let created = lifecycle::create(
                new.clone(),
                ClientId::generate(),
                hash.clone(),
                &self.context(acting),
            )?;
            // A new credential has no uses yet: nothing left to read that could fail.
            let usage = Usage {
                count: 0,
                month: UsageMonth::of(created.event.at),
            };
            let snapshot = self.written(created.credential.clone(), usage);
            let inserted = match &remembering {
                None => self.store.insert(&created).await,
                Some(remembering) => {
                    let record = remembering.record(&snapshot);
                    self.store.insert_remembered(&created, &record).await
                }
            };
            match inserted {
                Ok(()) => return Ok(Issued::Fresh(snapshot, secret)),
                Err(StoreError::AlreadyExists | StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contention)
    }

    pub async fn get(
        &self,
        tenant: &TenantId,
        client_id: &ClientId,
    ) -> Result<Snapshot, ServiceError> {
        let credential = self.load(tenant, client_id).await?;
        self.snapshot(credential).await
    }

    pub async fn list(
        &self,
        tenant: &TenantId,
        status: Option<Status>,
        page: &PageRequest,
    ) -> Result<Page<Snapshot>, ServiceError> {
        let found = self.store.list(tenant, status, page).await?;
        Ok(Page {
            items: self.snapshots(found.items).await?,
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
        if let Change::Details(DetailsPatch {
            scopes: Some(scopes),
            ..
        }) = &change
        {
            self.catalogue.check(scopes).map_err(LifecycleError::from)?;
        }
        let usage = self.usage(client_id).await?;
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
        Ok(self.written(after, usage))
    }

    pub async fn rotate_secret(
        &self,
        acting: &Acting,
        client_id: &ClientId,
        precondition: Option<&Precondition>,
        grace: GracePeriod,
        once: Option<Once<'_>>,
    ) -> Result<Issued, ServiceError> {
        let operation = Operation::RotateSecret;
        if let Some(once) = &once
            && let Some(replayed) = self
                .replay(acting, operation, Some(client_id), once)
                .await?
        {
            return Ok(replayed);
        }
        let outcome = self
            .rotate_now(acting, client_id, precondition, grace, once.as_ref())
            .await;
        self.settle_race(acting, operation, Some(client_id), once.as_ref(), outcome)
            .await
    }

    async fn rotate_now(
        &self,
        acting: &Acting,
        client_id: &ClientId,
        precondition: Option<&Precondition>,
        grace: GracePeriod,
        once: Option<&Once<'_>>,
    ) -> Result<Issued, ServiceError> {
        let (current, usage) =
            tokio::join!(self.load(&acting.tenant, client_id), self.usage(client_id));
        let (current, usage) = (current?, usage?);
        let environment = current.environment;
        // Hash once, outside the retry loop: the environment of a credential never changes.
        let (secret, hash) = self.new_secret(environment).await?;
        let remembering = once
            .map(|once| {
                self.remembering(
                    acting,
                    Operation::RotateSecret,
                    Some(client_id),
                    once,
                    &secret,
                )
            })
            .transpose()?;
        // The answer is rendered from the very snapshot the idempotency record keeps.
        let mut issued = None;
        let after = self
            .mutate_from(
                Some(current),
                acting,
                client_id,
                precondition,
                |current, context| {
                    let transition =
                        lifecycle::rotate_secret(current, hash.clone(), grace, context)?;
                    let snapshot = self.written(transition.credential.clone(), usage);
                    let write = match &remembering {
                        None => Write::Update(transition),
                        Some(remembering) => {
                            let record = remembering.record(&snapshot);
                            Write::UpdateRemembered(transition, record)
                        }
                    };
                    issued = Some(snapshot);
                    Ok(write)
                },
            )
            .await?;
        let snapshot = issued.unwrap_or_else(|| self.written(after, usage));
        Ok(Issued::Fresh(snapshot, secret))
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
