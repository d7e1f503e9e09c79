//! The Rust SDK against the local gateway: every management route through `Client`, and the
//! token source's caching, refresh, single flight and 401 retry, counted where the requests
//! arrive (the credential's usage counter, and a proxy in front of the gateway).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use clavis_sdk::{
    Client, ClientCredentials, Clock, CredentialUpdate, DeliveryState, Environment, Error, IfMatch,
    LeakAction, ListOptions, NewCredential, NewWebhook, PolicyRules, RetryPolicy, Status,
    TokenSource, WebhookPatch, WebhookStatus,
};
use clavis_tests::api::{Integration, TestApi, captured_logs};
use clavis_tests::stub::{Proxy, Stub, StubRequest, StubResponse};
use futures_util::TryStreamExt;
use secrecy::ExposeSecret;

/// A clock the test moves: the token source decides freshness by it.
struct TestClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl TestClock {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        })
    }

    fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap()
    }
}

fn client(api: &TestApi, tenant: &str) -> Client {
    Client::new(api.gateway.url(), api.admin(tenant)).unwrap()
}

/// A new credential's client credentials.
async fn integration(client: &Client, name: &str) -> ClientCredentials {
    let issued = client
        .tenant("acme")
        .create(&NewCredential::new(name, ["products:read", "stock:write"]))
        .await
        .unwrap();
    ClientCredentials::new(issued.credential.client_id, issued.client_secret)
}

