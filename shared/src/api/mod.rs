//! The HTTP API: the one route table, the state each function builds at cold start, and the
//! dispatch the local gateway uses to reach the very handlers the Lambda binaries run.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Body, Request, Response, service_fn};

use crate::catalogue::ScopeCatalogue;
use crate::client_auth::{ClientAuthenticator, VerificationCache};
use crate::config::{
    ConfigError, Env, StoreSettings, TokenSettings, scope_catalogue, secret_hasher,
};
use crate::secret::SecretHasher;
use crate::service::CredentialService;
use crate::store::dynamodb::DynamoStore;
use crate::store::{SharedStore, SharedTokenStore, UsageStore};
use crate::time::{Clock, SystemClock};
use crate::token::Tokens;
use crate::token_service::TokenService;
use crate::usage::UsageRecorder;

pub mod authorizer;
pub mod credentials;
pub mod http;
pub mod oauth;
pub mod shutdown;
pub mod views;

/// What the management functions share: built once per cold start.
pub struct App {
    pub credentials: CredentialService,
}

impl App {
    pub fn new(store: SharedStore, hasher: Arc<SecretHasher>, clock: Arc<dyn Clock>) -> Self {
        Self {
            credentials: CredentialService::new(store, hasher, clock),
        }
    }

    /// Only the catalogue's scopes may then be given to credentials.
    pub fn with_catalogue(self, catalogue: ScopeCatalogue) -> Self {
        Self {
            credentials: self.credentials.with_catalogue(catalogue),
        }
    }

    /// Reads every setting and fails naming the first one missing or malformed.
    pub async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = StoreSettings::from_env(env)?;
        let hasher = Arc::new(secret_hasher(env)?);
        let catalogue = scope_catalogue(env)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: SharedStore = Arc::new(settings.dynamo_store(Arc::clone(&clock)).await);
        Ok(Self::new(store, hasher, clock).with_catalogue(catalogue))
    }
}

/// What every function that authenticates clients reads at cold start: the OAuth functions
/// and the request authorizer.
pub struct ClientSettings {
    pub store: DynamoStore,
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
        let store = store_settings.dynamo_store(Arc::clone(&clock)).await;
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
    store: SharedTokenStore,
    hasher: Arc<SecretHasher>,
    clock: Arc<dyn Clock>,
    settings: &TokenSettings,
) -> Result<(ClientAuthenticator, Arc<UsageRecorder>), ConfigError> {
    let cache = VerificationCache::new(settings.verification_cache_entries)
        .map_err(|e| ConfigError::new("VERIFICATION_CACHE_ENTRIES", e.to_string()))?;
    let usage = Arc::new(UsageRecorder::new(
        Arc::clone(&store) as Arc<dyn UsageStore>,
        settings.usage_flush_interval,
    ));
    let clients = ClientAuthenticator::new(store, hasher, clock, cache, settings.throttle);
    Ok((clients, usage))
}

/// What the OAuth functions share: the token service, with the store, the signing keys, and
/// the client authenticator with its per-instance verification cache.
pub struct OAuthApp {
    pub tokens: TokenService,
}

impl OAuthApp {
    pub fn new(
        store: SharedTokenStore,
        hasher: Arc<SecretHasher>,
        clock: Arc<dyn Clock>,
        tokens: Tokens,
        settings: &TokenSettings,
    ) -> Result<Self, ConfigError> {
        let (clients, usage) =
            client_parts(Arc::clone(&store), hasher, Arc::clone(&clock), settings)?;
        Ok(Self {
            tokens: TokenService::new(clients, tokens, store, clock, usage),
        })
    }

    pub async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let c = ClientSettings::from_env(env).await?;
        Self::new(Arc::new(c.store), c.hasher, c.clock, c.tokens, &c.settings)
    }
}

