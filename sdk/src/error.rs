//! What can go wrong, typed: a refusal from the management API (with its problem `code`), a
//! refusal from the token endpoint (with its OAuth `error`), or no usable answer at all.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::model::{Credential, Policy};

/// Every failure of this crate. Cheap to clone, so that one failed token refresh can be handed
/// to every task that was waiting for it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The management API answered with an RFC 9457 problem (or API Gateway refused the
    /// request before it reached Clavis).
    #[error("{0}")]
    Api(Box<Problem>),
    /// The token endpoint answered with an RFC 6749 §5.2 error.
    #[error("{0}")]
    OAuth(Box<OAuthError>),
    /// The server could not be reached, or did not answer in time.
    #[error("could not reach {url}: {}", chain(source.as_ref()))]
    Transport {
        url: String,
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The server answered something this client does not understand.
    #[error("unexpected response from {url} (HTTP {status}): {reason}")]
    UnexpectedResponse {
        url: String,
        status: u16,
        reason: String,
    },
    /// The client was configured with something unusable (e.g. a malformed URL).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The URL is plain `http://` to a host that is not loopback (`127.0.0.0/8`, `::1`,
    /// `localhost`), and cleartext was not allowed (`allow_insecure_http` on the builder).
    #[error(
        "refusing http://{host}: it is not this machine (loopback), so secrets and tokens would \
         cross the network in cleartext; use an https:// URL, or, on a network you trust, opt in \
         explicitly with allow_insecure_http(true) on the builder"
    )]
    InsecureUrl {
        /// The host named, which is not this machine.
        host: String,
    },
}

impl Error {
    /// The machine-readable code: the problem `code` of a management API error, or the OAuth
    /// `error` of a token endpoint error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(problem) => Some(&problem.code),
            Error::OAuth(error) => Some(&error.error),
            _ => None,
        }
    }

    /// The HTTP status the server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(problem) => Some(problem.status),
            Error::OAuth(error) => Some(error.status),
            Error::UnexpectedResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem document of a management API refusal.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Api(problem) => Some(problem),
            _ => None,
        }
    }

    /// How long the server asked to wait before trying again (`Retry-After`), when it did and
    /// the client gave up waiting for it.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(problem) => problem.retry_after,
            Error::OAuth(error) => error.retry_after,
            _ => None,
        }
    }

    pub(crate) fn transport(url: &reqwest::Url, source: reqwest::Error) -> Self {
        Error::Transport {
            url: origin(url),
            source: Arc::new(source.without_url()),
        }
    }

    pub(crate) fn unexpected(url: &reqwest::Url, status: u16, reason: impl Into<String>) -> Self {
        Error::UnexpectedResponse {
            url: origin(url),
            status,
            reason: reason.into(),
        }
    }
}

/// The scheme, host and port: enough to tell which server failed, never a path or query.
fn origin(url: &reqwest::Url) -> String {
    url.origin().ascii_serialization()
}

/// An error and its causes on one line: reqwest's own message rarely says what happened
/// ("error sending request"); its sources do ("Connection refused").
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// An RFC 9457 problem document from the management API.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Problem {
    /// The HTTP status.
    pub status: u16,
    /// Stable and machine-readable, e.g. `credential_revoked`, `expiry_locked`,
    /// `version_mismatch`, `credential_not_found`, `invalid_scope`.
    pub code: String,
    #[serde(default)]
    pub title: String,
    /// A sentence a person understands.
    #[serde(default)]
    pub detail: String,
    /// The request field at fault, when there is one.
    #[serde(default)]
    pub field: Option<String>,
    /// Quote it to whoever runs the service.
    #[serde(default)]
    pub request_id: Option<String>,
    /// On `412 version_mismatch`: the credential as it is now, to refresh from.
    #[serde(default)]
    pub credential: Option<Credential>,
    /// On `412 version_mismatch` of a policy: the policy as it is now.
    #[serde(default)]
    pub policy: Option<Policy>,
    /// On `503 service_unavailable`: `"unknown"` when the change may or may not have been
    /// applied (see [`Problem::outcome_unknown`]).
    #[serde(default)]
    pub outcome: Option<String>,
    /// From the `Retry-After` header.
    #[serde(skip)]
    pub retry_after: Option<Duration>,
}

impl Problem {
    /// API Gateway answers some requests itself, before any function runs, with
    /// `{"message": "…"}` rather than a problem document; this gives them a code too.
    pub(crate) fn from_gateway(status: u16, message: Option<String>) -> Self {
        let (code, detail) = match status {
            401 => (
                "unauthorized",
                "The management token is missing, expired, or not signed by the identity provider the API trusts.",
            ),
            403 => ("forbidden", "The API refused this request."),
            404 => ("not_found", "There is no such route on this API."),
            413 => ("payload_too_large", "The request body is too large."),
            429 => (
                "too_many_requests",
                "The API is throttling requests; retry later.",
            ),
            503 => (
                "service_unavailable",
                "The API is temporarily unavailable; retry shortly.",
            ),
            s if s >= 500 => ("server_error", "The API failed to answer."),
            _ => ("http_error", "The API refused the request."),
        };
        Self {
            status,
            code: code.to_owned(),
            title: message.unwrap_or_default(),
            detail: detail.to_owned(),
            field: None,
            request_id: None,
            credential: None,
            policy: None,
            outcome: None,
            retry_after: None,
        }
    }

    /// The credential store stopped answering while the change was being saved: it may or may
    /// not have been applied (entirely or not at all). Read the credential before repeating
    /// the request; a create or rotation that was applied issued a secret that could not be
    /// shown. Such a request is never repeated by the client's retries.
    pub fn outcome_unknown(&self) -> bool {
        self.outcome.as_deref() == Some("unknown")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = if self.detail.is_empty() {
            &self.title
        } else {
            &self.detail
        };
        write!(f, "{detail} ({}, HTTP {})", self.code, self.status)?;
        if let Some(id) = &self.request_id {
            write!(f, " [request {id}]")?;
        }
        Ok(())
    }
}

/// An RFC 6749 §5.2 error from the token endpoint.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct OAuthError {
    #[serde(skip)]
    pub status: u16,
    /// `invalid_client`, `invalid_scope`, `invalid_request`, `slow_down`, …
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
    /// From the `Retry-After` header (`slow_down`).
    #[serde(skip)]
    pub retry_after: Option<Duration>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the token endpoint refused the request")?;
        if let Some(description) = &self.error_description {
            write!(f, ": {description}")?;
        }
        write!(f, " ({}, HTTP {})", self.error, self.status)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_read_as_a_sentence_with_their_code() {
        let problem: Problem = serde_json::from_str(
            r#"{"type":"urn:clavis:problem:credential_revoked","title":"Conflict","status":409,
                "detail":"The credential has been revoked.","code":"credential_revoked","request_id":"r1"}"#,
        )
        .unwrap();
        let error = Error::Api(Box::new(problem));
        assert_eq!(error.code(), Some("credential_revoked"));
        assert_eq!(error.status(), Some(409));
        assert_eq!(
            error.to_string(),
            "The credential has been revoked. (credential_revoked, HTTP 409) [request r1]"
        );
    }

    #[test]
    fn gateway_refusals_get_a_code_too() {
        let error = Error::Api(Box::new(Problem::from_gateway(
            401,
            Some("Unauthorized".into()),
        )));
        assert_eq!(error.code(), Some("unauthorized"));
        assert!(error.to_string().contains("management token"));
    }
}
