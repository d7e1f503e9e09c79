//! Safe retries: a create or rotation repeated with its `Idempotency-Key` answers what the
//! first answered, secret included, and changes nothing; the table holds neither the key nor
//! the secret in a form the server alone can read. Against DynamoDB Local.

use clavis_core::secret::looks_like_secret;
use clavis_tests::api::{Integration, Reply, TestApi, captured_logs};
use clavis_tests::scan::table_text;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

const CREATE_KEY: &str = "4c1f7e2a-9b3d-4f6e-8a1c-2d5b7e9f0a13";
const ROTATE_KEY: &str = "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b";

async fn post_once(api: &TestApi, path: &str, token: &str, key: &str, body: Value) -> Reply {
    api.send(
        Method::POST,
        path,
        Some(token),
        Some(body),
        &[("idempotency-key", key)],
    )
    .await
}

/// Twins' replies: all `status`, all the same body, and exactly one not a replay.
#[track_caller]
fn assert_one_answer(replies: &[Reply], status: u16) {
    for reply in replies {
        assert_eq!(reply.status, status, "{}", reply.text);
        assert_eq!(reply.text, replies[0].text, "one answer");
    }
    let fresh = replies
        .iter()
        .filter(|r| r.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(fresh, 1, "one was made, the others replayed");
}

async fn credential_count(api: &TestApi, tenant: &str, token: &str) -> usize {
    api.get(
        &format!("/v1/tenants/{tenant}/credentials?limit=100"),
        token,
    )
    .await
    .expect(200)
    .json()["items"]
        .as_array()
        .map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_create_answers_the_first_answer_and_changes_nothing() {
    let api = TestApi::dynamodb().await;
    let token = api.admin("acme");
    let path = "/v1/tenants/acme/credentials";
    let body = json!({"name": "Retried", "scopes": ["products:read"], "expires_in_days": 30});

    let first = post_once(&api, path, &token, CREATE_KEY, body.clone())
        .await
        .expect(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = post_once(&api, path, &token, CREATE_KEY, body.clone())
        .await
        .expect(201);
    assert_eq!(again.text, first.text, "the same body, byte for byte");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    for header in ["etag", "location", "cache-control"] {
        assert_eq!(again.header(header), first.header(header), "{header}");
    }
    let issued = Integration::of(&first.json());
    assert_eq!(credential_count(&api, "acme", &token).await, 1);
    assert_eq!(api.audit_len("acme").await, 1, "one credential.created");
    // The replayed secret is the real one.
    api.token_request(&issued).await.expect(200);

    // The same key for another request is refused, and writes nothing.
    post_once(
        &api,
        path,
        &token,
        CREATE_KEY,
        json!({"name": "Something else", "scopes": ["products:read"], "expires_in_days": 30}),
    )
    .await
    .expect_problem(422, "idempotency_key_reused");
    // Another caller's identical request is another request: the key is not theirs to reuse.
    let advisor = api.token("advisor", "consultancy", &["acme"]);
    post_once(&api, path, &advisor, CREATE_KEY, body.clone())
        .await
        .expect_problem(422, "idempotency_key_reused");
    // Keys are per tenant: globex's admin may use the same key for its own credential.
    let globex = api.admin("globex");
    let theirs = post_once(
        &api,
        "/v1/tenants/globex/credentials",
        &globex,
        CREATE_KEY,
        body.clone(),
    )
    .await
    .expect(201);
    assert_ne!(
        theirs.json()["credential"]["client_id"],
        first.json()["credential"]["client_id"]
    );
    assert_eq!(credential_count(&api, "acme", &token).await, 1);

    // Keys that are too short, too long, not visible ASCII, or sent twice are refused.
    let short = "a".repeat(31);
    let long = "a".repeat(256);
    let spaced = format!("{} x", "a".repeat(32));
    for key in [short.as_str(), long.as_str(), spaced.as_str()] {
        post_once(&api, path, &token, key, body.clone())
            .await
            .expect_problem(400, "invalid_idempotency_key");
    }
    api.send(
        Method::POST,
        path,
        Some(&token),
        Some(body.clone()),
        &[
            ("idempotency-key", CREATE_KEY),
            ("idempotency-key", ROTATE_KEY),
        ],
    )
    .await
    .expect_problem(400, "invalid_idempotency_key");
    assert_eq!(credential_count(&api, "acme", &token).await, 1);

    // Neither the key nor the secret is anywhere in the table or the logs.
    let random = issued.secret.split('_').nth(2).unwrap().to_owned();
    let (client, table) = api.fixture.table.as_ref().unwrap();
    let items = table_text(client, table).await;
    assert!(
        items.iter().any(|(entity, _)| entity == "idempotency"),
        "the record is there"
    );
    for (entity, texts) in items {
        for text in texts {
            assert!(
                !text.contains(&random) && !looks_like_secret(&text),
                "a {entity} item holds the secret"
            );
            assert!(!text.contains(CREATE_KEY), "a {entity} item holds the key");
        }
    }
    let logs = captured_logs();
    assert!(!logs.contains(&random), "the secret reached the logs");
    assert!(!logs.contains(CREATE_KEY), "the key reached the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_rotation_hands_out_one_new_secret() {
    let api = TestApi::dynamodb().await;
    let token = api.admin("acme");
    let id = api.create_in("acme").await;
    let one = format!("/v1/tenants/acme/credentials/{id}");
    let rotate = format!("{one}/rotate");
    let body = json!({"previous_secret_valid_for_seconds": 0});

    let first = post_once(&api, &rotate, &token, ROTATE_KEY, body.clone())
        .await
        .expect(200);
    let again = post_once(&api, &rotate, &token, ROTATE_KEY, body.clone())
        .await
        .expect(200);
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let current = api.get(&one, &token).await.expect(200).json();
    assert_eq!(current["secret_version"], 2, "rotated once");
    let secret = first.json()["client_secret"].as_str().unwrap().to_owned();
    api.token_request(&Integration {
        id: id.clone(),
        secret,
    })
    .await
    .expect(200);

    // The answer stays the first answer even after the credential moved on.
    api.post(&format!("{one}/suspend"), &token, json!({}))
        .await
        .expect(200);
    let later = post_once(&api, &rotate, &token, ROTATE_KEY, body.clone())
        .await
        .expect(200);
    assert_eq!(later.text, first.text);

    // If-Match is part of the request: the same key with another precondition is refused.
    api.send(
        Method::POST,
        &rotate,
        Some(&token),
        Some(body.clone()),
        &[("idempotency-key", ROTATE_KEY), ("if-match", "\"3\"")],
    )
    .await
    .expect_problem(422, "idempotency_key_reused");
    // A rotation key is not a create key: another operation under it is refused.
    post_once(
        &api,
        "/v1/tenants/acme/credentials",
        &token,
        ROTATE_KEY,
        json!({"name": "x", "scopes": ["products:read"]}),
    )
    .await
    .expect_problem(422, "idempotency_key_reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twins_sent_at_once_make_one_change_and_get_one_answer() {
    let api = TestApi::dynamodb().await;
    let token = api.admin("acme");
    let body = json!({"name": "Twins", "scopes": ["products:read"]});
    let creates = join_all((0..10).map(|_| {
        post_once(
            &api,
            "/v1/tenants/acme/credentials",
            &token,
            CREATE_KEY,
            body.clone(),
        )
    }))
    .await;
    assert_one_answer(&creates, 201);
    assert_eq!(credential_count(&api, "acme", &token).await, 1);
    assert_eq!(api.audit_len("acme").await, 1);

    let id = Integration::of(&creates[0].json()).id;
    let rotate = format!("/v1/tenants/acme/credentials/{id}/rotate");
    let rotations =
        join_all((0..10).map(|_| post_once(&api, &rotate, &token, ROTATE_KEY, json!({})))).await;
    assert_one_answer(&rotations, 200);
    let current = api
        .get(&format!("/v1/tenants/acme/credentials/{id}"), &token)
        .await
        .expect(200)
        .json();
    assert_eq!(current["secret_version"], 2, "one rotation");
    assert_eq!(api.audit_len("acme").await, 2);
}
