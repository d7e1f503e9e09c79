//! The OAuth 2.0 token service end to end: a standard client library obtains tokens, a JWT
//! library verifies them against the published JWKS, and every error case answers with the
//! RFC's code and status.

use std::collections::HashMap;

use chrono::Duration;
use clavis_runtime::config::Env;
use clavis_tests::api::{Integration, Reply, TestApi};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use serde_json::{Value, json};

/// A client ID and secret sent with HTTP Basic, or none.
type Basic<'a> = Option<(&'a str, &'a str)>;
/// A token request's form fields.
type Form<'a> = &'a [(&'a str, &'a str)];

#[track_caller]
fn oauth_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!(
        (reply.status, reply.json()["error"].as_str()),
        (status, Some(error)),
        "{}",
        reply.text
    );
    assert!(reply.json()["error_description"].is_string());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standard_client_gets_tokens_that_a_jwt_library_verifies_against_the_jwks() {
    for algorithm in ["RS256", "ES256", "EdDSA"] {
        let api = TestApi::dynamodb_with(Env::default().with("SIGNING_ALGORITHM", algorithm)).await;
        let who = api
            .integration("acme", &["products:read", "stock:write"])
            .await;
        let url = api.gateway.url();
        let transport = api.oauth_transport();
        for auth_type in [AuthType::BasicAuth, AuthType::RequestBody] {
            let client = BasicClient::new(ClientId::new(who.id.clone()))
                .set_client_secret(ClientSecret::new(who.secret.clone()))
                .set_auth_type(auth_type.clone())
                .set_token_uri(TokenUrl::new(format!("{url}/oauth/token")).unwrap());
            let response = client
                .exchange_client_credentials()
                .request_async(&transport)
                .await
                .unwrap();
            assert_eq!(
                response.expires_in(),
                Some(std::time::Duration::from_secs(3600))
            );
            assert_eq!(response.token_type().as_ref(), "bearer");
            let granted: Vec<&str> = response
                .scopes()
                .unwrap()
                .iter()
                .map(|s| s.as_str())
                .collect();
            assert_eq!(granted, ["products:read", "stock:write"]);
            let narrowed = client
                .exchange_client_credentials()
                .add_scope(Scope::new("stock:write".into()))
                .request_async(&transport)
                .await
                .unwrap();
            assert_eq!(narrowed.scopes().unwrap()[0].as_str(), "stock:write");

            // Verify as an offline resource server would: discovery, JWKS, signature, claims.
            let metadata = api
                .get_public("/.well-known/openid-configuration")
                .await
                .expect(200)
                .json();
            assert_eq!(metadata["issuer"], url);
            let jwks: JwkSet = serde_json::from_str(
                &reqwest::get(metadata["jwks_uri"].as_str().unwrap())
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap(),
            )
            .unwrap();
            let access_token = response.access_token().secret();
            let header = jsonwebtoken::decode_header(access_token).unwrap();
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(format!("{:?}", header.alg), algorithm);
            let jwk = jwks
                .find(header.kid.as_deref().unwrap())
                .expect("the token's key is published");
            let mut validation = Validation::new(header.alg);
            validation.set_issuer(&[&url]);
            validation.set_audience(&["clavis-api"]);
            let claims = jsonwebtoken::decode::<HashMap<String, Value>>(
                access_token,
                &DecodingKey::from_jwk(jwk).unwrap(),
                &validation,
            )
            .unwrap()
            .claims;
            assert_eq!(claims["sub"], who.id.as_str());
            assert_eq!(claims["client_id"], who.id.as_str());
            assert_eq!(claims["tenant"], "acme");
            assert_eq!(claims["scope"], "products:read stock:write");
            assert_eq!(claims["secret_version"], 1);
            assert_eq!(
                claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
                3600
            );
            assert!(claims["jti"].is_string());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_endpoint_error_has_the_rfc_code_and_status() {
    let api = TestApi::dynamodb().await;
    let who = api.integration("acme", &["products:read"]).await;
    let grant = [("grant_type", "client_credentials")];
    let basic = Some((who.id.as_str(), who.secret.as_str()));
    let wrong_secret =
        clavis_core::secret::ClientSecret::generate(clavis_core::credential::Environment::Live);
    let wrong = Some((who.id.as_str(), wrong_secret.expose()));

    let unknown_id = Some(("cid_aaaaaaaaaaaaaaaaaaaaaaaaaa", who.secret.as_str()));
    let malformed_secret = Some((who.id.as_str(), "csk_live_not_a_secret"));
    let (id, secret) = (who.id.as_str(), who.secret.as_str());
    // Who authenticates (HTTP Basic), the form, and the RFC 6749 §5.2 answer.
    let cases: [(Basic, Form, u16, &str); 11] = [
        (basic, &[], 400, "invalid_request"),
        (
            basic,
            &[("grant_type", "password")],
            400,
            "unsupported_grant_type",
        ),
        (
            basic,
            &[("grant_type", "authorization_code")],
            400,
            "unsupported_grant_type",
        ),
        (basic, &[grant[0], grant[0]], 400, "invalid_request"),
        (wrong, &grant, 401, "invalid_client"),
        (unknown_id, &grant, 401, "invalid_client"),
        (malformed_secret, &grant, 401, "invalid_client"),
        // Basic and the form's client_secret at once: RFC 6749 §2.3 allows one method.
        (
            basic,
            &[grant[0], ("client_id", id), ("client_secret", secret)],
            400,
            "invalid_request",
        ),
        (None, &[grant[0], ("client_id", id)], 401, "invalid_client"),
        (
            basic,
            &[grant[0], ("scope", "products:read stock:write")],
            400,
            "invalid_scope",
        ),
        (
            basic,
            &[grant[0], ("scope", "NOT A SCOPE")],
            400,
            "invalid_scope",
        ),
    ];
    for (authentication, form, status, code) in cases {
        let reply = api.form("/oauth/token", authentication, form).await;
        oauth_error(&reply, status, code);
    }
    let unauthenticated = api.form("/oauth/token", None, &grant).await;
    oauth_error(&unauthenticated, 401, "invalid_client");
    let challenge = unauthenticated
        .header("www-authenticate")
        .unwrap_or_default();
    assert!(challenge.starts_with("Basic"), "{challenge:?}");
    let json_body = api
        .send(
            reqwest::Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "client_credentials"})),
            &[],
        )
        .await;
    oauth_error(&json_body, 400, "invalid_request");
    for garbled in ["Basic !!!", "Basic bm8tY29sb24=", "Basic "] {
        let reply = api.form_authorized("/oauth/token", garbled, &grant).await;
        oauth_error(&reply, 401, "invalid_client");
    }

    // A standard client sees the same codes.
    let client = BasicClient::new(ClientId::new(who.id.clone()))
        .set_client_secret(ClientSecret::new(wrong_secret.expose().to_owned()))
        .set_token_uri(TokenUrl::new(format!("{}/oauth/token", api.gateway.url())).unwrap());
    match client
        .exchange_client_credentials()
        .request_async(&api.oauth_transport())
        .await
    {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(*e.error(), BasicErrorResponseType::InvalidClient)
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }

    // Only active credentials get tokens: suspended, expired, revoked and deleted all fail.
    let base = format!("/v1/tenants/acme/credentials/{}", who.id);
    let admin = api.admin("acme");
    let refused_after = async |action: &str| {
        api.post(&format!("{base}/{action}"), &admin, json!({}))
            .await
            .expect(200);
        let reply = api.form("/oauth/token", basic, &grant).await;
        oauth_error(&reply, 401, "invalid_client");
    };
    refused_after("suspend").await;
    api.post(&format!("{base}/reactivate"), &admin, json!({}))
        .await
        .expect(200);
    api.form("/oauth/token", basic, &grant).await.expect(200);
    let expiring = api.create("acme", json!({"name": "Short", "scopes": ["products:read"], "expires_at": (api.fixture.now() + Duration::hours(2)).to_rfc3339()})).await;
    let short = (
        expiring["credential"]["client_id"]
            .as_str()
            .unwrap()
            .to_owned(),
        expiring["client_secret"].as_str().unwrap().to_owned(),
    );
    api.form("/oauth/token", Some((&short.0, &short.1)), &grant)
        .await
        .expect(200);
    api.fixture.advance(Duration::hours(2));
    oauth_error(
        &api.form("/oauth/token", Some((&short.0, &short.1)), &grant)
            .await,
        401,
        "invalid_client",
    );
    refused_after("revoke").await;
    api.send(reqwest::Method::DELETE, &base, Some(&admin), None, &[])
        .await
        .expect(204);
    oauth_error(
        &api.form("/oauth/token", basic, &grant).await,
        401,
        "invalid_client",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_throttled_with_retry_after() {
    let api = TestApi::dynamodb_with(Env::default().with("TOKEN_FAILURE_LIMIT", "3")).await;
    let who = api.integration("acme", &["products:read"]).await;
    let wrong =
        clavis_core::secret::ClientSecret::generate(clavis_core::credential::Environment::Live);
    let grant = [("grant_type", "client_credentials")];
    for _ in 0..3 {
        oauth_error(
            &api.form("/oauth/token", Some((&who.id, wrong.expose())), &grant)
                .await,
            401,
            "invalid_client",
        );
    }
    let throttled = api
        .form("/oauth/token", Some((&who.id, wrong.expose())), &grant)
        .await;
    oauth_error(&throttled, 429, "slow_down");
    let retry_after: i64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry_after));
    api.fixture.advance(Duration::seconds(retry_after));
    api.form("/oauth/token", Some((&who.id, &who.secret)), &grant)
        .await
        .expect(200);
}

