//! RFC 6749 §5.2 error responses, for the OAuth endpoints: what each failure of client
//! authentication, token issue and storage becomes on the wire.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::json;

use super::json_response;
use clavis_core::client_auth::AuthFailure;
use clavis_core::store::StoreError;
use clavis_core::token_service::TokenError;

/// An RFC 6749 §5.2 error response.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    pub(crate) error: &'static str,
    description: String,
    retry_after: Option<i64>,
    /// The cause of a 5xx, for the log only.
    pub(crate) cause: Option<String>,
}

impl OAuthError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            retry_after: None,
            cause: None,
        }
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(crate) fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub(crate) fn into_response(self) -> Response<Body> {
        let mut response = json_response(
            self.status,
            &json!({"error": self.error, "error_description": self.description}),
        );
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"clavis\", charset=\"UTF-8\""),
            );
        }
        if let Some(seconds) = self
            .retry_after
            .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
        {
            headers.insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            // The token endpoints write nothing whose loss matters to the caller (usage and
            // failure counters; a token revocation, which may be repeated), so a retry is safe.
            StoreError::Unavailable(_) | StoreError::OutcomeUnknown(_) => Self {
                retry_after: Some(1),
                cause: Some(e.to_string()),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "The service is briefly unavailable; retry shortly.",
                )
            },
            other => Self {
                cause: Some(other.to_string()),
                ..Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "Something went wrong on our side; it has been logged.",
                )
            },
        }
    }
}

impl From<AuthFailure> for OAuthError {
    fn from(failure: AuthFailure) -> Self {
        match failure {
            AuthFailure::Malformed | AuthFailure::BadCredentials => {
                Self::invalid_client("Client authentication failed.")
            }
            // Only a caller holding the right secret gets this far, so it may know why.
            AuthFailure::Inactive(status) => {
                Self::invalid_client(format!("The credential is {status} and cannot be used."))
            }
            AuthFailure::BlockedByPolicy(rules) => Self::invalid_client(format!(
                "The credential is blocked by its tenant's policy until an admin fixes it or \
                 relaxes the policy: {}",
                rules.join(" ")
            )),
            AuthFailure::Throttled {
                retry_after_seconds,
            } => Self {
                retry_after: Some(retry_after_seconds),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "slow_down",
                    "Too many failed attempts from this address; retry after the time in Retry-After.",
                )
            },
            AuthFailure::Store(e) => e.into(),
            AuthFailure::Internal(cause) => Self {
                cause: Some(cause),
                ..Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "Something went wrong on our side; it has been logged.",
                )
            },
        }
    }
}

impl From<TokenError> for OAuthError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Auth(failure) => failure.into(),
            TokenError::InvalidScope(why) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_scope", why)
            }
            TokenError::NotYourToken => Self::new(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                e.to_string(),
            ),
            TokenError::Signing(cause) => Self {
                cause: Some(cause),
                ..Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "The token could not be signed.",
                )
            },
            TokenError::Store(store) => store.into(),
        }
    }
}
