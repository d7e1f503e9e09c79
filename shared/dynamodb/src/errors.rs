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

/// What an item of a transaction is there for, so that a cancellation reason is read against
/// the item it belongs to rather than a position agreed on elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TransactItem {
    /// The write whose condition says the state is still what the caller read.
    Change,
    /// The audit event written with it.
    Event,
    /// An idempotency key's record, written with the change it remembers.
    Remembered,
    /// A count kept below a limit (a tenant's webhooks).
    Limit,
    /// The marker of something done once (a leak recorded): its condition failing means it
    /// was done before.
    Once,
    /// The lookup item of an issued secret; unconditional.
    Lookup,
}

/// Reads why DynamoDB cancelled a transaction of `items` (in the order they were sent).
///
/// A cancellation is an answer: DynamoDB evaluated the transaction and wrote nothing. (Had an
/// earlier attempt of the SDK's committed, the retry, carrying the same client request token,
/// would have been answered with success instead.) Anything else that makes the write fail
/// after the request may have left (a timeout, a dropped connection, an error on DynamoDB's
/// side, or throttling of a retry whose first attempt timed out) leaves its outcome unknown.
pub(super) fn map_transaction_error<R: std::fmt::Debug>(
    err: SdkError<TransactWriteItemsError, R>,
    items: &[TransactItem],
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
        let condition_failed = |which: TransactItem| {
            items
                .iter()
                .zip(&codes)
                .any(|(item, code)| *item == which && *code == "ConditionalCheckFailed")
        };
        // A remembered request's record explains any other failure: the twin request that
        // wrote it also changed the credential.
        if condition_failed(TransactItem::Remembered) {
            return StoreError::IdempotencyKeyTaken;
        }
        if condition_failed(TransactItem::Limit) {
            return StoreError::LimitReached;
        }
        if condition_failed(TransactItem::Once) {
            return StoreError::AlreadyExists;
        }
        if condition_failed(TransactItem::Change) {
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
