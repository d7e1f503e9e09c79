//! Sending requests: timeouts, and retries with backoff on throttling and server errors that
//! honour `Retry-After`. Shared by the management client and the token source.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// When and how often a request is tried again.
///
/// A request is retried when the server answers `429 Too Many Requests` or `503 Service
/// Unavailable` (both mean the request was not carried out), when the connection could not be
/// made, and, for requests that are safe to repeat (`GET`, `PUT`, `DELETE` and token
/// requests), on `500`, `502` and `504` and on timeouts too. The one `503` that does not mean
/// "not carried out" is a problem with `outcome: "unknown"` (the credential store stopped
/// answering while the change was being saved): a request that is not safe to repeat is not
/// retried then, since repeating a create or a rotation that was applied would apply it twice;
/// the error comes back with [`Problem::outcome_unknown`](crate::Problem::outcome_unknown) set. A `Retry-After` header sets the
/// wait; otherwise it grows exponentially, with jitter, from `initial_backoff` to
/// `max_backoff`. A `Retry-After` longer than `max_retry_after` is not waited for: the error is
/// returned at once and carries it ([`Error::retry_after`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 turns retrying off).
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn never() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (0-based) when the server named none: exponential,
    /// capped, with "equal jitter" (half fixed, half random) so that many clients failing
    /// together do not come back together.
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_backoff);
        let half = ceiling / 2;
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let jitter = half.mul_f64((random % 1_000) as f64 / 1_000.0);
        half + jitter
    }
}

/// Timeouts and retries around one `reqwest::Client`.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub retry: RetryPolicy,
}

/// Connection and request timeouts of the clients this crate builds itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

/// How a builder's client sends: timeouts, retries, or a `reqwest::Client` of the caller's.
#[derive(Debug, Clone, Default)]
pub(crate) struct TransportOptions {
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub http: Option<reqwest::Client>,
}

impl TransportOptions {
    pub fn build(self) -> Result<Transport> {
        Transport::new(self.http, self.timeouts, self.retry)
    }
}

/// The transport setters every builder of this crate offers, over its `transport` field.
macro_rules! transport_setters {
    () => {
        /// How long to wait for a connection (10 s unless set).
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.transport.timeouts.connect = timeout;
            self
        }

        /// How long one attempt may take in all (30 s unless set).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.transport.timeouts.request = timeout;
            self
        }

        /// Retries on throttling, server errors and failed connections (see [`RetryPolicy`](crate::RetryPolicy)).
        pub fn retry_policy(mut self, retry: $crate::RetryPolicy) -> Self {
            self.transport.retry = retry;
            self
        }

        /// Send through this client (its own timeouts, proxies and TLS settings then apply).
        pub fn http_client(mut self, http: reqwest::Client) -> Self {
            self.transport.http = Some(http);
            self
        }
    };
}
pub(crate) use transport_setters;

pub(crate) const USER_AGENT: &str = concat!("clavis-sdk/", env!("CARGO_PKG_VERSION"));

impl Transport {
    pub fn new(
        http: Option<reqwest::Client>,
        timeouts: Timeouts,
        retry: RetryPolicy,
    ) -> Result<Self> {
        let http = match http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(timeouts.connect)
                .timeout(timeouts.request)
                .user_agent(USER_AGENT)
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        Ok(Self { http, retry })
    }

