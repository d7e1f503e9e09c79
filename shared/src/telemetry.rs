//! Logging. Handlers log one line per request (method, path, status, time, request ID) and
//! the cause of every 5xx; never a body, a header value, a secret or a token.

use tracing_subscriber::filter::LevelFilter;

/// Structured logs as Lambda expects them: JSON when the function's `AWS_LAMBDA_LOG_FORMAT` is
/// JSON, at the level of `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`, else INFO). The same contract
/// as `lambda_http::tracing::init_default_subscriber`, but one level for every target instead
/// of an `EnvFilter`, whose regex engine would add half a megabyte to each bootstrap.
pub fn init_lambda() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level);
    // A subscriber already set (a test harness) keeps logging; nothing to report.
    let _already_set = if json {
        logs.json().try_init()
    } else {
        logs.try_init()
    };
}
