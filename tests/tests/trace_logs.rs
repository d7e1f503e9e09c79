//! The token endpoint run as Lambda runs it, at TRACE: `lambda_runtime` logs each raw event at
//! TRACE (the `Authorization` header, the form body, an `Idempotency-Key`), so libraries are
//! capped at INFO whatever level is asked. This runs the real runtime loop in this process
//! against a stand-in for the Lambda Runtime API, once with the cap (nothing secret may show)
//! and once without it (the control: the scan sees what it is looking for).
//!
//! Its own test binary: it sets the process environment `lambda_runtime` reads.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clavis_api::oauth::issue_token;
use clavis_api::state::OAuthApp;
use clavis_core::credential::Environment;
use clavis_core::secret::{ClientSecret, SecretHasher};
use clavis_core::store::memory::MemoryStore;
use clavis_core::store::{Retention, SharedStore};
use clavis_core::time::{Clock, SystemClock};
use clavis_core::token::keys::{KeyAlgorithm, SigningKey};
use clavis_local::runtime_api::{Outcome, RuntimeApi};
use clavis_runtime::config::{Env, TokenSettings};
use clavis_runtime::telemetry::capped;
use clavis_tests::api::Capture;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

/// A token request as API Gateway hands it to `issue-token`: Basic credentials, the secret
/// again in a form field a careless client might add, and an `Idempotency-Key`.
fn event(client_id: &str, secret: &str, idempotency_key: &str) -> String {
    let basic = STANDARD.encode(format!("{client_id}:{secret}"));
    serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /oauth/token",
        "rawPath": "/oauth/token",
        "rawQueryString": "",
        "headers": {
            "authorization": format!("Basic {basic}"),
            "content-type": "application/x-www-form-urlencoded",
            "idempotency-key": idempotency_key,
        },
        "body": "grant_type=client_credentials",
        "isBase64Encoded": false,
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1",
            "domainPrefix": "local", "requestId": "trace-test", "routeKey": "POST /oauth/token",
            "stage": "$default", "time": "06/Dec/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": "POST", "path": "/oauth/token", "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.7", "userAgent": "trace-test"}
        }
    })
    .to_string()
}

/// Runs one invocation through `lambda_runtime` and answers the access token it issued.
async fn invoke(app: Arc<OAuthApp>, event: String) -> String {
    let mut runtime_api = RuntimeApi::serve(event).await.expect("the stand-in");
    // SAFETY: this binary's one test sets it between invocations, while no runtime loop runs.
    unsafe { std::env::set_var("AWS_LAMBDA_RUNTIME_API", runtime_api.address()) };
    let serving = lambda_http::run(lambda_http::service_fn(move |request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, std::convert::Infallible>(issue_token(&app, request).await) }
    }));
    // The runtime loop never ends by itself: it stops when the answer is in.
    let outcome = tokio::select! {
        outcome = runtime_api.outcome(Duration::from_secs(20)) => outcome,
        stopped = serving => panic!("the runtime loop stopped: {stopped:?}"),
    };
    match outcome {
        Some(Outcome::Answered { status: 200, body }) => {
            let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            answer["access_token"]
                .as_str()
                .expect("an access token")
                .to_owned()
        }
        other => panic!("the token endpoint answered {other:?}"),
    }
}

#[test]
fn the_token_endpoint_at_trace_logs_no_secret_token_or_key() {
    for (name, value) in [
        ("AWS_LAMBDA_FUNCTION_NAME", "issue-token"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "trace-test"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/issue-token"),
    ] {
        // SAFETY: set before any other thread of this test binary exists.
        unsafe { std::env::set_var(name, value) };
    }
    // One thread: nothing else of this process reads the environment while it is set.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let captured = Capture::default();
        let writer = captured.clone();
        let (filter, switch) = reload::Layer::new(Targets::new().with_default(LevelFilter::TRACE));
        tracing_subscriber::registry()
            .with(filter)
            .with(tracing_subscriber::fmt::layer().with_writer(move || writer.clone()))
            .init();

        let (_, pem) = SigningKey::generate(KeyAlgorithm::Rs256).expect("a key");
        let env = Env::default()
            .with("TOKEN_ISSUER", "https://clavis.example")
            .with("TOKEN_AUDIENCE", "clavis-api")
            .with("SIGNING_KEY_PEM", pem.clone());
        let settings = TokenSettings::from_env(&env).expect("settings");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: SharedStore =
            Arc::new(MemoryStore::new(Arc::clone(&clock), Retention::default()));
        let hasher = Arc::new(SecretHasher::new(64, 1, 1).expect("a hasher"));
        let secret = ClientSecret::generate(Environment::Live);
        let mut created = clavis_core::testing::created(&["products:read"], None, clock.now());
        created.credential.secret.hash = hasher.hash(&secret).expect("a hash");
        store.insert(&created).await.expect("stored");
        let client_id = created.credential.client_id.to_string();
        let tokens = settings.tokens("us-east-1").await.expect("tokens");
        let app = Arc::new(clavis_runtime::compose::oauth_app(
            &store, hasher, clock, tokens, &settings,
        ));
        let idempotency_key = "trace-test-idempotency-key-0123456789abcdef";
        let key_body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let basic = STANDARD.encode(format!("{client_id}:{}", secret.expose()));
        let leaks = |logs: &str, token: &str| -> Vec<&'static str> {
            [
                ("the secret", secret.expose()),
                ("the Basic header", basic.as_str()),
                ("the idempotency key", idempotency_key),
                ("the access token", token),
                ("the signing key", &key_body[..40]),
            ]
            .into_iter()
            .filter(|(_, value)| logs.contains(value))
            .map(|(what, _)| what)
            .collect()
        };

        // The control: every library at TRACE prints the raw event.
        let token = invoke(
            Arc::clone(&app),
            event(&client_id, secret.expose(), idempotency_key),
        )
        .await;
        let uncapped = captured.take();
        assert!(
            leaks(&uncapped, &token).contains(&"the Basic header"),
            "the scan would not see a raw event: {uncapped}"
        );

        // As the functions log: RUST_LOG=trace reaches Clavis's code, libraries stop at INFO.
        switch.reload(capped(LevelFilter::TRACE)).expect("the cap");
        let token = invoke(app, event(&client_id, secret.expose(), idempotency_key)).await;
        let logs = captured.take();
        assert!(
            logs.contains("token issued"),
            "Clavis's own lines are still logged: {logs}"
        );
        assert_eq!(leaks(&logs, &token), Vec::<&str>::new(), "{logs}");
    });
}
