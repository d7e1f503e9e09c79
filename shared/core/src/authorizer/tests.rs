use super::*;
use crate::credential::{Credential, RequestQuota, Scope};
use crate::lifecycle::{self, DetailsPatch};
use crate::policy::{PolicyFields, StoredPolicy, TenantPolicy};
use crate::time::Timestamp;
use crate::token::AccessTokenClaims;

fn routes() -> RouteScopes {
    RouteScopes::parse(
        r#"{
            "GET /products": ["products:read"],
            "GET /products/{id}": ["products:read"],
            "GET /products/featured": [],
            "POST /orders/{id}/items": ["orders:write"],
            "ANY /files/{path+}": ["files:read"],
            "DELETE /files/{path+}": ["files:write"]
        }"#,
    )
    .unwrap()
}

#[test]
fn the_most_specific_route_is_picked_as_api_gateway_does() {
    let r = routes();
    let key = |m, p| r.route_key(m, p);
    assert_eq!(key("GET", "/products"), "GET /products");
    assert_eq!(key("GET", "/products/42"), "GET /products/{id}");
    assert_eq!(key("GET", "/products/featured"), "GET /products/featured");
    assert_eq!(key("POST", "/orders/7/items"), "POST /orders/{id}/items");
    assert_eq!(key("GET", "/files/a/b/c.txt"), "ANY /files/{path+}");
    assert_eq!(key("DELETE", "/files/a"), "DELETE /files/{path+}");
    // A greedy parameter needs at least one segment; nothing else matches either.
    assert_eq!(key("GET", "/files"), "$default");
    assert_eq!(key("POST", "/products"), "$default");
    assert_eq!(key("GET", "/products/42/reviews"), "$default");
}

#[test]
fn templates_that_tie_are_told_apart_the_same_way_on_every_start() {
    for _ in 0..20 {
        // A fresh HashMap each time: its iteration order changes from one parse to the next.
        let r = RouteScopes::parse(
            r#"{"GET /a/{x}/c": ["one:read"], "GET /{x}/b/c": ["two:read"],
                "GET /{y}/{z}/c": [], "GET /q/{x}": [], "GET /{x}/r": []}"#,
        )
        .unwrap();
        assert_eq!(
            r.route_key("GET", "/a/b/c"),
            "GET /a/{x}/c",
            "equal literals: the longer literal prefix"
        );
        assert_eq!(
            r.route_key("GET", "/q/r"),
            "GET /q/{x}",
            "the longer literal prefix, whatever the hash order"
        );
    }
}

