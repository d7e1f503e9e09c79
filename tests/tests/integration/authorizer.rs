//! The request authorizer through the local gateway's `/api/` on DynamoDB Local, in front of
//! an upstream the test runs: what reaches the platform's API, every refusal and its reason,
//! live revocation, scopes per route, Basic keys, quotas and request counts.

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use clavis_core::token::keys::{KeyAlgorithm, SigningKey};
use clavis_local::upstream::REQUEST_ID_HEADER;
use clavis_runtime::config::Env;
use clavis_tests::api::{Integration, Reply, TestApi, captured_logs};
use clavis_tests::stub::{Stub, StubRequest, StubResponse};
use reqwest::Method;
use serde_json::{Value, json};

use crate::hostile::{Forgeries, access_token_forgeries};

const ROUTE_SCOPES: &str = r#"{
    "GET /products": ["products:read"],
    "GET /products/{id}": ["products:read"],
    "POST /orders/{id}/items": ["orders:write"],
    "ANY /files/{path+}": ["files:read"],
    "GET /health": []
}"#;

/// The platform's API as a test sees it: the gateway in front, the upstream behind.
struct Platform {
    api: TestApi,
    /// Every request that reached the upstream.
    reached: Arc<Mutex<Vec<StubRequest>>>,
    _upstream: Stub,
    signing: SigningKey,
    pem: String,
}

impl Platform {
    async fn start() -> Self {
        Self::with(Env::default()).await
    }

