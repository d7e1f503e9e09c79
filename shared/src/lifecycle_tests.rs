//! Every row of the design's lifecycle table, its boundaries, and status precedence.

use chrono::Duration;

use crate::audit::{Actor, ActorRole, AuditAction, Context};
use crate::credential::{
    Credential, Description, Environment, Name, Reason, RequestQuota, Scopes, Status,
};
use crate::ids::{ClientId, TenantId};
use crate::lifecycle::*;
use crate::secret::SecretHash;
use crate::time::{Timestamp, parse_rfc3339};

fn t0() -> Timestamp {
    parse_rfc3339("2026-06-01T12:00:00Z").unwrap()
}

fn at(offset: Duration) -> Context {
    Context {
        actor: Actor {
            subject: "user-1".into(),
            role: ActorRole::Admin,
        },
        now: t0() + offset,
        request_id: Some("req-1".into()),
    }
}

fn hash(label: &str) -> SecretHash {
    SecretHash::from_phc(format!("$argon2id$v=19$m=64,t=1,p=1$salt${label}"))
}

/// An admin's request context at `now`: a fixture for the unit tests of other modules too.
pub(crate) fn context_at(now: Timestamp) -> Context {
    Context {
        now,
        ..at(Duration::zero())
    }
}

/// A new credential of tenant `acme` with `scopes`, created at `now`: a fixture for the unit
/// tests of other modules too.
pub(crate) fn created(
    scopes: &[&str],
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Transition {
    create(
        NewCredential {
            tenant: TenantId::parse("acme").unwrap(),
            name: Name::parse("CRM sync").unwrap(),
            description: Description::parse("syncs contacts").unwrap(),
            scopes: Scopes::parse(scopes).unwrap(),
            environment: Environment::Live,
            expires_at,
            monthly_request_quota: None,
        },
        ClientId::generate(),
        hash("first"),
        &context_at(now),
    )
    .unwrap()
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

// --- create -------------------------------------------------------------------------------------

#[test]
fn create_records_who_and_when_and_starts_at_version_one() {
    let transition = create(
        NewCredential {
            tenant: TenantId::parse("acme").unwrap(),
            name: Name::parse("n").unwrap(),
            description: Description::default(),
            scopes: Scopes::parse(&["a:read"]).unwrap(),
            environment: Environment::Test,
            expires_at: None,
            monthly_request_quota: None,
        },
        ClientId::generate(),
        hash("h"),
        &at(Duration::zero()),
    )
    .unwrap();
    let c = &transition.credential;
    assert_eq!((c.version, c.secret.version, c.created_at), (1, 1, t0()));
    assert_eq!(c.created_by, "user-1");
    assert_eq!(transition.event.kind(), "credential.created");
    assert_eq!(transition.event.client_id, c.client_id);
    assert_eq!(transition.event.request_id.as_deref(), Some("req-1"));
}

#[test]
fn create_refuses_an_expiry_that_is_not_in_the_future() {
    for past in [t0(), t0() - Duration::seconds(1)] {
        let result = create(
            NewCredential {
                tenant: TenantId::parse("acme").unwrap(),
                name: Name::parse("n").unwrap(),
                description: Description::default(),
                scopes: Scopes::parse(&["a:read"]).unwrap(),
                environment: Environment::Live,
                expires_at: Some(past),
                monthly_request_quota: None,
            },
            ClientId::generate(),
            hash("h"),
            &at(Duration::zero()),
        );
        assert_eq!(code(result), "expiry_in_past");
    }
}

#[test]
fn requested_expiry_accepts_one_form_at_a_time() {
    let now = t0();
    assert_eq!(requested_expiry(None, None, now), Ok(None));
    assert_eq!(
        requested_expiry(None, Some(30), now),
        Ok(Some(now + Duration::days(30)))
    );
    let at = now + Duration::hours(1);
    assert_eq!(requested_expiry(Some(at), None, now), Ok(Some(at)));
    assert_eq!(
        requested_expiry(Some(at), Some(1), now).unwrap_err().code,
        "conflicting_expiry"
    );
    for days in [0, -1, 3651] {
        assert_eq!(
            requested_expiry(None, Some(days), now).unwrap_err().code,
            "invalid_expiry"
        );
    }
    assert_eq!(
        requested_expiry(Some(now + Duration::days(3651)), None, now)
            .unwrap_err()
            .code,
        "expiry_too_far"
    );
}

// --- rotate -------------------------------------------------------------------------------------

#[test]
fn rotate_replaces_the_secret_and_never_touches_the_expiry() {
    let c = active();
    let t = rotate_secret(
        &c,
        hash("second"),
        GracePeriod::none(),
        &at(Duration::hours(1)),
    )
    .unwrap();
    let r = &t.credential;
    assert_eq!(r.client_id, c.client_id);
    assert_eq!(r.expires_at, c.expires_at);
    assert_eq!(r.secret.hash, hash("second"));
    assert_eq!(r.secret.version, 2);
    assert_eq!(r.secret.rotated_at, Some(t0() + Duration::hours(1)));
    assert_eq!(
        r.secret.previous, None,
        "without a grace period the old secret stops at once"
    );
    assert_eq!(r.version, c.version + 1);
    assert_eq!(
        t.event.action,
        AuditAction::SecretRotated {
            secret_version: 2,
            previous_secret_valid_until: None
        }
    );
}

#[test]
fn rotate_with_grace_keeps_the_old_secret_for_the_period_only() {
    let c = active();
    let grace = GracePeriod::from_seconds(3600).unwrap();
    let r = rotate_secret(&c, hash("second"), grace, &at(Duration::zero()))
        .unwrap()
        .credential;
    let previous = r.secret.previous.clone().unwrap();
    assert_eq!(previous.hash, hash("first"));
    assert_eq!(previous.valid_until, t0() + Duration::hours(1));
    // A second rotation keeps only the secret it replaces.
    let r2 = rotate_secret(&r, hash("third"), grace, &at(Duration::minutes(5)))
        .unwrap()
        .credential;
    assert_eq!(r2.secret.previous.unwrap().hash, hash("second"));
    assert_eq!(r2.expires_at, c.expires_at);
}

#[test]
fn grace_period_is_bounded_to_seven_days() {
    assert!(GracePeriod::from_seconds(0).is_ok());
    assert!(GracePeriod::from_seconds(604_800).is_ok());
    assert_eq!(
        GracePeriod::from_seconds(604_801).unwrap_err().code,
        "invalid_grace_period"
    );
    assert_eq!(
        GracePeriod::from_seconds(-1).unwrap_err().code,
        "invalid_grace_period"
    );
}

#[test]
fn rotate_is_allowed_while_suspended() {
    let r = rotate_secret(
        &suspended(),
        hash("s"),
        GracePeriod::none(),
        &at(Duration::zero()),
    )
    .unwrap();
    assert_eq!(r.credential.status(t0()), Status::Suspended);
}

#[test]
fn rotate_is_refused_for_expired_and_revoked_credentials() {
    let g = GracePeriod::none();
    assert_eq!(
        code(rotate_secret(&active(), hash("x"), g, &at(after_expiry()))),
        "credential_expired"
    );
    assert_eq!(
        code(rotate_secret(
            &suspended(),
            hash("x"),
            g,
            &at(after_expiry())
        )),
        "credential_expired"
    );
    assert_eq!(
        code(rotate_secret(
            &revoked(),
            hash("x"),
            g,
            &at(Duration::zero())
        )),
        "credential_revoked"
    );
}

// --- edit expiry --------------------------------------------------------------------------------

#[test]
fn expiry_lock_window_boundary() {
    let c = active();
    let expires_at = c.expires_at.unwrap();
    let before = |d: Duration| Context {
        now: expires_at - d,
        ..at(Duration::zero())
    };
    let new = Some(expires_at + Duration::days(10));
    let h = |hours: i64, minutes: i64, seconds: i64| {
        Duration::hours(hours) + Duration::minutes(minutes) + Duration::seconds(seconds)
    };
    assert_eq!(
        code(set_expiry(&c, new, &before(h(71, 59, 59)))),
        "expiry_locked"
    );
    assert_eq!(
        code(set_expiry(&c, new, &before(h(72, 0, 0)))),
        "expiry_locked"
    );
    let unlocked = set_expiry(&c, new, &before(h(72, 0, 1))).unwrap();
    assert_eq!(unlocked.credential.expires_at, new);
    assert!(matches!(
        set_expiry(&c, None, &before(h(1, 0, 0))),
        Err(LifecycleError::ExpiryLocked { expires_at: e }) if e == expires_at
    ));
}

#[test]
fn expiry_can_be_set_changed_and_removed_outside_the_window() {
    let c = new_credential(None);
    let later = t0() + Duration::days(90);
    let set = set_expiry(&c, Some(later), &at(Duration::zero())).unwrap();
    assert_eq!(set.credential.expires_at, Some(later));
    assert_eq!(
        set.event.action,
        AuditAction::ExpiryChanged {
            before: None,
            after: Some(later)
        }
    );
    let removed = set_expiry(&set.credential, None, &at(Duration::days(1))).unwrap();
    assert_eq!(removed.credential.expires_at, None);
    assert_eq!(removed.credential.version, c.version + 2);
}

#[test]
fn new_expiry_must_be_in_the_future() {
    let c = new_credential(None);
    assert_eq!(
        code(set_expiry(&c, Some(t0()), &at(Duration::zero()))),
        "expiry_in_past"
    );
    assert_eq!(
        code(set_expiry(
            &c,
            Some(t0() - Duration::days(1)),
            &at(Duration::zero())
        )),
        "expiry_in_past"
    );
}

#[test]
fn expiry_edits_need_an_active_credential() {
    let new = Some(t0() + Duration::days(60));
    assert_eq!(
        code(set_expiry(&suspended(), new, &at(Duration::zero()))),
        "credential_suspended"
    );
    assert_eq!(
        code(set_expiry(&revoked(), new, &at(Duration::zero()))),
        "credential_revoked"
    );
    assert_eq!(
        code(set_expiry(&active(), None, &at(after_expiry()))),
        "credential_expired"
    );
}

// --- update details -----------------------------------------------------------------------------

#[test]
fn update_records_only_what_changed() {
    let c = active();
    let patch = DetailsPatch {
        name: Some(Name::parse("CRM sync").unwrap()),
        description: None,
        scopes: Some(Scopes::parse(&["customers:read", "profile:write"]).unwrap()),
        monthly_request_quota: None,
    };
    let t = update_details(&c, patch, &at(Duration::zero()))
        .unwrap()
        .unwrap();
    assert_eq!(
        t.credential.scopes.to_strings(),
        ["customers:read", "profile:write"]
    );
    let AuditAction::Updated {
        name,
        description,
        scopes,
        monthly_request_quota,
    } = t.event.action
    else {
        panic!("wrong event");
    };
    assert!(
        name.is_none() && description.is_none() && monthly_request_quota.is_none(),
        "unchanged fields are not recorded"
    );
    let scopes = scopes.unwrap();
    assert_eq!(scopes.before, ["customers:read"]);
    assert_eq!(scopes.after, ["customers:read", "profile:write"]);
}

#[test]
fn update_that_changes_nothing_writes_nothing() {
    let c = active();
    let same = DetailsPatch {
        name: Some(c.name.clone()),
        ..DetailsPatch::default()
    };
    assert!(
        update_details(&c, same, &at(Duration::zero()))
            .unwrap()
            .is_none()
    );
    assert!(
        update_details(&c, DetailsPatch::default(), &at(Duration::zero()))
            .unwrap()
            .is_none()
    );
}

#[test]
fn update_is_allowed_unless_revoked() {
    let patch = || DetailsPatch {
        name: Some(Name::parse("renamed").unwrap()),
        ..DetailsPatch::default()
    };
    assert!(
        update_details(&suspended(), patch(), &at(Duration::zero()))
            .unwrap()
            .is_some()
    );
    assert!(
        update_details(&active(), patch(), &at(after_expiry()))
            .unwrap()
            .is_some()
    );
    assert_eq!(
        code(update_details(&revoked(), patch(), &at(Duration::zero()))),
        "credential_revoked"
    );
}

// --- suspend / reactivate -----------------------------------------------------------------------

#[test]
fn suspend_only_active_credentials() {
    let t = suspend(&active(), &at(Duration::zero())).unwrap();
    assert_eq!(t.credential.suspended_at, Some(t0()));
    assert_eq!(t.event.kind(), "credential.suspended");
    assert_eq!(
        code(suspend(&suspended(), &at(Duration::zero()))),
        "credential_suspended"
    );
    assert_eq!(
        code(suspend(&active(), &at(after_expiry()))),
        "credential_expired"
    );
    assert_eq!(
        code(suspend(&revoked(), &at(Duration::zero()))),
        "credential_revoked"
    );
}

#[test]
fn reactivate_only_suspended_unexpired_credentials() {
    let t = reactivate(&suspended(), &at(Duration::hours(1))).unwrap();
    assert_eq!(t.credential.status(t0()), Status::Active);
    assert_eq!(t.event.kind(), "credential.reactivated");
    assert_eq!(
        code(reactivate(&active(), &at(Duration::zero()))),
        "credential_not_suspended"
    );
    assert_eq!(
        code(reactivate(&suspended(), &at(after_expiry()))),
        "credential_expired"
    );
    let revoked_suspended = revoke(&suspended(), None, &at(Duration::zero()))
        .unwrap()
        .credential;
    assert_eq!(
        code(reactivate(&revoked_suspended, &at(Duration::zero()))),
        "credential_revoked"
    );
}

// --- revoke -------------------------------------------------------------------------------------

#[test]
fn revoke_any_status_but_revoked() {
    for (credential, now) in [
        (active(), Duration::zero()),
        (suspended(), Duration::zero()),
        (active(), after_expiry()),
    ] {
        let t = revoke(
            &credential,
            Some(Reason::parse("leaked").unwrap()),
            &at(now),
        )
        .unwrap();
        assert_eq!(t.credential.status(t0() + now), Status::Revoked);
        let revocation = t.credential.revocation.unwrap();
        assert_eq!(
            (revocation.at, revocation.by.as_str()),
            (t0() + now, "user-1")
        );
    }
    assert_eq!(
        code(revoke(&revoked(), None, &at(Duration::zero()))),
        "credential_revoked"
    );
}

#[test]
fn revoking_an_expired_credential_is_recorded_as_administrative_intent() {
    let t = revoke(&active(), None, &at(after_expiry())).unwrap();
    assert_eq!(
        t.event.action,
        AuditAction::Revoked {
            reason: None,
            was_expired: true
        }
    );
    assert_eq!(t.event.actor.role, ActorRole::Admin);
    assert_eq!(t.credential.status(t0() + after_expiry()), Status::Revoked);
}

#[test]
fn revoking_ends_a_grace_period_at_once() {
    let grace = GracePeriod::from_seconds(3600).unwrap();
    let rotated = rotate_secret(&active(), hash("second"), grace, &at(Duration::zero()))
        .unwrap()
        .credential;
    let r = revoke(&rotated, None, &at(Duration::minutes(1)))
        .unwrap()
        .credential;
    assert_eq!(r.secret.previous, None);
}

// --- delete -------------------------------------------------------------------------------------

#[test]
fn delete_is_allowed_in_every_status_and_leaves_an_event() {
    for (credential, now) in [
        (active(), Duration::zero()),
        (suspended(), Duration::zero()),
        (active(), after_expiry()),
        (revoked(), Duration::zero()),
    ] {
        let event = delete(&credential, &at(now));
        assert_eq!(event.kind(), "credential.deleted");
        assert_eq!(event.client_id, credential.client_id);
    }
}

// --- sweeper ------------------------------------------------------------------------------------

#[test]
fn expiry_is_recorded_once_by_the_system() {
    let c = active();
    assert!(record_expiry(&c, t0()).is_none(), "not yet expired");
    let t = record_expiry(&c, t0() + after_expiry()).unwrap();
    assert_eq!(t.event.actor, Actor::system());
    assert_eq!(
        t.event.action,
        AuditAction::Expired {
            expires_at: c.expires_at.unwrap()
        }
    );
    assert!(
        record_expiry(&t.credential, t0() + after_expiry()).is_none(),
        "only once"
    );
    assert!(
        record_expiry(&revoked(), t0() + after_expiry()).is_none(),
        "revocation supersedes"
    );
    assert!(record_expiry(&new_credential(None), t0() + after_expiry()).is_none());
}

const WEEK: Duration = Duration::days(7);

#[test]
fn recorded_and_ended_credentials_leave_the_sweep_index() {
    let c = active();
    let expires_at = c.expires_at.unwrap();
    assert_eq!(
        c.sweep_due_at(WEEK),
        Some(expires_at - WEEK),
        "notice first"
    );
    let noticed = record_expiring_soon(&c, expires_at - WEEK, WEEK)
        .unwrap()
        .credential;
    assert_eq!(
        noticed.sweep_due_at(WEEK),
        Some(expires_at),
        "then the expiry"
    );
    assert_eq!(revoked().sweep_due_at(WEEK), None);
    assert_eq!(new_credential(None).sweep_due_at(WEEK), None);
    let recorded = record_expiry(&c, t0() + after_expiry()).unwrap().credential;
    assert_eq!(recorded.sweep_due_at(WEEK), None);
}

#[test]
fn the_index_never_places_a_credential_behind_the_change_that_put_it_there() {
    // Created two days before its expiry: its notice is due now, not five days ago.
    let created = create(
        NewCredential {
            tenant: TenantId::parse("acme").unwrap(),
            name: Name::parse("short-lived").unwrap(),
            description: Description::default(),
            scopes: Scopes::parse(&["customers:read"]).unwrap(),
            environment: Environment::Live,
            expires_at: Some(t0() + Duration::days(2)),
            monthly_request_quota: None,
        },
        ClientId::generate(),
        hash("first"),
        &at(Duration::zero()),
    )
    .unwrap();
    assert_eq!(created.sweep_index_at(WEEK), Some(t0()));
    let far = set_expiry(
        &active(),
        Some(t0() + Duration::days(60)),
        &at(Duration::zero()),
    )
    .unwrap();
    assert_eq!(far.sweep_index_at(WEEK), Some(t0() + Duration::days(53)));
}

#[test]
fn the_expiring_soon_notice_comes_once_per_expiry_inside_its_window() {
    let c = active();
    let expires_at = c.expires_at.unwrap();
    let just_outside = expires_at - WEEK - Duration::seconds(1);
    assert!(record_expiring_soon(&c, just_outside, WEEK).is_none());
    let t = record_expiring_soon(&c, expires_at - WEEK, WEEK).unwrap();
    assert_eq!(t.event.actor, Actor::system());
    assert_eq!(t.event.action, AuditAction::ExpiringSoon { expires_at });
    assert_eq!(t.credential.version, c.version + 1);
    assert!(
        record_expiring_soon(&t.credential, expires_at - Duration::days(1), WEEK).is_none(),
        "once"
    );
    assert!(record_expiring_soon(&revoked(), expires_at - Duration::days(1), WEEK).is_none());
    assert!(
        record_expiring_soon(&c, expires_at, WEEK).is_none(),
        "an expired credential gets its expiry recorded instead"
    );
    // A new expiry deserves its own notice.
    let moved = set_expiry(
        &t.credential,
        Some(expires_at + Duration::days(30)),
        &at(Duration::zero()),
    )
    .unwrap()
    .credential;
    assert_eq!(moved.expiry_notice_recorded_at, None);
    assert!(record_expiring_soon(&moved, expires_at + Duration::days(25), WEEK).is_some());
}

#[test]
fn a_sweep_records_the_expiry_before_any_notice() {
    let c = active();
    let expires_at = c.expires_at.unwrap();
    let late = sweep(&c, expires_at + Duration::hours(1), WEEK).unwrap();
    assert_eq!(late.event.action, AuditAction::Expired { expires_at });
    let early = sweep(&c, expires_at - Duration::days(3), WEEK).unwrap();
    assert_eq!(early.event.action, AuditAction::ExpiringSoon { expires_at });
    assert!(sweep(&c, expires_at - Duration::days(8), WEEK).is_none());
}

#[test]
fn refusals_read_as_sentences() {
    let refusal = set_expiry(&suspended(), None, &at(Duration::zero())).unwrap_err();
    let text = refusal.to_string();
    assert!(text.starts_with("The credential is suspended"), "{text}");
    let locked = set_expiry(&active(), None, &at(Duration::days(29))).unwrap_err();
    assert!(locked.to_string().contains("72 hours"), "{locked}");
}

#[test]
fn a_quota_is_set_changed_and_removed_each_with_its_event() {
    let quota = |n| Some(RequestQuota::new(n).unwrap());
    let recorded = |t: &Transition| match &t.event.action {
        AuditAction::Updated {
            monthly_request_quota: Some(change),
            ..
        } => (change.before, change.after),
        other => panic!("wrong event: {other:?}"),
    };
    let patch = |q| DetailsPatch {
        monthly_request_quota: Some(q),
        ..DetailsPatch::default()
    };
    let now = at(Duration::zero());
    let set = update_details(&active(), patch(quota(1_000)), &now)
        .unwrap()
        .unwrap();
    assert_eq!(set.credential.monthly_request_quota, quota(1_000));
    assert_eq!(recorded(&set), (None, Some(1_000)));
    let changed = update_details(&set.credential, patch(quota(5)), &now)
        .unwrap()
        .unwrap();
    assert_eq!(recorded(&changed), (Some(1_000), Some(5)));
    let removed = update_details(&changed.credential, patch(None), &now)
        .unwrap()
        .unwrap();
    assert_eq!(removed.credential.monthly_request_quota, None);
    assert_eq!(recorded(&removed), (Some(5), None));
    assert!(
        update_details(&removed.credential, patch(None), &now)
            .unwrap()
            .is_none(),
        "removing an absent quota changes nothing"
    );
}

#[test]
fn a_quota_is_a_whole_number_from_one_to_a_trillion() {
    for good in ["1", "1000000000000"] {
        assert!(serde_json::from_str::<RequestQuota>(good).is_ok(), "{good}");
    }
    for bad in ["0", "-1", "1.5", "\"10\"", "1000000000001", "true"] {
        assert!(serde_json::from_str::<RequestQuota>(bad).is_err(), "{bad}");
    }
    let quota = RequestQuota::new(3).unwrap();
    assert!(quota.allows_another(2));
    assert!(!quota.allows_another(3));
}
