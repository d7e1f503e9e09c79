//! Tenant policies through the API on DynamoDB Local (DESIGN: "Tenant policies"): the policy
//! document and its version, each rule refused on change with its field, isolation between
//! tenants, and the audit trail. What a policy blocks on use is in `authorizer.rs`.

use chrono::{Duration, Utc};
use clavis_tests::api::{Integration, TestApi};
use reqwest::Method;
use serde_json::{Value, json};

async fn put_policy(
    api: &TestApi,
    tenant: &str,
    if_match: Option<&str>,
    body: Value,
) -> clavis_tests::api::Reply {
    let token = api.admin(tenant);
    let headers: Vec<(&str, &str)> = if_match.map(|m| ("if-match", m)).into_iter().collect();
    api.send(
        Method::PUT,
        &format!("/v1/tenants/{tenant}/policy"),
        Some(&token),
        Some(body),
        &headers,
    )
    .await
}

fn days_ahead(days: i64) -> String {
    (Utc::now() + Duration::days(days)).to_rfc3339()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_starts_open_and_its_policy_is_versioned_like_a_credential() {
    let api = TestApi::dynamodb().await;
    let admin = api.admin("acme");
    let open = api.get("/v1/tenants/acme/policy", &admin).await.expect(200);
    assert_eq!(open.header("etag"), Some("\"0\""));
    let body = open.json();
    assert_eq!(
        body,
        json!({
            "tenant": "acme",
            "max_lifetime_days": null,
            "require_expiry": false,
            "max_grace_seconds": null,
            "allowed_scopes": null,
            "allowed_environments": ["live", "test"],
            "leak_action": "revoke",
            "version": 0,
            "updated_at": null,
            "updated_by": null,
        })
    );

    let set = put_policy(
        &api,
        "acme",
        Some("\"0\""),
        json!({"max_lifetime_days": 90, "leak_action": "suspend"}),
    )
    .await
    .expect(200);
    assert_eq!(set.header("etag"), Some("\"1\""));
    let set = set.json();
    assert_eq!(set["version"], 1);
    assert_eq!(set["max_lifetime_days"], 90);
    assert_eq!(set["leak_action"], "suspend");
    assert_eq!(set["require_expiry"], false, "left out: its open default");
    assert_eq!(set["updated_by"], "admin-of-acme");

    // Someone else changed it since this caller read version 0.
    let stale = put_policy(
        &api,
        "acme",
        Some("\"0\""),
        json!({"max_lifetime_days": 30}),
    )
    .await
    .expect_problem(412, "version_mismatch");
    assert_eq!(stale.header("etag"), Some("\"1\""));
    assert_eq!(stale.json()["policy"]["version"], 1);
    assert_eq!(stale.json()["policy"]["max_lifetime_days"], 90);
    // The same document again changes nothing and records nothing.
    let again = put_policy(
        &api,
        "acme",
        Some("\"1\""),
        json!({"max_lifetime_days": 90, "leak_action": "suspend"}),
    )
    .await
    .expect(200);
    assert_eq!(again.json()["version"], 1);

    let trail = api
        .get("/v1/tenants/acme/audit", &admin)
        .await
        .expect(200)
        .json();
    let changes: Vec<&Value> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "tenant.policy_changed")
        .collect();
    assert_eq!(changes.len(), 1, "{trail}");
    assert_eq!(changes[0]["client_id"], Value::Null);
    assert_eq!(
        changes[0]["details"]["before"]["max_lifetime_days"],
        Value::Null
    );
    assert_eq!(changes[0]["details"]["after"]["max_lifetime_days"], 90);
    assert_eq!(changes[0]["actor"]["subject"], "admin-of-acme");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_are_each_tenants_own() {
    let api = TestApi::dynamodb().await;
    put_policy(&api, "acme", None, json!({"require_expiry": true}))
        .await
        .expect(200);
    // Another tenant's admin learns nothing, not even whether acme has set a policy.
    let globex = api.admin("globex");
    api.get("/v1/tenants/acme/policy", &globex)
        .await
        .expect_problem(404, "policy_not_found");
    let reply = api
        .send(
            Method::PUT,
            "/v1/tenants/acme/policy",
            Some(&globex),
            Some(json!({})),
            &[],
        )
        .await;
    reply.expect_problem(404, "policy_not_found");
    let own = api
        .get("/v1/tenants/globex/policy", &globex)
        .await
        .expect(200);
    assert_eq!(own.json()["version"], 0, "globex's own, untouched");
    // An advisor of acme may; a caller of no managing role may not.
    let advisor = api.token("advisor", "consultancy", &["acme"]);
    let read = api
        .get("/v1/tenants/acme/policy", &advisor)
        .await
        .expect(200);
    assert_eq!(read.json()["require_expiry"], true);
    let viewer = api.token("viewer", "acme", &[]);
    api.get("/v1/tenants/acme/policy", &viewer)
        .await
        .expect_problem(403, "forbidden");
    // Globex's credentials are not held to acme's rules.
    api.create(
        "globex",
        json!({"name": "No expiry", "scopes": ["products:read"]}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_is_not_a_policy_is_refused_by_field() {
    let api = TestApi::dynamodb().await;
    for (body, field) in [
        (json!({"max_lifetime_days": 0}), "max_lifetime_days"),
        (json!({"max_lifetime_days": 367}), "max_lifetime_days"),
        (json!({"max_grace_seconds": -1}), "max_grace_seconds"),
        (json!({"max_grace_seconds": 604801}), "max_grace_seconds"),
        (json!({"allowed_environments": []}), "allowed_environments"),
        (
            json!({"allowed_environments": ["prod"]}),
            "allowed_environments",
        ),
        (json!({"allowed_scopes": []}), "allowed_scopes"),
        (json!({"allowed_scopes": ["Not A Scope"]}), "allowed_scopes"),
        (json!({"leak_action": "shrug"}), "leak_action"),
        // Members without a "none" refuse null rather than read it as their default.
        (json!({"require_expiry": null}), "require_expiry"),
        (
            json!({"allowed_environments": null}),
            "allowed_environments",
        ),
        (json!({"leak_action": null}), "leak_action"),
    ] {
        let refused = put_policy(&api, "acme", None, body.clone())
            .await
            .expect_problem(400, "invalid_field");
        assert_eq!(refused.json()["field"], field, "{body}");
    }
    put_policy(&api, "acme", None, json!({"max_age": 3}))
        .await
        .expect_problem(400, "unknown_field");
    let unchanged = api
        .get("/v1/tenants/acme/policy", &api.admin("acme"))
        .await
        .expect(200);
    assert_eq!(unchanged.json()["version"], 0, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rule_is_refused_on_change_with_its_field_and_a_sentence_naming_it() {
    let api = TestApi::dynamodb().await;
    let admin = api.admin("acme");
    // Made while the tenant was open: fine then, changed under the policy below.
    let earlier = api
        .create(
            "acme",
            json!({"name": "Earlier", "scopes": ["products:read"], "expires_in_days": 30}),
        )
        .await;
    let earlier = Integration::of(&earlier);
    put_policy(
        &api,
        "acme",
        None,
        json!({
            "max_lifetime_days": 90,
            "max_grace_seconds": 3600,
            "allowed_scopes": ["orders:read", "products:read"],
            "allowed_environments": ["live"],
        }),
    )
    .await
    .expect(200);
    let create = async |body: Value| {
        api.send(
            Method::POST,
            "/v1/tenants/acme/credentials",
            Some(&admin),
            Some(body),
            &[],
        )
        .await
    };
    let violation = |reply: clavis_tests::api::Reply, field: &str| {
        let reply = reply.expect_problem(400, "policy_violation");
        assert_eq!(reply.json()["field"], field, "{}", reply.text);
        reply.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let base = json!({"name": "Under policy", "scopes": ["products:read"]});
    let with = |extra: Value| {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let detail = violation(create(base.clone()).await, "expires_at");
    assert_eq!(
        detail,
        "This tenant requires credentials to expire within 90 days."
    );
    violation(
        create(with(json!({"expires_in_days": 91}))).await,
        "expires_at",
    );
    violation(
        create(with(json!({"expires_at": days_ahead(91)}))).await,
        "expires_at",
    );
    let detail = violation(
        create(with(
            json!({"expires_in_days": 30, "scopes": ["products:read", "stock:write"]}),
        ))
        .await,
        "scopes",
    );
    assert!(detail.contains("stock:write"), "{detail}");
    let detail = violation(
        create(with(json!({"expires_in_days": 30, "environment": "test"}))).await,
        "environment",
    );
    assert_eq!(detail, "This tenant does not allow test keys.");
    // Exactly the lifetime is allowed.
    create(with(json!({"expires_in_days": 90})))
        .await
        .expect(201);

    let path = format!("/v1/tenants/acme/credentials/{}", earlier.id);
    let detail = violation(
        api.post(
            &format!("{path}/rotate"),
            &admin,
            json!({"previous_secret_valid_for_seconds": 3601}),
        )
        .await,
        "previous_secret_valid_for_seconds",
    );
    assert!(detail.contains("3600 seconds"), "{detail}");
    let expiry = async |expires_at: Value| {
        api.send(
            Method::PUT,
            &format!("{path}/expiry"),
            Some(&admin),
            Some(json!({ "expires_at": expires_at })),
            &[],
        )
        .await
    };
    violation(expiry(Value::Null).await, "expires_at");
    violation(expiry(json!(days_ahead(100))).await, "expires_at");
    let update = api
        .send(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"scopes": ["stock:write"]})),
            &[],
        )
        .await;
    violation(update, "scopes");
    // Refused changes wrote nothing; allowed ones go through.
    let current = api.get(&path, &admin).await.expect(200).json();
    assert_eq!(current["version"], 1, "{current}");
    api.post(
        &format!("{path}/rotate"),
        &admin,
        json!({"previous_secret_valid_for_seconds": 3600}),
    )
    .await
    .expect(200);
    expiry(json!(days_ahead(60))).await.expect(200);
    let renamed = api
        .send(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"name": "Renamed"})),
            &[],
        )
        .await
        .expect(200);
    assert_eq!(renamed.json()["policy_violations"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_scopes_stay_within_the_scope_catalogue() {
    let api = TestApi::dynamodb_with(clavis_runtime::config::Env::default().with(
        "SCOPE_CATALOGUE",
        r#"[{"scope": "products:read", "description": "Read products"},
            {"scope": "orders:write", "description": "Place orders"}]"#,
    ))
    .await;
    let refused = put_policy(
        &api,
        "acme",
        None,
        json!({"allowed_scopes": ["products:read", "stock:write"]}),
    )
    .await
    .expect_problem(400, "invalid_field");
    assert_eq!(refused.json()["field"], "allowed_scopes");
    assert!(
        refused.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("stock:write"),
        "{}",
        refused.text
    );
    put_policy(
        &api,
        "acme",
        None,
        json!({"allowed_scopes": ["products:read"]}),
    )
    .await
    .expect(200);
}
