//! A Rust client for Clavis, the API-credential service.
//!
//! Two halves, for two kinds of user:
//!
//! - **[`Client`]**, for a tenant's admins and advisors (and their tools): every management
//!   route under `/v1`, with typed requests and answers, errors carrying the API's problem
//!   `code`, listings as [`Pager`]s (item by item, page by page, or as a `Stream`), and
//!   `If-Match` preconditions through [`CredentialRef::if_match`].
//! - **[`TokenSource`]**, for integrations: exchanges a client ID and secret for access
//!   tokens (OAuth 2.0 `client_credentials`), caches them, refreshes them before they run out,
//!   sends one token request however many tasks need a token at once, and retries a request
//!   once with a fresh token when your API answers `401`.
//!
//! Both send with timeouts (10 s to connect, 30 s a request) and retry with backoff on `429`
//! and `5xx`, waiting as long as `Retry-After` says (see [`RetryPolicy`]). Secrets and tokens
//! are [`secrecy::SecretString`]s: no `Debug` output or log line of this crate shows one.
//! Neither sends them in cleartext to another machine: a plain `http://` URL whose host is not
//! loopback (`127.0.0.0/8`, `::1`, `localhost`) is refused with [`Error::InsecureUrl`] unless
//! the builder opts in with `allow_insecure_http(true)`.
//!
//! # An integration
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use clavis_sdk::{ClientCredentials, TokenSource};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     // CLAVIS_URL, CLAVIS_CLIENT_ID and CLAVIS_CLIENT_SECRET, as `clavis create --save-env` writes them.
//!     let tokens = TokenSource::builder(std::env::var("CLAVIS_URL")?, ClientCredentials::from_env()?)
//!         .scope("products:read")
//!         .refresh_skew(Duration::from_secs(120))
//!         .build()?;
//!     let http = clavis_sdk::reqwest::Client::new();
//!
//!     // Clones share one cache: however many tasks need a token at once, one request fetches it.
//!     let mut pages = tokio::task::JoinSet::new();
//!     for page in 1..=3 {
//!         let (tokens, http) = (tokens.clone(), http.clone());
//!         pages.spawn(async move {
//!             // The token is attached, refreshed two minutes before it expires, and fetched
//!             // afresh (the request sent once more) if the shop's API answers 401.
//!             let url = format!("https://shop.example.com/api/products?page={page}");
//!             tokens.send(http.get(url)).await
//!         });
//!     }
//!     while let Some(response) = pages.join_next().await {
//!         println!("{}", response??.status());
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Managing credentials
//!
//! ```no_run
//! use clavis_sdk::{Client, ListOptions, NewCredential, Status};
//! use secrecy::ExposeSecret;
//!
//! # async fn example(management_token: String) -> Result<(), clavis_sdk::Error> {
//! let client = Client::new("https://api.example.com", management_token)?;
//! let acme = client.tenant("acme");
//!
//! let issued = acme
//!     .create(&NewCredential::new("Inventory sync", ["products:read", "stock:write"]))
//!     .await?;
//! // The one time the secret can be read: hand it to the integration now.
//! let _secret = issued.client_secret.expose_secret();
//!
//! let credential = acme.credential(&issued.credential.client_id);
//! let rotated = credential
//!     .if_match(issued.credential.version)
//!     .rotate(Some(std::time::Duration::from_secs(3600)))
//!     .await?;
//! assert_eq!(rotated.credential.secret_version, 2);
//!
//! let mut active = acme.list(ListOptions::new().status(Status::Active));
//! while let Some(credential) = active.next().await? {
//!     println!("{} {}", credential.client_id, credential.name);
//! }
//!
//! match credential.revoke(Some("integration retired")).await {
//!     Ok(revoked) => println!("{}", revoked.status),
//!     Err(e) if e.code() == Some("credential_revoked") => println!("already revoked"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```

mod error;
mod management;
mod model;
mod token;
mod transport;

pub use error::{Error, OAuthError, Problem, Result};
pub use management::{Client, ClientBuilder, CredentialRef, IfMatch, ListOptions, Pager, Tenant};
pub use model::{
    Actor, AuditEvent, CreatedWebhook, Credential, CredentialUpdate, Delivery, DeliveryPage,
    DeliveryState, DisabledReason, Environment, IssuedSecret, LeakAction, LeakNotice, LeakReport,
    NewCredential, NewWebhook, Policy, PolicyRules, ScopeDescription, Status, Timestamp,
    TopCredential, Usage, UsageDay, Webhook, WebhookPatch, WebhookStatus,
};
pub use token::{
    AccessToken, ClientCredentials, Clock, SystemClock, TokenSource, TokenSourceBuilder,
};
pub use transport::RetryPolicy;

/// Re-exported so that callers name the same versions this crate uses.
pub use reqwest;
pub use secrecy;
