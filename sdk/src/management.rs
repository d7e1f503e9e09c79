//! The management client: every `/v1` route, for admins and advisors holding a management token
//! from the platform's identity provider.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::Stream;
use reqwest::header::{CONTENT_TYPE, IF_MATCH};
use reqwest::{Method, Response, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Problem, Result};
use crate::model::{
    AuditEvent, CreatedWebhook, CreatedWebhookDocument, Credential, CredentialUpdate, DeliveryPage,
    IssuedSecret, IssuedSecretDocument, LeakReport, NewCredential, NewWebhook, PageDocument,
    Policy, PolicyRules, ScopeDescription, Status, Timestamp, Usage, Webhook, WebhookPatch,
};
use crate::token::{ClientCredentials, TokenSource, TokenSourceBuilder};
use crate::transport::{
    Transport, TransportOptions, endpoint, read_json, retry_after, transport_setters,
};

/// A client of the management API.
///
/// Cheap to clone (clones share one connection pool). Its `Debug` output shows the base URL,
/// never the token.
///
/// ```no_run
/// use clavis_sdk::{Client, NewCredential};
/// use secrecy::ExposeSecret;
///
/// # async fn example() -> Result<(), clavis_sdk::Error> {
/// let client = Client::builder("https://api.example.com", std::env::var("CLAVIS_TOKEN").unwrap_or_default())
///     .build()?;
/// let acme = client.tenant("acme");
/// let issued = acme
///     .create(&NewCredential::new("Inventory sync", ["products:read"]).expires_in_days(90))
///     .await?;
/// println!("client ID {}", issued.credential.client_id);
/// // The secret is shown this once: store it now.
/// let _secret: &str = issued.client_secret.expose_secret();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    base: Url,
    token: SecretString,
    transport: Transport,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("token", &"[REDACTED]")
            .finish()
    }
}

/// Configures a [`Client`]: timeouts, retries, or a `reqwest::Client` of your own.
pub struct ClientBuilder {
    base_url: String,
    token: SecretString,
    transport: TransportOptions,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("token", &"[REDACTED]")
            .field("retry", &self.transport.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    transport_setters!();

    pub fn build(self) -> Result<Client> {
        Ok(Client {
            inner: Arc::new(Inner {
                base: self.transport.url(&self.base_url)?,
                token: self.token,
                transport: self.transport.build()?,
            }),
        })
    }
}

impl Client {
    /// A builder for the API at `base_url`, authenticating with a management `token` (a bearer
    /// token from the platform's identity provider; `clavis dev-token` mints one for the local
    /// gateway).
    pub fn builder(base_url: impl Into<String>, token: impl Into<SecretString>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            token: token.into(),
            transport: TransportOptions::default(),
        }
    }

    /// A client with the default timeouts and retries.
    pub fn new(base_url: impl Into<String>, token: impl Into<SecretString>) -> Result<Self> {
        Self::builder(base_url, token).build()
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The credentials of one tenant.
    pub fn tenant(&self, tenant: impl Into<String>) -> Tenant {
        Tenant {
            client: self.clone(),
            tenant: tenant.into(),
        }
    }

    /// The scopes the platform offers (its scope catalogue), with their descriptions; empty
    /// when the platform accepts any well-formed scope.
    pub async fn scopes(&self) -> Result<Vec<ScopeDescription>> {
        #[derive(serde::Deserialize)]
        struct Catalogue {
            items: Vec<ScopeDescription>,
        }
        let url = self.url(["v1", "scopes"]);
        let catalogue: Catalogue = self
            .call_json(Method::GET, &url, None::<&()>, None, None)
            .await?;
        Ok(catalogue.items)
    }

    /// A token source for an integration's credentials against this same API, sharing this
    /// client's connection pool and retry policy. See [`TokenSource`].
    pub fn token_source(&self, credentials: ClientCredentials) -> TokenSourceBuilder {
        TokenSource::builder(self.inner.base.as_str(), credentials)
            .http_client(self.inner.transport.http.clone())
            .retry_policy(self.inner.transport.retry)
    }

    fn url<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        endpoint(&self.inner.base, segments)
    }

