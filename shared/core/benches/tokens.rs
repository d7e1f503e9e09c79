//! Signing and verifying access tokens, per algorithm: the work the token and introspection
//! endpoints add on top of the secret check; and the request authorizer's whole decision for a
//! Bearer token once its credential is read (signature, claims, deny list, status, route
//! scopes, quota).

use std::hint::black_box;

use chrono::Utc;
use clavis_core::authorization::Authorization;
use clavis_core::authorizer::{Acceptance, RouteScopes, admit_bearer, presented, verify_bearer};
use clavis_core::credential::Environment;
use clavis_core::credential::RequestQuota;
use clavis_core::lifecycle::NewCredential;
use clavis_core::store::CredentialState;
use clavis_core::testing;
use clavis_core::token::keys::{KeyAlgorithm, SigningKey};
use clavis_core::token::{KeySet, Tokens};
use criterion::{Criterion, criterion_group, criterion_main};

fn tokens(c: &mut Criterion) {
    let now = Utc::now();
    let credential = testing::create(
        NewCredential {
            monthly_request_quota: Some(RequestQuota::new(1_000_000).expect("quota")),
            ..testing::new_credential("acme", &["products:read", "stock:write"])
        },
        testing::fake_hash("bench"),
        &testing::context_at(now),
    )
    .credential;
    let mut group = c.benchmark_group("jwt");
    for algorithm in [
        KeyAlgorithm::Rs256,
        KeyAlgorithm::Es256,
        KeyAlgorithm::EdDsa,
    ] {
        let key = SigningKey::generate(algorithm).expect("key").0;
        let tokens = Tokens::new(
            KeySet::new(key, None).expect("keys"),
            "https://auth.example",
            "clavis-api",
        );
        let name = algorithm.as_str();
        group.bench_function(format!("sign/{name}"), |b| {
            b.iter(|| tokens.issue(black_box(&credential), &credential.scopes, now))
        });
        let token = tokens
            .issue(&credential, &credential.scopes, now)
            .expect("token")
            .access_token;
        group.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| tokens.verify(black_box(&token), now))
        });
        decide(&mut group, name, &tokens, &token, &credential, now);
    }
    group.finish();
}

/// The authorizer's decision on one request, everything but the read: the header parsed, the
/// route's scopes looked up, the token verified, then deny list, status, policy, scopes and quota.
fn decide(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    tokens: &Tokens,
    token: &str,
    credential: &clavis_core::credential::Credential,
    now: chrono::DateTime<Utc>,
) {
    let routes = RouteScopes::parse(
        r#"{"GET /products/{id}": ["products:read"], "POST /orders": ["orders:write"]}"#,
    )
    .expect("routes");
    let state = CredentialState {
        credential: Some(credential.clone()),
        token_denied: false,
        uses_this_month: Some(1_000),
        policy: Some(clavis_core::policy::StoredPolicy::open(
            credential.tenant.clone(),
        )),
    };
    let header = format!("Bearer {token}");
    group.bench_function(format!("authorize/{name}"), |b| {
        b.iter(|| {
            let required = routes
                .required(black_box("GET /products/{id}"))
                .expect("route");
            let Ok(Authorization::Bearer(token)) = presented(black_box(&header)) else {
                panic!("a bearer token");
            };
            let claims = verify_bearer(tokens, token, now).expect("valid");
            let accept = Acceptance {
                required,
                environments: &[Environment::Live, Environment::Test],
            };
            admit_bearer(&claims, &state, accept, 3, now).expect("allowed")
        })
    });
}

criterion_group!(benches, tokens);
criterion_main!(benches);
