//! What reaches AWS at cold start: the SDK's configuration (timeouts, retries, credentials
//! from the environment), the DynamoDB client, and the keys and secrets read from Secrets
//! Manager and SSM. Each failure names the setting that pointed there.

use std::sync::Arc;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};

use clavis_core::idempotency::IdempotencyPepper;
use clavis_core::time::Clock;
use clavis_core::token::keys::SigningKey;
use clavis_core::token::{KeySet, Tokens};
use clavis_dynamodb::DynamoStore;

use crate::config::{ConfigError, Env, KeySource, StoreSettings, TokenSettings};

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

impl StoreSettings {
    /// A DynamoDB client. In AWS the credentials come from the environment Lambda sets, so no
    /// metadata endpoint is probed at cold start; DynamoDB Local gets fixed dummy credentials.
    pub async fn client(&self) -> Client {
        Client::new(&self.sdk_config())
    }

    /// A client of the table's stream, for the local gateway's publisher (in AWS, Lambda reads
    /// the stream).
    pub fn streams_client(&self) -> aws_sdk_dynamodbstreams::Client {
        aws_sdk_dynamodbstreams::Client::new(&self.sdk_config())
    }

    fn sdk_config(&self) -> SdkConfig {
        match &self.endpoint {
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
        }
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

#[derive(serde::Deserialize)]
struct SecretKeys {
    current: String,
    #[serde(default)]
    previous: Option<String>,
}

impl TokenSettings {
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
}

/// What a function's AWS clients other than DynamoDB's share: the region, and the
/// credentials Lambda puts in the environment.
pub(crate) fn function_sdk_config(region: &str) -> SdkConfig {
    sdk_config(
        region,
        SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()),
    )
}

/// A Secrets Manager secret's text, read once per cold start; `variable` names the setting
/// that named it.
pub(crate) async fn secret_string(
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
    let pepper = server_key(
        env,
        region,
        ("IDEMPOTENCY_PEPPER_SECRET_ID", "IDEMPOTENCY_PEPPER"),
        |bytes| IdempotencyPepper::from_bytes(bytes).ok(),
    )
    .await?;
    Ok(pepper.unwrap_or_else(IdempotencyPepper::generate))
}

/// A key of 32 or more random bytes the server holds: from the Secrets Manager secret the
/// first variable names, or inline in the second, as base64 either way; `None` without
/// either. `from_bytes` refuses a key that is too short.
pub(crate) async fn server_key<K>(
    env: &Env,
    region: &str,
    (secret_variable, inline_variable): (&str, &str),
    from_bytes: impl Fn(&[u8]) -> Option<K>,
) -> Result<Option<K>, ConfigError> {
    use base64::Engine;
    let decode = |variable: &str, text: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| from_bytes(&bytes))
            .map(Some)
            .ok_or_else(|| {
                ConfigError::new(variable, "must hold base64 of at least 32 random bytes")
            })
    };
    if let Some(secret_id) = env.optional(secret_variable) {
        return decode(
            secret_variable,
            &secret_string(region, secret_id, secret_variable).await?,
        );
    }
    match env.optional(inline_variable) {
        Some(inline) => decode(inline_variable, inline),
        None => Ok(None),
    }
}
