//! update-expiry: PUT /v1/tenants/{tenant}/credentials/{client_id}/expiry

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::runtime::run_endpoint(clavis::api::routes::CredentialsEndpoint::UpdateExpiry).await
}
