//! deliver-webhooks: the delivery queue; one signed attempt per ticket, retries re-queued

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_deliverer().await
}