    /// Sends one management request and returns the response if it succeeded, or the problem.
    async fn call(
        &self,
        method: Method,
        url: &Url,
        body: Option<Vec<u8>>,
        if_match: Option<IfMatch>,
        idempotency_key: Option<&str>,
    ) -> Result<Response> {
        let transport = &self.inner.transport;
        // With a key, a repeat cannot apply the change twice: it gets the first answer.
        let idempotent = idempotency_key.is_some();
        let response = transport
            .send(&method, url, idempotent, || {
                let mut request = transport
                    .http
                    .request(method.clone(), url.clone())
                    .bearer_auth(self.inner.token.expose_secret());
                if let Some(body) = &body {
                    request = request
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone());
                }
                if let Some(tag) = if_match {
                    request = request.header(IF_MATCH, tag.header_value());
                }
                if let Some(key) = idempotency_key {
                    request = request.header(IDEMPOTENCY_KEY, key);
                }
                request
            })
            .await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(problem(url, response).await)
        }
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &Url,
        body: Option<&impl Serialize>,
        if_match: Option<IfMatch>,
        idempotency_key: Option<&str>,
    ) -> Result<T> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::Config(format!("cannot encode the request: {e}")))?;
        let response = self
            .call(method, url, body, if_match, idempotency_key)
            .await?;
        read_json(url, response).await
    }
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A fresh key for one create or rotation (a UUID v4: 122 random bits), repeated unchanged on
/// every retry of that request, so that a retry after a lost answer gets that answer, secret
/// included, instead of making a second credential or a second secret.
fn new_idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The error a failed management response stands for.
async fn problem(url: &Url, response: Response) -> Error {
    let status = response.status().as_u16();
    let wait = retry_after(response.headers(), SystemTime::now());
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return Error::transport(url, e),
    };
    let mut problem = match serde_json::from_slice::<Problem>(&bytes) {
        Ok(problem) => problem,
        Err(_) => {
            #[derive(serde::Deserialize)]
            struct GatewayMessage {
                message: Option<String>,
            }
            let message = serde_json::from_slice::<GatewayMessage>(&bytes)
                .ok()
                .and_then(|m| m.message);
            Problem::from_gateway(status, message)
        }
    };
    problem.retry_after = wait;
    Error::Api(Box::new(problem))
}

/// The credentials of one tenant: create, list, and the tenant's audit trail; its policy,
/// usage and webhook endpoints.
#[derive(Debug, Clone)]
pub struct Tenant {
    client: Client,
    tenant: String,
}

impl Tenant {
    pub fn id(&self) -> &str {
        &self.tenant
    }

