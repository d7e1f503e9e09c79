//! The HTTP API: the one route table, the state each function builds at cold start, and the
//! dispatch the local gateway uses to reach the very handlers the Lambda binaries run.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Body, Request, Response, service_fn};

use crate::config::{ConfigError, Env, StoreSettings, secret_hasher};
use crate::secret::SecretHasher;
use crate::service::CredentialService;
use crate::store::SharedStore;
use crate::time::{Clock, SystemClock};

pub mod credentials;
pub mod http;
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

    /// Reads every setting and fails naming the first one missing or malformed.
    pub async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = StoreSettings::from_env(env)?;
        let hasher = Arc::new(secret_hasher(env)?);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: SharedStore = Arc::new(settings.dynamo_store(Arc::clone(&clock)).await);
        Ok(Self::new(store, hasher, clock))
    }
}

/// Every operation the API offers; one Lambda function each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    CreateCredential,
    ListCredentials,
    GetCredential,
    UpdateCredential,
    UpdateExpiry,
    RotateSecret,
    SuspendCredential,
    ReactivateCredential,
    RevokeCredential,
    DeleteCredential,
    ListAuditEvents,
}

impl Endpoint {
    pub const ALL: [Endpoint; 11] = [
        Endpoint::CreateCredential,
        Endpoint::ListCredentials,
        Endpoint::GetCredential,
        Endpoint::UpdateCredential,
        Endpoint::UpdateExpiry,
        Endpoint::RotateSecret,
        Endpoint::SuspendCredential,
        Endpoint::ReactivateCredential,
        Endpoint::RevokeCredential,
        Endpoint::DeleteCredential,
        Endpoint::ListAuditEvents,
    ];

    /// The Lambda function (and binary in `functions/src/bin/`) that serves this endpoint.
    pub fn function(self) -> &'static str {
        match self {
            Endpoint::CreateCredential => "create-credential",
            Endpoint::ListCredentials => "list-credentials",
            Endpoint::GetCredential => "get-credential",
            Endpoint::UpdateCredential => "update-credential",
            Endpoint::UpdateExpiry => "update-expiry",
            Endpoint::RotateSecret => "rotate-secret",
            Endpoint::SuspendCredential => "suspend-credential",
            Endpoint::ReactivateCredential => "reactivate-credential",
            Endpoint::RevokeCredential => "revoke-credential",
            Endpoint::DeleteCredential => "delete-credential",
            Endpoint::ListAuditEvents => "list-audit-events",
        }
    }

    pub async fn handle(self, app: &App, request: Request) -> Response<Body> {
        match self {
            Endpoint::CreateCredential => credentials::create_credential(app, request).await,
            Endpoint::ListCredentials => credentials::list_credentials(app, request).await,
            Endpoint::GetCredential => credentials::get_credential(app, request).await,
            Endpoint::UpdateCredential => credentials::update_credential(app, request).await,
            Endpoint::UpdateExpiry => credentials::update_expiry(app, request).await,
            Endpoint::RotateSecret => credentials::rotate_secret(app, request).await,
            Endpoint::SuspendCredential => credentials::suspend_credential(app, request).await,
            Endpoint::ReactivateCredential => {
                credentials::reactivate_credential(app, request).await
            }
            Endpoint::RevokeCredential => credentials::revoke_credential(app, request).await,
            Endpoint::DeleteCredential => credentials::delete_credential(app, request).await,
            Endpoint::ListAuditEvents => credentials::list_audit_events(app, request).await,
        }
    }
}

/// How API Gateway admits a request to a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The HTTP API's JWT authorizer must accept the bearer token first.
    Jwt,
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
pub const ROUTES: [Route; 12] = {
    const fn route(method: &'static str, path: &'static str, endpoint: Endpoint) -> Route {
        Route {
            method,
            path,
            endpoint,
            access: Access::Jwt,
        }
    }
    [
        route("POST", CREDENTIALS, Endpoint::CreateCredential),
        route("GET", CREDENTIALS, Endpoint::ListCredentials),
        route("GET", CREDENTIAL, Endpoint::GetCredential),
        route("PATCH", CREDENTIAL, Endpoint::UpdateCredential),
        route("DELETE", CREDENTIAL, Endpoint::DeleteCredential),
        route(
            "PUT",
            "/v1/tenants/{tenant}/credentials/{client_id}/expiry",
            Endpoint::UpdateExpiry,
        ),
        route(
            "POST",
            "/v1/tenants/{tenant}/credentials/{client_id}/rotate",
            Endpoint::RotateSecret,
        ),
        route(
            "POST",
            "/v1/tenants/{tenant}/credentials/{client_id}/suspend",
            Endpoint::SuspendCredential,
        ),
        route(
            "POST",
            "/v1/tenants/{tenant}/credentials/{client_id}/reactivate",
            Endpoint::ReactivateCredential,
        ),
        route(
            "POST",
            "/v1/tenants/{tenant}/credentials/{client_id}/revoke",
            Endpoint::RevokeCredential,
        ),
        route(
            "GET",
            "/v1/tenants/{tenant}/credentials/{client_id}/audit",
            Endpoint::ListAuditEvents,
        ),
        route(
            "GET",
            "/v1/tenants/{tenant}/audit",
            Endpoint::ListAuditEvents,
        ),
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

/// The whole life of a management Lambda function: read the configuration and build the
/// clients once per cold start (a missing setting stops it here, naming the variable), then
/// hand every request to the endpoint's handler.
pub async fn run_lambda(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    crate::telemetry::init_lambda();
    let app = App::from_env(&Env::from_process()).await.inspect_err(|e| {
        tracing::error!(function = endpoint.function(), error = %e, "cannot start");
    })?;
    let app = &app;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(endpoint.handle(app, request).await)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_has_a_route_and_routes_are_unique() {
        for endpoint in Endpoint::ALL {
            assert!(
                ROUTES.iter().any(|r| r.endpoint == endpoint),
                "{endpoint:?}"
            );
        }
        let mut keys: Vec<String> = ROUTES.iter().map(Route::key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), ROUTES.len());
    }

    #[test]
    fn paths_match_templates_segment_by_segment() {
        let (route, params) =
            find_route("POST", "/v1/tenants/acme/credentials/cid_x/rotate").unwrap();
        assert_eq!(route.endpoint, Endpoint::RotateSecret);
        assert_eq!(
            params,
            [
                ("tenant", "acme".to_owned()),
                ("client_id", "cid_x".to_owned())
            ]
        );
        let (route, _) = find_route("GET", "/v1/tenants/acme/audit").unwrap();
        assert_eq!(route.endpoint, Endpoint::ListAuditEvents);
        assert!(find_route("GET", "/v1/tenants//credentials").is_none());
        assert!(find_route("GET", "/v1/tenants/acme/credentials/").is_none());
        assert!(find_route("PUT", "/v1/tenants/acme/credentials").is_none());
        assert!(find_route("GET", "/v1/tenants/acme/credentials/x/y").is_none());
    }
}
