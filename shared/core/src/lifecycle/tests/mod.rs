//! Every row of the design's lifecycle table, its boundaries, and status precedence: the
//! fixtures and status precedence here, each family of operations in a file of its own.

use chrono::Duration;

use crate::audit::{ActorRole, Context};
use crate::credential::{Credential, Environment, Name, Reason, RequestQuota, Scopes, Status};
use crate::ids::ClientId;
use crate::lifecycle::*;
use crate::secret::SecretHash;
use crate::testing::{self, ADMIN_SUBJECT, created};
use crate::time::{Timestamp, parse_rfc3339};

mod changes;
mod create_and_rotate;
mod expiry;
mod leaks;

/// The request ID every change of these tests carries.
const REQUEST_ID: &str = "req-1";

fn t0() -> Timestamp {
    parse_rfc3339("2026-06-01T12:00:00Z").unwrap()
}

/// An admin's request, `offset` after [`t0`].
fn at(offset: Duration) -> Context {
    Context {
        request_id: Some(REQUEST_ID.into()),
        ..testing::context_at(t0() + offset)
    }
}

fn hash(label: &str) -> SecretHash {
    testing::fake_hash(label)
}

fn new_credential(expires_at: Option<Timestamp>) -> Credential {
    created(&["customers:read"], expires_at, t0()).credential
}

fn active() -> Credential {
    new_credential(Some(t0() + Duration::days(30)))
}

fn suspended() -> Credential {
    suspend(&active(), &at(Duration::zero()))
        .unwrap()
        .credential
}

fn revoked() -> Credential {
    revoke(&active(), None, &at(Duration::zero()))
        .unwrap()
        .credential
}

/// Status at `at(after_expiry)` is expired for this one.
fn after_expiry() -> Duration {
    Duration::days(31)
}

fn code<T: std::fmt::Debug>(result: Result<T, LifecycleError>) -> &'static str {
    result.unwrap_err().code()
}

// --- status -------------------------------------------------------------------------------------

#[test]
fn status_precedence_is_revoked_expired_suspended_active() {
    let c = active();
    assert_eq!(c.status(t0()), Status::Active);
    assert_eq!(suspended().status(t0()), Status::Suspended);
    assert_eq!(suspended().status(t0() + after_expiry()), Status::Expired);
    assert_eq!(
        revoked().status(t0() + after_expiry()),
        Status::Revoked,
        "revoked and expired shows revoked"
    );
    let revoked_while_suspended = revoke(&suspended(), None, &at(Duration::zero()))
        .unwrap()
        .credential;
    assert_eq!(revoked_while_suspended.status(t0()), Status::Revoked);
}

#[test]
fn expiry_takes_effect_to_the_second() {
    let c = active();
    let expires_at = c.expires_at.unwrap();
    assert_eq!(c.status(expires_at - Duration::seconds(1)), Status::Active);
    assert_eq!(c.status(expires_at), Status::Expired);
}

#[test]
fn credentials_without_expiry_never_expire() {
    let c = new_credential(None);
    assert_eq!(c.status(t0() + Duration::days(365 * 50)), Status::Active);
}
