//! Rendering answers: JSON bodies, ETags, RFC 9457 problems, and the mapping from typed errors
//! to HTTP statuses and codes (here and nowhere else).

use lambda_http::http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

mod oauth;
pub use oauth::OAuthError;

use clavis_core::auth::AuthError;
use clavis_core::credential::ValidationError;
use clavis_core::leak_service::LeakError;
use clavis_core::service::ServiceError;
use clavis_core::store::StoreError;
use clavis_core::webhook_service::WebhookError;

/// An RFC 9457 problem.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub field: Option<String>,
    /// Rarely needed, so kept out of line: every `Result<_, Problem>` stays small.
    extras: Option<Box<Extras>>,
}

#[derive(Debug, Default)]
struct Extras {
    /// Extension members (e.g. the current credential on a 412).
    extensions: serde_json::Map<String, serde_json::Value>,
    headers: HeaderMap,
    /// The cause of a 5xx: logged, never sent.
    internal: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            field: None,
            extras: None,
        }
    }

    fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    /// What went wrong on our side, for the log.
    pub fn internal_cause(&self) -> Option<&str> {
        self.extras.as_ref().and_then(|e| e.internal.as_deref())
    }

    pub fn with_extension(mut self, name: &str, value: serde_json::Value) -> Self {
        self.extras().extensions.insert(name.to_owned(), value);
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.extras().headers.insert(name, value);
        }
        self
    }

    /// A failure of ours: the caller gets a generic sentence and the request ID; the log gets
    /// the cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut problem = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. It has been logged; quote the request ID if you contact support.",
        );
        problem.extras().internal = Some(cause.to_string());
        problem
    }

    /// The store could not be reached, or refused to work now, before anything was written.
    fn unavailable(cause: impl std::fmt::Display) -> Self {
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The credential store is temporarily unavailable, and nothing was changed. Retry shortly.",
        )
        .with_header(header::RETRY_AFTER, "1");
        problem.extras().internal = Some(cause.to_string());
        problem
    }

    /// The store stopped answering while a change was being written: it may or may not have
    /// been applied (in full, never in part). Same code and status as [`Problem::unavailable`],
    /// since the remedy starts the same way (wait, then look); `outcome: "unknown"` tells
    /// programs not to repeat a request that is not idempotent without reading first.
    fn outcome_unknown(cause: impl std::fmt::Display) -> Self {
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The credential store stopped answering while this change was being saved, so it may or may not have been applied (entirely or not at all). Repeat a create or rotation with the same Idempotency-Key to get its answer, secret included; without a key, read the credential before repeating, since a repeat would issue another secret.",
        )
        .with_header(header::RETRY_AFTER, "1")
        .with_extension("outcome", serde_json::Value::from("unknown"));
        problem.extras().internal = Some(cause.to_string());
        problem
    }

    pub fn into_response(self, request_id: Option<&str>) -> Response<Body> {
        #[derive(Serialize)]
        struct Document<'a> {
            #[serde(rename = "type")]
            kind: String,
            title: &'a str,
            status: u16,
            detail: &'a str,
            code: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            field: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            request_id: Option<&'a str>,
            #[serde(flatten)]
            extensions: &'a serde_json::Map<String, serde_json::Value>,
        }
        let extras = self.extras.unwrap_or_default();
        let document = Document {
            kind: format!("urn:clavis:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code,
            field: self.field.as_deref(),
            request_id,
            extensions: &extras.extensions,
        };
        let mut response = json_response(self.status, &document);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response.headers_mut().extend(extras.headers);
        response
    }
}

impl From<ValidationError> for Problem {
    fn from(e: ValidationError) -> Self {
        Problem::bad_request(e.code, e.message).with_field(e.field)
    }
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthenticated | AuthError::NoSubject => {
                Problem::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string())
                    .with_header(header::WWW_AUTHENTICATE, "Bearer")
            }
            AuthError::Forbidden => Problem::new(StatusCode::FORBIDDEN, e.code(), e.to_string()),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor => Problem::bad_request(
                "invalid_cursor",
                "The cursor is not one this listing handed out. Start again without a cursor.",
            )
            .with_field("cursor"),
            StoreError::Unavailable(_) => Problem::unavailable(e),
            StoreError::OutcomeUnknown(_) => Problem::outcome_unknown(e),
            StoreError::Conflict | StoreError::AlreadyExists => Problem::new(
                StatusCode::CONFLICT,
                "concurrent_modification",
                "The credential was changed by another request at the same moment; try again.",
            ),
            StoreError::IdempotencyKeyTaken => Problem::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "Another request with this Idempotency-Key is being applied at this moment. Repeat this one shortly to get its answer.",
            )
            .with_header(header::RETRY_AFTER, "1"),
            StoreError::LimitReached => Problem::new(
                StatusCode::CONFLICT,
                "limit_reached",
                "The tenant already has as many of these as it may.",
            ),
            StoreError::Corrupt(_) | StoreError::Backend(_) => Problem::internal(e),
        }
    }
}

