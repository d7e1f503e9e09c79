//! The HTTP edge of the management API: RFC 9457 problem responses, the mapping from typed
//! errors to statuses (here and nowhere else), and request parsing that turns every malformed
//! input into a 4xx with a machine-readable code.

use lambda_http::http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{AuthError, Caller};
use crate::credential::ValidationError;
use crate::idempotency::{IdempotencyKey, InvalidIdempotencyKey};
use crate::service::{Precondition, ServiceError};
use crate::store::StoreError;

/// Management requests are small JSON documents; anything larger is a mistake or an attack.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

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
            StoreError::Corrupt(_) | StoreError::Backend(_) => Problem::internal(e),
        }
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(_) => {
                Problem::new(StatusCode::NOT_FOUND, "credential_not_found", e.to_string())
            }
            ServiceError::Rule(crate::lifecycle::LifecycleError::Invalid(invalid)) => {
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

/// The one access-log line every endpoint writes per request.
pub fn log_request(
    request: &Request,
    request_id: Option<&str>,
    response: &Response<Body>,
    started: std::time::Instant,
) {
    tracing::info!(
        request_id,
        method = %request.method(),
        path = request.uri().path(),
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
}

pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

// ---------------------------------------------------------------------------------------------
// Reading requests

pub fn request_id(request: &Request) -> Option<String> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
}

/// The caller as API Gateway's JWT authorizer (or the local gateway's emulation of it) left it
/// in the request context.
pub fn caller(request: &Request) -> Result<Caller, AuthError> {
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    };
    match claims {
        Some(claims) if !claims.is_empty() => Caller::from_claims(claims),
        _ => Err(AuthError::Unauthenticated),
    }
}

pub fn path_parameter(request: &Request, name: &str) -> Option<String> {
    request
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
}

/// A query parameter that may appear at most once.
pub fn query_parameter(request: &Request, name: &'static str) -> Result<Option<String>, Problem> {
    let values = request
        .query_string_parameters_ref()
        .and_then(|q| q.all(name))
        .unwrap_or_default();
    match values.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).to_owned())),
        _ => Err(
            Problem::bad_request("duplicate_parameter", format!("Give {name} at most once."))
                .with_field(name),
        ),
    }
}

/// The request body as sent.
pub fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// The `Idempotency-Key` header, if sent: one value of 32 to 255 visible ASCII characters.
pub fn idempotency_key(request: &Request) -> Result<Option<IdempotencyKey>, Problem> {
    let mut values = request.headers().get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = |detail: String| {
        Problem::bad_request("invalid_idempotency_key", detail).with_field("Idempotency-Key")
    };
    if values.next().is_some() {
        return Err(invalid(
            "Send one Idempotency-Key header, not several.".into(),
        ));
    }
    let text = value
        .to_str()
        .map_err(|_| invalid(InvalidIdempotencyKey.to_string()))?;
    IdempotencyKey::parse(text)
        .map(Some)
        .map_err(|e| invalid(e.to_string()))
}

/// The request body as JSON of type `T`: at most [`MAX_BODY_BYTES`], JSON media type (or
/// none), no unknown fields. A zero-length body reads as `{}` when `empty_is_object` is set,
/// for actions whose body is optional.
pub fn json_body<T: DeserializeOwned>(
    request: &Request,
    empty_is_object: bool,
) -> Result<T, Problem> {
    let bytes = body_bytes(request);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("Request bodies are limited to {MAX_BODY_BYTES} bytes."),
        ));
    }
    if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let json = essence == "application/json"
            || (essence.starts_with("application/") && essence.ends_with("+json"));
        if !json && !bytes.is_empty() {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON with Content-Type: application/json.",
            ));
        }
    }
    // Only a body of zero bytes is absent; whitespace alone is not JSON, so it is refused
    // rather than read as `{}`.
    let bytes: &[u8] = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None if empty_is_object && bytes.is_empty() => b"{}",
        None if empty_is_object => {
            return Err(Problem::bad_request(
                "invalid_json",
                "Send no body at all, or a JSON object.",
            ));
        }
        None => {
            return Err(Problem::bad_request(
                "missing_body",
                "This request needs a JSON body.",
            ));
        }
        // serde would read a struct from a JSON array by position; only objects are accepted.
        Some(b'{') => bytes,
        Some(_) => {
            return Err(Problem::bad_request(
                "invalid_json",
                "The body must be a JSON object.",
            ));
        }
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(json_problem)?;
    deserializer.end().map_err(|e| {
        Problem::bad_request("invalid_json", format!("The body is not valid JSON: {e}."))
    })?;
    Ok(value)
}

fn json_problem(error: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let path = error.path().to_string();
    let inner = error.into_inner();
    if !inner.is_data() {
        return Problem::bad_request(
            "invalid_json",
            format!("The body is not valid JSON: {inner}."),
        );
    }
    let message = inner.to_string();
    let code = if message.starts_with("unknown field") {
        "unknown_field"
    } else if message.starts_with("missing field") {
        "missing_field"
    } else {
        "invalid_field"
    };
    // serde's message names the field and the expected type; strip its position suffix.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    let problem = Problem::bad_request(code, format!("{message}."));
    if path == "." {
        problem
    } else {
        problem.with_field(path)
    }
}

