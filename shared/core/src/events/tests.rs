use std::sync::Mutex;

use chrono::Duration;

use super::*;
use crate::ids::WebhookId;
use crate::store::memory::MemoryStore;
use crate::store::{
    AuditLog, AuditScope, CredentialWriter, DeliveryStore, EventRecorder, Retention, WebhookReader,
    WebhookWriter,
};
use crate::testing;
use crate::time::ManualClock;
use crate::webhook::delivery::DeliveryState;
use crate::webhook::{
    DestinationRules, DisabledReason, EventFilter, SealingKey, SigningSecret, Webhook,
    WebhookStatus,
};

#[derive(Default)]
struct Queue(Mutex<Vec<(DeliveryTicket, Duration)>>);

#[async_trait]
impl DeliveryQueue for Queue {
    async fn enqueue(
        &self,
        ticket: &DeliveryTicket,
        delay: std::time::Duration,
    ) -> Result<(), QueueError> {
        let delay = Duration::from_std(delay).unwrap_or_default();
        self.0.lock().unwrap().push((ticket.clone(), delay));
        Ok(())
    }
}

impl Queue {
    fn take(&self) -> Vec<(DeliveryTicket, Duration)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Answers every post with `status`, and counts them.
struct Answering(u16, Mutex<usize>);

#[async_trait]
impl WebhookSender for Answering {
    async fn post(&self, _request: &SignedRequest) -> AttemptOutcome {
        *self.1.lock().unwrap() += 1;
        AttemptOutcome::Answered(self.0)
    }
}

struct World {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    queue: Arc<Queue>,
    sealing: Arc<SealingKey>,
}

impl World {
    fn new() -> Self {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        Self {
            store: Arc::new(MemoryStore::new(clock.clone(), Retention::default())),
            clock,
            queue: Arc::new(Queue::default()),
            sealing: Arc::new(SealingKey::generate()),
        }
    }

    async fn webhook(&self, filter: Option<Vec<String>>) -> Webhook {
        let id = WebhookId::generate();
        let now = self.clock.now();
        let webhook = Webhook {
            secret: self.sealing.seal(&id, &SigningSecret::generate()).unwrap(),
            id,
            tenant: testing::tenant("acme"),
            url: DestinationRules {
                allow_private: true,
            }
            .parse("http://127.0.0.1:9/hook")
            .unwrap(),
            event_types: EventFilter::parse(filter).unwrap(),
            description: None,
            status: WebhookStatus::Enabled,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
            previous_secret: None,
            secret_rotated_at: None,
            failing_since: None,
            since: crate::ids::EventId::generate(),
            version: 1,
        };
        let event = AuditEvent::for_tenant(
            &webhook.tenant,
            &testing::context_at(now),
            AuditAction::WebhookTest {
                webhook_id: webhook.id.clone(),
            },
        );
        self.store.insert_webhook(&webhook, &event).await.unwrap();
        webhook
    }

    fn publisher(&self) -> Publisher {
        Publisher::new(self.store.clone(), self.queue.clone(), self.clock.clone())
    }

    fn deliverer(&self, sender: Arc<Answering>) -> Deliverer {
        Deliverer::new(
            self.store.clone(),
            self.queue.clone(),
            sender,
            self.sealing.clone(),
            RetrySchedule::parse("60,60,60,60,60,60,60,60,60,60").unwrap(),
            self.clock.clone(),
        )
    }

