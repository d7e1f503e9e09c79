//! delete-credential: DELETE /v1/tenants/{tenant}/credentials/{client_id}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::runtime::run_endpoint(clavis::api::routes::CredentialsEndpoint::Delete).await
}
