//! The operations that hand out a secret, create and rotate, and what makes them safe to
//! retry: made with an idempotency key, a repeat answers what the first answered, secret
//! included, and changes nothing.

use std::sync::Arc;

use super::{
    Acting, CredentialService, MAX_ATTEMPTS, Precondition, RETRY_AFTER_CONFLICT, ServiceError,
    Snapshot,
};
use super::{CreateRequest, Usage, Write};
use crate::credential::Environment;
use crate::credential::StoredSecret;
use crate::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyRecord, KeyDigest, Operation, REMEMBERED_FOR,
};
use crate::ids::{ClientId, TenantId};
use crate::lifecycle::{self, LifecycleError, NewCredential, Rotation};
use crate::secret::ClientSecret;
use crate::store::{StoreError, UsageMonth};

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
    /// The first answer's body without its secret, the secret, unsealed with the key, and the
    /// credential and version the first answer named.
    Replayed {
        response: serde_json::Value,
        secret: ClientSecret,
        client_id: ClientId,
        version: u64,
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
            version: snapshot.credential.version,
            fingerprint: self.fingerprint.clone(),
            response: (self.render)(snapshot),
            sealed_secret: self.sealed_secret.clone(),
            created_at: snapshot.read_at,
            expires_at: snapshot.read_at + REMEMBERED_FOR,
        }
    }
}

impl CredentialService {
    /// argon2id takes milliseconds of CPU: keep it off the async workers.
    async fn new_secret(
        &self,
        environment: Environment,
    ) -> Result<(ClientSecret, StoredSecret), ServiceError> {
        let hasher = Arc::clone(&self.hasher);
        tokio::task::spawn_blocking(move || {
            let secret = ClientSecret::generate(environment);
            let hash = hasher.hash(&secret)?;
            let stored = StoredSecret::of(&secret, hash);
            Ok((secret, stored))
        })
        .await
        .map_err(|e| ServiceError::Hashing(e.to_string()))?
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
            .open(
                &self.pepper,
                &acting.tenant,
                &context,
                &record.sealed_secret,
            )
            .map_err(|_| {
                StoreError::Corrupt("an idempotency record's sealed secret does not open".into())
            })?;
        Ok(Some(Issued::Replayed {
            response: record.response,
            secret,
            client_id: record.client_id,
            version: record.version,
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
            .seal(&self.pepper, &acting.tenant, &context, secret)
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
        let policy = self.store.policy(&acting.tenant).await?.policy;
        policy.check_environment(request.environment)?;
        policy.check_scopes(&request.scopes)?;
        policy.check_expiry(expires_at, now)?;
        let (secret, stored) = self.new_secret(request.environment).await?;
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
                RETRY_AFTER_CONFLICT.wait(attempt - 1).await;
            }
            let created = lifecycle::create(
                new.clone(),
                ClientId::generate(),
                stored.clone(),
                &self.context(acting),
            )?;
            // A new credential has no uses yet: nothing left to read that could fail.
            let usage = Usage {
                count: 0,
                month: UsageMonth::of(created.event.at),
            };
            let snapshot = self.written(created.credential.clone(), usage, &policy);
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

    pub async fn rotate_secret(
        &self,
        acting: &Acting,
        client_id: &ClientId,
        precondition: Option<&Precondition>,
        rotation: Rotation,
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
            .rotate_now(acting, client_id, precondition, rotation, once.as_ref())
            .await;
        self.settle_race(acting, operation, Some(client_id), once.as_ref(), outcome)
            .await
    }

    async fn rotate_now(
        &self,
        acting: &Acting,
        client_id: &ClientId,
        precondition: Option<&Precondition>,
        rotation: Rotation,
        once: Option<&Once<'_>>,
    ) -> Result<Issued, ServiceError> {
        let (current, usage, policy) = tokio::join!(
            self.load(&acting.tenant, client_id),
            self.usage(client_id),
            self.store.policy(&acting.tenant)
        );
        let (current, usage, policy) = (current?, usage?, policy?.policy);
        policy.check_grace(rotation.grace.duration())?;
        let environment = current.environment;
        // Hash once, outside the retry loop: the environment of a credential never changes.
        let (secret, stored) = self.new_secret(environment).await?;
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
                        lifecycle::rotate_secret(current, stored.clone(), rotation, context)?;
                    let snapshot = self.written(transition.credential.clone(), usage, &policy);
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
        let snapshot = issued.unwrap_or_else(|| self.written(after, usage, &policy));
        Ok(Issued::Fresh(snapshot, secret))
    }
}
