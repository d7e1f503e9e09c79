//! revoke-token: POST /oauth/revoke (RFC 7009)

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::OAuthEndpoint::RevokeToken).await
}
