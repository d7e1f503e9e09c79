//! Settings read once per cold start. A missing or malformed setting stops the function at
//! start-up with a message naming the variable, instead of failing on the first request.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Credentials;
use chrono::Duration;

use crate::secret::SecretHasher;
use crate::store::Retention;
use crate::store::dynamodb::DynamoStore;
use crate::time::Clock;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {variable} {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &str, problem: impl Into<String>) -> Self {
        Self {
            variable: variable.to_owned(),
            problem: problem.into(),
        }
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
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let endpoint = env.optional("DYNAMODB_ENDPOINT").map(str::to_owned);
        let region = match (env.optional("AWS_REGION"), &endpoint) {
            (Some(region), _) => region.to_owned(),
            (None, Some(_)) => "us-east-1".to_owned(),
            (None, None) => env.required("AWS_REGION")?.to_owned(),
        };
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
        Ok(Self {
            table_name: env.required("TABLE_NAME")?.to_owned(),
            endpoint,
            region,
            retention: Retention {
                ended_credentials: days("CREDENTIAL_RETENTION_DAYS", defaults.ended_credentials)?,
                audit_events: days("AUDIT_RETENTION_DAYS", defaults.audit_events)?,
                usage_counters: defaults.usage_counters,
            },
        })
    }

    /// A DynamoDB client. In AWS the credentials come from the environment Lambda sets, so no
    /// metadata endpoint is probed at cold start; DynamoDB Local gets fixed dummy credentials.
    pub async fn client(&self) -> Client {
        let region = Region::new(self.region.clone());
        let config = match &self.endpoint {
            Some(endpoint) => {
                aws_config::defaults(BehaviorVersion::latest())
                    .region(region)
                    .endpoint_url(endpoint)
                    .credentials_provider(Credentials::new(
                        "local",
                        "local",
                        None,
                        None,
                        "clavis-local",
                    ))
                    .load()
                    .await
            }
            None => {
                aws_config::defaults(BehaviorVersion::latest())
                    .region(region)
                    .credentials_provider(EnvironmentVariableCredentialsProvider::new())
                    .load()
                    .await
            }
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

    #[test]
    fn argon2_cost_is_configurable_and_checked() {
        assert!(secret_hasher(&Env::default()).is_ok());
        assert!(secret_hasher(&Env::default().with("ARGON2_MEMORY_KIB", "1")).is_err());
        assert!(secret_hasher(&Env::default().with("ARGON2_ITERATIONS", "many")).is_err());
    }
}
