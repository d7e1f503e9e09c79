//! Handlers of leaked secrets: `POST /v1/tenants/{tenant}/leaks` (an admin pastes a secret
//! they found; `report-leak`) and `POST /v1/leaks/github` (GitHub's secret scanning partner
//! contract, authenticated by GitHub's signature alone; `github-leak-report`).

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

use super::credentials::{answered, managed};
use super::http::{body_bytes, json_body};
use super::response::{Problem, json_response};
use crate::state::{GithubLeaksApp, LeaksApp};
use clavis_core::leak::{ReportError, SignatureRefusal, SourceUrl, parse_report, verify_report};

/// The secret is read into this body and nowhere else: it is never logged or echoed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminReport {
    secret: String,
    #[serde(default)]
    source_url: Option<String>,
}

pub async fn report_leak(app: &LeaksApp, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let body: AdminReport = json_body(&request, false)?;
        let url = body
            .source_url
            .as_deref()
            .map(|url| {
                SourceUrl::parse(url).ok_or_else(|| {
                    Problem::bad_request(
                        "invalid_field",
                        format!(
                            "source_url must be an http or https URL of at most {} characters, holding no secret.",
                            SourceUrl::MAX_CHARS
                        ),
                    )
                    .with_field("source_url")
                })
            })
            .transpose()?;
        let answer = app.leaks.admin_report(&acting, &body.secret, url).await?;
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "client_id": answer.client_id,
                "action": answer.outcome,
                "secret_current": answer.secret_current,
                "already_reported": answer.already_reported,
            }),
        ))
    })
    .await
}

fn header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

pub async fn github_leak_report(app: &GithubLeaksApp, request: Request) -> Response<Body> {
    answered(&request, async |request_id| {
        let body = body_bytes(&request);
        verify_report(
            app.keys.as_ref(),
            header(&request, "github-public-key-identifier"),
            header(&request, "github-public-key-signature"),
            body,
        )
        .await
        .map_err(|refusal: SignatureRefusal| match refusal {
            SignatureRefusal::KeysUnavailable => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                refusal.to_string(),
            )
            .with_header(header::RETRY_AFTER, "300"),
            _ => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_signature",
                refusal.to_string(),
            ),
        })?;
        let tokens = parse_report(body).map_err(|e| match e {
            ReportError::Shape => Problem::bad_request("invalid_report", e.to_string()),
            ReportError::TooMany => Problem::bad_request("too_many_tokens", e.to_string()),
        })?;
        let feedback = app
            .leaks
            .github_report(&tokens, request_id.as_deref())
            .await?;
        Ok(json_response(StatusCode::OK, &feedback))
    })
    .await
}
