//! Creating a credential and rotating its secret.

use super::*;

// --- create -------------------------------------------------------------------------------------

#[test]
fn create_records_who_and_when_and_starts_at_version_one() {
    let transition = create(
        NewCredential {
            environment: Environment::Test,
            ..testing::new_credential("acme", &["a:read"])
        },
        ClientId::generate(),
        hash("h"),
        &at(Duration::zero()),
    )
    .unwrap();
    let c = &transition.credential;
    assert_eq!((c.version, c.secret.version, c.created_at), (1, 1, t0()));
    assert_eq!(c.created_by, ADMIN_SUBJECT);
    assert_eq!(transition.event.kind(), "credential.created");
    assert_eq!(transition.event.client_id.as_ref(), Some(&c.client_id));
    assert_eq!(transition.event.request_id.as_deref(), Some(REQUEST_ID));
}

#[test]
fn create_refuses_an_expiry_that_is_not_in_the_future() {
    for past in [t0(), t0() - Duration::seconds(1)] {
        let result = create(
            NewCredential {
                expires_at: Some(past),
                ..testing::new_credential("acme", &["a:read"])
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
            previous_secret_valid_until: None,
            end_existing_tokens: false,
        }
    );
    assert_eq!(
        r.token_generation, c.token_generation,
        "by default the tokens already issued live out their hour"
    );
}

#[test]
fn a_rotation_can_end_the_tokens_issued_before_it() {
    let c = active();
    let t = rotate_secret(
        &c,
        hash("second"),
        Rotation {
            grace: GracePeriod::none(),
            end_existing_tokens: true,
        },
        &at(Duration::hours(1)),
    )
    .unwrap();
    let r = &t.credential;
    assert!(!r.accepts_token_generation(c.token_generation));
    assert!(r.accepts_token_generation(r.token_generation));
    assert!(matches!(
        t.event.action,
        AuditAction::SecretRotated {
            end_existing_tokens: true,
            ..
        }
    ));
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
