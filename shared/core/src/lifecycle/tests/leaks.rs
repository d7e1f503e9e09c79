//! What a leak report does: the tenant's action for a secret still accepted, the event alone
//! for one that is not.

use super::*;
use crate::leak::{IssuedSecret, LeakOutcome, LeakReport, LeakSource, SecretFingerprint};
use crate::policy::LeakAction;

fn issued(credential: &Credential, secret_version: u32) -> IssuedSecret {
    IssuedSecret {
        fingerprint: SecretFingerprint::of_text("a leaked secret"),
        client_id: credential.client_id.clone(),
        tenant: credential.tenant.clone(),
        secret_version,
        issued_at: t0(),
    }
}

fn report() -> LeakReport {
    LeakReport {
        source: LeakSource::Admin,
        url: None,
    }
}

fn rotated(grace_seconds: i64) -> Credential {
    let grace = GracePeriod::from_seconds(grace_seconds).unwrap();
    rotate_secret(&active(), hash("second"), grace, &at(Duration::zero()))
        .unwrap()
        .credential
}

#[test]
fn each_policy_acts_on_a_current_secret_and_marks_the_credential() {
    for (action, outcome, status, also) in [
        (
            LeakAction::Revoke,
            LeakOutcome::Revoked,
            Status::Revoked,
            Some("credential.revoked"),
        ),
        (
            LeakAction::Suspend,
            LeakOutcome::Suspended,
            Status::Suspended,
            Some("credential.suspended"),
        ),
        (LeakAction::Notify, LeakOutcome::None, Status::Active, None),
    ] {
        let c = active();
        let record = record_leak(
            Some(&c),
            &issued(&c, 1),
            &report(),
            action,
            &at(Duration::zero()),
        );
        assert!(record.secret_current);
        assert_eq!(record.outcome, outcome);
        let (version, next) = record.update.clone().expect("a change");
        assert_eq!(version, c.version);
        assert_eq!(next.version, c.version + 1);
        assert_eq!(next.status(t0()), status);
        assert_eq!(next.leak.as_ref().map(|l| l.action), Some(outcome));
        assert_eq!(record.event.kind(), "credential.leaked");
        assert_eq!(record.action_event.as_ref().map(|e| e.kind()), also);
        if action == LeakAction::Revoke {
            let reason = next
                .revocation
                .and_then(|r| r.reason)
                .map(|r| r.to_string());
            assert_eq!(reason.as_deref(), Some("leaked"));
        }
    }
}

#[test]
fn the_previous_secret_counts_only_within_its_grace_period() {
    let c = rotated(600);
    let within = record_leak(
        Some(&c),
        &issued(&c, 1),
        &report(),
        LeakAction::Revoke,
        &at(Duration::seconds(599)),
    );
    assert!(within.secret_current);
    assert_eq!(within.outcome, LeakOutcome::Revoked);
    let after = record_leak(
        Some(&c),
        &issued(&c, 1),
        &report(),
        LeakAction::Revoke,
        &at(Duration::seconds(600)),
    );
    assert!(!after.secret_current);
    let without_grace = rotated(0);
    let old = record_leak(
        Some(&without_grace),
        &issued(&without_grace, 1),
        &report(),
        LeakAction::Revoke,
        &at(Duration::zero()),
    );
    assert!(!old.secret_current);
}

#[test]
fn a_secret_no_longer_accepted_leads_to_the_event_alone() {
    let ended = [
        (revoked(), at(Duration::zero())),
        (active(), at(after_expiry())),
        (rotated(0), at(Duration::zero())),
    ];
    for (c, context) in ended {
        let record = record_leak(
            Some(&c),
            &issued(&c, 1),
            &report(),
            LeakAction::Revoke,
            &context,
        );
        assert!(!record.secret_current);
        assert_eq!(record.outcome, LeakOutcome::None);
        assert!(record.update.is_none() && record.action_event.is_none());
        assert_eq!(record.event.client_id.as_ref(), Some(&c.client_id));
    }
    // A deleted credential: the event alone, still under its own client ID and tenant.
    let gone = active();
    let record = record_leak(
        None,
        &issued(&gone, 1),
        &report(),
        LeakAction::Revoke,
        &at(Duration::zero()),
    );
    assert_eq!(record.outcome, LeakOutcome::None);
    assert_eq!(record.event.tenant, gone.tenant);
}

#[test]
fn a_suspended_credential_stays_suspended_and_is_marked() {
    let c = suspended();
    let record = record_leak(
        Some(&c),
        &issued(&c, 1),
        &report(),
        LeakAction::Suspend,
        &at(Duration::zero()),
    );
    assert!(record.secret_current);
    assert_eq!(record.outcome, LeakOutcome::None);
    assert!(record.action_event.is_none());
    let (_, next) = record.update.expect("the mark");
    assert_eq!(next.status(t0()), Status::Suspended);
    assert!(next.leak.is_some());
    // Revoking is allowed from suspended.
    let revoking = record_leak(
        Some(&c),
        &issued(&c, 1),
        &report(),
        LeakAction::Revoke,
        &at(Duration::zero()),
    );
    assert_eq!(revoking.outcome, LeakOutcome::Revoked);
}

#[test]
fn a_credential_suspended_for_a_leak_comes_back_only_with_the_secret_rotated_away() {
    let record = record_leak(
        Some(&active()),
        &issued(&active(), 1),
        &report(),
        LeakAction::Suspend,
        &at(Duration::zero()),
    );
    let (_, leaked) = record.update.expect("suspended");
    assert_eq!(leaked.status(t0()), Status::Suspended);
    let now = at(Duration::minutes(5));
    assert_eq!(
        reactivate(&leaked, &now).unwrap_err(),
        LifecycleError::LeakedSecretNotRotated
    );
    let grace = GracePeriod::from_seconds(3600).unwrap();
    let refused = rotate_secret(&leaked, hash("second"), grace, &now).unwrap_err();
    assert_eq!(refused, LifecycleError::LeakedSecretGrace);
    assert_eq!(refused.code(), "secret_leaked");

    let rotated = rotate_secret(&leaked, hash("second"), GracePeriod::none(), &now)
        .expect("rotated")
        .credential;
    assert!(rotated.leak.is_none() && rotated.secret.previous.is_none());
    let back = reactivate(&rotated, &now).expect("reactivated").credential;
    assert_eq!(back.status(now.now), Status::Active);
}

#[test]
fn a_tenant_that_is_only_told_of_a_leak_may_still_rotate_with_a_grace_period() {
    let record = record_leak(
        Some(&active()),
        &issued(&active(), 1),
        &report(),
        LeakAction::Notify,
        &at(Duration::zero()),
    );
    let (_, noticed) = record.update.expect("marked");
    let grace = GracePeriod::from_seconds(3600).unwrap();
    let rotated = rotate_secret(&noticed, hash("second"), grace, &at(Duration::minutes(5)))
        .expect("rotated")
        .credential;
    assert!(rotated.leak.is_none() && rotated.secret.previous.is_some());
}
