//! Tenant policies: rules every credential of a tenant follows, set by its admins, as GitHub
//! organisations cap token lifetimes. Checked on change (a create, rotation, expiry edit or
//! scope update that breaks one is refused) and on use (a credential that no longer complies,
//! because the policy tightened after it was made, is blocked until fixed, never revoked).
//! Plain rules over the policy, the credential and the time.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::credential::{Credential, Environment, Scopes};
use crate::ids::TenantId;
use crate::time::Timestamp;

/// What happens to a credential whose secret is reported leaked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeakAction {
    #[default]
    Revoke,
    Suspend,
    /// Only the event: the tenant's own people decide.
    Notify,
}

impl LeakAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LeakAction::Revoke => "revoke",
            LeakAction::Suspend => "suspend",
            LeakAction::Notify => "notify",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "revoke" => Some(LeakAction::Revoke),
            "suspend" => Some(LeakAction::Suspend),
            "notify" => Some(LeakAction::Notify),
            _ => None,
        }
    }
}

/// A tenant's rules. The default, a tenant without a policy, allows everything and revokes a
/// leaked credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPolicy {
    max_lifetime_days: Option<u16>,
    require_expiry: bool,
    max_grace_seconds: Option<u32>,
    allowed_scopes: Option<Scopes>,
    allowed_environments: Vec<Environment>,
    leak_action: LeakAction,
}

/// Both environments: what a tenant without a policy allows.
const EVERY_ENVIRONMENT: [Environment; 2] = [Environment::Live, Environment::Test];

impl Default for TenantPolicy {
    fn default() -> Self {
        Self {
            max_lifetime_days: None,
            require_expiry: false,
            max_grace_seconds: None,
            allowed_scopes: None,
            allowed_environments: EVERY_ENVIRONMENT.to_vec(),
            leak_action: LeakAction::default(),
        }
    }
}

/// A policy document that cannot be a policy: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidPolicy {
    pub field: &'static str,
    pub reason: String,
}

/// A policy's fields as an admin sends them, before they are checked. The default is the
/// open policy's.
#[derive(Debug, Clone)]
pub struct PolicyFields {
    pub max_lifetime_days: Option<i64>,
    pub require_expiry: bool,
    pub max_grace_seconds: Option<i64>,
    pub allowed_scopes: Option<Scopes>,
    pub allowed_environments: Vec<Environment>,
    pub leak_action: LeakAction,
}

impl Default for PolicyFields {
    fn default() -> Self {
        Self {
            max_lifetime_days: None,
            require_expiry: false,
            max_grace_seconds: None,
            allowed_scopes: None,
            allowed_environments: EVERY_ENVIRONMENT.to_vec(),
            leak_action: LeakAction::default(),
        }
    }
}

/// The longest lifetime a policy may cap at, as GitHub's (a year and a day).
pub const MAX_LIFETIME_DAYS: i64 = 366;
/// The longest grace a policy may allow: a rotation's own limit.
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 60 * 60;

impl TenantPolicy {
    /// Checks `fields`: lifetime 1–366 days, grace 0–604,800 seconds, at least one
    /// environment. Scopes are checked against the catalogue by the caller, who has it.
    pub fn new(fields: PolicyFields) -> Result<Self, InvalidPolicy> {
        let invalid = |field: &'static str, reason: String| InvalidPolicy { field, reason };
        let max_lifetime_days = fields
            .max_lifetime_days
            .map(|days| {
                u16::try_from(days)
                    .ok()
                    .filter(|d| (1..=MAX_LIFETIME_DAYS).contains(&i64::from(*d)))
                    .ok_or_else(|| {
                        invalid(
                            "max_lifetime_days",
                            format!("must be from 1 to {MAX_LIFETIME_DAYS} days, or null"),
                        )
                    })
            })
            .transpose()?;
        let max_grace_seconds = fields
            .max_grace_seconds
            .map(|seconds| {
                u32::try_from(seconds)
                    .ok()
                    .filter(|s| i64::from(*s) <= MAX_GRACE_SECONDS)
                    .ok_or_else(|| {
                        invalid(
                            "max_grace_seconds",
                            format!("must be from 0 to {MAX_GRACE_SECONDS} seconds, or null"),
                        )
                    })
            })
            .transpose()?;
        let mut allowed_environments = fields.allowed_environments;
        allowed_environments.sort_by_key(|e| e.as_str());
        allowed_environments.dedup();
        if allowed_environments.is_empty() {
            return Err(invalid(
                "allowed_environments",
                "must name at least one of live and test".to_owned(),
            ));
        }
        Ok(Self {
            max_lifetime_days,
            require_expiry: fields.require_expiry,
            max_grace_seconds,
            allowed_scopes: fields.allowed_scopes,
            allowed_environments,
            leak_action: fields.leak_action,
        })
    }

    pub fn max_lifetime_days(&self) -> Option<u16> {
        self.max_lifetime_days
    }

    pub fn require_expiry(&self) -> bool {
        self.require_expiry
    }

    pub fn max_grace_seconds(&self) -> Option<u32> {
        self.max_grace_seconds
    }

    pub fn allowed_scopes(&self) -> Option<&Scopes> {
        self.allowed_scopes.as_ref()
    }

    pub fn allowed_environments(&self) -> &[Environment] {
        &self.allowed_environments
    }

