//! Settings read once per cold start. A missing or malformed setting stops the function at
//! start-up with a message naming the variable, instead of failing on the first request.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use chrono::Duration;

use clavis_core::authorizer::RouteScopes;
use clavis_core::catalogue::ScopeCatalogue;
use clavis_core::client_auth::ThrottlePolicy;
use clavis_core::credential::Environment;
use clavis_core::idempotency::IdempotencyPepper;
use clavis_core::secret::SecretHasher;
use clavis_core::store::Retention;
use clavis_core::time::Clock;
use clavis_core::token::keys::{KeyAlgorithm, SigningKey};
use clavis_core::token::{KeySet, PublicKeys, Tokens};
use clavis_dynamodb::DynamoStore;

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
    })
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

    /// A DynamoDB client. In AWS the credentials come from the environment Lambda sets, so no
    /// metadata endpoint is probed at cold start; DynamoDB Local gets fixed dummy credentials.
    pub async fn client(&self) -> Client {
        let config = match &self.endpoint {
            Some(endpoint) => sdk_config(
                &self.region,
                SharedCredentialsProvider::new(Credentials::new(
                    "local",
                    "local",
                    None,
                    None,
                    "clavis-local",
                )),
            )
            .into_builder()
            .endpoint_url(endpoint)
            .build(),
            None => sdk_config(
                &self.region,
                SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()),
            ),
        };
        Client::new(&config)
    }

    pub async fn dynamo_store(&self, clock: Arc<dyn Clock>) -> DynamoStore {
        DynamoStore::new(
            self.client().await,
            self.table_name.clone(),
            clock,
            self.retention,
        )
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

/// How long one AWS call may take, all attempts included. The SDK's own defaults bound only
/// the TCP connect (3.1 s): an endpoint that accepts a connection and then says nothing would
/// hold a request until the function's timeout killed it, with no answer to the caller.
///
/// The numbers, from the outside in: API Gateway gives up on an integration after 29-30 s, and
/// every function but the sweeper has `Timeout: 10` (infra/template.yaml). A request makes at
/// most three store calls one after another on its slowest path (the token endpoint: the
/// credential, the failure counter, the usage update; a management write: the read, the
/// transaction, a conflict's re-read), so one call must end within 3 s for the request to
/// answer before 10 s even when every call is at its limit. In an outage the first call fails
/// and the request answers 503 at once: within 3 s when DynamoDB is silent, in well under a
/// second when the connection is refused.
pub const AWS_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// One attempt: DynamoDB answers single-item and two-item transactional calls in milliseconds
/// (tens at the 99.9th percentile); an attempt still silent after 2 s is lost, and the retry
/// (if the 3 s above leave room) goes out on a fresh connection. Transactional writes carry a
/// client request token, so a retried commit is not applied twice.
const AWS_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// A connection to a regional endpoint takes milliseconds; one that takes a second is not
/// coming, and the next attempt gets the rest of the budget.
const AWS_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// What every AWS client shares, built without aws-config's default chains (profile files,
/// IMDS, SSO, STS): in Lambda the region and the credentials are in the environment, and
/// leaving the chains out keeps them out of every bootstrap. The SDK supplies the HTTPS client
/// and the async sleep; timeouts and retries are set here (see [`AWS_CALL_TIMEOUT`]).
///
/// Retries: three attempts (the SDK's standard strategy, which retries throttling, 5xx,
/// timeouts and dropped connections, within a client-wide retry quota), waiting a random
/// 0-100 ms and then 0-200 ms between them. That absorbs a brief burst of throttling, which on
/// an on-demand table clears in milliseconds, without spending the request's budget: throttling
/// that outlasts it answers 503 with `Retry-After`, and the caller retries.
fn sdk_config(region: &str, credentials: SharedCredentialsProvider) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(AWS_CONNECT_TIMEOUT)
                .operation_attempt_timeout(AWS_ATTEMPT_TIMEOUT)
                .operation_timeout(AWS_CALL_TIMEOUT)
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(std::time::Duration::from_millis(100))
                .with_max_backoff(std::time::Duration::from_secs(1)),
        )
        .build()
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

#[derive(serde::Deserialize)]
struct SecretKeys {
    current: String,
    #[serde(default)]
    previous: Option<String>,
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

