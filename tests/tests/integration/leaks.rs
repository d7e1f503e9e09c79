//! Leaked secrets on DynamoDB Local (DESIGN: "Leaked secrets"): GitHub's signed reports and
//! an admin's, each tenant's `leak_action`, secrets no longer accepted, repeats, false
//! positives, and reports that are not GitHub's.

use clavis_core::leak::SecretFingerprint;
use clavis_core::secret::ClientSecret;
use clavis_runtime::config::Env;
use clavis_tests::api::{Integration, Reply, TestApi};
use clavis_tests::github::GithubScanner;
use clavis_tests::receiver::Receiver;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clavis_api::state::GithubLeaksApp;
use clavis_core::leak::{GithubKeySource, SignatureRefusal, verify_report};
use clavis_runtime::compose::FromEnv;
use clavis_runtime::github_keys::{PublishedGithubKeys, github_keys};
use clavis_tests::stub::{Stub, StubResponse};

async fn api_trusting(scanner: &GithubScanner) -> TestApi {
    TestApi::dynamodb_with(Env::default().with("GITHUB_SECRET_SCANNING_KEYS", scanner.key_set()))
        .await
}

async fn set_leak_action(api: &TestApi, tenant: &str, action: &str) {
    api.send(
        Method::PUT,
        &format!("/v1/tenants/{tenant}/policy"),
        Some(&api.admin(tenant)),
        Some(json!({ "leak_action": action })),
        &[],
    )
    .await
    .expect(200);
}

async fn credential(api: &TestApi, tenant: &str, id: &str) -> Value {
    api.get(
        &format!("/v1/tenants/{tenant}/credentials/{id}"),
        &api.admin(tenant),
    )
    .await
    .expect(200)
    .json()
}

