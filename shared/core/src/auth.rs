//! Who is calling a management route, and what they may manage.
//!
//! In AWS, API Gateway's JWT authorizer has already checked the bearer token and hands the
//! claims to the function as strings: a list claim arrives as `"[acme globex]"`. The local
//! gateway delivers them in the same shape, so this one parser serves both.

use std::collections::HashMap;

use crate::audit::{Actor, ActorRole};
use crate::ids::TenantId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Manages the credentials of its own `tenant`.
    Admin,
    /// Manages the credentials of the tenants in `advises`.
    Advisor,
    /// Any other role of the platform: no access to credentials at all.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub role: Role,
    pub tenant: Option<TenantId>,
    pub advises: Vec<TenantId>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("This route needs a bearer token from the platform's identity provider.")]
    Unauthenticated,
    #[error("The token carries no subject (`sub`), so the caller cannot be identified.")]
    NoSubject,
    #[error("Only admins of the tenant and its advisors may manage its API credentials.")]
    Forbidden,
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Unauthenticated | AuthError::NoSubject => "unauthenticated",
            AuthError::Forbidden => "forbidden",
        }
    }
}

/// Parses a list claim in any of the shapes it reaches a function in: API Gateway's
/// `"[a b]"`, a JSON array `["a","b"]`, a comma-separated `"a,b"`, or a single value.
pub fn parse_list_claim(value: &str) -> Vec<String> {
    let trimmed = value.trim();
    if let Ok(items) = serde_json::from_str::<Vec<String>>(trimmed) {
        return items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
    }
    let inner = trimmed
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(trimmed);
    inner
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Caller {
    /// Reads the caller from authorizer claims. Malformed tenant names are dropped rather
    /// than trusted: they cannot match any tenant a route names.
    pub fn from_claims(claims: &HashMap<String, String>) -> Result<Self, AuthError> {
        let subject = claims
            .get("sub")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .ok_or(AuthError::NoSubject)?
            .to_owned();
        let role = match claims.get("role").map(|r| r.trim()) {
            Some("admin") => Role::Admin,
            Some("advisor") => Role::Advisor,
            other => Role::Other(other.unwrap_or_default().to_owned()),
        };
        let tenant = claims.get("tenant").and_then(|t| TenantId::parse(t.trim()));
        let advises = claims
            .get("advises")
            .map(|a| parse_list_claim(a))
            .unwrap_or_default()
            .iter()
            .filter_map(|t| TenantId::parse(t))
            .collect();
        Ok(Self {
            subject,
            role,
            tenant,
            advises,
        })
    }

    /// Admins manage their own tenant; advisors the tenants they advise; nobody else anything.
    pub fn may_manage(&self, tenant: &TenantId) -> bool {
        match self.role {
            Role::Admin => self.tenant.as_ref() == Some(tenant),
            Role::Advisor => self.advises.contains(tenant),
            Role::Other(_) => false,
        }
    }

    /// Whether the caller may manage some tenant: for what is the same for every tenant.
    pub fn authorize_any(&self) -> Result<(), AuthError> {
        let manages_some = match self.role {
            Role::Admin => self.tenant.is_some(),
            Role::Advisor => !self.advises.is_empty(),
            Role::Other(_) => false,
        };
        if manages_some {
            Ok(())
        } else {
            Err(AuthError::Forbidden)
        }
    }

    pub fn authorize(&self, tenant: &TenantId) -> Result<Actor, AuthError> {
        let role = match self.role {
            Role::Admin if self.may_manage(tenant) => ActorRole::Admin,
            Role::Advisor if self.may_manage(tenant) => ActorRole::Advisor,
            _ => return Err(AuthError::Forbidden),
        };
        Ok(Actor {
            subject: self.subject.clone(),
            role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).unwrap()
    }

    #[test]
    fn list_claims_parse_in_every_shape() {
        let expected = ["acme", "globex"];
        for shape in [
            "[acme globex]",
            r#"["acme","globex"]"#,
            "acme,globex",
            "acme, globex",
            " [acme  globex] ",
        ] {
            assert_eq!(parse_list_claim(shape), expected, "{shape}");
        }
        assert_eq!(parse_list_claim("acme"), ["acme"]);
        assert!(parse_list_claim("[]").is_empty());
        assert!(parse_list_claim("").is_empty());
    }

    #[test]
    fn admins_manage_only_their_tenant() {
        let caller = Caller::from_claims(&claims(&[
            ("sub", "u1"),
            ("role", "admin"),
            ("tenant", "acme"),
        ]))
        .unwrap();
        assert_eq!(
            caller.authorize(&tenant("acme")).unwrap().role,
            ActorRole::Admin
        );
        assert_eq!(
            caller.authorize(&tenant("globex")),
            Err(AuthError::Forbidden)
        );
    }

    #[test]
    fn advisors_manage_the_tenants_they_advise() {
        let caller = Caller::from_claims(&claims(&[
            ("sub", "adv"),
            ("role", "advisor"),
            ("tenant", "agency"),
            ("advises", "[acme globex]"),
        ]))
        .unwrap();
        assert_eq!(
            caller.authorize(&tenant("globex")).unwrap().role,
            ActorRole::Advisor
        );
        assert_eq!(
            caller.authorize(&tenant("initech")),
            Err(AuthError::Forbidden)
        );
        assert_eq!(
            caller.authorize(&tenant("agency")),
            Err(AuthError::Forbidden),
            "advises, not tenant"
        );
    }

    #[test]
    fn other_roles_manage_nothing() {
        for role in ["member", "viewer", "", "Admin"] {
            let caller = Caller::from_claims(&claims(&[
                ("sub", "u"),
                ("role", role),
                ("tenant", "acme"),
                ("advises", "acme"),
            ]))
            .unwrap();
            assert_eq!(
                caller.authorize(&tenant("acme")),
                Err(AuthError::Forbidden),
                "{role:?}"
            );
        }
        let no_role = Caller::from_claims(&claims(&[("sub", "u"), ("tenant", "acme")])).unwrap();
        assert_eq!(
            no_role.authorize(&tenant("acme")),
            Err(AuthError::Forbidden)
        );
    }

    #[test]
    fn a_subject_is_required() {
        assert_eq!(
            Caller::from_claims(&claims(&[("role", "admin")])),
            Err(AuthError::NoSubject)
        );
        assert_eq!(
            Caller::from_claims(&claims(&[("sub", " ")])),
            Err(AuthError::NoSubject)
        );
    }

    #[test]
    fn malformed_tenant_claims_match_nothing() {
        let caller = Caller::from_claims(&claims(&[
            ("sub", "u"),
            ("role", "admin"),
            ("tenant", "ac#me"),
        ]))
        .unwrap();
        assert_eq!(caller.tenant, None);
    }
}
