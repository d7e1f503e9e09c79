//! The composition root: what each function builds once per cold start from its settings, and
//! [`Deployment`], every function's state over one store for a process that serves them all
//! (the local gateway and the test harness). Both go through the same constructors, so the
//! wiring a test exercises is the wiring a Lambda function runs.

use std::sync::Arc;

use clavis_api::state::{App, AuthorizerApp, GithubLeaksApp, LeaksApp, OAuthApp};
use clavis_core::leak::{FixedGithubKeys, GithubKeys};
use clavis_core::leak_service::LeakResponder;

use crate::github_keys::github_keys;
use clavis_core::authorizer::{ApiRules, RequestVerifier};
use clavis_core::catalogue::ScopeCatalogue;
use clavis_core::client_auth::{ClientAuthenticator, VerificationCache};
use clavis_dynamodb::DynamoStore;

use crate::aws::idempotency_pepper;
use crate::config::{
    AuthorizerSettings, ConfigError, Env, StoreSettings, TokenSettings, retention, scope_catalogue,
    secret_hasher,
};
use clavis_api::state::WebhooksApp;
use clavis_core::events::{Deliverer, DeliveryQueue, Publisher, WebhookSender};
use clavis_core::idempotency::IdempotencyPepper;
use clavis_core::secret::SecretHasher;
use clavis_core::service::CredentialService;
use clavis_core::store::{
    ClientPorts, DeliveryPorts, LeakPorts, ManagementPorts, SharedStore, Store, SweepPorts,
    TokenPorts, UsageWriter, VerifierPorts, WebhookPorts,
};
use clavis_core::webhook::SealingKey;
use clavis_core::webhook_service::{HostResolver, WebhookService};

use crate::config::WebhookSettings;
use crate::webhooks::{
    EventBridgeBus, HttpSender, SqsQueue, SystemResolver, sealing_key, webhook_url_key,
};
use clavis_core::sweep::Sweeper;
use clavis_core::time::{Clock, SystemClock};
use clavis_core::token::Tokens;
use clavis_core::token_service::TokenService;
use clavis_core::usage::UsageRecorder;

/// One store seen as the bundles of ports the services hold. A Lambda function holds its
/// `DynamoStore` itself, so that its bootstrap links the implementations of only the ports it
/// asks for here; a process serving every function holds it as a [`Store`].
pub trait Ports {
    fn client(&self) -> Arc<dyn ClientPorts>;
    fn token(&self) -> Arc<dyn TokenPorts>;
    fn verifier(&self) -> Arc<dyn VerifierPorts>;
    fn usage(&self) -> Arc<dyn UsageWriter>;
    fn management(&self) -> Arc<dyn ManagementPorts>;
    fn sweep(&self) -> Arc<dyn SweepPorts>;
    fn webhooks(&self) -> Arc<dyn WebhookPorts>;
    fn deliveries(&self) -> Arc<dyn DeliveryPorts>;
    fn leaks(&self) -> Arc<dyn LeakPorts>;
}

macro_rules! ports_of {
    ($store:ty) => {
        impl Ports for Arc<$store> {
            fn client(&self) -> Arc<dyn ClientPorts> {
                self.clone()
            }
            fn token(&self) -> Arc<dyn TokenPorts> {
                self.clone()
            }
            fn verifier(&self) -> Arc<dyn VerifierPorts> {
                self.clone()
            }
            fn usage(&self) -> Arc<dyn UsageWriter> {
                self.clone()
            }
            fn management(&self) -> Arc<dyn ManagementPorts> {
                self.clone()
            }
            fn sweep(&self) -> Arc<dyn SweepPorts> {
                self.clone()
            }
            fn webhooks(&self) -> Arc<dyn WebhookPorts> {
                self.clone()
            }
            fn deliveries(&self) -> Arc<dyn DeliveryPorts> {
                self.clone()
            }
            fn leaks(&self) -> Arc<dyn LeakPorts> {
                self.clone()
            }
        }
    };
}

ports_of!(DynamoStore);
ports_of!(dyn Store);

/// State a Lambda function builds once per cold start from its environment, failing on the
/// first setting missing or malformed, with the variable's name.
pub trait FromEnv: Sized + Send + Sync + 'static {
    fn from_env(env: &Env) -> impl Future<Output = Result<Self, ConfigError>> + Send;
}

