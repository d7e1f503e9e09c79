//! A stand-in for the Lambda Runtime API, as far as a function binary (or `lambda_runtime` run
//! in a test's own process) uses it: it hands out one invocation event, then nothing more, and
//! reports what the function answered. `cold-start` times functions with it; a test runs the
//! token endpoint under it at TRACE to read what `lambda_runtime` logs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const EXTENSION_REGISTER: &str = "/2020-01-01/extension/register";
const EXTENSION_NEXT: &str = "/2020-01-01/extension/event/next";

/// What the stand-in saw the function do with its one invocation.
#[derive(Debug)]
pub enum Outcome {
    /// The invocation's response: for an API Gateway event, the status code and body the
    /// function answered the request with.
    Answered { status: u16, body: String },
    /// The function reported an error (at init or for the invocation).
    Failed(String),
}

/// A running stand-in: `AWS_LAMBDA_RUNTIME_API` is [`RuntimeApi::address`].
pub struct RuntimeApi {
    address: SocketAddr,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves `event` (a JSON document) as the one invocation.
    pub async fn serve(event: String) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let (sender, outcomes) = mpsc::unbounded_channel();
        let server = tokio::spawn(serve(listener, event, sender));
        Ok(Self {
            address,
            outcomes,
            server,
        })
    }

    /// `host:port`, as `AWS_LAMBDA_RUNTIME_API` takes it.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// What the function did, if it did anything within `wait`.
    pub async fn outcome(&mut self, wait: Duration) -> Option<Outcome> {
        tokio::time::timeout(wait, self.outcomes.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The Runtime API's three calls a healthy function makes: fetch the next invocation (the one
/// event, then nothing more), post its response, or post an error; and the Extensions API's
/// two that the token functions make for their shutdown flush.
async fn serve(listener: TcpListener, event: String, outcomes: mpsc::UnboundedSender<Outcome>) {
    let delivered = Arc::new(AtomicBool::new(false));
    while let Ok((stream, _)) = listener.accept().await {
        let (event, outcomes, delivered) = (event.clone(), outcomes.clone(), delivered.clone());
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let (event, outcomes, delivered) = (event.clone(), outcomes.clone(), delivered.clone());
            async move {
                let path = request.uri().path().to_owned();
                // The Extensions API, as far as a function's own internal extension uses it:
                // registration, then a poll for events that never come.
                if path == EXTENSION_REGISTER {
                    return Ok::<_, Infallible>(
                        Response::builder()
                            .header("lambda-extension-identifier", "stand-in-extension")
                            .body(Full::new(Bytes::from_static(b"{}")))
                            .unwrap_or_default(),
                    );
                }
                if path == EXTENSION_NEXT {
                    std::future::pending::<()>().await;
                }
                if path == NEXT {
                    if delivered.swap(true, Ordering::SeqCst) {
                        std::future::pending::<()>().await;
                    }
                    let deadline = std::time::SystemTime::now() + Duration::from_secs(30);
                    let deadline_ms = deadline
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis();
                    return Ok::<_, Infallible>(
                        Response::builder()
                            .header("lambda-runtime-aws-request-id", "stand-in")
                            .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
                            .header(
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:000000000000:function:stand-in",
                            )
                            .header(
                                "lambda-runtime-trace-id",
                                "Root=1-00000000-000000000000000000000000",
                            )
                            .body(Full::new(Bytes::from(event)))
                            .unwrap_or_default(),
                    );
                }
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let outcome = if path.ends_with("/response") {
                    let answer = serde_json::from_slice::<Value>(&body).unwrap_or_default();
                    Outcome::Answered {
                        status: answer["statusCode"]
                            .as_u64()
                            .and_then(|s| u16::try_from(s).ok())
                            .unwrap_or(0),
                        body: answer["body"].as_str().unwrap_or_default().to_owned(),
                    }
                } else {
                    Outcome::Failed(String::from_utf8_lossy(&body).into_owned())
                };
                // Whoever waited may have stopped waiting; then nobody needs to know.
                let _ = outcomes.send(outcome);
                let mut accepted = Response::new(Full::new(Bytes::new()));
                *accepted.status_mut() = StatusCode::ACCEPTED;
                Ok(accepted)
            }
        });
        tokio::spawn(async move {
            let _closed = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
