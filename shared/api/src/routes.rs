//! The one table of routes, and which handler serves each: the Lambda functions, the local
//! gateway and the test harness dispatch through it, and the SAM template and the OpenAPI
//! document are checked against it.

use std::sync::{Arc, LazyLock};

use clavis_core::route::RouteTemplate;
use lambda_http::{Body, Request, Response};

use super::{credentials, leaks, oauth, policy, usage, webhooks};
use crate::state::{App, GithubLeaksApp, LeaksApp, OAuthApp, WebhooksApp};
use clavis_core::usage::UsageRecorder;

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
    GetPolicy,
    PutPolicy,
    GetUsage,
}

/// The OAuth operations; each is one Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuthEndpoint {
    IssueToken,
    IntrospectToken,
    RevokeToken,
    Discovery,
}

/// The webhook operations, served by two functions: only the one that issues signing secrets
/// holds the key that seals them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhooksEndpoint {
    Create,
    RotateSecret,
    List,
    Get,
    Update,
    Delete,
    Test,
    ListDeliveries,
}

/// An admin's report of a leaked secret: its own function, holding the leak ports only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaksEndpoint {
    Report,
}

/// GitHub's secret scanning reports: a public route whose function holds GitHub's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GithubEndpoint {
    LeakReport,
}

/// Every operation the API offers, by the state its function needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Credentials(CredentialsEndpoint),
    OAuth(OAuthEndpoint),
    Webhooks(WebhooksEndpoint),
    Leaks(LeaksEndpoint),
    Github(GithubEndpoint),
}

impl From<LeaksEndpoint> for Endpoint {
    fn from(endpoint: LeaksEndpoint) -> Self {
        Endpoint::Leaks(endpoint)
    }
}

impl From<GithubEndpoint> for Endpoint {
    fn from(endpoint: GithubEndpoint) -> Self {
        Endpoint::Github(endpoint)
    }
}

impl From<WebhooksEndpoint> for Endpoint {
    fn from(endpoint: WebhooksEndpoint) -> Self {
        Endpoint::Webhooks(endpoint)
    }
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
            Endpoint::Credentials(C::GetPolicy) => "get-policy",
            Endpoint::Credentials(C::PutPolicy) => "put-policy",
            Endpoint::Credentials(C::GetUsage) => "get-usage",
            Endpoint::OAuth(O::IssueToken) => "issue-token",
            Endpoint::OAuth(O::IntrospectToken) => "introspect-token",
            Endpoint::OAuth(O::RevokeToken) => "revoke-token",
            Endpoint::OAuth(O::Discovery) => "discovery",
            Endpoint::Webhooks(WebhooksEndpoint::Create | WebhooksEndpoint::RotateSecret) => {
                "issue-webhook-secret"
            }
            Endpoint::Webhooks(_) => "manage-webhooks",
            Endpoint::Leaks(LeaksEndpoint::Report) => "report-leak",
            Endpoint::Github(GithubEndpoint::LeakReport) => "github-leak-report",
        }
    }
}

/// The function that verifies requests to a platform's own API: no route of Clavis reaches it.
pub const AUTHORIZER_FUNCTION: &str = "authorize-request";
/// The function EventBridge runs on a schedule: no route reaches it.
pub const SWEEPER_FUNCTION: &str = "sweep-expired";
/// The function the table's stream runs: each new event to its deliveries.
pub const PUBLISHER_FUNCTION: &str = "publish-events";
/// The function the delivery queue runs: one attempt per message.
pub const DELIVERER_FUNCTION: &str = "deliver-webhooks";

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
const WEBHOOKS: &str = "/v1/tenants/{tenant}/webhooks";
const WEBHOOK: &str = "/v1/tenants/{tenant}/webhooks/{webhook_id}";
const CREDENTIAL: &str = "/v1/tenants/{tenant}/credentials/{client_id}";

