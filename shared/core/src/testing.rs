//! Fixtures shared by this crate's unit tests and the crates that test it (with the
//! `test-support` feature): an admin's request context, a new credential, a stand-in hash.
//! Never part of a function's build.

use crate::audit::{Actor, ActorRole, Context};
use crate::credential::{Description, Environment, Name, Scopes};
use crate::ids::{ClientId, TenantId};
use crate::lifecycle::{self, NewCredential, Transition};
use crate::secret::SecretHash;
use crate::time::Timestamp;

/// Who [`admin`] is: what audit events and `created_by` record for the fixtures' changes.
pub const ADMIN_SUBJECT: &str = "admin-1";

pub fn admin() -> Actor {
    Actor {
        subject: ADMIN_SUBJECT.into(),
        role: ActorRole::Admin,
    }
}

/// An admin's request at `now`, with a request ID of its own.
pub fn context_at(now: Timestamp) -> Context {
    Context {
        actor: admin(),
        now,
        request_id: Some(format!("req-{}", ulid::Ulid::generate())),
    }
}

#[track_caller]
pub fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).expect("a valid tenant")
}

/// A stand-in hash: nothing but verification looks inside one, and real argon2 would slow
/// the tests.
pub fn fake_hash(label: &str) -> SecretHash {
    SecretHash::from_phc(format!("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ${label}"))
}

/// What an admin asks for: a live credential of `tenant_name` with `scopes`, no expiry, no
/// quota. Change a field with `NewCredential { expires_at, ..new_credential(…) }`.
#[track_caller]
pub fn new_credential(tenant_name: &str, scopes: &[&str]) -> NewCredential {
    NewCredential {
        tenant: tenant(tenant_name),
        name: Name::parse("Inventory sync").expect("a valid name"),
        description: Description::parse("nightly stock levels").expect("a valid description"),
        scopes: Scopes::parse(scopes).expect("valid scopes"),
        environment: Environment::Live,
        expires_at: None,
        monthly_request_quota: None,
    }
}

/// `new` created with `hash` in `context`, under a client ID of its own.
#[track_caller]
pub fn create(new: NewCredential, hash: SecretHash, context: &Context) -> Transition {
    lifecycle::create(new, ClientId::generate(), hash, context).expect("a valid credential")
}

/// A credential of tenant `acme` with `scopes` (and `expires_at`), created by an admin at `now`.
#[track_caller]
pub fn created(scopes: &[&str], expires_at: Option<Timestamp>, now: Timestamp) -> Transition {
    create(
        NewCredential {
            expires_at,
            ..new_credential("acme", scopes)
        },
        fake_hash("first"),
        &context_at(now),
    )
}

/// The address [`uses`] says a refreshed use came from.
pub const USE_SOURCE: &str = "192.0.2.10";

/// A usage batch of `uses` uses of `credential` at `at`, as a recorder's flush writes it;
/// `refresh` also sets the credential's last use.
pub fn uses(
    credential: &crate::credential::Credential,
    uses: u64,
    at: Timestamp,
    refresh: bool,
) -> crate::store::UsageBatch {
    let counts = crate::usage_days::DayCounts {
        uses,
        ..Default::default()
    };
    let last_use = refresh.then(|| crate::store::LastUse {
        at,
        from: crate::source::SourceAddress::parse(USE_SOURCE).expect("an address"),
    });
    crate::store::UsageBatch::new(
        credential.client_id.clone(),
        credential.tenant.clone(),
        at.date_naive(),
        counts,
        at,
        last_use,
    )
}
