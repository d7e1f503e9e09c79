//! get-usage: GET /v1/tenants/{tenant}/credentials/{client_id}/usage and
//! GET /v1/tenants/{tenant}/usage

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::CredentialsEndpoint::GetUsage).await
}
