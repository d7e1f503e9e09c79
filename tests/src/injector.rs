//! Faults injected between the DynamoDB client and DynamoDB Local, at the HTTP layer of the
//! AWS SDK, for the next calls of a given operation: DynamoDB's own error answers (throttling,
//! cancelled transactions) in place of a call that is never sent, and answers lost or held back
//! after a call that DynamoDB did carry out. Every attempt of the SDK, retries included, goes
//! through here, so a test sees exactly how many attempts a call took.
//!
//! ```ignore
//! let faults = FaultInjector::new();
//! let client = faults.wrap(&client);
//! faults.inject("TransactWriteItems", Fault::throttling(), 2);
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryPartition;
use aws_sdk_dynamodb::config::{HttpClient, RuntimeComponents, SharedHttpClient};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use tokio::sync::Notify;

/// What happens to one attempt of a DynamoDB call.
#[derive(Debug, Clone)]
pub enum Fault {
    /// DynamoDB's error answer (HTTP `status`, error type `kind`), given instead of sending
    /// the request: the call is not carried out.
    Refuse {
        status: u16,
        kind: &'static str,
        message: &'static str,
    },
    /// A `TransactionCanceledException` with one cancellation reason code per item (`"None"`
    /// for an item that was not at fault), instead of sending the request.
    Cancel(Vec<&'static str>),
    /// The request is sent and carried out; its answer is lost (the connection resets).
    LoseAnswer,
    /// The request is sent and carried out; its answer is held back this long. Whoever waits
    /// for [`FaultInjector::held`] learns when the answer is in hand.
    HoldAnswer(Duration),
    /// The request is held back this long before it is sent.
    HoldRequest(Duration),
}

impl Fault {
    /// What DynamoDB answers a request over its account or table request-rate limits.
    pub fn throttling() -> Self {
        Self::Refuse {
            status: 400,
            kind: "ThrottlingException",
            message: "Rate of requests exceeds the allowed throughput.",
        }
    }

    /// What DynamoDB answers a request over a partition's or a provisioned table's throughput.
    pub fn throughput_exceeded() -> Self {
        Self::Refuse {
            status: 400,
            kind: "ProvisionedThroughputExceededException",
            message: "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
        }
    }

    /// A DynamoDB-side failure (`InternalServerError`, HTTP 500).
    pub fn internal_error() -> Self {
        Self::Refuse {
            status: 500,
            kind: "InternalServerError",
            message: "Internal server error",
        }
    }

    /// A short name for counting.
    pub fn name(&self) -> String {
        match self {
            Self::Refuse { kind, .. } => (*kind).to_owned(),
            Self::Cancel(reasons) => format!("TransactionCanceledException{reasons:?}"),
            Self::LoseAnswer => "LoseAnswer".to_owned(),
            Self::HoldAnswer(_) => "HoldAnswer".to_owned(),
            Self::HoldRequest(_) => "HoldRequest".to_owned(),
        }
    }
}

#[derive(Debug, Default)]
struct Plan {
    /// Per operation, the faults for its next attempts, in order.
    queued: HashMap<String, VecDeque<Fault>>,
    /// Attempts per operation, faulted or not.
    attempts: HashMap<String, u64>,
    /// Faults applied, by [`Fault::name`].
    injected: HashMap<String, u64>,
}

#[derive(Debug, Default)]
struct Shared {
    plan: Mutex<Plan>,
    held: Notify,
    in_flight: AtomicU64,
}

/// Injects [`Fault`]s into the clients it [wraps](FaultInjector::wrap).
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    shared: Arc<Shared>,
}

static PARTITIONS: AtomicU64 = AtomicU64::new(0);

impl FaultInjector {
    pub fn new() -> Self {
        Self::default()
    }

    /// A client like `client` whose calls pass through this injector. It gets a retry
    /// partition of its own: the SDK's retry quota is shared per partition across the process,
    /// and the throttling injected here must not drain the quota of other tests' clients.
    pub fn wrap(&self, client: &Client) -> Client {
        let partition = format!(
            "clavis-faults-{}-{}",
            std::process::id(),
            PARTITIONS.fetch_add(1, Ordering::SeqCst)
        );
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_https();
        Client::from_conf(
            client
                .config()
                .to_builder()
                .http_client(Faulty {
                    inner,
                    shared: Arc::clone(&self.shared),
                })
                .retry_partition(RetryPartition::new(partition))
                .build(),
        )
    }

