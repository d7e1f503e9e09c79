//! reactivate-credential: POST /v1/tenants/{tenant}/credentials/{client_id}/reactivate

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::api::run_lambda(clavis::api::CredentialsEndpoint::Reactivate).await
}
