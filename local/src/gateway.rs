//! The local gateway: serves every route of the route table over HTTP the way API Gateway's
//! HTTP API would. For each request it runs the JWT authorizer emulation, builds the payload
//! 2.0 event API Gateway would send, converts it with lambda_http's own parser (so handlers see
//! exactly the request a Lambda function sees), and calls the same handler the function runs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use chrono::Utc;
use clavis_api::routes::{Access, Endpoint, EndpointFamily, find_route};
use clavis_core::authorization::Authorization;
use clavis_runtime::compose::RoutedFunctions;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::apigw::{gateway_message, payload_headers};
use crate::idp::LocalIdp;
use crate::upstream::PlatformApi;

/// API Gateway's payload limit.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

pub struct Gateway {
    functions: RoutedFunctions,
    idp: Arc<LocalIdp>,
    /// The built admin console, served at `/console/` (a static site in AWS, beside the API).
    console: Option<PathBuf>,
    /// The platform's own API behind the request authorizer, at `/api/`, when configured.
    platform: Option<PlatformApi>,
}

/// Where the standalone console page is served.
pub const CONSOLE_PATH: &str = "/console/";

/// A bound listener: its address is known (the token issuer is the gateway's own URL) before
/// the apps that serve it are built.
pub struct Bound {
    listener: TcpListener,
    pub addr: SocketAddr,
}

impl Bound {
    /// Binds `addr`; port 0 takes any free port.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(Self { listener, addr })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `gateway` in the background until the returned handle stops. Uses are flushed
    /// every second, as in a warm Lambda instance, and once more after the last connection
    /// closes, as at a Lambda instance's shutdown.
    pub fn serve(self, gateway: Gateway) -> RunningGateway {
        let Bound { listener, addr } = self;
        let (stop, mut stopped) = watch::channel(false);
        let flusher = gateway.functions.oauth.tokens.usage().spawn_flusher();
        let authorizer_flusher = gateway
            .platform
            .as_ref()
            .map(|p| p.authorizer().verifier.usage().spawn_flusher());
        let gateway = Arc::new(gateway);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                    accepted = listener.accept() => {
                        let Ok((stream, peer)) = accepted else { continue };
                        let gateway = Arc::clone(&gateway);
                        let mut stop_connection = stopped.clone();
                        connections.spawn(async move {
                            let service = service_fn(move |request| {
                                let gateway = Arc::clone(&gateway);
                                async move { Ok::<_, Infallible>(gateway.handle(request, peer).await) }
                            });
                            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                            tokio::select! {
                                _ = connection => {}
                                _ = stop_connection.changed() => {}
                            }
                        });
                    }
                }
            }
            // Requests in flight are cut, as a Lambda timeout cuts them (the fault tests rely on
            // it); every use counted before is in the last flush.
            while connections.join_next().await.is_some() {}
            flusher.stop().await.log_final("gateway stopped");
            if let Some(flusher) = authorizer_flusher {
                flusher
                    .stop()
                    .await
                    .log_final("gateway stopped (authorizer)");
            }
        });
        RunningGateway {
            addr,
            stop,
            task: Some(task),
        }
    }
}

/// A gateway serving in the background until stopped or dropped.
pub struct RunningGateway {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RunningGateway {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Gateway {
    pub fn new(functions: RoutedFunctions, idp: Arc<LocalIdp>) -> Self {
        Self {
            functions,
            idp,
            console: None,
            platform: None,
        }
    }

    /// Also fronts the platform's API at `/api/` with the request authorizer.
    pub fn with_platform_api(mut self, platform: PlatformApi) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Also serves the built console in `dir` at [`CONSOLE_PATH`].
    pub fn with_console(mut self, dir: PathBuf) -> Self {
        self.console = Some(dir);
        self
    }