/// `If-Match: "3"`, a list of such tags, or `*`. Weak tags are refused: versions are exact.
pub fn precondition(request: &Request) -> Result<Option<Precondition>, Problem> {
    let mut values = request
        .headers()
        .get_all(header::IF_MATCH)
        .iter()
        .peekable();
    if values.peek().is_none() {
        return Ok(None);
    }
    let invalid = || {
        Problem::bad_request(
            "invalid_if_match",
            "If-Match must be * or the ETag of the credential, e.g. If-Match: \"3\".",
        )
    };
    let mut versions = Vec::new();
    for value in values {
        for tag in value
            .to_str()
            .map_err(|_| invalid())?
            .split(',')
            .map(str::trim)
        {
            if tag == "*" {
                return Ok(Some(Precondition::Any));
            }
            let version = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or_else(invalid)?;
            versions.push(version);
        }
    }
    Ok(Some(Precondition::Versions(versions)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;

    fn request_with(body: &str, content_type: Option<&str>) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/x");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        #[allow(dead_code)]
        name: String,
        #[serde(default)]
        #[allow(dead_code)]
        count: Option<u32>,
    }

    fn code(result: Result<Sample, Problem>) -> &'static str {
        result.unwrap_err().code
    }

    #[test]
    fn bodies_are_checked_before_they_are_trusted() {
        let json = Some("application/json");
        assert!(json_body::<Sample>(&request_with(r#"{"name":"a"}"#, json), false).is_ok());
        assert!(
            json_body::<Sample>(
                &request_with(r#"{"name":"a"}"#, Some("application/json; charset=utf-8")),
                false
            )
            .is_ok()
        );
        assert!(json_body::<Sample>(&request_with(r#"{"name":"a"}"#, None), false).is_ok());
        assert_eq!(
            code(json_body(&request_with("{", json), false)),
            "invalid_json"
        );
        assert_eq!(
            code(json_body(&request_with(r#"{"name":"a"} x"#, json), false)),
            "invalid_json"
        );
        assert_eq!(
            code(json_body(
                &request_with(r#"{"name":"a","x":1}"#, json),
                false
            )),
            "unknown_field"
        );
        assert_eq!(
            code(json_body(&request_with(r#"{}"#, json), false)),
            "missing_field"
        );
        assert_eq!(
            code(json_body(&request_with(r#"{"name":5}"#, json), false)),
            "invalid_field"
        );
        assert_eq!(
            code(json_body(
                &request_with(r#"{"name":"a","count":-1}"#, json),
                false
            )),
            "invalid_field"
        );
        assert_eq!(
            code(json_body(&request_with("", json), false)),
            "missing_body"
        );
        for not_an_object in ["null", "[]", "[\"a\", 3]", "\"name\"", "3"] {
            let problem =
                json_body::<Sample>(&request_with(not_an_object, json), false).unwrap_err();
            assert_eq!(
                (problem.code, problem.detail.as_str()),
                ("invalid_json", "The body must be a JSON object.")
            );
        }
        assert_eq!(
            code(json_body(
                &request_with("name=a", Some("application/x-www-form-urlencoded")),
                false
            )),
            "unsupported_media_type"
        );
        // Deep nesting fails at the first value of the wrong shape, long before any recursion.
        for deep in [
            "[".repeat(10_000),
            format!(r#"{{"name":{}"#, "{\"a\":".repeat(2_000)),
        ] {
            let problem = json_body::<Sample>(&request_with(&deep, json), false).unwrap_err();
            assert_eq!(problem.status, StatusCode::BAD_REQUEST);
        }
        let huge = format!(r#"{{"name":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        let problem = json_body::<Sample>(&request_with(&huge, json), false).unwrap_err();
        assert_eq!(problem.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Optional {
        #[serde(default)]
        #[allow(dead_code)]
        count: Option<u32>,
    }

    #[test]
    fn an_optional_body_is_absent_only_when_it_has_no_bytes() {
        let json = Some("application/json");
        assert!(json_body::<Optional>(&request_with("", json), true).is_ok());
        assert!(json_body::<Optional>(&request_with("{}", json), true).is_ok());
        for not_json in ["\n", " ", "\r\n\t"] {
            let problem = json_body::<Optional>(&request_with(not_json, json), true).unwrap_err();
            assert_eq!(problem.code, "invalid_json", "{not_json:?}");
        }
    }

    #[test]
    fn problems_name_the_field_at_fault() {
        let problem =
            json_body::<Sample>(&request_with(r#"{"name":"a","count":"x"}"#, None), false)
                .unwrap_err();
        assert_eq!(problem.field.as_deref(), Some("count"));
        assert!(!problem.detail.contains("line"), "{}", problem.detail);
    }

    #[test]
    fn if_match_accepts_strong_tags_and_star_only() {
        let with = |value: &str| {
            http::Request::builder()
                .header("if-match", value)
                .body(Body::Empty)
                .unwrap()
        };
        assert_eq!(
            precondition(&with("\"3\"")).unwrap(),
            Some(Precondition::Versions(vec![3]))
        );
        assert_eq!(
            precondition(&with("\"3\", \"4\"")).unwrap(),
            Some(Precondition::Versions(vec![3, 4]))
        );
        assert_eq!(precondition(&with("*")).unwrap(), Some(Precondition::Any));
        for bad in ["3", "W/\"3\"", "\"x\"", ""] {
            assert_eq!(
                precondition(&with(bad)).unwrap_err().code,
                "invalid_if_match",
                "{bad}"
            );
        }
        let none = http::Request::builder().body(Body::Empty).unwrap();
        assert_eq!(precondition(&none).unwrap(), None);
    }

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
