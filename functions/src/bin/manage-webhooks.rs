//! manage-webhooks: GET/PATCH/DELETE /v1/tenants/{tenant}/webhooks/{webhook_id}, the listing,
//! POST …/test and GET …/deliveries

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::WebhooksEndpoint::List).await
}
