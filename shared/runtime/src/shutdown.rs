//! The last flush of a Lambda instance. Lambda freezes an instance between invocations and, when
//! it retires one, stops it without warning, unless an extension is registered: then the
//! runtime gets SIGTERM and a moment (300 ms or more) before it is killed. The token functions
//! count uses in memory (see [`clavis_core::usage`]) and need that moment to write their last batch,
//! so they register an internal extension of their own. It subscribes to no events: its one
//! long-poll for the next event never answers, so it costs no wake-ups.
//!
//! The Extensions API: <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>.

use lambda_runtime_api_client::PooledClient;
use lambda_runtime_api_client::body::Body;

use clavis_core::usage::Flusher;

const REGISTER: &str = "/2020-01-01/extension/register";
const NEXT_EVENT: &str = "/2020-01-01/extension/event/next";
/// Internal extensions need a name unique within the function.
const EXTENSION_NAME: &str = "clavis-usage-flush";
const NAME_HEADER: &str = "Lambda-Extension-Name";
const IDENTIFIER_HEADER: &str = "Lambda-Extension-Identifier";

#[derive(Debug, thiserror::Error)]
pub enum ExtensionError {
    #[error("AWS_LAMBDA_RUNTIME_API is not set or not a host:port")]
    NoRuntimeApi,
    #[error("the Extensions API is unreachable: {0}")]
    Unreachable(String),
    #[error("the Extensions API refused the registration with HTTP {0}")]
    Refused(u16),
    #[error("the Extensions API answered without an extension identifier")]
    NoIdentifier,
}

/// Registers the extension, then stops `usage`'s flusher (which writes what is left) when the
/// instance is told to stop. Without the Extensions API (an emulator that lacks it) the
/// flusher runs on and the function still serves, and says what a stop may then lose.
pub async fn flush_usage_at_shutdown(usage: Flusher) {
    let registered = match std::env::var("AWS_LAMBDA_RUNTIME_API") {
        Ok(api) => register(&api).await,
        Err(_) => Err(ExtensionError::NoRuntimeApi),
    };
    let (client, identifier) = match registered {
        Ok(registered) => registered,
        Err(e) => {
            tracing::warn!(error = %e, "no shutdown hook: the uses counted in the last flush interval before this instance stops may be lost");
            return;
        }
    };
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    let mut terminate = match terminate {
        Ok(signal) => signal,
        Err(e) => {
            tracing::warn!(error = %e, "no shutdown hook: SIGTERM cannot be watched");
            return;
        }
    };
    // Lambda ends the instance's initialisation once every extension has asked for its next
    // event; this one is never answered.
    tokio::spawn(async move {
        let next = http::Request::get(NEXT_EVENT)
            .header(IDENTIFIER_HEADER, identifier)
            .body(Body::empty());
        if let Ok(next) = next
            && let Err(e) = client.call(next).await
        {
            tracing::warn!(error = %e, "the extension's event poll ended");
        }
    });
    tokio::spawn(async move {
        terminate.recv().await;
        usage.stop().await.log_final("instance shutting down");
        std::process::exit(0);
    });
}

/// Registers the extension with the Extensions API at `runtime_api` (`host:port`), subscribed
/// to no events; the client to poll with and the extension's identifier.
async fn register(runtime_api: &str) -> Result<(PooledClient, String), ExtensionError> {
    let base = format!("http://{runtime_api}")
        .parse::<http::Uri>()
        .map_err(|_| ExtensionError::NoRuntimeApi)?;
    let client = PooledClient::builder().with_endpoint(base).build();
    let request = http::Request::post(REGISTER)
        .header(NAME_HEADER, EXTENSION_NAME)
        .body(Body::from(r#"{"events":[]}"#))
        .map_err(|e| ExtensionError::Unreachable(e.to_string()))?;
    let response = client
        .call(request)
        .await
        .map_err(|e| ExtensionError::Unreachable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(ExtensionError::Refused(response.status().as_u16()));
    }
    let identifier = response
        .headers()
        .get(IDENTIFIER_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or(ExtensionError::NoIdentifier)?
        .to_owned();
    Ok((client, identifier))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// An Extensions API that answers one request with `answer` and hands back what it was sent.
    async fn extensions_api(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let served = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut received = Vec::new();
            let mut buf = [0u8; 1024];
            // Headers, then the 13-byte body.
            while !String::from_utf8_lossy(&received).ends_with(r#"{"events":[]}"#) {
                let n = stream.read(&mut buf).await.unwrap();
                assert!(
                    n > 0,
                    "closed early: {}",
                    String::from_utf8_lossy(&received)
                );
                received.extend_from_slice(&buf[..n]);
            }
            stream.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&received).into_owned()
        });
        (addr, served)
    }

    #[tokio::test]
    async fn registers_by_name_for_no_events_and_keeps_the_identifier() {
        let (addr, served) = extensions_api(
            "HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: ext-42\r\nContent-Length: 2\r\n\r\n{}",
        )
        .await;
        let (_client, identifier) = register(&addr).await.unwrap();
        assert_eq!(identifier, "ext-42");
        let request = served.await.unwrap().to_ascii_lowercase();
        assert!(
            request.starts_with("post /2020-01-01/extension/register "),
            "{request}"
        );
        assert!(
            request.contains("lambda-extension-name: clavis-usage-flush\r\n"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn a_refusal_or_a_missing_identifier_is_an_error() {
        let (addr, _served) =
            extensions_api("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").await;
        assert!(matches!(
            register(&addr).await,
            Err(ExtensionError::Refused(403))
        ));
        let (addr, _served) = extensions_api("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
        assert!(matches!(
            register(&addr).await,
            Err(ExtensionError::NoIdentifier)
        ));
        assert!(matches!(
            register("not a host").await,
            Err(ExtensionError::NoRuntimeApi)
        ));
    }
}
