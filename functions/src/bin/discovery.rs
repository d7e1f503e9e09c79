//! discovery: GET /.well-known/jwks.json, /.well-known/oauth-authorization-server, /.well-known/openid-configuration

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::runtime::run_endpoint(clavis::api::routes::OAuthEndpoint::Discovery).await
}
