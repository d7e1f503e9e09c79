//! Integration tests: one binary, so one DynamoDB Local serves them all.

mod secrets_at_rest;
mod store_contract;
