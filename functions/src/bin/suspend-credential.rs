//! suspend-credential: POST /v1/tenants/{tenant}/credentials/{client_id}/suspend

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::CredentialsEndpoint::Suspend).await
}
