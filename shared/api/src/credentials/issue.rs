//! The handlers that hand out a secret, create and rotate: the secret is shown in this answer
//! and never again, except to a repeat of the same request with the same idempotency key.

use super::*;

/// What create and rotate keep of their answer for a repeated request: all but the secret.
fn issued_body(snapshot: &Snapshot) -> serde_json::Value {
    let view = IssuedSecretView {
        credential: CredentialView::from(snapshot),
        client_secret_notice: SECRET_NOTICE,
    };
    // Our own view type (strings, numbers, lists) always serialises.
    serde_json::to_value(view).unwrap_or_default()
}

/// The answer to a create or rotation, fresh or repeated: the same body either way, with the
/// secret, its ETag and (for a create) its Location.
fn secret_response(
    status: StatusCode,
    issued: Issued,
    tenant: Option<&TenantId>,
) -> Response<Body> {
    let (mut body, secret, client_id, version, replayed) = match issued {
        Issued::Fresh(snapshot, secret) => {
            let credential = &snapshot.credential;
            let (client_id, version) = (credential.client_id.clone(), credential.version);
            (issued_body(&snapshot), secret, client_id, version, false)
        }
        Issued::Replayed {
            response,
            secret,
            client_id,
            version,
        } => (response, secret, client_id, version, true),
    };
    if let Some(fields) = body.as_object_mut() {
        fields.insert("client_secret".into(), secret.expose().into());
    }
    let location = tenant.map(|tenant| format!("/v1/tenants/{tenant}/credentials/{client_id}"));
    let mut response = json_response(status, &body);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        headers.insert(header::ETAG, value);
    }
    if let Some(value) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, value);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// A create or rotation made with an `Idempotency-Key`, identified by its body and `If-Match`
/// as sent.
fn once<'a>(
    request: &'a Request,
    key: Option<IdempotencyKey>,
    if_match: &'a [u8],
) -> Option<Once<'a>> {
    key.map(|key| Once {
        key,
        request: vec![body_bytes(request), if_match],
        render: &issued_body,
    })
}

fn if_match_bytes(request: &Request) -> Vec<u8> {
    request
        .headers()
        .get_all(header::IF_MATCH)
        .iter()
        .flat_map(|v| [v.as_bytes(), b"\n"])
        .flatten()
        .copied()
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    description: Option<String>,
    scopes: Vec<String>,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    expires_in_days: Option<i64>,
    #[serde(default)]
    monthly_request_quota: Option<RequestQuota>,
}

pub async fn create_credential(app: &App, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let key = idempotency_key(&request)?;
        let body: CreateBody = json_body(&request, false)?;
        let environment = match body.environment.as_deref() {
            None => Environment::Live,
            Some(text) => Environment::parse(text).ok_or_else(|| {
                Problem::from(ValidationError::new(
                    "environment",
                    "invalid_environment",
                    "environment must be \"live\" or \"test\"",
                ))
            })?,
        };
        let create = CreateRequest {
            name: Name::parse(&body.name)?,
            description: Description::parse(body.description.as_deref().unwrap_or_default())?,
            scopes: scopes(&body.scopes)?,
            environment,
            expires_at: body
                .expires_at
                .as_deref()
                .map(|t| expiry("expires_at", t))
                .transpose()?,
            expires_in_days: body.expires_in_days,
            monthly_request_quota: body.monthly_request_quota,
        };
        let issued = app
            .credentials
            .create(&acting, create, once(&request, key, &[]))
            .await?;
        Ok(secret_response(
            StatusCode::CREATED,
            issued,
            Some(&acting.tenant),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    #[serde(default)]
    previous_secret_valid_for_seconds: Option<i64>,
    /// End the tokens issued before the rotation at once (after a leak).
    #[serde(default)]
    end_existing_tokens: bool,
}

pub async fn rotate_secret(app: &App, request: Request) -> Response<Body> {
    managed(&request, async |acting| {
        let client_id = client_id(&request)?;
        let precondition = precondition(&request)?;
        let key = idempotency_key(&request)?;
        let body: RotateBody = json_body(&request, true)?;
        let rotation = Rotation {
            grace: GracePeriod::from_seconds(body.previous_secret_valid_for_seconds.unwrap_or(0))?,
            end_existing_tokens: body.end_existing_tokens,
        };
        let if_match = if_match_bytes(&request);
        let issued = app
            .credentials
            .rotate_secret(
                &acting,
                &client_id,
                precondition.as_ref(),
                rotation,
                once(&request, key, &if_match),
            )
            .await?;
        Ok(secret_response(StatusCode::OK, issued, None))
    })
    .await
}
