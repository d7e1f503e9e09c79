//! Whether a client ID exists must not show in how long the token endpoint takes to refuse a
//! wrong secret. Measured as a ratio inside one run: the three kinds of request are sent in
//! turn, round after round, so whatever else the machine is doing weighs on all of them alike,
//! and each round's ratio compares neighbours. A leak this test is meant to catch (one argon2id
//! verification more or less, ~10 ms against a request of ~20 ms) moves the ratio by 1.5× or more;
//! the band below allows half that.

use std::time::{Duration, Instant};

use clavis::config::Env;
use clavis::credential::Environment;
use clavis::ids::ClientId;
use clavis::secret::ClientSecret;
use clavis_tests::api::TestApi;
use serde_json::json;

const ROUNDS: usize = 40;

async fn refusal_time(api: &TestApi, client_id: &str, secret: &str) -> Duration {
    let started = Instant::now();
    let reply = api
        .form(
            "/oauth/token",
            Some((client_id, secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let took = started.elapsed();
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.json()["error"], "invalid_client");
    took
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_known_and_rotating_client_ids_are_refused_in_the_same_time() {
    let api = TestApi::dynamodb_with(Env::default().with("TOKEN_FAILURE_LIMIT", "1000")).await;
    let known = api.integration("acme", &["products:read"]).await;
    let rotating = api.integration("acme", &["products:read"]).await;
    api.post(
        &format!("/v1/tenants/acme/credentials/{}/rotate", rotating.id),
        &api.admin("acme"),
        json!({"previous_secret_valid_for_seconds": 3600}),
    )
    .await
    .expect(200);
    let unknown = ClientId::generate().to_string();
    let wrong = ClientSecret::generate(Environment::Live);
    let wrong = wrong.expose();

    // Warm-up: connections, DynamoDB Local's JIT, the first argon2 allocations.
    for id in [&unknown, &known.id, &rotating.id] {
        refusal_time(&api, id, wrong).await;
    }
    let (mut known_ratios, mut rotating_ratios) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let unknown_took = refusal_time(&api, &unknown, wrong).await.as_secs_f64();
        let known_took = refusal_time(&api, &known.id, wrong).await.as_secs_f64();
        let rotating_took = refusal_time(&api, &rotating.id, wrong).await.as_secs_f64();
        known_ratios.push(known_took / unknown_took);
        rotating_ratios.push(rotating_took / unknown_took);
    }
    let (known_ratio, rotating_ratio) = (median(known_ratios), median(rotating_ratios));
    for (what, ratio) in [("known", known_ratio), ("mid-rotation", rotating_ratio)] {
        assert!(
            (0.8..=1.25).contains(&ratio),
            "refusing a {what} client ID takes {ratio:.2}× as long as an unknown one"
        );
    }
}