/// The management operations; each is one Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialsEndpoint {
    Create,
    List,
    Get,
    Update,
    UpdateExpiry,
    RotateSecret,
    Suspend,
    Reactivate,
    Revoke,
    Delete,
    ListAuditEvents,
    ListScopes,
}

impl CredentialsEndpoint {
    pub async fn handle(self, app: &App, request: Request) -> Response<Body> {
        match self {
            Self::Create => credentials::create_credential(app, request).await,
            Self::List => credentials::list_credentials(app, request).await,
            Self::Get => credentials::get_credential(app, request).await,
            Self::Update => credentials::update_credential(app, request).await,
            Self::UpdateExpiry => credentials::update_expiry(app, request).await,
            Self::RotateSecret => credentials::rotate_secret(app, request).await,
            Self::Suspend => credentials::suspend_credential(app, request).await,
            Self::Reactivate => credentials::reactivate_credential(app, request).await,
            Self::Revoke => credentials::revoke_credential(app, request).await,
            Self::Delete => credentials::delete_credential(app, request).await,
            Self::ListAuditEvents => credentials::list_audit_events(app, request).await,
            Self::ListScopes => credentials::list_scopes(app, request).await,
        }
    }
}

/// The OAuth operations; each is one Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuthEndpoint {
    IssueToken,
    IntrospectToken,
    RevokeToken,
    Discovery,
}

impl OAuthEndpoint {
    pub async fn handle(self, app: &OAuthApp, request: Request) -> Response<Body> {
        match self {
            Self::IssueToken => oauth::issue_token(app, request).await,
            Self::IntrospectToken => oauth::introspect_token(app, request).await,
            Self::RevokeToken => oauth::revoke_token(app, request).await,
            Self::Discovery => oauth::discovery(app, request).await,
        }
    }
}

/// Every operation the API offers, by the state its function needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Credentials(CredentialsEndpoint),
    OAuth(OAuthEndpoint),
}

impl From<CredentialsEndpoint> for Endpoint {
    fn from(endpoint: CredentialsEndpoint) -> Self {
        Endpoint::Credentials(endpoint)
    }
}

impl From<OAuthEndpoint> for Endpoint {
    fn from(endpoint: OAuthEndpoint) -> Self {
        Endpoint::OAuth(endpoint)
    }
}

impl Endpoint {
    /// The Lambda function (and binary in `functions/src/bin/`) that serves this endpoint.
    pub fn function(self) -> &'static str {
        use CredentialsEndpoint as C;
        use OAuthEndpoint as O;
        match self {
            Endpoint::Credentials(C::Create) => "create-credential",
            Endpoint::Credentials(C::List) => "list-credentials",
            Endpoint::Credentials(C::Get) => "get-credential",
            Endpoint::Credentials(C::Update) => "update-credential",
            Endpoint::Credentials(C::UpdateExpiry) => "update-expiry",
            Endpoint::Credentials(C::RotateSecret) => "rotate-secret",
            Endpoint::Credentials(C::Suspend) => "suspend-credential",
            Endpoint::Credentials(C::Reactivate) => "reactivate-credential",
            Endpoint::Credentials(C::Revoke) => "revoke-credential",
            Endpoint::Credentials(C::Delete) => "delete-credential",
            Endpoint::Credentials(C::ListAuditEvents) => "list-audit-events",
            Endpoint::Credentials(C::ListScopes) => "list-scopes",
            Endpoint::OAuth(O::IssueToken) => "issue-token",
            Endpoint::OAuth(O::IntrospectToken) => "introspect-token",
            Endpoint::OAuth(O::RevokeToken) => "revoke-token",
            Endpoint::OAuth(O::Discovery) => "discovery",
        }
    }
}

/// How API Gateway admits a request to a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// The HTTP API's JWT authorizer must accept the bearer token first.
    Jwt,
    /// Open to anyone; the function authenticates the client itself (OAuth) or serves
    /// public documents (discovery).
    Public,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// In API Gateway's syntax: `{name}` matches one path segment.
    pub path: &'static str,
    pub endpoint: Endpoint,
    pub access: Access,
}

