//! The management API end to end over HTTP, against DynamoDB Local: every operation, every
//! refusal of the lifecycle table, the audit trail, If-Match and pagination.

use chrono::Duration;
use clavis_tests::api::TestApi;
use reqwest::Method;
use serde_json::{Value, json};

fn credential_path(tenant: &str, client_id: &str) -> String {
    format!("/v1/tenants/{tenant}/credentials/{client_id}")
}

async fn create_acme(api: &TestApi, extra: Value) -> (String, String) {
    let mut body = json!({"name": "Inventory sync", "scopes": ["products:read"]});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let created = api.create("acme", body).await;
    let id = created["credential"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    (id, secret)
}

async fn action(api: &TestApi, id: &str, verb: &str, body: Value) -> clavis_tests::api::Reply {
    api.post(
        &format!("{}/{verb}", credential_path("acme", id)),
        &api.admin("acme"),
        body,
    )
    .await
}

async fn audit_types(api: &TestApi, id: &str) -> Vec<String> {
    let trail = api
        .get(
            &format!("{}/audit", credential_path("acme", id)),
            &api.admin("acme"),
        )
        .await
        .expect(200)
        .json();
    trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_lives_its_whole_life_through_the_api() {
    let api = TestApi::dynamodb().await;
    let token = api.admin("acme");
    let created = api
        .create(
            "acme",
            json!({"name": "CRM sync", "description": "contacts", "scopes": ["customers:read", "profile:read"], "expires_in_days": 30}),
        )
        .await;
    let credential = &created["credential"];
    let id = credential["client_id"].as_str().unwrap();
    assert_eq!(credential["status"], "active");
    assert_eq!(credential["environment"], "live");
    assert_eq!(credential["version"], 1);
    assert_eq!(credential["created_by"], "admin-of-acme");
    assert!(
        created["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("csk_live_")
    );
    assert!(created.get("secret_hash").is_none() && credential.get("secret_hash").is_none());

    let shown = api
        .get(&credential_path("acme", id), &token)
        .await
        .expect(200);
    assert_eq!(shown.header("etag"), Some("\"1\""));
    assert_eq!(shown.json()["name"], "CRM sync");
    assert!(
        shown.json().get("client_secret").is_none(),
        "the secret is never shown again"
    );

    let patched = api
        .send(
            Method::PATCH,
            &credential_path("acme", id),
            Some(&token),
            Some(json!({"scopes": ["customers:read"]})),
            &[],
        )
        .await
        .expect(200);
    assert_eq!(patched.json()["scopes"], json!(["customers:read"]));
    assert_eq!(patched.header("etag"), Some("\"2\""));

    let rotated = action(
        &api,
        id,
        "rotate",
        json!({"previous_secret_valid_for_seconds": 600}),
    )
    .await
    .expect(200)
    .json();
    assert_eq!(rotated["credential"]["client_id"], id, "same client ID");
    assert_eq!(rotated["credential"]["secret_version"], 2);
    assert_eq!(
        rotated["credential"]["expires_at"], credential["expires_at"],
        "rotation never extends expiry"
    );
    assert!(rotated["credential"]["previous_secret_valid_until"].is_string());
    assert_ne!(rotated["client_secret"], created["client_secret"]);

    let later = (api.fixture.now() + Duration::days(60)).to_rfc3339();
    let moved = api
        .send(
            Method::PUT,
            &format!("{}/expiry", credential_path("acme", id)),
            Some(&token),
            Some(json!({"expires_at": later})),
            &[],
        )
        .await
        .expect(200);
    assert_eq!(
        moved.json()["expires_at"],
        json!(later.replace("+00:00", "Z"))
    );

    assert_eq!(
        action(&api, id, "suspend", json!({}))
            .await
            .expect(200)
            .json()["status"],
        "suspended"
    );
    let reactivate = format!("{}/reactivate", credential_path("acme", id));
    let reactivated = api
        .send(Method::POST, &reactivate, Some(&token), None, &[])
        .await
        .expect(200);
    assert_eq!(
        reactivated.json()["status"],
        "active",
        "actions take an empty body"
    );
    let revoked = action(&api, id, "revoke", json!({"reason": "integration retired"}))
        .await
        .expect(200)
        .json();
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation_reason"], "integration retired");
    assert_eq!(revoked["revoked_by"], "admin-of-acme");

    let listed = api
        .get("/v1/tenants/acme/credentials?status=revoked", &token)
        .await
        .expect(200)
        .json();
    assert_eq!(listed["items"][0]["client_id"], id);

    api.send(
        Method::DELETE,
        &credential_path("acme", id),
        Some(&token),
        None,
        &[],
    )
    .await
    .expect(204);
    api.get(&credential_path("acme", id), &token)
        .await
        .expect_problem(404, "credential_not_found");
    assert_eq!(
        audit_types(&api, id).await,
        [
            "credential.deleted",
            "credential.revoked",
            "credential.reactivated",
            "credential.suspended",
            "credential.expiry_changed",
            "credential.secret_rotated",
            "credential.updated",
            "credential.created",
        ]
    );
    let tenant_trail = api
        .get("/v1/tenants/acme/audit", &token)
        .await
        .expect(200)
        .json();
    let first = &tenant_trail["items"][0];
    assert_eq!(first["type"], "credential.deleted");
    assert_eq!(
        first["actor"],
        json!({"subject": "admin-of-acme", "role": "admin"})
    );
    assert!(first["request_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_of_the_lifecycle_table_answers_409_with_its_code() {
    let api = TestApi::dynamodb().await;
    let token = api.admin("acme");

    // Expired (by time alone, the sweeper never ran): no rotation, no reactivation, no edits.
    let (expiring, _) = create_acme(
        &api,
        json!({"expires_at": (api.fixture.now() + Duration::hours(1)).to_rfc3339()}),
    )
    .await;
    let (suspended, _) = create_acme(&api, json!({})).await;
    action(&api, &suspended, "suspend", json!({}))
        .await
        .expect(200);
    let (locked, _) = create_acme(&api, json!({"expires_in_days": 4})).await;
    let (revoked, _) = create_acme(&api, json!({})).await;
    action(&api, &revoked, "revoke", json!({}))
        .await
        .expect(200);
    let (active, _) = create_acme(&api, json!({})).await;
    api.fixture.advance(Duration::hours(25));

    let path = |id: &str| credential_path("acme", id);
    let shown = api.get(&path(&expiring), &token).await.expect(200).json();
    assert_eq!(
        shown["status"], "expired",
        "expiry shows at once, before any sweep"
    );
    action(&api, &expiring, "rotate", json!({}))
        .await
        .expect_problem(409, "credential_expired");
    action(&api, &expiring, "suspend", json!({}))
        .await
        .expect_problem(409, "credential_expired");
    action(&api, &expiring, "reactivate", json!({}))
        .await
        .expect_problem(409, "credential_expired");
    let expiry_body = json!({"expires_at": null});
    let put = |id: String, body: Value| {
        let api = &api;
        let token = token.clone();
        async move {
            api.send(
                Method::PUT,
                &format!("{}/expiry", path(&id)),
                Some(&token),
                Some(body),
                &[],
            )
            .await
        }
    };
    put(expiring.clone(), expiry_body.clone())
        .await
        .expect_problem(409, "credential_expired");

    // Locked: 4 days ahead at creation, 25 hours later it is inside the 72-hour window.
    let locked_shown = api.get(&path(&locked), &token).await.expect(200).json();
    assert_eq!(locked_shown["expiry_locked"], true);
    let refused = put(locked.clone(), expiry_body.clone())
        .await
        .expect_problem(409, "expiry_locked");
    assert!(
        refused.json()["detail"]
            .as_str()
            .unwrap()
            .contains("72 hours")
    );
    // Rotation is still allowed while locked, and leaves the expiry where it was.
    let rotated = action(&api, &locked, "rotate", json!({}))
        .await
        .expect(200)
        .json();
    assert_eq!(
        rotated["credential"]["expires_at"],
        locked_shown["expires_at"]
    );

    put(suspended.clone(), expiry_body.clone())
        .await
        .expect_problem(409, "credential_suspended");
    action(&api, &suspended, "suspend", json!({}))
        .await
        .expect_problem(409, "credential_suspended");
    action(&api, &active, "reactivate", json!({}))
        .await
        .expect_problem(409, "credential_not_suspended");

    for verb in ["rotate", "suspend", "reactivate", "revoke"] {
        action(&api, &revoked, verb, json!({}))
            .await
            .expect_problem(409, "credential_revoked");
    }
    put(revoked.clone(), expiry_body.clone())
        .await
        .expect_problem(409, "credential_revoked");
    api.send(
        Method::PATCH,
        &path(&revoked),
        Some(&token),
        Some(json!({"name": "x"})),
        &[],
    )
    .await
    .expect_problem(409, "credential_revoked");

    // Expired credentials can still be revoked, and then show as revoked.
    let revoked_expired = action(&api, &expiring, "revoke", json!({"reason": "clean up"}))
        .await
        .expect(200)
        .json();
    assert_eq!(revoked_expired["status"], "revoked");
    let trail = api
        .get(&format!("{}/audit", path(&expiring)), &token)
        .await
        .expect(200)
        .json();
    assert_eq!(trail["items"][0]["type"], "credential.revoked");
    assert_eq!(trail["items"][0]["details"]["was_expired"], true);
    // And renamed, deleted.
    api.send(
        Method::PATCH,
        &path(&suspended),
        Some(&token),
        Some(json!({"description": "paused"})),
        &[],
    )
    .await
    .expect(200);
    api.send(Method::DELETE, &path(&revoked), Some(&token), None, &[])
        .await
        .expect(204);

    // Refusals wrote nothing: each refused credential's trail holds only what succeeded.
    assert_eq!(audit_types(&api, &active).await, ["credential.created"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_if_match_answers_412_with_the_current_credential() {
    let api = TestApi::dynamodb().await;
    let token = api.admin("acme");
    let (id, _) = create_acme(&api, json!({})).await;
    let path = credential_path("acme", &id);
    let suspend = format!("{path}/suspend");
    api.send(
        Method::POST,
        &suspend,
        Some(&token),
        None,
        &[("if-match", "\"1\"")],
    )
    .await
    .expect(200);
    let stale = api
        .send(
            Method::POST,
            &format!("{path}/reactivate"),
            Some(&token),
            None,
            &[("if-match", "\"1\"")],
        )
        .await
        .expect_problem(412, "version_mismatch");
    assert_eq!(stale.header("etag"), Some("\"2\""));
    assert_eq!(
        stale.json()["credential"]["status"],
        "suspended",
        "the body carries the current state"
    );
    assert_eq!(stale.json()["credential"]["version"], 2);
    api.send(
        Method::POST,
        &format!("{path}/reactivate"),
        Some(&token),
        None,
        &[("if-match", "\"2\"")],
    )
    .await
    .expect(200);
    api.send(
        Method::PATCH,
        &path,
        Some(&token),
        Some(json!({"name": "n"})),
        &[("if-match", "*")],
    )
    .await
    .expect(200);
    api.send(
        Method::DELETE,
        &path,
        Some(&token),
        None,
        &[("if-match", "\"1\"")],
    )
    .await
    .expect_problem(412, "version_mismatch");
    api.send(
        Method::DELETE,
        &path,
        Some(&token),
        None,
        &[("if-match", "W/\"4\"")],
    )
    .await
    .expect_problem(400, "invalid_if_match");
    api.send(
        Method::DELETE,
        &path,
        Some(&token),
        None,
        &[("if-match", "\"4\"")],
    )
    .await
    .expect(204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_page_with_opaque_cursors() {
    let api = TestApi::dynamodb().await;
    let token = api.admin("acme");
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(create_acme(&api, json!({})).await.0);
        api.fixture.advance(Duration::seconds(1));
    }
    created.reverse();
    let mut seen = Vec::new();
    let mut path = "/v1/tenants/acme/credentials?limit=2".to_owned();
    loop {
        let page = api.get(&path, &token).await.expect(200).json();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["client_id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/tenants/acme/credentials?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, created, "newest first, every credential once");
    let trail = api
        .get("/v1/tenants/acme/audit?limit=3", &token)
        .await
        .expect(200)
        .json();
    assert_eq!(trail["items"].as_array().unwrap().len(), 3);
    let next = trail["next_cursor"].as_str().unwrap();
    let rest = api
        .get(
            &format!("/v1/tenants/acme/audit?limit=3&cursor={next}"),
            &token,
        )
        .await
        .expect(200)
        .json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert!(rest["next_cursor"].is_null());
}

#[tokio::test]
async fn the_memory_store_serves_the_same_api() {
    let api = TestApi::memory().await;
    let (id, _) = create_acme(&api, json!({"environment": "test"})).await;
    let shown = api
        .get(&credential_path("acme", &id), &api.admin("acme"))
        .await
        .expect(200)
        .json();
    assert_eq!(shown["environment"], "test");
    action(&api, &id, "revoke", json!({})).await.expect(200);
    assert_eq!(
        audit_types(&api, &id).await,
        ["credential.revoked", "credential.created"]
    );
}
