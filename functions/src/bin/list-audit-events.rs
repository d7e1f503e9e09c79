//! list-audit-events: GET /v1/tenants/{tenant}/audit and GET /v1/tenants/{tenant}/credentials/{client_id}/audit

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::CredentialsEndpoint::ListAuditEvents).await
}
