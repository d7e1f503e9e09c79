//! report-leak: POST /v1/tenants/{tenant}/leaks

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::LeaksEndpoint::Report).await
}
