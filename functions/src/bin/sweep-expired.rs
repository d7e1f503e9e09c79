//! sweep-expired: EventBridge schedule (every 15 minutes); records passed and near expiries

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_sweeper().await
}
