//! list-audit-events: GET /v1/tenants/{tenant}/audit and GET /v1/tenants/{tenant}/credentials/{client_id}/audit

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::api::run_lambda(clavis::api::CredentialsEndpoint::ListAuditEvents).await
}
