//! update-expiry: PUT /v1/tenants/{tenant}/credentials/{client_id}/expiry

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::CredentialsEndpoint::UpdateExpiry).await
}
