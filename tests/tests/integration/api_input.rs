//! Bad input never gets past the edge: each malformed request gets a 4xx with a clear code,
//! never a 5xx, and writes nothing.

use clavis_api::http::MAX_BODY_BYTES;
use clavis_core::credential::Environment;
use clavis_core::secret::ClientSecret;
use clavis_tests::api::TestApi;
use reqwest::Method;
use serde_json::json;

/// Method, path, content type, body, and the status and problem code expected.
type Case<'a> = (Method, String, Option<&'a str>, Vec<u8>, u16, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_a_4xx_with_a_code_and_change_nothing() {
    let api = TestApi::dynamodb().await;
    let token = api.admin("acme");
    let id = api.create_in("acme").await;
    let create = "/v1/tenants/acme/credentials".to_owned();
    let one = format!("/v1/tenants/acme/credentials/{id}");
    let expiry = format!("{one}/expiry");
    let rotate = format!("{one}/rotate");
    let revoke = format!("{one}/revoke");
    let pasted = ClientSecret::generate(Environment::Live);
    let long_reason = "r".repeat(501);
    let fifty_one: Vec<String> = (0..51).map(|i| format!("r{i}:read")).collect();
    let json_ct = Some("application/json");
    let cases: Vec<Case> = vec![
        (Method::POST, create.clone(), json_ct, br#"{"name": "#.to_vec(), 400, "invalid_json"),
        (Method::POST, create.clone(), json_ct, br#"{"name":"a","scopes":["a:b"]} trailing"#.to_vec(), 400, "invalid_json"),
        (Method::POST, create.clone(), json_ct, br#"{"name": 5, "scopes": ["a:b"]}"#.to_vec(), 400, "invalid_field"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": "a:b"}"#.to_vec(), 400, "invalid_field"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": ["a:b"], "admin": true}"#.to_vec(), 400, "unknown_field"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a"}"#.to_vec(), 400, "missing_field"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": []}"#.to_vec(), 400, "missing_scopes"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": ["Products:Read"]}"#.to_vec(), 400, "invalid_scope"),
        (Method::POST, create.clone(), json_ct, json!({"name": "a", "scopes": fifty_one}).to_string().into_bytes(), 400, "too_many_scopes"),
        (Method::POST, create.clone(), json_ct, json!({"name": "n".repeat(101), "scopes": ["a:b"]}).to_string().into_bytes(), 400, "invalid_name"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "  ", "scopes": ["a:b"]}"#.to_vec(), 400, "invalid_name"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": ["a:b"], "expires_at": "2001-01-01T00:00:00Z"}"#.to_vec(), 400, "expiry_in_past"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": ["a:b"], "expires_at": "tomorrow"}"#.to_vec(), 400, "invalid_expiry"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": ["a:b"], "expires_at": "2031-02-30T00:00:00Z"}"#.to_vec(), 400, "invalid_expiry"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": ["a:b"], "expires_at": "9999-12-31T23:59:59Z"}"#.to_vec(), 400, "expiry_too_far"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": ["a:b"], "expires_in_days": 0}"#.to_vec(), 400, "invalid_expiry"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": ["a:b"], "expires_in_days": 1e99}"#.to_vec(), 400, "invalid_field"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": ["a:b"], "expires_in_days": 5, "expires_at": "2031-01-01T00:00:00Z"}"#.to_vec(), 400, "conflicting_expiry"),
        (Method::POST, create.clone(), json_ct, br#"{"name": "a", "scopes": ["a:b"], "environment": "prod"}"#.to_vec(), 400, "invalid_environment"),
        (Method::POST, create.clone(), json_ct, json!({"name": "a", "scopes": ["a:b"], "description": format!("old key {}", pasted.expose())}).to_string().into_bytes(), 400, "secret_in_text"),
        (Method::POST, create.clone(), json_ct, format!(r#"{{"name":"{}","scopes":["a:b"]}}"#, "x".repeat(MAX_BODY_BYTES)).into_bytes(), 413, "payload_too_large"),
        (Method::POST, create.clone(), json_ct, b"{\"name\": \"\xff\xfe\", \"scopes\": [\"a:b\"]}".to_vec(), 400, "invalid_json"),
        (Method::POST, create.clone(), Some("application/x-www-form-urlencoded"), b"name=a&scopes=a:b".to_vec(), 415, "unsupported_media_type"),
        (Method::POST, create.clone(), json_ct, Vec::new(), 400, "missing_body"),
        (Method::POST, create.clone(), json_ct, format!("{}1{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(), 400, "invalid_json"),
        (Method::POST, create.clone(), json_ct, b"null".to_vec(), 400, "invalid_json"),
        (Method::GET, format!("{create}?limit=0"), None, Vec::new(), 400, "invalid_limit"),
        (Method::GET, format!("{create}?limit=101"), None, Vec::new(), 400, "invalid_limit"),
        (Method::GET, format!("{create}?limit=ten"), None, Vec::new(), 400, "invalid_limit"),
        (Method::GET, format!("{create}?limit=1&limit=2"), None, Vec::new(), 400, "duplicate_parameter"),
        (Method::GET, format!("{create}?cursor=not-a-cursor"), None, Vec::new(), 400, "invalid_cursor"),
        (Method::GET, format!("{create}?cursor=eyJrIjoiQVVESVQjIiwiYyI6ImNpZF9hIn0"), None, Vec::new(), 400, "invalid_cursor"),
        (Method::GET, format!("{create}?status=deleted"), None, Vec::new(), 400, "invalid_status"),
        (Method::GET, "/v1/tenants/acme/audit?limit=-1".to_owned(), None, Vec::new(), 400, "invalid_limit"),
        (Method::GET, "/v1/tenants/ac%23me/credentials".to_owned(), None, Vec::new(), 400, "invalid_tenant"),
        (Method::GET, "/v1/tenants/acme/credentials/not-an-id".to_owned(), None, Vec::new(), 404, "credential_not_found"),
        (Method::PATCH, one.clone(), json_ct, b"{}".to_vec(), 400, "empty_update"),
        (Method::PATCH, one.clone(), json_ct, br#"{"scopes": []}"#.to_vec(), 400, "missing_scopes"),
        (Method::PATCH, one.clone(), json_ct, br#"{"status": "active"}"#.to_vec(), 400, "unknown_field"),
        (Method::PUT, expiry.clone(), json_ct, b"{}".to_vec(), 400, "missing_field"),
        (Method::PUT, expiry.clone(), json_ct, br#"{"expires_at": 5}"#.to_vec(), 400, "invalid_field"),
        (Method::PUT, expiry.clone(), json_ct, br#"{"expires_at": "2020-01-01T00:00:00Z"}"#.to_vec(), 400, "expiry_in_past"),
        (Method::PUT, expiry.clone(), json_ct, br#"{"expires_at": "2030-01-01"}"#.to_vec(), 400, "invalid_expiry"),
        (Method::POST, rotate.clone(), json_ct, br#"{"previous_secret_valid_for_seconds": -1}"#.to_vec(), 400, "invalid_grace_period"),
        (Method::POST, rotate.clone(), json_ct, br#"{"previous_secret_valid_for_seconds": 604801}"#.to_vec(), 400, "invalid_grace_period"),
        (Method::POST, rotate.clone(), json_ct, br#"{"previous_secret_valid_for_seconds": "1h"}"#.to_vec(), 400, "invalid_field"),
        (Method::POST, revoke.clone(), json_ct, json!({"reason": long_reason}).to_string().into_bytes(), 400, "invalid_reason"),
        (Method::POST, revoke.clone(), json_ct, json!({"reason": pasted.expose()}).to_string().into_bytes(), 400, "secret_in_text"),
        (Method::POST, format!("{one}/suspend"), json_ct, br#"{"force": true}"#.to_vec(), 400, "unknown_field"),
    ];
    let total = cases.len();
    for (method, path, content_type, body, status, code) in cases {
        let reply = api
            .send_raw(method.clone(), &path, &token, content_type, body)
            .await;
        assert!(reply.status < 500, "{method} {path}: 5xx {}", reply.text);
        assert_eq!(
            (reply.status, reply.code()),
            (status, code.to_owned()),
            "{method} {path}: {}",
            reply.text
        );
        assert!(
            !reply.json()["detail"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "a sentence for people too"
        );
    }
    // Nothing above was written: the credential is as created, the trail holds one event.
    let shown = api.get(&one, &token).await.expect(200).json();
    assert_eq!(shown["version"], 1);
    let listed = api.get(&create, &token).await.expect(200).json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(api.audit_len("acme").await, 1);
    assert!(total >= 45);
}

#[tokio::test]
async fn bodies_beyond_the_gateway_limit_are_refused_before_any_function() {
    let api = TestApi::memory().await;
    let reply = api
        .send_raw(
            Method::POST,
            "/v1/tenants/acme/credentials",
            &api.admin("acme"),
            Some("application/json"),
            vec![b' '; 11 * 1024 * 1024],
        )
        .await;
    assert_eq!(reply.status, 413);
}
