//! A tenant's policy, read and replaced by its admins: versioned like a credential (`If-Match`),
//! and audited as `tenant.policy_changed`.

use super::ServiceError;
use super::{Acting, CredentialService, MAX_ATTEMPTS, Precondition, RETRY_AFTER_CONFLICT};
use crate::ids::TenantId;
use crate::lifecycle;
use crate::policy::{InvalidPolicy, PolicyFields, StoredPolicy, TenantPolicy};
use crate::store::StoreError;

impl CredentialService {
    /// The tenant's policy; the open one, version 0, if it never set one.
    pub async fn policy(&self, tenant: &TenantId) -> Result<StoredPolicy, ServiceError> {
        Ok(self.store.policy(tenant).await?)
    }

    /// Replaces the tenant's policy with `fields`. Credentials that no longer comply are
    /// blocked where they are used, not changed: an admin fixes them or relaxes the policy.
    pub async fn set_policy(
        &self,
        acting: &Acting,
        precondition: Option<&Precondition>,
        fields: PolicyFields,
    ) -> Result<StoredPolicy, ServiceError> {
        if let Some(scopes) = &fields.allowed_scopes {
            self.catalogue.check(scopes).map_err(|e| InvalidPolicy {
                field: "allowed_scopes",
                reason: format!("must be scopes of the catalogue: {}", e.message),
            })?;
        }
        let policy = TenantPolicy::new(fields)?;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                RETRY_AFTER_CONFLICT.wait(attempt - 1).await;
            }
            let current = self.store.policy(&acting.tenant).await?;
            if let Some(precondition) = precondition
                && !precondition.holds_for(current.version)
            {
                return Err(ServiceError::PolicyPreconditionFailed(Box::new(current)));
            }
            // The same rules again change nothing, and leave nothing in the audit trail.
            if current.policy == policy {
                return Ok(current);
            }
            let change = lifecycle::replace_policy(&current, policy.clone(), &self.context(acting));
            match self.store.put_policy(current.version, &change).await {
                Ok(()) => return Ok(change.policy),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contention)
    }
}