const CREDENTIALS: &str = "/v1/tenants/{tenant}/credentials";
const CREDENTIAL: &str = "/v1/tenants/{tenant}/credentials/{client_id}";

/// The one table of routes: the local gateway serves it, and the SAM template and the OpenAPI
/// document are checked against it.
pub const ROUTES: [Route; 19] = {
    use CredentialsEndpoint as C;
    use OAuthEndpoint as O;
    const fn managed(method: &'static str, path: &'static str, endpoint: C) -> Route {
        Route {
            method,
            path,
            endpoint: Endpoint::Credentials(endpoint),
            access: Access::Jwt,
        }
    }
    const fn public(method: &'static str, path: &'static str, endpoint: O) -> Route {
        Route {
            method,
            path,
            endpoint: Endpoint::OAuth(endpoint),
            access: Access::Public,
        }
    }
    [
        managed("POST", CREDENTIALS, C::Create),
        managed("GET", CREDENTIALS, C::List),
        managed("GET", CREDENTIAL, C::Get),
        managed("PATCH", CREDENTIAL, C::Update),
        managed("DELETE", CREDENTIAL, C::Delete),
        managed(
            "PUT",
            "/v1/tenants/{tenant}/credentials/{client_id}/expiry",
            C::UpdateExpiry,
        ),
        managed(
            "POST",
            "/v1/tenants/{tenant}/credentials/{client_id}/rotate",
            C::RotateSecret,
        ),
        managed(
            "POST",
            "/v1/tenants/{tenant}/credentials/{client_id}/suspend",
            C::Suspend,
        ),
        managed(
            "POST",
            "/v1/tenants/{tenant}/credentials/{client_id}/reactivate",
            C::Reactivate,
        ),
        managed(
            "POST",
            "/v1/tenants/{tenant}/credentials/{client_id}/revoke",
            C::Revoke,
        ),
        managed(
            "GET",
            "/v1/tenants/{tenant}/credentials/{client_id}/audit",
            C::ListAuditEvents,
        ),
        managed("GET", "/v1/tenants/{tenant}/audit", C::ListAuditEvents),
        managed("GET", "/v1/scopes", C::ListScopes),
        public("POST", "/oauth/token", O::IssueToken),
        public("POST", "/oauth/introspect", O::IntrospectToken),
        public("POST", "/oauth/revoke", O::RevokeToken),
        public("GET", "/.well-known/jwks.json", O::Discovery),
        public(
            "GET",
            "/.well-known/oauth-authorization-server",
            O::Discovery,
        ),
        public("GET", "/.well-known/openid-configuration", O::Discovery),
    ]
};

impl Route {
    /// The path parameters, if `path` matches this route's template.
    pub fn match_path(&self, path: &str) -> Option<Vec<(&'static str, String)>> {
        let mut template = self.path.split('/');
        let mut actual = path.split('/');
        let mut parameters = Vec::new();
        loop {
            match (template.next(), actual.next()) {
                (None, None) => return Some(parameters),
                (Some(t), Some(a)) => match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    Some(name) if !a.is_empty() => parameters.push((name, a.to_owned())),
                    Some(_) => return None,
                    None if t == a => {}
                    None => return None,
                },
                _ => return None,
            }
        }
    }

    /// API Gateway's route key, e.g. `POST /v1/tenants/{tenant}/credentials`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The route for a request, as API Gateway would choose it.
pub fn find_route(
    method: &str,
    path: &str,
) -> Option<(&'static Route, Vec<(&'static str, String)>)> {
    ROUTES
        .iter()
        .filter(|route| route.method == method)
        .find_map(|route| route.match_path(path).map(|parameters| (route, parameters)))
}

