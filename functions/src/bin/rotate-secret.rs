//! rotate-secret: POST /v1/tenants/{tenant}/credentials/{client_id}/rotate

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::CredentialsEndpoint::RotateSecret).await
}
