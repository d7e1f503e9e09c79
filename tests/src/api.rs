//! End-to-end fixture: a local gateway on a free port, over its own table (or memory), with
//! the clock the test moves, and every log line of the process captured for inspection.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use clavis_core::token::keys::{KeyAlgorithm, SigningKey};
use clavis_core::usage::UsageRecorder;
use clavis_core::webhook::SealingKey;
use clavis_local::events::InProcessEvents;
use clavis_local::gateway::{Bound, Gateway, RunningGateway};
use clavis_local::idp::{DevClaims, LocalIdp};
use clavis_local::upstream::{PlatformApi, Upstream};
use clavis_runtime::compose::{Deployment, Ports};
use clavis_runtime::config::{Env, WebhookSettings};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::{Fixture, dynamodb_fixture, memory_fixture};

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

/// A log writer that keeps what it is given, for a test to read.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Everything written since the last take, as text.
    pub fn take(&self) -> String {
        let mut bytes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&std::mem::take(&mut *bytes)).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once per process) a subscriber that records everything Clavis logs, down to
/// TRACE, and what the AWS SDK logs at DEBUG.
fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(Arc::clone(&buffer));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "trace,aws_smithy_runtime=debug,aws_sdk_dynamodb=debug,hyper=info,h2=info",
            ))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init();
        buffer
    })
    .clone()
}

/// Everything logged by this test process so far.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&capture_logs().lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

pub struct TestApi {
    pub fixture: Fixture,
    pub idp: Arc<LocalIdp>,
    pub http: reqwest::Client,
    pub gateway: RunningGateway,
    /// Where the API counts uses; [`TestApi::flush_usage`] writes them, as the gateway does
    /// every second.
    pub usage: Arc<UsageRecorder>,
    /// Where the request authorizer counts uses, when the gateway fronts a platform's API
    /// (`CLAVIS_UPSTREAM` and `ROUTE_SCOPES` in the settings).
    pub authorizer_usage: Option<Arc<UsageRecorder>>,
    /// What [`TestApi::start_deliveries`] delivers with.
    pub webhook_settings: WebhookSettings,
    pub sealing: Arc<SealingKey>,
}

/// A credential created for an integration, with its one-time secret.
#[derive(Debug, Clone)]
pub struct Integration {
    pub id: String,
    pub secret: String,
}

