//! Cold start of a Lambda function binary, measured locally. A stand-in for the Lambda Runtime
//! API hands the freshly spawned process one API Gateway (HTTP API, payload 2.0) event for the
//! route given; the time from spawning the process to receiving its response is one cold start:
//! reading the configuration, building the clients, and answering the first request (a
//! management route's first request reads DynamoDB Local). Prints one JSON line.
//!
//! usage: cold-start <bootstrap> <METHOD> <PATH> [runs]   (`make bench-cold-start` runs it)
//! The signing key is RS256 unless `SIGNING_ALGORITHM` says otherwise.

use std::process::Stdio;
use std::time::{Duration, Instant};

use clavis_api::routes::{Access, find_route};
use clavis_core::token::keys::{KeyAlgorithm, SigningKey};
use clavis_dynamodb::schema::create_table;
use clavis_local::dynamodb_local::{DynamoDbLocal, Storage};
use clavis_local::runtime_api::{Outcome, RuntimeApi};
use serde_json::json;

const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

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
        let mut runtime_api = RuntimeApi::serve(event.clone()).await?;
        let started = Instant::now();
        let mut child = std::process::Command::new(bootstrap)
            .env_clear()
            .envs(environment.iter().map(|(k, v)| (*k, v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api.address())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let result = runtime_api.outcome(ANSWER_TIMEOUT).await;
        let elapsed = started.elapsed();
        child.kill()?;
        child.wait()?;
        drop(runtime_api);
        match result {
            Some(Outcome::Answered { status, .. }) => {
                millis.push(elapsed.as_secs_f64() * 1000.0);
                statuses.push(status);
            }
            Some(Outcome::Failed(error)) => {
                return Err(format!("{function} reported an error: {error}").into());
            }
            None => {
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
