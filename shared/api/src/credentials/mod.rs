//! Handlers of the `/v1` management routes: each parses its request, calls the service, and
//! renders the result. Authentication, authorization, problem rendering and the access log
//! happen once, in [`managed`]. Those that hand out a secret (create, rotate) are in
//! `issue`.

use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use super::http::{
    body_bytes, idempotency_key, json_body, log_request, path_parameter, precondition,
    query_parameter, request_id,
};
use super::response::{Problem, etag, json_response};
use super::views::{CredentialView, IssuedSecretView, PageView, SECRET_NOTICE};
use crate::state::App;
use clavis_core::credential::{
    Description, Environment, Name, Reason, RequestQuota, Scopes, Status, ValidationError,
};
use clavis_core::idempotency::IdempotencyKey;
use clavis_core::ids::{ClientId, TenantId};
use clavis_core::lifecycle::{DetailsPatch, GracePeriod, Rotation};
use clavis_core::service::{Acting, Change, CreateRequest, Issued, Once, Snapshot};
use clavis_core::store::{Cursor, PageRequest};
use clavis_core::time::{Timestamp, parse_rfc3339};

mod issue;

pub use issue::{create_credential, rotate_secret};

/// Runs `op` for an authenticated caller allowed to manage the path's tenant, and renders
/// whatever comes out, success or problem, with the headers every management response carries.
pub(crate) async fn managed(
    request: &Request,
    op: impl AsyncFnOnce(Acting) -> Result<Response<Body>, Problem>,
) -> Response<Body> {
    managed_as(request, OtherTenant::Forbidden, op).await
}

/// What a caller who manages some tenant, but not the path's, is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OtherTenant {
    Forbidden,
    /// As if the tenant's resource did not exist, so that its existence cannot be probed.
    NotFound(&'static str),
}

/// [`managed`], answering a manager of another tenant as `other_tenant` says.
pub(crate) async fn managed_as(
    request: &Request,
    other_tenant: OtherTenant,
    op: impl AsyncFnOnce(Acting) -> Result<Response<Body>, Problem>,
) -> Response<Body> {
    answered(request, async |request_id| {
        let caller = super::http::caller(request)?;
        let tenant = path_parameter(request, "tenant")
            .and_then(|t| TenantId::parse(&t))
            .ok_or_else(|| {
                Problem::bad_request(
                    "invalid_tenant",
                    "The tenant in the path is not a valid tenant ID.",
                )
                .with_field("tenant")
            })?;
        let actor = match (caller.authorize(&tenant), other_tenant) {
            (Ok(actor), _) => actor,
            (Err(_), OtherTenant::NotFound(code)) if caller.authorize_any().is_ok() => {
                return Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    code,
                    "Nothing of this tenant exists for you.",
                ));
            }
            (Err(e), _) => return Err(e.into()),
        };
        op(Acting {
            actor,
            tenant,
            request_id,
        })
        .await
    })
    .await
}

/// Renders what `op` answers, success or problem, with the headers every management response
/// carries, and writes the access log line.
pub(crate) async fn answered(
    request: &Request,
    op: impl AsyncFnOnce(Option<String>) -> Result<Response<Body>, Problem>,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(request);
    let result = op(request_id.clone()).await;
    let mut response = match result {
        Ok(response) => response,
        Err(problem) => {
            if let Some(cause) = problem.internal_cause() {
                tracing::error!(request_id = request_id.as_deref(), code = problem.code, cause = %cause, "request failed");
            }
            problem.into_response(request_id.as_deref())
        }
    };
    let headers = response.headers_mut();
    // Credentials are private data, and some responses carry a secret: never cache any of them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(id) = request_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        headers.insert("x-request-id", id);
    }
    log_request(request, request_id.as_deref(), &response, started);
    response
}

pub(crate) fn client_id(request: &Request) -> Result<ClientId, Problem> {
    let raw = path_parameter(request, "client_id").unwrap_or_default();
    // A malformed ID names no credential: the same answer as an unknown one.
    ClientId::parse(&raw).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "credential_not_found",
            "No credential with this client ID exists in this tenant.",
        )
    })
}

fn credential_response(status: StatusCode, snapshot: &Snapshot) -> Response<Body> {
    let mut response = json_response(status, &CredentialView::from(snapshot));
    set_etag(&mut response, snapshot);
    response
}

fn set_etag(response: &mut Response<Body>, snapshot: &Snapshot) {
    if let Ok(value) = HeaderValue::from_str(&etag(snapshot.credential.version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
}

fn expiry(field: &'static str, text: &str) -> Result<Timestamp, Problem> {
    parse_rfc3339(text).ok_or_else(|| {
        ValidationError::new(
            field,
            "invalid_expiry",
            format!("{field} must be an RFC 3339 date-time in UTC or with an offset, e.g. 2027-01-31T00:00:00Z"),
        )
        .into()
    })
}

fn scopes(items: &[String]) -> Result<Scopes, Problem> {
    Scopes::parse(items).map_err(Problem::from)
}

// --- read ---------------------------------------------------------------------------------------

/// The platform's scope catalogue, for whoever may manage some tenant (an admin, an advisor of
/// at least one): it is the same for every tenant.
pub async fn list_scopes(app: &App, request: Request) -> Response<Body> {
    answered(&request, async |_| {
        let caller = super::http::caller(&request)?;
        caller.authorize_any()?;
        let items: Vec<_> = app.credentials.catalogue().entries().collect();
        Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({ "items": items }),
        ))
    })
    .await
}

