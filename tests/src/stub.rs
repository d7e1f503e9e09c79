//! Small HTTP servers for client tests: a stand-in for a tenant's own API (a resource server),
//! and a proxy in front of the gateway that counts what passes and can answer in its place
//! (throttling, outages) a given number of times.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A request as a stub sees it: read whole.
#[derive(Debug, Clone)]
pub struct StubRequest {
    pub method: String,
    /// The path and query.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl StubRequest {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The bearer token of the `Authorization` header.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
    }
}

#[derive(Debug, Clone)]
pub struct StubResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl StubResponse {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = body.to_string().into_bytes();
        self.header("content-type", "application/json")
    }
}

/// A server on a free loopback port, answering with `handler` until dropped.
pub struct Stub {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Stub {
    pub async fn serve<F, Fut>(handler: F) -> Self
    where
        F: Fn(StubRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = StubResponse> + Send + 'static,
    {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind a stub server");
        let addr = listener.local_addr().expect("stub address");
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<Incoming>| {
                        let handler = Arc::clone(&handler);
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let reply = handler(StubRequest {
                                method: parts.method.to_string(),
                                target: parts
                                    .uri
                                    .path_and_query()
                                    .map_or_else(|| "/".to_owned(), |p| p.to_string()),
                                headers: parts.headers,
                                body,
                            })
                            .await;
                            let mut response = hyper::Response::builder().status(reply.status);
                            for (name, value) in &reply.headers {
                                response = response.header(name, value);
                            }
                            Ok::<_, Infallible>(
                                response
                                    .body(Full::new(Bytes::from(reply.body)))
                                    .unwrap_or_default(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A planned answer of the proxy in the upstream's place.
#[derive(Debug, Clone)]
struct Fault {
    method: String,
    path_prefix: String,
    status: u16,
    retry_after: Option<String>,
    remaining: usize,
    delay: Duration,
    /// Held until the test opens it (see [`Proxy::fail_when_opened`]).
    gate: Option<watch::Receiver<bool>>,
}

/// Holds the answers of a fault until the test opens it.
pub struct Gate(watch::Sender<bool>);

impl Gate {
    pub fn open(&self) {
        self.0.send_replace(true);
    }
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Whether the request went on to the upstream (rather than being answered by a fault).
    pub forwarded: bool,
}

#[derive(Default)]
struct ProxyState {
    seen: Mutex<Vec<Seen>>,
    faults: Mutex<Vec<Fault>>,
}

/// A proxy in front of `upstream` that records every request and answers some itself.
pub struct Proxy {
    stub: Stub,
    state: Arc<ProxyState>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Self {
        let state = Arc::new(ProxyState::default());
        let http = reqwest::Client::new();
        let shared = Arc::clone(&state);
        let stub = Stub::serve(move |request: StubRequest| {
            let state = Arc::clone(&shared);
            let http = http.clone();
            let upstream = upstream.clone();
            async move {
                let fault = {
                    let mut faults = state.faults.lock().unwrap_or_else(|p| p.into_inner());
                    faults
                        .iter_mut()
                        .find(|f| {
                            f.remaining > 0
                                && f.method == request.method
                                && request.path().starts_with(&f.path_prefix)
                        })
                        .map(|f| {
                            f.remaining -= 1;
                            f.clone()
                        })
                };
                state
                    .seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Seen {
                        method: request.method.clone(),
                        path: request.path().to_owned(),
                        forwarded: fault.is_none(),
                    });
                if let Some(fault) = fault {
                    if let Some(mut gate) = fault.gate.clone() {
                        // A gate dropped unopened answers at once: the test has moved on.
                        let _ = gate.wait_for(|open| *open).await;
                    }
                    tokio::time::sleep(fault.delay).await;
                    let mut reply = StubResponse::new(fault.status)
                        .json(&serde_json::json!({"message": "injected by the test proxy"}));
                    if let Some(wait) = &fault.retry_after {
                        reply = reply.header("retry-after", wait);
                    }
                    return reply;
                }
                forward(&http, &upstream, request).await
            }
        })
        .await;
        Self { stub, state }
    }

    pub fn url(&self) -> String {
        self.stub.url()
    }

    /// Answers the next `times` requests of `method` under `path_prefix` with `status`
    /// (and `Retry-After`, if given) instead of passing them on.
    pub fn fail(
        &self,
        method: &str,
        path_prefix: &str,
        status: u16,
        retry_after: Option<&str>,
        times: usize,
    ) {
        self.fail_after(
            Duration::ZERO,
            method,
            path_prefix,
            status,
            retry_after,
            times,
        );
    }

    /// As [`fail`](Self::fail), answering only after `delay` (a slow failure).
    pub fn fail_after(
        &self,
        delay: Duration,
        method: &str,
        path_prefix: &str,
        status: u16,
        retry_after: Option<&str>,
        times: usize,
    ) {
        self.add_fault(delay, None, method, path_prefix, status, retry_after, times);
    }

    /// As [`fail`](Self::fail), answering only once the returned gate is opened: the test
    /// decides when the caller can learn the answer, with no timing involved.
    pub fn fail_when_opened(
        &self,
        method: &str,
        path_prefix: &str,
        status: u16,
        times: usize,
    ) -> Gate {
        let (open, gate) = watch::channel(false);
        self.add_fault(
            Duration::ZERO,
            Some(gate),
            method,
            path_prefix,
            status,
            None,
            times,
        );
        Gate(open)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_fault(
        &self,
        delay: Duration,
        gate: Option<watch::Receiver<bool>>,
        method: &str,
        path_prefix: &str,
        status: u16,
        retry_after: Option<&str>,
        times: usize,
    ) {
        self.state
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Fault {
                method: method.to_owned(),
                path_prefix: path_prefix.to_owned(),
                status,
                retry_after: retry_after.map(str::to_owned),
                remaining: times,
                delay,
                gate,
            });
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many requests of `method` under `path_prefix` arrived (answered or passed on).
    pub fn count(&self, method: &str, path_prefix: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path.starts_with(path_prefix))
            .count()
    }

    /// How many of those reached the upstream.
    pub fn forwarded(&self, method: &str, path_prefix: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.forwarded && s.method == method && s.path.starts_with(path_prefix))
            .count()
    }
}

async fn forward(http: &reqwest::Client, upstream: &str, request: StubRequest) -> StubResponse {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap_or_default();
    let mut outgoing = http.request(method, format!("{upstream}{}", request.target));
    for (name, value) in &request.headers {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name, value);
        }
    }
    match outgoing.body(request.body).send().await {
        Ok(response) => {
            let mut reply = StubResponse::new(response.status().as_u16());
            for (name, value) in response.headers() {
                if !matches!(
                    name.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) && let Ok(value) = value.to_str()
                {
                    reply = reply.header(name.as_str(), value);
                }
            }
            reply.body = response
                .bytes()
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            reply
        }
        Err(_) => StubResponse::new(502),
    }
}
