//! Editing an expiry under the lock window, and what the sweeper records.

use super::*;
use crate::audit::Actor;

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
            expires_at: Some(t0() + Duration::days(2)),
            ..testing::new_credential("acme", &["customers:read"])
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
