//! Access tokens for integrations: the OAuth 2.0 `client_credentials` grant, cached and
//! refreshed before it runs out, one refresh at a time however many tasks ask.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::{Error, OAuthError, Result};
use crate::transport::{
    Transport, TransportOptions, endpoint, read_json, retry_after, transport_setters,
};

/// An integration's client ID and secret. Its `Debug` output shows the ID only.
#[derive(Clone)]
pub struct ClientCredentials {
    client_id: String,
    client_secret: SecretString,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .finish()
    }
}

impl ClientCredentials {
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<SecretString>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// From `CLAVIS_CLIENT_ID` and `CLAVIS_CLIENT_SECRET` (what `clavis create --save-env`
    /// writes).
    pub fn from_env() -> Result<Self> {
        let read = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::Config(format!("{name} is not set")))
        };
        Ok(Self::new(
            read("CLAVIS_CLIENT_ID")?,
            SecretString::from(read("CLAVIS_CLIENT_SECRET")?),
        ))
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The secret; read it with [`secrecy::ExposeSecret`].
    pub fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }
}

/// Where the token source reads the time. [`SystemClock`] unless a test injects another
/// through [`TokenSourceBuilder::clock`].
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// The monotonic clock of the machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// An access token from the token endpoint. Its `Debug` output shows no token.
#[derive(Clone)]
pub struct AccessToken {
    token: SecretString,
    scope: Option<String>,
    expires_in: Duration,
    /// When it stops working, by the source's clock (counted from when it was asked for, so
    /// the estimate errs early).
    expires_at: Instant,
    /// When the source will fetch another.
    refresh_at: Instant,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[REDACTED]")
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl AccessToken {
    /// The bearer token itself; read it with [`secrecy::ExposeSecret`].
    pub fn secret(&self) -> &SecretString {
        &self.token
    }

    /// The scopes granted, space-separated.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The lifetime the server gave it (`expires_in`).
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }

    /// When it stops working, by the token source's clock.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// `Bearer <token>`, marked sensitive so that HTTP libraries keep it out of their logs.
    pub fn authorization_header(&self) -> Result<HeaderValue> {
        let mut value = HeaderValue::try_from(format!("Bearer {}", self.token.expose_secret()))
            .map_err(|_| {
                Error::Config("the access token is not a valid header value".to_owned())
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn same_as(&self, other: &AccessToken) -> bool {
        self.token.expose_secret() == other.token.expose_secret()
    }
}

/// Access tokens for an integration, fetched with its client credentials and cached.
///
/// - [`token`](Self::token) answers from the cache while the token has more than the refresh
///   skew (60 s unless set) left, and fetches a new one otherwise. However many tasks ask at
///   once, one request goes to the token endpoint; the others wait for its answer (or its
///   error).
/// - [`send`](Self::send) attaches the token to a request to your API and, if the API answers
///   `401`, fetches a fresh token and sends the request once more.
///
/// Cheap to clone: clones share the cache. Its `Debug` output shows no secret.
///
/// ```no_run
/// use clavis_sdk::{ClientCredentials, TokenSource};
///
/// # async fn example() -> Result<(), clavis_sdk::Error> {
/// let tokens = TokenSource::builder("https://api.example.com", ClientCredentials::from_env()?)
///     .scope("products:read")
///     .build()?;
/// let http = reqwest::Client::new();
/// let response = tokens
///     .send(http.get("https://shop.example.com/api/products"))
///     .await?;
/// println!("{}", response.status());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    token_url: Url,
    credentials: ClientCredentials,
    scope: Option<String>,
    skew: Duration,
    clock: Arc<dyn Clock>,
    transport: Transport,
    state: Mutex<State>,
    /// Held by the one task fetching a token; the others queue behind it.
    refresh: tokio::sync::Mutex<()>,
    requests: AtomicU64,
}

#[derive(Default)]
struct State {
    token: Option<AccessToken>,
    /// Counts fetches, so that a task that queued behind one learns it finished.
    fetches: u64,
    /// The error of the last fetch, if it failed, and which fetch that was.
    failure: Option<(u64, Error)>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.inner.token_url.as_str())
            .field("credentials", &self.inner.credentials)
            .field("scope", &self.inner.scope)
            .field("skew", &self.inner.skew)
            .finish_non_exhaustive()
    }
}

