//! The Lambda runtime: configuration (`config`), composition (`compose`), telemetry, and the
//! glue that runs each function's event loop. The one place that knows it runs in Lambda: every function's
//! `main` calls one of these. Each reads its configuration and builds its clients once per
//! cold start (a missing setting stops it here, naming the variable), starts what runs beside
//! the requests, then hands every event to its handler.

use std::convert::Infallible;
use std::time::{Duration, Instant, SystemTime};

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_http::{Body, LambdaEvent, Request, Response, service_fn};

use clavis_api::authorizer::authorize_request;
use clavis_api::routes::{AUTHORIZER_FUNCTION, EndpointFamily, SWEEPER_FUNCTION};
// What a function's `main` names: it depends on this crate alone.
use crate::compose::FromEnv;
use crate::config::Env;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
pub use clavis_api::routes::{
    CredentialsEndpoint, GithubEndpoint, LeaksEndpoint, OAuthEndpoint, WebhooksEndpoint,
};
use clavis_api::routes::{DELIVERER_FUNCTION, PUBLISHER_FUNCTION};
use clavis_api::state::AuthorizerApp;
use clavis_core::sweep::Sweeper;
use compose::{DelivererApp, PublisherApp};
use lambda_http::aws_lambda_events::event::dynamodb::Event as StreamEvent;

pub mod aws;
pub mod compose;
pub mod config;
pub mod github_keys;
pub mod shutdown;
pub mod telemetry;
pub mod webhooks;

#[cfg(test)]
mod authorizer_tests;

/// Time the sweeper keeps back from the Lambda deadline: the write in flight, and the
/// checkpoint after it.
const SWEEP_DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Telemetry, then the function's state from the process environment; a failure is logged
/// with the function's name before the runtime reports it.
async fn cold_start<S: FromEnv>(function: &'static str) -> Result<S, lambda_http::Error> {
    crate::telemetry::init_lambda();
    let state = S::from_env(&Env::from_process())
        .await
        .inspect_err(|e| tracing::error!(function, error = %e, "cannot start"))?;
    Ok(state)
}

/// An HTTP API function: one of the route table's endpoints.
pub async fn run_endpoint<E: EndpointFamily>(endpoint: E) -> Result<(), lambda_http::Error>
where
    E::State: FromEnv,
{
    let state = &cold_start::<E::State>(endpoint.into().function()).await?;
    if let Some(usage) = endpoint.usage(state) {
        shutdown::flush_usage_at_shutdown(usage.spawn_flusher()).await;
    }
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<Response<Body>, Infallible>(endpoint.handle(state, request).await)
    }))
    .await
}

/// `authorize-request`: one decision per authorizer event; uses flushed every second and when
/// the instance stops.
pub async fn run_authorizer() -> Result<(), lambda_http::Error> {
    let app = &cold_start::<AuthorizerApp>(AUTHORIZER_FUNCTION).await?;
    shutdown::flush_usage_at_shutdown(app.verifier.usage().spawn_flusher()).await;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
            Ok::<_, Infallible>(authorize_request(app, event.payload).await)
        },
    ))
    .await
}

/// `sweep-expired`: one sweep per scheduled event, stopping short of the invocation's deadline.
pub async fn run_sweeper() -> Result<(), lambda_http::Error> {
    let sweeper = &cold_start::<Sweeper>(SWEEPER_FUNCTION).await?;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let left = event
                .context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            let deadline = Instant::now() + left.saturating_sub(SWEEP_DEADLINE_MARGIN);
            sweeper
                .sweep_and_log(Some(deadline))
                .await
                .map_err(lambda_http::Error::from)
        },
    ))
    .await
}

/// `publish-events`: each new audit event in the table's stream to its deliveries. A record
/// that fails is reported, and Lambda retries from it (the stream is the outbox: nothing
/// written is skipped); records published before are published again harmlessly.
pub async fn run_publisher() -> Result<(), lambda_http::Error> {
    let app = &cold_start::<PublisherApp>(PUBLISHER_FUNCTION).await?;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            let mut response = DynamoDbEventResponse::default();
            for record in event.payload.records {
                let sequence = record.change.sequence_number.clone();
                let published = match clavis_dynamodb::stream::audit_event_of(record.change.new_image) {
                    Ok(Some(audit)) => app.publisher.publish(&audit).await.map(|_| ()).map_err(|e| e.to_string()),
                    Ok(None) => Ok(()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(error) = published {
                    tracing::error!(function = PUBLISHER_FUNCTION, %error, "an event was not published");
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = sequence;
                    response.batch_item_failures.push(failure);
                    // Lambda retries from the first failure: the rest would only repeat.
                    break;
                }
            }
            Ok::<_, Infallible>(response)
        },
    ))
    .await
}

/// `deliver-webhooks`: one attempt per queued ticket; a ticket that fails for want of the
/// store or the queue is reported, and SQS hands it back after its visibility timeout.
pub async fn run_deliverer() -> Result<(), lambda_http::Error> {
    let app = &cold_start::<DelivererApp>(DELIVERER_FUNCTION).await?;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let mut response = SqsBatchResponse::default();
        for message in event.payload.records {
            let ticket = message
                .body
                .as_deref()
                .and_then(|body| serde_json::from_str(body).ok());
            let Some(ticket) = ticket else {
                // Not a ticket: nothing can make it one, so it is dropped, and said so.
                tracing::error!(function = DELIVERER_FUNCTION, "a message that is not a delivery ticket was dropped");
                continue;
            };
            if let Err(error) = app.deliverer.deliver(&ticket).await {
                tracing::warn!(function = DELIVERER_FUNCTION, %error, "a delivery will be tried again");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        Ok::<_, Infallible>(response)
    }))
    .await
}
