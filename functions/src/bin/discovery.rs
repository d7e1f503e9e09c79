//! discovery: GET /.well-known/jwks.json, /.well-known/oauth-authorization-server, /.well-known/openid-configuration

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::OAuthEndpoint::Discovery).await
}