    /// Loads the keys (in AWS from Secrets Manager for the issuer, from SSM for a verifier,
    /// in `region`) and builds the token issuer, or a verifier that can issue nothing.
    pub async fn tokens(&self, region: &str) -> Result<Tokens, ConfigError> {
        let (current, previous) = match &self.keys {
            KeySource::Pem { current, previous } => (current.clone(), previous.clone()),
            KeySource::PublicKeysParameter { name } => {
                const VARIABLE: &str = "PUBLIC_KEYS_PARAMETER_NAME";
                let parameter = aws_sdk_ssm::Client::new(&function_sdk_config(region))
                    .get_parameter()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| {
                        ConfigError::new(
                            VARIABLE,
                            format!(
                                "cannot be read: {}",
                                aws_sdk_ssm::error::DisplayErrorContext(e)
                            ),
                        )
                    })?;
                let jwks = parameter
                    .parameter()
                    .and_then(|p| p.value())
                    .unwrap_or_default();
                return self
                    .verifier(jwks)
                    .map_err(|e| ConfigError::new(VARIABLE, e));
            }
            KeySource::SecretsManager { secret_id } => {
                let secret = secret_string(region, secret_id, "SIGNING_KEYS_SECRET_ID").await?;
                let keys: SecretKeys = serde_json::from_str(&secret).map_err(|_| {
                    ConfigError::new(
                        "SIGNING_KEYS_SECRET_ID",
                        "must hold JSON {\"current\": \"<PEM>\", \"previous\": \"<PEM>\" or null}",
                    )
                })?;
                (keys.current, keys.previous)
            }
        };
        let key = |variable: &str, pem: &str| {
            SigningKey::from_pem(self.algorithm, pem)
                .map_err(|e| ConfigError::new(variable, e.to_string()))
        };
        let current = key("SIGNING_KEY_PEM", &current)?;
        let previous = previous
            .as_deref()
            .map(|pem| key("PREVIOUS_SIGNING_KEY_PEM", pem))
            .transpose()?;
        let keys = KeySet::new(current, previous)
            .map_err(|e| ConfigError::new("PREVIOUS_SIGNING_KEY_PEM", e.to_string()))?;
        Ok(Tokens::new(
            keys,
            self.issuer.clone(),
            self.audience.clone(),
        ))
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

/// What a function's AWS clients other than DynamoDB's share: the region, and the
/// credentials Lambda puts in the environment.
fn function_sdk_config(region: &str) -> SdkConfig {
    sdk_config(
        region,
        SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()),
    )
}

/// A Secrets Manager secret's text, read once per cold start; `variable` names the setting
/// that named it.
async fn secret_string(
    region: &str,
    secret_id: &str,
    variable: &str,
) -> Result<String, ConfigError> {
    let secret = aws_sdk_secretsmanager::Client::new(&function_sdk_config(region))
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            ConfigError::new(
                variable,
                format!(
                    "cannot be read: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                ),
            )
        })?;
    Ok(secret.secret_string().unwrap_or_default().to_owned())
}

/// The pepper idempotency records are sealed with: `IDEMPOTENCY_PEPPER_SECRET_ID` (a Secrets
/// Manager secret holding base64 of 32+ random bytes; the template gives it, and the grant to
/// read it, to create and rotate only), or `IDEMPOTENCY_PEPPER` (base64; the local gateway
/// keeps one under its data directory). Without either, one for this process's life: enough
/// for every function that seals nothing, and for tests.
pub async fn idempotency_pepper(env: &Env, region: &str) -> Result<IdempotencyPepper, ConfigError> {
    use base64::Engine;
    let decode = |variable: &str, text: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| IdempotencyPepper::from_bytes(&bytes).ok())
            .ok_or_else(|| {
                ConfigError::new(variable, "must hold base64 of at least 32 random bytes")
            })
    };
    if let Some(secret_id) = env.optional("IDEMPOTENCY_PEPPER_SECRET_ID") {
        const VARIABLE: &str = "IDEMPOTENCY_PEPPER_SECRET_ID";
        return decode(VARIABLE, &secret_string(region, secret_id, VARIABLE).await?);
    }
    if let Some(inline) = env.optional("IDEMPOTENCY_PEPPER") {
        return decode("IDEMPOTENCY_PEPPER", inline);
    }
    Ok(IdempotencyPepper::generate())
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
mod tests {
    use super::*;

    #[test]
    fn table_name_is_required() {
        let err =
            StoreSettings::from_env(&Env::default().with("AWS_REGION", "eu-west-1")).unwrap_err();
        assert_eq!(err.variable, "TABLE_NAME");
        assert!(err.to_string().contains("TABLE_NAME is required"));
    }

    #[test]
    fn region_is_required_in_aws_but_defaulted_locally() {
        let err = StoreSettings::from_env(&Env::default().with("TABLE_NAME", "t")).unwrap_err();
        assert_eq!(err.variable, "AWS_REGION");
        let local = StoreSettings::from_env(
            &Env::default()
                .with("TABLE_NAME", "t")
                .with("DYNAMODB_ENDPOINT", "http://127.0.0.1:1"),
        )
        .unwrap();
        assert_eq!(local.region, "us-east-1");
    }