/// The management functions' state. Only the catalogue's scopes may be given to credentials
/// (any well-formed scope when it is empty).
fn management_app(
    store: Arc<dyn ManagementPorts>,
    hasher: Arc<SecretHasher>,
    clock: Arc<dyn Clock>,
    catalogue: ScopeCatalogue,
    pepper: IdempotencyPepper,
) -> App {
    App {
        credentials: CredentialService::new(store, hasher, clock, Arc::new(pepper))
            .with_catalogue(catalogue),
    }
}

impl FromEnv for App {
    async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = StoreSettings::from_env(env)?;
        let hasher = Arc::new(secret_hasher(env)?);
        let catalogue = scope_catalogue(env)?;
        let pepper = idempotency_pepper(env, &settings.region).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(settings.dynamo_store(Arc::clone(&clock)).await);
        Ok(management_app(
            store.management(),
            hasher,
            clock,
            catalogue,
            pepper,
        ))
    }
}

/// What every function that authenticates clients reads at cold start: the OAuth functions
/// and the request authorizer.
pub struct ClientSettings {
    pub store: Arc<DynamoStore>,
    pub hasher: Arc<SecretHasher>,
    pub clock: Arc<dyn Clock>,
    pub tokens: Tokens,
    pub settings: TokenSettings,
}

impl ClientSettings {
    pub async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let store_settings = StoreSettings::from_env(env)?;
        let settings = TokenSettings::from_env(env)?;
        let hasher = Arc::new(secret_hasher(env)?);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let tokens = settings.tokens(&store_settings.region).await?;
        let store = Arc::new(store_settings.dynamo_store(Arc::clone(&clock)).await);
        Ok(Self {
            store,
            hasher,
            clock,
            tokens,
            settings,
        })
    }
}

/// A client authenticator with its per-instance verification cache, and where the instance
/// counts uses: built alike by the OAuth functions and the request authorizer.
pub fn client_parts(
    store: &impl Ports,
    hasher: Arc<SecretHasher>,
    clock: Arc<dyn Clock>,
    settings: &TokenSettings,
) -> (ClientAuthenticator, Arc<UsageRecorder>) {
    let cache = VerificationCache::new(settings.verification_cache_entries);
    let usage = Arc::new(UsageRecorder::new(
        store.usage(),
        settings.usage_flush_interval,
    ));
    let clients = ClientAuthenticator::new(store.client(), hasher, clock, cache, settings.throttle)
        .counting_refusals(Arc::clone(&usage));
    (clients, usage)
}

/// The OAuth functions' state: the token service, with the store, the signing keys, and the
/// client authenticator with its per-instance verification cache.
pub fn oauth_app(
    store: &impl Ports,
    hasher: Arc<SecretHasher>,
    clock: Arc<dyn Clock>,
    tokens: Tokens,
    settings: &TokenSettings,
) -> OAuthApp {
    let (clients, usage) = client_parts(store, hasher, Arc::clone(&clock), settings);
    OAuthApp {
        tokens: TokenService::new(clients, tokens, store.token(), clock, usage),
    }
}

impl FromEnv for OAuthApp {
    async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let c = ClientSettings::from_env(env).await?;
        Ok(oauth_app(
            &c.store,
            c.hasher,
            c.clock,
            c.tokens,
            &c.settings,
        ))
    }
}

/// What `authorize-request` builds once per cold start.
pub fn authorizer_app(
    store: &impl Ports,
    hasher: Arc<SecretHasher>,
    clock: Arc<dyn Clock>,
    tokens: Tokens,
    token_settings: &TokenSettings,
    settings: AuthorizerSettings,
) -> AuthorizerApp {
    let (clients, usage) = client_parts(store, hasher, Arc::clone(&clock), token_settings);
    AuthorizerApp {
        verifier: RequestVerifier::new(
            ApiRules {
                routes: settings.routes,
                accepted_environments: settings.accepted_environments,
                live_status_max_age: settings.live_status_max_age,
            },
            tokens,
            clients,
            store.verifier(),
            clock,
            usage,
        ),
    }
}

