//! GitHub's secret scanning keys, as `github-leak-report` reads them: a key set given to the
//! deployment (`GITHUB_SECRET_SCANNING_KEYS`, inline JSON or a file), or GitHub's published one
//! (`GITHUB_SECRET_SCANNING_KEYS_URL`), fetched at cold start, kept an hour, and fetched again
//! early when a report names a key not known yet (GitHub rotates its keys).

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
/// A report naming an unknown key fetches again at most this often, so that a stranger's
/// made-up key identifiers cannot make this function hammer GitHub.
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(60);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// GitHub's published key set, cached.
pub struct PublishedGithubKeys {
    client: reqwest::Client,
    url: String,
    cached: Mutex<(Arc<GithubKeys>, Instant)>,
    kept_for: Duration,
    refresh_at_most_every: Duration,
}

impl PublishedGithubKeys {
    /// Fetches the key set once; a failure stops the cold start.
    pub async fn fetch(url: &str) -> Result<Self, ConfigError> {
        Self::fetch_with(url, KEPT_FOR, REFRESH_AT_MOST_EVERY).await
    }

    /// [`fetch`](Self::fetch), keeping the keys `kept_for` and fetching them again for an
    /// unknown key at most every `refresh_at_most_every`.
    pub async fn fetch_with(
        url: &str,
        kept_for: Duration,
        refresh_at_most_every: Duration,
    ) -> Result<Self, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .user_agent("clavis-secret-scanning")
            .build()
            .map_err(|e| ConfigError::new(KEYS_URL, format!("no HTTP client: {e}")))?;
        let keys = fetch(&client, url)
            .await
            .map_err(|e| ConfigError::new(KEYS_URL, e))?;
        Ok(Self {
            client,
            url: url.to_owned(),
            cached: Mutex::new((Arc::new(keys), Instant::now())),
            kept_for,
            refresh_at_most_every,
        })
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
    async fn keys(&self, refresh: bool) -> Arc<GithubKeys> {
        let mut cached = self.cached.lock().await;
        let age = cached.1.elapsed();
        if age < self.kept_for && !(refresh && age >= self.refresh_at_most_every) {
            return Arc::clone(&cached.0);
        }
        match fetch(&self.client, &self.url).await {
            Ok(keys) => *cached = (Arc::new(keys), Instant::now()),
            // The keys held stay good: GitHub keeps a rotated key listed for a while.
            Err(e) => {
                tracing::warn!(error = %e, "kept GitHub's cached keys");
                cached.1 = Instant::now();
            }
        }
        Arc::clone(&cached.0)
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
        Some(url) => Ok(Some(Arc::new(PublishedGithubKeys::fetch(url).await?))),
        None => Ok(None),
    }
}