    async fn credential_created(&self) -> AuditEvent {
        let created = testing::created(&["a:read"], None, self.clock.now());
        self.store.insert(&created).await.unwrap();
        created.event
    }
}

#[tokio::test]
async fn an_event_makes_one_delivery_per_endpoint_that_wants_it_however_often_it_is_seen() {
    let world = World::new();
    let every = world.webhook(None).await;
    let revocations = world.webhook(Some(vec!["credential.revoked".into()])).await;
    let event = world.credential_created().await;
    let publisher = world.publisher();
    assert_eq!(publisher.publish(&event).await.unwrap(), 1);
    let queued = world.queue.take();
    assert_eq!(queued[0].0.key.webhook_id, every.id);
    assert_eq!(queued[0].1, Duration::zero(), "due at once");
    // Seen again (a stream retried): the same delivery, queued again while it is pending.
    assert_eq!(publisher.publish(&event).await.unwrap(), 1);
    let stored = world
        .store
        .delivery(&queued[0].0.key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.attempts, 0);
    assert!(!stored.body.contains("whsec_"));
    assert!(
        queued
            .iter()
            .all(|(t, _)| t.key.webhook_id != revocations.id)
    );
}

#[tokio::test]
async fn a_ticket_not_yet_due_is_queued_again_and_a_stale_one_does_nothing() {
    let world = World::new();
    world.webhook(None).await;
    let event = world.credential_created().await;
    world.publisher().publish(&event).await.unwrap();
    let (ticket, _) = world.queue.take().remove(0);
    let sender = Arc::new(Answering(500, Mutex::new(0)));
    let deliverer = world.deliverer(sender.clone());
    let later = DeliveryTicket {
        due_at: world.clock.now() + Duration::hours(2),
        ..ticket.clone()
    };
    assert_eq!(deliverer.deliver(&later).await.unwrap(), Handled::Requeued);
    assert_eq!(
        world.queue.take()[0].1,
        Duration::hours(2),
        "the rest of its wait"
    );
    let Handled::Attempted(after) = deliverer.deliver(&ticket).await.unwrap() else {
        panic!("an attempt");
    };
    assert_eq!((after.attempts, after.state), (1, DeliveryState::Pending));
    assert_eq!(world.queue.take().len(), 1, "its retry is queued");
    // The same ticket again (SQS delivered it twice): nothing is posted.
    assert_eq!(deliverer.deliver(&ticket).await.unwrap(), Handled::Skipped);
    assert_eq!(*sender.1.lock().unwrap(), 1);
}

#[tokio::test]
async fn five_days_of_failures_disable_the_endpoint_and_say_so_in_an_event() {
    let world = World::new();
    let webhook = world.webhook(None).await;
    let sender = Arc::new(Answering(503, Mutex::new(0)));
    let deliverer = world.deliverer(sender);
    let mut days = 0;
    loop {
        let event = world.credential_created().await;
        world.publisher().publish(&event).await.unwrap();
        for (ticket, _) in world.queue.take() {
            deliverer.deliver(&ticket).await.unwrap();
        }
        let now = world
            .store
            .webhook(&webhook.tenant, &webhook.id)
            .await
            .unwrap()
            .unwrap();
        if now.status == WebhookStatus::Disabled {
            assert_eq!(now.disabled_reason, Some(DisabledReason::Failing));
            break;
        }
        assert!(days < 5, "still enabled after {days} days");
        world.clock.advance(Duration::days(1));
        days += 1;
    }
    assert_eq!(days, 5);
    let trail = world
        .store
        .list_events(
            &AuditScope::Tenant(webhook.tenant.clone()),
            &crate::store::PageRequest::first(100),
        )
        .await
        .unwrap();
    assert!(trail.items.iter().any(|e| e.kind() == "webhook.disabled"));
    // The endpoint is disabled: a pending delivery to it fails without an attempt.
    let event = world.credential_created().await;
    world.store.record_event(&event).await.unwrap();
    assert_eq!(world.publisher().publish(&event).await.unwrap(), 0);
}

#[test]
fn the_body_names_the_event_and_its_credential_and_nothing_else() {
    let now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 6, 18, 0, 0).unwrap();
    let credential = testing::created(&["a:read"], None, now).credential;
    let event = AuditEvent::new(
        &credential,
        &testing::context_at(now),
        AuditAction::Revoked {
            reason: Some("leaked".into()),
            was_expired: false,
        },
    );
    let body: serde_json::Value =
        serde_json::from_str(&event_body(&event, Some("Billing sync"))).unwrap();
    assert_eq!(body["type"], "credential.revoked");
    assert_eq!(body["timestamp"], "2026-12-06T18:00:00Z");
    assert_eq!(body["data"]["client_id"], event.client_id.unwrap().as_str());
    assert_eq!(body["data"]["name"], "Billing sync");
    assert_eq!(body["data"]["details"]["reason"], "leaked");
    assert_eq!(body["data"]["actor"]["role"], "admin");
    let keys: Vec<_> = body["data"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["tenant", "client_id", "name", "actor", "details"]);
}

#[test]
fn endpoints_can_ask_for_every_audit_event_but_the_test() {
    use crate::webhook::{EVENT_TYPES, TEST_EVENT_TYPE};
    let audited: Vec<&str> = AuditAction::KINDS
        .into_iter()
        .filter(|kind| *kind != TEST_EVENT_TYPE)
        .collect();
    for kind in &audited {
        assert!(EVENT_TYPES.contains(kind), "{kind} cannot be asked for");
    }
    let beyond: Vec<&&str> = EVENT_TYPES
        .iter()
        .filter(|t| !audited.contains(t))
        .collect();
    assert!(beyond.is_empty(), "never sent: {beyond:?}");
}
