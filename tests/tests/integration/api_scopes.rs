//! The scope catalogue: `GET /v1/scopes` lists what the platform offers, and once a catalogue
//! is configured, credentials may carry nothing else.

use clavis_runtime::config::Env;
use clavis_tests::api::TestApi;
use reqwest::Method;
use serde_json::json;

const CATALOGUE: &str = r#"[
    {"scope": "products:read", "description": "Read the product catalogue"},
    {"scope": "orders:write", "description": "Place and change orders"}
]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_catalogue_is_listed_and_is_the_only_source_of_scopes() {
    let api = TestApi::dynamodb_with(Env::default().with("SCOPE_CATALOGUE", CATALOGUE)).await;
    let admin = api.admin("acme");
    let listed = api.get("/v1/scopes", &admin).await.expect(200).json();
    assert_eq!(
        listed,
        json!({"items": [
            {"scope": "orders:write", "description": "Place and change orders"},
            {"scope": "products:read", "description": "Read the product catalogue"},
        ]})
    );

    let refused = api
        .post(
            "/v1/tenants/acme/credentials",
            &admin,
            json!({"name": "Too much", "scopes": ["products:read", "users:admin"]}),
        )
        .await
        .expect_problem(400, "unknown_scope");
    assert_eq!(refused.json()["field"], "scopes");
    assert!(
        refused.json()["detail"]
            .as_str()
            .unwrap()
            .contains("users:admin")
    );
    assert_eq!(api.audit_len("acme").await, 0, "nothing was created");

    let created = api
        .create(
            "acme",
            json!({"name": "Shop", "scopes": ["products:read", "orders:write"]}),
        )
        .await;
    let path = format!(
        "/v1/tenants/acme/credentials/{}",
        created["credential"]["client_id"].as_str().unwrap()
    );
    api.send(
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({"scopes": ["stock:write"]})),
        &[],
    )
    .await
    .expect_problem(400, "unknown_scope");
    api.send(
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({"scopes": ["orders:write"]})),
        &[],
    )
    .await
    .expect(200);
    assert_eq!(api.audit_len("acme").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_catalogue_the_list_is_empty_and_any_well_formed_scope_goes() {
    let api = TestApi::memory().await;
    let advisor = api.token("advisor", "agency", &["acme"]);
    let listed = api.get("/v1/scopes", &advisor).await.expect(200).json();
    assert_eq!(listed, json!({"items": []}));
    api.create("acme", json!({"name": "Free", "scopes": ["anything:goes"]}))
        .await;
}
