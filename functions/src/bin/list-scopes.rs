//! list-scopes: GET /v1/scopes

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::api::run_lambda(clavis::api::CredentialsEndpoint::ListScopes).await
}
