//! revoke-token: POST /oauth/revoke (RFC 7009)

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::runtime::run_endpoint(clavis::api::routes::OAuthEndpoint::RevokeToken).await
}
