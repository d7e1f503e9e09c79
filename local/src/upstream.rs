//! The platform's API behind the local gateway: `ANY /api/{path+}` as API Gateway fronts a
//! platform's own routes with the `authorize-request` authorizer attached. Each request runs
//! the very handler the authorizer function runs, on the payload 2.0 authorizer event API
//! Gateway would send; a refusal is API Gateway's 403, an allowed request is forwarded to
//! `CLAVIS_UPSTREAM` with the authorizer's context in `x-clavis-*` headers.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use clavis_api::authorizer::{AuthorizerContext, authorize_request};
use clavis_api::state::AuthorizerApp;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::apigw;

/// Where the platform's API is served on the gateway.
pub const API_PREFIX: &str = "/api";
/// What the client may not set itself: the gateway sets these from the authorizer's context.
const CONTEXT_HEADER_PREFIX: &str = "x-clavis-";
/// API Gateway's HTTP APIs name each request in their answer.
pub const REQUEST_ID_HEADER: &str = "apigw-requestid";

/// `CLAVIS_UPSTREAM`: where allowed requests go, e.g. `http://127.0.0.1:8080`.
#[derive(Debug, Clone)]
pub struct Upstream {
    base: String,
}

impl Upstream {
    pub fn parse(url: &str) -> Result<Self, String> {
        let base = url.trim().trim_end_matches('/');
        let uri: Uri = base
            .parse()
            .map_err(|e| format!("must be an http:// URL ({e})"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err("must be an http:// URL with a host, e.g. http://127.0.0.1:8080".into());
        }
        if uri.query().is_some() {
            return Err("must not carry a query string".into());
        }
        Ok(Self {
            base: base.to_owned(),
        })
    }
}

/// The platform's API as the gateway fronts it.
pub struct PlatformApi {
    authorizer: Arc<AuthorizerApp>,
    upstream: Upstream,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// Headers that describe one connection, not the request (RFC 9110 §7.6.1): never forwarded.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

impl PlatformApi {
    pub fn new(authorizer: Arc<AuthorizerApp>, upstream: Upstream) -> Self {
        Self {
            authorizer,
            upstream,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn authorizer(&self) -> &AuthorizerApp {
        &self.authorizer
    }

    /// The path after [`API_PREFIX`], if `path` is the platform's (`/api/{path+}`: at least
    /// one segment).
    pub fn route_path(path: &str) -> Option<&str> {
        path.strip_prefix(API_PREFIX)
            .filter(|rest| rest.starts_with('/') && rest.len() > 1)
    }

    /// Authorizes and forwards one request whose path is `/api` + `path`. The answer carries
    /// the request ID, in `apigw-requestid` as API Gateway's HTTP APIs do, which the
    /// authorizer's log line names.
    pub async fn handle(
        &self,
        parts: hyper::http::request::Parts,
        path: &str,
        body: Bytes,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let request_id = ulid::Ulid::generate().to_string();
        let mut response = self
            .authorize_and_forward(parts, path, body, peer, &request_id)
            .await;
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        response
    }

    async fn authorize_and_forward(
        &self,
        parts: hyper::http::request::Parts,
        path: &str,
        body: Bytes,
        peer: SocketAddr,
        request_id: &str,
    ) -> Response<Full<Bytes>> {
        if let Err(why) = acceptable(&parts.method, &parts.uri) {
            tracing::info!(request_id, why, "request refused before the authorizer");
            return apigw::gateway_message(StatusCode::BAD_REQUEST, "Bad Request");
        }
        // The identity source: without the header API Gateway answers 401 and calls nothing.
        let Some(authorization) = parts.headers.get(header::AUTHORIZATION) else {
            let mut response = apigw::gateway_message(StatusCode::UNAUTHORIZED, "Unauthorized");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        };
        let route_key = self
            .authorizer
            .verifier
            .routes()
            .route_key(parts.method.as_str(), path);
        let event = authorizer_event(&parts, path, &route_key, authorization, peer, request_id);
        let event = match serde_json::from_value(event) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the authorizer event");
                return apigw::gateway_message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                );
            }
        };
        let decision = authorize_request(&self.authorizer, event).await;
        match decision.context {
            Some(context) if decision.is_authorized => {
                self.forward(parts, path, body, &context).await
            }
            _ => apigw::gateway_message(StatusCode::FORBIDDEN, "Forbidden"),
        }
    }

    async fn forward(
        &self,
        parts: hyper::http::request::Parts,
        path: &str,
        body: Bytes,
        context: &AuthorizerContext,
    ) -> Response<Full<Bytes>> {
        let target = match parts.uri.query() {
            Some(query) => format!("{}{path}?{query}", self.upstream.base),
            None => format!("{}{path}", self.upstream.base),
        };
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        headers.remove(header::HOST);
        // The platform's API gets the authorizer's context, never the credentials themselves.
        headers.remove(header::AUTHORIZATION);
        let spoofed: Vec<HeaderName> = headers
            .keys()
            .filter(|name| name.as_str().starts_with(CONTEXT_HEADER_PREFIX))
            .cloned()
            .collect();
        for name in spoofed {
            headers.remove(name);
        }
        for (name, value) in [
            ("x-clavis-tenant", &context.tenant),
            ("x-clavis-client-id", &context.client_id),
            ("x-clavis-scope", &context.scope),
            ("x-clavis-environment", &context.environment),
            ("x-clavis-jti", &context.jti),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = parts.method;
        *request.headers_mut() = headers;
        *request.uri_mut() = match target.parse() {
            Ok(uri) => uri,
            Err(_) => {
                return apigw::gateway_message(StatusCode::BAD_REQUEST, "Bad Request");
            }
        };
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(e) => {
                tracing::error!(error = %e, upstream = %self.upstream.base, "the upstream did not answer");
                return apigw::gateway_message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                );
            }
        };
        let (mut parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                tracing::error!(error = %e, "the upstream's answer was cut");
                return apigw::gateway_message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                );
            }
        };
        strip_hop_by_hop(&mut parts.headers);
        Response::from_parts(parts, Full::new(body))
    }
}

/// A request the proxy takes at all: a method in upper case (methods match route keys case
/// by case, so `get` must not slip past `GET /…`'s scopes to a catch-all), and a path whose
/// segments mean what they say: no `.` or `..` (encoded or not), no encoded `/` or `\\`, no
/// backslash, so that the path the authorizer matched is the path the upstream serves.
fn acceptable(method: &hyper::Method, uri: &Uri) -> Result<(), &'static str> {
    if !method.as_str().bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("method not in upper case");
    }
    let raw = uri.path();
    let lowered = raw.to_ascii_lowercase();
    if raw.contains('\\') || lowered.contains("%2f") || lowered.contains("%5c") {
        return Err("encoded slash or backslash in the path");
    }
    let dot_segment = raw.split('/').any(|segment| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        decoded == "." || decoded == ".."
    });
    if dot_segment {
        return Err("dot segment in the path");
    }
    Ok(())
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove("keep-alive");
}

/// The payload 2.0 authorizer event API Gateway sends for a request.
fn authorizer_event(
    parts: &hyper::http::request::Parts,
    path: &str,
    route_key: &str,
    authorization: &HeaderValue,
    peer: SocketAddr,
    request_id: &str,
) -> Value {
    let (headers, cookies) = apigw::payload_headers(&parts.headers);
    let now = chrono::Utc::now();
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": format!("arn:aws:execute-api:local:000000000000:local/$default/{}", route_key.replace(' ', "")),
        "identitySource": [String::from_utf8_lossy(authorization.as_bytes())],
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "cookies": cookies,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": "",
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
    })
}
