//! Signing and verifying access tokens, per algorithm: the work the token and introspection
//! endpoints add on top of the secret check.

use std::hint::black_box;

use chrono::Utc;
use clavis::audit::{Actor, ActorRole, Context};
use clavis::credential::{Description, Environment, Name, Scopes};
use clavis::ids::{ClientId, TenantId};
use clavis::lifecycle::{self, NewCredential};
use clavis::secret::SecretHash;
use clavis::token::keys::{KeyAlgorithm, SigningKey};
use clavis::token::{KeySet, Tokens};
use criterion::{Criterion, criterion_group, criterion_main};

fn tokens(c: &mut Criterion) {
    let now = Utc::now();
    let credential = lifecycle::create(
        NewCredential {
            tenant: TenantId::parse("acme").expect("tenant"),
            name: Name::parse("bench").expect("name"),
            description: Description::default(),
            scopes: Scopes::parse(&["products:read", "stock:write"]).expect("scopes"),
            environment: Environment::Live,
            expires_at: None,
            monthly_request_quota: None,
        },
        ClientId::generate(),
        SecretHash::from_phc("$argon2id$bench".into()),
        &Context {
            actor: Actor {
                subject: "bench".into(),
                role: ActorRole::Admin,
            },
            now,
            request_id: None,
        },
    )
    .expect("credential")
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
    }
    group.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