#[test]
fn unlisted_routes_are_refused_unless_there_is_a_default() {
    let r = routes();
    assert_eq!(
        r.required("GET /products/{id}").unwrap()[0].as_str(),
        "products:read"
    );
    assert_eq!(r.required("GET /products/featured"), Some(&[][..]));
    assert!(r.required("$default").is_none());
    assert!(r.required("POST /products").is_none());
    let with_default =
        RouteScopes::parse(r#"{"$default": ["api:use"], "GET /health": []}"#).unwrap();
    assert_eq!(
        with_default.required("POST /anything").unwrap()[0].as_str(),
        "api:use"
    );
    assert_eq!(with_default.required("GET /health"), Some(&[][..]));
}

#[test]
fn a_malformed_route_table_is_refused_with_the_reason() {
    for (json, expected) in [
        ("[]", "JSON object"),
        (r#"{"GET /a": "a:read"}"#, "JSON object"),
        (r#"{"FETCH /a": []}"#, "unknown method"),
        (r#"{"GET a": []}"#, "start with /"),
        (r#"{"GET /a//b": []}"#, "empty path segment"),
        (r#"{"GET /{p+}/b": []}"#, "not the last"),
        (r#"{"GET /a{id}": []}"#, "part literal"),
        (r#"{"GET /{}": []}"#, "malformed"),
        (r#"{"GET /a": ["Not A Scope"]}"#, "GET /a"),
        (r#"{"/a": []}"#, "METHOD /path"),
    ] {
        let error = RouteScopes::parse(json).unwrap_err();
        assert!(error.contains(expected), "{json}: {error}");
    }
}

#[test]
fn a_header_that_is_neither_scheme_refuses_as_the_contract_names_it() {
    assert_eq!(presented("bEaReR abc"), Ok(Authorization::Bearer("abc")));
    for (header, refusal) in [
        ("", Refusal::InvalidToken),
        ("Bearer ", Refusal::InvalidToken),
        ("Token abc", Refusal::InvalidToken),
        ("Basic %%%", Refusal::InvalidClient),
    ] {
        assert_eq!(presented(header), Err(refusal), "{header:?}");
    }
}

fn scopes(items: &[&str]) -> Vec<Scope> {
    items.iter().map(|s| Scope::parse(s).unwrap()).collect()
}

struct Case {
    claims: AccessTokenClaims,
    state: CredentialState,
    now: Timestamp,
}

fn case() -> Case {
    let now = chrono::Utc::now();
    let credential =
        crate::testing::created(&["orders:write", "products:read"], None, now).credential;
    let claims = AccessTokenClaims {
        iss: "https://auth.example".into(),
        sub: credential.client_id.to_string(),
        aud: "api".into(),
        exp: now.timestamp() + 3600,
        iat: now.timestamp(),
        nbf: None,
        jti: "01JTI".into(),
        client_id: credential.client_id.to_string(),
        scope: "products:read".into(),
        tenant: credential.tenant.to_string(),
        secret_version: 1,
        environment: Some("live".into()),
        token_generation: credential.token_generation,
    };
    Case {
        claims,
        state: CredentialState {
            policy: Some(StoredPolicy::open(credential.tenant.clone())),
            credential: Some(credential),
            token_denied: false,
            uses_this_month: Some(0),
        },
        now,
    }
}

const BOTH: [Environment; 2] = [Environment::Live, Environment::Test];

fn admit(c: &Case, required: &[&str], unflushed: u64) -> Result<Allowed, Refusal> {
    admit_in(c, required, unflushed, &BOTH)
}

fn admit_in(
    c: &Case,
    required: &[&str],
    unflushed: u64,
    environments: &[Environment],
) -> Result<Allowed, Refusal> {
    let required = scopes(required);
    let accept = Acceptance {
        required: &required,
        environments,
    };
    admit_bearer(&c.claims, &c.state, accept, unflushed, c.now)
}

fn with_credential(c: &mut Case, change: impl FnOnce(&Credential) -> Credential) {
    let changed = change(c.state.credential.as_ref().unwrap());
    c.state.credential = Some(changed);
}

#[test]
fn an_allowed_token_carries_its_tenant_client_scopes_and_id() {
    let c = case();
    let allowed = admit(&c, &["products:read"], 0).unwrap();
    assert_eq!(allowed.tenant, c.claims.tenant);
    assert_eq!(allowed.client_id, c.claims.client_id);
    assert_eq!(allowed.scope, "products:read");
    assert_eq!(allowed.jti, "01JTI");
    assert_eq!(allowed.environment, Environment::Live);
    assert!(admit(&c, &[], 0).is_ok(), "a route may need no scope");
}

#[test]
fn a_scope_cut_back_reaches_the_tokens_already_issued() {
    let mut c = case();
    c.claims.scope = "orders:write products:read".into();
    let now = c.now;
    with_credential(&mut c, |cr| {
        let patch = DetailsPatch {
            scopes: Some(
                crate::credential::Scopes::parse(&["orders:write", "stock:read"]).unwrap(),
            ),
            ..DetailsPatch::default()
        };
        lifecycle::update_details(cr, patch, &crate::testing::context_at(now))
            .unwrap()
            .unwrap()
            .credential
    });
    assert_eq!(
        admit(&c, &["products:read"], 0),
        Err(Refusal::InsufficientScope),
        "removed from the credential, so gone from its old token"
    );
    let allowed = admit(&c, &["orders:write"], 0).unwrap();
    assert_eq!(
        allowed.scope, "orders:write",
        "the context names what is left"
    );
    assert_eq!(
        admit(&c, &["stock:read"], 0),
        Err(Refusal::InsufficientScope),
        "a scope added later does not reach a token already issued"
    );
    // Nothing left: the token counts for nothing, even on a route that needs no scope.
    with_credential(&mut c, |cr| {
        let patch = DetailsPatch {
            scopes: Some(crate::credential::Scopes::parse(&["stock:read"]).unwrap()),
            ..DetailsPatch::default()
        };
        lifecycle::update_details(cr, patch, &crate::testing::context_at(now))
            .unwrap()
            .unwrap()
            .credential
    });
    assert_eq!(admit(&c, &[], 0), Err(Refusal::InsufficientScope));
}

#[test]
fn a_suspension_ends_the_tokens_issued_before_it_for_good() {
    let mut c = case();
    let now = c.now;
    with_credential(&mut c, |cr| {
        let context = crate::testing::context_at(now);
        let suspended = lifecycle::suspend(cr, &context).unwrap().credential;
        lifecycle::reactivate(&suspended, &context)
            .unwrap()
            .credential
    });
    assert_eq!(admit(&c, &[], 0), Err(Refusal::TokenRevoked));
    // A token issued after the reactivation, in the very same second, works.
    c.claims.token_generation = c.state.credential.as_ref().unwrap().token_generation;
    assert!(admit(&c, &[], 0).is_ok());
}

#[test]
fn an_api_refuses_keys_of_an_environment_it_does_not_accept() {
    let c = case();
    assert!(admit_in(&c, &[], 0, &[Environment::Live]).is_ok());
    assert_eq!(
        admit_in(&c, &[], 0, &[Environment::Test]),
        Err(Refusal::EnvironmentNotAccepted)
    );
}

#[test]
fn the_token_gets_only_the_scopes_it_was_issued_not_the_credentials() {
    // The credential holds orders:write, but this token was issued with products:read only.
    let c = case();
    assert_eq!(
        admit(&c, &["orders:write"], 0),
        Err(Refusal::InsufficientScope)
    );
    assert_eq!(
        admit(&c, &["products:read", "orders:write"], 0),
        Err(Refusal::InsufficientScope)
    );
}

#[test]
fn refusals_come_in_the_contracts_order() {
    let mut c = case();
    c.state.token_denied = true;
    c.state.credential = None;
    assert_eq!(admit(&c, &["x:y"], 0), Err(Refusal::TokenRevoked));
    c.state.token_denied = false;
    assert_eq!(admit(&c, &["x:y"], 0), Err(Refusal::CredentialNotFound));

    let mut c = case();
    c.claims.tenant = "another".into();
    assert_eq!(admit(&c, &[], 0), Err(Refusal::CredentialNotFound));

    let mut c = case();
    let now = c.now;
    with_credential(&mut c, |cr| {
        lifecycle::suspend(cr, &crate::testing::context_at(now))
            .unwrap()
            .credential
    });
    assert_eq!(admit(&c, &["x:y"], 0), Err(Refusal::CredentialSuspended));
    with_credential(&mut c, |cr| {
        lifecycle::revoke(cr, None, &crate::testing::context_at(now))
            .unwrap()
            .credential
    });
    assert_eq!(admit(&c, &["x:y"], 0), Err(Refusal::CredentialRevoked));

    let mut c = case();
    with_credential(&mut c, |cr| Credential {
        expires_at: Some(now - chrono::Duration::seconds(1)),
        ..cr.clone()
    });
    assert_eq!(admit(&c, &["x:y"], 0), Err(Refusal::CredentialExpired));
}

#[test]
fn the_quota_counts_stored_and_unflushed_uses() {
    let mut c = case();
    let now = c.now;
    with_credential(&mut c, |cr| {
        let patch = DetailsPatch {
            monthly_request_quota: Some(Some(RequestQuota::new(10).unwrap())),
            ..DetailsPatch::default()
        };
        lifecycle::update_details(cr, patch, &crate::testing::context_at(now))
            .unwrap()
            .unwrap()
            .credential
    });
    c.state.uses_this_month = Some(7);
    assert!(admit(&c, &[], 2).is_ok(), "9 used of 10");
    assert_eq!(admit(&c, &[], 3), Err(Refusal::QuotaExceeded));
    // Uses not read are no licence: a credential with a quota is refused without them.
    c.state.uses_this_month = None;
    assert_eq!(admit(&c, &[], 0), Err(Refusal::QuotaExceeded));
    c.state.uses_this_month = Some(7);
    // Scopes are checked first: a request that would be refused anyway says why.
    assert_eq!(
        admit(&c, &["orders:write"], 3),
        Err(Refusal::InsufficientScope)
    );
}

#[test]
fn a_token_of_a_credential_its_tenant_policy_now_blocks_is_refused_until_the_policy_relaxes() {
    let mut c = case();
    let tightened = TenantPolicy::new(PolicyFields {
        require_expiry: true,
        ..PolicyFields::default()
    })
    .unwrap();
    let tenant = c.state.credential.as_ref().unwrap().tenant.clone();
    c.state.policy = Some(StoredPolicy {
        policy: tightened,
        version: 1,
        ..StoredPolicy::open(tenant.clone())
    });
    assert_eq!(
        admit(&c, &["products:read"], 0),
        Err(Refusal::PolicyViolation),
        "issued before the policy required an expiry, refused now"
    );
    c.state.policy = Some(StoredPolicy::open(tenant.clone()));
    assert!(admit(&c, &["products:read"], 0).is_ok(), "relaxed again");
    c.state.policy = None;
    assert_eq!(
        admit(&c, &["products:read"], 0),
        Err(Refusal::PolicyViolation),
        "a policy that was not read lets nothing through"
    );
    let other = crate::ids::TenantId::parse("globex").unwrap();
    c.state.policy = Some(StoredPolicy::open(other));
    assert_eq!(
        admit(&c, &["products:read"], 0),
        Err(Refusal::PolicyViolation),
        "another tenant's policy is not this credential's"
    );
}
