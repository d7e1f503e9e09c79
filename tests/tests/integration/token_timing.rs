//! Whether a client ID exists must not show in how long the token endpoint takes to refuse a
//! wrong secret. Measured as a ratio inside one run: the three kinds of request are sent in
//! turn, round after round, so whatever else the machine is doing weighs on all of them alike,
//! and each round's ratio compares neighbours. A leak this test is meant to catch (one argon2id
//! verification more or less, ~10 ms against a request of ~20 ms) moves the ratio by 1.5× or more;
//! the band below allows half that.
//!
//! It stays in `make test`, not `make bench`: it guards a security property, so a regression
//! must fail CI. What keeps it stable on a noisy machine is the design, not a lenient band:
//! 60 interleaved rounds, each starting with a different kind so that no kind always goes
//! first, and medians of per-round ratios. BENCHMARKS.md records the ratios of repeated runs.

use std::time::{Duration, Instant};

use clavis_core::credential::Environment;
use clavis_core::ids::ClientId;
use clavis_core::secret::ClientSecret;
use clavis_runtime::config::Env;
use clavis_tests::api::TestApi;
use serde_json::json;

const ROUNDS: usize = 60;

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
    let ids = [&unknown, &known.id, &rotating.id];
    for round in 0..ROUNDS {
        let mut took = [0.0; 3];
        for turn in 0..ids.len() {
            let kind = (round + turn) % ids.len();
            took[kind] = refusal_time(&api, ids[kind], wrong).await.as_secs_f64();
        }
        let [unknown_took, known_took, rotating_took] = took;
        known_ratios.push(known_took / unknown_took);
        rotating_ratios.push(rotating_took / unknown_took);
    }
    let (known_ratio, rotating_ratio) = (median(known_ratios), median(rotating_ratios));
    eprintln!(
        "refusal time against an unknown client ID: known {known_ratio:.3}×, mid-rotation {rotating_ratio:.3}×"
    );
    for (what, ratio) in [("known", known_ratio), ("mid-rotation", rotating_ratio)] {
        assert!(
            (0.8..=1.25).contains(&ratio),
            "refusing a {what} client ID takes {ratio:.2}× as long as an unknown one"
        );
    }
}
