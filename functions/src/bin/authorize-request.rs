//! authorize-request: the Lambda authorizer (HTTP API, payload 2.0) for the platform's own API

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_authorizer().await
}
