//! What each family of handlers is handed: the service it calls. The runtime builds these once
//! per cold start (and the local gateway and the test harness once per process).

use clavis_core::authorizer::RequestVerifier;
use clavis_core::service::CredentialService;
use clavis_core::time::Clock;
use clavis_core::token_service::TokenService;
use clavis_core::webhook_service::WebhookService;
use std::sync::Arc;

/// What the management functions share.
pub struct App {
    pub credentials: CredentialService,
}

/// What the OAuth functions share: the token service, with its client authenticator.
pub struct OAuthApp {
    pub tokens: TokenService,
}

/// What `authorize-request` builds once per cold start.
pub struct AuthorizerApp {
    pub verifier: RequestVerifier,
}

/// What the webhook functions share: the endpoints' service (holding the sealing key only in
/// `issue-webhook-secret`), and the clock the views are shown at.
pub struct WebhooksApp {
    pub webhooks: WebhookService,
    pub clock: Arc<dyn Clock>,
}

/// What `report-leak` builds once per cold start: the leak responder.
pub struct LeaksApp {
    pub leaks: clavis_core::leak_service::LeakResponder,
}

/// What `github-leak-report` builds once per cold start: the leak responder, and where
/// GitHub's signing keys come from.
pub struct GithubLeaksApp {
    pub leaks: clavis_core::leak_service::LeakResponder,
    pub keys: Arc<dyn clavis_core::leak::GithubKeySource>,
}
