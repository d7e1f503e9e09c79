//! Webhooks on DynamoDB Local (DESIGN: "Events and webhooks"), delivered in process as
//! `make run` delivers them, to a receiver on 127.0.0.1 that verifies every delivery with the
//! Standard Webhooks library for Node.js.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use clavis_core::store::{Retention, StoreError, WebhookReader};
use clavis_dynamodb::DynamoStore;
use clavis_runtime::config::Env;
use clavis_tests::api::{Integration, TestApi};
use clavis_tests::receiver::{Received, Receiver};
use clavis_tests::scan::table_text;
use clavis_tests::stub::{Stub, StubResponse};
use clavis_tests::tenant;
use reqwest::Method;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// An API that lets webhooks reach this machine and retries after 1 s, 1 s and 1 s.
async fn local_api() -> TestApi {
    TestApi::dynamodb_with(
        Env::default()
            .with("WEBHOOK_ALLOW_PRIVATE", "true")
            .with("WEBHOOK_RETRY_SCHEDULE", "1,1,1"),
    )
    .await
}

/// Registers `path` of the receiver for `tenant` (every type, or `types`), tells the receiver
/// to verify with its secret and to answer with `answers`; returns the webhook and its secret.
async fn register(
    api: &TestApi,
    receiver: &Receiver,
    tenant: &str,
    path: &str,
    types: Option<&[&str]>,
    answers: &[u16],
) -> (Value, String) {
    let created = api
        .post(
            &format!("/v1/tenants/{tenant}/webhooks"),
            &api.admin(tenant),
            json!({ "url": receiver.url(path), "event_types": types, "description": path }),
        )
        .await
        .expect(201);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let body = created.json();
    let secret = body["secret"].as_str().expect("the secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.configure(path, &[&secret], answers).await;
    (body["webhook"].clone(), secret)
}

fn webhook_path(tenant: &str, webhook: &Value) -> String {
    format!(
        "/v1/tenants/{tenant}/webhooks/{}",
        webhook["id"].as_str().expect("id")
    )
}

fn types(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .filter_map(|r| r.event_type.clone())
        .collect()
}

fn has(kind: &'static str) -> impl Fn(&[Received]) -> bool {
    move |received| {
        received
            .iter()
            .any(|r| r.event_type.as_deref() == Some(kind))
    }
}

/// Moves the API's clock a second on each look, so that retries fall due.
fn tick(api: &TestApi) -> impl FnMut() + '_ {
    || api.fixture.advance(chrono::Duration::seconds(1))
}

