//! Handlers of a tenant's policy: `GET` and `PUT /v1/tenants/{tenant}/policy`. The same callers
//! as the credentials; a manager of another tenant is answered 404, as for its credentials.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use super::credentials::{OtherTenant, managed_as};
use super::http::{json_body, precondition};
use super::response::{Problem, etag, json_response};
use super::views::PolicyView;
use crate::state::App;
use clavis_core::credential::{Environment, Scopes};
use clavis_core::policy::{LeakAction, PolicyFields, StoredPolicy};

const NOT_FOUND: OtherTenant = OtherTenant::NotFound("policy_not_found");

fn policy_response(stored: &StoredPolicy) -> Response<Body> {
    let mut response = json_response(StatusCode::OK, &PolicyView::from(stored));
    if let Ok(value) = HeaderValue::from_str(&etag(stored.version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

pub async fn get_policy(app: &App, request: Request) -> Response<Body> {
    managed_as(&request, NOT_FOUND, async |acting| {
        let stored = app.credentials.policy(&acting.tenant).await?;
        Ok(policy_response(&stored))
    })
    .await
}

/// The whole document; a member left out takes its open default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    #[serde(default)]
    max_lifetime_days: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    require_expiry: Option<bool>,
    #[serde(default)]
    max_grace_seconds: Option<i64>,
    #[serde(default)]
    allowed_scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    allowed_environments: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    leak_action: Option<String>,
}

/// A member that may be left out but not sent as `null`: it has no "none" to mean.
fn not_null<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

fn invalid(field: &'static str, detail: &str) -> Problem {
    Problem::bad_request("invalid_field", format!("{field} {detail}")).with_field(field)
}

impl PolicyBody {
    fn into_fields(self) -> Result<PolicyFields, Problem> {
        let open = PolicyFields::default();
        let allowed_scopes = self
            .allowed_scopes
            .map(|scopes| {
                Scopes::parse(&scopes).map_err(|e| {
                    invalid(
                        "allowed_scopes",
                        &format!(
                            "must be null (any scope) or a list of scopes: {}.",
                            e.message
                        ),
                    )
                })
            })
            .transpose()?;
        let allowed_environments = match self.allowed_environments {
            None => open.allowed_environments,
            Some(names) => names
                .iter()
                .map(|name| Environment::parse(name))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    invalid(
                        "allowed_environments",
                        "must list environments from live and test.",
                    )
                })?,
        };
        let leak_action = match self.leak_action.as_deref() {
            None => open.leak_action,
            Some(text) => LeakAction::parse(text)
                .ok_or_else(|| invalid("leak_action", "must be one of revoke, suspend, notify."))?,
        };
        Ok(PolicyFields {
            max_lifetime_days: self.max_lifetime_days,
            require_expiry: self.require_expiry.unwrap_or(open.require_expiry),
            max_grace_seconds: self.max_grace_seconds,
            allowed_scopes,
            allowed_environments,
            leak_action,
        })
    }
}

pub async fn put_policy(app: &App, request: Request) -> Response<Body> {
    managed_as(&request, NOT_FOUND, async |acting| {
        let precondition = precondition(&request)?;
        let body: PolicyBody = json_body(&request, false)?;
        let stored = app
            .credentials
            .set_policy(&acting, precondition.as_ref(), body.into_fields()?)
            .await?;
        Ok(policy_response(&stored))
    })
    .await
}