/// The credential's audit events of `kind`, newest first.
async fn events(api: &TestApi, tenant: &str, id: &str, kind: &str) -> Vec<Value> {
    let trail = api
        .get(
            &format!("/v1/tenants/{tenant}/credentials/{id}/audit?limit=100"),
            &api.admin(tenant),
        )
        .await
        .expect(200)
        .json();
    trail["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == kind)
        .cloned()
        .collect()
}

async fn token_status(api: &TestApi, who: &Integration, secret: &str) -> u16 {
    api.form(
        "/oauth/token",
        Some((&who.id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .status
}

fn sha256_hex(text: &str) -> String {
    SecretFingerprint::of_text(text).as_str().to_owned()
}

async fn admin_report(api: &TestApi, tenant: &str, body: Value) -> Reply {
    api.post(
        &format!("/v1/tenants/{tenant}/leaks"),
        &api.admin(tenant),
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_report_acts_as_each_tenants_policy_says_and_labels_every_token() {
    let scanner = GithubScanner::new("github-test-1");
    let api = api_trusting(&scanner).await;
    set_leak_action(&api, "globex", "suspend").await;
    set_leak_action(&api, "initech", "notify").await;
    let revoked = api.integration("acme", &["products:read"]).await;
    let suspended = api.integration("globex", &["products:read"]).await;
    let notified = api.integration("initech", &["products:read"]).await;
    // Secret-shaped but never issued, and a string that fails the checksum.
    let never_issued = ClientSecret::generate(clavis_core::credential::Environment::Live)
        .expose()
        .to_owned();
    // The secret with its last character changed: the checksum no longer holds.
    let (body, last) = revoked.secret.split_at(revoked.secret.len() - 1);
    let noise = format!("{body}{}", if last == "x" { "y" } else { "x" });

    let tokens = [
        revoked.secret.as_str(),
        suspended.secret.as_str(),
        notified.secret.as_str(),
        never_issued.as_str(),
        noise.as_str(),
    ];
    let reply = api
        .github_report(&scanner, GithubScanner::report(&tokens), None)
        .await
        .expect(200);
    let feedback = reply.json();
    let labels: Vec<&str> = feedback
        .as_array()
        .expect("an array")
        .iter()
        .map(|f| f["label"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        labels,
        [
            "true_positive",
            "true_positive",
            "true_positive",
            "false_positive",
            "false_positive"
        ]
    );
    for (entry, token) in feedback.as_array().into_iter().flatten().zip(tokens) {
        assert_eq!(entry["token_hash"], sha256_hex(token));
        assert_eq!(entry["token_type"], "clavis_client_secret");
    }
    for token in tokens {
        assert!(!reply.text.contains(token), "no token in the answer");
    }

    let acme = credential(&api, "acme", &revoked.id).await;
    assert_eq!(acme["status"], "revoked");
    assert_eq!(acme["revocation_reason"], "leaked");
    assert_eq!(acme["leak"]["action"], "revoked");
    assert_eq!(acme["leak"]["source"], "github");
    assert_eq!(
        acme["leak"]["url"],
        "https://github.com/octo/leaky/blob/main/config-0.env"
    );
    assert_eq!(token_status(&api, &revoked, &revoked.secret).await, 401);

    let globex = credential(&api, "globex", &suspended.id).await;
    assert_eq!(globex["status"], "suspended");
    assert_eq!(globex["leak"]["action"], "suspended");
    assert_eq!(token_status(&api, &suspended, &suspended.secret).await, 401);

    let initech = credential(&api, "initech", &notified.id).await;
    assert_eq!(initech["status"], "active");
    assert_eq!(initech["leak"]["action"], "none");
    assert_eq!(token_status(&api, &notified, &notified.secret).await, 200);

    // Each has its leaked event, with what was done, and the action's own event.
    for (tenant, who, action, also) in [
        ("acme", &revoked, "revoked", Some("credential.revoked")),
        (
            "globex",
            &suspended,
            "suspended",
            Some("credential.suspended"),
        ),
        ("initech", &notified, "none", None),
    ] {
        let leaked = events(&api, tenant, &who.id, "credential.leaked").await;
        assert_eq!(leaked.len(), 1, "{tenant}");
        let details = &leaked[0]["details"];
        assert_eq!(details["source"], "github");
        assert_eq!(details["secret_current"], true);
        assert_eq!(details["action"], action);
        assert_eq!(leaked[0]["actor"]["subject"], "github-secret-scanning");
        if let Some(kind) = also {
            assert_eq!(events(&api, tenant, &who.id, kind).await.len(), 1);
        }
        let trail = serde_json::to_string(&leaked).unwrap_or_default();
        assert!(!trail.contains(&who.secret), "no secret in the trail");
    }
    // A rotation replaces the leaked secret and clears the mark.
    let rotated = api
        .post(
            &format!("/v1/tenants/initech/credentials/{}/rotate", notified.id),
            &api.admin("initech"),
            json!({}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(rotated["credential"]["leak"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_not_signed_by_githubs_key_change_nothing() {
    let scanner = GithubScanner::new("github-test-1");
    let stranger = GithubScanner::new("github-test-2");
    let impostor = GithubScanner::new("github-test-1");
    let api = api_trusting(&scanner).await;
    let who = api.integration("acme", &["products:read"]).await;
    let body = GithubScanner::report(&[&who.secret]);
    let mut tampered = body.clone();
    let at = tampered.len() - 3;
    tampered[at] = b'X';

    let refusals = [
        // Unsigned.
        api.github_report(&scanner, body.clone(), Some(None)).await,
        // A key GitHub does not list.
        api.github_report(&stranger, body.clone(), None).await,
        // GitHub's key identifier, someone else's signature.
        api.github_report(&impostor, body.clone(), None).await,
        // Signed, then changed.
        api.github_report(&scanner, tampered, Some(Some(scanner.sign(&body))))
            .await,
        // Not a signature at all.
        api.github_report(&scanner, body.clone(), Some(Some("not base64!".into())))
            .await,
    ];
    for reply in refusals {
        reply.expect_problem(401, "invalid_signature");
    }
    let after = credential(&api, "acme", &who.id).await;
    assert_eq!(after["status"], "active");
    assert_eq!(after["leak"], Value::Null);
    assert_eq!(after["version"], 1);
    assert!(
        events(&api, "acme", &who.id, "credential.leaked")
            .await
            .is_empty()
    );
    assert_eq!(token_status(&api, &who, &who.secret).await, 200);

    // Signed but malformed, or longer than GitHub ever sends: refused whole.
    let not_a_report = br#"{"token": "x"}"#.to_vec();
    api.github_report(&scanner, not_a_report, None)
        .await
        .expect_problem(400, "invalid_report");
    let noise: Vec<String> = (0..1001).map(|i| format!("noise-{i}")).collect();
    let noise: Vec<&str> = noise.iter().map(String::as_str).collect();
    api.github_report(&scanner, GithubScanner::report(&noise), None)
        .await
        .expect_problem(400, "too_many_tokens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_secret_is_recorded_without_action_and_a_repeat_acts_once() {
    let scanner = GithubScanner::new("github-test-1");
    let api = api_trusting(&scanner).await;
    let admin = api.admin("acme");
    let who = api.integration("acme", &["products:read"]).await;
    let rotate = |grace: u32| {
        let path = format!("/v1/tenants/acme/credentials/{}/rotate", who.id);
        let admin = admin.clone();
        let api = &api;
        async move {
            api.post(
                &path,
                &admin,
                json!({ "previous_secret_valid_for_seconds": grace }),
            )
            .await
            .expect(200)
            .json()["client_secret"]
                .as_str()
                .expect("a secret")
                .to_owned()
        }
    };
    let first = who.secret.clone();
    let second = rotate(0).await;
    let third = rotate(600).await;

    // The first secret stopped working at the second rotation: the event alone.
    api.github_report(&scanner, GithubScanner::report(&[&first]), None)
        .await
        .expect(200);
    let after = credential(&api, "acme", &who.id).await;
    assert_eq!(after["status"], "active");
    assert_eq!(after["leak"], Value::Null);
    let leaked = events(&api, "acme", &who.id, "credential.leaked").await;
    assert_eq!(leaked.len(), 1);
    assert_eq!(leaked[0]["details"]["secret_current"], false);
    assert_eq!(leaked[0]["details"]["action"], "none");
    assert_eq!(token_status(&api, &who, &third).await, 200);

    // The second still works within its grace period: it is acted on.
    let reply = api
        .github_report(&scanner, GithubScanner::report(&[&second]), None)
        .await
        .expect(200);
    assert_eq!(reply.json()[0]["label"], "true_positive");
    let revoked = credential(&api, "acme", &who.id).await;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["leak"]["action"], "revoked");

    // The same report again, and the same secret from an admin: nothing more happens.
    api.github_report(&scanner, GithubScanner::report(&[&second, &second]), None)
        .await
        .expect(200);
    let again = admin_report(&api, "acme", json!({ "secret": second }))
        .await
        .expect(200)
        .json();
    assert_eq!(again["already_reported"], true);
    assert_eq!(again["action"], "none");
    assert_eq!(credential(&api, "acme", &who.id).await, revoked);
    assert_eq!(
        events(&api, "acme", &who.id, "credential.leaked")
            .await
            .len(),
        2
    );
    assert_eq!(
        events(&api, "acme", &who.id, "credential.revoked")
            .await
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reports_only_their_own_tenants_secrets() {
    let scanner = GithubScanner::new("github-test-1");
    let api = api_trusting(&scanner).await;
    set_leak_action(&api, "acme", "suspend").await;
    let ours = api.integration("acme", &["products:read"]).await;
    let theirs = api.integration("globex", &["products:read"]).await;

    // Another tenant's secret is answered like one never issued, and is left alone.
    admin_report(&api, "acme", json!({ "secret": theirs.secret }))
        .await
        .expect_problem(404, "secret_not_found");
    assert_eq!(
        credential(&api, "globex", &theirs.id).await["status"],
        "active"
    );
    // Nor may acme's admin report under globex.
    api.post(
        "/v1/tenants/globex/leaks",
        &api.admin("acme"),
        json!({ "secret": theirs.secret }),
    )
    .await
    .expect(403);
    let never_issued = ClientSecret::generate(clavis_core::credential::Environment::Test);
    admin_report(&api, "acme", json!({ "secret": never_issued.expose() }))
        .await
        .expect_problem(404, "secret_not_found");
    let malformed = admin_report(&api, "acme", json!({ "secret": "csk_live_oops" })).await;
    assert!(!malformed.text.contains("csk_live_oops"));
    malformed.expect_problem(400, "invalid_secret");
    admin_report(
        &api,
        "acme",
        json!({ "secret": ours.secret, "source_url": "ftp://pastebin.example/1" }),
    )
    .await
    .expect_problem(400, "invalid_field");
    // A URL holding the secret would carry it into the trail and the webhooks.
    let carrying = admin_report(
        &api,
        "acme",
        json!({ "secret": ours.secret, "source_url": format!("https://paste.example/?k={}", ours.secret) }),
    )
    .await;
    assert!(!carrying.text.contains(&ours.secret));
    carrying.expect_problem(400, "invalid_field");
    assert_eq!(credential(&api, "acme", &ours.id).await["status"], "active");

    let reply = admin_report(
        &api,
        "acme",
        json!({ "secret": ours.secret, "source_url": "https://pastebin.example/abc" }),
    )
    .await;
    assert!(!reply.text.contains(&ours.secret));
    let answer = reply.expect(200).json();
    assert_eq!(
        answer,
        json!({
            "client_id": ours.id,
            "action": "suspended",
            "secret_current": true,
            "already_reported": false,
        })
    );
    let after = credential(&api, "acme", &ours.id).await;
    assert_eq!(after["status"], "suspended");
    assert_eq!(after["leak"]["source"], "admin");
    assert_eq!(after["leak"]["url"], "https://pastebin.example/abc");
    let leaked = events(&api, "acme", &ours.id, "credential.leaked").await;
    assert_eq!(leaked[0]["actor"]["subject"], "admin-of-acme");
    assert_eq!(
        leaked[0]["details"],
        json!({
            "source": "admin",
            "url": "https://pastebin.example/abc",
            "secret_current": true,
            "action": "suspended",
        })
    );
}

#[tokio::test]
async fn the_tenants_webhooks_hear_of_a_leak_without_the_secret() {
    let scanner = GithubScanner::new("github-test-1");
    let api = TestApi::dynamodb_with(
        Env::default()
            .with("GITHUB_SECRET_SCANNING_KEYS", scanner.key_set())
            .with("WEBHOOK_ALLOW_PRIVATE", "true"),
    )
    .await;
    let receiver = Receiver::start().await;
    let _deliveries = api.start_deliveries();
    let created = api
        .post(
            "/v1/tenants/acme/webhooks",
            &api.admin("acme"),
            json!({ "url": receiver.url("/leaks"), "event_types": ["credential.leaked"] }),
        )
        .await
        .expect(201)
        .json();
    let signing = created["secret"].as_str().expect("a signing secret");
    receiver.configure("/leaks", &[signing], &[204]).await;
    let who = api.integration("acme", &["products:read"]).await;

    api.github_report(&scanner, GithubScanner::report(&[&who.secret]), None)
        .await
        .expect(200);
    let heard = receiver
        .wait_for(
            "/leaks",
            Duration::from_secs(30),
            || {},
            |received| !received.is_empty(),
        )
        .await;
    assert_eq!(heard.len(), 1);
    let delivery = &heard[0];
    assert_eq!(delivery.verified, [true], "verified by the library");
    assert_eq!(delivery.event_type.as_deref(), Some("credential.leaked"));
    let data = &delivery.body["data"];
    assert_eq!(data["client_id"], who.id.as_str());
    assert_eq!(data["details"]["action"], "revoked");
    assert_eq!(data["details"]["source"], "github");
    let text = delivery.body.to_string();
    assert!(!text.contains(&who.secret));
    assert!(
        !text.contains(&sha256_hex(&who.secret)),
        "not even its fingerprint"
    );
}

/// Whether `source` takes `body` signed by `scanner`.
async fn signed_by(
    source: &dyn GithubKeySource,
    scanner: &GithubScanner,
    body: &[u8],
) -> Result<(), SignatureRefusal> {
    let signature = scanner.sign(body);
    verify_report(
        source,
        Some(&scanner.key_identifier),
        Some(&signature),
        body,
    )
    .await
}

/// GitHub's published key set, served as GitHub serves it, counting the fetches.
async fn published(keys: Arc<Mutex<String>>, fetches: Arc<AtomicUsize>) -> Stub {
    Stub::serve(move |_| {
        let (keys, fetches) = (Arc::clone(&keys), Arc::clone(&fetches));
        async move {
            fetches.fetch_add(1, Ordering::SeqCst);
            let body = keys.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if body.is_empty() {
                // GitHub not answering, or refusing past its rate limit.
                return StubResponse::new(503);
            }
            let mut response = StubResponse::new(200).header("content-type", "application/json");
            response.body = body.into_bytes();
            response
        }
    })
    .await
}

#[tokio::test]
async fn githubs_published_keys_are_fetched_again_when_github_rotates_them() {
    let (old, new, stranger) = (
        GithubScanner::new("github-old"),
        GithubScanner::new("github-new"),
        GithubScanner::new("made-up"),
    );
    let keys = Arc::new(Mutex::new(old.key_set()));
    let fetches = Arc::new(AtomicUsize::new(0));
    let github = published(Arc::clone(&keys), Arc::clone(&fetches)).await;
    let url = format!("{}/meta/public_keys/secret_scanning", github.url());
    let source = PublishedGithubKeys::start_with(
        &url,
        std::time::Duration::from_secs(3600),
        std::time::Duration::ZERO,
    )
    .await
    .expect("started");
    let body = GithubScanner::report(&["noise"]);
    assert_eq!(signed_by(&source, &old, &body).await, Ok(()));
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "kept, not fetched per report"
    );

    // GitHub lists its new key: the first report signed with it fetches the set again.
    *keys.lock().unwrap_or_else(|p| p.into_inner()) = new.key_set();
    assert_eq!(signed_by(&source, &new, &body).await, Ok(()));
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    assert_eq!(
        signed_by(&source, &stranger, &body).await,
        Err(SignatureRefusal::UnknownKey)
    );

    // Made-up key identifiers do not make an instance ask GitHub more than once in five
    // minutes: they are told to come back later, and nothing is fetched for them.
    let rationed = PublishedGithubKeys::start(&url).await.expect("started");
    let before = fetches.load(Ordering::SeqCst);
    for _ in 0..5 {
        assert_eq!(
            signed_by(&rationed, &stranger, &body).await,
            Err(SignatureRefusal::KeysUnavailable)
        );
    }
    assert_eq!(
        signed_by(&rationed, &new, &body).await,
        Ok(()),
        "GitHub's own still pass"
    );
    // Unsigned or garbled reports are refused before any fetch.
    assert_eq!(
        verify_report(&source, Some("made-up"), None, &body).await,
        Err(SignatureRefusal::Missing)
    );
    assert_eq!(
        verify_report(&source, Some("made-up"), Some("not base64!"), &body).await,
        Err(SignatureRefusal::Invalid)
    );
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        before,
        "nothing fetched after the start"
    );

    // GitHub not answering at cold start does not stop the function: reports wait (503) until
    // a fetch succeeds.
    *keys.lock().unwrap_or_else(|p| p.into_inner()) = String::new();
    let env = Env::default().with("GITHUB_SECRET_SCANNING_KEYS_URL", &url);
    let started = github_keys(&env)
        .await
        .expect("configured")
        .expect("a source");
    let signature = new.sign(&body);
    let waiting = verify_report(
        started.as_ref(),
        Some(&new.key_identifier),
        Some(&signature),
        &body,
    )
    .await;
    assert_eq!(waiting, Err(SignatureRefusal::KeysUnavailable));
    let recovering = PublishedGithubKeys::start_with(
        &url,
        std::time::Duration::from_secs(3600),
        std::time::Duration::ZERO,
    )
    .await
    .expect("started without keys");
    assert_eq!(
        signed_by(&recovering, &new, &body).await,
        Err(SignatureRefusal::KeysUnavailable)
    );
    *keys.lock().unwrap_or_else(|p| p.into_inner()) = new.key_set();
    assert_eq!(signed_by(&recovering, &new, &body).await, Ok(()));

    // Through the gateway: 503 with a time to come back, so that GitHub sends it again.
    *keys.lock().unwrap_or_else(|p| p.into_inner()) = String::new();
    let api = TestApi::dynamodb_with(env.clone()).await;
    let reply = api
        .github_report(&new, body.clone(), None)
        .await
        .expect_problem(503, "service_unavailable");
    assert_eq!(reply.header("retry-after"), Some("300"));

    // A deployment given no keys, or a key URL that is not one, cannot start.
    let malformed = Env::default().with("GITHUB_SECRET_SCANNING_KEYS_URL", "not a url");
    let error = github_keys(&malformed).await.err().expect("refused");
    assert!(
        error
            .to_string()
            .contains("GITHUB_SECRET_SCANNING_KEYS_URL"),
        "{error}"
    );
    let error = <GithubLeaksApp as FromEnv>::from_env(
        &Env::default()
            .with("TABLE_NAME", "t")
            .with("AWS_REGION", "eu-west-1"),
    )
    .await
    .err()
    .expect("refused");
    assert!(
        error.to_string().contains("GITHUB_SECRET_SCANNING_KEYS"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_suspended_for_a_leak_is_reactivated_only_after_its_secret_is_rotated_away() {
    let api = TestApi::dynamodb().await;
    set_leak_action(&api, "acme", "suspend").await;
    let who = api.integration("acme", &["products:read"]).await;
    admin_report(&api, "acme", json!({ "secret": who.secret }))
        .await
        .expect(200);
    let path = format!("/v1/tenants/acme/credentials/{}", who.id);
    let admin = api.admin("acme");

    api.post(&format!("{path}/reactivate"), &admin, json!({}))
        .await
        .expect_problem(409, "secret_leaked");
    // A grace period would let the leaked secret back in with the reactivation.
    api.post(
        &format!("{path}/rotate"),
        &admin,
        json!({ "previous_secret_valid_for_seconds": 3600 }),
    )
    .await
    .expect_problem(409, "secret_leaked");
    let still = credential(&api, "acme", &who.id).await;
    assert_eq!(still["status"], "suspended");
    assert_eq!(still["secret_version"], 1, "nothing was rotated: {still}");

    let rotated = api
        .post(&format!("{path}/rotate"), &admin, json!({}))
        .await
        .expect(200)
        .json();
    let new_secret = rotated["client_secret"]
        .as_str()
        .expect("the new secret")
        .to_owned();
    api.post(&format!("{path}/reactivate"), &admin, json!({}))
        .await
        .expect(200);
    assert_eq!(token_status(&api, &who, &who.secret).await, 401);
    assert_eq!(token_status(&api, &who, &new_secret).await, 200);
}
