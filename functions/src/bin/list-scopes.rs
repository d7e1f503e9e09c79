//! list-scopes: GET /v1/scopes

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::runtime::run_endpoint(clavis::api::routes::CredentialsEndpoint::ListScopes).await
}