    fn url<'a>(&'a self, rest: impl IntoIterator<Item = &'a str>) -> Url {
        self.client.url(
            ["v1", "tenants", self.tenant.as_str()]
                .into_iter()
                .chain(rest),
        )
    }

    /// Creates a credential. The answer carries its secret: the only time it can be read.
    pub async fn create(&self, request: &NewCredential) -> Result<IssuedSecret> {
        let url = self.url(["credentials"]);
        let document: IssuedSecretDocument = self
            .client
            .call_json(
                Method::POST,
                &url,
                Some(request),
                None,
                Some(&new_idempotency_key()),
            )
            .await?;
        Ok(document.into())
    }

    /// The tenant's credentials, newest first, page by page as they are read.
    ///
    /// ```no_run
    /// # async fn example(client: clavis_sdk::Client) -> Result<(), clavis_sdk::Error> {
    /// use clavis_sdk::{ListOptions, Status};
    ///
    /// let mut active = client.tenant("acme").list(ListOptions::new().status(Status::Active));
    /// while let Some(credential) = active.next().await? {
    ///     println!("{} {}", credential.client_id, credential.name);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list(&self, options: ListOptions) -> Pager<Credential> {
        let mut url = self.url(["credentials"]);
        {
            let mut query = url.query_pairs_mut();
            if let Some(status) = options.status {
                query.append_pair("status", status.as_str());
            }
            if let Some(limit) = options.page_size {
                query.append_pair("limit", &limit.to_string());
            }
            if let Some(days) = options.unused_for_days {
                query.append_pair("unused_for_days", &days.to_string());
            }
        }
        Pager::new(self.client.clone(), url)
    }

    /// The tenant's audit trail, newest first.
    pub fn audit(&self, page_size: Option<u32>) -> Pager<AuditEvent> {
        Pager::new(
            self.client.clone(),
            with_limit(self.url(["audit"]), page_size),
        )
    }

    /// The tenant's uses and refusals on each UTC day from `from` to `to` (`YYYY-MM-DD`;
    /// default the last 30 days), its credentials summed, and its ten most used credentials.
    pub async fn usage(&self, from: Option<&str>, to: Option<&str>) -> Result<Usage> {
        let url = with_range(self.url(["usage"]), from, to);
        self.client
            .call_json(Method::GET, &url, None::<&()>, None, None)
            .await
    }

    /// Reports a secret found where it should not be (a paste, a public repository): the
    /// credential it belongs to gets the tenant's `leak_action` (revoked by default). Only
    /// this tenant's secrets are matched; another's, or one never issued, is `404
    /// secret_not_found`. Reporting the same secret again changes nothing.
    pub async fn report_leak(
        &self,
        secret: &SecretString,
        source_url: Option<&str>,
    ) -> Result<LeakReport> {
        #[derive(Serialize)]
        struct Body<'a> {
            secret: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            source_url: Option<&'a str>,
        }
        let url = self.url(["leaks"]);
        let body = Body {
            secret: secret.expose_secret(),
            source_url,
        };
        self.client
            .call_json(Method::POST, &url, Some(&body), None, None)
            .await
    }

    /// The tenant's policy: the rules every credential of the tenant follows. A tenant that
    /// never set one has the open policy, version 0.
    pub async fn policy(&self) -> Result<Policy> {
        let url = self.url(["policy"]);
        self.client
            .call_json(Method::GET, &url, None::<&()>, None, None)
            .await
    }

    /// Replaces the tenant's policy with `rules`, if it is still at `if_match` (its version,
    /// 0 for one never set; `None`: whatever it is). A stale version answers `412
    /// version_mismatch` with the current policy in [`Problem::policy`]. Credentials that no
    /// longer comply are blocked, not changed: see [`Credential::policy_violations`].
    pub async fn set_policy(
        &self,
        rules: &PolicyRules,
        if_match: Option<IfMatch>,
    ) -> Result<Policy> {
        let url = self.url(["policy"]);
        self.client
            .call_json(Method::PUT, &url, Some(rules), if_match, None)
            .await
    }

    /// The tenant's webhook endpoints, oldest first (at most 10).
    pub async fn webhooks(&self) -> Result<Vec<Webhook>> {
        #[derive(serde::Deserialize)]
        struct Listing {
            webhooks: Vec<Webhook>,
        }
        let url = self.url(["webhooks"]);
        let listing: Listing = self
            .client
            .call_json(Method::GET, &url, None::<&()>, None, None)
            .await?;
        Ok(listing.webhooks)
    }

    /// One webhook endpoint, by ID (`wh_…`); another tenant's answers `404 webhook_not_found`.
    pub async fn webhook(&self, id: &str) -> Result<Webhook> {
        let url = self.url(["webhooks", id]);
        self.client
            .call_json::<WebhookDocument>(Method::GET, &url, None::<&()>, None, None)
            .await
            .map(|document| document.webhook)
    }

    /// Adds a webhook endpoint (at most 10 per tenant). The answer carries its signing secret:
    /// the only time it can be read.
    ///
    /// ```no_run
    /// # async fn example(client: clavis_sdk::Client) -> Result<(), clavis_sdk::Error> {
    /// use clavis_sdk::NewWebhook;
    /// use secrecy::ExposeSecret;
    ///
    /// let created = client
    ///     .tenant("acme")
    ///     .create_webhook(&NewWebhook::new("https://hooks.example.com/clavis")
    ///         .event_types(["credential.revoked", "credential.leaked"]))
    ///     .await?;
    /// // Give it to the receiver's Standard Webhooks verifier now: it is not shown again.
    /// let _secret: &str = created.secret.expose_secret();
    /// let event_id = client.tenant("acme").test_webhook(&created.webhook.id).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_webhook(&self, request: &NewWebhook) -> Result<CreatedWebhook> {
        let url = self.url(["webhooks"]);
        let document: CreatedWebhookDocument = self
            .client
            .call_json(Method::POST, &url, Some(request), None, None)
            .await?;
        Ok(document.into())
    }

    /// Changes an endpoint's URL, event types, description or status.
    pub async fn update_webhook(&self, id: &str, patch: &WebhookPatch) -> Result<Webhook> {
        let url = self.url(["webhooks", id]);
        self.client
            .call_json::<WebhookDocument>(Method::PATCH, &url, Some(patch), None, None)
            .await
            .map(|document| document.webhook)
    }

    /// Removes an endpoint; deliveries still due to it are not made.
    pub async fn delete_webhook(&self, id: &str) -> Result<()> {
        let url = self.url(["webhooks", id]);
        self.client
            .call(Method::DELETE, &url, None, None, None)
            .await?;
        Ok(())
    }

    /// Issues a new signing secret, answered this once; the replaced one keeps signing beside
    /// it (a second `v1,` signature) for 24 hours, until
    /// [`Webhook::previous_secret_valid_until`].
    pub async fn rotate_webhook_secret(&self, id: &str) -> Result<CreatedWebhook> {
        let url = self.url(["webhooks", id, "rotate-secret"]);
        let document: CreatedWebhookDocument = self
            .client
            .call_json(Method::POST, &url, None::<&()>, None, None)
            .await?;
        Ok(document.into())
    }

    /// Sends a `webhook.test` event to this endpoint only (whatever its event types), and
    /// answers the event's ID; its delivery shows in
    /// [`webhook_deliveries`](Self::webhook_deliveries). A disabled endpoint answers `409
    /// webhook_disabled`.
    pub async fn test_webhook(&self, id: &str) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Sent {
            event_id: String,
        }
        let url = self.url(["webhooks", id, "test"]);
        let sent: Sent = self
            .client
            .call_json(Method::POST, &url, None::<&()>, None, None)
            .await?;
        Ok(sent.event_id)
    }

    /// One page of an endpoint's deliveries, newest first: `limit` per page (1 to 100; `None`
    /// leaves it to the API), from `cursor` (a page's `next_cursor`) or the newest.
    pub async fn webhook_deliveries(
        &self,
        id: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<DeliveryPage> {
        let mut url = with_limit(self.url(["webhooks", id, "deliveries"]), limit);
        if let Some(cursor) = cursor {
            url.query_pairs_mut().append_pair("cursor", cursor);
        }
        self.client
            .call_json(Method::GET, &url, None::<&()>, None, None)
            .await
    }

    /// One credential of this tenant, by client ID.
    pub fn credential(&self, client_id: impl Into<String>) -> CredentialRef {
        CredentialRef {
            tenant: self.clone(),
            client_id: client_id.into(),
            if_match: None,
        }
    }
}

