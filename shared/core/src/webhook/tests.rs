use std::net::IpAddr;
use std::time::Duration;

use chrono::TimeZone;

use super::delivery::*;
use super::destination::URL_MAX_LEN;
use super::*;
use crate::testing;

fn now() -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 12, 6, 18, 0, 0).unwrap()
}

const DEPLOYED: DestinationRules = DestinationRules {
    allow_private: false,
};
const LOCAL: DestinationRules = DestinationRules {
    allow_private: true,
};

#[test]
fn internal_addresses_are_refused_and_public_ones_allowed() {
    let internal = [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fd00:ec2::254",
        "fc00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "ff02::1",
        "2002:a9fe:a9fe::1",
        "2002:7f00:1::",
        "64:ff9b:1::808:808",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ];
    for text in internal {
        let ip: IpAddr = text.parse().unwrap();
        assert!(destination::is_internal(ip), "{text} is internal");
        assert!(!DEPLOYED.allows(ip), "{text}");
        assert!(LOCAL.allows(ip), "{text} allowed locally");
    }
    for text in [
        "93.184.216.34",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
        "2001:4860:4860::8888",
    ] {
        let ip: IpAddr = text.parse().unwrap();
        assert!(DEPLOYED.allows(ip), "{text} is public");
    }
}

#[test]
fn urls_are_https_with_a_host_and_no_credentials_unless_private_is_allowed() {
    assert!(
        DEPLOYED
            .parse("https://hooks.example.com/clavis?x=1")
            .is_ok()
    );
    let refused = [
        ("http://hooks.example.com/", UrlRefusal::NotHttps),
        ("ftp://hooks.example.com/", UrlRefusal::Malformed),
        ("not a url", UrlRefusal::Malformed),
        (
            "https://user:pw@hooks.example.com/",
            UrlRefusal::Credentials,
        ),
        ("https://127.0.0.1/", UrlRefusal::PrivateDestination),
        ("https://[::1]:8443/", UrlRefusal::PrivateDestination),
        (
            "https://169.254.169.254/latest",
            UrlRefusal::PrivateDestination,
        ),
    ];
    for (url, refusal) in refused {
        assert_eq!(DEPLOYED.parse(url).err(), Some(refusal), "{url}");
    }
    let long = format!("https://hooks.example.com/{}", "a".repeat(URL_MAX_LEN));
    assert_eq!(DEPLOYED.parse(&long).err(), Some(UrlRefusal::TooLong));
    let local = LOCAL.parse("http://127.0.0.1:9000/hook").unwrap();
    assert_eq!((local.host(), local.port()), ("127.0.0.1", 9000));
    assert_eq!(LOCAL.parse("http://[::1]:9/").unwrap().host(), "::1");
    let with_token = DEPLOYED
        .parse("https://hooks.example.com/services/T0/B0/secret")
        .unwrap();
    assert_eq!(with_token.origin(), "https://hooks.example.com");
}

#[test]
fn a_name_is_refused_if_any_address_it_resolves_to_is_internal_or_none() {
    let public: IpAddr = "93.184.216.34".parse().unwrap();
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(DEPLOYED.check_addresses(&[public]), Ok(()));
    assert_eq!(
        DEPLOYED.check_addresses(&[public, loopback]),
        Err(UrlRefusal::PrivateDestination)
    );
    assert_eq!(DEPLOYED.check_addresses(&[]), Err(UrlRefusal::Unresolvable));
}

#[test]
fn filters_name_known_types_and_the_test_event_passes_every_filter() {
    let every = EventFilter::parse(None).unwrap();
    assert!(every.matches("credential.revoked"));
    let some = EventFilter::parse(Some(vec![
        "credential.revoked".into(),
        "credential.revoked".into(),
    ]))
    .unwrap();
    assert_eq!(some.types(), Some(&["credential.revoked".to_owned()][..]));
    assert!(some.matches("credential.revoked"));
    assert!(!some.matches("credential.created"));
    assert!(some.matches(TEST_EVENT_TYPE));
    assert_eq!(
        EventFilter::parse(Some(vec!["credential.nope".into()])),
        Err(UnknownEventType("credential.nope".into()))
    );
    assert!(EventFilter::parse(Some(vec![TEST_EVENT_TYPE.into()])).is_err());
}

