//! What each kind of request costs in DynamoDB calls, counted at the SDK's HTTP layer (every
//! attempt, retries included). The token path is where the volume is: a repeat token must stay
//! one read and no write, a first-time one one round trip before the hash, and usage must be
//! written per flush, not per request, so that a regression shows here before it shows on a bill.

use std::collections::BTreeMap;

use clavis_runtime::config::Env;
use clavis_tests::api::Integration;
use clavis_tests::github::GithubScanner;
use clavis_tests::injector::FaultInjector;
use clavis_tests::load_model;
use clavis_tests::stub::{Stub, StubResponse};
use reqwest::Method;
use serde_json::json;

use crate::faults::{api_flushed_by_hand, api_flushed_by_hand_with};

/// The calls made between two snapshots, by operation.
fn made(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(operation, n)| {
            let new = n - before.get(operation).copied().unwrap_or(0);
            (new > 0).then(|| (operation.clone(), new))
        })
        .collect()
}

fn calls(expected: &[(&str, u64)]) -> BTreeMap<String, u64> {
    expected
        .iter()
        .map(|(o, n)| ((*o).to_owned(), *n))
        .collect()
}

struct Meter<'a> {
    faults: &'a FaultInjector,
    before: BTreeMap<String, u64>,
}

impl Meter<'_> {
    /// The calls made since the last reading, checked against `expected`.
    #[track_caller]
    fn expect(&mut self, what: &str, expected: &[(&str, u64)]) {
        let now = self.faults.all_attempts();
        assert_eq!(made(&self.before, &now), calls(expected), "{what}");
        self.before = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_request_makes_only_the_dynamodb_calls_it_needs() {
    let faults = FaultInjector::new();
    let api = api_flushed_by_hand(&faults).await;
    let tenant = "calls";
    let admin = api.admin(tenant);
    let base = format!("/v1/tenants/{tenant}/credentials");
    let mut meter = Meter {
        faults: &faults,
        before: faults.all_attempts(),
    };

    let created = api
        .create(
            tenant,
            json!({"name": "Meter", "scopes": ["introspect:read"]}),
        )
        .await;
    meter.expect(
        "create: the tenant's policy, then the write",
        &[("GetItem", 1), ("TransactWriteItems", 1)],
    );
    let who = Integration::of(&created);
    let other = api
        .integration_named(tenant, "Other", &["products:read"])
        .await;
    meter.expect("create", &[("GetItem", 1), ("TransactWriteItems", 1)]);

    // The token path.
    api.token_request(&who).await.expect(200);
    meter.expect(
        "first-time token: credential and failure counters in one round trip, then its \
         tenant's policy, which this instance reads with the credential from now on",
        &[("BatchGetItem", 1), ("GetItem", 1)],
    );
    assert_eq!(
        load_model::FIRST_TOKEN.round_trips,
        2,
        "the model's first-time token"
    );
    for _ in 0..5 {
        api.token_request(&who).await.expect(200);
    }
    meter.expect(
        "repeat tokens: one read each (the credential and this address's failure counts, \
         which throttle a verified secret too), no write",
        &[(
            "BatchGetItem",
            5 * u64::from(load_model::BASIC_REPEAT.round_trips),
        )],
    );
    let wrong = Integration {
        id: who.id.clone(),
        secret: other.secret.clone(),
    };
    api.token_request(&wrong).await.expect(401);
    meter.expect(
        "refused secret: the round trip, then the failure counted for the client ID from this \
         address and for the address",
        &[("BatchGetItem", 1), ("UpdateItem", 2)],
    );
    let token = api.access_token(&who).await;
    meter.expect("repeat token", &[("BatchGetItem", 1)]);
    api.introspect(&who, &token).await;
    meter.expect(
        "introspection: the caller, then the token's credential and the deny list in one \
         round trip",
        &[("BatchGetItem", 2)],
    );

    // Usage: one write per credential and flush, however many uses; `last_used_at` once.
    api.flush_usage().await;
    meter.expect(
        "first flush: the count, and last_used_at",
        &[("TransactWriteItems", 1), ("UpdateItem", 1)],
    );
    api.token_request(&other).await.expect(200);
    for _ in 0..20 {
        api.token_request(&who).await.expect(200);
        api.token_request(&other).await.expect(200);
    }
    meter.expect(
        "41 tokens, two credentials: one read each, and the policy for the first of the new one",
        &[("BatchGetItem", 41), ("GetItem", 1)],
    );
    api.flush_usage().await;
    meter.expect(
        "flush of two busy credentials: two counts, one new last_used_at",
        &[("TransactWriteItems", 2), ("UpdateItem", 1)],
    );
    api.flush_usage().await;
    meter.expect("nothing to flush", &[]);

    api.form(
        "/oauth/revoke",
        Some((&who.id, &who.secret)),
        &[("token", &token)],
    )
    .await
    .expect(200);
    meter.expect(
        "revocation of a token",
        &[("BatchGetItem", 1), ("PutItem", 1)],
    );

    // Management.
    let credential = format!("{base}/{}", who.id);
    let manage = |method: Method, path: String, body: Option<serde_json::Value>| {
        let (api, admin) = (&api, &admin);
        async move {
            let reply = api.send(method, &path, Some(admin), body, &[]).await;
            assert!(reply.status < 300, "{path}: {}", reply.text);
        }
    };
    manage(Method::GET, base.clone(), None).await;
    // Each view of a credential shows the rules of its tenant's policy it breaks: one more
    // GetItem, sent alongside the other reads.
    meter.expect("list", &[("Query", 1), ("BatchGetItem", 1), ("GetItem", 1)]);
    manage(Method::GET, credential.clone(), None).await;
    meter.expect("get", &[("GetItem", 2), ("BatchGetItem", 1)]);
    manage(
        Method::PATCH,
        credential.clone(),
        Some(json!({"name": "Meter 2"})),
    )
    .await;
    meter.expect(
        "update",
        &[
            ("GetItem", 2),
            ("TransactWriteItems", 1),
            ("BatchGetItem", 1),
        ],
    );
    manage(
        Method::POST,
        format!("{credential}/suspend"),
        Some(json!({})),
    )
    .await;
    meter.expect(
        "suspend",
        &[
            ("GetItem", 2),
            ("TransactWriteItems", 1),
            ("BatchGetItem", 1),
        ],
    );
    manage(
        Method::POST,
        format!("{credential}/rotate"),
        Some(json!({})),
    )
    .await;
    meter.expect(
        "rotate: one read, though the new secret is hashed between it and the write",
        &[
            ("GetItem", 2),
            ("TransactWriteItems", 1),
            ("BatchGetItem", 1),
        ],
    );
    manage(Method::GET, format!("{credential}/audit"), None).await;
    meter.expect("audit trail", &[("Query", 1)]);
    manage(Method::DELETE, credential.clone(), None).await;
    meter.expect("delete", &[("GetItem", 1), ("TransactWriteItems", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_verified_api_request_is_one_round_trip_and_usage_one_write_per_flush() {
    let faults = FaultInjector::new();
    let upstream = Stub::serve(|_| async { StubResponse::new(204) }).await;
    let api = api_flushed_by_hand_with(
        &faults,
        Env::default()
            .with("CLAVIS_UPSTREAM", upstream.url())
            .with("ROUTE_SCOPES", r#"{"GET /products": ["products:read"]}"#),
    )
    .await;
    let who = api.integration("verify", &["products:read"]).await;
    let metered = Integration::of(
        &api.create(
            "verify",
            json!({"name": "Metered", "scopes": ["products:read"], "monthly_request_quota": 1000}),
        )
        .await,
    );
    let token = api.access_token(&who).await;
    api.flush_usage().await;
    let mut meter = Meter {
        faults: &faults,
        before: faults.all_attempts(),
    };
    let call = |authorization: String| {
        let api = &api;
        async move {
            let reply = api.platform_get("/products", &authorization).await;
            assert_eq!(reply.status, 204, "{reply:?}");
        }
    };
    let basic = |who: &Integration| who.basic(&who.secret);

    for _ in 0..30 {
        call(format!("Bearer {token}")).await;
    }
    meter.expect(
        "bearer requests: credential, deny list and policy in one read each",
        &[(
            "BatchGetItem",
            30 * u64::from(load_model::BEARER.round_trips),
        )],
    );
    call(basic(&who)).await;
    for _ in 0..5 {
        call(basic(&who)).await;
    }
    meter.expect(
        "basic requests: as the token endpoint, one round trip each, and the tenant's policy \
         the first time",
        &[("BatchGetItem", 6), ("GetItem", 1)],
    );
    call(basic(&metered)).await;
    call(basic(&metered)).await;
    meter.expect(
        "basic requests with a quota: every shard of its month too, in the same read (and \
         the policy, a first time)",
        &[("BatchGetItem", 4), ("GetItem", 1)],
    );
    api.flush_usage().await;
    meter.expect(
        "36 uses of one credential and 2 of another: one write each; last_used_at only for the \
         one not used within the minute",
        &[("TransactWriteItems", 2), ("UpdateItem", 1)],
    );
    assert_eq!(
        load_model::FLUSH_ITEMS,
        2,
        "the model's flush: a month and a day item"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_github_report_is_settled_by_reads_alone() {
    let faults = FaultInjector::new();
    let scanner = GithubScanner::new("github-calls");
    let api = api_flushed_by_hand_with(
        &faults,
        Env::default().with("GITHUB_SECRET_SCANNING_KEYS", scanner.key_set()),
    )
    .await;
    let mut secrets = Vec::new();
    for n in 0..3 {
        let who = api
            .integration_named("leaky", &format!("Leaky {n}"), &["products:read"])
            .await;
        secrets.push(who.secret);
    }
    let tokens: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let report = GithubScanner::report(&tokens);
    let mut meter = Meter {
        faults: &faults,
        before: faults.all_attempts(),
    };
    api.github_report(&scanner, report.clone(), None)
        .await
        .expect(200);
    meter.expect(
        "a first report: the lookups and the markers in one read each, then per secret its \
         credential, its tenant's policy and one transaction",
        &[
            ("BatchGetItem", 2),
            ("GetItem", 6),
            ("TransactWriteItems", 3),
        ],
    );
    api.github_report(&scanner, report, None).await.expect(200);
    meter.expect(
        "the same report again: the lookups and the markers, and nothing written",
        &[("BatchGetItem", 2)],
    );
}
