//! Logging. Handlers log one line per request (method, path, status, time, request ID) and
//! the cause of every 5xx; never a body, a header value, a secret or a token.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Clavis's own crates, whose log lines are written to carry no secret at any level. Named
/// whole: a target matches by prefix, and "clavis" alone would lift the cap for any library
/// whose name starts with it.
const OWN_TARGETS: [&str; 5] = [
    "clavis_core",
    "clavis_dynamodb",
    "clavis_api",
    "clavis_runtime",
    "clavis_local",
];

/// The most any library may log, whatever level was asked: `lambda_runtime` logs each raw
/// event at TRACE (the `Authorization` header, a `client_secret` form body, an
/// `Idempotency-Key`), and `hyper`, `h2`, `rustls` and the AWS SDK log wire data at
/// DEBUG/TRACE.
pub const LIBRARY_LEVEL_CAP: LevelFilter = LevelFilter::INFO;

/// `level` for Clavis's own code; at most [`LIBRARY_LEVEL_CAP`] for every other target.
/// An allow-list, not a deny-list: a library added later is capped without anyone
/// remembering to.
pub fn capped(level: LevelFilter) -> Targets {
    OWN_TARGETS.iter().fold(
        Targets::new().with_default(level.min(LIBRARY_LEVEL_CAP)),
        |targets, own| targets.with_target(*own, level),
    )
}

/// Structured logs as Lambda expects them: JSON when the function's `AWS_LAMBDA_LOG_FORMAT` is
/// JSON, at the level of `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`, else INFO) for Clavis's code
/// and at most INFO for libraries ([`capped`]). The same contract as
/// `lambda_http::tracing::init_default_subscriber`, with a target list instead of an
/// `EnvFilter`, whose regex engine would add half a megabyte to each bootstrap.
pub fn init_lambda() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let registry = tracing_subscriber::registry().with(capped(level));
    // A subscriber already set (a test harness) keeps logging; nothing to report.
    let _already_set = if json {
        registry.with(logs.json()).try_init()
    } else {
        registry.with(logs).try_init()
    };
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    fn enabled(filter: &Targets, target: &str, level: Level) -> bool {
        filter.would_enable(target, &level)
    }

    #[test]
    fn trace_reaches_our_code_but_no_library() {
        let trace = capped(LevelFilter::TRACE);
        assert!(enabled(&trace, "clavis_api::oauth", Level::TRACE));
        assert!(enabled(&trace, "clavis_core::usage", Level::TRACE));
        assert!(enabled(&trace, "clavis_local::gateway", Level::DEBUG));
        for library in [
            "lambda_runtime",
            "lambda_runtime::layers::trace",
            "lambda_http",
            "hyper",
            "hyper_util::client",
            "h2::codec",
            "rustls::client",
            "aws_smithy_runtime::client::orchestrator",
            "aws_sdk_dynamodb",
            "a_library_added_later",
            "clavis_lookalike",
        ] {
            assert!(!enabled(&trace, library, Level::DEBUG), "{library}");
            assert!(enabled(&trace, library, Level::INFO), "{library}");
        }
        let quiet = capped(LevelFilter::WARN);
        assert!(!enabled(&quiet, "clavis_api::oauth", Level::INFO));
        assert!(!enabled(&quiet, "hyper", Level::INFO));
    }
}
