//! The lifecycle rules of a credential, as plain functions over the model and the time. Each
//! permitted operation yields the next state of the credential and the audit event recording
//! it; each refusal is a typed error with a stable code. Nothing here touches storage.

use chrono::Duration;

use crate::audit::{AuditAction, AuditEvent, Change, Context};
use crate::credential::{
    Credential, Description, Environment, Name, PreviousSecret, Reason, RequestQuota, Revocation,
    Scopes, SecretRecord, Status, StoredSecret, ValidationError,
};
use crate::ids::{ClientId, TenantId};
use crate::policy::{StoredPolicy, TenantPolicy};
use crate::time::Timestamp;

mod expiry;
mod leak;

pub use expiry::{
    EXPIRY_LOCK_WINDOW, MAX_EXPIRY_AHEAD, check_new_expiry, is_expiry_locked, record_expiring_soon,
    record_expiry, requested_expiry, sweep,
};
pub use leak::{LeakRecord, record_leak, still_accepts};

/// How long a rotated-out secret may keep working.
pub const MAX_GRACE_PERIOD: Duration = Duration::days(7);
/// A permitted operation: the credential after it, and the event that records it. Both are
/// written together or not at all.
#[derive(Debug, Clone)]
pub struct Transition {
    pub credential: Credential,
    pub event: AuditEvent,
}

impl Transition {
    /// The secret this change issues, for the lookup item that finds it when it leaks: a
    /// creation's or a rotation's, when its fingerprint is known.
    pub fn issued_secret(&self) -> Option<crate::leak::IssuedSecret> {
        if !matches!(
            self.event.action,
            AuditAction::Created { .. } | AuditAction::SecretRotated { .. }
        ) {
            return None;
        }
        Some(crate::leak::IssuedSecret {
            fingerprint: self.credential.secret.fingerprint.clone()?,
            client_id: self.credential.client_id.clone(),
            tenant: self.credential.tenant.clone(),
            secret_version: self.credential.secret.version,
            issued_at: self.event.at,
        })
    }

    /// Where this change puts the credential in the sweep index: its next due time, but never
    /// earlier than the change itself (a credential created two days before its expiry is due
    /// for its notice now, not five days ago), so a sweep that has finished an hour never has
    /// to look back at it.
    pub fn sweep_index_at(&self, notice_window: Duration) -> Option<Timestamp> {
        self.credential
            .sweep_due_at(notice_window)
            .map(|due| due.max(self.event.at))
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(
        "The credential has been revoked. Revocation is permanent: create a new credential instead."
    )]
    CredentialRevoked,
    #[error(
        "The credential expired at {expires_at}. Create a new credential instead; you may revoke this one for a clean audit trail."
    )]
    CredentialExpired { expires_at: Timestamp },
    #[error("The credential is suspended. Reactivate it first.")]
    CredentialSuspended,
    #[error("The credential is already suspended.")]
    AlreadySuspended,
    #[error("The credential is not suspended, so there is nothing to reactivate.")]
    CredentialNotSuspended,
    #[error(
        "The expiry ({expires_at}) is 72 hours away or less and can no longer be changed. Create a new credential if you need a different expiry."
    )]
    ExpiryLocked { expires_at: Timestamp },
    /// A suspension after a leak holds until the leaked secret is gone: reactivating first
    /// would accept it again.
    #[error(
        "The credential's secret was reported leaked. Rotate the secret (without a grace period) before reactivating the credential."
    )]
    LeakedSecretNotRotated,
    /// A grace period would let the leaked secret work again once the credential is reactivated.
    #[error(
        "The credential was suspended after its secret was reported leaked, so the old secret may not keep working: rotate without a grace period."
    )]
    LeakedSecretGrace,
}

impl LifecycleError {
    pub fn code(&self) -> &'static str {
        match self {
            LifecycleError::Invalid(invalid) => invalid.code,
            LifecycleError::CredentialRevoked => "credential_revoked",
            LifecycleError::CredentialExpired { .. } => "credential_expired",
            LifecycleError::CredentialSuspended | LifecycleError::AlreadySuspended => {
                "credential_suspended"
            }
            LifecycleError::CredentialNotSuspended => "credential_not_suspended",
            LifecycleError::ExpiryLocked { .. } => "expiry_locked",
            LifecycleError::LeakedSecretNotRotated | LifecycleError::LeakedSecretGrace => {
                "secret_leaked"
            }
        }
    }
}

