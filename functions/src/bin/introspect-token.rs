//! introspect-token: POST /oauth/introspect (RFC 7662)

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::runtime::run_endpoint(clavis::api::routes::OAuthEndpoint::IntrospectToken).await
}
