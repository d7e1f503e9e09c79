//! get-credential: GET /v1/tenants/{tenant}/credentials/{client_id}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::api::run_lambda(clavis::api::CredentialsEndpoint::Get).await
}
