//! introspect-token: POST /oauth/introspect (RFC 7662)

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    clavis::api::run_lambda(clavis::api::OAuthEndpoint::IntrospectToken).await
}
