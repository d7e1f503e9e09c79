//! Settings read once per cold start. A missing or malformed setting stops the function at
//! start-up with a message naming the variable, instead of failing on the first request.
//! Reading them needs no AWS: what fetches keys and secrets and builds clients is `aws`.

use std::collections::HashMap;

use chrono::Duration;

use clavis_core::authorizer::RouteScopes;
use clavis_core::catalogue::ScopeCatalogue;
use clavis_core::client_auth::ThrottlePolicy;
use clavis_core::credential::Environment;
use clavis_core::secret::SecretHasher;
use clavis_core::store::Retention;
use clavis_core::token::keys::KeyAlgorithm;
use clavis_core::token::{PublicKeys, Tokens};
use clavis_core::webhook::DestinationRules;
use clavis_core::webhook::delivery::RetrySchedule;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {variable} {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &str, problem: impl Into<String>) -> Self {
        Self {
            variable: variable.to_owned(),
            problem: problem.into(),
        }
    }
}

/// The platform's scope catalogue (`SCOPE_CATALOGUE`: a JSON file's path, or the JSON); empty,
/// accepting every well-formed scope, when unset.
pub fn scope_catalogue(env: &Env) -> Result<ScopeCatalogue, ConfigError> {
    match env.optional("SCOPE_CATALOGUE") {
        None => Ok(ScopeCatalogue::default()),
        Some(setting) => ScopeCatalogue::from_setting(setting)
            .map_err(|e| ConfigError::new("SCOPE_CATALOGUE", e.to_string())),
    }
}

/// Where settings come from: the process environment in Lambda, a map in tests and the local
/// gateway (which must not mutate its own environment to configure handlers).
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    pub fn optional(&self, variable: &str) -> Option<&str> {
        self.0
            .get(variable)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn required(&self, variable: &str) -> Result<&str, ConfigError> {
        self.optional(variable)
            .ok_or_else(|| ConfigError::new(variable, "is required but not set"))
    }

    pub fn number<T: std::str::FromStr>(
        &self,
        variable: &str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.optional(variable) {
            None => Ok(default),
            Some(text) => text.trim().parse().map_err(|_| {
                ConfigError::new(variable, format!("must be a whole number, not {text:?}"))
            }),
        }
    }
}

/// How long ended items are kept, and how early an expiry is noticed:
/// `CREDENTIAL_RETENTION_DAYS`, `AUDIT_RETENTION_DAYS`, `EXPIRY_NOTICE_DAYS` (1 to 3650 each).
pub fn retention(env: &Env) -> Result<Retention, ConfigError> {
    let defaults = Retention::default();
    let days = |variable: &str, default: Duration| -> Result<Duration, ConfigError> {
        let days: i64 = env.number(variable, default.num_days())?;
        if !(1..=3650).contains(&days) {
            return Err(ConfigError::new(
                variable,
                "must be between 1 and 3650 days",
            ));
        }
        Ok(Duration::days(days))
    };
    Ok(Retention {
        ended_credentials: days("CREDENTIAL_RETENTION_DAYS", defaults.ended_credentials)?,
        audit_events: days("AUDIT_RETENTION_DAYS", defaults.audit_events)?,
        usage_counters: defaults.usage_counters,
        expiry_notice: days("EXPIRY_NOTICE_DAYS", defaults.expiry_notice)?,
        secret_fingerprints: defaults.secret_fingerprints,
    })
}

/// Where webhooks may point and how deliveries are retried: `WEBHOOK_ALLOW_PRIVATE`
/// (`true` lets `http://` and internal addresses through, for a receiver on this machine) and
/// `WEBHOOK_RETRY_SCHEDULE` (comma-separated seconds between attempts).
#[derive(Debug, Clone, Default)]
pub struct WebhookSettings {
    pub rules: DestinationRules,
    pub schedule: RetrySchedule,
}

impl WebhookSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let allow_private = match env.optional("WEBHOOK_ALLOW_PRIVATE") {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ConfigError::new(
                    "WEBHOOK_ALLOW_PRIVATE",
                    "must be true or false",
                ));
            }
        };
        let schedule = match env.optional("WEBHOOK_RETRY_SCHEDULE") {
            None | Some("") => RetrySchedule::default(),
            Some(text) => RetrySchedule::parse(text)
                .map_err(|e| ConfigError::new("WEBHOOK_RETRY_SCHEDULE", e.to_string()))?,
        };
        Ok(Self {
            rules: DestinationRules { allow_private },
            schedule,
        })
    }
}

/// Where the table lives and how long ended items are kept.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub table_name: String,
    /// Set for DynamoDB Local; unset in AWS.
    pub endpoint: Option<String>,
    pub region: String,
    pub retention: Retention,
}

