//! Logging. Handlers log one line per request (method, path, status, time, request ID) and
//! the cause of every 5xx; never a body, a header value, a secret or a token.

/// Structured logs as Lambda expects them (honours `AWS_LAMBDA_LOG_FORMAT` and `..._LOG_LEVEL`).
pub fn init_lambda() {
    lambda_http::tracing::init_default_subscriber();
}
