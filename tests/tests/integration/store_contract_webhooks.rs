//! The store contract for webhooks, deliveries and events recorded once: both adapters.

use chrono::Duration;
use clavis_core::audit::{AuditAction, AuditEvent};
use clavis_core::ids::WebhookId;
use clavis_core::store::{AuditScope, EndpointChange, PageRequest, StoreError};
use clavis_core::webhook::delivery::{AttemptOutcome, Delivery, RetrySchedule};
use clavis_core::webhook::{
    DestinationRules, EventFilter, MAX_WEBHOOKS_PER_TENANT, PreviousSecret, SealedSecret, Webhook,
    WebhookStatus,
};
use clavis_tests::{Fixture, tenant};

clavis_tests::against_both_stores!(
    webhooks_are_limited_per_tenant_versioned_and_read_back_whole,
    a_delivery_is_made_once_and_each_attempt_recorded_once,
    deliveries_page_newest_first_per_webhook_and_tenant,
    an_event_is_recorded_once_per_owner_and_marker,
);

fn webhook(fx: &Fixture, tenant_name: &str, n: usize) -> Webhook {
    Webhook {
        id: WebhookId::generate(),
        tenant: tenant(tenant_name),
        url: DestinationRules::default()
            .parse(&format!("https://hooks.example.com/{n}?token=abc"))
            .expect("a URL"),
        event_types: EventFilter::parse(Some(vec!["credential.revoked".into()])).expect("types"),
        description: Some(format!("hook {n}")),
        status: WebhookStatus::Enabled,
        disabled_reason: None,
        created_at: fx.now() + Duration::seconds(n as i64),
        updated_at: fx.now(),
        secret: SealedSecret::from_stored(vec![n as u8; 60]),
        previous_secret: Some(PreviousSecret {
            sealed: SealedSecret::from_stored(vec![7; 60]),
            valid_until: fx.now() + Duration::hours(24),
        }),
        secret_rotated_at: Some(fx.now()),
        failing_since: None,
        since: clavis_core::ids::EventId::generate(),
        version: 1,
    }
}

fn event_about(fx: &Fixture, webhook: &Webhook) -> AuditEvent {
    AuditEvent::for_tenant(
        &webhook.tenant,
        &fx.context(),
        AuditAction::WebhookTest {
            webhook_id: webhook.id.clone(),
        },
    )
}

async fn webhooks_are_limited_per_tenant_versioned_and_read_back_whole(fx: Fixture) {
    let mut made = Vec::new();
    for n in 0..MAX_WEBHOOKS_PER_TENANT {
        let w = webhook(&fx, "acme", n);
        fx.store
            .insert_webhook(&w, &event_about(&fx, &w))
            .await
            .expect("insert");
        made.push(w);
    }
    let extra = webhook(&fx, "acme", 99);
    assert!(matches!(
        fx.store
            .insert_webhook(&extra, &event_about(&fx, &extra))
            .await,
        Err(StoreError::LimitReached)
    ));
    let other = webhook(&fx, "globex", 0);
    fx.store
        .insert_webhook(&other, &event_about(&fx, &other))
        .await
        .expect("another tenant's");
    let listed = fx.store.webhooks(&tenant("acme")).await.expect("list");
    assert_eq!(listed, made, "oldest first, whole");
    assert_eq!(
        fx.store
            .webhook(&tenant("globex"), &made[0].id)
            .await
            .expect("read"),
        None
    );

    let mut changed = made[0].clone();
    changed.status = WebhookStatus::Disabled;
    changed.version = 2;
    fx.store
        .update_webhook(1, &changed, &event_about(&fx, &changed))
        .await
        .expect("update");
    assert!(matches!(
        fx.store
            .update_webhook(1, &changed, &event_about(&fx, &changed))
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        fx.store
            .delete_webhook(&made[0], &event_about(&fx, &made[0]))
            .await,
        Err(StoreError::Conflict)
    ));
    fx.store
        .delete_webhook(&changed, &event_about(&fx, &changed))
        .await
        .expect("delete");
    fx.store
        .insert_webhook(&extra, &event_about(&fx, &extra))
        .await
        .expect("the freed place");
    let trail = fx
        .store
        .list_events(
            &AuditScope::Tenant(tenant("acme")),
            &PageRequest::first(100),
        )
        .await
        .expect("trail");
    assert_eq!(
        trail.items.len(),
        MAX_WEBHOOKS_PER_TENANT + 3,
        "one event per write that landed"
    );
}

