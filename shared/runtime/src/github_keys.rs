//! GitHub's secret scanning keys, as `github-leak-report` reads them: a key set given to the
//! deployment (`GITHUB_SECRET_SCANNING_KEYS`, inline JSON or a file), or GitHub's published one
//! (`GITHUB_SECRET_SCANNING_KEYS_URL`), fetched at cold start, kept an hour, and fetched again
//! early when a report names a key not held (GitHub rotates its keys).
//!
//! Fetches are rationed per instance: anyone can post a report naming a made-up key, and
//! GitHub's API limits how often it may be asked. A failed fetch does not stop the function:
//! while no keys are held, reports are answered 503 for GitHub to send again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clavis_core::leak::{FixedGithubKeys, GithubKeySource, GithubKeys};
use tokio::sync::Mutex;

use crate::config::{ConfigError, Env};

const KEYS: &str = "GITHUB_SECRET_SCANNING_KEYS";
const KEYS_URL: &str = "GITHUB_SECRET_SCANNING_KEYS_URL";
/// How long a fetched key set is used before it is fetched again.
const KEPT_FOR: Duration = Duration::from_secs(3600);
/// An instance asks GitHub at most this often, whatever reports name: at most 12 fetches an
/// hour per instance, inside GitHub's rate limit for unauthenticated calls.
const FETCH_AT_MOST_EVERY: Duration = Duration::from_secs(300);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// GitHub's published key set, cached.
pub struct PublishedGithubKeys {
    client: reqwest::Client,
    url: String,
    held: Mutex<Held>,
    kept_for: Duration,
    fetch_at_most_every: Duration,
}

#[derive(Default)]
struct Held {
    keys: Option<Arc<GithubKeys>>,
    fetched_at: Option<Instant>,
    tried_at: Option<Instant>,
}

impl PublishedGithubKeys {
    /// Fetches the key set once, at cold start. Only a URL that cannot be fetched from at all
    /// stops the start; GitHub not answering is tried again later.
    pub async fn start(url: &str) -> Result<Self, ConfigError> {
        Self::start_with(url, KEPT_FOR, FETCH_AT_MOST_EVERY).await
    }

    /// [`start`](Self::start), keeping the keys `kept_for` and asking GitHub at most every
    /// `fetch_at_most_every`.
    pub async fn start_with(
        url: &str,
        kept_for: Duration,
        fetch_at_most_every: Duration,
    ) -> Result<Self, ConfigError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| ConfigError::new(KEYS_URL, format!("is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(ConfigError::new(
                KEYS_URL,
                "must be an https:// (or http://) URL",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .user_agent("clavis-secret-scanning")
            .build()
            .map_err(|e| ConfigError::new(KEYS_URL, format!("no HTTP client: {e}")))?;
        let source = Self {
            client,
            url: url.to_owned(),
            held: Mutex::new(Held::default()),
            kept_for,
            fetch_at_most_every,
        };
        {
            let mut held = source.held.lock().await;
            source.fetch_into(&mut held).await;
        }
        Ok(source)
    }

    fn may_fetch(&self, held: &Held) -> bool {
        held.tried_at
            .is_none_or(|tried| tried.elapsed() >= self.fetch_at_most_every)
    }

    /// Asks GitHub now; the keys held stay when it fails (GitHub keeps a rotated key listed
    /// for a while).
    async fn fetch_into(&self, held: &mut Held) -> Option<Arc<GithubKeys>> {
        held.tried_at = Some(Instant::now());
        match fetch(&self.client, &self.url).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                held.keys = Some(Arc::clone(&keys));
                held.fetched_at = held.tried_at;
                Some(keys)
            }
            Err(e) => {
                tracing::warn!(error = %e, held = held.keys.is_some(), "GitHub's keys were not fetched");
                None
            }
        }
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<GithubKeys, String> {
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("could not fetch GitHub's keys: {e}"))?;
    let text = response
        .text()
        .await
        .map_err(|e| format!("could not read GitHub's keys: {e}"))?;
    GithubKeys::parse(&text).map_err(|e| e.to_string())
}

#[async_trait]
impl GithubKeySource for PublishedGithubKeys {
    async fn keys(&self) -> Option<Arc<GithubKeys>> {
        let mut held = self.held.lock().await;
        let due = held
            .fetched_at
            .is_none_or(|fetched| fetched.elapsed() >= self.kept_for);
        if due && self.may_fetch(&held) {
            self.fetch_into(&mut held).await;
        }
        held.keys.clone()
    }

    async fn refetched(&self) -> Option<Arc<GithubKeys>> {
        let mut held = self.held.lock().await;
        if !self.may_fetch(&held) {
            return None;
        }
        self.fetch_into(&mut held).await
    }
}

/// The key set a deployment is given, if any: `GITHUB_SECRET_SCANNING_KEYS` (JSON in GitHub's
/// shape, or the path of a file holding it) or `GITHUB_SECRET_SCANNING_KEYS_URL`.
pub async fn github_keys(env: &Env) -> Result<Option<Arc<dyn GithubKeySource>>, ConfigError> {
    if let Some(given) = env.optional(KEYS).filter(|v| !v.trim().is_empty()) {
        let json = if given.trim_start().starts_with('{') {
            given.to_owned()
        } else {
            std::fs::read_to_string(given)
                .map_err(|e| ConfigError::new(KEYS, format!("cannot read {given}: {e}")))?
        };
        let keys = GithubKeys::parse(&json).map_err(|e| ConfigError::new(KEYS, e.to_string()))?;
        return Ok(Some(Arc::new(FixedGithubKeys(Arc::new(keys)))));
    }
    match env.optional(KEYS_URL).filter(|v| !v.trim().is_empty()) {
        Some(url) => Ok(Some(Arc::new(PublishedGithubKeys::start(url).await?))),
        None => Ok(None),
    }
}