/// `{"webhook": …}`: how the API answers with one endpoint.
#[derive(serde::Deserialize)]
struct WebhookDocument {
    webhook: Webhook,
}

fn with_range(mut url: Url, from: Option<&str>, to: Option<&str>) -> Url {
    {
        let mut query = url.query_pairs_mut();
        if let Some(from) = from {
            query.append_pair("from", from);
        }
        if let Some(to) = to {
            query.append_pair("to", to);
        }
    }
    url
}

fn with_limit(mut url: Url, page_size: Option<u32>) -> Url {
    if let Some(limit) = page_size {
        url.query_pairs_mut()
            .append_pair("limit", &limit.to_string());
    }
    url
}

/// Filters and page size of [`Tenant::list`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ListOptions {
    status: Option<Status>,
    page_size: Option<u32>,
    unused_for_days: Option<u16>,
}

impl ListOptions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Only credentials with this status.
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }

    /// Items per request, 1 to 100 (the API's default is 25).
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// Only credentials nobody used in the last `days` (1 to 400; a never-used one counts
    /// from its creation).
    pub fn unused_for_days(mut self, days: u16) -> Self {
        self.unused_for_days = Some(days);
        self
    }
}

/// An `If-Match` precondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// Apply only if the credential is still at this version (its ETag).
    Version(u64),
    /// Apply whatever the version (`If-Match: *`): the credential must merely exist.
    Any,
}

impl IfMatch {
    fn header_value(self) -> String {
        match self {
            IfMatch::Version(version) => format!("\"{version}\""),
            IfMatch::Any => "*".to_owned(),
        }
    }
}

/// One credential: read it, change it, rotate its secret, end it, read its audit trail.
///
/// Every change can be made conditional with [`if_match`](Self::if_match): if the credential
/// changed since you read it, the API answers `412` with code `version_mismatch`, and the error
/// carries the credential as it is now ([`Problem::credential`]).
///
/// ```no_run
/// # async fn example(client: clavis_sdk::Client) -> Result<(), clavis_sdk::Error> {
/// let credential = client.tenant("acme").credential("cid_0123456789abcdefghijklmnop");
/// let current = credential.get().await?;
/// match credential.if_match(current.version).suspend().await {
///     Ok(suspended) => println!("now {}", suspended.status),
///     Err(e) if e.code() == Some("version_mismatch") => println!("changed meanwhile; read it again"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CredentialRef {
    tenant: Tenant,
    client_id: String,
    if_match: Option<IfMatch>,
}

impl CredentialRef {
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// A handle whose changes apply only if the credential is still at `version` (its
    /// `version`, which is also its ETag).
    pub fn if_match(&self, version: u64) -> Self {
        self.with_precondition(Some(IfMatch::Version(version)))
    }

    /// A handle whose changes carry `precondition` (none with `None`).
    pub fn with_precondition(&self, precondition: Option<IfMatch>) -> Self {
        Self {
            if_match: precondition,
            ..self.clone()
        }
    }

