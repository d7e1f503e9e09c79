use super::writes::lifecycle_update;
use super::*;
use clavis_core::credential::LeakNotice;
use clavis_core::leak::{LeakOutcome, LeakSource, SecretFingerprint};
use clavis_core::lifecycle::NewCredential;
use clavis_core::testing;

fn sample(all_optional: bool) -> Credential {
    let now = parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let mut credential = testing::create(
        NewCredential {
            monthly_request_quota: all_optional.then(|| RequestQuota::new(1_000).unwrap()),
            ..testing::new_credential("acme", &["a:b"])
        },
        testing::fake_hash("x"),
        &testing::context_at(now),
    )
    .credential;
    if all_optional {
        credential.expires_at = Some(now);
        credential.expiry_set_at = Some(now);
        credential.secret.rotated_at = Some(now);
        credential.secret.previous = Some(PreviousSecret {
            hash: SecretHash::from_phc("$argon2id$y".into()),
            valid_until: now,
        });
        credential.suspended_at = Some(now);
        credential.revocation = Some(Revocation {
            at: now,
            by: "u2".into(),
            reason: Some(Reason::parse("r").unwrap()),
        });
        credential.expiry_recorded_at = Some(now);
        credential.expiry_notice_recorded_at = Some(now);
        credential.last_used_at = Some(now);
        credential.secret.fingerprint = Some(SecretFingerprint::of_text("a secret"));
        credential.leak = Some(LeakNotice {
            reported_at: now,
            source: LeakSource::Github,
            action: LeakOutcome::Revoked,
            url: Some("https://github.com/o/r/blob/1/.env".into()),
        });
    }
    credential
}

#[test]
fn optional_attribute_list_matches_the_item() {
    let full: Vec<String> = to_item(&CredentialItem::from_credential(
        &sample(true),
        &Retention::default(),
        None,
    ))
    .unwrap()
    .into_keys()
    .collect();
    let minimal = to_item(&CredentialItem::from_credential(
        &sample(false),
        &Retention::default(),
        None,
    ))
    .unwrap();
    let mut optional: Vec<&str> = full
        .iter()
        .map(String::as_str)
        .filter(|k| !minimal.contains_key(*k) && !NOT_WRITTEN_BY_LIFECYCLE.contains(k))
        .collect();
    // A revoked credential leaves the sweep index, so fill GSI2 from a live one.
    optional.extend(["GSI2PK", "GSI2SK"]);
    optional.sort_unstable();
    let mut expected = OPTIONAL_ATTRIBUTES.to_vec();
    expected.sort_unstable();
    assert_eq!(optional, expected);
}

#[test]
fn credential_items_round_trip() {
    for credential in [sample(false), sample(true)] {
        let item = to_item(&CredentialItem::from_credential(
            &credential,
            &Retention::default(),
            None,
        ))
        .unwrap();
        let back = from_item::<CredentialItem>(item)
            .unwrap()
            .into_credential()
            .unwrap();
        assert_eq!(back, credential);
    }
}

#[test]
fn lifecycle_updates_remove_absent_optionals_and_spare_usage() {
    let item = to_item(&CredentialItem::from_credential(
        &sample(false),
        &Retention::default(),
        None,
    ))
    .unwrap();
    let (expression, names, _) = lifecycle_update(item);
    assert!(expression.contains(" REMOVE "));
    let named: Vec<&String> = names.values().collect();
    assert!(
        !named
            .iter()
            .any(|n| n.as_str() == "last_used_at" || n.as_str() == "PK")
    );
    for optional in OPTIONAL_ATTRIBUTES {
        assert!(named.iter().any(|n| n.as_str() == optional), "{optional}");
    }
}

fn remembered(client_id: &ClientId, version: u64) -> IdempotencyRecord {
    let now = sample(false).created_at;
    IdempotencyRecord {
        key: KeyDigest::parse(&"a".repeat(64)).expect("a digest"),
        tenant: testing::tenant("acme"),
        operation: Operation::Create,
        client_id: client_id.clone(),
        version,
        fingerprint: Fingerprint::of(&[b"request"]),
        response: serde_json::json!({"credential": {"version": 4}}),
        sealed_secret: vec![1, 2, 3],
        created_at: now,
        expires_at: now + chrono::Duration::days(1),
    }
}

#[test]
fn an_idempotency_record_keeps_its_version_and_an_older_one_finds_it_in_its_response() {
    let client_id = ClientId::generate();
    let item = to_item(&IdempotencyItem::from_record(&remembered(&client_id, 7))).unwrap();
    let back = from_item::<IdempotencyItem>(item.clone())
        .unwrap()
        .into_record()
        .unwrap();
    assert_eq!(back, remembered(&client_id, 7));
    let mut older = item;
    older.remove("version");
    let back = from_item::<IdempotencyItem>(older.clone())
        .unwrap()
        .into_record()
        .unwrap();
    assert_eq!(back.version, 4, "read from the stored response");
    older.insert("response".into(), AttributeValue::S("{}".into()));
    assert!(matches!(
        from_item::<IdempotencyItem>(older).unwrap().into_record(),
        Err(StoreError::Corrupt(_))
    ));
}
