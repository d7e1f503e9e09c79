//! Integration tests: one binary, so one DynamoDB Local serves them all.

mod api_access;
mod api_idempotency;
mod api_input;
mod api_lifecycle;
mod api_scopes;
mod api_secrets;
mod authorizer;
mod call_counts;
mod faults;
mod hostile;
mod infra;
mod lockout;
mod oauth;
mod policy;
mod races;
mod readme;
mod sdk;
mod secrets_at_rest;
mod store_contract;
mod store_contract_webhooks;
mod store_strict;
mod structure;
mod sweep;
mod token_timing;
mod usage;
mod webhooks;