    fn url<'a>(&'a self, rest: impl IntoIterator<Item = &'a str>) -> Url {
        self.tenant.url(
            ["credentials", self.client_id.as_str()]
                .into_iter()
                .chain(rest),
        )
    }

    async fn change(
        &self,
        method: Method,
        action: Option<&str>,
        body: Option<&impl Serialize>,
    ) -> Result<Credential> {
        let url = self.url(action);
        self.tenant
            .client
            .call_json(method, &url, body, self.if_match, None)
            .await
    }

    /// Its uses and refusals on each UTC day from `from` to `to` (`YYYY-MM-DD`; default the
    /// last 30 days).
    pub async fn usage(&self, from: Option<&str>, to: Option<&str>) -> Result<Usage> {
        let url = with_range(self.url(["usage"]), from, to);
        self.tenant
            .client
            .call_json(Method::GET, &url, None::<&()>, None, None)
            .await
    }

    /// The credential as it is now (its status computed at this instant).
    pub async fn get(&self) -> Result<Credential> {
        let url = self.url(None);
        self.tenant
            .client
            .call_json(Method::GET, &url, None::<&()>, None, None)
            .await
    }

    /// Changes its name, description or scopes. Refused once revoked.
    pub async fn update(&self, update: &CredentialUpdate) -> Result<Credential> {
        self.change(Method::PATCH, None, Some(update)).await
    }

    /// Moves its expiry (allowed while active and the current expiry is more than 72 hours
    /// away; the new one must be in the future).
    pub async fn set_expiry(&self, expires_at: Timestamp) -> Result<Credential> {
        self.put_expiry(Some(expires_at)).await
    }

    /// Removes its expiry (same conditions as [`set_expiry`](Self::set_expiry)).
    pub async fn remove_expiry(&self) -> Result<Credential> {
        self.put_expiry(None).await
    }

    async fn put_expiry(&self, expires_at: Option<Timestamp>) -> Result<Credential> {
        #[derive(Serialize)]
        struct Body {
            expires_at: Option<Timestamp>,
        }
        self.change(Method::PUT, Some("expiry"), Some(&Body { expires_at }))
            .await
    }

    /// Issues a new secret under the same client ID; the answer carries it, once. With a grace
    /// period (at most 7 days) the replaced secret keeps working that long; without, it stops
    /// at once. Tokens issued before keep working until they expire. Refused when expired or
    /// revoked.
    pub async fn rotate(&self, grace: Option<Duration>) -> Result<IssuedSecret> {
        self.rotate_with(grace, false).await
    }

    /// [`rotate`](Self::rotate), and the access tokens issued before it stop working at once:
    /// what to do after a leak, when tokens may have been minted with the leaked secret.
    pub async fn rotate_ending_existing_tokens(
        &self,
        grace: Option<Duration>,
    ) -> Result<IssuedSecret> {
        self.rotate_with(grace, true).await
    }

    async fn rotate_with(
        &self,
        grace: Option<Duration>,
        end_existing_tokens: bool,
    ) -> Result<IssuedSecret> {
        #[derive(Serialize)]
        struct Body {
            #[serde(skip_serializing_if = "Option::is_none")]
            previous_secret_valid_for_seconds: Option<u64>,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            end_existing_tokens: bool,
        }
        let url = self.url(["rotate"]);
        let body = Body {
            previous_secret_valid_for_seconds: grace.map(|g| g.as_secs()),
            end_existing_tokens,
        };
        let document: IssuedSecretDocument = self
            .tenant
            .client
            .call_json(
                Method::POST,
                &url,
                Some(&body),
                self.if_match,
                Some(&new_idempotency_key()),
            )
            .await?;
        Ok(document.into())
    }

    /// Stops it getting tokens until reactivated.
    pub async fn suspend(&self) -> Result<Credential> {
        self.change(Method::POST, Some("suspend"), None::<&()>)
            .await
    }

    /// Lets a suspended (and unexpired) credential get tokens again.
    pub async fn reactivate(&self) -> Result<Credential> {
        self.change(Method::POST, Some("reactivate"), None::<&()>)
            .await
    }

    /// Revokes it, permanently (an expired credential too), recording `reason`.
    pub async fn revoke(&self, reason: Option<&str>) -> Result<Credential> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<&'a str>,
        }
        self.change(Method::POST, Some("revoke"), Some(&Body { reason }))
            .await
    }

    /// Deletes it; the audit trail keeps a `credential.deleted` event.
    pub async fn delete(&self) -> Result<()> {
        let url = self.url(None);
        self.tenant
            .client
            .call(Method::DELETE, &url, None, self.if_match, None)
            .await?;
        Ok(())
    }

    /// Its audit trail, newest first.
    pub fn audit(&self, page_size: Option<u32>) -> Pager<AuditEvent> {
        Pager::new(
            self.tenant.client.clone(),
            with_limit(self.url(["audit"]), page_size),
        )
    }
}

