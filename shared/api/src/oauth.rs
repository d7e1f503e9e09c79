//! The OAuth 2.0 endpoints: client credentials grant (RFC 6749 §4.4), introspection (RFC 7662),
//! revocation (RFC 7009) and discovery (RFC 8414, RFC 7517). Errors follow RFC 6749 §5.2.

use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::json;

use super::http::{log_request, media_type, request_id, source_address};
use super::response::{OAuthError, json_response};
use crate::state::OAuthApp;
use clavis_core::authorization::{Authorization, MalformedAuthorization};
use clavis_core::credential::Credential;
use clavis_core::token_service::Introspection;

/// Form bodies of these endpoints are a few hundred bytes.
const MAX_FORM_BYTES: usize = 8 * 1024;

/// A form body, each parameter at most once (RFC 6749 §3.2).
struct Form(Vec<(String, String)>);

impl Form {
    fn read(request: &Request) -> Result<Self, OAuthError> {
        if media_type(request).as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "Send the parameters as application/x-www-form-urlencoded.",
            ));
        }
        let body: &[u8] = request.body().as_ref();
        if body.len() > MAX_FORM_BYTES {
            return Err(OAuthError::invalid_request(format!(
                "The body exceeds {MAX_FORM_BYTES} bytes."
            )));
        }
        // RFC 6749 Appendix B: the form is UTF-8. Decoding raw bytes lossily would turn them
        // into a different value instead of an error.
        if std::str::from_utf8(body).is_err() {
            return Err(OAuthError::invalid_request("The body is not valid UTF-8."));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            if pairs.iter().any(|(seen, _)| *seen == name) {
                return Err(OAuthError::invalid_request(format!(
                    "The parameter {name} is repeated."
                )));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            OAuthError::invalid_request(format!("The parameter {name} is required."))
        })
    }
}

/// The client ID and secret, from HTTP Basic (`client_secret_basic`) or the form
/// (`client_secret_post`), never both.
fn presented_client(request: &Request, form: &Form) -> Result<(String, String), OAuthError> {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    // Another scheme is not client authentication: the form may still carry it.
    let basic = match header.map(Authorization::parse) {
        Some(Ok(Authorization::Basic { client_id, secret })) => Some((client_id, secret)),
        None | Some(Ok(Authorization::Bearer(_)) | Err(MalformedAuthorization::Scheme)) => None,
        Some(Err(MalformedAuthorization::Basic)) => {
            return Err(OAuthError::invalid_client(
                "The Basic credentials are malformed.",
            ));
        }
    };
    match (basic, form.get("client_id"), form.get("client_secret")) {
        (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
            "Use one client authentication method: HTTP Basic or client_secret in the body, not both.",
        )),
        (Some((id, _)), Some(form_id), None) if form_id != id => Err(OAuthError::invalid_request(
            "client_id in the body differs from the one in the Authorization header.",
        )),
        (Some(pair), _, None) => Ok(pair),
        (None, Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
        (None, _, _) => Err(OAuthError::invalid_client(
            "Authenticate the client with HTTP Basic or client_id and client_secret.",
        )),
    }
}

async fn authenticate(
    app: &OAuthApp,
    request: &Request,
    form: &Form,
) -> Result<Credential, OAuthError> {
    let (id, secret) = presented_client(request, form)?;
    Ok(app
        .tokens
        .authenticate(&id, &secret, &source_address(request))
        .await?)
}