impl StoreSettings {
    /// DynamoDB Local at `endpoint` (any region and credentials do), default retention.
    pub fn local(endpoint: &str, table_name: &str) -> Self {
        Self {
            table_name: table_name.to_owned(),
            endpoint: Some(endpoint.to_owned()),
            region: "us-east-1".to_owned(),
            retention: Retention::default(),
        }
    }

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let endpoint = env.optional("DYNAMODB_ENDPOINT").map(str::to_owned);
        let region = match (env.optional("AWS_REGION"), &endpoint) {
            (Some(region), _) => region.to_owned(),
            (None, Some(_)) => "us-east-1".to_owned(),
            (None, None) => env.required("AWS_REGION")?.to_owned(),
        };
        Ok(Self {
            table_name: env.required("TABLE_NAME")?.to_owned(),
            endpoint,
            region,
            retention: retention(env)?,
        })
    }

    /// The same settings with `retention` (e.g. read with [`retention`] for DynamoDB Local).
    pub fn with_retention(self, retention: Retention) -> Self {
        Self { retention, ..self }
    }
}

/// Where the token keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// A Secrets Manager secret holding `{"current": "<PEM>", "previous": "<PEM>" | null}`, read
    /// once per cold start: the key never sits in the function's configuration. Only the token
    /// issuer is given this (and the IAM grant to read it).
    SecretsManager { secret_id: String },
    /// An SSM parameter holding the public JWKS (current key first, at most the previous one
    /// after it), written by the key set-up and rotation steps: what every function that only
    /// verifies tokens reads, so that none of them can sign.
    PublicKeysParameter { name: String },
    /// PEM text in the environment: local development and tests.
    Pem {
        current: String,
        previous: Option<String>,
    },
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::SecretsManager { secret_id } => write!(f, "SecretsManager({secret_id})"),
            KeySource::PublicKeysParameter { name } => write!(f, "PublicKeysParameter({name})"),
            KeySource::Pem { .. } => f.write_str("Pem(<redacted>)"),
        }
    }
}

/// What the OAuth functions need beyond the store.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The public base URL of the API, e.g. `https://api.example.com`: the `iss` of every token,
    /// and where `/.well-known/openid-configuration` is served.
    pub issuer: String,
    pub audience: String,
    pub algorithm: KeyAlgorithm,
    pub keys: KeySource,
    pub throttle: ThrottlePolicy,
    /// Verified secrets remembered per warm instance (0 turns the cache off).
    pub verification_cache_entries: usize,
    /// How often each warm instance writes the uses it counted: what a crash can lose.
    pub usage_flush_interval: std::time::Duration,
}

impl TokenSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let issuer = env
            .required("TOKEN_ISSUER")?
            .trim_end_matches('/')
            .to_owned();
        if !(issuer.starts_with("https://") || issuer.starts_with("http://"))
            || issuer.contains(['?', '#'])
        {
            return Err(ConfigError::new(
                "TOKEN_ISSUER",
                "must be the API's base URL, e.g. https://api.example.com",
            ));
        }
        let algorithm = env
            .optional("SIGNING_ALGORITHM")
            .unwrap_or("RS256")
            .parse::<KeyAlgorithm>()
            .map_err(|e| ConfigError::new("SIGNING_ALGORITHM", e.0))?;
        let keys = match (
            env.optional("SIGNING_KEYS_SECRET_ID"),
            env.optional("PUBLIC_KEYS_PARAMETER_NAME"),
            env.optional("SIGNING_KEY_PEM"),
        ) {
            (Some(secret_id), None, None) => KeySource::SecretsManager {
                secret_id: secret_id.to_owned(),
            },
            (None, Some(name), None) => KeySource::PublicKeysParameter {
                name: name.to_owned(),
            },
            (None, None, Some(pem)) => KeySource::Pem {
                current: pem.to_owned(),
                previous: env.optional("PREVIOUS_SIGNING_KEY_PEM").map(str::to_owned),
            },
            (None, None, None) => {
                return Err(ConfigError::new(
                    "SIGNING_KEYS_SECRET_ID",
                    "(or PUBLIC_KEYS_PARAMETER_NAME for a function that only verifies tokens, \
                     or SIGNING_KEY_PEM locally) is required",
                ));
            }
            (_, _, Some(_)) => {
                return Err(ConfigError::new(
                    "SIGNING_KEY_PEM",
                    "must not be set together with SIGNING_KEYS_SECRET_ID or PUBLIC_KEYS_PARAMETER_NAME",
                ));
            }
            (Some(_), Some(_), None) => {
                return Err(ConfigError::new(
                    "PUBLIC_KEYS_PARAMETER_NAME",
                    "must not be set together with SIGNING_KEYS_SECRET_ID: a function either \
                     issues tokens or only verifies them",
                ));
            }
        };
        let window: i64 = env.number("TOKEN_FAILURE_WINDOW_SECONDS", 300)?;
        let max_failures: u32 = env.number("TOKEN_FAILURE_LIMIT", 10)?;
        if !(1..=86_400).contains(&window) || max_failures == 0 {
            return Err(ConfigError::new(
                "TOKEN_FAILURE_LIMIT/TOKEN_FAILURE_WINDOW_SECONDS",
                "must be at least 1 (and the window at most a day)",
            ));
        }
        // At least as many as one client ID may fail from the address.
        let max_address_failures: u32 =
            env.number("ADDRESS_FAILURE_LIMIT", max_failures.max(100))?;
        if max_address_failures < max_failures {
            return Err(ConfigError::new(
                "ADDRESS_FAILURE_LIMIT",
                "must be at least TOKEN_FAILURE_LIMIT",
            ));
        }
        let flush_seconds: u64 = env.number("USAGE_FLUSH_SECONDS", 1)?;
        if !(1..=300).contains(&flush_seconds) {
            return Err(ConfigError::new(
                "USAGE_FLUSH_SECONDS",
                "must be from 1 to 300",
            ));
        }
        Ok(Self {
            issuer,
            audience: env.required("TOKEN_AUDIENCE")?.to_owned(),
            algorithm,
            keys,
            throttle: ThrottlePolicy {
                max_failures,
                max_address_failures,
                window: Duration::seconds(window),
            },
            verification_cache_entries: env.number("VERIFICATION_CACHE_ENTRIES", 10_000)?,
            usage_flush_interval: std::time::Duration::from_secs(flush_seconds),
        })
    }

    /// A verifier from a published JWKS (`{"keys": [...]}`).
    pub fn verifier(&self, jwks: &str) -> Result<Tokens, String> {
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(jwks)
            .map_err(|_| "must hold a JWKS: {\"keys\": [current, previous?]}".to_owned())?;
        let public = PublicKeys::from_jwks(&jwks).map_err(|e| e.to_string())?;
        Ok(Tokens::verifying(
            public,
            self.issuer.clone(),
            self.audience.clone(),
        ))
    }
}