    /// Sends the request `build` makes (once per attempt), retrying as [`RetryPolicy`] says,
    /// and returns the last response, whatever its status.
    pub async fn send(
        &self,
        method: &Method,
        url: &Url,
        idempotent: bool,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response> {
        let idempotent = idempotent
            || matches!(
                *method,
                Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
            );
        let mut retry = 0;
        loop {
            let more = retry < self.retry.max_retries;
            let wait = match build().send().await {
                Ok(response) => {
                    let status = response.status();
                    if !more || !retryable_status(status, idempotent) {
                        return Ok(response);
                    }
                    let response = match status {
                        StatusCode::SERVICE_UNAVAILABLE if !idempotent => {
                            match problem_says(response, url, "outcome", "unknown").await? {
                                (response, true) => return Ok(response),
                                (response, false) => response,
                            }
                        }
                        // Only a twin with the same idempotency key in flight is worth waiting
                        // for; any other conflict is the caller's to resolve.
                        StatusCode::CONFLICT => {
                            match problem_says(response, url, "code", "idempotency_in_progress")
                                .await?
                            {
                                (response, true) => response,
                                (response, false) => return Ok(response),
                            }
                        }
                        _ => response,
                    };
                    match retry_after(response.headers(), SystemTime::now()) {
                        Some(wait) if wait > self.retry.max_retry_after => return Ok(response),
                        Some(wait) => wait,
                        None => self.retry.backoff(retry),
                    }
                }
                Err(e) => {
                    // A request that never connected was never carried out; one that may have
                    // been (timed out, or its connection dropped before the answer) is repeated
                    // only when repeating cannot apply it twice.
                    let safe = e.is_connect()
                        || (idempotent && (e.is_timeout() || e.is_request() || e.is_body()));
                    if !more || !safe {
                        return Err(Error::transport(url, e));
                    }
                    self.retry.backoff(retry)
                }
            };
            retry += 1;
            tracing::debug!(
                %method,
                path = url.path(),
                retry,
                wait_ms = wait.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

fn retryable_status(status: StatusCode, idempotent: bool) -> bool {
    match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => true,
        StatusCode::CONFLICT => idempotent,
        StatusCode::INTERNAL_SERVER_ERROR
        | StatusCode::BAD_GATEWAY
        | StatusCode::GATEWAY_TIMEOUT => idempotent,
        _ => false,
    }
}

/// Whether the problem document in `response` has `member` equal to `value` (a `503` with
/// `outcome: "unknown"` says its change may or may not have been applied). Reads the body, and
/// hands back a response that still carries it.
async fn problem_says(
    response: Response,
    url: &Url,
    member: &str,
    value: &str,
) -> Result<(Response, bool)> {
    let (status, version, headers) = (
        response.status(),
        response.version(),
        response.headers().clone(),
    );
    let body = response
        .bytes()
        .await
        .map_err(|e| Error::transport(url, e))?;
    let says = serde_json::from_slice::<serde_json::Value>(&body)
        .is_ok_and(|problem| problem[member] == value);
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok((Response::from(rebuilt), says))
}

/// `Retry-After` as delay-seconds or as an HTTP date (RFC 9110 §10.2.3), relative to `now`.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses the API's base URL (e.g. `https://api.example.com` or `http://127.0.0.1:3000`).
pub(crate) fn base_url(text: &str) -> Result<Url> {
    let url = Url::parse(text.trim()).map_err(|e| {
        Error::Config(format!(
            "the API URL {text:?} is not a URL ({e}); give one like https://api.example.com"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(Error::Config(format!(
            "the API URL {text:?} must be an http:// or https:// URL, like https://api.example.com"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "the API URL {text:?} must not have a query or fragment"
        )));
    }
    Ok(url)
}

/// `base` with path segments appended, each percent-encoded as one segment.
pub(crate) fn endpoint<'a>(base: &Url, segments: impl IntoIterator<Item = &'a str>) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Reads a successful response's JSON body as `T`.
pub(crate) async fn read_json<T: DeserializeOwned>(url: &Url, response: Response) -> Result<T> {
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Error::transport(url, e))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::unexpected(
            url,
            status,
            format!("the body is not what was expected: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            retry_after(&with("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&with("Sun, 06 Nov 1994 08:50:07 GMT"), now),
            Some(Duration::from_secs(30))
        );
        // RFC 850 and asctime dates are HTTP dates too.
        assert_eq!(
            retry_after(&with("Sunday, 06-Nov-94 08:49:47 GMT"), now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after(&with("Sun Nov  6 08:49:37 1994"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&with("Sun, 06 Nov 1994 08:00:00 GMT"), now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(retry_after(&with("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_inside_bounds() {
        let policy = RetryPolicy::default();
        for retry in 0..10 {
            let ceiling = (policy.initial_backoff * 2u32.pow(retry)).min(policy.max_backoff);
            let wait = policy.backoff(retry);
            assert!(wait >= ceiling / 2 && wait <= ceiling, "{retry}: {wait:?}");
        }
    }

    #[test]
    fn only_requests_safe_to_repeat_are_retried_on_server_errors() {
        for status in [429, 503] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(retryable_status(status, false));
        }
        for status in [500, 502, 504] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(retryable_status(status, true));
            assert!(!retryable_status(status, false));
        }
        assert!(retryable_status(StatusCode::CONFLICT, true));
        assert!(!retryable_status(StatusCode::CONFLICT, false));
        for status in [400, 401, 404, 412] {
            assert!(!retryable_status(
                StatusCode::from_u16(status).unwrap(),
                true
            ));
        }
    }
}