impl FromEnv for AuthorizerApp {
    /// `ROUTE_SCOPES` is read first: a bad route table stops the cold start before any client
    /// is built.
    async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = AuthorizerSettings::from_env(env)?;
        let c = ClientSettings::from_env(env).await?;
        Ok(authorizer_app(
            &c.store,
            c.hasher,
            c.clock,
            c.tokens,
            &c.settings,
            settings,
        ))
    }
}

impl FromEnv for Sweeper {
    async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = StoreSettings::from_env(env)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(settings.dynamo_store(Arc::clone(&clock)).await);
        Ok(Self::new(store, clock, settings.retention.expiry_notice))
    }
}

/// The webhook functions' state: the sealing key only where it is configured (the template
/// gives it to `issue-webhook-secret` alone among them).
pub fn webhooks_app(
    store: Arc<dyn WebhookPorts>,
    clock: Arc<dyn Clock>,
    settings: &WebhookSettings,
    resolver: Arc<dyn HostResolver>,
    sealing: Option<Arc<SealingKey>>,
) -> WebhooksApp {
    let mut webhooks = WebhookService::new(store, Arc::clone(&clock), settings.rules, resolver);
    if let Some(sealing) = sealing {
        webhooks = webhooks.issuing_secrets(sealing);
    }
    WebhooksApp { webhooks, clock }
}

impl FromEnv for WebhooksApp {
    async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let store_settings = StoreSettings::from_env(env)?;
        let settings = WebhookSettings::from_env(env)?;
        let sealing = sealing_key(env, &store_settings.region)
            .await?
            .map(Arc::new);
        let urls = webhook_url_key(env, &store_settings.region).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(
            store_settings
                .dynamo_store(Arc::clone(&clock))
                .await
                .with_webhook_url_key(urls),
        );
        Ok(webhooks_app(
            store.webhooks(),
            clock,
            &settings,
            Arc::new(SystemResolver),
            sealing,
        ))
    }
}

/// The queue of deliveries: `WEBHOOK_QUEUE_URL`.
fn sqs_queue(env: &Env, region: &str) -> Result<Arc<dyn DeliveryQueue>, ConfigError> {
    let url = env.required("WEBHOOK_QUEUE_URL")?;
    let client = aws_sdk_sqs::Client::new(&crate::aws::function_sdk_config(region));
    Ok(Arc::new(SqsQueue::new(client, url)))
}

/// `publish-events`: the table's stream to deliveries on the queue (and, with
/// `EVENT_BUS_NAME`, every event to that EventBridge bus).
pub struct PublisherApp {
    pub publisher: Publisher,
}

impl FromEnv for PublisherApp {
    async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = StoreSettings::from_env(env)?;
        let queue = sqs_queue(env, &settings.region)?;
        let urls = webhook_url_key(env, &settings.region).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(
            settings
                .dynamo_store(Arc::clone(&clock))
                .await
                .with_webhook_url_key(urls),
        );
        let mut publisher = Publisher::new(store.deliveries(), queue, clock);
        if let Some(bus) = env.optional("EVENT_BUS_NAME").filter(|b| !b.is_empty()) {
            let client = aws_sdk_eventbridge::Client::new(&crate::aws::function_sdk_config(
                &settings.region,
            ));
            publisher = publisher.with_bus(Arc::new(EventBridgeBus::new(client, bus)));
        }
        Ok(Self { publisher })
    }
}

/// `deliver-webhooks`: one attempt per queued ticket. It cannot sign without the sealing key,
/// so a missing key stops the cold start.
pub struct DelivererApp {
    pub deliverer: Deliverer,
}

/// A deliverer over `store`, posting with `sender` and queueing follow-ups on `queue`.
pub fn deliverer(
    store: Arc<dyn DeliveryPorts>,
    queue: Arc<dyn DeliveryQueue>,
    sender: Arc<dyn WebhookSender>,
    sealing: Arc<SealingKey>,
    settings: &WebhookSettings,
    clock: Arc<dyn Clock>,
) -> Deliverer {
    Deliverer::new(
        store,
        queue,
        sender,
        sealing,
        settings.schedule.clone(),
        clock,
    )
}

