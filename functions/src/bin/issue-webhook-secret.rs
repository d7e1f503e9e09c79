//! issue-webhook-secret: POST /v1/tenants/{tenant}/webhooks and
//! POST /v1/tenants/{tenant}/webhooks/{webhook_id}/rotate-secret

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::WebhooksEndpoint::Create).await
}