/// Token requests the server has served for a credential this month (its usage counter).
async fn tokens_served(api: &TestApi, client: &Client, credentials: &ClientCredentials) -> u64 {
    api.flush_usage().await;
    client
        .tenant("acme")
        .credential(credentials.client_id())
        .get()
        .await
        .unwrap()
        .request_count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_client_covers_every_route() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let acme = client.tenant("acme");
    assert_eq!(
        client.scopes().await.unwrap(),
        [],
        "no catalogue configured"
    );

    let issued = acme
        .create(
            &NewCredential::new("Inventory sync", ["stock:write", "products:read"])
                .description("nightly stock levels")
                .environment(Environment::Test)
                .expires_in_days(90),
        )
        .await
        .unwrap();
    let created = &issued.credential;
    assert_eq!(created.status, Status::Active);
    assert_eq!(created.environment, Environment::Test);
    assert_eq!(created.scopes, ["products:read", "stock:write"]);
    assert_eq!(created.version, 1);
    assert!(created.expires_at.is_some());
    assert!(
        issued
            .client_secret
            .expose_secret()
            .starts_with("csk_test_")
    );
    assert!(issued.notice.contains("only once"), "{}", issued.notice);

    let credential = acme.credential(&created.client_id);
    let read = credential.get().await.unwrap();
    assert_eq!(
        (&read.client_id, read.version, &read.name),
        (&created.client_id, 1, &created.name)
    );

    let updated = credential
        .update(
            &CredentialUpdate::new()
                .name("Stock sync")
                .scopes(["products:read"]),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            updated.name.as_str(),
            updated.scopes.as_slice(),
            updated.version
        ),
        ("Stock sync", ["products:read".to_owned()].as_slice(), 2)
    );

    let later = api.fixture.now() + chrono::Duration::days(200);
    let moved = credential.set_expiry(later).await.unwrap();
    assert_eq!(moved.expires_at, Some(later));
    let unbounded = credential.remove_expiry().await.unwrap();
    assert_eq!(unbounded.expires_at, None);

    let rotated = credential
        .rotate(Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(rotated.credential.client_id, created.client_id);
    assert_eq!(rotated.credential.secret_version, 2);
    assert!(rotated.credential.previous_secret_valid_until.is_some());
    assert_ne!(
        rotated.client_secret.expose_secret(),
        issued.client_secret.expose_secret()
    );
    // After a leak: a rotation that also ends the tokens minted before it.
    let leaked = Integration {
        id: created.client_id.to_string(),
        secret: rotated.client_secret.expose_secret().to_owned(),
    };
    let minted_with_the_leak = api.access_token(&leaked).await;
    let ended = credential
        .rotate_ending_existing_tokens(None)
        .await
        .unwrap();
    let owner = Integration {
        id: created.client_id.to_string(),
        secret: ended.client_secret.expose_secret().to_owned(),
    };
    assert_eq!(
        api.introspect(&owner, &minted_with_the_leak).await,
        serde_json::json!({"active": false})
    );
    let fresh = api.access_token(&owner).await;
    assert_eq!(api.introspect(&owner, &fresh).await["active"], true);

    assert_eq!(
        credential.suspend().await.unwrap().status,
        Status::Suspended
    );
    assert_eq!(
        credential.reactivate().await.unwrap().status,
        Status::Active
    );
    let revoked = credential
        .revoke(Some("integration retired"))
        .await
        .unwrap();
    assert_eq!(revoked.status, Status::Revoked);
    assert_eq!(
        revoked.revocation_reason.as_deref(),
        Some("integration retired")
    );

    // The credential's trail, two events a page, newest first.
    let trail: Vec<String> = credential
        .audit(Some(2))
        .collect_all()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        trail,
        [
            "credential.revoked",
            "credential.reactivated",
            "credential.suspended",
            "credential.secret_rotated",
            "credential.secret_rotated",
            "credential.expiry_changed",
            "credential.expiry_changed",
            "credential.updated",
            "credential.created",
        ]
    );

    credential.delete().await.unwrap();
    let gone = credential.get().await.unwrap_err();
    assert_eq!(
        (gone.status(), gone.code()),
        (Some(404), Some("credential_not_found"))
    );
    // The tenant's trail keeps the deletion, as a stream.
    let tenant_trail: Vec<_> = acme.audit(None).into_stream().try_collect().await.unwrap();
    assert_eq!(tenant_trail[0].kind, "credential.deleted");
    assert_eq!(tenant_trail[0].actor.subject, "admin-of-acme");
    assert_eq!(tenant_trail.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_are_read_page_by_page_as_they_are_consumed() {
    let api = TestApi::memory().await;
    let proxy = Proxy::start(api.gateway.url()).await;
    let client = Client::new(proxy.url(), api.admin("acme")).unwrap();
    let acme = client.tenant("acme");
    for n in 0..5 {
        acme.create(&NewCredential::new(
            format!("Integration {n}"),
            ["products:read"],
        ))
        .await
        .unwrap();
        api.fixture.advance(chrono::Duration::seconds(1));
    }
    let suspended = acme.list(ListOptions::new()).next().await.unwrap().unwrap();
    acme.credential(&suspended.client_id)
        .suspend()
        .await
        .unwrap();
    let list_path = "/v1/tenants/acme/credentials";
    let before = proxy.count("GET", list_path);

    let mut pager = acme.list(ListOptions::new().page_size(2));
    let first = pager.next().await.unwrap().unwrap();
    assert_eq!(first.name, "Integration 4", "newest first");
    assert_eq!(
        proxy.count("GET", list_path) - before,
        1,
        "one page read so far"
    );
    let rest = pager.collect_all().await.unwrap();
    let names: Vec<&str> = rest.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Integration 3",
            "Integration 2",
            "Integration 1",
            "Integration 0"
        ]
    );
    assert_eq!(
        proxy.count("GET", list_path) - before,
        3,
        "5 items, 2 a page"
    );

    let active: Vec<_> = acme
        .list(ListOptions::new().status(Status::Active))
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(active.len(), 4);
    assert!(active.iter().all(|c| c.status == Status::Active));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_makes_every_change_conditional() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let credential = client
        .tenant("acme")
        .credential(integration(&client, "Guarded").await.client_id());

    let seen_at_1 = credential.if_match(1);
    assert_eq!(credential.suspend().await.unwrap().version, 2);
    let stale = seen_at_1.reactivate().await.unwrap_err();
    assert_eq!(
        (stale.status(), stale.code()),
        (Some(412), Some("version_mismatch"))
    );
    let current = stale
        .problem()
        .and_then(|p| p.credential.as_ref())
        .expect("a 412 carries the current credential");
    assert_eq!((current.version, current.status), (2, Status::Suspended));

    let refreshed = credential.if_match(current.version);
    assert_eq!(refreshed.reactivate().await.unwrap().version, 3);
    for stale_change in [
        seen_at_1.update(&CredentialUpdate::new().name("x")).await,
        seen_at_1.revoke(None).await,
        seen_at_1.remove_expiry().await,
    ] {
        assert_eq!(stale_change.unwrap_err().code(), Some("version_mismatch"));
    }
    assert_eq!(
        seen_at_1.rotate(None).await.unwrap_err().code(),
        Some("version_mismatch")
    );
    assert_eq!(
        seen_at_1.delete().await.unwrap_err().code(),
        Some("version_mismatch")
    );
    let any = credential.with_precondition(Some(IfMatch::Any));
    assert_eq!(any.revoke(None).await.unwrap().status, Status::Revoked);
    credential.if_match(4).delete().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_policy_is_read_and_set_and_its_refusals_name_the_rule() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let acme = client.tenant("acme");
    let open = acme.policy().await.unwrap();
    assert_eq!(
        (open.version, open.rules.clone()),
        (0, PolicyRules::default())
    );
    let older = acme.credential(integration(&client, "Older").await.client_id());

    let mut rules = PolicyRules::default();
    rules.require_expiry = true;
    rules.allowed_environments = vec![Environment::Live];
    rules.leak_action = LeakAction::Notify;
    let set = acme
        .set_policy(&rules, Some(IfMatch::Version(0)))
        .await
        .unwrap();
    assert_eq!((set.version, &set.rules), (1, &rules));
    assert_eq!(set.updated_by.as_deref(), Some("admin-of-acme"));

    let stale = acme
        .set_policy(&PolicyRules::default(), Some(IfMatch::Version(0)))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Some("version_mismatch"));
    let current = stale
        .problem()
        .and_then(|p| p.policy.as_ref())
        .expect("a 412 carries the current policy");
    assert_eq!(current.version, 1);

    let blocked = older.get().await.unwrap();
    assert_eq!(
        blocked.policy_violations,
        ["This tenant requires credentials to have an expiry date."]
    );
    let refused = acme
        .create(
            &NewCredential::new("Test key", ["products:read"])
                .environment(Environment::Test)
                .expires_in_days(5),
        )
        .await
        .unwrap_err();
    let problem = refused.problem().expect("a problem");
    assert_eq!(
        (problem.code.as_str(), problem.field.as_deref()),
        ("policy_violation", Some("environment"))
    );
    assert_eq!(problem.detail, "This tenant does not allow test keys.");

    let events = acme.audit(None).collect_all().await.unwrap();
    let change = events
        .iter()
        .find(|e| e.kind == "tenant.policy_changed")
        .expect("the change is audited");
    assert_eq!(change.client_id, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_reads_every_day_and_the_tenants_top_credentials() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let acme = client.tenant("acme");
    let who = api.integration("acme", &["products:read"]).await;
    let id = who.id.clone();
    api.access_token(&who).await;
    api.flush_usage().await;
    let usage = acme.credential(&id).usage(None, None).await.unwrap();
    assert_eq!(usage.days.len(), 30);
    assert_eq!(
        usage.total_uses,
        usage.days.iter().map(|d| d.uses).sum::<u64>()
    );
    assert!(usage.total_uses >= 1);
    let tenant = acme.usage(None, None).await.unwrap();
    assert_eq!(
        tenant.top.first().map(|t| t.client_id.as_str()),
        Some(id.as_str())
    );
    let refused = acme
        .credential(&id)
        .usage(Some("2026-02-30"), None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("invalid_range"));
    let unused = acme
        .list(ListOptions::new().unused_for_days(1))
        .collect_all()
        .await
        .unwrap();
    assert!(unused.iter().all(|c| c.client_id != id), "used today");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_managed_tested_and_their_deliveries_read_through_the_sdk() {
    let api = TestApi::dynamodb_with(
        clavis_runtime::config::Env::default().with("WEBHOOK_ALLOW_PRIVATE", "true"),
    )
    .await;
    let receiver = clavis_tests::receiver::Receiver::start().await;
    let deliveries = api.start_deliveries();
    let acme = client(&api, "acme").tenant("acme");
    let created = acme
        .create_webhook(
            &NewWebhook::new(receiver.url("/sdk"))
                .event_types(["credential.revoked"])
                .description("From the SDK"),
        )
        .await
        .unwrap();
    assert!(created.secret.expose_secret().starts_with("whsec_"));
    assert!(!format!("{created:?}").contains(created.secret.expose_secret()));
    receiver
        .configure("/sdk", &[created.secret.expose_secret()], &[204])
        .await;
    let id = created.webhook.id.clone();
    assert_eq!(acme.webhooks().await.unwrap().len(), 1);
    let event_id = acme.test_webhook(&id).await.unwrap();
    let received = receiver
        .wait_for("/sdk", Duration::from_secs(30), || {}, |r| !r.is_empty())
        .await;
    assert_eq!(received[0].id, event_id);
    assert_eq!(received[0].verified, [true]);
    let mut page = acme.webhook_deliveries(&id, Some(10), None).await.unwrap();
    for _ in 0..100 {
        if page
            .deliveries
            .first()
            .is_some_and(|d| d.state == DeliveryState::Delivered)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        page = acme.webhook_deliveries(&id, Some(10), None).await.unwrap();
    }
    assert_eq!(page.deliveries[0].event_id, event_id);
    assert_eq!(page.deliveries[0].state, DeliveryState::Delivered);
    let rotated = acme.rotate_webhook_secret(&id).await.unwrap();
    assert_ne!(
        rotated.secret.expose_secret(),
        created.secret.expose_secret()
    );
    assert!(rotated.webhook.previous_secret_valid_until.is_some());
    let disabled = acme
        .update_webhook(&id, &WebhookPatch::new().status(WebhookStatus::Disabled))
        .await
        .unwrap();
    assert_eq!(disabled.status, WebhookStatus::Disabled);
    let Err(Error::Api(refused)) = acme.test_webhook(&id).await else {
        panic!("a disabled endpoint takes no test");
    };
    assert_eq!(refused.code, "webhook_disabled");
    acme.delete_webhook(&id).await.unwrap();
    let Err(Error::Api(gone)) = acme.webhook(&id).await else {
        panic!("deleted");
    };
    assert_eq!(
        (gone.status, gone.code.as_str()),
        (404, "webhook_not_found")
    );
    deliveries.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_the_problem_code_and_a_sentence() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let acme = client.tenant("acme");

    let revoked = acme.credential(integration(&client, "Retired").await.client_id());
    revoked.revoke(None).await.unwrap();
    let refused = revoked.rotate(None).await.unwrap_err();
    assert_eq!(
        (refused.status(), refused.code()),
        (Some(409), Some("credential_revoked"))
    );
    assert!(
        refused.to_string().contains("Revocation is permanent")
            && refused
                .to_string()
                .contains("(credential_revoked, HTTP 409)"),
        "{refused}"
    );

    let soon = acme
        .create(
            &NewCredential::new("Expiring", ["products:read"])
                .expires_at(api.fixture.now() + chrono::Duration::hours(48)),
        )
        .await
        .unwrap();
    assert!(soon.credential.expiry_locked);
    let locked = acme
        .credential(&soon.credential.client_id)
        .remove_expiry()
        .await
        .unwrap_err();
    assert_eq!(locked.code(), Some("expiry_locked"));

    let invalid = acme
        .create(&NewCredential::new("Bad", ["not a scope"]))
        .await
        .unwrap_err();
    let problem = invalid.problem().unwrap();
    assert_eq!(
        (
            problem.status,
            problem.code.as_str(),
            problem.field.as_deref()
        ),
        (400, "invalid_scope", Some("scopes"))
    );

    // Refused by the gateway's authorizer before any function runs: still a code to match on.
    let stranger = Client::new(api.gateway.url(), "not-a-token").unwrap();
    let unauthenticated = stranger
        .tenant("acme")
        .list(ListOptions::new())
        .next()
        .await
        .unwrap_err();
    assert_eq!(
        (unauthenticated.status(), unauthenticated.code()),
        (Some(401), Some("unauthorized"))
    );
    // Another tenant's admin: the API says so with its own problem.
    let other = client
        .tenant("globex")
        .list(ListOptions::new())
        .next()
        .await;
    assert_eq!(other.unwrap_err().code(), Some("forbidden"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_source_caches_and_refreshes_before_expiry() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let credentials = integration(&client, "Cached").await;
    let clock = TestClock::new();
    let skew = Duration::from_secs(120);
    let tokens = client
        .token_source(credentials.clone())
        .refresh_skew(skew)
        .clock(clock.clone())
        .build()
        .unwrap();

    let first = tokens.token().await.unwrap();
    assert_eq!(first.expires_in(), Duration::from_secs(3600));
    assert_eq!(first.scope(), Some("products:read stock:write"));
    for _ in 0..5 {
        let again = tokens.token().await.unwrap();
        assert_eq!(
            again.secret().expose_secret(),
            first.secret().expose_secret()
        );
    }
    assert_eq!(tokens_served(&api, &client, &credentials).await, 1);

    // One second before the refresh point: still the cached token.
    clock.advance(Duration::from_secs(3600) - skew - Duration::from_secs(1));
    let cached = tokens.token().await.unwrap();
    assert_eq!(
        cached.secret().expose_secret(),
        first.secret().expose_secret()
    );
    assert_eq!(tokens_served(&api, &client, &credentials).await, 1);

    // Inside the skew, though the token has two minutes left: a new one, fetched once.
    clock.advance(Duration::from_secs(2));
    let refreshed = tokens.token().await.unwrap();
    assert_ne!(
        refreshed.secret().expose_secret(),
        first.secret().expose_secret()
    );
    let again = tokens.token().await.unwrap();
    assert_eq!(
        again.secret().expose_secret(),
        refreshed.secret().expose_secret()
    );
    assert_eq!(tokens_served(&api, &client, &credentials).await, 2);
    assert_eq!(tokens.token_requests(), 2);

    // The new token is a good one.
    let introspection = api
        .form(
            "/oauth/introspect",
            Some((
                credentials.client_id(),
                // The integration's own secret authenticates the introspection.
                &secret_of(&credentials),
            )),
            &[("token", refreshed.secret().expose_secret())],
        )
        .await
        .expect(200)
        .json();
    assert_eq!(introspection["active"], true);
}

/// The secret of `credentials`, for calls made without the SDK.
fn secret_of(credentials: &ClientCredentials) -> String {
    credentials.client_secret().expose_secret().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_callers_share_one_token_request() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let credentials = integration(&client, "Busy").await;
    let proxy = Proxy::start(api.gateway.url()).await;
    let clock = TestClock::new();
    let tokens = TokenSource::builder(proxy.url(), credentials.clone())
        .clock(clock.clone())
        .build()
        .unwrap();

    let burst = |tokens: TokenSource| async move {
        let start = Arc::new(tokio::sync::Barrier::new(50));
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let tokens = tokens.clone();
                let start = Arc::clone(&start);
                tokio::spawn(async move {
                    start.wait().await;
                    tokens.token().await
                })
            })
            .collect();
        let mut secrets = Vec::new();
        for caller in callers {
            let token = caller.await.unwrap().unwrap();
            secrets.push(token.secret().expose_secret().to_owned());
        }
        secrets.dedup();
        secrets
    };

    let first = burst(tokens.clone()).await;
    assert_eq!(first.len(), 1, "every caller got the same token");
    assert_eq!(proxy.count("POST", "/oauth/token"), 1);
    assert_eq!(tokens_served(&api, &client, &credentials).await, 1);

    // Due for refresh: again fifty at once, again one request.
    clock.advance(Duration::from_secs(3600));
    let second = burst(tokens.clone()).await;
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    assert_eq!(proxy.count("POST", "/oauth/token"), 2);
    assert_eq!(tokens_served(&api, &client, &credentials).await, 2);
    assert_eq!(tokens.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_waiting_on_a_failed_refresh_share_its_error() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let credentials = integration(&client, "Failing").await;
    let proxy = Proxy::start(api.gateway.url()).await;
    let answer = proxy.fail_when_opened("POST", "/oauth/token", 503, 100);
    let tokens = TokenSource::builder(proxy.url(), credentials)
        .retry_policy(RetryPolicy::never())
        .build()
        .unwrap();
    // Each caller polled once while the token endpoint's answer is held back: the first holds
    // the refresh, so the other nineteen are all queued behind it when the fetch fails.
    let mut callers: Vec<_> = (0..20).map(|_| Box::pin(tokens.token())).collect();
    for caller in &mut callers {
        let polled = std::future::poll_fn(|cx| Poll::Ready(caller.as_mut().poll(cx))).await;
        assert!(
            polled.is_pending(),
            "no token before the token endpoint answers"
        );
    }
    answer.open();
    for outcome in futures_util::future::join_all(callers).await {
        let error = outcome.unwrap_err();
        assert_eq!(error.status(), Some(503), "{error}");
    }
    assert_eq!(
        proxy.count("POST", "/oauth/token"),
        1,
        "the waiters took the failure of the one fetch they waited for"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_from_the_resource_server_fetches_a_fresh_token_and_retries_once() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let integration_credentials = integration(&client, "Integration").await;
    let resource_server = integration(&client, "Resource server").await;

    // The tenant's API: it asks Clavis about every token (introspection, with its own
    // credentials) and answers 401 to one that is not active.
    let answers: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
    let gateway = api.gateway.url();
    let (rs_id, rs_secret) = (
        resource_server.client_id().to_owned(),
        secret_of(&resource_server),
    );
    let log = Arc::clone(&answers);
    let api_server = Stub::serve(move |request: StubRequest| {
        let (gateway, rs_id, rs_secret, log) = (
            gateway.clone(),
            rs_id.clone(),
            rs_secret.clone(),
            Arc::clone(&log),
        );
        async move {
            let token = request.bearer().unwrap_or_default().to_owned();
            let introspection: serde_json::Value = reqwest::Client::new()
                .post(format!("{gateway}/oauth/introspect"))
                .basic_auth(rs_id, Some(rs_secret))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let status = if introspection["active"] == true {
                200
            } else {
                401
            };
            log.lock().unwrap().push((token, status));
            StubResponse::new(status).header("www-authenticate", "Bearer error=\"invalid_token\"")
        }
    })
    .await;

    let tokens = client
        .token_source(integration_credentials.clone())
        .build()
        .unwrap();
    let revoked = tokens.token().await.unwrap();
    // The integration's token is revoked (RFC 7009) while the source still caches it.
    api.form(
        "/oauth/revoke",
        Some((
            integration_credentials.client_id(),
            &secret_of(&integration_credentials),
        )),
        &[("token", revoked.secret().expose_secret())],
    )
    .await
    .expect(200);

    let http = reqwest::Client::new();
    let response = tokens
        .send(http.get(format!("{}/products", api_server.url())))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = answers.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        (seen[0].0.as_str(), seen[0].1),
        (revoked.secret().expose_secret(), 401)
    );
    assert_ne!(seen[1].0, seen[0].0, "the retry carried a fresh token");
    assert_eq!(seen[1].1, 200);
    assert_eq!(tokens.token_requests(), 2);

    // The fresh token is cached for the next request.
    tokens
        .send(http.get(format!("{}/products", api_server.url())))
        .await
        .unwrap();
    assert_eq!(tokens.token_requests(), 2);

    // An API that refuses every token gets exactly one retry, and its 401 comes back.
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let seen_by_refuser = Arc::clone(&refusals);
    let refuser = Stub::serve(move |request: StubRequest| {
        seen_by_refuser
            .lock()
            .unwrap()
            .push(request.header("authorization").map(str::to_owned));
        async { StubResponse::new(401) }
    })
    .await;
    let response = tokens.send(http.get(refuser.url())).await.unwrap();
    assert_eq!(response.status(), 401);
    let refused = refusals.lock().unwrap().clone();
    assert_eq!(refused.len(), 2, "one retry, not more");
    assert!(
        refused
            .iter()
            .all(|h| h.as_deref().is_some_and(|h| h.starts_with("Bearer ey"))),
        "{refused:?}"
    );
    assert_ne!(refused[0], refused[1]);

    // `authorize` attaches the header for callers that send themselves.
    let request = tokens
        .authorize(http.get(refuser.url()))
        .await
        .unwrap()
        .build()
        .unwrap();
    assert!(request.headers()["authorization"].is_sensitive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_refused_with_the_same_token_share_one_refresh() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let credentials = integration(&client, "Busy integration").await;
    let proxy = Proxy::start(api.gateway.url()).await;
    let tokens = TokenSource::builder(proxy.url(), credentials)
        .build()
        .unwrap();
    let stale = tokens.token().await.unwrap();

    // The tenant's API no longer takes the cached token (say its signing key was rotated).
    let refused = stale.secret().expose_secret().to_owned();
    let api_server = Stub::serve(move |request: StubRequest| {
        let status = if request.bearer() == Some(refused.as_str()) {
            401
        } else {
            200
        };
        async move { StubResponse::new(status) }
    })
    .await;

    let http = reqwest::Client::new();
    let start = Arc::new(tokio::sync::Barrier::new(30));
    let callers: Vec<_> = (0..30)
        .map(|_| {
            let (tokens, http, start) = (tokens.clone(), http.clone(), Arc::clone(&start));
            let url = api_server.url();
            tokio::spawn(async move {
                start.wait().await;
                tokens.send(http.get(url)).await
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().status(), 200);
    }
    assert_eq!(
        proxy.count("POST", "/oauth/token"),
        2,
        "the first token, then one refresh for all thirty refusals"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_honour_retry_after_and_only_repeat_what_is_safe() {
    let api = TestApi::memory().await;
    let proxy = Proxy::start(api.gateway.url()).await;
    let client = Client::new(proxy.url(), api.admin("acme")).unwrap();
    let acme = client.tenant("acme");
    let list = "/v1/tenants/acme/credentials";

    // 503 with Retry-After: 1 → waits a second, then succeeds.
    proxy.fail("GET", list, 503, Some("1"), 1);
    let started = Instant::now();
    acme.list(ListOptions::new()).collect_all().await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        (proxy.count("GET", list), proxy.forwarded("GET", list)),
        (2, 1)
    );

    // A wait longer than the policy allows is not waited for: the error says how long.
    proxy.fail("GET", list, 429, Some("3600"), 1);
    let started = Instant::now();
    let throttled = acme.list(ListOptions::new()).next().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(throttled.code(), Some("too_many_requests"));
    assert_eq!(throttled.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(proxy.count("GET", list), 3);

    // A 500 on a POST may have done its work: not repeated, unless it carries an idempotency
    // key, as a create does (a repeat gets the first answer). On a GET it is repeated.
    let first = acme
        .create(&NewCredential::new("Once", ["products:read"]))
        .await
        .unwrap();
    let suspend = format!("{list}/{}/suspend", first.credential.client_id);
    proxy.fail("POST", &suspend, 500, None, 1);
    let failed = acme
        .credential(&first.credential.client_id)
        .suspend()
        .await
        .unwrap_err();
    assert_eq!(failed.status(), Some(500));
    assert_eq!(proxy.count("POST", &suspend), 1);
    let posts_before = proxy.count("POST", list);
    proxy.fail("POST", list, 500, None, 1);
    acme.create(&NewCredential::new("Maybe", ["products:read"]))
        .await
        .unwrap();
    assert_eq!(proxy.count("POST", list) - posts_before, 2);
    proxy.fail("GET", list, 500, None, 2);
    acme.list(ListOptions::new()).collect_all().await.unwrap();
    assert_eq!(proxy.count("GET", list), 3 + 3);

    // A 503 without Retry-After means nothing was done: a POST is repeated after a backoff.
    let (sent, passed) = (proxy.count("POST", list), proxy.forwarded("POST", list));
    proxy.fail("POST", list, 503, None, 1);
    let created = acme
        .create(&NewCredential::new("Retried", ["products:read"]))
        .await
        .unwrap();
    assert_eq!(
        (
            proxy.count("POST", list) - sent,
            proxy.forwarded("POST", list) - passed
        ),
        (2, 1)
    );

    // The token endpoint: retried through 502s, since a token request changes nothing.
    proxy.fail("POST", "/oauth/token", 502, None, 2);
    let tokens = client
        .token_source(ClientCredentials::new(
            created.credential.client_id,
            created.client_secret,
        ))
        .build()
        .unwrap();
    // `token_source` keeps the client's base URL (the proxy) and retry policy.
    tokens.token().await.unwrap();
    assert_eq!(proxy.count("POST", "/oauth/token"), 3);
    assert_eq!(tokens.token_requests(), 3);

    // No retries when the policy says so.
    let impatient = Client::builder(proxy.url(), api.admin("acme"))
        .retry_policy(RetryPolicy::never())
        .build()
        .unwrap();
    proxy.fail("GET", list, 503, Some("0"), 1);
    let unavailable = impatient
        .tenant("acme")
        .list(ListOptions::new())
        .next()
        .await
        .unwrap_err();
    assert_eq!(unavailable.code(), Some("service_unavailable"));
}

/// A 503 whose change may have been applied (`outcome: "unknown"`): a create or rotation,
/// sent with an idempotency key, is repeated with that same key (the server answers a repeat
/// with the first answer, secret included, and changes nothing); any other change comes back
/// to the caller at once, since repeating it might apply it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_outcome_is_unknown_is_repeated_only_under_its_idempotency_key() {
    let requests = Arc::new(Mutex::new(Vec::<(String, Option<String>)>::new()));
    let seen = Arc::clone(&requests);
    let server = Stub::serve(move |request: StubRequest| {
        seen.lock().unwrap().push((
            request.path().to_owned(),
            request.header("idempotency-key").map(str::to_owned),
        ));
        let problem = serde_json::json!({
            "type": "urn:clavis:problem:service_unavailable",
            "title": "Service Unavailable",
            "status": 503,
            "detail": "The credential store stopped answering while this change was being saved.",
            "code": "service_unavailable",
            "outcome": "unknown",
        });
        async move {
            StubResponse::new(503)
                .header("retry-after", "0")
                .json(&problem)
        }
    })
    .await;
    let client = Client::new(server.url(), "token").unwrap();
    let acme = client.tenant("acme");
    let credential = acme.credential("cid_x");
    let attempts = 1 + RetryPolicy::default().max_retries as usize;
    let take = || std::mem::take(&mut *requests.lock().unwrap());

    for what in ["rotate", "create"] {
        let error = match what {
            "rotate" => credential.rotate(None).await.unwrap_err(),
            _ => acme
                .create(&NewCredential::new("Maybe", ["products:read"]))
                .await
                .unwrap_err(),
        };
        let problem = error.problem().expect("a problem document");
        assert!(problem.outcome_unknown(), "{what}");
        let sent = take();
        assert_eq!(sent.len(), attempts, "{what}: repeated up to the policy");
        let key = sent[0].1.clone().expect("an Idempotency-Key");
        assert_eq!(key.len(), 36, "{what}: a UUID");
        assert!(
            sent.iter().all(|(_, k)| k.as_deref() == Some(key.as_str())),
            "{what}: every repeat carries the same key"
        );
    }
    // Each call is a new request with a key of its own.
    credential.rotate(None).await.unwrap_err();
    credential.rotate(None).await.unwrap_err();
    let keys: std::collections::HashSet<Option<String>> =
        take().into_iter().map(|(_, key)| key).collect();
    assert_eq!(keys.len(), 2);

    // A change without a key is handed back after one try.
    let error = credential.suspend().await.unwrap_err();
    assert!(error.problem().expect("a problem").outcome_unknown());
    let sent = take();
    assert_eq!(sent.len(), 1, "the suspension was sent once");
    assert_eq!(sent[0].1, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_refusals_carry_the_oauth_error() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let credentials = integration(&client, "Refused").await;
    let wrong = TokenSource::builder(
        api.gateway.url(),
        ClientCredentials::new(credentials.client_id(), "csk_live_wrong"),
    )
    .build()
    .unwrap();
    let error = wrong.token().await.unwrap_err();
    assert!(matches!(error, Error::OAuth(_)), "{error}");
    assert_eq!(
        (error.status(), error.code()),
        (Some(401), Some("invalid_client"))
    );
    assert!(
        error.to_string().contains("Client authentication failed"),
        "{error}"
    );

    let overreaching = client
        .token_source(credentials)
        .scope("billing:write")
        .build()
        .unwrap();
    assert_eq!(
        overreaching.token().await.unwrap_err().code(),
        Some("invalid_scope")
    );

    let nowhere = TokenSource::builder(
        "http://127.0.0.1:9",
        ClientCredentials::new("cid_x", "csk_x"),
    )
    .retry_policy(RetryPolicy::never())
    .build()
    .unwrap();
    let unreachable = nowhere.token().await.unwrap_err();
    assert!(matches!(unreachable, Error::Transport { .. }));
    assert!(
        unreachable
            .to_string()
            .starts_with("could not reach http://127.0.0.1:9"),
        "{unreachable}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_debug_output_and_logs() {
    let api = TestApi::memory().await;
    let admin = api.admin("acme");
    let client = Client::new(api.gateway.url(), admin.clone()).unwrap();
    let issued = client
        .tenant("acme")
        .create(&NewCredential::new("Quiet", ["products:read"]))
        .await
        .unwrap();
    let secret = issued.client_secret.expose_secret().to_owned();
    let credentials = ClientCredentials::new(&issued.credential.client_id, secret.clone());
    let tokens = client.token_source(credentials.clone()).build().unwrap();
    let token = tokens.token().await.unwrap();
    let access = token.secret().expose_secret().to_owned();

    let debug = format!("{issued:?} {credentials:?} {tokens:?} {token:?} {client:?}");
    for hidden in [&secret, &access, &admin] {
        assert!(!debug.contains(hidden.as_str()), "{debug}");
    }
    assert!(debug.contains(&issued.credential.client_id));

    let logs = captured_logs();
    assert!(
        logs.contains("requesting an access token"),
        "the SDK's own log lines are captured"
    );
    assert!(!logs.contains(&secret) && !logs.contains(&access));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_secret_is_reported_through_the_sdk() {
    let api = TestApi::memory().await;
    let client = client(&api, "acme");
    let acme = client.tenant("acme");
    let mut rules = PolicyRules::default();
    rules.leak_action = LeakAction::Suspend;
    acme.set_policy(&rules, None).await.unwrap();
    let issued = acme
        .create(&NewCredential::new("Leaky", ["products:read"]))
        .await
        .unwrap();
    let report = acme
        .report_leak(&issued.client_secret, Some("https://pastebin.example/abc"))
        .await
        .unwrap();
    assert_eq!(report.client_id, issued.credential.client_id);
    assert_eq!(report.action, "suspended");
    assert!(report.secret_current && !report.already_reported);
    let shown = acme
        .credential(&issued.credential.client_id)
        .get()
        .await
        .unwrap();
    assert_eq!(shown.status, Status::Suspended);
    let leak = shown.leak.expect("the leak is shown");
    assert_eq!(leak.action, "suspended");
    assert_eq!(leak.source, "admin");
    // acme's secret is not globex's to report.
    let globex = Client::new(api.gateway.url(), api.admin("globex")).unwrap();
    let refused = globex
        .tenant("globex")
        .report_leak(&issued.client_secret, None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("secret_not_found"));
    let refused = acme
        .report_leak(&secrecy::SecretString::from("not a secret"), None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("invalid_secret"));
}