/// Refuses unless the credential's status is one of `allowed`, naming the status that stands
/// in the way.
fn require(
    credential: &Credential,
    now: Timestamp,
    allowed: &[Status],
) -> Result<(), LifecycleError> {
    let status = credential.status(now);
    if allowed.contains(&status) {
        return Ok(());
    }
    Err(match status {
        Status::Revoked => LifecycleError::CredentialRevoked,
        Status::Expired => LifecycleError::CredentialExpired {
            expires_at: credential.expires_at.unwrap_or(now),
        },
        Status::Suspended => LifecycleError::CredentialSuspended,
        Status::Active => LifecycleError::CredentialNotSuspended,
    })
}

/// How long the secret replaced by a rotation keeps working: 0 (it stops at once) to 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GracePeriod(Duration);

impl GracePeriod {
    pub fn from_seconds(seconds: i64) -> Result<Self, ValidationError> {
        if !(0..=MAX_GRACE_PERIOD.num_seconds()).contains(&seconds) {
            return Err(ValidationError::new(
                "previous_secret_valid_for_seconds",
                "invalid_grace_period",
                format!(
                    "previous_secret_valid_for_seconds must be between 0 and {} (7 days)",
                    MAX_GRACE_PERIOD.num_seconds()
                ),
            ));
        }
        Ok(Self(Duration::seconds(seconds)))
    }

    pub fn none() -> Self {
        Self(Duration::zero())
    }

    pub fn duration(self) -> Duration {
        self.0
    }
}

/// How a rotation treats what the replaced secret already gave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    /// How long the replaced secret keeps working.
    pub grace: GracePeriod,
    /// End the tokens issued before the rotation at once (after a leak); by default they
    /// live out their hour, as seed 002 has it.
    pub end_existing_tokens: bool,
}

impl From<GracePeriod> for Rotation {
    fn from(grace: GracePeriod) -> Self {
        Self {
            grace,
            end_existing_tokens: false,
        }
    }
}

/// Everything a new credential needs besides its generated ID and secret.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub tenant: TenantId,
    pub name: Name,
    pub description: Description,
    pub scopes: Scopes,
    pub environment: Environment,
    pub expires_at: Option<Timestamp>,
    pub monthly_request_quota: Option<RequestQuota>,
}

fn next_version(credential: &Credential) -> Credential {
    Credential {
        version: credential.version + 1,
        ..credential.clone()
    }
}

pub fn create(
    new: NewCredential,
    client_id: ClientId,
    secret: impl Into<StoredSecret>,
    context: &Context,
) -> Result<Transition, LifecycleError> {
    let secret = secret.into();
    if let Some(at) = new.expires_at {
        check_new_expiry("expires_at", at, context.now)?;
    }
    let credential = Credential {
        client_id,
        tenant: new.tenant,
        name: new.name,
        description: new.description,
        scopes: new.scopes,
        environment: new.environment,
        monthly_request_quota: new.monthly_request_quota,
        created_at: context.now,
        created_by: context.actor.subject.clone(),
        expires_at: new.expires_at,
        expiry_set_at: None,
        secret: SecretRecord {
            hash: secret.hash,
            fingerprint: secret.fingerprint,
            version: 1,
            rotated_at: None,
            previous: None,
        },
        suspended_at: None,
        revocation: None,
        expiry_recorded_at: None,
        expiry_notice_recorded_at: None,
        token_generation: 0,
        last_used_at: None,
        last_used_from: None,
        leak: None,
        version: 1,
    };
    let event = AuditEvent::new(
        &credential,
        context,
        AuditAction::Created {
            name: credential.name.to_string(),
            scopes: credential.scopes.to_strings(),
            environment: credential.environment,
            expires_at: credential.expires_at,
        },
    );
    Ok(Transition { credential, event })
}

