//! Reading requests at the HTTP edge: every malformed input becomes a 4xx [`Problem`] with a
//! machine-readable code; and the access log line each request leaves.

use lambda_http::http::{StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;

use super::response::Problem;
use clavis_core::auth::{AuthError, Caller};
use clavis_core::idempotency::{IdempotencyKey, InvalidIdempotencyKey};
use clavis_core::service::Precondition;
use clavis_core::source::SourceAddress;

/// Management requests are small JSON documents; anything larger is a mistake or an attack.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn request_id(request: &Request) -> Option<String> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
}

/// Where the request came from: API Gateway's `requestContext.http.sourceIp` (the local
/// gateway puts the TCP peer there), never a header a client can set.
pub fn source_address(request: &Request) -> SourceAddress {
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref(),
        _ => None,
    };
    SourceAddress::parse_or_unknown(source_ip)
}

/// The request's media type without its parameters, lower case (`application/json` of
/// `Application/JSON; charset=utf-8`); `None` without a `Content-Type`. The one reading of the
/// header for every endpoint.
pub fn media_type(request: &Request) -> Option<String> {
    let value = request.headers().get(header::CONTENT_TYPE)?;
    let essence = value.to_str().unwrap_or_default().split(';').next()?;
    Some(essence.trim().to_ascii_lowercase())
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
    if let Some(essence) = media_type(request) {
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
}