/// Every function name in the route table, once each.
pub fn functions() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = ROUTES.iter().map(|r| r.endpoint.function()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Endpoints whose functions share the state they build at cold start. A function's binary
/// is generic over its family, so it links only that family's handlers and clients (no
/// Secrets Manager client in a management function, no management handler in the token
/// service), which keeps each bootstrap small.
pub trait EndpointFamily: Copy + Into<Endpoint> + Send + Sync + 'static {
    type State: Send + Sync + 'static;

    /// Starts what runs beside the requests for the life of the instance. Per family, so
    /// that a function whose family has nothing to run links none of it.
    fn start_background(self, state: &Self::State) -> impl Future<Output = ()> + Send;

    /// Reads every setting and builds the clients, failing on the first setting missing.
    fn state_from_env(env: &Env) -> impl Future<Output = Result<Self::State, ConfigError>> + Send;

    fn serve(
        self,
        state: &Self::State,
        request: Request,
    ) -> impl Future<Output = Response<Body>> + Send;
}

impl EndpointFamily for CredentialsEndpoint {
    type State = App;

    async fn start_background(self, _app: &App) {}

    fn state_from_env(env: &Env) -> impl Future<Output = Result<App, ConfigError>> + Send {
        App::from_env(env)
    }

    fn serve(self, app: &App, request: Request) -> impl Future<Output = Response<Body>> + Send {
        self.handle(app, request)
    }
}

impl EndpointFamily for OAuthEndpoint {
    type State = OAuthApp;

    /// The functions that count uses flush them every second and when the instance stops.
    async fn start_background(self, app: &OAuthApp) {
        if matches!(self, Self::IssueToken | Self::IntrospectToken) {
            shutdown::flush_usage_at_shutdown(app.tokens.usage().spawn_flusher()).await;
        }
    }

    fn state_from_env(env: &Env) -> impl Future<Output = Result<OAuthApp, ConfigError>> + Send {
        OAuthApp::from_env(env)
    }

    fn serve(
        self,
        app: &OAuthApp,
        request: Request,
    ) -> impl Future<Output = Response<Body>> + Send {
        self.handle(app, request)
    }
}

/// The whole life of a Lambda function: read the configuration and build the clients once per
/// cold start (a missing setting stops it here, naming the variable), then hand every request
/// to the endpoint's handler.
pub async fn run_lambda<E: EndpointFamily>(endpoint: E) -> Result<(), lambda_http::Error> {
    crate::telemetry::init_lambda();
    let function = endpoint.into().function();
    let state = &E::state_from_env(&Env::from_process())
        .await
        .inspect_err(|e| tracing::error!(function, error = %e, "cannot start"))?;
    endpoint.start_background(state).await;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(endpoint.serve(state, request).await)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_unique_and_every_function_has_one() {
        let mut keys: Vec<String> = ROUTES.iter().map(Route::key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), ROUTES.len());
        assert_eq!(functions().len(), 16);
    }

    #[test]
    fn paths_match_templates_segment_by_segment() {
        let (route, params) =
            find_route("POST", "/v1/tenants/acme/credentials/cid_x/rotate").unwrap();
        assert_eq!(
            route.endpoint,
            Endpoint::Credentials(CredentialsEndpoint::RotateSecret)
        );
        assert_eq!(
            params,
            [
                ("tenant", "acme".to_owned()),
                ("client_id", "cid_x".to_owned())
            ]
        );
        let (route, _) = find_route("GET", "/v1/tenants/acme/audit").unwrap();
        assert_eq!(route.endpoint.function(), "list-audit-events");
        let (route, _) = find_route("GET", "/.well-known/openid-configuration").unwrap();
        assert_eq!(route.access, Access::Public);
        assert!(find_route("GET", "/v1/tenants//credentials").is_none());
        assert!(find_route("GET", "/v1/tenants/acme/credentials/").is_none());
        assert!(find_route("PUT", "/v1/tenants/acme/credentials").is_none());
        assert!(find_route("GET", "/v1/tenants/acme/credentials/x/y").is_none());
        assert!(find_route("GET", "/oauth/token").is_none());
    }
}
