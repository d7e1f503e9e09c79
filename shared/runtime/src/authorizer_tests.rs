//! The authorizer function as its cold start builds it: its settings, and its answers over two
//! instances sharing one store.

use std::sync::Arc;

use crate::compose::FromEnv;
use crate::config::{AuthorizerSettings, Env, TokenSettings};
use clavis_api::authorizer::*;
use clavis_api::state::AuthorizerApp;
use clavis_core::credential::Environment;
use clavis_core::secret::{ClientSecret, SecretHasher};
use clavis_core::source::SourceAddress;
use clavis_core::store::memory::MemoryStore;
use clavis_core::store::{
    CredentialWriter, Retention, SharedStore, TransitionWriter, UsageMonth, UsageReader,
};
use clavis_core::testing::created;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;

use clavis_core::time::{Clock, SystemClock};
use clavis_core::token::keys::{KeyAlgorithm, SigningKey};

#[tokio::test]
async fn a_bad_route_table_stops_the_cold_start_naming_the_variable() {
    for (routes, problem) in [
        (None, "is required"),
        (Some("not json"), "JSON object"),
        (Some(r#"{"GET products": []}"#), "start with /"),
    ] {
        let mut env = Env::default();
        if let Some(routes) = routes {
            env = env.with("ROUTE_SCOPES", routes);
        }
        let Err(e) = AuthorizerApp::from_env(&env).await else {
            panic!("{routes:?} was accepted");
        };
        assert_eq!(e.variable, "ROUTE_SCOPES");
        assert!(e.to_string().contains(problem), "{e}");
    }
    let stale = Env::default()
        .with("ROUTE_SCOPES", "{}")
        .with("LIVE_STATUS_MAX_AGE_SECONDS", "301");
    let Err(e) = AuthorizerApp::from_env(&stale).await else {
        panic!("a five-minute-plus staleness was accepted");
    };
    assert_eq!(e.variable, "LIVE_STATUS_MAX_AGE_SECONDS");
}

/// API Gateway's own example of a payload 2.0 authorizer event, with a Basic key.
fn event(authorization: &str) -> ApiGatewayV2CustomAuthorizerV2Request {
    serde_json::from_value(serde_json::json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/products",
        "identitySource": [authorization],
        "routeKey": "GET /products",
        "rawPath": "/products",
        "rawQueryString": "page=2",
        "cookies": ["cookie1"],
        "headers": {"authorization": authorization, "x-clavis-tenant": "spoofed"},
        "queryStringParameters": {"page": "2"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {
                "method": "GET",
                "path": "/products",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "agent"
            },
            "requestId": "id",
            "routeKey": "GET /products",
            "stage": "$default",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390u64
        },
        "pathParameters": {},
        "stageVariables": {}
    }))
    .expect("API Gateway's example event")
}

/// A credential in `store` whose secret is `secret`, with `quota`.
async fn stored(
    store: &MemoryStore,
    hasher: &SecretHasher,
    secret: &ClientSecret,
    quota: Option<u64>,
) -> clavis_core::credential::Credential {
    let mut new = created(&["products:read"], None, SystemClock.now());
    new.credential.secret.hash = hasher.hash(secret).expect("hash");
    new.credential.monthly_request_quota =
        quota.map(|q| clavis_core::credential::RequestQuota::new(q).expect("quota"));
    store.insert(&new).await.expect("insert");
    new.credential
}

