//! Sending requests: timeouts, and retries with backoff on throttling and server errors that
//! honour `Retry-After`. Shared by the management client and the token source.

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
        half + half.mul_f64(rand::random_range(0.0..=1.0))
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

/// How a builder's client sends: timeouts, retries, or a `reqwest::Client` of the caller's;
/// and whether it may send in cleartext to another machine.
#[derive(Debug, Clone, Default)]
pub(crate) struct TransportOptions {
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub http: Option<reqwest::Client>,
    /// An `http://` URL to a host that is not loopback is refused unless this is set.
    pub allow_insecure_http: bool,
}

impl TransportOptions {
    pub fn build(self) -> Result<Transport> {
        Transport::new(self.http, self.timeouts, self.retry)
    }

    /// Parses a base or token URL as [`base_url`] does, then refuses cleartext to another
    /// machine unless the caller allowed it.
    pub fn url(&self, text: &str) -> Result<Url> {
        let url = base_url(text)?;
        refuse_cleartext(&url, self.allow_insecure_http)?;
        Ok(url)
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

        /// Allow a plain `http://` URL whose host is not loopback (`127.0.0.0/8`, `::1`,
        /// `localhost`). Refused unless set, with [`Error::InsecureUrl`](crate::Error::InsecureUrl):
        /// over cleartext HTTP the client secret, access tokens and management token cross the
        /// network readable by anyone on the path. Set it only for a network you trust (e.g. a
        /// test gateway inside a private network); `https://` and loopback URLs need no opt-in.
        pub fn allow_insecure_http(mut self, allow: bool) -> Self {
            self.transport.allow_insecure_http = allow;
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

/// Refuses `http://` to a host other than this machine, unless `allow_insecure_http`: the
/// secret and every token would cross the network in cleartext. The one place this crate
/// decides it; [`TransportOptions::url`] applies it to every URL a builder is given.
pub(crate) fn refuse_cleartext(url: &Url, allow_insecure_http: bool) -> Result<()> {
    if url.scheme() != "http" || allow_insecure_http || is_loopback(url) {
        return Ok(());
    }
    Err(Error::InsecureUrl {
        host: url.host_str().unwrap_or_default().to_owned(),
    })
}

/// Whether the URL's host is this machine: `127.0.0.0/8`, `::1` or `localhost`, as the `url`
/// crate parsed it (so `http://127.1`, `http://[0:0::1]` and `http://LOCALHOST` count, and
/// `http://127.0.0.1.example.com` does not).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain == "localhost",
        None => false,
    }
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

    fn allowed(text: &str, allow_insecure_http: bool) -> Result<Url> {
        TransportOptions {
            allow_insecure_http,
            ..TransportOptions::default()
        }
        .url(text)
    }

    #[test]
    fn cleartext_to_another_machine_is_refused_unless_allowed() {
        for text in [
            "http://example.com",
            "http://example.com:3000/prod",
            "http://10.0.0.5:3000",
            "http://[2001:db8::1]",
            "http://127.0.0.1.example.com",
            "http://localhost.example.com",
            "http://[::ffff:127.0.0.1]",
        ] {
            match allowed(text, false) {
                Err(Error::InsecureUrl { host }) => assert!(!host.is_empty(), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
            assert!(allowed(text, true).is_ok(), "{text} with the opt-in");
        }
        for text in [
            "http://127.0.0.1:3000",
            "http://127.9.9.9",
            "http://127.1",
            "http://localhost:3000",
            "http://LOCALHOST:3000/prod",
            "http://[::1]:3000",
            "http://[0:0:0:0:0:0:0:1]",
            "https://example.com",
            "https://10.0.0.5:8443",
        ] {
            assert!(allowed(text, false).is_ok(), "{text}");
        }
    }

    #[test]
    fn the_refusal_says_why_and_how_to_opt_in() {
        let error = allowed("http://example.com", false).unwrap_err();
        assert!(matches!(error, Error::InsecureUrl { .. }));
        assert_eq!(error.status(), None);
        let text = error.to_string();
        for words in [
            "example.com",
            "cleartext",
            "https://",
            "allow_insecure_http",
        ] {
            assert!(text.contains(words), "{words}: {text}");
        }
        // Malformed URLs are still a configuration error, whatever the opt-in.
        assert!(matches!(allowed("ftp://x", true), Err(Error::Config(_))));
    }

    #[test]
    fn both_builders_refuse_cleartext_unless_allowed() {
        use crate::{Client, ClientCredentials, TokenSource};
        let credentials = || ClientCredentials::new("cid_1", "csk_test_secret");
        let refused = |result: Result<()>| matches!(result, Err(Error::InsecureUrl { .. }));

        let client = |url: &str| Client::builder(url, "token");
        assert!(refused(client("http://example.com").build().map(drop)));
        assert!(
            client("http://example.com")
                .allow_insecure_http(true)
                .build()
                .is_ok()
        );
        assert!(client("http://127.0.0.1:3000").build().is_ok());
        assert!(client("https://example.com").build().is_ok());

        let tokens = |url: &str| TokenSource::builder(url, credentials());
        assert!(refused(tokens("http://example.com").build().map(drop)));
        assert!(
            tokens("http://example.com")
                .allow_insecure_http(true)
                .build()
                .is_ok()
        );
        assert!(tokens("http://localhost:3000").build().is_ok());
        // A token endpoint of its own is held to the same rule.
        let elsewhere = tokens("https://example.com").token_url("http://auth.example.com/token");
        assert!(refused(elsewhere.build().map(drop)));
        let local = tokens("https://example.com").token_url("http://[::1]:3000/oauth/token");
        assert!(local.build().is_ok());
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
