//! The HTTP API: the handlers (each parses its request, calls a service and renders the
//! answer; errors become HTTP statuses and codes here and nowhere else), and the route table
//! that sends each request to its handler. Written against `lambda_http`'s request and
//! response types (API Gateway's event shapes); running the Lambda event loop is the
//! runtime's job.

pub mod authorizer;
pub mod credentials;
pub mod http;
pub mod leaks;
pub mod oauth;
pub mod policy;
pub mod response;
pub mod routes;
pub mod state;
pub mod usage;
pub mod views;
pub mod webhooks;