/// Configures a [`TokenSource`].
pub struct TokenSourceBuilder {
    base_url: String,
    token_url: Option<String>,
    credentials: ClientCredentials,
    scope: Option<String>,
    skew: Duration,
    clock: Arc<dyn Clock>,
    transport: TransportOptions,
}

impl fmt::Debug for TokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// When the server does not say how long a token lasts (RFC 6749 makes `expires_in` optional).
const UNSTATED_LIFETIME: Duration = Duration::from_secs(300);

impl TokenSourceBuilder {
    transport_setters!();

    /// Ask for these scopes only (space-separated, a subset of the credential's); all of the
    /// credential's scopes unless set.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Fetch a new token this long before the current one expires (60 s unless set). A token
    /// is always used for at least half its lifetime, however large the skew.
    pub fn refresh_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// The token endpoint, when it is not `<base URL>/oauth/token`.
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// The clock that decides when a token is due for refresh (tests move time by hand).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn build(self) -> Result<TokenSource> {
        let token_url = match &self.token_url {
            Some(url) => self.transport.url(url)?,
            None => endpoint(&self.transport.url(&self.base_url)?, ["oauth", "token"]),
        };
        Ok(TokenSource {
            inner: Arc::new(Inner {
                token_url,
                credentials: self.credentials,
                scope: self.scope,
                skew: self.skew,
                clock: self.clock,
                transport: self.transport.build()?,
                state: Mutex::new(State::default()),
                refresh: tokio::sync::Mutex::new(()),
                requests: AtomicU64::new(0),
            }),
        })
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
}

impl TokenSource {
    /// A token source for the API at `base_url` (its token endpoint is `/oauth/token`).
    pub fn builder(
        base_url: impl Into<String>,
        credentials: ClientCredentials,
    ) -> TokenSourceBuilder {
        TokenSourceBuilder {
            base_url: base_url.into(),
            token_url: None,
            credentials,
            scope: None,
            skew: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
            transport: TransportOptions::default(),
        }
    }

    pub fn client_id(&self) -> &str {
        self.inner.credentials.client_id()
    }

    /// How many token requests this source has sent (retries included).
    pub fn token_requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is replaced whole under the lock, so a panic elsewhere cannot leave it
        // half-written.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached token if it is not yet due for refresh, and the fetch count seen.
    fn cached(&self) -> (Option<AccessToken>, u64) {
        let state = self.state();
        let now = self.inner.clock.now();
        let fresh = state.token.as_ref().filter(|t| now < t.refresh_at).cloned();
        (fresh, state.fetches)
    }

