//! Secrets never reach the table: only argon2id hashes do.

use chrono::Duration;
use clavis_core::credential::{Environment, Reason};
use clavis_core::lifecycle::{self, GracePeriod, NewCredential};
use clavis_core::secret::{ClientSecret, SecretHasher, looks_like_secret};
use clavis_core::testing;
use clavis_tests::{dynamodb_fixture, scan::table_text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_secret_is_stored_anywhere_in_the_table() {
    let fx = dynamodb_fixture().await;
    let hasher = SecretHasher::default();
    let mut secrets = Vec::new();
    let context = || fx.context();
    for environment in [Environment::Live, Environment::Test] {
        let first = ClientSecret::generate(environment);
        let created = testing::create(
            NewCredential {
                environment,
                expires_at: Some(fx.now() + Duration::days(10)),
                ..testing::new_credential("acme", &["products:read"])
            },
            hasher.hash(&first).unwrap(),
            &context(),
        );
        fx.store.insert(&created).await.unwrap();
        let second = ClientSecret::generate(environment);
        let grace = GracePeriod::from_seconds(3600).unwrap();
        let rotated = lifecycle::rotate_secret(
            &created.credential,
            hasher.hash(&second).unwrap(),
            grace,
            &context(),
        )
        .unwrap();
        fx.store
            .update(created.credential.version, &rotated)
            .await
            .unwrap();
        fx.store
            .record_uses(&clavis_core::testing::uses(
                &created.credential,
                1,
                fx.now(),
                true,
            ))
            .await
            .unwrap();
        let reason = Some(Reason::parse("rotated out").unwrap());
        let revoked = lifecycle::revoke(&rotated.credential, reason, &context()).unwrap();
        fx.store
            .update(rotated.credential.version, &revoked)
            .await
            .unwrap();
        secrets.extend([first, second]);
    }
    fx.store
        .deny_token("jti-scan", fx.now() + Duration::hours(1))
        .await
        .unwrap();

    let (client, table) = fx.table.as_ref().unwrap();
    let items = table_text(client, table).await;
    let entities: Vec<&str> = items.iter().map(|(e, _)| e.as_str()).collect();
    for expected in ["credential", "audit", "usage", "denied_token"] {
        assert!(
            entities.contains(&expected),
            "the scan read no {expected} item: {entities:?}"
        );
    }
    let hashes = items
        .iter()
        .flat_map(|(_, t)| t)
        .filter(|t| t.starts_with("$argon2id$"))
        .count();
    assert!(hashes >= 2, "credential items carry their argon2id hash");
    for (entity, texts) in &items {
        for text in texts {
            assert!(
                !looks_like_secret(text),
                "a {entity} item holds something secret-shaped"
            );
            for secret in &secrets {
                let random_part = secret.expose().split('_').nth(2).unwrap();
                assert!(
                    !text.contains(random_part),
                    "a {entity} item holds a secret's random part"
                );
            }
        }
    }
}
