//! list-credentials: GET /v1/tenants/{tenant}/credentials

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::CredentialsEndpoint::List).await
}