    pub fn leak_action(&self) -> LeakAction {
        self.leak_action
    }

    /// An expiry set at `set_at`: present if one is required, and no further ahead than the
    /// lifetime allows (exactly that many days is allowed).
    pub fn check_expiry(
        &self,
        expires_at: Option<Timestamp>,
        set_at: Timestamp,
    ) -> Result<(), Violation> {
        match (expires_at, self.max_lifetime_days) {
            (None, Some(days)) => Err(Violation::lifetime(days)),
            (None, None) if self.require_expiry => Err(Violation {
                field: "expires_at",
                sentence: "This tenant requires credentials to have an expiry date.".to_owned(),
            }),
            (Some(at), Some(days)) if at > set_at + Duration::days(i64::from(days)) => {
                Err(Violation::lifetime(days))
            }
            _ => Ok(()),
        }
    }

    /// A rotation's grace period for the replaced secret.
    pub fn check_grace(&self, grace: Duration) -> Result<(), Violation> {
        match self.max_grace_seconds {
            Some(max) if grace > Duration::seconds(i64::from(max)) => Err(Violation {
                field: "previous_secret_valid_for_seconds",
                sentence: format!(
                    "This tenant allows a replaced secret to keep working for at most {max} \
                     seconds."
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Scopes given to a credential.
    pub fn check_scopes(&self, scopes: &Scopes) -> Result<(), Violation> {
        let Some(allowed) = &self.allowed_scopes else {
            return Ok(());
        };
        let refused: Vec<String> = scopes
            .iter()
            .filter(|scope| !allowed.contains(scope))
            .map(ToString::to_string)
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        Err(Violation {
            field: "scopes",
            sentence: format!(
                "This tenant does not allow the scope{} {}.",
                if refused.len() == 1 { "" } else { "s" },
                refused.join(", ")
            ),
        })
    }

    /// A credential's environment.
    pub fn check_environment(&self, environment: Environment) -> Result<(), Violation> {
        if self.allowed_environments.contains(&environment) {
            return Ok(());
        }
        Err(Violation {
            field: "environment",
            sentence: format!("This tenant does not allow {} keys.", environment.as_str()),
        })
    }

    /// Everything a credential made or changed before this policy breaks of it, as sentences:
    /// empty for a credential that complies. `expiry_set_at` is when its expiry was last set
    /// (its creation, or its last expiry edit).
    pub fn violations(&self, credential: &Credential, expiry_set_at: Timestamp) -> Vec<Violation> {
        [
            self.check_expiry(credential.expires_at, expiry_set_at),
            self.check_scopes(&credential.scopes),
            self.check_environment(credential.environment),
        ]
        .into_iter()
        .filter_map(Result::err)
        .collect()
    }
}

/// A policy in its wire form: what is stored, shown and audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    pub max_lifetime_days: Option<u16>,
    pub require_expiry: bool,
    pub max_grace_seconds: Option<u32>,
    pub allowed_scopes: Option<Vec<String>>,
    pub allowed_environments: Vec<Environment>,
    pub leak_action: LeakAction,
}

impl TenantPolicy {
    pub fn document(&self) -> PolicyDocument {
        PolicyDocument {
            max_lifetime_days: self.max_lifetime_days,
            require_expiry: self.require_expiry,
            max_grace_seconds: self.max_grace_seconds,
            allowed_scopes: self.allowed_scopes.as_ref().map(Scopes::to_strings),
            allowed_environments: self.allowed_environments.clone(),
            leak_action: self.leak_action,
        }
    }

    /// A stored document, checked again as it is read.
    pub fn from_document(document: PolicyDocument) -> Result<Self, InvalidPolicy> {
        let allowed_scopes = document
            .allowed_scopes
            .map(|scopes| {
                Scopes::parse(&scopes).map_err(|e| InvalidPolicy {
                    field: "allowed_scopes",
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        Self::new(PolicyFields {
            max_lifetime_days: document.max_lifetime_days.map(i64::from),
            require_expiry: document.require_expiry,
            max_grace_seconds: document.max_grace_seconds.map(i64::from),
            allowed_scopes,
            allowed_environments: document.allowed_environments,
            leak_action: document.leak_action,
        })
    }

    /// Whether a credential of this policy must have an expiry.
    pub fn requires_expiry(&self) -> bool {
        self.require_expiry || self.max_lifetime_days.is_some()
    }
}

/// A tenant's policy as stored: its version (0 while the tenant has never set one, which is
/// the open policy) and who last set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    pub tenant: TenantId,
    pub policy: TenantPolicy,
    pub version: u64,
    pub updated_at: Option<Timestamp>,
    pub updated_by: Option<String>,
}

impl StoredPolicy {
    /// What a tenant that never set a policy has.
    pub fn open(tenant: TenantId) -> Self {
        Self {
            tenant,
            policy: TenantPolicy::default(),
            version: 0,
            updated_at: None,
            updated_by: None,
        }
    }
}

/// A rule of the tenant's policy that a credential, or a change to it, breaks: the field it
/// concerns, and a sentence naming the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{sentence}")]
pub struct Violation {
    pub field: &'static str,
    pub sentence: String,
}

impl Violation {
    fn lifetime(days: u16) -> Self {
        Self {
            field: "expires_at",
            sentence: format!("This tenant requires credentials to expire within {days} days."),
        }
    }
}

#[cfg(test)]
mod tests;
