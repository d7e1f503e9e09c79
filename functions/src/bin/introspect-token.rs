//! introspect-token: POST /oauth/introspect (RFC 7662)

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis_runtime::run_endpoint(clavis_runtime::OAuthEndpoint::IntrospectToken).await
}