#[tokio::test]
async fn lifecycle_events_arrive_signed_filtered_and_without_secrets() {
    let api = local_api().await;
    let receiver = Receiver::start().await;
    let deliveries = api.start_deliveries();
    let (_, every_secret) = register(&api, &receiver, "acme", "/every", None, &[204]).await;
    register(
        &api,
        &receiver,
        "acme",
        "/revoked",
        Some(&["credential.revoked"]),
        &[204],
    )
    .await;
    let created = api
        .create(
            "acme",
            json!({"name": "Billing sync", "scopes": ["products:read"]}),
        )
        .await;
    let who = Integration::of(&created);
    // Events whose details are empty (a suspension) are read from the stream like any other.
    for action in ["suspend", "reactivate"] {
        api.post(
            &format!("/v1/tenants/acme/credentials/{}/{action}", who.id),
            &api.admin("acme"),
            json!({}),
        )
        .await
        .expect(200);
    }
    api.post(
        &format!("/v1/tenants/acme/credentials/{}/revoke", who.id),
        &api.admin("acme"),
        json!({"reason": "compromised"}),
    )
    .await
    .expect(200);

    let every = receiver
        .wait_for("/every", WAIT, || {}, has("credential.revoked"))
        .await;
    for kind in [
        "webhook.created",
        "credential.created",
        "credential.revoked",
    ] {
        assert!(
            types(&every).contains(&kind.to_owned()),
            "{kind} in {:?}",
            types(&every)
        );
    }
    let revoked = receiver
        .wait_for("/revoked", WAIT, || {}, has("credential.revoked"))
        .await;
    assert_eq!(types(&revoked), ["credential.revoked"], "the filter holds");
    for delivery in every.iter().chain(&revoked) {
        assert_eq!(
            delivery.verified,
            [true],
            "verified by the library: {delivery:?}"
        );
        assert_eq!(delivery.content_type.as_deref(), Some("application/json"));
        assert!(delivery.id.len() == 26, "the event's id: {}", delivery.id);
        let text = delivery.body.to_string();
        for secret in [
            who.secret.as_str(),
            every_secret.as_str(),
            "whsec_",
            "$argon2",
            // Every JWT starts so: its header is base64url of `{"`.
            "eyJ",
        ] {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
    }
    let revocation = every
        .iter()
        .find(|r| r.event_type.as_deref() == Some("credential.revoked"))
        .expect("revoked");
    let data = &revocation.body["data"];
    assert_eq!(data["tenant"], "acme");
    assert_eq!(data["client_id"], who.id.as_str());
    assert_eq!(data["name"], "Billing sync");
    assert_eq!(data["actor"]["role"], "admin");
    assert_eq!(data["details"]["reason"], "compromised");
    assert_eq!(
        revoked[0].id, revocation.id,
        "one event, one id, whichever endpoint receives it"
    );
    deliveries.stop().await;
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_the_same_id_until_it_answers_or_the_schedule_ends() {
    let api = local_api().await;
    let receiver = Receiver::start().await;
    let deliveries = api.start_deliveries();
    let (flaky, _) = register(&api, &receiver, "acme", "/flaky", None, &[500, 503, 204]).await;
    let flaky_received = receiver
        .wait_for("/flaky", WAIT, tick(&api), |r| r.len() >= 3)
        .await;
    let ids: Vec<&str> = flaky_received.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [ids[0]; 3], "every retry carries the event's id");
    assert!(flaky_received.iter().all(|r| r.verified == [true]));
    let listed = api
        .get(
            &format!("{}/deliveries", webhook_path("acme", &flaky)),
            &api.admin("acme"),
        )
        .await
        .expect(200)
        .json();
    let first = &listed["deliveries"][0];
    assert_eq!(
        (
            first["state"].as_str(),
            first["attempts"].as_u64(),
            first["last_status"].as_u64()
        ),
        (Some("delivered"), Some(3), Some(204)),
        "{listed}"
    );

    let (down, _) = register(&api, &receiver, "acme", "/down", None, &[503]).await;
    receiver
        .wait_for("/down", WAIT, tick(&api), |r| r.len() >= 4)
        .await;
    let path = format!("{}/deliveries", webhook_path("acme", &down));
    let mut failed = Value::Null;
    for _ in 0..100 {
        let listed = api.get(&path, &api.admin("acme")).await.expect(200).json();
        if listed["deliveries"][0]["state"] == "failed" {
            failed = listed["deliveries"][0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        failed["attempts"], 4,
        "the schedule 1,1,1 fails a delivery after 4: {failed}"
    );
    assert_eq!(failed["last_status"], 503);
    assert_eq!(failed["next_attempt_at"], Value::Null);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    api.fixture.advance(chrono::Duration::seconds(5));
    let after = receiver
        .received()
        .await
        .into_iter()
        .filter(|r| r.path == "/down")
        .count();
    assert_eq!(after, 4, "no attempt after the schedule ends");
    deliveries.stop().await;
}

#[tokio::test]
async fn an_endpoint_answering_410_is_disabled_and_the_others_hear_of_it() {
    let api = local_api().await;
    let receiver = Receiver::start().await;
    let deliveries = api.start_deliveries();
    register(
        &api,
        &receiver,
        "acme",
        "/watch",
        Some(&["webhook.disabled"]),
        &[204],
    )
    .await;
    let (gone, _) = register(&api, &receiver, "acme", "/gone", None, &[410]).await;
    let heard = receiver
        .wait_for("/watch", WAIT, || {}, has("webhook.disabled"))
        .await;
    assert_eq!(heard[0].body["data"]["details"]["reason"], "gone");
    assert_eq!(heard[0].body["data"]["details"]["webhook_id"], gone["id"]);
    let now = api
        .get(&webhook_path("acme", &gone), &api.admin("acme"))
        .await
        .expect(200)
        .json();
    assert_eq!(now["webhook"]["status"], "disabled");
    assert_eq!(now["webhook"]["disabled_reason"], "gone");
    api.post(
        &format!("{}/test", webhook_path("acme", &gone)),
        &api.admin("acme"),
        json!({}),
    )
    .await
    .expect_problem(409, "webhook_disabled");
    deliveries.stop().await;
}

#[tokio::test]
async fn during_a_rotation_both_secrets_sign_for_a_day_then_only_the_new_one() {
    let api = local_api().await;
    let receiver = Receiver::start().await;
    let deliveries = api.start_deliveries();
    let (webhook, old) = register(&api, &receiver, "acme", "/rotating", Some(&[]), &[204]).await;
    let path = webhook_path("acme", &webhook);
    let rotated = api
        .post(
            &format!("{path}/rotate-secret"),
            &api.admin("acme"),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(rotated.header("cache-control"), Some("no-store"));
    let rotated = rotated.json();
    let new = rotated["secret"].as_str().expect("a new secret").to_owned();
    assert_ne!(new, old);
    assert!(rotated["webhook"]["previous_secret_valid_until"].is_string());
    receiver.configure("/rotating", &[&old, &new], &[204]).await;
    let test = api
        .post(&format!("{path}/test"), &api.admin("acme"), json!({}))
        .await
        .expect(202)
        .json();
    let received = receiver
        .wait_for("/rotating", WAIT, || {}, has("webhook.test"))
        .await;
    assert_eq!(
        received.len(),
        1,
        "an empty filter takes only Send test: {received:?}"
    );
    assert_eq!(received[0].id, test["event_id"].as_str().expect("event id"));
    assert_eq!(received[0].signatures, 2);
    assert_eq!(
        received[0].verified,
        [true, true],
        "each secret verifies on its own"
    );

    api.fixture.advance(chrono::Duration::hours(25));
    api.post(&format!("{path}/test"), &api.admin("acme"), json!({}))
        .await
        .expect(202);
    let received = receiver
        .wait_for("/rotating", WAIT, || {}, |r| r.len() == 2)
        .await;
    assert_eq!(received[1].signatures, 1, "the old secret no longer signs");
    deliveries.stop().await;
}

#[tokio::test]
async fn tenants_see_and_hear_only_their_own() {
    let api = local_api().await;
    let receiver = Receiver::start().await;
    let deliveries = api.start_deliveries();
    let (acme_hook, _) = register(&api, &receiver, "acme", "/acme", None, &[204]).await;
    register(&api, &receiver, "globex", "/globex", None, &[204]).await;
    api.create_in("globex").await;
    receiver
        .wait_for("/globex", WAIT, || {}, has("credential.created"))
        .await;
    api.create_in("acme").await;
    let acme = receiver
        .wait_for("/acme", WAIT, || {}, has("credential.created"))
        .await;
    assert!(
        acme.iter().all(|r| r.body["data"]["tenant"] == "acme"),
        "{acme:?}"
    );
    let foreign = format!(
        "/v1/tenants/globex/webhooks/{}",
        acme_hook["id"].as_str().expect("id")
    );
    for (method, suffix) in [
        (Method::GET, ""),
        (Method::DELETE, ""),
        (Method::POST, "/test"),
        (Method::POST, "/rotate-secret"),
        (Method::GET, "/deliveries"),
    ] {
        api.send(
            method.clone(),
            &format!("{foreign}{suffix}"),
            Some(&api.admin("globex")),
            None,
            &[],
        )
        .await
        .expect_problem(404, "webhook_not_found");
    }
    api.get("/v1/tenants/acme/webhooks", &api.admin("globex"))
        .await
        .expect(403);
    let listed = api
        .get("/v1/tenants/globex/webhooks", &api.admin("globex"))
        .await
        .expect(200)
        .json();
    assert_eq!(listed["webhooks"].as_array().map(Vec::len), Some(1));
    deliveries.stop().await;
}

#[tokio::test]
async fn an_event_is_delivered_after_delivery_stops_mid_way_and_starts_again() {
    let api = local_api().await;
    let receiver = Receiver::start().await;
    let deliveries = api.start_deliveries();
    register(&api, &receiver, "acme", "/outage", None, &[500, 204]).await;
    // The first attempt fails; its retry waits for the clock, and delivery stops meanwhile.
    receiver
        .wait_for("/outage", WAIT, || {}, has("webhook.created"))
        .await;
    deliveries.stop().await;
    // A change made while nothing delivers: only the table's stream knows of it.
    let client_id = api.create_in("acme").await;
    api.fixture.advance(chrono::Duration::seconds(5));
    let restarted = api.start_deliveries();
    let received = receiver
        .wait_for("/outage", WAIT, tick(&api), |r| {
            has("credential.created")(r)
                && r.iter()
                    .filter(|d| d.event_type.as_deref() == Some("webhook.created"))
                    .count()
                    >= 2
        })
        .await;
    let created = received
        .iter()
        .find(|r| r.event_type.as_deref() == Some("credential.created"))
        .expect("the change made while stopped");
    assert_eq!(created.body["data"]["client_id"], client_id.as_str());
    assert!(received.iter().all(|r| r.verified == [true]));
    restarted.stop().await;
}

#[tokio::test]
async fn quota_thresholds_are_sent_once_each_at_80_and_100_percent() {
    let upstream = Stub::serve(|_| async { StubResponse::new(204) }).await;
    let api = TestApi::dynamodb_with(
        Env::default()
            .with("WEBHOOK_ALLOW_PRIVATE", "true")
            .with("CLAVIS_UPSTREAM", upstream.url())
            .with("ROUTE_SCOPES", r#"{"GET /products": ["products:read"]}"#),
    )
    .await;
    let receiver = Receiver::start().await;
    let deliveries = api.start_deliveries();
    register(
        &api,
        &receiver,
        "acme",
        "/quota",
        Some(&["credential.quota_threshold"]),
        &[204],
    )
    .await;
    let created = api
        .create(
            "acme",
            json!({"name": "Metered", "scopes": ["products:read"], "monthly_request_quota": 5}),
        )
        .await;
    let who = Integration::of(&created);
    let token = api.access_token(&who).await;
    // Uses count the token's issue too, and a flush may land at any time: past the quota
    // wherever it falls, both thresholds are crossed.
    let mut refused = 0;
    for _ in 0..8 {
        let reply = api
            .platform_get("/products", &format!("Bearer {token}"))
            .await;
        refused += usize::from(reply.status == 403);
    }
    assert!(refused >= 1, "the quota of 5 ends somewhere in 8 requests");
    let received = receiver
        .wait_for("/quota", WAIT, || {}, |r| r.len() >= 2)
        .await;
    // No order is promised between the two.
    let mut percents: Vec<u64> = received
        .iter()
        .filter_map(|r| r.body["data"]["details"]["percent"].as_u64())
        .collect();
    percents.sort_unstable();
    assert_eq!(percents, [80, 100]);
    assert!(
        received
            .iter()
            .all(|r| r.body["data"]["details"]["monthly_request_quota"] == 5)
    );
    // Past the quota, refused or not, nothing more is sent this month.
    for _ in 0..3 {
        api.platform_get("/products", &who.basic(&who.secret)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver
            .received()
            .await
            .iter()
            .filter(|r| r.path == "/quota")
            .count(),
        2
    );
    deliveries.stop().await;
}

#[tokio::test]
async fn destinations_inside_the_network_are_refused_unless_private_ones_are_allowed() {
    let api = TestApi::dynamodb().await;
    let admin = api.admin("acme");
    for url in [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00::1]/hook",
        "https://[::1]:8443/hook",
        "https://localhost/hook",
        "http://example.com/hook",
        "https://user:pw@example.com/hook",
        "not a url",
    ] {
        let refused = api
            .post("/v1/tenants/acme/webhooks", &admin, json!({ "url": url }))
            .await
            .expect_problem(400, "invalid_webhook_url")
            .json();
        assert_eq!(refused["field"], "url", "{url}");
    }
    assert_eq!(
        api.get("/v1/tenants/acme/webhooks", &admin)
            .await
            .expect(200)
            .json()["webhooks"],
        json!([]),
        "nothing refused was stored"
    );
    let audit = api
        .get("/v1/tenants/acme/audit", &admin)
        .await
        .expect(200)
        .json();
    assert_eq!(audit["items"], json!([]), "{audit}");
}

#[tokio::test]
async fn endpoints_are_validated_limited_to_ten_changed_and_deleted_with_an_audit_trail() {
    let api = local_api().await;
    let admin = api.admin("acme");
    let receiver = Receiver::start().await;
    api.post(
        "/v1/tenants/acme/webhooks",
        &admin,
        json!({"url": receiver.url("/x"), "event_types": ["credential.nope"]}),
    )
    .await
    .expect_problem(400, "invalid_field");
    api.post(
        "/v1/tenants/acme/webhooks",
        &admin,
        json!({"url": receiver.url("/x"), "secret": "mine"}),
    )
    .await
    .expect(400);
    let mut made = Vec::new();
    for i in 0..10 {
        made.push(
            register(&api, &receiver, "acme", &format!("/n{i}"), None, &[204])
                .await
                .0,
        );
    }
    api.post(
        "/v1/tenants/acme/webhooks",
        &admin,
        json!({"url": receiver.url("/n10")}),
    )
    .await
    .expect_problem(409, "webhook_limit_reached");
    let path = webhook_path("acme", &made[0]);
    let patched = api
        .send(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"status": "disabled", "event_types": ["credential.revoked"], "description": null})),
            &[],
        )
        .await
        .expect(200)
        .json();
    assert_eq!(patched["webhook"]["status"], "disabled");
    assert_eq!(patched["webhook"]["disabled_reason"], "admin");
    assert_eq!(
        patched["webhook"]["event_types"],
        json!(["credential.revoked"])
    );
    assert_eq!(patched["webhook"]["description"], Value::Null);
    let listed = api
        .get("/v1/tenants/acme/webhooks", &admin)
        .await
        .expect(200)
        .json();
    assert!(
        listed.to_string().find("whsec_").is_none(),
        "no secret in a listing"
    );
    api.send(Method::DELETE, &path, Some(&admin), None, &[])
        .await
        .expect(204);
    api.get(&path, &admin)
        .await
        .expect_problem(404, "webhook_not_found");
    // The freed place can be taken again.
    register(&api, &receiver, "acme", "/n10", None, &[204]).await;
    let audit = api
        .get("/v1/tenants/acme/audit?limit=100", &admin)
        .await
        .expect(200)
        .json();
    let kinds: Vec<&str> = audit["items"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    for kind in ["webhook.created", "webhook.updated", "webhook.deleted"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(
        !audit.to_string().contains("/n0"),
        "audit events name the origin, not the URL"
    );
}

#[tokio::test]
async fn endpoint_urls_are_sealed_in_the_table_and_read_back_whole() {
    let api = local_api().await;
    let receiver = Receiver::start().await;
    let deliveries = api.start_deliveries();
    let admin = api.admin("acme");
    // Receivers often carry a token of their own in the path or the query.
    let hook_path = "/hooks/T000/B000/capability-token-4f3a";
    let created = api
        .post(
            "/v1/tenants/acme/webhooks",
            &admin,
            json!({ "url": receiver.url(hook_path), "description": "Chat" }),
        )
        .await
        .expect(201)
        .json();
    let secret = created["secret"].as_str().expect("the secret");
    receiver.configure(hook_path, &[secret], &[204]).await;
    let webhook = created["webhook"].clone();
    let with_query = format!("{}?token=query-secret-77", receiver.url("/q"));
    let queried = api
        .post(
            "/v1/tenants/acme/webhooks",
            &admin,
            json!({ "url": with_query }),
        )
        .await
        .expect(201)
        .json();
    for (hook, url) in [
        (&webhook, receiver.url(hook_path)),
        (&queried["webhook"], with_query.clone()),
    ] {
        let read = api
            .get(&webhook_path("acme", hook), &admin)
            .await
            .expect(200)
            .json();
        assert_eq!(read["webhook"]["url"], url.as_str(), "read back whole");
    }
    receiver
        .wait_for(hook_path, WAIT, || {}, has("webhook.created"))
        .await;

    let (client, table) = api.fixture.table.as_ref().expect("DynamoDB Local");
    let items = table_text(client, table).await;
    assert!(items.iter().any(|(entity, _)| entity == "webhook"));
    for (entity, texts) in &items {
        for text in texts {
            assert!(
                !text.contains("capability-token-4f3a") && !text.contains("query-secret-77"),
                "a {entity} item holds an endpoint's path or query: {text}"
            );
        }
    }

    // An endpoint stored before URLs were sealed is read as it was stored.
    let id = webhook["id"].as_str().expect("id");
    let key = HashMap::from([
        ("PK".to_owned(), AttributeValue::S("TENANT#acme".into())),
        ("SK".to_owned(), AttributeValue::S(format!("WEBHOOK#{id}"))),
    ]);
    let mut item = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .send()
        .await
        .expect("get")
        .item
        .expect("the endpoint's item");
    item.remove("sealed_url");
    item.remove("origin");
    let legacy = receiver.url("/legacy/plain");
    item.insert("url".into(), AttributeValue::S(legacy.clone()));
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .expect("put");
    let read = api
        .get(&webhook_path("acme", &webhook), &admin)
        .await
        .expect(200)
        .json();
    assert_eq!(read["webhook"]["url"], legacy.as_str());

    // A store that was not given the key has no business with endpoints: an error, no panic.
    let keyless = DynamoStore::new(
        client.clone(),
        table.clone(),
        api.fixture.clock.clone(),
        Retention::default(),
    );
    assert!(matches!(
        keyless.webhooks(&tenant("acme")).await,
        Err(StoreError::Backend(_))
    ));
    deliveries.stop().await;
}
