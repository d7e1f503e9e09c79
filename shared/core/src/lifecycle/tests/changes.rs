//! Details, suspension, revocation and deletion.

use super::*;

// --- update details -----------------------------------------------------------------------------

#[test]
fn update_records_only_what_changed() {
    let c = active();
    let patch = DetailsPatch {
        // The name it has: unchanged, so not recorded.
        name: Some(c.name.clone()),
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
    // The tokens issued before the suspension stay ended after a reactivation; new ones work.
    let back = reactivate(&t.credential, &at(Duration::minutes(1))).unwrap();
    assert!(
        !back
            .credential
            .accepts_token_generation(active().token_generation)
    );
    assert!(
        back.credential
            .accepts_token_generation(back.credential.token_generation)
    );
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
            (t0() + now, ADMIN_SUBJECT)
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
        assert_eq!(event.client_id.as_ref(), Some(&credential.client_id));
    }
}
