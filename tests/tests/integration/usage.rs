//! The usage dashboard on DynamoDB Local (DESIGN: "Usage dashboard"): what each credential did
//! day by day, its refusals by reason, the tenant's days and top credentials, where a credential
//! was last used from, and which credentials nobody uses.

use std::net::{IpAddr, Ipv4Addr};

use chrono::Duration;
use clavis_runtime::config::Env;
use clavis_tests::api::{Integration, Reply, TestApi};
use clavis_tests::stub::{Stub, StubResponse};
use reqwest::Method;
use serde_json::{Value, json};

/// The platform's API behind the authorizer (one route needing `products:read`), on a fresh
/// table, with a client that fails twice from one address throttled.
async fn platform() -> (TestApi, Stub) {
    let upstream = Stub::serve(|_| async { StubResponse::new(204) }).await;
    let api = TestApi::dynamodb_with(
        Env::default()
            .with("CLAVIS_UPSTREAM", upstream.url())
            .with(
                "ROUTE_SCOPES",
                r#"{"GET /products": ["products:read"], "GET /orders": ["orders:read"]}"#,
            )
            .with("ACCEPTED_ENVIRONMENTS", "live")
            .with("TOKEN_FAILURE_LIMIT", "2")
            .with("USAGE_FLUSH_SECONDS", "300"),
    )
    .await;
    (api, upstream)
}

