//! Clavis: API credentials (client ID + secret) for a multi-tenant platform, exchanged for
//! short-lived access tokens. This crate holds everything the Lambda functions share: the
//! credential model and its lifecycle rules, secrets, audit events, the storage port with its
//! DynamoDB and in-memory adapters, and the HTTP handlers each function runs.

pub mod api;
pub mod audit;
pub mod auth;
pub mod authorization;
pub mod authorizer;
pub mod catalogue;
pub mod client_auth;
pub mod compose;
pub mod config;
pub mod credential;
pub mod environment;
pub mod idempotency;
pub mod ids;
pub mod lifecycle;
pub mod retry;
pub mod runtime;
pub mod secret;
pub mod service;
pub mod source;
pub mod store;
pub mod sweep;
pub mod telemetry;
pub mod time;
pub mod token;
pub mod token_service;
pub mod usage;

#[cfg(any(test, feature = "test-support"))]
pub mod testing;