#[test]
fn a_sealed_secret_opens_only_for_its_webhook_and_key() {
    let key = SealingKey::generate();
    let webhook = WebhookId::generate();
    let secret = SigningSecret::generate();
    assert!(secret.expose().starts_with("whsec_"));
    let sealed = key.seal(&webhook, &secret).unwrap();
    assert!(!String::from_utf8_lossy(sealed.as_bytes()).contains(secret.expose()));
    assert_eq!(
        key.open(&webhook, &sealed).unwrap().expose(),
        secret.expose()
    );
    assert_eq!(
        key.open(&WebhookId::generate(), &sealed).err(),
        Some(SealError)
    );
    assert_eq!(
        SealingKey::generate().open(&webhook, &sealed).err(),
        Some(SealError)
    );
    assert!(SealingKey::from_bytes(&[0; 31]).is_err());
    assert!(!format!("{secret:?} {key:?}").contains("whsec_"));
}

#[test]
fn a_sealed_url_opens_only_for_its_webhook_and_key_and_shows_nothing_of_it() {
    let key = UrlKey::generate();
    let webhook = WebhookId::generate();
    let url = DestinationRules::default()
        .parse("https://hooks.example.com/services/T000/B000/capability-token?x=1")
        .unwrap();
    let sealed = key.seal(&webhook, &url).unwrap();
    let text = String::from_utf8_lossy(&sealed);
    assert!(!text.contains("capability-token") && !text.contains("hooks.example.com"));
    assert_eq!(key.open(&webhook, &sealed).unwrap(), url);
    assert_eq!(
        key.open(&WebhookId::generate(), &sealed).err(),
        Some(UrlSealError),
        "moved to another endpoint's item, it does not open"
    );
    assert_eq!(
        UrlKey::generate().open(&webhook, &sealed).err(),
        Some(UrlSealError)
    );
    // Not the signing secrets' key: the same bytes derive another key for URLs.
    let bytes = [7u8; 32];
    let sealed = UrlKey::from_bytes(&bytes)
        .unwrap()
        .seal(&webhook, &url)
        .unwrap();
    let signing = SealingKey::from_bytes(&bytes).unwrap();
    assert!(
        signing
            .open(&webhook, &SealedSecret::from_stored(sealed))
            .is_err()
    );
    assert!(UrlKey::from_bytes(&[0; 31]).is_err());
    assert_eq!(format!("{key:?}"), "UrlKey(<redacted>)");
}

#[test]
fn both_secrets_sign_during_a_rotation_and_either_verifies() {
    let (old, new) = (SigningSecret::generate(), SigningSecret::generate());
    let body = r#"{"type":"webhook.test"}"#;
    let timestamp = chrono::Utc::now().timestamp();
    let header = signature_header(&[new, old], "msg_1", timestamp, body).unwrap();
    assert_eq!(header.split(' ').count(), 2);
    assert!(header.split(' ').all(|s| s.starts_with("v1,")));
}

#[test]
fn the_default_schedule_retries_seven_times_and_a_custom_one_parses() {
    let schedule = RetrySchedule::default();
    assert_eq!(schedule.wait_after(1), Some(Duration::from_secs(5)));
    assert_eq!(schedule.wait_after(7), Some(Duration::from_secs(36_000)));
    assert_eq!(schedule.wait_after(8), None);
    let custom = RetrySchedule::parse("1, 2,3").unwrap();
    assert_eq!(custom.wait_after(3), Some(Duration::from_secs(3)));
    assert_eq!(custom.wait_after(4), None);
    for bad in ["", "1,,2", "-1", "x", "86401"] {
        assert!(RetrySchedule::parse(bad).is_err(), "{bad:?}");
    }
}