fn address(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

async fn usage(api: &TestApi, tenant: &str, path: &str) -> Reply {
    api.get(&format!("/v1/tenants/{tenant}{path}"), &api.admin(tenant))
        .await
}

fn today(api: &TestApi) -> String {
    api.fixture
        .now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

fn day_of<'a>(report: &'a Value, date: &str) -> &'a Value {
    report["days"]
        .as_array()
        .and_then(|days| days.iter().find(|d| d["date"] == date))
        .unwrap_or_else(|| panic!("no {date} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_use_and_each_refusal_is_counted_on_its_day_under_its_reason() {
    let (api, _upstream) = platform().await;
    let admin = api.admin("acme");
    let who = api.integration("acme", &["products:read"]).await;
    let wrong = api.integration("acme", &["products:read"]).await.secret;

    // 3 tokens and 4 API requests allowed: 7 uses.
    let mut bearer = String::new();
    for _ in 0..3 {
        bearer = format!("Bearer {}", api.access_token(&who).await);
    }
    for _ in 0..4 {
        api.platform_get_from(address(5), "/products", &bearer)
            .await
            .expect(204);
    }
    // Refused, naming the credential: a scope it lacks, a wrong secret, then throttled.
    api.platform_get("/orders", &bearer).await.expect(403);
    for _ in 0..2 {
        api.token_request_from(address(9), &who, &wrong)
            .await
            .expect(401);
    }
    assert_eq!(
        api.token_request_from(address(9), &who, &wrong)
            .await
            .status,
        429
    );
    // A token revoked (RFC 7009), then refused.
    let revoked = api.access_token(&who).await;
    api.form(
        "/oauth/revoke",
        Some((&who.id, &who.secret)),
        &[("token", &revoked)],
    )
    .await
    .expect(200);
    api.platform_get("/products", &format!("Bearer {revoked}"))
        .await
        .expect(403);
    // A test key this API does not take.
    let test_key = Integration::of(
        &api.create(
            "acme",
            json!({"name": "Test key", "scopes": ["products:read"], "environment": "test"}),
        )
        .await,
    );
    api.platform_get("/products", &test_key.basic(&test_key.secret))
        .await
        .expect(403);
    // Suspended, its right secret refused.
    let path = format!("/credentials/{}", who.id);
    api.post(
        &format!("/v1/tenants/acme{path}/suspend"),
        &admin,
        json!({}),
    )
    .await
    .expect(200);
    api.token_request(&who).await.expect(401);
    api.flush_usage().await;

    let report = usage(&api, "acme", &format!("{path}/usage"))
        .await
        .expect(200)
        .json();
    let days = report["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "every day of the default range");
    assert!(
        days.windows(2)
            .all(|w| w[0]["date"].as_str() < w[1]["date"].as_str()),
        "oldest first"
    );
    let day = day_of(&report, &today(&api));
    assert_eq!(day["uses"], 3 + 4 + 1, "{report}");
    assert_eq!(
        day["refused"],
        json!({
            "insufficient_scope": 1,
            "invalid_client": 2,
            "throttled": 1,
            "token_revoked": 1,
            "credential_suspended": 1,
        }),
        "{report}"
    );
    assert_eq!(report["total_uses"], 8);
    assert_eq!(report["total_refused"], 6);
    assert!(
        days.iter()
            .filter(|d| d["date"] != today(&api))
            .all(|d| d["uses"] == 0 && d["refused"] == json!({}))
    );
    let test_day = usage(&api, "acme", &format!("/credentials/{}/usage", test_key.id))
        .await
        .expect(200)
        .json();
    assert_eq!(
        day_of(&test_day, &today(&api))["refused"],
        json!({"environment_not_accepted": 1})
    );

    // Where it was last used from: the API request's address, not a refused one's.
    let shown = api
        .get(&format!("/v1/tenants/acme{path}"), &admin)
        .await
        .expect(200)
        .json();
    assert!(shown["last_used_from"].is_string(), "{shown}");
    assert_ne!(shown["last_used_from"], "127.0.0.9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_block_and_a_used_up_quota_are_refusals_of_their_own() {
    let (api, _upstream) = platform().await;
    let metered = Integration::of(
        &api.create(
            "acme",
            json!({"name": "Metered", "scopes": ["products:read"], "monthly_request_quota": 1}),
        )
        .await,
    );
    api.platform_get("/products", &metered.basic(&metered.secret))
        .await
        .expect(204);
    api.platform_get("/products", &metered.basic(&metered.secret))
        .await
        .expect(403);
    api.send(
        Method::PUT,
        "/v1/tenants/acme/policy",
        Some(&api.admin("acme")),
        Some(json!({"require_expiry": true})),
        &[],
    )
    .await
    .expect(200);
    api.token_request(&metered).await.expect(401);
    api.flush_usage().await;
    let report = usage(&api, "acme", &format!("/credentials/{}/usage", metered.id))
        .await
        .expect(200)
        .json();
    let day = day_of(&report, &today(&api));
    assert_eq!(day["uses"], 1);
    assert_eq!(
        day["refused"],
        json!({"quota_exceeded": 1, "policy_violation": 1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_days_sum_its_credentials_and_name_the_most_used() {
    let (api, _upstream) = platform().await;
    let busy = api
        .integration_named("acme", "Busy", &["products:read"])
        .await;
    let quiet = api
        .integration_named("acme", "Quiet", &["products:read"])
        .await;
    let idle = api
        .integration_named("acme", "Idle", &["products:read"])
        .await;
    let other = api
        .integration_named("globex", "Elsewhere", &["products:read"])
        .await;
    for _ in 0..5 {
        api.access_token(&busy).await;
    }
    api.access_token(&quiet).await;
    api.access_token(&other).await;
    api.flush_usage().await;
    // The next day: two more uses of the quiet one.
    api.fixture.advance(Duration::days(1));
    api.access_token(&quiet).await;
    api.access_token(&quiet).await;
    api.flush_usage().await;

    let yesterday = (api.fixture.now() - Duration::days(1))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let report = usage(
        &api,
        "acme",
        &format!("/usage?from={yesterday}&to={}", today(&api)),
    )
    .await
    .expect(200)
    .json();
    assert_eq!(report["tenant"], "acme");
    assert_eq!(report["days"].as_array().unwrap().len(), 2);
    assert_eq!(day_of(&report, &yesterday)["uses"], 6);
    assert_eq!(day_of(&report, &today(&api))["uses"], 2);
    assert_eq!(report["total_uses"], 8, "globex's use is not acme's");
    assert_eq!(
        report["top"],
        json!([
            {"client_id": busy.id, "name": "Busy", "uses": 5},
            {"client_id": quiet.id, "name": "Quiet", "uses": 3},
        ]),
        "the idle one ({}) has none to rank",
        idle.id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_are_checked_and_every_day_is_present() {
    let (api, _upstream) = platform().await;
    let who = api.integration("acme", &["products:read"]).await;
    let base = format!("/credentials/{}/usage", who.id);
    let today = api.fixture.now().date_naive();
    let day = |offset: i64| {
        (today + Duration::days(offset))
            .format("%Y-%m-%d")
            .to_string()
    };
    let report = usage(
        &api,
        "acme",
        &format!("{base}?from={}&to={}", day(-399), day(0)),
    )
    .await
    .expect(200)
    .json();
    assert_eq!(report["days"].as_array().unwrap().len(), 400);
    assert_eq!(
        (report["from"].as_str(), report["to"].as_str()),
        (Some(day(-399).as_str()), Some(day(0).as_str()))
    );
    for (query, field) in [
        (format!("?from={}", day(-400)), "from"),
        (format!("?to={}", day(1)), "to"),
        (format!("?from={}&to={}", day(-1), day(-2)), "from"),
        ("?from=yesterday".to_owned(), "from"),
        ("?to=2026-13-01".to_owned(), "to"),
    ] {
        let refused = usage(&api, "acme", &format!("{base}{query}"))
            .await
            .expect_problem(400, "invalid_range");
        assert_eq!(refused.json()["field"], field, "{query}");
        usage(&api, "acme", &format!("/usage{query}"))
            .await
            .expect_problem(400, "invalid_range");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_each_tenants_own() {
    let (api, _upstream) = platform().await;
    let who = api.integration("acme", &["products:read"]).await;
    let path = format!("/v1/tenants/acme/credentials/{}/usage", who.id);
    api.get(&path, &api.admin("globex"))
        .await
        .expect_problem(403, "forbidden");
    api.get(
        &format!("/v1/tenants/globex/credentials/{}/usage", who.id),
        &api.admin("globex"),
    )
    .await
    .expect_problem(404, "credential_not_found");
    api.get("/v1/tenants/acme/usage", &api.token("viewer", "acme", &[]))
        .await
        .expect_problem(403, "forbidden");
    let advisor = api.token("advisor", "agency", &["acme"]);
    api.get(&path, &advisor).await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_nobody_used_lately_are_listed_as_unused() {
    let (api, _upstream) = platform().await;
    let old_unused = api
        .integration_named("acme", "Old, never used", &["products:read"])
        .await;
    let old_used = api
        .integration_named("acme", "Old, used", &["products:read"])
        .await;
    api.fixture.advance(Duration::days(40));
    let fresh = api
        .integration_named("acme", "Fresh", &["products:read"])
        .await;
    api.access_token(&old_used).await;
    api.flush_usage().await;
    let listed = api
        .get(
            "/v1/tenants/acme/credentials?unused_for_days=30",
            &api.admin("acme"),
        )
        .await
        .expect(200)
        .json();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["client_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [old_unused.id.as_str()],
        "not {} nor {}",
        old_used.id,
        fresh.id
    );
    for bad in ["0", "401", "soon"] {
        api.get(
            &format!("/v1/tenants/acme/credentials?unused_for_days={bad}"),
            &api.admin("acme"),
        )
        .await
        .expect_problem(400, "invalid_unused_for_days");
    }
}