/// An authorizer instance on `store`, as one warm Lambda instance builds it.
async fn instance(
    store: &Arc<MemoryStore>,
    hasher: &Arc<SecretHasher>,
    pem: &str,
) -> AuthorizerApp {
    let env = Env::default()
        .with("TOKEN_ISSUER", "https://auth.example")
        .with("TOKEN_AUDIENCE", "api")
        .with("SIGNING_KEY_PEM", pem)
        .with("ROUTE_SCOPES", r#"{"GET /products": ["products:read"]}"#);
    let token_settings = TokenSettings::from_env(&env).expect("token settings");
    crate::compose::authorizer_app(
        &(store.clone() as SharedStore),
        Arc::clone(hasher),
        Arc::new(SystemClock),
        token_settings.tokens("us-east-1").await.expect("tokens"),
        &token_settings,
        AuthorizerSettings::from_env(&env).expect("settings"),
    )
}

fn setup() -> (Arc<MemoryStore>, Arc<SecretHasher>, String) {
    let store = Arc::new(MemoryStore::new(
        Arc::new(SystemClock),
        Retention::default(),
    ));
    let hasher = Arc::new(SecretHasher::new(64, 1, 1).expect("hasher"));
    let pem = SigningKey::generate(KeyAlgorithm::Rs256).expect("key").1;
    (store, hasher, pem)
}

async fn allowed(app: &AuthorizerApp, authorization: &str) -> bool {
    app.verifier
        .verify(
            "GET /products",
            authorization,
            &SourceAddress::parse("192.0.2.1").expect("an address"),
        )
        .await
        .is_ok()
}

#[tokio::test]
async fn with_two_instances_a_quota_runs_over_by_at_most_what_the_other_has_not_flushed() {
    let (store, hasher, pem) = setup();
    let secret = ClientSecret::generate(Environment::Live);
    let credential = stored(&store, &hasher, &secret, Some(10)).await;
    let (a, b) = (
        instance(&store, &hasher, &pem).await,
        instance(&store, &hasher, &pem).await,
    );
    let token = a
        .verifier
        .tokens()
        .issue(&credential, &credential.scopes, SystemClock.now())
        .expect("token")
        .access_token;
    let bearer = format!("Bearer {token}");
    // A allows 6, unflushed; B knows nothing of them and allows 10 of its own: 16 in all,
    // over the quota by exactly what A had not flushed.
    for _ in 0..6 {
        assert!(allowed(&a, &bearer).await);
    }
    let mut by_b = 0;
    while allowed(&b, &bearer).await {
        by_b += 1;
    }
    assert_eq!(by_b, 10);
    // Once A has flushed, both see the stored count and refuse at once.
    a.verifier.usage().flush().await;
    b.verifier.usage().flush().await;
    assert!(!allowed(&a, &bearer).await && !allowed(&b, &bearer).await);
    let stored = store
        .request_counts(
            std::slice::from_ref(&credential.client_id),
            UsageMonth::of(SystemClock.now()),
        )
        .await
        .expect("counts");
    assert_eq!(stored[&credential.client_id], 16, "refusals count nothing");
}

#[tokio::test]
async fn a_quota_set_after_the_instance_last_saw_the_credential_is_enforced_at_once() {
    let (store, hasher, pem) = setup();
    let secret = ClientSecret::generate(Environment::Live);
    let credential = stored(&store, &hasher, &secret, None).await;
    let app = instance(&store, &hasher, &pem).await;
    let bearer = format!(
        "Bearer {}",
        app.verifier
            .tokens()
            .issue(&credential, &credential.scopes, SystemClock.now())
            .expect("token")
            .access_token
    );
    // Seen without a quota: its usage counter is no longer read.
    for _ in 0..3 {
        assert!(allowed(&app, &bearer).await);
    }
    app.verifier.usage().flush().await;
    let patch = clavis_core::lifecycle::DetailsPatch {
        monthly_request_quota: Some(Some(
            clavis_core::credential::RequestQuota::new(5).expect("quota"),
        )),
        ..Default::default()
    };
    let context = clavis_core::testing::context_at(SystemClock.now());
    let change = clavis_core::lifecycle::update_details(&credential, patch, &context)
        .expect("allowed")
        .expect("a change");
    store
        .update(credential.version, &change)
        .await
        .expect("update");
    // 3 of 5 used: the stored uses are read as soon as the quota shows, so exactly two
    // more go through.
    assert!(allowed(&app, &bearer).await && allowed(&app, &bearer).await);
    assert!(!allowed(&app, &bearer).await);
}

#[tokio::test]
async fn the_answer_is_api_gateways_simple_response() {
    let (store, hasher, pem) = setup();
    let secret = ClientSecret::generate(Environment::Live);
    let credential = stored(&store, &hasher, &secret, None).await;
    let app = instance(&store, &hasher, &pem).await;
    let pair = format!("{}:{}", credential.client_id, secret.expose());
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pair)
    );
    let allowed = authorize_request(&app, event(&basic)).await;
    assert_eq!(
        serde_json::to_value(&allowed).expect("json"),
        serde_json::json!({
            "isAuthorized": true,
            "context": {
                "tenant": "acme",
                "client_id": credential.client_id.to_string(),
                "scope": "products:read",
                "environment": "live",
                "jti": "",
            }
        })
    );
    let refused = authorize_request(&app, event("Bearer nonsense")).await;
    assert_eq!(
        serde_json::to_value(&refused).expect("json"),
        serde_json::json!({"isAuthorized": false})
    );
}