impl Integration {
    /// `Authorization: Basic …` for this client ID with `secret` (its own, or another).
    pub fn basic(&self, secret: &str) -> String {
        use base64::Engine;
        let pair = format!("{}:{secret}", self.id);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// The client ID and one-time secret of a create's answer.
    pub fn of(created: &Value) -> Self {
        Self {
            id: created["credential"]["client_id"]
                .as_str()
                .expect("client_id")
                .to_owned(),
            secret: created["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        }
    }
}

/// One response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The problem `code` of an error response.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    #[track_caller]
    pub fn expect_problem(self, status: u16, code: &str) -> Self {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "body: {}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        self
    }
}

impl TestApi {
    pub async fn dynamodb() -> Self {
        Self::over(dynamodb_fixture().await, Env::default()).await
    }

    pub async fn memory() -> Self {
        Self::over(memory_fixture(), Env::default()).await
    }

    /// In memory, trusting management tokens of `idp` (e.g. one whose key is on disk, as
    /// `make run` keeps it).
    pub async fn memory_with_idp(idp: LocalIdp) -> Self {
        Self::with(memory_fixture(), Env::default(), idp).await
    }

    /// With token settings of the test's own (e.g. `SIGNING_ALGORITHM`, `TOKEN_FAILURE_LIMIT`).
    pub async fn dynamodb_with(settings: Env) -> Self {
        Self::over(dynamodb_fixture().await, settings).await
    }

    /// Over a store of the test's own making (e.g. one whose DynamoDB client records its calls).
    pub async fn over(fixture: Fixture, settings: Env) -> Self {
        Self::with(fixture, settings, LocalIdp::ephemeral().expect("idp")).await
    }

    /// Over a store of the test's own making, trusting management tokens of `idp`.
    pub async fn with(fixture: Fixture, settings: Env, idp: LocalIdp) -> Self {
        capture_logs();
        let idp = Arc::new(idp);
        let bound = Bound::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind");
        let algorithm = settings
            .optional("SIGNING_ALGORITHM")
            .unwrap_or("RS256")
            .parse::<KeyAlgorithm>()
            .expect("algorithm");
        // A test may fix the key and the issuer (as a deployment's configuration does, so that
        // a second instance accepts the first one's tokens); otherwise each API has its own.
        let pem = match settings.optional("SIGNING_KEY_PEM") {
            Some(pem) => pem.to_owned(),
            None => SigningKey::generate(algorithm).expect("signing key").1,
        };
        let issuer = settings
            .optional("TOKEN_ISSUER")
            .map_or_else(|| bound.url(), str::to_owned);
        let mut env = settings
            .with("TOKEN_ISSUER", issuer)
            .with("SIGNING_KEY_PEM", pem);
        if env.optional("TOKEN_AUDIENCE").is_none() {
            env = env.with("TOKEN_AUDIENCE", "clavis-api");
        }
        let deployment = Deployment::build(fixture.store.clone(), fixture.clock.clone(), &env)
            .await
            .expect("the settings of the test's API");
        let usage = Arc::clone(deployment.routed.oauth.tokens.usage());
        let platform = env.optional("CLAVIS_UPSTREAM").map(|url| {
            PlatformApi::new(
                deployment
                    .authorizer
                    .expect("ROUTE_SCOPES with CLAVIS_UPSTREAM"),
                Upstream::parse(url).expect("CLAVIS_UPSTREAM"),
            )
        });
        let authorizer_usage = platform
            .as_ref()
            .map(|p| Arc::clone(p.authorizer().verifier.usage()));
        let (webhook_settings, sealing) = (deployment.webhook_settings, deployment.sealing);
        let mut gateway = Gateway::new(deployment.routed, Arc::clone(&idp));
        if let Some(platform) = platform {
            gateway = gateway.with_platform_api(platform);
        }
        let gateway = bound.serve(gateway);
        Self {
            fixture,
            idp,
            http: reqwest::Client::new(),
            gateway,
            usage,
            authorizer_usage,
            webhook_settings,
            sealing,
        }
    }

    /// Publishes the store's events and delivers them in this process, as `make run` does,
    /// reading the events from their beginning. Retries fall due by the fixture's clock.
    pub fn start_deliveries(&self) -> InProcessEvents {
        InProcessEvents::start(
            (self.fixture.feed)(),
            self.fixture.store.deliveries(),
            &self.webhook_settings,
            Arc::clone(&self.sealing),
            self.fixture.clock.clone(),
        )
        .expect("in-process deliveries")
    }

    /// Writes the uses counted so far, so that request counts read next include them.
    pub async fn flush_usage(&self) {
        for usage in std::iter::once(&self.usage).chain(&self.authorizer_usage) {
            let report = usage.flush().await;
            assert_eq!(report.failed, 0, "usage writes failed: {report:?}");
        }
    }

    pub fn token(&self, role: &str, tenant: &str, advises: &[&str]) -> String {
        let claims = DevClaims {
            sub: format!("{role}-of-{tenant}"),
            role: role.to_owned(),
            tenant: Some(tenant.to_owned()),
            advises: advises.iter().map(|a| (*a).to_owned()).collect(),
        };
        self.idp.mint(&claims, 1).expect("token")
    }

    pub fn admin(&self, tenant: &str) -> String {
        self.token("admin", tenant, &[])
    }

    /// Sends a request: `body` as JSON when it is a JSON value, raw otherwise.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.gateway.url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::read(request).await
    }

    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.gateway.url()))
            .bearer_auth(token)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        Self::read(request).await
    }

    /// A report to `POST /v1/leaks/github`, signed by `scanner` unless `signature` says
    /// otherwise (`Some(None)`: unsigned).
    pub async fn github_report(
        &self,
        scanner: &crate::github::GithubScanner,
        body: Vec<u8>,
        signature: Option<Option<String>>,
    ) -> Reply {
        let signature = signature.unwrap_or_else(|| Some(scanner.sign(&body)));
        let mut request = self
            .http
            .post(format!("{}/v1/leaks/github", self.gateway.url()))
            .header("content-type", "application/json")
            .header("github-public-key-identifier", &scanner.key_identifier)
            .body(body);
        if let Some(signature) = signature {
            request = request.header("github-public-key-signature", signature);
        }
        Self::read(request).await
    }

    async fn read(request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request reaches the gateway");
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: response.text().await.expect("body"),
        }
    }

    /// A GET of the platform's API behind the request authorizer: `/api` + `path`.
    pub async fn platform_get(&self, path: &str, authorization: &str) -> Reply {
        let headers = [("authorization", authorization)];
        self.send(Method::GET, &format!("/api{path}"), None, None, &headers)
            .await
    }

    pub async fn get_public(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, None, &[]).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    /// Creates an ordinary credential in `tenant` and returns its client ID.
    pub async fn create_in(&self, tenant: &str) -> String {
        let created = self
            .create(
                tenant,
                serde_json::json!({"name": "Target", "scopes": ["products:read"]}),
            )
            .await;
        created["credential"]["client_id"]
            .as_str()
            .expect("client_id")
            .to_owned()
    }

    /// How many audit events the tenant's trail holds (up to 100).
    pub async fn audit_len(&self, tenant: &str) -> usize {
        let trail = self
            .get(
                &format!("/v1/tenants/{tenant}/audit?limit=100"),
                &self.admin(tenant),
            )
            .await
            .expect(200)
            .json();
        trail["items"].as_array().map_or(0, Vec::len)
    }

    /// Creates a credential in `tenant` and returns the whole 201 response body.
    pub async fn create(&self, tenant: &str, body: Value) -> Value {
        self.post(
            &format!("/v1/tenants/{tenant}/credentials"),
            &self.admin(tenant),
            body,
        )
        .await
        .expect(201)
        .json()
    }
}

type OAuthFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, reqwest::Error>> + Send>,
>;

impl TestApi {
    /// The transport for the `oauth2` crate: it speaks OAuth, reqwest carries the bytes.
    pub fn oauth_transport(&self) -> impl Fn(oauth2::HttpRequest) -> OAuthFuture + use<> {
        let http = self.http.clone();
        move |request| {
            let http = http.clone();
            Box::pin(async move {
                let response = http.execute(reqwest::Request::try_from(request)?).await?;
                let mut reply = oauth2::http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    reply = reply.header(name, value);
                }
                let body = response.bytes().await?.to_vec();
                Ok(reply.body(body).unwrap_or_default())
            })
        }
    }

    /// A form POST to an OAuth endpoint, with optional HTTP Basic client authentication.
    pub async fn form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        fields: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .post(format!("{}{path}", self.gateway.url()))
            .form(fields);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        Self::read(request).await
    }

    /// `who` asks the token endpoint for a token with `secret`, from the address `source`
    /// (any of 127.0.0.0/8 reaches the gateway): the TCP peer is all the gateway goes by.
    pub async fn token_request_from(
        &self,
        source: std::net::IpAddr,
        who: &Integration,
        secret: &str,
    ) -> Reply {
        let request = Self::client_from(source)
            .post(format!("{}/oauth/token", self.gateway.url()))
            .basic_auth(&who.id, Some(secret))
            .form(&[("grant_type", "client_credentials")]);
        Self::read(request).await
    }

    /// A GET of the platform's API, from the address `source`.
    pub async fn platform_get_from(
        &self,
        source: std::net::IpAddr,
        path: &str,
        authorization: &str,
    ) -> Reply {
        let request = Self::client_from(source)
            .get(format!("{}/api{path}", self.gateway.url()))
            .header("authorization", authorization)
            // A header a client sets never decides where it is from.
            .header("x-forwarded-for", "127.0.0.99");
        Self::read(request).await
    }

    fn client_from(source: std::net::IpAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(source)
            .build()
            .expect("an HTTP client bound to a loopback address")
    }

    /// A form POST with an `Authorization` header exactly as given.
    pub async fn form_authorized(
        &self,
        path: &str,
        authorization: &str,
        fields: &[(&str, &str)],
    ) -> Reply {
        let request = self
            .http
            .post(format!("{}{path}", self.gateway.url()))
            .header("authorization", authorization)
            .form(fields);
        Self::read(request).await
    }

    /// A new credential of `tenant` with `scopes`, and its secret.
    pub async fn integration(&self, tenant: &str, scopes: &[&str]) -> Integration {
        self.integration_named(tenant, "Integration", scopes).await
    }

    /// As [`integration`](Self::integration), under `name`.
    pub async fn integration_named(
        &self,
        tenant: &str,
        name: &str,
        scopes: &[&str],
    ) -> Integration {
        let created = self
            .create(tenant, json!({"name": name, "scopes": scopes}))
            .await;
        Integration::of(&created)
    }

    /// `who` asks the token endpoint for an access token, with HTTP Basic authentication.
    pub async fn token_request(&self, who: &Integration) -> Reply {
        self.form(
            "/oauth/token",
            Some((&who.id, &who.secret)),
            &[("grant_type", "client_credentials")],
        )
        .await
    }

    /// An access token for `who` from the token endpoint.
    pub async fn access_token(&self, who: &Integration) -> String {
        self.token_request(who).await.expect(200).json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// What `/oauth/introspect` says of `token`, asked by `caller`.
    pub async fn introspect(&self, caller: &Integration, token: &str) -> Value {
        self.form(
            "/oauth/introspect",
            Some((&caller.id, &caller.secret)),
            &[("token", token)],
        )
        .await
        .expect(200)
        .json()
    }
}
