//! Events delivered in the process, as `publish-events` and `deliver-webhooks` deliver them in
//! AWS and with the same code: a pump reads the event feed (DynamoDB Local's stream, or the
//! memory store's log) and publishes each event; a timer per ticket stands in for SQS's delay.
//! Stopping drops every waiting ticket, as a crash would: a new start reads the feed from its
//! beginning again and picks up every delivery still pending.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;

use clavis_core::audit::AuditEvent;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use clavis_core::events::{DeliveryQueue, Publisher, QueueError};
use clavis_core::store::{DeliveryPorts, EventFeed, FeedPosition};
use clavis_core::time::Clock;
use clavis_core::webhook::SealingKey;
use clavis_core::webhook::delivery::DeliveryTicket;
use clavis_runtime::compose::deliverer;
use clavis_runtime::config::{ConfigError, WebhookSettings};
use clavis_runtime::webhooks::HttpSender;

/// How often the feed is read when it had nothing: a change reaches its receiver within about
/// this much plus the attempt itself.
pub const FEED_POLL: Duration = Duration::from_millis(100);
/// A ticket whose attempt failed for want of the store waits this long before it is tried
/// again (SQS's visibility timeout, deployed).
const RETRY_FAILED_TICKET: Duration = Duration::from_secs(1);

struct LocalQueue(mpsc::UnboundedSender<(DeliveryTicket, Duration)>);

#[async_trait]
impl DeliveryQueue for LocalQueue {
    async fn enqueue(&self, ticket: &DeliveryTicket, delay: Duration) -> Result<(), QueueError> {
        self.0
            .send((ticket.clone(), delay))
            .map_err(|_| QueueError("the in-process delivery queue has stopped".into()))
    }
}

/// The running pump and deliverer.
pub struct InProcessEvents {
    tasks: JoinSet<()>,
}

impl InProcessEvents {
    pub fn start(
        feed: Arc<dyn EventFeed>,
        store: Arc<dyn DeliveryPorts>,
        settings: &WebhookSettings,
        sealing: Arc<SealingKey>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let (sender, mut tickets) = mpsc::unbounded_channel();
        let queue: Arc<dyn DeliveryQueue> = Arc::new(LocalQueue(sender));
        let publisher = Publisher::new(Arc::clone(&store), Arc::clone(&queue), Arc::clone(&clock));
        let deliverer = Arc::new(deliverer(
            store,
            Arc::clone(&queue),
            Arc::new(HttpSender::new(settings.rules)?),
            sealing,
            settings,
            clock,
        ));
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut waiting = JoinSet::new();
            loop {
                tokio::select! {
                    next = tickets.recv() => {
                        let Some((ticket, delay)) = next else { return };
                        let deliverer = Arc::clone(&deliverer);
                        let queue = Arc::clone(&queue);
                        waiting.spawn(async move {
                            tokio::time::sleep(delay).await;
                            if let Err(error) = deliverer.deliver(&ticket).await {
                                tracing::warn!(%error, "a delivery will be tried again");
                                let _ = queue.enqueue(&ticket, RETRY_FAILED_TICKET).await;
                            }
                        });
                    }
                    Some(_) = waiting.join_next(), if !waiting.is_empty() => {}
                }
            }
        });
        tasks.spawn(pump(feed, publisher));
        Ok(Self { tasks })
    }

    /// Stops reading and drops every ticket still waiting.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}

/// Events of one read published at the same time.
const PUBLISHING_AT_ONCE: usize = 16;

/// An event that cannot be published now is retried until it can: the feed does not hand it
/// over again.
async fn publish(publisher: &Publisher, event: AuditEvent) {
    let mut wait = Duration::from_millis(100);
    while let Err(error) = publisher.publish(&event).await {
        tracing::warn!(%error, kind = event.kind(), "an event will be published again");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

async fn pump(feed: Arc<dyn EventFeed>, publisher: Publisher) {
    let mut position = FeedPosition::default();
    // A feed may hand an event over again (a shard read anew): this pump publishes it once.
    let mut published = lru::LruCache::new(std::num::NonZeroUsize::new(100_000).expect("non-zero"));
    loop {
        match feed.events_since(&position).await {
            Ok((events, next)) => {
                let quiet = events.is_empty();
                let fresh: Vec<_> = events
                    .into_iter()
                    .filter(|event| published.put(event.id.clone(), ()).is_none())
                    .collect();
                // No order is promised, so a batch is published side by side, as Lambda's
                // concurrent batches would.
                futures_util::stream::iter(fresh)
                    .for_each_concurrent(PUBLISHING_AT_ONCE, |event| publish(&publisher, event))
                    .await;
                position = next;
                if quiet {
                    tokio::time::sleep(FEED_POLL).await;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "the event feed could not be read");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