impl From<WebhookError> for Problem {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::NotFound(_) => {
                Problem::new(StatusCode::NOT_FOUND, "webhook_not_found", e.to_string())
            }
            WebhookError::InvalidUrl(_) => {
                Problem::bad_request("invalid_webhook_url", e.to_string()).with_field("url")
            }
            WebhookError::InvalidField { field, .. } => {
                Problem::bad_request("invalid_field", e.to_string()).with_field(field)
            }
            WebhookError::LimitReached => {
                Problem::new(StatusCode::CONFLICT, "webhook_limit_reached", e.to_string())
            }
            WebhookError::Disabled => {
                Problem::new(StatusCode::CONFLICT, "webhook_disabled", e.to_string())
            }
            WebhookError::Contention => Problem::new(
                StatusCode::CONFLICT,
                "concurrent_modification",
                e.to_string(),
            ),
            WebhookError::NoSealingKey | WebhookError::Sealing => Problem::internal(e),
            WebhookError::Store(e) => e.into(),
        }
    }
}

impl From<LeakError> for Problem {
    fn from(e: LeakError) -> Self {
        match e {
            LeakError::InvalidSecret => {
                Problem::bad_request("invalid_secret", e.to_string()).with_field("secret")
            }
            LeakError::SecretNotFound => {
                Problem::new(StatusCode::NOT_FOUND, "secret_not_found", e.to_string())
            }
            LeakError::Contention => Problem::new(
                StatusCode::CONFLICT,
                "concurrent_modification",
                e.to_string(),
            ),
            LeakError::Store(store) => store.into(),
        }
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(_) => {
                Problem::new(StatusCode::NOT_FOUND, "credential_not_found", e.to_string())
            }
            ServiceError::Rule(clavis_core::lifecycle::LifecycleError::Invalid(invalid)) => {
                invalid.into()
            }
            ServiceError::Rule(refusal) => {
                Problem::new(StatusCode::CONFLICT, refusal.code(), refusal.to_string())
            }
            ServiceError::PreconditionFailed(ref current) => {
                let detail = e.to_string();
                let view = super::views::CredentialView::from(current.as_ref());
                let problem =
                    Problem::new(StatusCode::PRECONDITION_FAILED, "version_mismatch", detail)
                        .with_header(header::ETAG, &etag(current.credential.version));
                match serde_json::to_value(view) {
                    Ok(value) => problem.with_extension("credential", value),
                    Err(_) => problem,
                }
            }
            ServiceError::Contention => Problem::new(
                StatusCode::CONFLICT,
                "concurrent_modification",
                e.to_string(),
            ),
            ServiceError::Store(store) => store.into(),
            ServiceError::IdempotencyKeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
            ),
            ServiceError::PolicyViolation(violation) => {
                Problem::bad_request("policy_violation", violation.sentence)
                    .with_field(violation.field)
            }
            ServiceError::InvalidPolicy(invalid) => Problem::bad_request(
                "invalid_field",
                format!("{} {}.", invalid.field, invalid.reason),
            )
            .with_field(invalid.field),
            ServiceError::PolicyPreconditionFailed(ref current) => {
                let detail = e.to_string();
                let view = super::views::PolicyView::from(current.as_ref());
                let problem =
                    Problem::new(StatusCode::PRECONDITION_FAILED, "version_mismatch", detail)
                        .with_header(header::ETAG, &etag(current.version));
                match serde_json::to_value(view) {
                    Ok(value) => problem.with_extension("policy", value),
                    Err(_) => problem,
                }
            }
            ServiceError::Hashing(_) | ServiceError::Sealing => Problem::internal(e),
        }
    }
}

/// Serialises our own view types; they have no maps with non-string keys, so this cannot
/// fail, but if it ever did the caller gets a 500 rather than a panic.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let (status, bytes) = match serde_json::to_vec(body) {
        Ok(bytes) => (status, bytes),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"type":"urn:clavis:problem:internal_error","status":500,"code":"internal_error"}"#
                .to_vec(),
        ),
    };
    let mut response = Response::new(Body::Binary(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_documents_follow_rfc_9457() {
        let response = Problem::bad_request("invalid_scope", "Bad scope.")
            .with_field("scopes")
            .into_response(Some("req-1"));
        assert_eq!(response.status(), 400);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["type"], "urn:clavis:problem:invalid_scope");
        assert_eq!(body["title"], "Bad Request");
        assert_eq!(body["status"], 400);
        assert_eq!(body["code"], "invalid_scope");
        assert_eq!(body["field"], "scopes");
        assert_eq!(body["request_id"], "req-1");
    }

    #[test]
    fn internal_errors_keep_their_cause_out_of_the_response() {
        let response = Problem::from(StoreError::Backend(
            "ValidationException: table clavis-prod".into(),
        ))
        .into_response(None);
        assert_eq!(response.status(), 500);
        let text = String::from_utf8_lossy(response.body().as_ref()).to_string();
        assert!(
            !text.contains("ValidationException") && !text.contains("clavis-prod"),
            "{text}"
        );
        for (error, outcome) in [
            (
                StoreError::Unavailable("dispatch failure: 127.0.0.1:8000".into()),
                None,
            ),
            (
                StoreError::OutcomeUnknown("timeout: table clavis-prod".into()),
                Some("unknown"),
            ),
        ] {
            let unavailable = Problem::from(error).into_response(None);
            assert_eq!(unavailable.status(), 503);
            assert_eq!(unavailable.headers()["retry-after"], "1");
            let body: serde_json::Value =
                serde_json::from_slice(unavailable.body().as_ref()).unwrap();
            assert_eq!(body["code"], "service_unavailable");
            assert_eq!(body["outcome"].as_str(), outcome);
            let text = body.to_string();
            assert!(
                !text.contains("127.0.0.1") && !text.contains("clavis-prod"),
                "{text}"
            );
        }
    }
}