/// New secret, same client ID, same expiry (rotation never extends a credential's life).
pub fn rotate_secret(
    credential: &Credential,
    new_secret: impl Into<StoredSecret>,
    rotation: impl Into<Rotation>,
    context: &Context,
) -> Result<Transition, LifecycleError> {
    let Rotation {
        grace,
        end_existing_tokens,
    } = rotation.into();
    require(
        credential,
        context.now,
        &[Status::Active, Status::Suspended],
    )?;
    // An active credential whose tenant only asked to be told of a leak may still switch
    // over gently; a suspended one must come back with the leaked secret gone.
    if credential.leak.is_some()
        && credential.status(context.now) == Status::Suspended
        && grace.0 > Duration::zero()
    {
        return Err(LifecycleError::LeakedSecretGrace);
    }
    let previous = (grace.0 > Duration::zero()).then(|| PreviousSecret {
        hash: credential.secret.hash.clone(),
        valid_until: context.now + grace.0,
    });
    let mut next = next_version(credential);
    if end_existing_tokens {
        next.token_generation = credential.token_generation.saturating_add(1);
    }
    let new_secret = new_secret.into();
    // The leak reported was of the secret this one replaces.
    next.leak = None;
    next.secret = SecretRecord {
        hash: new_secret.hash,
        fingerprint: new_secret.fingerprint,
        version: credential.secret.version + 1,
        rotated_at: Some(context.now),
        previous,
    };
    let event = AuditEvent::new(
        &next,
        context,
        AuditAction::SecretRotated {
            secret_version: next.secret.version,
            previous_secret_valid_until: next.secret.previous.as_ref().map(|p| p.valid_until),
            end_existing_tokens,
        },
    );
    Ok(Transition {
        credential: next,
        event,
    })
}

/// Sets (`Some`) or removes (`None`) the expiry of an active credential whose current expiry,
/// if any, is more than 72 hours away.
pub fn set_expiry(
    credential: &Credential,
    expires_at: Option<Timestamp>,
    context: &Context,
) -> Result<Transition, LifecycleError> {
    require(credential, context.now, &[Status::Active])?;
    if let Some(current) = credential.expires_at
        && is_expiry_locked(current, context.now)
    {
        return Err(LifecycleError::ExpiryLocked {
            expires_at: current,
        });
    }
    if let Some(at) = expires_at {
        check_new_expiry("expires_at", at, context.now)?;
    }
    let mut next = next_version(credential);
    next.expires_at = expires_at;
    next.expiry_set_at = Some(context.now);
    next.expiry_notice_recorded_at = None;
    let event = AuditEvent::new(
        &next,
        context,
        AuditAction::ExpiryChanged {
            before: credential.expires_at,
            after: expires_at,
        },
    );
    Ok(Transition {
        credential: next,
        event,
    })
}

/// A partial update of the descriptive fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DetailsPatch {
    pub name: Option<Name>,
    pub description: Option<Description>,
    pub scopes: Option<Scopes>,
    /// `Some(None)` removes the quota.
    pub monthly_request_quota: Option<Option<RequestQuota>>,
}

/// Renames, re-describes, re-scopes or re-quotas a credential that is not revoked. Added scopes
/// apply to the next token; removed ones also leave the tokens already issued, where requests
/// are verified. `Ok(None)` when nothing would change, so a
/// form saved twice does not fill the audit trail.
pub fn update_details(
    credential: &Credential,
    patch: DetailsPatch,
    context: &Context,
) -> Result<Option<Transition>, LifecycleError> {
    require(
        credential,
        context.now,
        &[Status::Active, Status::Suspended, Status::Expired],
    )?;
    fn change<T: PartialEq + Clone, U>(
        current: &T,
        requested: Option<T>,
        show: impl Fn(&T) -> U,
    ) -> Option<(T, Change<U>)> {
        let requested = requested.filter(|r| r != current)?;
        let recorded = Change {
            before: show(current),
            after: show(&requested),
        };
        Some((requested, recorded))
    }
    let name = change(&credential.name, patch.name, Name::to_string);
    let description = change(
        &credential.description,
        patch.description,
        Description::to_string,
    );
    let scopes = change(&credential.scopes, patch.scopes, Scopes::to_strings);
    let quota = change(
        &credential.monthly_request_quota,
        patch.monthly_request_quota,
        |q| q.map(RequestQuota::get),
    );
    if name.is_none() && description.is_none() && scopes.is_none() && quota.is_none() {
        return Ok(None);
    }
    let mut next = next_version(credential);
    let action = AuditAction::Updated {
        name: name.map(|(value, recorded)| {
            next.name = value;
            recorded
        }),
        description: description.map(|(value, recorded)| {
            next.description = value;
            recorded
        }),
        scopes: scopes.map(|(value, recorded)| {
            next.scopes = value;
            recorded
        }),
        monthly_request_quota: quota.map(|(value, recorded)| {
            next.monthly_request_quota = value;
            recorded
        }),
    };
    let event = AuditEvent::new(&next, context, action);
    Ok(Some(Transition {
        credential: next,
        event,
    }))
}