/// What the authorizer reads beyond the token settings.
#[derive(Debug, Clone)]
pub struct AuthorizerSettings {
    pub routes: RouteScopes,
    /// How stale a credential's status may be (`LIVE_STATUS_MAX_AGE_SECONDS`); zero, the
    /// default, reads it on every request.
    pub live_status_max_age: std::time::Duration,
    /// The environments whose keys this API takes (`ACCEPTED_ENVIRONMENTS`, default both): a
    /// production API sets `live`, so a test key gets nothing there.
    pub accepted_environments: Vec<Environment>,
}

/// The longest staleness an operator may choose: revocation must stay prompt.
const MAX_LIVE_STATUS_AGE_SECONDS: u64 = 300;

impl AuthorizerSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let routes = RouteScopes::parse(env.required("ROUTE_SCOPES")?)
            .map_err(|e| ConfigError::new("ROUTE_SCOPES", e))?;
        let max_age: u64 = env.number("LIVE_STATUS_MAX_AGE_SECONDS", 0)?;
        if max_age > MAX_LIVE_STATUS_AGE_SECONDS {
            return Err(ConfigError::new(
                "LIVE_STATUS_MAX_AGE_SECONDS",
                format!("must be from 0 to {MAX_LIVE_STATUS_AGE_SECONDS}"),
            ));
        }
        let accepted_environments = accepted_environments(env)?;
        Ok(Self {
            routes,
            live_status_max_age: std::time::Duration::from_secs(max_age),
            accepted_environments,
        })
    }
}

/// `ACCEPTED_ENVIRONMENTS`: comma-separated `live`/`test`, at least one; both by default.
fn accepted_environments(env: &Env) -> Result<Vec<Environment>, ConfigError> {
    const VARIABLE: &str = "ACCEPTED_ENVIRONMENTS";
    let Some(list) = env.optional(VARIABLE) else {
        return Ok(vec![Environment::Live, Environment::Test]);
    };
    let mut accepted = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let environment = Environment::parse(name).ok_or_else(|| {
            ConfigError::new(
                VARIABLE,
                format!("names {name:?}: use live, test or live,test"),
            )
        })?;
        if !accepted.contains(&environment) {
            accepted.push(environment);
        }
    }
    if accepted.is_empty() {
        return Err(ConfigError::new(
            VARIABLE,
            "must name at least one of live and test",
        ));
    }
    Ok(accepted)
}

/// argon2id cost, OWASP's by default.
pub fn secret_hasher(env: &Env) -> Result<SecretHasher, ConfigError> {
    let memory = env.number("ARGON2_MEMORY_KIB", SecretHasher::DEFAULT_MEMORY_KIB)?;
    let iterations = env.number("ARGON2_ITERATIONS", SecretHasher::DEFAULT_ITERATIONS)?;
    let parallelism = env.number("ARGON2_PARALLELISM", SecretHasher::DEFAULT_PARALLELISM)?;
    SecretHasher::new(memory, iterations, parallelism).map_err(|e| {
        ConfigError::new(
            "ARGON2_MEMORY_KIB/ARGON2_ITERATIONS/ARGON2_PARALLELISM",
            e.to_string(),
        )
    })
}

#[cfg(test)]
mod tests;
