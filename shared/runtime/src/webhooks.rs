//! The webhook pipeline's edges: DNS for registration, the HTTP client that posts deliveries
//! (no redirects, a 15 s timeout, and only to addresses the destination rules allow: the check
//! is made on the addresses the connection uses, so a name that starts resolving to an
//! internal address later is refused too), SQS as the delivery queue, EventBridge as the
//! optional bus, and the sealing key.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use clavis_core::audit::AuditEvent;
use clavis_core::events::{DeliveryQueue, EventBus, QueueError, SignedRequest, WebhookSender};
use clavis_core::webhook::delivery::{
    ATTEMPT_TIMEOUT, AttemptError, AttemptOutcome, DeliveryTicket,
};
use clavis_core::webhook::{DestinationRules, SealingKey, UrlKey};
use clavis_core::webhook_service::HostResolver;

use crate::config::{ConfigError, Env};

/// Resolves with the operating system's resolver, as the sender's connections do.
pub struct SystemResolver;

#[async_trait]
impl HostResolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Vec<IpAddr> {
        match tokio::net::lookup_host((host, port)).await {
            Ok(addresses) => addresses.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// The error a connection gets when its host resolves to an address the rules refuse.
#[derive(Debug, thiserror::Error)]
#[error("the destination resolves to an address webhooks may not reach")]
struct DestinationRefused;

/// reqwest's resolver for deliveries: the system's answer, refused whole if any address in it
/// is one the rules do not allow.
struct GuardedResolver(DestinationRules);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let rules = self.0;
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let ips: Vec<IpAddr> = addresses.iter().map(SocketAddr::ip).collect();
            rules.check_addresses(&ips).map_err(|_| {
                Box::new(DestinationRefused) as Box<dyn std::error::Error + Send + Sync>
            })?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Posts deliveries over HTTPS (or HTTP where private destinations are allowed).
pub struct HttpSender {
    client: reqwest::Client,
    rules: DestinationRules,
}

impl HttpSender {
    pub fn new(rules: DestinationRules) -> Result<Self, ConfigError> {
        // No proxy from the environment: through a proxy, the proxy resolves the receiver's
        // name, and the guarded resolver would check only the proxy's.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent("Clavis-Webhooks/1")
            .dns_resolver(Arc::new(GuardedResolver(rules)))
            .build()
            .map_err(|e| {
                ConfigError::new("WEBHOOK_ALLOW_PRIVATE", format!("no HTTP client: {e}"))
            })?;
        Ok(Self { client, rules })
    }
}

fn refused_by_rules(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<DestinationRefused>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn post(&self, request: &SignedRequest) -> AttemptOutcome {
        // An IP literal is never resolved, so the rules are applied to it here.
        if let Ok(ip) = request.url.host().parse::<IpAddr>()
            && !self.rules.allows(ip)
        {
            return AttemptOutcome::NoAnswer(AttemptError::DestinationNotAllowed);
        }
        let sent = self
            .client
            .post(request.url.as_str())
            .header("content-type", "application/json")
            .header("webhook-id", &request.message_id)
            .header("webhook-timestamp", request.timestamp.to_string())
            .header("webhook-signature", &request.signature)
            .body(request.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) => AttemptOutcome::Answered(response.status().as_u16()),
            Err(e) if refused_by_rules(&e) => {
                AttemptOutcome::NoAnswer(AttemptError::DestinationNotAllowed)
            }
            Err(e) if e.is_timeout() => AttemptOutcome::NoAnswer(AttemptError::Timeout),
            Err(_) => AttemptOutcome::NoAnswer(AttemptError::ConnectionFailed),
        }
    }
}

/// SQS holds a message back at most 15 minutes; a later ticket is re-queued by the deliverer
/// until it is due.
const SQS_MAX_DELAY: Duration = Duration::from_secs(900);

pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl DeliveryQueue for SqsQueue {
    async fn enqueue(&self, ticket: &DeliveryTicket, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(ticket).map_err(|e| QueueError(e.to_string()))?;
        let seconds = delay.min(SQS_MAX_DELAY).as_secs();
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(i32::try_from(seconds).unwrap_or(900))
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}

pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn put(&self, event: &AuditEvent, body: &str) -> Result<(), QueueError> {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source("clavis")
            .detail_type(event.kind())
            .detail(body)
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| {
                QueueError(aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string())
            })?;
        if output.failed_entry_count() > 0 {
            return Err(QueueError("EventBridge refused the event".into()));
        }
        Ok(())
    }
}

/// The key that seals signing secrets: `WEBHOOK_SEALING_KEY_SECRET_ID` (a Secrets Manager
/// secret holding base64 of 32+ random bytes, given to `issue-webhook-secret` and
/// `deliver-webhooks` only) or `WEBHOOK_SEALING_KEY` (base64; the local gateway keeps one under
/// its data directory). `None` without either.
pub async fn sealing_key(env: &Env, region: &str) -> Result<Option<SealingKey>, ConfigError> {
    crate::aws::server_key(
        env,
        region,
        ("WEBHOOK_SEALING_KEY_SECRET_ID", "WEBHOOK_SEALING_KEY"),
        |bytes| SealingKey::from_bytes(bytes).ok(),
    )
    .await
}