    /// A token with more than the refresh skew left: the cached one, or a new one.
    pub async fn token(&self) -> Result<AccessToken> {
        let (cached, seen) = self.cached();
        if let Some(token) = cached {
            return Ok(token);
        }
        let _refreshing = self.inner.refresh.lock().await;
        let (cached, now_seen) = self.cached();
        if let Some(token) = cached {
            return Ok(token);
        }
        if now_seen != seen {
            // A fetch finished while this task waited and left no fresh token: it failed, and
            // this task takes its outcome rather than sending another request straight away.
            let state = self.state();
            if let Some((fetch, error)) = &state.failure
                && *fetch == now_seen
            {
                return self.unexpired(&state).ok_or_else(|| error.clone());
            }
        }
        let fetched = self.fetch().await;
        let mut state = self.state();
        state.fetches += 1;
        match fetched {
            Ok(token) => {
                state.token = Some(token.clone());
                state.failure = None;
                Ok(token)
            }
            Err(error) => {
                state.failure = Some((state.fetches, error.clone()));
                match self.unexpired(&state) {
                    Some(token) => {
                        tracing::warn!(
                            client_id = self.client_id(),
                            error = %error,
                            "could not refresh the access token; using the current one until it expires"
                        );
                        Ok(token)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// The cached token if it has not expired yet, though due for refresh: what a failed
    /// refresh falls back on.
    fn unexpired(&self, state: &State) -> Option<AccessToken> {
        let now = self.inner.clock.now();
        state.token.as_ref().filter(|t| now < t.expires_at).cloned()
    }

    /// Fetches a new token now, whatever the cache holds.
    pub async fn refresh(&self) -> Result<AccessToken> {
        self.state().token = None;
        self.token().await
    }

    /// Drops `rejected` from the cache, if it is still the cached token, so that the next
    /// [`token`](Self::token) fetches another. Many tasks rejected with the same token cause
    /// one refresh.
    pub fn invalidate(&self, rejected: &AccessToken) {
        let mut state = self.state();
        if state.token.as_ref().is_some_and(|t| t.same_as(rejected)) {
            state.token = None;
        }
    }

    /// Adds `Authorization: Bearer <token>` to `request`.
    pub async fn authorize(&self, request: RequestBuilder) -> Result<RequestBuilder> {
        let token = self.token().await?;
        Ok(request.header(AUTHORIZATION, token.authorization_header()?))
    }

    /// Sends `request` with a token. If the server answers `401 Unauthorized` (the token was
    /// revoked, or the server's keys changed), fetches a fresh token and sends the request
    /// once more, answering with whatever that second attempt gets. A request whose body is a
    /// stream cannot be repeated, so its `401` is returned as it is.
    ///
    /// Other statuses, `429` and `5xx` included, are returned as they are: whether your own
    /// API's requests are safe to repeat is yours to decide.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response> {
        let again = request.try_clone();
        let token = self.token().await?;
        let response = attach_and_send(request, &token).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(again) = again else {
            return Ok(response);
        };
        tracing::debug!(
            client_id = self.client_id(),
            "the resource server refused the access token; fetching a fresh one"
        );
        self.invalidate(&token);
        let fresh = self.token().await?;
        attach_and_send(again, &fresh).await
    }

    /// One request to the token endpoint (with the transport's retries).
    async fn fetch(&self) -> Result<AccessToken> {
        let inner = &self.inner;
        let url = &inner.token_url;
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &inner.scope {
            form.push(("scope", scope));
        }
        // RFC 6749 §2.3.1: both halves are form-urlencoded before Basic encoding.
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let id = encode(&inner.credentials.client_id);
        let secret = SecretString::from(encode(inner.credentials.client_secret.expose_secret()));
        tracing::debug!(client_id = %inner.credentials.client_id, token_url = %url, "requesting an access token");
        let asked_at = inner.clock.now();
        // A token request has no effect but the token: always safe to repeat.
        let response = inner
            .transport
            .send(&Method::POST, url, true, || {
                inner.requests.fetch_add(1, Ordering::Relaxed);
                inner
                    .transport
                    .http
                    .post(url.clone())
                    .basic_auth(&id, Some(secret.expose_secret()))
                    .form(&form)
            })
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(oauth_error(url, response).await);
        }
        let body: TokenResponse = read_json(url, response).await?;
        if !body.token_type.eq_ignore_ascii_case("bearer") {
            return Err(Error::unexpected(
                url,
                status.as_u16(),
                format!("token_type is {:?}, not Bearer", body.token_type),
            ));
        }
        let expires_in = body
            .expires_in
            .map_or(UNSTATED_LIFETIME, Duration::from_secs);
        let use_for = expires_in.saturating_sub(inner.skew).max(expires_in / 2);
        tracing::debug!(
            client_id = %inner.credentials.client_id,
            expires_in_s = expires_in.as_secs(),
            "access token issued"
        );
        Ok(AccessToken {
            token: SecretString::from(body.access_token),
            scope: body.scope,
            expires_in,
            expires_at: asked_at + expires_in,
            refresh_at: asked_at + use_for,
        })
    }
}

async fn attach_and_send(request: RequestBuilder, token: &AccessToken) -> Result<Response> {
    let (http, request) = request
        .header(AUTHORIZATION, token.authorization_header()?)
        .build_split();
    let request = request.map_err(|e| Error::Config(format!("cannot build the request: {e}")))?;
    let url = request.url().clone();
    http.execute(request)
        .await
        .map_err(|e| Error::transport(&url, e))
}

async fn oauth_error(url: &Url, response: Response) -> Error {
    let status = response.status().as_u16();
    let wait = retry_after(response.headers(), SystemTime::now());
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return Error::transport(url, e),
    };
    match serde_json::from_slice::<OAuthError>(&bytes) {
        Ok(mut error) => {
            error.status = status;
            error.retry_after = wait;
            Error::OAuth(Box::new(error))
        }
        Err(_) => Error::unexpected(
            url,
            status,
            "the token endpoint did not answer with an OAuth error",
        ),
    }
}
