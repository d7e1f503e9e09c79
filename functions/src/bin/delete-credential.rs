//! delete-credential: DELETE /v1/tenants/{tenant}/credentials/{client_id}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::CredentialsEndpoint::Delete).await
}