impl FromEnv for DelivererApp {
    async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let store_settings = StoreSettings::from_env(env)?;
        let settings = WebhookSettings::from_env(env)?;
        let sealing = sealing_key(env, &store_settings.region)
            .await?
            .ok_or_else(|| {
                ConfigError::new("WEBHOOK_SEALING_KEY_SECRET_ID", "is required but not set")
            })?;
        let queue = sqs_queue(env, &store_settings.region)?;
        let urls = webhook_url_key(env, &store_settings.region).await?;
        let sender = Arc::new(HttpSender::new(settings.rules)?);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(
            store_settings
                .dynamo_store(Arc::clone(&clock))
                .await
                .with_webhook_url_key(urls),
        );
        Ok(Self {
            deliverer: deliverer(
                store.deliveries(),
                queue,
                sender,
                Arc::new(sealing),
                &settings,
                clock,
            ),
        })
    }
}

impl FromEnv for LeaksApp {
    async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = StoreSettings::from_env(env)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(settings.dynamo_store(Arc::clone(&clock)).await);
        Ok(Self {
            leaks: LeakResponder::new(store.leaks(), clock),
        })
    }
}

/// `github-leak-report` cannot check a report without GitHub's keys: without them the cold
/// start stops.
impl FromEnv for GithubLeaksApp {
    async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = StoreSettings::from_env(env)?;
        let keys = github_keys(env).await?.ok_or_else(|| {
            ConfigError::new(
                "GITHUB_SECRET_SCANNING_KEYS_URL",
                "is required (or GITHUB_SECRET_SCANNING_KEYS) but neither is set",
            )
        })?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(settings.dynamo_store(Arc::clone(&clock)).await);
        Ok(Self {
            leaks: LeakResponder::new(store.leaks(), clock),
            keys,
        })
    }
}

/// The state of every function a route of the table reaches, as one gateway serves them.
#[derive(Clone)]
pub struct RoutedFunctions {
    pub management: Arc<App>,
    pub oauth: Arc<OAuthApp>,
    pub webhooks: Arc<WebhooksApp>,
    pub leaks: Arc<LeaksApp>,
    /// Without GitHub's keys configured, every GitHub report is refused (401).
    pub github: Arc<GithubLeaksApp>,
}

/// Every function's state over one store, as one process serving them all holds it.
pub struct Deployment {
    pub routed: RoutedFunctions,
    /// Built when `ROUTE_SCOPES` is set: the routes of a platform's API to verify requests to.
    pub authorizer: Option<Arc<AuthorizerApp>>,
    pub sweeper: Sweeper,
    /// The webhook settings and sealing key the process's own publisher and deliverer use (the
    /// local gateway's in-process delivery).
    pub webhook_settings: WebhookSettings,
    pub sealing: Arc<SealingKey>,
}