/// Whether the token endpoint takes `who`'s secret now: a token, or `401 invalid_client`.
/// Whether introspection, asked by `caller`, calls `token` active. An inactive answer must say
/// nothing else (RFC 7662 §2.2).
async fn is_active(api: &TestApi, caller: &Integration, token: &str) -> bool {
    let answer = api.introspect(caller, token).await;
    if answer["active"] == false {
        assert_eq!(
            answer,
            json!({"active": false}),
            "an inactive answer says no more"
        );
    }
    answer["active"] == true
}

async fn accepted(api: &TestApi, who: &Integration) -> bool {
    let grant = [("grant_type", "client_credentials")];
    let reply = api
        .form("/oauth/token", Some((&who.id, &who.secret)), &grant)
        .await;
    if reply.status == 200 {
        return true;
    }
    oauth_error(&reply, 401, "invalid_client");
    false
}

/// `who` with the new secret of a rotation asked for with `body`.
async fn rotated(api: &TestApi, who: &Integration, body: serde_json::Value) -> Integration {
    let rotate = format!("/v1/tenants/acme/credentials/{}/rotate", who.id);
    let answer = api
        .post(&rotate, &api.admin("acme"), body)
        .await
        .expect(200);
    Integration {
        secret: Integration::of(&answer.json()).secret,
        ..who.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_with_and_without_grace_and_tokens_in_flight() {
    let api = TestApi::dynamodb().await;
    let resource_server = api.integration("acme", &["introspect:read"]).await;
    let who = api.integration("acme", &["products:read"]).await;
    let before = api.access_token(&who).await;
    let second = rotated(
        &api,
        &who,
        json!({"previous_secret_valid_for_seconds": 600}),
    )
    .await;
    // Inside the grace period both secrets work.
    assert!(accepted(&api, &who).await && accepted(&api, &second).await);
    api.fixture.advance(Duration::seconds(600));
    assert!(!accepted(&api, &who).await, "the grace period is over");
    assert!(accepted(&api, &second).await);
    // Without grace, the old secret fails at once.
    let third = rotated(&api, &who, json!({})).await;
    assert!(!accepted(&api, &second).await, "no grace asked for");
    assert!(accepted(&api, &third).await);
    // A token issued before the rotations keeps working until it expires.
    let shown = api.introspect(&resource_server, &before).await;
    assert_eq!(
        (shown["active"].as_bool(), shown["client_id"].as_str()),
        (Some(true), Some(who.id.as_str()))
    );
    api.fixture.advance(Duration::minutes(50));
    assert!(!is_active(&api, &resource_server, &before).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_reflects_suspension_revocation_and_rfc_7009_at_once() {
    let api = TestApi::dynamodb().await;
    let resource_server = api.integration("acme", &["introspect:read"]).await;
    let who = api.integration("acme", &["products:read"]).await;
    let outsider = api.integration("globex", &["products:read"]).await;
    let admin = api.admin("acme");
    let base = format!("/v1/tenants/acme/credentials/{}", who.id);
    let access = api.access_token(&who).await;

    let active = api.introspect(&resource_server, &access).await;
    assert_eq!(active["active"], true);
    assert_eq!(
        (
            active["scope"].as_str(),
            active["token_type"].as_str(),
            active["tenant"].as_str()
        ),
        (Some("products:read"), Some("Bearer"), Some("acme"))
    );
    assert_eq!(
        api.introspect(&outsider, &access).await,
        json!({"active": false}),
        "another tenant learns nothing"
    );
    api.post(&format!("{base}/suspend"), &admin, json!({}))
        .await
        .expect(200);
    assert!(!is_active(&api, &resource_server, &access).await);
    api.post(&format!("{base}/reactivate"), &admin, json!({}))
        .await
        .expect(200);
    // A token issued before the suspension (an attacker's, say) does not come back with the
    // reactivation; one issued after it works at once, within the same second.
    assert!(!is_active(&api, &resource_server, &access).await);
    let access = api.access_token(&who).await;
    assert_eq!(
        api.introspect(&resource_server, &access).await["active"],
        true
    );

    // RFC 7009: the client revokes its own token; nobody else's.
    let revoke = [
        ("token", access.as_str()),
        ("token_type_hint", "access_token"),
    ];
    let foreign = api
        .form(
            "/oauth/revoke",
            Some((&resource_server.id, &resource_server.secret)),
            &revoke,
        )
        .await;
    oauth_error(&foreign, 400, "unauthorized_client");
    assert_eq!(
        api.introspect(&resource_server, &access).await["active"],
        true
    );
    let revoked = api
        .form("/oauth/revoke", Some((&who.id, &who.secret)), &revoke)
        .await
        .expect(200);
    assert!(revoked.text.is_empty());
    assert!(!is_active(&api, &resource_server, &access).await);
    api.form(
        "/oauth/revoke",
        Some((&who.id, &who.secret)),
        &[("token", "garbage")],
    )
    .await
    .expect(200);
    oauth_error(
        &api.form("/oauth/revoke", Some((&who.id, &who.secret)), &[])
            .await,
        400,
        "invalid_request",
    );

    // Revoking the credential ends every token of it at once (for online verifiers).
    let another = api.access_token(&who).await;
    assert_eq!(
        api.introspect(&resource_server, &another).await["active"],
        true
    );
    api.post(&format!("{base}/revoke"), &admin, json!({}))
        .await
        .expect(200);
    assert!(!is_active(&api, &resource_server, &another).await);
    for junk in ["", "a.b.c", "not-a-token"] {
        let reply = api
            .form(
                "/oauth/introspect",
                Some((&resource_server.id, &resource_server.secret)),
                &[("token", junk)],
            )
            .await;
        assert!(reply.status == 200 || reply.status == 400, "{}", reply.text);
    }
    oauth_error(
        &api.form("/oauth/introspect", None, &[("token", another.as_str())])
            .await,
        401,
        "invalid_client",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_introspections_are_counted_in_the_management_api() {
    let api = TestApi::dynamodb().await;
    let resource_server = api.integration("acme", &["introspect:read"]).await;
    let who = api.integration("acme", &["products:read"]).await;
    let credential = async || {
        api.get(
            &format!("/v1/tenants/acme/credentials/{}", who.id),
            &api.admin("acme"),
        )
        .await
        .expect(200)
        .json()
    };
    let before = credential().await;
    assert_eq!(
        (
            before["request_count"].as_u64(),
            before["last_used_at"].as_str()
        ),
        (Some(0), None)
    );
    let mut last = String::new();
    for _ in 0..3 {
        last = api.access_token(&who).await;
    }
    for _ in 0..2 {
        api.introspect(&resource_server, &last).await;
    }
    api.flush_usage().await;
    let after = credential().await;
    assert_eq!(after["request_count"], 5);
    assert_eq!(
        after["last_used_at"].as_str(),
        Some(
            api.fixture
                .now()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
                .as_str()
        )
    );
    let listed = api
        .get("/v1/tenants/acme/credentials", &api.admin("acme"))
        .await
        .expect(200)
        .json();
    let row = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == who.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["request_count"], 5);
}

#[tokio::test]
async fn discovery_documents_point_at_this_issuer_and_may_be_cached() {
    let api = TestApi::memory().await;
    let url = api.gateway.url();
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let reply = api.get_public(path).await.expect(200);
        assert_eq!(reply.header("cache-control"), Some("public, max-age=300"));
        let document = reply.json();
        assert_eq!(document["issuer"], url);
        assert_eq!(document["token_endpoint"], format!("{url}/oauth/token"));
        assert_eq!(
            document["introspection_endpoint"],
            format!("{url}/oauth/introspect")
        );
        assert_eq!(
            document["revocation_endpoint"],
            format!("{url}/oauth/revoke")
        );
        assert_eq!(
            document["grant_types_supported"],
            json!(["client_credentials"])
        );
    }
    let jwks = api
        .get_public("/.well-known/jwks.json")
        .await
        .expect(200)
        .json();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert!(jwks["keys"][0].get("d").is_none(), "no private material");
}
