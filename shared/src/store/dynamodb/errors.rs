//! What the SDK's errors mean for a caller: retry, conflict, or an outcome unknown.

use super::*;

/// Throttling, timeouts and unreachable endpoints become `Unavailable` (the caller may retry);
/// everything else is a `Backend` error, which no caller should ever see the details of.
pub(crate) fn map_sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => matches!(
            service.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "LimitExceededException"
            )
        ),
        _ => false,
    };
    let text = DisplayErrorContext(&err).to_string();
    if transient {
        StoreError::Unavailable(text)
    } else {
        StoreError::Backend(text)
    }
}

/// Reads why DynamoDB cancelled a transaction whose first item is the credential write.
///
/// A cancellation is an answer: DynamoDB evaluated the transaction and wrote nothing. (Had an
/// earlier attempt of the SDK's committed, the retry, carrying the same client request token,
/// would have been answered with success instead.) Anything else that makes the write fail
/// after the request may have left (a timeout, a dropped connection, an error on DynamoDB's
/// side, or throttling of a retry whose first attempt timed out) leaves its outcome unknown.
/// Where a write's idempotency record sits in its transaction: after the change and its event.
pub(super) const REMEMBERED_ITEM: usize = 2;

pub(super) fn map_transaction_error<R: std::fmt::Debug>(
    err: SdkError<TransactWriteItemsError, R>,
    on_condition_failed: StoreError,
) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    {
        let codes: Vec<&str> = cancelled
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().unwrap_or("None"))
            .collect();
        // The idempotency record, when there is one, is the third item; its failure explains
        // any other (the twin request that wrote it also changed the credential).
        if codes.get(REMEMBERED_ITEM) == Some(&"ConditionalCheckFailed") {
            return StoreError::IdempotencyKeyTaken;
        }
        if codes.first() == Some(&"ConditionalCheckFailed") {
            return on_condition_failed;
        }
        if codes.contains(&"TransactionConflict") {
            return StoreError::Conflict;
        }
        if codes.iter().any(|c| {
            matches!(
                *c,
                "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded"
            )
        }) {
            return StoreError::Unavailable(format!("transaction throttled: {codes:?}"));
        }
        return StoreError::Backend(format!("transaction cancelled: {codes:?}"));
    }
    match map_sdk_error(err) {
        StoreError::Unavailable(cause) => StoreError::OutcomeUnknown(cause),
        other => other,
    }
}