/// A listing read page by page, as the caller consumes it: item by item with
/// [`next`](Self::next), a page at a time with [`next_page`](Self::next_page), as a
/// [`Stream`] with [`into_stream`](Self::into_stream), or whole with
/// [`collect_all`](Self::collect_all).
///
/// ```no_run
/// # async fn example(client: clavis_sdk::Client) -> Result<(), clavis_sdk::Error> {
/// use futures_util::TryStreamExt;
///
/// let events: Vec<_> = client.tenant("acme").audit(None).into_stream().try_collect().await?;
/// # Ok(()) }
/// ```
pub struct Pager<T> {
    client: Client,
    url: Url,
    /// `None` once the last page has been read; `Some(None)` before the first.
    cursor: Option<Option<String>>,
    buffer: VecDeque<T>,
}

impl<T> fmt::Debug for Pager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("url", &self.url.as_str())
            .field("buffered", &self.buffer.len())
            .field("finished", &self.cursor.is_none())
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static> Pager<T> {
    fn new(client: Client, url: Url) -> Self {
        Self {
            client,
            url,
            cursor: Some(None),
            buffer: VecDeque::new(),
        }
    }

    /// Starts (or continues) from a cursor an earlier page answered with.
    pub fn starting_after(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(Some(cursor.into()));
        self.buffer.clear();
        self
    }

    /// The cursor of the next page to read, to resume later with
    /// [`starting_after`](Self::starting_after); `None` at the first page or after the last.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_ref().and_then(|c| c.as_deref())
    }

    /// The next page's items (what is left of the current page first); `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>> {
        if !self.buffer.is_empty() {
            return Ok(Some(self.buffer.drain(..).collect()));
        }
        let Some(cursor) = self.cursor.take() else {
            return Ok(None);
        };
        let mut url = self.url.clone();
        if let Some(cursor) = &cursor {
            url.query_pairs_mut().append_pair("cursor", cursor);
        }
        let page: PageDocument<T> = match self
            .client
            .call_json(Method::GET, &url, None::<&()>, None, None)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                // Leave the cursor where it was, so the same page can be asked for again.
                self.cursor = Some(cursor);
                return Err(e);
            }
        };
        self.cursor = page.next_cursor.map(Some);
        Ok(Some(page.items))
    }

    /// The next item; `None` after the last.
    pub async fn next(&mut self) -> Result<Option<T>> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Ok(Some(item));
            }
            match self.next_page().await? {
                Some(items) => self.buffer.extend(items),
                None => return Ok(None),
            }
        }
    }

    /// Every remaining item.
    pub async fn collect_all(mut self) -> Result<Vec<T>> {
        let mut all = Vec::new();
        while let Some(items) = self.next_page().await? {
            all.extend(items);
        }
        Ok(all)
    }

    /// The remaining items as a stream, which ends after the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<T>> + Send + 'static {
        futures_util::stream::try_unfold(self, |mut pager| async move {
            Ok(pager.next().await?.map(|item| (item, pager)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::base_url;

    #[test]
    fn paths_are_built_segment_by_segment() {
        let base = base_url("https://api.example.com/prod/").unwrap();
        let url = endpoint(&base, ["v1", "tenants", "a/b c", "credentials"]);
        assert_eq!(
            url.as_str(),
            "https://api.example.com/prod/v1/tenants/a%2Fb%20c/credentials"
        );
        let bare = base_url("http://127.0.0.1:3000").unwrap();
        assert_eq!(
            endpoint(&bare, ["oauth", "token"]).as_str(),
            "http://127.0.0.1:3000/oauth/token"
        );
    }

    #[test]
    fn unusable_base_urls_are_refused_with_an_example() {
        for bad in ["api.example.com", "ftp://x", "https://x/?a=1", ""] {
            let error = base_url(bad).unwrap_err();
            assert!(matches!(error, Error::Config(_)), "{bad}");
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let client = Client::new("https://api.example.com", "very-secret-token").unwrap();
        let text = format!(
            "{client:?} {:?}",
            Client::builder("https://x", "very-secret-token")
        );
        assert!(!text.contains("very-secret-token"), "{text}");
    }
}

/// The webhook calls against a stand-in for the API: each goes to its route with its body, and
/// each answer, as the API documents it, reads into its type.
#[cfg(test)]
mod webhook_tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::Mutex;

    use serde_json::{Value, json};

    use super::*;
    use crate::{DeliveryState, DisabledReason, RetryPolicy, WebhookStatus};

    /// One request as the stand-in saw it: method, path with query, JSON body (or null).
    type Seen = (String, String, Value);

    /// Serves each request with `answer(method, path)`, on a thread, and keeps what it saw.
    fn stand_in(answer: fn(&str, &str) -> (u16, Value)) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_owned();
                let path = parts.next().unwrap_or_default().to_owned();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    if header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (status, reply) = answer(&method, &path);
                log.lock().unwrap().push((method, path, body));
                let (kind, reply) = match (status, reply) {
                    (204, _) => ("application/json", String::new()),
                    (s, reply) if s >= 400 => ("application/problem+json", reply.to_string()),
                    (_, reply) => ("application/json", reply.to_string()),
                };
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        (url, seen)
    }

    fn webhook(status: &str) -> Value {
        json!({"id": "wh_01jz0000000000000000000000", "url": "https://hooks.example.com/clavis",
               "event_types": ["credential.revoked", "credential.expiring_soon"],
               "description": "Pager", "status": status,
               "disabled_reason": if status == "disabled" { json!("failing") } else { Value::Null },
               "created_at": "2026-12-06T18:00:00Z", "updated_at": "2026-12-06T18:00:00Z",
               "secret_rotated_at": null, "previous_secret_valid_until": null})
    }

    fn api(method: &str, path: &str) -> (u16, Value) {
        const ONE: &str = "/v1/tenants/acme/webhooks/wh_01jz0000000000000000000000";
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw8P9a7Lc6M2A=";
        match (method, path) {
            ("POST", "/v1/tenants/acme/webhooks") => (
                201,
                json!({"webhook": webhook("enabled"), "secret": secret}),
            ),
            ("GET", "/v1/tenants/acme/webhooks") => (
                200,
                json!({"webhooks": [webhook("enabled"), webhook("disabled")]}),
            ),
            ("GET", ONE) | ("PATCH", ONE) => (200, json!({"webhook": webhook("enabled")})),
            ("DELETE", ONE) => (204, Value::Null),
            ("POST", p) if p == format!("{ONE}/rotate-secret") => {
                let mut rotated = webhook("enabled");
                rotated["secret_rotated_at"] = json!("2026-12-06T19:00:00Z");
                rotated["previous_secret_valid_until"] = json!("2026-12-07T19:00:00Z");
                (200, json!({"webhook": rotated, "secret": secret}))
            }
            ("POST", p) if p == format!("{ONE}/test") => {
                (202, json!({"event_id": "evt_01jz0000000000000000000001"}))
            }
            ("GET", p) if p.starts_with(&format!("{ONE}/deliveries")) => (
                200,
                json!({"deliveries": [
                    {"event_id": "evt_2", "type": "webhook.test", "attempts": 2,
                     "last_status": null, "last_error": "timeout",
                     "next_attempt_at": "2026-12-06T18:05:00Z", "state": "pending",
                     "created_at": "2026-12-06T18:00:00Z"},
                    {"event_id": "evt_1", "type": "credential.revoked", "attempts": 1,
                     "last_status": 204, "last_error": null, "next_attempt_at": null,
                     "state": "delivered", "created_at": "2026-12-06T17:00:00Z"}],
                    "next_cursor": "b2xkZXI"}),
            ),
            _ => (
                404,
                json!({"type": "about:blank", "title": "Not Found", "status": 404,
                       "detail": "No webhook wh_nope exists in this tenant.",
                       "code": "webhook_not_found"}),
            ),
        }
    }

    fn tenant(url: &str) -> Tenant {
        Client::builder(url, "management-token")
            .retry_policy(RetryPolicy::never())
            .build()
            .unwrap()
            .tenant("acme")
    }

    #[tokio::test]
    async fn each_webhook_call_goes_to_its_route_and_reads_its_answer() {
        let (url, seen) = stand_in(api);
        let acme = tenant(&url);
        let id = "wh_01jz0000000000000000000000";

        let created = acme
            .create_webhook(
                &NewWebhook::new("https://hooks.example.com/clavis")
                    .event_types(["credential.revoked"])
                    .description("Pager"),
            )
            .await
            .unwrap();
        assert_eq!(created.webhook.id, id);
        assert_eq!(created.webhook.status, WebhookStatus::Enabled);
        assert!(created.secret.expose_secret().starts_with("whsec_"));
        // Every type unless narrowed: nothing is sent for the filter then.
        acme.create_webhook(&NewWebhook::new("https://hooks.example.com/all"))
            .await
            .unwrap();

        let all = acme.webhooks().await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].status, WebhookStatus::Disabled);
        assert_eq!(all[1].disabled_reason, Some(DisabledReason::Failing));
        assert_eq!(
            acme.webhook(id).await.unwrap().event_types.unwrap(),
            ["credential.revoked", "credential.expiring_soon"]
        );
        let patch = WebhookPatch::new()
            .url("https://hooks.example.com/v2")
            .all_event_types()
            .description(None)
            .enable();
        acme.update_webhook(id, &patch).await.unwrap();
        acme.update_webhook(
            id,
            &WebhookPatch::new()
                .event_types(["webhook.disabled"])
                .disable(),
        )
        .await
        .unwrap();
        let rotated = acme.rotate_webhook_secret(id).await.unwrap();
        assert!(rotated.webhook.previous_secret_valid_until.is_some());
        assert_eq!(
            acme.test_webhook(id).await.unwrap(),
            "evt_01jz0000000000000000000001"
        );
        let page = acme
            .webhook_deliveries(id, Some(2), Some("b2xkZXI"))
            .await
            .unwrap();
        assert_eq!(page.next_cursor.as_deref(), Some("b2xkZXI"));
        let (pending, delivered) = (&page.deliveries[0], &page.deliveries[1]);
        assert_eq!(
            (pending.state, pending.attempts, pending.last_status),
            (DeliveryState::Pending, 2, None)
        );
        assert_eq!(pending.last_error.as_deref(), Some("timeout"));
        assert_eq!(pending.kind, "webhook.test");
        assert_eq!(
            (delivered.state, delivered.last_status),
            (DeliveryState::Delivered, Some(204))
        );
        acme.webhook_deliveries(id, None, None).await.unwrap();
        acme.delete_webhook(id).await.unwrap();

        let one = format!("/v1/tenants/acme/webhooks/{id}");
        let seen = seen.lock().unwrap().clone();
        let expected: Vec<Seen> = vec![
            (
                "POST".into(),
                "/v1/tenants/acme/webhooks".into(),
                json!({"url": "https://hooks.example.com/clavis",
                       "event_types": ["credential.revoked"], "description": "Pager"}),
            ),
            (
                "POST".into(),
                "/v1/tenants/acme/webhooks".into(),
                json!({"url": "https://hooks.example.com/all"}),
            ),
            (
                "GET".into(),
                "/v1/tenants/acme/webhooks".into(),
                Value::Null,
            ),
            ("GET".into(), one.clone(), Value::Null),
            (
                "PATCH".into(),
                one.clone(),
                json!({"url": "https://hooks.example.com/v2", "event_types": null,
                       "description": null, "status": "enabled"}),
            ),
            (
                "PATCH".into(),
                one.clone(),
                json!({"event_types": ["webhook.disabled"], "status": "disabled"}),
            ),
            ("POST".into(), format!("{one}/rotate-secret"), Value::Null),
            ("POST".into(), format!("{one}/test"), Value::Null),
            (
                "GET".into(),
                format!("{one}/deliveries?limit=2&cursor=b2xkZXI"),
                Value::Null,
            ),
            ("GET".into(), format!("{one}/deliveries"), Value::Null),
            ("DELETE".into(), one, Value::Null),
        ];
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn an_unknown_webhook_is_a_problem_with_its_code() {
        let (url, _) = stand_in(api);
        let error = tenant(&url).webhook("wh_nope").await.unwrap_err();
        assert_eq!(error.code(), Some("webhook_not_found"));
        let error = tenant(&url)
            .update_webhook("wh_nope", &WebhookPatch::new().disable())
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("webhook_not_found"));
    }

    #[tokio::test]
    async fn a_signing_secret_never_shows_in_debug_output() {
        let (url, _) = stand_in(api);
        let created = tenant(&url)
            .create_webhook(&NewWebhook::new("https://hooks.example.com/clavis"))
            .await
            .unwrap();
        let text = format!("{created:?}");
        assert!(!text.contains("whsec_"), "{text}");
        assert!(text.contains("wh_01jz"), "{text}");
    }

    #[test]
    fn statuses_and_states_this_sdk_does_not_know_yet_still_read() {
        let mut document = webhook("paused");
        document["disabled_reason"] = json!("quarantined");
        let read: Webhook = serde_json::from_value(document).unwrap();
        assert_eq!(read.status, WebhookStatus::Unknown);
        assert_eq!(read.disabled_reason, Some(DisabledReason::Unknown));
        let delivery: crate::Delivery = serde_json::from_value(json!({
            "event_id": "evt_1", "type": "credential.created", "attempts": 0,
            "state": "queued", "created_at": "2026-12-06T18:00:00Z"}))
        .unwrap();
        assert_eq!(delivery.state, DeliveryState::Unknown);
        assert!(WebhookPatch::new().is_empty());
        assert_eq!(
            serde_json::to_value(NewWebhook::new("https://x.example")).unwrap(),
            json!({"url": "https://x.example"})
        );
    }
}
