//! suspend-credential: POST /v1/tenants/{tenant}/credentials/{client_id}/suspend

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::runtime::run_endpoint(clavis::api::routes::CredentialsEndpoint::Suspend).await
}