/// Runs an endpoint and renders its outcome with the headers every OAuth response carries.
async fn endpoint(
    request: &Request,
    op: impl AsyncFnOnce() -> Result<Response<Body>, OAuthError>,
) -> Response<Body> {
    let started = Instant::now();
    let mut response = match op().await {
        Ok(response) => response,
        Err(error) => {
            if let Some(cause) = &error.cause {
                tracing::error!(error = error.error, cause = %cause, "oauth request failed");
            }
            error.into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    log_request(request, request_id(request).as_deref(), &response, started);
    response
}

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    scope: &'a str,
}

/// `POST /oauth/token`: `grant_type=client_credentials`, optional `scope`.
pub async fn issue_token(app: &OAuthApp, request: Request) -> Response<Body> {
    endpoint(&request, async || {
        let form = Form::read(&request)?;
        let grant_type = form.required("grant_type")?;
        if grant_type != "client_credentials" {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Only grant_type=client_credentials is supported.",
            ));
        }
        let credential = authenticate(app, &request, &form).await?;
        let issued = app
            .tokens
            .issue(&credential, form.get("scope"), &source_address(&request))
            .await?;
        tracing::info!(client_id = %credential.client_id, jti = %issued.claims.jti, "token issued");
        Ok(json_response(
            StatusCode::OK,
            &TokenResponse {
                access_token: &issued.access_token,
                token_type: "Bearer",
                expires_in: issued.expires_in,
                scope: &issued.scope,
            },
        ))
    })
    .await
}

/// `POST /oauth/introspect`: is this token good right now? The caller authenticates with its
/// own credentials and learns only about tokens of its own tenant.
pub async fn introspect_token(app: &OAuthApp, request: Request) -> Response<Body> {
    endpoint(&request, async || {
        let form = Form::read(&request)?;
        let caller = authenticate(app, &request, &form).await?;
        let token = form.required("token")?;
        let asked = app
            .tokens
            .introspect(&caller, token, &source_address(&request))
            .await?;
        let Introspection::Active(claims) = asked else {
            return Ok(json_response(StatusCode::OK, &json!({"active": false})));
        };
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "active": true,
                "scope": claims.scope,
                "client_id": claims.client_id,
                "token_type": "Bearer",
                "exp": claims.exp,
                "iat": claims.iat,
                "sub": claims.sub,
                "aud": claims.aud,
                "iss": claims.iss,
                "jti": claims.jti,
                "tenant": claims.tenant,
                "environment": claims.environment,
            }),
        ))
    })
    .await
}

/// `POST /oauth/revoke`: a client revokes one of its own tokens. Tokens that are invalid or
/// already expired need nothing done and answer 200 too (RFC 7009 §2.2).
pub async fn revoke_token(app: &OAuthApp, request: Request) -> Response<Body> {
    endpoint(&request, async || {
        let form = Form::read(&request)?;
        let caller = authenticate(app, &request, &form).await?;
        let token = form.required("token")?;
        if let Some(jti) = app.tokens.revoke(&caller, token).await? {
            tracing::info!(client_id = %caller.client_id, jti = %jti, "token revoked");
        }
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::OK;
        Ok(response)
    })
    .await
}

/// `GET /.well-known/jwks.json`, `/.well-known/oauth-authorization-server` and
/// `/.well-known/openid-configuration`.
pub async fn discovery(app: &OAuthApp, request: Request) -> Response<Body> {
    let tokens = app.tokens.tokens();
    let issuer = tokens.issuer();
    let algorithm = tokens.public_keys().current().algorithm().as_str();
    let metadata = || {
        json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}/oauth/token"),
            "introspection_endpoint": format!("{issuer}/oauth/introspect"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "token_endpoint_auth_signing_alg_values_supported": [algorithm],
        })
    };
    let document = match request.uri().path() {
        "/.well-known/jwks.json" => {
            serde_json::to_value(tokens.public_keys().jwks()).unwrap_or_default()
        }
        "/.well-known/oauth-authorization-server" => metadata(),
        "/.well-known/openid-configuration" => {
            let mut document = metadata();
            if let Some(fields) = document.as_object_mut() {
                // Required by OpenID Connect Discovery; Clavis issues no ID tokens.
                fields.insert("subject_types_supported".into(), json!(["public"]));
                fields.insert(
                    "id_token_signing_alg_values_supported".into(),
                    json!([algorithm]),
                );
            }
            document
        }
        _ => return json_response(StatusCode::NOT_FOUND, &json!({"message": "Not Found"})),
    };
    let mut response = json_response(StatusCode::OK, &document);
    // Verifiers cache keys; five minutes keeps a key rotation quick to propagate.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