    /// The next `times` attempts of `operation` (e.g. `"TransactWriteItems"`) meet `fault`,
    /// after any faults already queued for it.
    pub fn inject(&self, operation: &str, fault: Fault, times: usize) {
        let mut plan = self.plan();
        let queue = plan.queued.entry(operation.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Forgets the faults not yet applied.
    pub fn clear(&self) {
        self.plan().queued.clear();
    }

    /// Faults queued and not yet applied, over all operations.
    pub fn pending(&self) -> usize {
        self.plan().queued.values().map(VecDeque::len).sum()
    }

    /// Attempts of `operation` so far, faulted or not.
    pub fn attempts(&self, operation: &str) -> u64 {
        self.plan().attempts.get(operation).copied().unwrap_or(0)
    }

    /// Attempts so far of every operation called, faulted or not.
    pub fn all_attempts(&self) -> BTreeMap<String, u64> {
        self.plan()
            .attempts
            .iter()
            .map(|(operation, n)| (operation.clone(), *n))
            .collect()
    }

    /// Faults applied so far, by name ([`Fault::name`]).
    pub fn injected(&self) -> HashMap<String, u64> {
        self.plan().injected.clone()
    }

    /// Waits until an answer held by [`Fault::HoldAnswer`] is in hand (the call was carried
    /// out), or `limit` passes; true if it came.
    pub async fn held(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.shared.held.notified())
            .await
            .is_ok()
    }

    /// Attempts sent and not yet answered (or given up).
    pub fn in_flight(&self) -> u64 {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.shared.plan.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The SDK's HTTP client with the injector in front.
#[derive(Debug)]
struct Faulty {
    inner: SharedHttpClient,
    shared: Arc<Shared>,
}

impl HttpClient for Faulty {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            shared: Arc::clone(&self.shared),
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    shared: Arc<Shared>,
}

/// Decrements the in-flight count however the attempt ends, dropped futures included.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // `X-Amz-Target: DynamoDB_20120810.TransactWriteItems`
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("?")
            .to_owned();
        let fault = {
            let mut plan = self.shared.plan.lock().unwrap_or_else(|p| p.into_inner());
            *plan.attempts.entry(operation.clone()).or_default() += 1;
            let fault = plan
                .queued
                .get_mut(&operation)
                .and_then(VecDeque::pop_front);
            if let Some(fault) = &fault {
                *plan.injected.entry(fault.name()).or_default() += 1;
            }
            fault
        };
        let inner = self.inner.clone();
        let shared = Arc::clone(&self.shared);
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(Arc::clone(&shared));
        HttpConnectorFuture::new(async move {
            let _guard = guard;
            match fault {
                None => inner.call(request).await,
                Some(Fault::Refuse {
                    status,
                    kind,
                    message,
                }) => Ok(error_answer(
                    status,
                    serde_json::json!({
                        "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
                        "message": message,
                    }),
                )),
                Some(Fault::Cancel(reasons)) => Ok(error_answer(
                    400,
                    serde_json::json!({
                        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                        "Message": format!(
                            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                            reasons.join(", ")
                        ),
                        "CancellationReasons": reasons
                            .iter()
                            .map(|code| match *code {
                                "None" => serde_json::json!({"Code": "None"}),
                                code => serde_json::json!({"Code": code, "Message": code}),
                            })
                            .collect::<Vec<_>>(),
                    }),
                )),
                Some(Fault::LoseAnswer) => {
                    let _ = inner.call(request).await;
                    Err(ConnectorError::io(
                        "connection reset by peer (injected after the request was carried out)"
                            .into(),
                    ))
                }
                Some(Fault::HoldAnswer(delay)) => {
                    let answer = inner.call(request).await;
                    shared.held.notify_one();
                    tokio::time::sleep(delay).await;
                    answer
                }
                Some(Fault::HoldRequest(delay)) => {
                    tokio::time::sleep(delay).await;
                    inner.call(request).await
                }
            }
        })
    }
}

/// An error answer as DynamoDB (JSON 1.0 protocol) sends it.
fn error_answer(status: u16, body: serde_json::Value) -> HttpResponse {
    let status = StatusCode::try_from(status)
        .unwrap_or_else(|_| StatusCode::try_from(500).expect("500 is a status code"));
    let mut response = HttpResponse::new(status, SdkBody::from(body.to_string()));
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
}