/// The one table of routes: the local gateway serves it, and the SAM template and the OpenAPI
/// document are checked against it.
pub const ROUTES: [Route; 33] = {
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
    const fn webhooks(
        method: &'static str,
        path: &'static str,
        endpoint: WebhooksEndpoint,
    ) -> Route {
        Route {
            method,
            path,
            endpoint: Endpoint::Webhooks(endpoint),
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
        managed(
            "GET",
            "/v1/tenants/{tenant}/credentials/{client_id}/usage",
            C::GetUsage,
        ),
        managed("GET", "/v1/tenants/{tenant}/usage", C::GetUsage),
        managed("GET", "/v1/tenants/{tenant}/policy", C::GetPolicy),
        managed("PUT", "/v1/tenants/{tenant}/policy", C::PutPolicy),
        managed("GET", "/v1/scopes", C::ListScopes),
        webhooks("POST", WEBHOOKS, WebhooksEndpoint::Create),
        webhooks("GET", WEBHOOKS, WebhooksEndpoint::List),
        webhooks("GET", WEBHOOK, WebhooksEndpoint::Get),
        webhooks("PATCH", WEBHOOK, WebhooksEndpoint::Update),
        webhooks("DELETE", WEBHOOK, WebhooksEndpoint::Delete),
        webhooks(
            "POST",
            "/v1/tenants/{tenant}/webhooks/{webhook_id}/rotate-secret",
            WebhooksEndpoint::RotateSecret,
        ),
        webhooks(
            "POST",
            "/v1/tenants/{tenant}/webhooks/{webhook_id}/test",
            WebhooksEndpoint::Test,
        ),
        webhooks(
            "GET",
            "/v1/tenants/{tenant}/webhooks/{webhook_id}/deliveries",
            WebhooksEndpoint::ListDeliveries,
        ),
        Route {
            method: "POST",
            path: "/v1/tenants/{tenant}/leaks",
            endpoint: Endpoint::Leaks(LeaksEndpoint::Report),
            access: Access::Jwt,
        },
        // GitHub's signature is the authentication.
        Route {
            method: "POST",
            path: "/v1/leaks/github",
            endpoint: Endpoint::Github(GithubEndpoint::LeakReport),
            access: Access::Public,
        },
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
    /// API Gateway's route key, e.g. `POST /v1/tenants/{tenant}/credentials`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Each route of the table with its parsed template, parsed once per process. A key that
/// does not parse would drop its route; a unit test parses every key.
static TEMPLATES: LazyLock<Vec<(&'static Route, RouteTemplate)>> = LazyLock::new(|| {
    ROUTES
        .iter()
        .filter_map(|route| RouteTemplate::parse(&route.key()).ok().map(|t| (route, t)))
        .collect()
});

/// The route for a request, as API Gateway would choose it (the most specific match), with
/// its path parameters by name.
pub fn find_route(method: &str, path: &str) -> Option<(&'static Route, Vec<(String, String)>)> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    TEMPLATES
        .iter()
        .filter_map(|(route, template)| Some((*route, template.matches(method, &segments)?)))
        .max_by_key(|(_, found)| found.specificity)
        .map(|(route, found)| {
            let parameters = found
                .parameters
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect();
            (route, parameters)
        })
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

    /// Hands the request to this endpoint's handler.
    fn handle(
        self,
        state: &Self::State,
        request: Request,
    ) -> impl Future<Output = Response<Body>> + Send;

    /// Where this endpoint counts uses, which its instance must flush every second and before
    /// it stops; `None` for endpoints that count nothing.
    fn usage(self, _state: &Self::State) -> Option<&Arc<UsageRecorder>> {
        None
    }
}

impl EndpointFamily for CredentialsEndpoint {
    type State = App;

    async fn handle(self, app: &App, request: Request) -> Response<Body> {
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
            Self::GetPolicy => policy::get_policy(app, request).await,
            Self::PutPolicy => policy::put_policy(app, request).await,
            Self::GetUsage => usage::get_usage(app, request).await,
        }
    }
}

impl WebhooksEndpoint {
    fn into_function(self) -> &'static str {
        Endpoint::from(self).function()
    }
}

impl EndpointFamily for WebhooksEndpoint {
    type State = WebhooksApp;

    /// One function serves several of these routes: each request goes to the route it came
    /// by, among those of this endpoint's function.
    async fn handle(self, app: &WebhooksApp, request: Request) -> Response<Body> {
        let routed = find_route(request.method().as_str(), request.uri().path())
            .and_then(|(route, _)| match route.endpoint {
                Endpoint::Webhooks(e) if e.into_function() == self.into_function() => Some(e),
                _ => None,
            })
            .unwrap_or(self);
        match routed {
            Self::Create => webhooks::create_webhook(app, request).await,
            Self::RotateSecret => webhooks::rotate_webhook_secret(app, request).await,
            Self::List => webhooks::list_webhooks(app, request).await,
            Self::Get => webhooks::get_webhook(app, request).await,
            Self::Update => webhooks::update_webhook(app, request).await,
            Self::Delete => webhooks::delete_webhook(app, request).await,
            Self::Test => webhooks::test_webhook(app, request).await,
            Self::ListDeliveries => webhooks::list_deliveries(app, request).await,
        }
    }
}

impl EndpointFamily for LeaksEndpoint {
    type State = LeaksApp;

    async fn handle(self, app: &LeaksApp, request: Request) -> Response<Body> {
        match self {
            Self::Report => leaks::report_leak(app, request).await,
        }
    }
}

impl EndpointFamily for GithubEndpoint {
    type State = GithubLeaksApp;

    async fn handle(self, app: &GithubLeaksApp, request: Request) -> Response<Body> {
        match self {
            Self::LeakReport => leaks::github_leak_report(app, request).await,
        }
    }
}

impl EndpointFamily for OAuthEndpoint {
    type State = OAuthApp;

    async fn handle(self, app: &OAuthApp, request: Request) -> Response<Body> {
        match self {
            Self::IssueToken => oauth::issue_token(app, request).await,
            Self::IntrospectToken => oauth::introspect_token(app, request).await,
            Self::RevokeToken => oauth::revoke_token(app, request).await,
            Self::Discovery => oauth::discovery(app, request).await,
        }
    }

    fn usage(self, app: &OAuthApp) -> Option<&Arc<UsageRecorder>> {
        matches!(self, Self::IssueToken | Self::IntrospectToken).then(|| app.tokens.usage())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_key_parses() {
        assert_eq!(TEMPLATES.len(), ROUTES.len());
    }

    #[test]
    fn routes_are_unique_and_every_function_has_one() {
        let mut keys: Vec<String> = ROUTES.iter().map(Route::key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), ROUTES.len());
        assert_eq!(functions().len(), 23);
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
                ("tenant".to_owned(), "acme".to_owned()),
                ("client_id".to_owned(), "cid_x".to_owned())
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
