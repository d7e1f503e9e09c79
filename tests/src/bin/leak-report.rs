//! GitHub's largest secret scanning report, measured locally: 1,000 tokens in one signed
//! `POST /v1/leaks/github` through the local gateway on DynamoDB Local, against the 30 s GitHub
//! gives a partner to answer. `make bench-leaks` runs it.
//!
//! 1. 1,000 noise strings: checksum only, no lookup (the floor).
//! 2. 1,000 well-formed secrets Clavis never issued: one batch of lookups, no action.
//! 3. 1,000 live secrets of 1,000 credentials in 10 tenants: each revoked, with its events.
//! 4. The same report again: every secret found, each already recorded, nothing changes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clavis_core::credential::{Environment, StoredSecret};
use clavis_core::ids::ClientId;
use clavis_core::leak::MAX_REPORTED_TOKENS;
use clavis_core::lifecycle;
use clavis_core::secret::ClientSecret;
use clavis_core::testing;
use clavis_runtime::config::Env;
use clavis_tests::api::TestApi;
use clavis_tests::github::GithubScanner;
use futures_util::{StreamExt, stream};

/// GitHub's deadline for a partner's answer.
const GITHUB_WAITS: Duration = Duration::from_secs(30);

async fn timed(api: &TestApi, scanner: &GithubScanner, tokens: &[String]) -> (Duration, String) {
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let body = GithubScanner::report(&tokens);
    let started = Instant::now();
    let reply = api.github_report(scanner, body, None).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 200, "{}", reply.text);
    let labels = reply.json();
    let true_positives = labels
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["label"] == "true_positive")
        .count();
    (took, format!("{true_positives} true positives"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scanner = GithubScanner::new("bench-key");
    let api = TestApi::dynamodb_with(
        Env::default().with("GITHUB_SECRET_SCANNING_KEYS", scanner.key_set()),
    )
    .await;
    let n = MAX_REPORTED_TOKENS;

    // Credentials written straight to the table: the report needs their lookup items, not
    // 1,000 argon2id hashes.
    let store = Arc::clone(&api.fixture.store);
    let context = api.fixture.context();
    let secrets: Vec<String> = stream::iter(0..n)
        .map(|i| {
            let store = Arc::clone(&store);
            let context = context.clone();
            async move {
                let secret = ClientSecret::generate(Environment::Live);
                let stored = StoredSecret::of(&secret, testing::fake_hash("bench"));
                let new = testing::new_credential(&format!("tenant-{}", i % 10), &["a:b"]);
                let created = lifecycle::create(new, ClientId::generate(), stored, &context)
                    .expect("a credential");
                store.insert(&created).await.expect("inserted");
                secret.expose().to_owned()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    let noise: Vec<String> = (0..n).map(|i| format!("not-a-secret-{i}")).collect();
    let unknown: Vec<String> = (0..n)
        .map(|_| {
            ClientSecret::generate(Environment::Live)
                .expose()
                .to_owned()
        })
        .collect();
    let runs = [
        ("1,000 noise strings (checksum only)", noise),
        ("1,000 secrets never issued (lookups)", unknown),
        (
            "1,000 live secrets, first report (each revoked)",
            secrets.clone(),
        ),
        ("the same 1,000 again (already recorded)", secrets),
    ];
    println!("One signed report of {n} tokens to POST /v1/leaks/github, DynamoDB Local, 2 vCPUs:");
    println!("| report | answered in | of GitHub's 30 s | labels |");
    println!("| --- | --- | --- | --- |");
    for (what, tokens) in runs {
        let (took, labels) = timed(&api, &scanner, &tokens).await;
        println!(
            "| {what} | {:.2} s | {:.1} % | {labels} |",
            took.as_secs_f64(),
            100.0 * took.as_secs_f64() / GITHUB_WAITS.as_secs_f64()
        );
    }
    Ok(())
}