fn pending_delivery() -> Delivery {
    let key = DeliveryKey {
        tenant: testing::tenant("acme"),
        webhook_id: WebhookId::generate(),
        event_id: crate::ids::EventId::generate(),
        event_at: now(),
    };
    Delivery::new(key, "credential.revoked", "{}".into(), now())
}

#[test]
fn a_delivery_retries_on_the_schedule_then_fails_and_stops_at_a_2xx_or_410() {
    let schedule = RetrySchedule::parse("1,2,3").unwrap();
    let mut delivery = pending_delivery();
    for wait in [1, 2, 3] {
        delivery = delivery.after_attempt(AttemptOutcome::Answered(500), now(), &schedule);
        assert_eq!(delivery.state, DeliveryState::Pending);
        assert_eq!(
            delivery.next_attempt_at,
            Some(now() + chrono::Duration::seconds(wait))
        );
    }
    let failed = delivery.after_attempt(
        AttemptOutcome::NoAnswer(AttemptError::Timeout),
        now(),
        &schedule,
    );
    assert_eq!((failed.state, failed.attempts), (DeliveryState::Failed, 4));
    assert_eq!(failed.last_error, Some(AttemptError::Timeout));
    let fresh = pending_delivery();
    let delivered = fresh.after_attempt(AttemptOutcome::Answered(204), now(), &schedule);
    assert_eq!(
        (delivered.state, delivered.next_attempt_at),
        (DeliveryState::Delivered, None)
    );
    let gone = fresh.after_attempt(AttemptOutcome::Answered(410), now(), &schedule);
    assert_eq!(gone.state, DeliveryState::Failed);
}

fn webhook() -> Webhook {
    Webhook {
        id: WebhookId::generate(),
        tenant: testing::tenant("acme"),
        url: DEPLOYED.parse("https://hooks.example.com/").unwrap(),
        event_types: EventFilter::every_type(),
        description: None,
        status: WebhookStatus::Enabled,
        disabled_reason: None,
        created_at: now(),
        updated_at: now(),
        secret: SealedSecret::from_stored(vec![1; 40]),
        previous_secret: None,
        secret_rotated_at: None,
        failing_since: None,
        since: crate::ids::EventId::generate(),
        version: 1,
    }
}

#[test]
fn an_endpoint_failing_for_five_days_or_answering_410_is_disabled_and_a_success_clears_it() {
    let healthy = webhook();
    let failing = healthy
        .after_attempt(false, false, now())
        .expect("failing from now");
    assert_eq!(failing.failing_since, Some(now()));
    assert!(
        failing
            .after_attempt(false, false, now() + chrono::Duration::days(4))
            .is_none()
    );
    let disabled = failing
        .after_attempt(false, false, now() + FAILING_DISABLES_AFTER)
        .expect("disabled");
    assert_eq!(disabled.status, WebhookStatus::Disabled);
    assert_eq!(disabled.disabled_reason, Some(DisabledReason::Failing));
    let recovered = failing
        .after_attempt(true, false, now())
        .expect("recovered");
    assert_eq!(recovered.failing_since, None);
    assert!(healthy.after_attempt(true, false, now()).is_none());
    let gone = healthy.after_attempt(false, true, now()).expect("gone");
    assert_eq!(gone.disabled_reason, Some(DisabledReason::Gone));
}

#[test]
fn the_previous_secret_signs_only_within_its_overlap() {
    let mut rotated = webhook();
    rotated.previous_secret = Some(PreviousSecret {
        sealed: SealedSecret::from_stored(vec![2; 40]),
        valid_until: now() + SECRET_OVERLAP,
    });
    assert_eq!(rotated.signing_secrets(now()).len(), 2);
    assert_eq!(rotated.signing_secrets(now() + SECRET_OVERLAP).len(), 1);
    assert_eq!(
        rotated.previous_secret_valid_until(now() + SECRET_OVERLAP),
        None
    );
}