/// The key that seals endpoint URLs in the table: `WEBHOOK_URL_KEY_SECRET_ID` (a Secrets
/// Manager secret, given to the four webhook functions) or `WEBHOOK_URL_KEY` (base64; the
/// local gateway keeps one under its data directory). The webhook functions cannot read or
/// write an endpoint without it, so a missing key stops their cold start.
pub async fn webhook_url_key(env: &Env, region: &str) -> Result<Arc<UrlKey>, ConfigError> {
    crate::aws::server_key(
        env,
        region,
        ("WEBHOOK_URL_KEY_SECRET_ID", "WEBHOOK_URL_KEY"),
        |bytes| UrlKey::from_bytes(bytes).ok(),
    )
    .await?
    .map(Arc::new)
    .ok_or_else(|| ConfigError::new("WEBHOOK_URL_KEY_SECRET_ID", "is required but not set"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post_to(url: &str, rules: DestinationRules) -> AttemptOutcome {
        let allowing = DestinationRules {
            allow_private: true,
        };
        let request = SignedRequest {
            url: allowing.parse(url).expect("a URL"),
            message_id: "01J00000000000000000000000".into(),
            timestamp: 0,
            signature: "v1,x".into(),
            body: "{}".into(),
        };
        HttpSender::new(rules)
            .expect("a sender")
            .post(&request)
            .await
    }

    /// A listener that answers every request with `status` (and a `Location`).
    async fn answering(status: u16) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nlocation: http://127.0.0.1:1/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn deliveries_to_internal_addresses_are_refused_at_delivery_whatever_the_url_said() {
        let deployed = DestinationRules::default();
        let addr = answering(204).await;
        // The endpoint answers, but deployed rules never connect to it: by literal address, or
        // by a name that resolves to loopback (as a name can start to, after registration).
        for url in [
            format!("http://127.0.0.1:{}/hook", addr.port()),
            format!("http://localhost:{}/hook", addr.port()),
        ] {
            assert_eq!(
                post_to(&url, deployed).await,
                AttemptOutcome::NoAnswer(AttemptError::DestinationNotAllowed),
                "{url}"
            );
        }
        let local = DestinationRules {
            allow_private: true,
        };
        let url = format!("http://localhost:{}/hook", addr.port());
        assert_eq!(post_to(&url, local).await, AttemptOutcome::Answered(204));
    }

    #[tokio::test]
    async fn a_redirect_is_an_answer_that_is_not_followed() {
        let allowing = DestinationRules {
            allow_private: true,
        };
        let addr = answering(307).await;
        let url = format!("http://127.0.0.1:{}/hook", addr.port());
        assert_eq!(post_to(&url, allowing).await, AttemptOutcome::Answered(307));
    }

    /// Set in the child process of the proxy test: where the receiver listens.
    const PROXY_TEST_TARGET: &str = "CLAVIS_PROXY_TEST_TARGET";

    /// A proxy in the environment would resolve the receiver's name itself, out of the
    /// guarded resolver's sight. The environment is the process's, so the sender is tried in a
    /// child process of this test binary with `HTTP_PROXY` set to a listener that answers 299.
    #[tokio::test]
    async fn a_proxy_in_the_environment_is_not_used() {
        let receiver = answering(204).await;
        let proxy = answering(299).await;
        let target = format!("http://127.0.0.1:{}/hook", receiver.port());
        let proxy = format!("http://127.0.0.1:{}", proxy.port());
        // Blocking on the child apart, so that this runtime keeps serving both listeners.
        let child = tokio::task::spawn_blocking(move || {
            std::process::Command::new(std::env::current_exe().expect("this binary"))
                .args([
                    "--ignored",
                    "--exact",
                    "webhooks::tests::posts_directly_whatever_the_environment_says",
                ])
                .env(PROXY_TEST_TARGET, target)
                .env("HTTP_PROXY", &proxy)
                .env("http_proxy", &proxy)
                .env("ALL_PROXY", &proxy)
                .env_remove("NO_PROXY")
                .env_remove("no_proxy")
                .output()
                .expect("the child runs")
        })
        .await
        .expect("joined");
        let output = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success(), "{output}");
        assert!(output.contains("1 passed"), "the child test ran: {output}");
    }

    #[tokio::test]
    #[ignore = "run by a_proxy_in_the_environment_is_not_used, with a proxy in its environment"]
    async fn posts_directly_whatever_the_environment_says() {
        let target = std::env::var(PROXY_TEST_TARGET).expect("run by the proxy test");
        let allowing = DestinationRules {
            allow_private: true,
        };
        assert_eq!(
            post_to(&target, allowing).await,
            AttemptOutcome::Answered(204)
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_a_failed_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let allowing = DestinationRules {
            allow_private: true,
        };
        assert_eq!(
            post_to(&format!("http://127.0.0.1:{port}/"), allowing).await,
            AttemptOutcome::NoAnswer(AttemptError::ConnectionFailed)
        );
    }
}
