//! issue-token: POST /oauth/token (RFC 6749 §4.4, client credentials)

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::OAuthEndpoint::IssueToken).await
}