    async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        if let Some(dir) = &self.console
            && (request.uri().path() == "/console"
                || request.uri().path().starts_with(CONSOLE_PATH))
        {
            return serve_console(dir, request).await;
        }
        let (parts, body) = request.into_parts();
        if let Some(platform) = &self.platform
            && let Some(path) = PlatformApi::route_path(parts.uri.path())
        {
            let path = path.to_owned();
            return match read_body(body).await {
                Ok(body) => platform.handle(parts, &path, body, peer).await,
                Err(response) => response,
            };
        }
        let Some((route, path_parameters)) = find_route(parts.method.as_str(), parts.uri.path())
        else {
            return gateway_message(StatusCode::NOT_FOUND, "Not Found");
        };
        let body = match read_body(body).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        let claims = match route.access {
            Access::Public => None,
            Access::Jwt => {
                let token = parts
                    .headers
                    .get(hyper::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Authorization::bearer);
                match token.and_then(|t| self.idp.verify(t)) {
                    Some(claims) => Some(claims),
                    None => {
                        let mut response =
                            gateway_message(StatusCode::UNAUTHORIZED, "Unauthorized");
                        response
                            .headers_mut()
                            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                        return response;
                    }
                }
            }
        };
        let event = payload_v2(&parts, &body, route.key(), &path_parameters, claims, peer);
        let request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => request,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the Lambda request");
                return gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        };
        let response = match route.endpoint {
            Endpoint::Credentials(endpoint) => {
                endpoint.handle(&self.functions.management, request).await
            }
            Endpoint::OAuth(endpoint) => endpoint.handle(&self.functions.oauth, request).await,
            Endpoint::Webhooks(endpoint) => {
                endpoint.handle(&self.functions.webhooks, request).await
            }
            Endpoint::Leaks(endpoint) => endpoint.handle(&self.functions.leaks, request).await,
            Endpoint::Github(endpoint) => endpoint.handle(&self.functions.github, request).await,
        };
        let (parts, body) = response.into_parts();
        Response::from_parts(parts, Full::new(Bytes::copy_from_slice(body.as_ref())))
    }
}

/// The console's static files, with headers that keep its page from leaking the management
/// token it holds: no caching of the page, no referrer, and scripts and connections only to
/// this origin.
async fn serve_console(dir: &Path, request: Request<Incoming>) -> Response<Full<Bytes>> {
    use tower::ServiceExt;
    if request.uri().path() == "/console" {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
        response.headers_mut().insert(
            hyper::header::LOCATION,
            HeaderValue::from_static(CONSOLE_PATH),
        );
        return response;
    }
    // The files sit at the folder's root; the URL keeps its /console/ prefix.
    let (mut parts, body) = request.into_parts();
    let rest = parts.uri.path()[CONSOLE_PATH.len() - 1..].to_owned();
    parts.uri = match rest.parse() {
        Ok(uri) => uri,
        Err(_) => return gateway_message(StatusCode::NOT_FOUND, "Not Found"),
    };
    let served = tower_http::services::ServeDir::new(dir)
        .oneshot(Request::from_parts(parts, body))
        .await;
    let response = match served {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (mut parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read a console file");
            return gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    if parts.status == StatusCode::NOT_FOUND && !dir.join("index.html").is_file() {
        return gateway_message(
            StatusCode::NOT_FOUND,
            "The console is not built: `make run` builds it (npm ci and npm run build in console/).",
        );
    }
    for (name, value) in [
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        (
            "content-security-policy",
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    ] {
        parts.headers.insert(name, HeaderValue::from_static(value));
    }
    Response::from_parts(parts, Full::new(bytes))
}

/// A request's body, up to API Gateway's limit.
async fn read_body(body: Incoming) -> Result<Bytes, Response<Full<Bytes>>> {
    match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(gateway_message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
        )),
    }
}

/// The API Gateway HTTP API payload (format 2.0) for one request.
fn payload_v2(
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    route_key: String,
    path_parameters: &[(String, String)],
    claims: Option<std::collections::HashMap<String, String>>,
    peer: SocketAddr,
) -> Value {
    let (headers, cookies) = payload_headers(&parts.headers);
    let (body, is_base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (Value::String(STANDARD.encode(body)), true),
    };
    let now = Utc::now();
    let user_agent = parts
        .headers
        .get(hyper::header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let host = parts
        .headers
        .get(hyper::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let authorizer = claims.map(|claims| json!({ "jwt": { "claims": claims, "scopes": null } }));
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "cookies": if cookies.is_empty() { Value::Null } else { json!(cookies) },
        "headers": headers,
        "pathParameters": path_parameters.iter().map(|(k, v)| ((*k).to_owned(), Value::String(v.clone()))).collect::<Map<_, _>>(),
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": user_agent,
            },
            "requestId": ulid::Ulid::generate().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
            "authorizer": authorizer,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}
