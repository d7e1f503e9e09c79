//! list-credentials: GET /v1/tenants/{tenant}/credentials

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::runtime::run_endpoint(clavis::api::routes::CredentialsEndpoint::List).await
}
