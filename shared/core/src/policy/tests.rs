use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::testing::created;

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
}

fn policy(change: impl FnOnce(&mut PolicyFields)) -> TenantPolicy {
    let mut fields = PolicyFields::default();
    change(&mut fields);
    TenantPolicy::new(fields).expect("a valid policy")
}

fn scopes(items: &[&str]) -> Scopes {
    Scopes::parse(items).unwrap()
}

#[test]
fn no_policy_allows_everything_and_revokes_a_leaked_key() {
    let open = TenantPolicy::default();
    assert_eq!(TenantPolicy::new(PolicyFields::default()), Ok(open.clone()));
    let credential = created(&["a:read"], None, now()).credential;
    assert!(open.violations(&credential, now()).is_empty());
    assert_eq!(open.check_grace(Duration::days(7)), Ok(()));
    assert_eq!(open.leak_action(), LeakAction::Revoke);
}

#[test]
fn each_field_is_checked_and_named_when_out_of_range() {
    for (change, field) in [
        (
            (|f: &mut PolicyFields| f.max_lifetime_days = Some(0)) as fn(&mut PolicyFields),
            "max_lifetime_days",
        ),
        (|f| f.max_lifetime_days = Some(367), "max_lifetime_days"),
        (|f| f.max_grace_seconds = Some(-1), "max_grace_seconds"),
        (|f| f.max_grace_seconds = Some(604_801), "max_grace_seconds"),
        (|f| f.allowed_environments.clear(), "allowed_environments"),
    ] {
        let mut fields = PolicyFields {
            allowed_environments: vec![Environment::Live],
            ..PolicyFields::default()
        };
        change(&mut fields);
        assert_eq!(TenantPolicy::new(fields).unwrap_err().field, field);
    }
    let edges = policy(|f| {
        f.max_lifetime_days = Some(366);
        f.max_grace_seconds = Some(604_800);
    });
    assert_eq!(edges.max_lifetime_days(), Some(366));
}

#[test]
fn an_expiry_may_be_exactly_the_lifetime_ahead_and_no_further() {
    let ninety = policy(|f| f.max_lifetime_days = Some(90));
    let limit = now() + Duration::days(90);
    assert_eq!(ninety.check_expiry(Some(limit), now()), Ok(()));
    let refused = ninety
        .check_expiry(Some(limit + Duration::seconds(1)), now())
        .unwrap_err();
    assert_eq!(refused.field, "expires_at");
    assert_eq!(
        refused.sentence,
        "This tenant requires credentials to expire within 90 days."
    );
    assert!(
        ninety.check_expiry(None, now()).is_err(),
        "a cap needs an expiry"
    );
}

#[test]
fn a_required_expiry_refuses_none() {
    let required = policy(|f| f.require_expiry = true);
    assert_eq!(
        required.check_expiry(None, now()).unwrap_err().sentence,
        "This tenant requires credentials to have an expiry date."
    );
    assert_eq!(
        required.check_expiry(Some(now() + Duration::days(3000)), now()),
        Ok(())
    );
}

#[test]
fn grace_scopes_and_environments_are_refused_naming_what_is_not_allowed() {
    let tight = policy(|f| {
        f.max_grace_seconds = Some(3600);
        f.allowed_scopes = Some(scopes(&["a:read", "b:read"]));
        f.allowed_environments = vec![Environment::Live];
    });
    assert_eq!(tight.check_grace(Duration::hours(1)), Ok(()));
    assert_eq!(
        tight
            .check_grace(Duration::seconds(3601))
            .unwrap_err()
            .field,
        "previous_secret_valid_for_seconds"
    );
    assert_eq!(tight.check_scopes(&scopes(&["a:read"])), Ok(()));
    assert_eq!(
        tight
            .check_scopes(&scopes(&["a:read", "c:write", "d:write"]))
            .unwrap_err()
            .sentence,
        "This tenant does not allow the scopes c:write, d:write."
    );
    assert_eq!(tight.check_environment(Environment::Live), Ok(()));
    assert_eq!(
        tight
            .check_environment(Environment::Test)
            .unwrap_err()
            .sentence,
        "This tenant does not allow test keys."
    );
}

#[test]
fn a_credential_made_before_a_tighter_policy_is_listed_with_every_rule_it_breaks() {
    let old = created(&["a:read", "c:write"], None, now() - Duration::days(200)).credential;
    let tightened = policy(|f| {
        f.max_lifetime_days = Some(90);
        f.allowed_scopes = Some(scopes(&["a:read"]));
    });
    let broken: Vec<&str> = tightened
        .violations(&old, old.created_at)
        .iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(broken, ["expires_at", "scopes"]);
    let fixed = Credential {
        expires_at: Some(now() + Duration::days(30)),
        scopes: scopes(&["a:read"]),
        ..old
    };
    assert!(tightened.violations(&fixed, now()).is_empty());
}
