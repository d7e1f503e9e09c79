//! put-policy: PUT /v1/tenants/{tenant}/policy

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::CredentialsEndpoint::PutPolicy).await
}
