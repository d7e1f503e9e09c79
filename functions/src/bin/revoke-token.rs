//! revoke-token: POST /oauth/revoke (RFC 7009)

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::api::run_lambda(clavis::api::OAuthEndpoint::RevokeToken).await
}
