//! Clavis's core: API credentials (client ID + secret) for a multi-tenant platform, exchanged
//! for short-lived access tokens. The credential model and its lifecycle rules, secrets,
//! tokens, audit events, the services that apply the rules, the storage ports they call, and
//! the in-memory adapter. No AWS SDK, no Lambda, no HTTP server: those are the other crates'
//! (`clavis-dynamodb`, `clavis-api`, `clavis-runtime`), and `make lint` fails if one appears
//! here.

mod aead;
pub mod audit;
pub mod auth;
pub mod authorization;
pub mod authorizer;
pub mod catalogue;
pub mod client_auth;
pub mod credential;
pub mod environment;
pub mod events;
pub mod idempotency;
pub mod ids;
pub mod leak;
pub mod leak_service;
pub mod lifecycle;
pub mod policy;
pub mod random;
pub mod retry;
pub mod route;
pub mod secret;
pub mod service;
pub mod source;
pub mod store;
pub mod sweep;
pub mod time;
pub mod token;
pub mod token_service;
pub mod usage;
pub mod usage_days;
pub mod webhook;
pub mod webhook_service;

#[cfg(any(test, feature = "test-support"))]
pub mod testing;
