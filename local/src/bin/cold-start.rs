//! Cold start of a Lambda function binary, measured locally. A stand-in for the Lambda Runtime
//! API hands the freshly spawned process one API Gateway (HTTP API, payload 2.0) event for the
//! route given; the time from spawning the process to receiving its response is one cold start:
//! reading the configuration, building the clients, and answering the first request (a
//! management route's first request reads DynamoDB Local). Prints one JSON line.
//!
//! usage: cold-start <bootstrap> <METHOD> <PATH> [runs]   (`make bench-cold-start` runs it)
//! The signing key is RS256 unless `SIGNING_ALGORITHM` says otherwise.

use std::convert::Infallible;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clavis::api::routes::{Access, find_route};
use clavis::store::schema::create_table;
use clavis::token::keys::{KeyAlgorithm, SigningKey};
use clavis_local::dynamodb_local::{DynamoDbLocal, Storage};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const EXTENSION_REGISTER: &str = "/2020-01-01/extension/register";
const EXTENSION_NEXT: &str = "/2020-01-01/extension/event/next";
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the stand-in saw the function do.
enum Outcome {
    /// The invocation's response: the status code the function answered the request with.
    Answered(u16),
    /// The function reported an error (at init or for the invocation).
    Failed(String),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, method, path, rest @ ..] = args.as_slice() else {
        return Err("usage: cold-start <bootstrap> <METHOD> <PATH> [runs]".into());
    };
    let runs: usize = rest.first().map(|r| r.parse()).transpose()?.unwrap_or(20);
    let (route, parameters) =
        find_route(method, path).ok_or_else(|| format!("no route for {method} {path}"))?;
    let function = route.endpoint.function();
    let tenant = parameters
        .iter()
        .find(|(name, _)| *name == "tenant")
        .map(|(_, value)| value.clone());
    // As API Gateway's JWT authorizer delivers an admin's claims to a /v1 function.
    let claims = (route.access == Access::Jwt).then(
        || json!({"sub": "cold-start", "role": "admin", "tenant": tenant.unwrap_or_default()}),
    );
    let event = json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "127.0.0.1", "user-agent": "cold-start"},
        "pathParameters": parameters.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1",
            "domainPrefix": "local", "requestId": "cold-start", "routeKey": route.key(),
            "stage": "$default", "time": "23/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "cold-start"},
            "authorizer": claims.map(|claims| json!({"jwt": {"claims": claims, "scopes": null}})),
        },
        "isBase64Encoded": false,
    })
    .to_string();

    let local = DynamoDbLocal::start(Storage::InMemory).await?;
    let settings = local.store_settings("cold-start");
    create_table(&settings.client().await, &settings.table_name).await?;
    let algorithm = std::env::var("SIGNING_ALGORITHM").unwrap_or_else(|_| "RS256".into());
    let (_, signing_pem) = SigningKey::generate(algorithm.parse::<KeyAlgorithm>()?)?;
    let environment = [
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "cold-start".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("TABLE_NAME", settings.table_name.clone()),
        ("DYNAMODB_ENDPOINT", local.endpoint().to_owned()),
        ("TOKEN_ISSUER", "http://127.0.0.1:3000".to_owned()),
        ("TOKEN_AUDIENCE", "clavis-api".to_owned()),
        ("SIGNING_ALGORITHM", algorithm),
        ("SIGNING_KEY_PEM", signing_pem),
    ];

    let mut millis = Vec::with_capacity(runs);
    let mut statuses = Vec::with_capacity(runs);
    for _ in 0..runs {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let runtime_api = listener.local_addr()?.to_string();
        let (outcomes, mut outcome) = mpsc::unbounded_channel();
        let server = tokio::spawn(serve_runtime_api(listener, event.clone(), outcomes));
        let started = Instant::now();
        let mut child = std::process::Command::new(bootstrap)
            .env_clear()
            .envs(environment.iter().map(|(k, v)| (*k, v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let result = tokio::time::timeout(ANSWER_TIMEOUT, outcome.recv()).await;
        let elapsed = started.elapsed();
        child.kill()?;
        child.wait()?;
        server.abort();
        match result {
            Ok(Some(Outcome::Answered(status))) => {
                millis.push(elapsed.as_secs_f64() * 1000.0);
                statuses.push(status);
            }
            Ok(Some(Outcome::Failed(error))) => {
                return Err(format!("{function} reported an error: {error}").into());
            }
            Ok(None) | Err(_) => {
                return Err(format!(
                    "{function} did not answer within {ANSWER_TIMEOUT:?}; run {bootstrap} by hand \
                     with AWS_LAMBDA_RUNTIME_API set to see why"
                )
                .into());
            }
        }
    }
    local.stop();
    millis.sort_by(f64::total_cmp);
    statuses.dedup();
    println!(
        "{}",
        json!({
            "function": function,
            "route": route.key(),
            "runs": runs,
            "answered_with": statuses,
            "median_ms": (millis[runs / 2] * 10.0).round() / 10.0,
            "min_ms": (millis[0] * 10.0).round() / 10.0,
            "max_ms": (millis[runs - 1] * 10.0).round() / 10.0,
        })
    );
    Ok(())
}

/// The Runtime API's three calls a healthy function makes: fetch the next invocation (the one
/// event, then nothing more), post its response, or post an error; and the Extensions API's
/// two that the token functions make for their shutdown flush.
async fn serve_runtime_api(
    listener: TcpListener,
    event: String,
    outcomes: mpsc::UnboundedSender<Outcome>,
) {
    let delivered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
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
                            .header("lambda-extension-identifier", "cold-start-extension")
                            .body(Full::new(Bytes::from_static(b"{}")))
                            .unwrap_or_default(),
                    );
                }
                if path == EXTENSION_NEXT {
                    std::future::pending::<()>().await;
                }
                if path == NEXT {
                    if delivered.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        std::future::pending::<()>().await;
                    }
                    let deadline = std::time::SystemTime::now() + Duration::from_secs(30);
                    let deadline_ms = deadline
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis();
                    return Ok::<_, Infallible>(
                        Response::builder()
                            .header("lambda-runtime-aws-request-id", "cold-start")
                            .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
                            .header(
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:000000000000:function:cold-start",
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
                    let status = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|r| r["statusCode"].as_u64())
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(0);
                    Outcome::Answered(status)
                } else {
                    Outcome::Failed(String::from_utf8_lossy(&body).into_owned())
                };
                // The measurement ends here; a closed receiver only means it already has.
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