pub(crate) fn page_request(request: &Request) -> Result<PageRequest, Problem> {
    let limit = match query_parameter(request, "limit")? {
        None => PageRequest::DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=PageRequest::MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                Problem::bad_request(
                    "invalid_limit",
                    format!(
                        "limit must be a whole number from 1 to {}.",
                        PageRequest::MAX_LIMIT
                    ),
                )
                .with_field("limit")
            })?,
    };
    Ok(match query_parameter(request, "cursor")? {
        None => PageRequest::first(limit),
        Some(token) => PageRequest::after(limit, Cursor::decode(&token).map_err(Problem::from)?),
    })
}

pub async fn list_credentials(app: &App, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let status = match query_parameter(&request, "status")? {
            None => None,
            Some(text) => Some(Status::parse(&text).ok_or_else(|| {
                Problem::bad_request(
                    "invalid_status",
                    "status must be one of active, suspended, expired, revoked.",
                )
                .with_field("status")
            })?),
        };
        let unused_for_days = match query_parameter(&request, "unused_for_days")? {
            None => None,
            Some(text) => Some(
                text.parse::<u16>()
                    .ok()
                    .filter(|days| (1..=400).contains(days))
                    .ok_or_else(|| {
                        Problem::bad_request(
                            "invalid_unused_for_days",
                            "unused_for_days must be a whole number of days from 1 to 400.",
                        )
                        .with_field("unused_for_days")
                    })?,
            ),
        };
        let page = page_request(&request)?;
        let found = app
            .credentials
            .list(&acting.tenant, status, unused_for_days, &page)
            .await?;
        Ok(json_response(
            StatusCode::OK,
            &PageView::credentials(&found),
        ))
    })
    .await
}

pub async fn get_credential(app: &App, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let client_id = client_id(&request)?;
        let snapshot = app.credentials.get(&acting.tenant, &client_id).await?;
        Ok(credential_response(StatusCode::OK, &snapshot))
    })
    .await
}

pub async fn list_audit_events(app: &App, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let client_id = match path_parameter(&request, "client_id") {
            Some(_) => Some(client_id(&request)?),
            None => None,
        };
        let page = page_request(&request)?;
        let found = app
            .credentials
            .audit(&acting.tenant, client_id.as_ref(), &page)
            .await?;
        Ok(json_response(StatusCode::OK, &PageView::events(&found)))
    })
    .await
}

// --- change -------------------------------------------------------------------------------------

/// Handles the routes that apply one [`Change`] and answer with the credential after it.
async fn change_credential(
    app: &App,
    request: Request,
    read: impl FnOnce(&Request) -> Result<Change, Problem>,
) -> Response<Body> {
    managed(&request, async |acting| {
        let client_id = client_id(&request)?;
        let precondition = precondition(&request)?;
        let change = read(&request)?;
        let snapshot = app
            .credentials
            .change(&acting, &client_id, precondition.as_ref(), change)
            .await?;
        Ok(credential_response(StatusCode::OK, &snapshot))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// `null` removes the quota.
    #[serde(default, deserialize_with = "present")]
    monthly_request_quota: Option<Option<RequestQuota>>,
}

pub async fn update_credential(app: &App, request: Request) -> Response<Body> {
    change_credential(app, request, |request| {
        let body: UpdateBody = json_body(request, false)?;
        if body.name.is_none()
            && body.description.is_none()
            && body.scopes.is_none()
            && body.monthly_request_quota.is_none()
        {
            return Err(Problem::bad_request(
                "empty_update",
                "Give at least one of name, description, scopes, monthly_request_quota.",
            ));
        }
        Ok(Change::Details(DetailsPatch {
            name: body.name.as_deref().map(Name::parse).transpose()?,
            description: body
                .description
                .as_deref()
                .map(Description::parse)
                .transpose()?,
            scopes: body.scopes.as_deref().map(scopes).transpose()?,
            monthly_request_quota: body.monthly_request_quota,
        }))
    })
    .await
}

/// Distinguishes `"expires_at": null` (remove the expiry) from a missing field.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpiryBody {
    #[serde(default, deserialize_with = "present")]
    expires_at: Option<Option<String>>,
}

pub async fn update_expiry(app: &App, request: Request) -> Response<Body> {
    change_credential(app, request, |request| {
        let body: ExpiryBody = json_body(request, false)?;
        let requested = body.expires_at.ok_or_else(|| {
            Problem::bad_request(
                "missing_field",
                "expires_at is required: a date-time, or null to remove the expiry.",
            )
            .with_field("expires_at")
        })?;
        Ok(Change::Expiry(
            requested
                .as_deref()
                .map(|t| expiry("expires_at", t))
                .transpose()?,
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoBody {}

pub async fn suspend_credential(app: &App, request: Request) -> Response<Body> {
    change_credential(app, request, |request| {
        let NoBody {} = json_body(request, true)?;
        Ok(Change::Suspend)
    })
    .await
}

pub async fn reactivate_credential(app: &App, request: Request) -> Response<Body> {
    change_credential(app, request, |request| {
        let NoBody {} = json_body(request, true)?;
        Ok(Change::Reactivate)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    #[serde(default)]
    reason: Option<String>,
}

pub async fn revoke_credential(app: &App, request: Request) -> Response<Body> {
    change_credential(app, request, |request| {
        let body: RevokeBody = json_body(request, true)?;
        Ok(Change::Revoke(
            body.reason.as_deref().map(Reason::parse).transpose()?,
        ))
    })
    .await
}

pub async fn delete_credential(app: &App, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let client_id = client_id(&request)?;
        let precondition = precondition(&request)?;
        app.credentials
            .delete(&acting, &client_id, precondition.as_ref())
            .await?;
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        Ok(response)
    })
    .await
}