    async fn with(settings: Env) -> Self {
        let reached: Arc<Mutex<Vec<StubRequest>>> = Arc::default();
        let seen = Arc::clone(&reached);
        let upstream = Stub::serve(move |request: StubRequest| {
            let seen = Arc::clone(&seen);
            async move {
                let answer = json!({"upstream": request.path()});
                let status = if request.method == "POST" { 201 } else { 200 };
                seen.lock().unwrap_or_else(|p| p.into_inner()).push(request);
                StubResponse::new(status)
                    .json(&answer)
                    .header("x-upstream", "yes")
            }
        })
        .await;
        let (signing, pem) = SigningKey::generate(KeyAlgorithm::Rs256).expect("key");
        let api = TestApi::dynamodb_with(
            settings
                .with("CLAVIS_UPSTREAM", upstream.url())
                .with("ROUTE_SCOPES", ROUTE_SCOPES)
                .with("SIGNING_KEY_PEM", pem.clone()),
        )
        .await;
        Self {
            api,
            reached,
            _upstream: upstream,
            signing,
            pem,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut all: Vec<(&str, &str)> = authorization
            .map(|a| ("authorization", a))
            .into_iter()
            .collect();
        all.extend_from_slice(headers);
        self.api
            .send(method, &format!("/api{path}"), None, body, &all)
            .await
    }

    async fn get(&self, path: &str, authorization: &str) -> Reply {
        self.api.platform_get(path, authorization).await
    }

    /// A POST of an empty JSON object to the platform's API.
    async fn post(&self, path: &str, authorization: &str) -> Reply {
        self.call(
            Method::POST,
            path,
            Some(authorization),
            &[],
            Some(json!({})),
        )
        .await
    }

    fn reached(&self) -> Vec<StubRequest> {
        self.reached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn bearer(&self, who: &Integration) -> String {
        format!("Bearer {}", self.api.access_token(who).await)
    }

    /// The credential's audit trail, newest first.
    async fn audit(&self, tenant: &str, id: &str) -> Value {
        self.api
            .get(
                &format!("/v1/tenants/{tenant}/credentials/{id}/audit"),
                &self.api.admin(tenant),
            )
            .await
            .expect(200)
            .json()
    }

    async fn credential(&self, tenant: &str, id: &str) -> Value {
        self.api
            .get(
                &format!("/v1/tenants/{tenant}/credentials/{id}"),
                &self.api.admin(tenant),
            )
            .await
            .expect(200)
            .json()
    }

    async fn manage(&self, method: Method, tenant: &str, path: &str, body: Value) -> Reply {
        self.api
            .send(
                method,
                &format!("/v1/tenants/{tenant}/credentials/{path}"),
                Some(&self.api.admin(tenant)),
                Some(body),
                &[],
            )
            .await
    }
}

/// What the authorizer decided for the request `reply` answers, from its log line: `allowed`,
/// or the refusal's reason code.
fn decision(reply: &Reply) -> String {
    let id = reply
        .header(REQUEST_ID_HEADER)
        .expect("the gateway names the request");
    let logs = captured_logs();
    let line = logs
        .lines()
        .find(|line| line.contains(id) && line.contains("request "))
        .unwrap_or_else(|| panic!("no authorizer log line for request {id}"));
    if line.contains("request allowed") {
        return "allowed".to_owned();
    }
    let reason = line
        .split("reason=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no reason in {line}"));
    reason.to_owned()
}

#[track_caller]
fn refused(reply: &Reply, reason: &str) {
    assert_eq!(
        (reply.status, reply.json(), decision(reply)),
        (403, json!({"message": "Forbidden"}), reason.to_owned()),
        "{reply:?}"
    );
}

#[track_caller]
fn allowed(reply: &Reply) {
    assert_eq!(
        (reply.status, decision(reply).as_str()),
        (200, "allowed"),
        "{reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_request_reaches_the_upstream_with_the_authorizers_context_only() {
    let p = Platform::start().await;
    let who = p
        .api
        .integration("acme", &["orders:write", "products:read"])
        .await;
    let token = p.api.access_token(&who).await;
    let bearer = format!("Bearer {token}");

    let reply = p
        .call(
            Method::GET,
            "/products?page=2&sort=name",
            Some(&bearer),
            &[
                ("x-clavis-tenant", "globex"),
                ("X-Clavis-Admin", "yes"),
                ("x-request-source", "test"),
            ],
            None,
        )
        .await;
    allowed(&reply);
    assert_eq!(reply.json(), json!({"upstream": "/products"}));
    assert_eq!(reply.header("x-upstream"), Some("yes"));
    let reached = p.reached();
    assert_eq!(reached.len(), 1);
    let request = &reached[0];
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("GET", "/products?page=2&sort=name")
    );
    assert_eq!(request.header("x-clavis-tenant"), Some("acme"));
    assert_eq!(request.header("x-clavis-client-id"), Some(who.id.as_str()));
    assert_eq!(
        request.header("x-clavis-scope"),
        Some("orders:write products:read")
    );
    assert_eq!(
        request.headers.get_all("x-clavis-tenant").iter().count(),
        1,
        "the client's copy is gone, not joined"
    );
    assert_eq!(request.header("x-clavis-admin"), None);
    assert_eq!(request.header("x-request-source"), Some("test"));
    assert_eq!(
        request.header("authorization"),
        None,
        "the platform's API gets the context, never the credentials"
    );
    assert_eq!(request.header("x-clavis-environment"), Some("live"));
    assert_eq!(request.header("x-clavis-jti").map(str::len), Some(26));

    // A body and the upstream's own status travel unchanged.
    let reply = p
        .call(
            Method::POST,
            "/orders/7/items",
            Some(&bearer),
            &[],
            Some(json!({"sku": "A-1", "quantity": 3})),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let reached = p.reached();
    let posted = reached.last().expect("the POST");
    assert_eq!(
        serde_json::from_slice::<Value>(&posted.body).expect("JSON body"),
        json!({"sku": "A-1", "quantity": 3})
    );

    // No Authorization header: API Gateway's own 401, and the authorizer is never asked.
    let reply = p.call(Method::GET, "/products", None, &[], None).await;
    assert_eq!(
        (reply.status, reply.json()),
        (401, json!({"message": "Unauthorized"}))
    );
    assert!(reply.header("www-authenticate").is_some());
    // Refusals never reach the upstream.
    let reply = p.get("/products", "Bearer not-a-token").await;
    refused(&reply, "invalid_token");
    assert_eq!(p.reached().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_needs_its_own_scopes_including_parameters_and_greedy_paths() {
    let p = Platform::start().await;
    let reader = p
        .bearer(&p.api.integration("acme", &["products:read"]).await)
        .await;
    let files = p
        .bearer(&p.api.integration("acme", &["files:read"]).await)
        .await;

    allowed(&p.get("/products", &reader).await);
    allowed(&p.get("/products/42", &reader).await);
    allowed(&p.get("/health", &files).await);
    allowed(&p.get("/files/reports/2026/q3.pdf", &files).await);
    let deleted = p
        .call(Method::DELETE, "/files/a", Some(&files), &[], None)
        .await;
    allowed(&deleted);
    refused(
        &p.get("/files/reports/q3.pdf", &reader).await,
        "insufficient_scope",
    );
    refused(&p.get("/products/42", &files).await, "insufficient_scope");
    let wrong_scope = p.post("/orders/7/items", &reader).await;
    refused(&wrong_scope, "insufficient_scope");
    // Deny by default: routes not listed, and no $default.
    refused(&p.get("/orders", &reader).await, "route_not_configured");
    refused(
        &p.get("/products/42/reviews", &reader).await,
        "route_not_configured",
    );
    let wrong_method = p
        .call(
            Method::PUT,
            "/products",
            Some(&reader),
            &[],
            Some(json!({})),
        )
        .await;
    refused(&wrong_method, "route_not_configured");

    // A token with fewer scopes than its credential gets only its own.
    let both = p
        .api
        .integration("acme", &["files:read", "products:read"])
        .await;
    let narrowed = p
        .api
        .form(
            "/oauth/token",
            Some((&both.id, &both.secret)),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "files:read"),
            ],
        )
        .await
        .expect(200)
        .json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    refused(
        &p.get("/products", &format!("Bearer {narrowed}")).await,
        "insufficient_scope",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_suspension_and_deletion_refuse_the_very_next_request() {
    let p = Platform::start().await;
    for (change, reason) in [
        ("revoke", "credential_revoked"),
        ("suspend", "credential_suspended"),
        ("delete", "credential_not_found"),
    ] {
        let who = p.api.integration("acme", &["products:read"]).await;
        let bearer = p.bearer(&who).await;
        let key = who.basic(&who.secret);
        allowed(&p.get("/products", &bearer).await);
        allowed(&p.get("/products", &key).await);
        let reply = match change {
            "delete" => {
                p.api
                    .send(
                        Method::DELETE,
                        &format!("/v1/tenants/acme/credentials/{}", who.id),
                        Some(&p.api.admin("acme")),
                        None,
                        &[],
                    )
                    .await
            }
            _ => {
                p.manage(
                    Method::POST,
                    "acme",
                    &format!("{}/{change}", who.id),
                    json!({}),
                )
                .await
            }
        };
        assert!(reply.status < 300, "{change}: {reply:?}");
        refused(&p.get("/products", &bearer).await, reason);
        // The key itself stops too; deleted, it is unknown, as a wrong secret is.
        let basic_reason = if change == "delete" {
            "invalid_client"
        } else {
            reason
        };
        refused(&p.get("/products", &key).await, basic_reason);
    }

    // Reactivated, the token issued before the suspension stays refused (an attacker's must
    // not come back); a token issued after the reactivation works at once.
    let who = p.api.integration("acme", &["products:read"]).await;
    let bearer = p.bearer(&who).await;
    p.manage(
        Method::POST,
        "acme",
        &format!("{}/suspend", who.id),
        json!({}),
    )
    .await
    .expect(200);
    refused(&p.get("/products", &bearer).await, "credential_suspended");
    p.manage(
        Method::POST,
        "acme",
        &format!("{}/reactivate", who.id),
        json!({}),
    )
    .await
    .expect(200);
    refused(&p.get("/products", &bearer).await, "token_revoked");
    let fresh = p.bearer(&who).await;
    allowed(&p.get("/products", &fresh).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_expired_credentials_and_rotated_secrets_are_refused() {
    let p = Platform::start().await;
    // RFC 7009: the one token stops; a new one works.
    let who = p.api.integration("acme", &["products:read"]).await;
    let token = p.api.access_token(&who).await;
    allowed(&p.get("/products", &format!("Bearer {token}")).await);
    p.api
        .form(
            "/oauth/revoke",
            Some((&who.id, &who.secret)),
            &[("token", &token)],
        )
        .await
        .expect(200);
    refused(
        &p.get("/products", &format!("Bearer {token}")).await,
        "token_revoked",
    );
    allowed(&p.get("/products", &p.bearer(&who).await).await);

    // The credential expires while its token is still within its hour.
    let soon = (p.api.fixture.now() + Duration::minutes(30)).to_rfc3339();
    let created = p
        .api
        .create(
            "acme",
            json!({"name": "Short-lived", "scopes": ["products:read"], "expires_at": soon}),
        )
        .await;
    let short = Integration::of(&created);
    let bearer = p.bearer(&short).await;
    allowed(&p.get("/products", &bearer).await);
    p.api.fixture.advance(Duration::minutes(31));
    refused(&p.get("/products", &bearer).await, "credential_expired");
    refused(
        &p.get("/products", &short.basic(&short.secret)).await,
        "credential_expired",
    );

    // Rotation: the old secret stops at once; tokens issued before stay valid (seed 002).
    let who = p.api.integration("acme", &["products:read"]).await;
    let before = p.bearer(&who).await;
    let rotated = p
        .manage(
            Method::POST,
            "acme",
            &format!("{}/rotate", who.id),
            json!({}),
        )
        .await
        .expect(200)
        .json();
    let new_secret = rotated["client_secret"].as_str().expect("secret");
    refused(
        &p.get("/products", &who.basic(&who.secret)).await,
        "invalid_client",
    );
    allowed(&p.get("/products", &who.basic(new_secret)).await);
    allowed(&p.get("/products", &before).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_basic_key_is_verified_like_the_token_endpoint_and_carries_the_credentials_scopes() {
    let p = Platform::start().await;
    let who = p
        .api
        .integration("acme", &["files:read", "products:read"])
        .await;
    let reply = p.get("/products", &who.basic(&who.secret)).await;
    allowed(&reply);
    let reached = p.reached();
    let request = reached.last().expect("forwarded");
    assert_eq!(request.header("x-clavis-client-id"), Some(who.id.as_str()));
    assert_eq!(
        request.header("x-clavis-scope"),
        Some("files:read products:read")
    );
    let other = p.api.integration("acme", &["products:read"]).await;
    for (what, authorization) in [
        ("another key's secret", who.basic(&other.secret)),
        ("a malformed secret", who.basic("csk_live_nope")),
        (
            "an unknown client",
            Integration {
                id: "cid_aaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
                secret: String::new(),
            }
            .basic(&who.secret),
        ),
        ("bad base64", "Basic %%%".to_owned()),
        (
            "no colon",
            format!("Basic {}", STANDARD.encode("just-an-id")),
        ),
    ] {
        let reply = p.get("/products", &authorization).await;
        assert_eq!(decision(&reply), "invalid_client", "{what}");
        assert_eq!(reply.status, 403, "{what}");
    }
    for (what, authorization) in [
        ("an unknown scheme", "Token abc".to_owned()),
        ("a bare scheme", "Bearer".to_owned()),
        ("an empty header", String::new()),
    ] {
        let reply = p.get("/products", &authorization).await;
        assert_eq!(decision(&reply), "invalid_token", "{what}");
    }
    assert_eq!(p.reached().len(), 1, "only the good key got through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused_beside_an_accepted_control() {
    let p = Platform::start().await;
    let who = p.api.integration("acme", &["products:read"]).await;
    let genuine = p.api.access_token(&who).await;
    let Forgeries {
        resigned,
        forgeries,
    } = access_token_forgeries(&p.api, &p.signing, &p.pem, &genuine).await;
    allowed(&p.get("/products", &format!("Bearer {resigned}")).await);
    for (what, forged) in &forgeries {
        let reply = p.get("/products", &format!("Bearer {forged}")).await;
        assert_eq!(
            (reply.status, decision(&reply).as_str()),
            (403, "invalid_token"),
            "{what}"
        );
    }
    allowed(&p.get("/products", &format!("Bearer {genuine}")).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_requests_are_counted_and_a_quota_refuses_once_reached_until_lifted() {
    // Uses are flushed by hand here: a background flush under way would hold uses that are
    // neither stored nor pending for the length of its write (the documented overrun).
    let p = Platform::with(Env::default().with("USAGE_FLUSH_SECONDS", "300")).await;
    let created = p
        .api
        .create(
            "acme",
            json!({"name": "Metered", "scopes": ["products:read"], "monthly_request_quota": 5}),
        )
        .await;
    assert_eq!(created["credential"]["monthly_request_quota"], 5);
    let who = Integration::of(&created);
    // One token request and four API requests: five uses, the quota.
    let bearer = p.bearer(&who).await;
    p.api.flush_usage().await;
    for _ in 0..4 {
        allowed(&p.get("/products", &bearer).await);
    }
    refused(&p.get("/products", &bearer).await, "quota_exceeded");
    // Only allowed requests count, after a flush as after a second.
    p.api.flush_usage().await;
    assert_eq!(p.credential("acme", &who.id).await["request_count"], 5);
    refused(
        &p.get("/products", &who.basic(&who.secret)).await,
        "quota_exceeded",
    );
    // Scopes come first: a request refused for them says so, quota or not.
    refused(&p.get("/files/a", &bearer).await, "insufficient_scope");

    // Raised, then removed: requests go through again.
    let raised = p
        .manage(
            Method::PATCH,
            "acme",
            &who.id,
            json!({"monthly_request_quota": 6}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(raised["monthly_request_quota"], 6);
    allowed(&p.get("/products", &bearer).await);
    refused(&p.get("/products", &bearer).await, "quota_exceeded");
    p.manage(
        Method::PATCH,
        "acme",
        &who.id,
        json!({"monthly_request_quota": null}),
    )
    .await
    .expect(200);
    for _ in 0..3 {
        allowed(&p.get("/products", &bearer).await);
    }
    p.api.flush_usage().await;
    let shown = p.credential("acme", &who.id).await;
    assert_eq!(
        (
            shown["request_count"].as_u64(),
            shown["monthly_request_quota"].clone()
        ),
        (Some(9), Value::Null)
    );
    // Each change of quota is in the audit trail.
    let trail = p.audit("acme", &who.id).await;
    let changes: Vec<Value> = trail["items"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "credential.updated")
        .map(|e| e["details"]["monthly_request_quota"].clone())
        .collect();
    assert_eq!(
        changes,
        [
            json!({"before": 6, "after": null}),
            json!({"before": 5, "after": 6})
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_must_be_a_whole_number_from_one_to_a_trillion() {
    let api = TestApi::dynamodb().await;
    for bad in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("10"),
        json!(1_000_000_000_001_u64),
    ] {
        let reply = api
            .send(
                Method::POST,
                "/v1/tenants/acme/credentials",
                Some(&api.admin("acme")),
                Some(json!({"name": "x", "scopes": ["a:b"], "monthly_request_quota": bad})),
                &[],
            )
            .await
            .expect_problem(400, "invalid_field");
        assert_eq!(reply.json()["field"], "monthly_request_quota", "{bad}");
    }
    let who = api.integration("acme", &["a:b"]).await;
    let reply = api
        .send(
            Method::PATCH,
            &format!("/v1/tenants/acme/credentials/{}", who.id),
            Some(&api.admin("acme")),
            Some(json!({"monthly_request_quota": -5})),
            &[],
        )
        .await
        .expect_problem(400, "invalid_field");
    assert_eq!(reply.json()["field"], "monthly_request_quota");
    assert_eq!(
        api.audit_len("acme").await,
        1,
        "nothing but the create was written"
    );
}

fn address(last: u8) -> std::net::IpAddr {
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, last))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_keys_are_throttled_per_source_address_not_per_client_id() {
    let p = Platform::start().await;
    let who = p.api.integration("acme", &["products:read"]).await;
    let wrong = p.api.integration("acme", &["products:read"]).await.secret;
    let (stranger, owner) = (address(2), address(3));
    for _ in 0..10 {
        let reply = p
            .api
            .platform_get_from(stranger, "/products", &who.basic(&wrong))
            .await;
        refused(&reply, "invalid_client");
    }
    let reply = p
        .api
        .platform_get_from(stranger, "/products", &who.basic(&wrong))
        .await;
    refused(&reply, "throttled");
    // The owner, from its own address, never verified on this instance before: served.
    let reply = p
        .api
        .platform_get_from(owner, "/products", &who.basic(&who.secret))
        .await;
    allowed(&reply);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutting_a_key_back_reaches_the_tokens_it_already_holds() {
    let p = Platform::start().await;
    let who = p
        .api
        .integration("acme", &["products:read", "orders:write"])
        .await;
    let old = p.bearer(&who).await;
    p.manage(
        Method::PATCH,
        "acme",
        &who.id,
        json!({"scopes": ["orders:write", "files:read"]}),
    )
    .await
    .expect(200);
    refused(&p.get("/products", &old).await, "insufficient_scope");
    refused(
        &p.get("/files/report.csv", &old).await,
        "insufficient_scope",
    );
    let reply = p.post("/orders/7/items", &old).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let reached = p.reached();
    let last = reached.last().expect("the POST");
    assert_eq!(
        last.header("x-clavis-scope"),
        Some("orders:write"),
        "the context names what the token still holds"
    );

    // A rotation after a leak ends the tokens minted before it, at once.
    p.manage(
        Method::POST,
        "acme",
        &format!("{}/rotate", who.id),
        json!({"end_existing_tokens": true}),
    )
    .await
    .expect(200);
    refused(&p.post("/orders/7/items", &old).await, "token_revoked");
    let audit = p.audit("acme", &who.id).await;
    assert!(
        audit.to_string().contains("\"end_existing_tokens\":true"),
        "the choice is audited: {audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_api_refuses_test_keys() {
    let p = Platform::with(Env::default().with("ACCEPTED_ENVIRONMENTS", "live")).await;
    let test_key = Integration::of(
        &p.api
            .create(
                "acme",
                json!({"name": "Staging", "scopes": ["products:read"], "environment": "test"}),
            )
            .await,
    );
    refused(
        &p.get("/products", &p.bearer(&test_key).await).await,
        "environment_not_accepted",
    );
    refused(
        &p.get("/products", &test_key.basic(&test_key.secret)).await,
        "environment_not_accepted",
    );
    let live = p.api.integration("acme", &["products:read"]).await;
    allowed(&p.get("/products", &p.bearer(&live).await).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_refuses_paths_and_methods_that_could_mean_something_else() {
    let p = Platform::with(Env::default().with(
        "ROUTE_SCOPES",
        r#"{"GET /products": ["products:read"], "$default": []}"#,
    ))
    .await;
    let who = p.api.integration("acme", &["products:read"]).await;
    let bearer = p.bearer(&who).await;
    // Raw HTTP/1.1: an HTTP client would resolve the dot segments before sending them.
    let raw = async |method: &str, path: &str| {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = p.api.gateway.url().trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&host)
            .await
            .expect("the gateway");
        let request = format!(
            "{method} /api{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {bearer}\r\n\
             Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("sent");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("an answer");
        answer.lines().next().unwrap_or_default().to_owned()
    };
    assert!(raw("GET", "/products").await.contains(" 200 "));
    for path in [
        "/products/../admin",
        "/products/%2e%2E/admin",
        "/products/./x",
        "/products%2Fadmin",
        "/products%5cadmin",
        "/products\\admin",
    ] {
        let status = raw("GET", path).await;
        assert!(status.contains(" 400 "), "{path}: {status}");
    }
    let status = raw("get", "/products").await;
    assert!(status.contains(" 400 "), "a lower-case method: {status}");
    assert_eq!(
        p.reached().len(),
        1,
        "only the first request reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_a_tightened_policy_breaks_is_blocked_until_fixed_or_the_policy_relaxes() {
    let p = Platform::start().await;
    let api = &p.api;
    let admin = api.admin("acme");
    let who = api.integration("acme", &["products:read"]).await;
    let path = format!("/v1/tenants/acme/credentials/{}", who.id);
    let bearer = p.bearer(&who).await;
    let basic = who.basic(&who.secret);
    allowed(&p.get("/products", &bearer).await);
    // Introspects for the tenant, and complies with every policy below.
    let inspector = Integration::of(
        &api.create(
            "acme",
            json!({"name": "Inspector", "scopes": ["orders:write"], "expires_in_days": 5}),
        )
        .await,
    );
    let set_policy = async |body: Value| {
        api.send(
            Method::PUT,
            "/v1/tenants/acme/policy",
            Some(&admin),
            Some(body),
            &[],
        )
        .await
        .expect(200)
    };
    let expiry = async |days: i64| {
        let at = (chrono::Utc::now() + Duration::days(days)).to_rfc3339();
        api.send(
            Method::PUT,
            &format!("{path}/expiry"),
            Some(&admin),
            Some(json!({ "expires_at": at })),
            &[],
        )
        .await
        .expect(200)
    };
    let blocked = async |why: &str| {
        let token = api.token_request(&who).await.expect(401);
        assert_eq!(token.json()["error"], "invalid_client");
        let description = token.json()["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            description.contains("policy") && description.contains(why),
            "{description}"
        );
        refused(&p.get("/products", &bearer).await, "policy_violation");
        refused(&p.get("/products", &basic).await, "policy_violation");
        let introspected = api.introspect(&inspector, &bearer["Bearer ".len()..]).await;
        assert_eq!(introspected["active"], false, "{introspected}");
        let shown = api.get(&path, &admin).await.expect(200).json();
        assert_eq!(shown["status"], "active", "blocked, not revoked");
        let violations = shown["policy_violations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            violations
                .iter()
                .any(|v| v.as_str().unwrap_or_default().contains(why)),
            "{shown}"
        );
    };
    let unblocked = async || {
        api.access_token(&who).await;
        let introspected = api.introspect(&inspector, &bearer["Bearer ".len()..]).await;
        assert_eq!(introspected["active"], true, "{introspected}");
        allowed(&p.get("/products", &bearer).await);
        allowed(&p.get("/products", &basic).await);
        let shown = api.get(&path, &admin).await.expect(200).json();
        assert_eq!(shown["policy_violations"], json!([]), "{shown}");
    };

    // Made without an expiry; the policy now requires one. Its tokens already issued stop too.
    set_policy(json!({"require_expiry": true})).await;
    blocked("expiry date").await;
    // Fixed by an admin: an expiry, and it works again.
    expiry(30).await;
    unblocked().await;
    // Tightened further: 30 days is more than 10 from when the expiry was set.
    set_policy(json!({"max_lifetime_days": 10})).await;
    blocked("within 10 days").await;
    // Relaxed: unblocked without touching the credential.
    set_policy(json!({})).await;
    unblocked().await;
    // A scope the tenant no longer allows blocks too.
    set_policy(json!({"allowed_scopes": ["orders:write"]})).await;
    blocked("products:read").await;
    set_policy(json!({"allowed_scopes": ["orders:write", "products:read"]})).await;
    unblocked().await;
}
