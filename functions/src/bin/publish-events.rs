//! publish-events: the table's stream (new audit events); one delivery per endpoint, queued

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_publisher().await
}