pub fn suspend(credential: &Credential, context: &Context) -> Result<Transition, LifecycleError> {
    require(credential, context.now, &[Status::Active]).map_err(|refusal| match refusal {
        LifecycleError::CredentialSuspended => LifecycleError::AlreadySuspended,
        other => other,
    })?;
    let mut next = next_version(credential);
    next.suspended_at = Some(context.now);
    // The tokens issued before the suspension, an attacker's among them, must not come back
    // with a reactivation.
    next.token_generation = credential.token_generation.saturating_add(1);
    let event = AuditEvent::new(&next, context, AuditAction::Suspended {});
    Ok(Transition {
        credential: next,
        event,
    })
}

pub fn reactivate(
    credential: &Credential,
    context: &Context,
) -> Result<Transition, LifecycleError> {
    require(credential, context.now, &[Status::Suspended])?;
    if credential.leak.is_some() {
        return Err(LifecycleError::LeakedSecretNotRotated);
    }
    let mut next = next_version(credential);
    next.suspended_at = None;
    let event = AuditEvent::new(&next, context, AuditAction::Reactivated {});
    Ok(Transition {
        credential: next,
        event,
    })
}

/// Permanent. Allowed for expired credentials too: revoking one records administrative intent,
/// distinct from the passage of time, and from then on it shows as revoked.
pub fn revoke(
    credential: &Credential,
    reason: Option<Reason>,
    context: &Context,
) -> Result<Transition, LifecycleError> {
    require(
        credential,
        context.now,
        &[Status::Active, Status::Suspended, Status::Expired],
    )?;
    let was_expired = credential.is_past_expiry(context.now);
    let mut next = next_version(credential);
    next.secret.previous = None;
    next.revocation = Some(Revocation {
        at: context.now,
        by: context.actor.subject.clone(),
        reason: reason.clone(),
    });
    let event = AuditEvent::new(
        &next,
        context,
        AuditAction::Revoked {
            reason: reason.map(|r| r.to_string()),
            was_expired,
        },
    );
    Ok(Transition {
        credential: next,
        event,
    })
}

/// Deleting is always allowed; the audit trail keeps a `credential.deleted` event.
pub fn delete(credential: &Credential, context: &Context) -> AuditEvent {
    AuditEvent::new(
        credential,
        context,
        AuditAction::Deleted {
            name: credential.name.to_string(),
        },
    )
}

#[cfg(test)]
mod tests;

/// A policy write: the policy after it, and its `tenant.policy_changed` event, stored
/// together.
#[derive(Debug, Clone)]
pub struct PolicyChange {
    pub policy: StoredPolicy,
    pub event: AuditEvent,
}

/// `current` replaced by `policy`, set by the caller in `context`, with its audit event.
pub fn replace_policy(
    current: &StoredPolicy,
    policy: TenantPolicy,
    context: &Context,
) -> PolicyChange {
    let after = StoredPolicy {
        tenant: current.tenant.clone(),
        policy,
        version: current.version + 1,
        updated_at: Some(context.now),
        updated_by: Some(context.actor.subject.clone()),
    };
    let event = AuditEvent::for_tenant(
        &current.tenant,
        context,
        AuditAction::PolicyChanged {
            before: current.policy.document(),
            after: after.policy.document(),
        },
    );
    PolicyChange {
        policy: after,
        event,
    }
}