impl Deployment {
    /// Reads the settings the functions read (the store's own are the caller's: it built the
    /// store), from `env` as given.
    pub async fn build(
        store: SharedStore,
        clock: Arc<dyn Clock>,
        env: &Env,
    ) -> Result<Self, ConfigError> {
        let hasher = Arc::new(secret_hasher(env)?);
        let token_settings = TokenSettings::from_env(env)?;
        let region = env.optional("AWS_REGION").unwrap_or("us-east-1");
        let tokens = token_settings.tokens(region).await?;
        let authorizer = match env.optional("ROUTE_SCOPES") {
            None => None,
            Some(_) => Some(Arc::new(authorizer_app(
                &store,
                Arc::clone(&hasher),
                Arc::clone(&clock),
                // As in AWS, the authorizer holds the public keys only.
                tokens.verifying_only(),
                &token_settings,
                AuthorizerSettings::from_env(env)?,
            ))),
        };
        let oauth = Arc::new(oauth_app(
            &store,
            Arc::clone(&hasher),
            Arc::clone(&clock),
            tokens,
            &token_settings,
        ));
        let sweeper = Sweeper::new(
            store.sweep(),
            Arc::clone(&clock),
            retention(env)?.expiry_notice,
        );
        let webhook_settings = WebhookSettings::from_env(env)?;
        // One process issues and delivers: without a configured key, one for its life.
        let sealing = Arc::new(
            sealing_key(env, region)
                .await?
                .unwrap_or_else(SealingKey::generate),
        );
        let webhooks = Arc::new(webhooks_app(
            store.webhooks(),
            Arc::clone(&clock),
            &webhook_settings,
            Arc::new(SystemResolver),
            Some(Arc::clone(&sealing)),
        ));
        let keys = github_keys(env)
            .await?
            .unwrap_or_else(|| Arc::new(FixedGithubKeys(Arc::new(GithubKeys::none()))));
        let leaks = Arc::new(LeaksApp {
            leaks: LeakResponder::new(store.leaks(), Arc::clone(&clock)),
        });
        let github = Arc::new(GithubLeaksApp {
            leaks: LeakResponder::new(store.leaks(), Arc::clone(&clock)),
            keys,
        });
        let pepper = idempotency_pepper(env, region).await?;
        let management = Arc::new(management_app(
            store.management(),
            hasher,
            clock,
            scope_catalogue(env)?,
            pepper,
        ));
        Ok(Self {
            routed: RoutedFunctions {
                management,
                oauth,
                webhooks,
                leaks,
                github,
            },
            authorizer,
            sweeper,
            webhook_settings,
            sealing,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use clavis_core::store::CredentialWriter;
    use clavis_core::store::memory::MemoryStore;
    use clavis_core::testing;
    use clavis_core::time::ManualClock;
    use clavis_core::token::keys::{KeyAlgorithm, SigningKey};

    fn settings() -> Env {
        let (_, pem) = SigningKey::generate(KeyAlgorithm::Es256).expect("a signing key");
        Env::default()
            .with("TOKEN_ISSUER", "https://clavis.example")
            .with("TOKEN_AUDIENCE", "clavis-api")
            .with("SIGNING_ALGORITHM", "ES256")
            .with("SIGNING_KEY_PEM", pem)
    }

    async fn deployment(env: &Env) -> Result<(Deployment, Arc<MemoryStore>), ConfigError> {
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let store = Arc::new(MemoryStore::new(clock.clone(), retention(env)?));
        let built = Deployment::build(store.clone(), clock, env).await?;
        Ok((built, store))
    }

    #[tokio::test]
    async fn the_sweeper_of_a_deployment_notices_expiries_as_early_as_its_setting_says() {
        for (days, noticed) in [("30", 1), ("7", 0)] {
            let env = settings().with("EXPIRY_NOTICE_DAYS", days);
            let (deployment, store) = deployment(&env).await.expect("a deployment");
            let in_twenty_days = SystemClock.now() + Duration::days(20);
            let created = testing::created(&["a:read"], Some(in_twenty_days), SystemClock.now());
            store.insert(&created).await.expect("stored");
            let report = deployment.sweeper.sweep(None).await.expect("a sweep");
            assert_eq!(
                report.recorded_expiring_soon, noticed,
                "notice of {days} days"
            );
        }
    }

    #[tokio::test]
    async fn a_deployment_fails_on_a_bad_setting_naming_it_and_fronts_routes_only_when_given() {
        let (plain, _) = deployment(&settings()).await.expect("a deployment");
        assert!(plain.authorizer.is_none());
        let fronting = settings().with("ROUTE_SCOPES", r#"{"GET /products": []}"#);
        let (fronting, _) = deployment(&fronting).await.expect("a deployment");
        assert!(fronting.authorizer.is_some());
        for (variable, value) in [
            ("EXPIRY_NOTICE_DAYS", "0"),
            ("ROUTE_SCOPES", "not json"),
            ("SCOPE_CATALOGUE", "{not json"),
            ("ARGON2_MEMORY_KIB", "1"),
            ("WEBHOOK_ALLOW_PRIVATE", "yes"),
            ("WEBHOOK_RETRY_SCHEDULE", "5,soon"),
            // Base64 of 5 bytes: too short to seal anything with.
            ("WEBHOOK_SEALING_KEY", "c2hvcnQ="),
        ] {
            let Err(e) = deployment(&settings().with(variable, value)).await else {
                panic!("{variable}={value} was accepted");
            };
            assert_eq!(e.variable.split('/').next(), Some(variable), "{e}");
        }
    }
}