    #[test]
    fn malformed_numbers_name_their_variable() {
        let env = Env::default()
            .with("TABLE_NAME", "t")
            .with("AWS_REGION", "eu-west-1")
            .with("AUDIT_RETENTION_DAYS", "a year");
        assert_eq!(
            StoreSettings::from_env(&env).unwrap_err().variable,
            "AUDIT_RETENTION_DAYS"
        );
        let env = env.with("AUDIT_RETENTION_DAYS", "0");
        assert_eq!(
            StoreSettings::from_env(&env).unwrap_err().variable,
            "AUDIT_RETENTION_DAYS"
        );
        let env = env.with("AUDIT_RETENTION_DAYS", "30");
        let settings = StoreSettings::from_env(&env).unwrap();
        assert_eq!(settings.retention.audit_events, Duration::days(30));
    }

    fn token_env() -> Env {
        let (_, pem) = SigningKey::generate(KeyAlgorithm::EdDsa).unwrap();
        Env::default()
            .with("TOKEN_ISSUER", "https://api.example.com/")
            .with("TOKEN_AUDIENCE", "clavis-api")
            .with("SIGNING_ALGORITHM", "EdDSA")
            .with("SIGNING_KEY_PEM", pem)
    }

    #[tokio::test]
    async fn token_settings_load_pem_keys() {
        let settings = TokenSettings::from_env(&token_env()).unwrap();
        assert_eq!(settings.issuer, "https://api.example.com");
        assert!(
            !format!("{settings:?}").contains("PRIVATE KEY"),
            "keys never print"
        );
        let tokens = settings.tokens("eu-west-1").await.unwrap();
        assert_eq!(tokens.public_keys().jwks().keys.len(), 1);
        assert!(tokens.signing_key().is_some());
    }

    #[tokio::test]
    async fn token_settings_name_what_is_wrong() {
        let missing = |variable: &str| {
            let mut env = token_env();
            env.0.remove(variable);
            TokenSettings::from_env(&env).unwrap_err().variable
        };
        assert_eq!(missing("TOKEN_ISSUER"), "TOKEN_ISSUER");
        assert_eq!(missing("TOKEN_AUDIENCE"), "TOKEN_AUDIENCE");
        assert_eq!(missing("SIGNING_KEY_PEM"), "SIGNING_KEYS_SECRET_ID");
        let bad = |variable: &str, value: &str| {
            TokenSettings::from_env(&token_env().with(variable, value))
                .unwrap_err()
                .variable
        };
        assert_eq!(bad("TOKEN_ISSUER", "api.example.com"), "TOKEN_ISSUER");
        assert_eq!(bad("SIGNING_ALGORITHM", "HS256"), "SIGNING_ALGORITHM");
        assert_eq!(bad("SIGNING_KEYS_SECRET_ID", "arn:x"), "SIGNING_KEY_PEM");
        assert_eq!(
            bad("TOKEN_FAILURE_LIMIT", "0"),
            "TOKEN_FAILURE_LIMIT/TOKEN_FAILURE_WINDOW_SECONDS"
        );
        assert_eq!(bad("USAGE_FLUSH_SECONDS", "0"), "USAGE_FLUSH_SECONDS");
        assert_eq!(bad("USAGE_FLUSH_SECONDS", "301"), "USAGE_FLUSH_SECONDS");
        assert_eq!(bad("USAGE_FLUSH_SECONDS", "soon"), "USAGE_FLUSH_SECONDS");
        let garbled = TokenSettings::from_env(
            &token_env().with("SIGNING_KEY_PEM", "-----BEGIN PRIVATE KEY-----"),
        )
        .unwrap();
        assert_eq!(
            garbled.tokens("eu-west-1").await.unwrap_err().variable,
            "SIGNING_KEY_PEM"
        );
    }

    #[test]
    fn argon2_cost_is_configurable_and_checked() {
        assert!(secret_hasher(&Env::default()).is_ok());
        assert!(secret_hasher(&Env::default().with("ARGON2_MEMORY_KIB", "1")).is_err());
        assert!(secret_hasher(&Env::default().with("ARGON2_ITERATIONS", "many")).is_err());
    }

    #[test]
    fn a_bad_scope_catalogue_stops_the_cold_start_naming_the_variable() {
        let error = scope_catalogue(&Env::default().with("SCOPE_CATALOGUE", "[{]")).unwrap_err();
        assert!(error.to_string().contains("SCOPE_CATALOGUE"), "{error}");
        assert_eq!(
            scope_catalogue(&Env::default()).unwrap(),
            ScopeCatalogue::default()
        );
    }
}
