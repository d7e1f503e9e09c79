//! Handlers of a tenant's webhook endpoints, `/v1/tenants/{tenant}/webhooks…`: the same
//! callers as the credentials. Two functions serve them: `issue-webhook-secret` (create and
//! rotate, the only ones holding the sealing key) and `manage-webhooks` (the rest).

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};

use super::credentials::{managed, page_request};
use super::http::{json_body, path_parameter};
use super::response::{Problem, json_response};
use super::views::{DeliveryView, WebhookView};
use crate::state::WebhooksApp;
use clavis_core::ids::WebhookId;
use clavis_core::webhook::WebhookStatus;
use clavis_core::webhook_service::{NewWebhook, WebhookPatch, WithSecret};

fn webhook_id(request: &Request) -> Result<WebhookId, Problem> {
    // An ID that cannot exist is answered like one that does not.
    path_parameter(request, "webhook_id")
        .and_then(|id| WebhookId::parse(&id))
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "webhook_not_found",
                "No such webhook exists in this tenant.",
            )
        })
}

/// The endpoint with its new secret: shown once (every management answer is `no-store`).
fn with_secret(status: StatusCode, app: &WebhooksApp, issued: &WithSecret) -> Response<Body> {
    let now = app.clock.now();
    let mut response = json_response(
        status,
        &serde_json::json!({
            "webhook": WebhookView::of(&issued.webhook, now),
            "secret": issued.secret.expose(),
        }),
    );
    let location = format!(
        "/v1/tenants/{}/webhooks/{}",
        issued.webhook.tenant, issued.webhook.id
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn one(app: &WebhooksApp, webhook: &clavis_core::webhook::Webhook) -> Response<Body> {
    let view = WebhookView::of(webhook, app.clock.now());
    json_response(StatusCode::OK, &serde_json::json!({ "webhook": view }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    url: String,
    #[serde(default)]
    event_types: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
}

/// `null` and absent differ in a patch: `null` clears, absent leaves alone.
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "present")]
    url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "status")]
    status: Option<WebhookStatus>,
}

fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WebhookStatus>, D::Error> {
    match String::deserialize(d)?.as_str() {
        "enabled" => Ok(Some(WebhookStatus::Enabled)),
        "disabled" => Ok(Some(WebhookStatus::Disabled)),
        _ => Err(D::Error::custom("status must be enabled or disabled")),
    }
}

pub async fn create_webhook(app: &WebhooksApp, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let body: CreateBody = json_body(&request, false)?;
        let issued = app
            .webhooks
            .create(
                &acting,
                NewWebhook {
                    url: body.url,
                    event_types: body.event_types,
                    description: body.description,
                },
            )
            .await?;
        Ok(with_secret(StatusCode::CREATED, app, &issued))
    })
    .await
}

pub async fn list_webhooks(app: &WebhooksApp, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let now = app.clock.now();
        let listed = app.webhooks.list(&acting.tenant).await?;
        let webhooks: Vec<_> = listed.iter().map(|w| WebhookView::of(w, now)).collect();
        Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({ "webhooks": webhooks }),
        ))
    })
    .await
}

pub async fn get_webhook(app: &WebhooksApp, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let webhook = app
            .webhooks
            .get(&acting.tenant, &webhook_id(&request)?)
            .await?;
        Ok(one(app, &webhook))
    })
    .await
}

pub async fn update_webhook(app: &WebhooksApp, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let id = webhook_id(&request)?;
        let body: PatchBody = json_body(&request, false)?;
        let url = match body.url {
            Some(None) => {
                return Err(
                    Problem::bad_request("invalid_field", "url may not be null.").with_field("url"),
                );
            }
            Some(Some(url)) => Some(url),
            None => None,
        };
        let patch = WebhookPatch {
            url,
            event_types: body.event_types,
            description: body.description,
            status: body.status,
        };
        let webhook = app.webhooks.update(&acting, &id, patch).await?;
        Ok(one(app, &webhook))
    })
    .await
}

pub async fn delete_webhook(app: &WebhooksApp, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        app.webhooks.delete(&acting, &webhook_id(&request)?).await?;
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        Ok(response)
    })
    .await
}

pub async fn rotate_webhook_secret(app: &WebhooksApp, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let issued = app
            .webhooks
            .rotate_secret(&acting, &webhook_id(&request)?)
            .await?;
        Ok(with_secret(StatusCode::OK, app, &issued))
    })
    .await
}

pub async fn test_webhook(app: &WebhooksApp, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let event_id = app
            .webhooks
            .send_test(&acting, &webhook_id(&request)?)
            .await?;
        Ok(json_response(
            StatusCode::ACCEPTED,
            &serde_json::json!({ "event_id": event_id }),
        ))
    })
    .await
}

pub async fn list_deliveries(app: &WebhooksApp, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let id = webhook_id(&request)?;
        let page = page_request(&request)?;
        let found = app.webhooks.deliveries(&acting.tenant, &id, &page).await?;
        let deliveries: Vec<_> = found.items.iter().map(DeliveryView::from).collect();
        Ok(json_response(
            StatusCode::OK,
            &serde_json::json!({
                "deliveries": deliveries,
                "next_cursor": found.next_cursor.map(|c| c.encode()),
            }),
        ))
    })
    .await
}
