//! What API Gateway itself says and how it hands a request on: its own short JSON answers
//! (`{"message": …}`), and request headers as payload 2.0 events carry them. Shared by the
//! routes Clavis serves (`gateway`) and the platform API it fronts (`upstream`).

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::StatusCode;
use hyper::header::HeaderValue;
use serde_json::{Map, Value, json};

/// API Gateway's own error responses (before or instead of a function): `{"message": …}`.
pub fn gateway_message(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(
        json!({ "message": message }).to_string(),
    )));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Request headers as payload 2.0 events carry them: API Gateway lower-cases header names and
/// joins repeated headers with commas; cookies travel separately.
pub fn payload_headers(headers: &hyper::HeaderMap) -> (Map<String, Value>, Vec<String>) {
    let mut joined = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == hyper::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        match joined.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                joined.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    (joined, cookies)
}