fn delivery_of(fx: &Fixture, webhook: &Webhook, seconds: i64) -> Delivery {
    fx.advance(Duration::seconds(seconds));
    clavis_core::events::delivery_of(
        &event_about(fx, webhook),
        &webhook.id,
        "{}".into(),
        fx.now(),
    )
}

async fn a_delivery_is_made_once_and_each_attempt_recorded_once(fx: Fixture) {
    let w = webhook(&fx, "acme", 0);
    fx.store
        .insert_webhook(&w, &event_about(&fx, &w))
        .await
        .expect("insert");
    let made = delivery_of(&fx, &w, 0);
    assert_eq!(fx.store.put_delivery(&made).await.expect("put"), made);
    let schedule = RetrySchedule::default();
    let tried = made.after_attempt(AttemptOutcome::Answered(500), fx.now(), &schedule);
    let failing = w.after_attempt(false, false, fx.now()).map(|mut f| {
        f.version = 2;
        f
    });
    let change = failing.as_ref().map(|f| EndpointChange {
        expected_version: 1,
        webhook: f,
        event: None,
    });
    fx.store
        .record_attempt(0, &tried, change)
        .await
        .expect("recorded");
    // Made again (the event seen twice): the stored delivery, attempts and all.
    assert_eq!(
        fx.store.put_delivery(&made).await.expect("put again"),
        tried
    );
    // A duplicate ticket records nothing.
    assert!(matches!(
        fx.store.record_attempt(0, &tried, None).await,
        Err(StoreError::Conflict)
    ));
    let stored_webhook = fx
        .store
        .webhook(&w.tenant, &w.id)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(stored_webhook.failing_since, Some(fx.now()));
    // An endpoint changed meanwhile refuses the whole record.
    let delivered = tried.after_attempt(AttemptOutcome::Answered(204), fx.now(), &schedule);
    let stale = EndpointChange {
        expected_version: 1,
        webhook: &w,
        event: None,
    };
    assert!(matches!(
        fx.store.record_attempt(1, &delivered, Some(stale)).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        fx.store.delivery(&made.key()).await.expect("read"),
        Some(tried)
    );
    let mut foreign = made.key();
    foreign.tenant = tenant("globex");
    assert_eq!(fx.store.delivery(&foreign).await.expect("read"), None);
}

async fn deliveries_page_newest_first_per_webhook_and_tenant(fx: Fixture) {
    let (a, b) = (webhook(&fx, "acme", 0), webhook(&fx, "acme", 1));
    let mut made = Vec::new();
    for n in 0..5 {
        made.push(
            fx.store
                .put_delivery(&delivery_of(&fx, &a, 1))
                .await
                .expect("put"),
        );
        fx.store
            .put_delivery(&delivery_of(&fx, &b, 1))
            .await
            .expect("put");
        let _ = n;
    }
    made.reverse();
    let first = fx
        .store
        .deliveries(&a.tenant, &a.id, &PageRequest::first(3))
        .await
        .expect("page");
    let cursor = first.next_cursor.clone().expect("more");
    let rest = fx
        .store
        .deliveries(&a.tenant, &a.id, &PageRequest::after(3, cursor))
        .await
        .expect("page");
    let all: Vec<_> = first.items.into_iter().chain(rest.items).collect();
    assert_eq!(all, made, "newest first, without gaps or repeats");
    assert_eq!(rest.next_cursor, None);
    let foreign = fx
        .store
        .deliveries(&tenant("globex"), &a.id, &PageRequest::first(10))
        .await
        .expect("page");
    assert!(foreign.items.is_empty());
}

async fn an_event_is_recorded_once_per_owner_and_marker(fx: Fixture) {
    let w = webhook(&fx, "acme", 0);
    let first = event_about(&fx, &w);
    assert!(
        fx.store
            .record_event_once("quota#2026-12#80", &first)
            .await
            .expect("once")
    );
    let again = event_about(&fx, &w);
    assert!(
        !fx.store
            .record_event_once("quota#2026-12#80", &again)
            .await
            .expect("twice")
    );
    assert!(
        fx.store
            .record_event_once("quota#2026-12#100", &again)
            .await
            .expect("another")
    );
    let other = AuditEvent::for_tenant(&tenant("globex"), &fx.context(), first.action.clone());
    assert!(
        fx.store
            .record_event_once("quota#2026-12#80", &other)
            .await
            .expect("another owner")
    );
    let trail = fx
        .store
        .list_events(&AuditScope::Tenant(tenant("acme")), &PageRequest::first(10))
        .await
        .expect("trail");
    assert_eq!(trail.items.len(), 2);
}
