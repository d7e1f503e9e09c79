//! `authorize-request`: the API Gateway HTTP API Lambda authorizer (payload format 2.0, simple
//! responses) a platform attaches to its own API's routes. It reads the event, asks the
//! [`clavis_core::authorizer::RequestVerifier`] and renders `{isAuthorized, context}`; the rules live in
//! [`clavis_core::authorizer`].

use std::time::Instant;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_http::http::header;
use serde::Serialize;

use crate::state::AuthorizerApp;
use clavis_core::authorizer::{Allowed, VerifyError};
use clavis_core::source::SourceAddress;

/// The context API Gateway hands the integration as `$context.authorizer.<key>`.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct AuthorizerContext {
    pub tenant: String,
    pub client_id: String,
    pub scope: String,
    /// `live` or `test`.
    pub environment: String,
    pub jti: String,
}

/// A simple response (`EnableSimpleResponses: true`). `aws_lambda_events`' own type cannot
/// be built outside its crate (it is `non_exhaustive`), so this one mirrors it.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub is_authorized: bool,
    /// Empty when refused: API Gateway passes nothing on then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<AuthorizerContext>,
}

impl From<Allowed> for AuthorizerResponse {
    fn from(allowed: Allowed) -> Self {
        Self {
            is_authorized: true,
            context: Some(AuthorizerContext {
                tenant: allowed.tenant,
                client_id: allowed.client_id,
                scope: allowed.scope,
                environment: allowed.environment.as_str().to_owned(),
                jti: allowed.jti,
            }),
        }
    }
}

/// Decides one request. Every refusal is logged with its reason and the request ID, never
/// the token or the secret; a failure to decide refuses too (fails closed) and is logged as
/// an error.
pub async fn authorize_request(
    app: &AuthorizerApp,
    event: ApiGatewayV2CustomAuthorizerV2Request,
) -> AuthorizerResponse {
    let started = Instant::now();
    let route_key = event.route_key.as_deref().unwrap_or_default();
    let request_id = event.request_context.request_id.as_deref();
    // The identity source is the header itself; API Gateway never calls without it.
    let authorization = event
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            event
                .identity_source
                .as_ref()
                .and_then(|s| s.first())
                .map(String::as_str)
        })
        .unwrap_or_default();
    // API Gateway's own view of the peer: no header a client sends can change it.
    let source = SourceAddress::parse_or_unknown(event.request_context.http.source_ip.as_deref());
    let elapsed_ms = || started.elapsed().as_millis() as u64;
    match app.verifier.verify(route_key, authorization, &source).await {
        Ok(allowed) => {
            tracing::info!(request_id, route_key, client_id = %allowed.client_id, elapsed_ms = elapsed_ms(), "request allowed");
            allowed.into()
        }
        Err(VerifyError::Refused(refusal)) => {
            tracing::info!(
                request_id,
                route_key,
                reason = refusal.code(),
                elapsed_ms = elapsed_ms(),
                "request refused"
            );
            AuthorizerResponse {
                is_authorized: false,
                context: None,
            }
        }
        Err(VerifyError::Failed(cause)) => {
            tracing::error!(request_id, route_key, reason = "verification_failed", cause = %cause, "request refused: verification could not run");
            AuthorizerResponse {
                is_authorized: false,
                context: None,
            }
        }
    }
}
