//! Handlers of the usage dashboard: a credential's days, and its tenant's.

use chrono::NaiveDate;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use super::credentials::{client_id, managed};
use super::http::query_parameter;
use super::response::{Problem, json_response};
use super::views::{CredentialUsageView, TenantUsageView};
use crate::state::App;
use clavis_core::usage_days::UsageRange;

/// `from` and `to` as asked, with their defaults (the last 30 days, today included).
fn range(app: &App, request: &Request) -> Result<UsageRange, Problem> {
    let day = |field: &'static str| -> Result<Option<NaiveDate>, Problem> {
        query_parameter(request, field)?
            .map(|text| {
                NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                    Problem::bad_request(
                        "invalid_range",
                        format!("{field} must be a day as YYYY-MM-DD, e.g. 2026-12-01."),
                    )
                    .with_field(field)
                })
            })
            .transpose()
    };
    let today = app.credentials.clock().now().date_naive();
    UsageRange::new(day("from")?, day("to")?, today)
        .map_err(|e| Problem::bad_request("invalid_range", e.reason).with_field(e.field))
}

async fn get_credential_usage(app: &App, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let client_id = client_id(&request)?;
        let range = range(app, &request)?;
        let report = app
            .credentials
            .credential_usage(&acting.tenant, &client_id, range)
            .await?;
        Ok(json_response(
            StatusCode::OK,
            &CredentialUsageView::new(&client_id, &report),
        ))
    })
    .await
}

async fn get_tenant_usage(app: &App, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let range = range(app, &request)?;
        let (report, top) = app.credentials.tenant_usage(&acting.tenant, range).await?;
        Ok(json_response(
            StatusCode::OK,
            &TenantUsageView::new(&acting.tenant, &report, &top),
        ))
    })
    .await
}

/// `get-usage` serves both routes: a credential's days when the path names one.
pub async fn get_usage(app: &App, request: Request) -> Response<Body> {
    if super::http::path_parameter(&request, "client_id").is_some() {
        get_credential_usage(app, request).await
    } else {
        get_tenant_usage(app, request).await
    }
}
