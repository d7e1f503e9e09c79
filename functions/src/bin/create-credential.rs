//! create-credential: POST /v1/tenants/{tenant}/credentials

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::api::run_lambda(clavis::api::CredentialsEndpoint::Create).await
}
