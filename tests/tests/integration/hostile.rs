//! Hostile input over HTTP: forged JWTs (at introspection and at the management gateway),
//! ambiguous and malformed token requests, and header and path injection. Every case first has
//! a control that the same forging harness gets *accepted* when nothing is wrong with it, so a
//! refusal below is the check refusing, not the harness failing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use clavis_core::token::keys::{KeyAlgorithm, SigningKey};
use clavis_local::idp::{self, LocalIdp};
use clavis_runtime::config::Env;
use clavis_tests::api::{Reply, TestApi};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A JWT with exactly this header and these claims, signed as `signer` says.
enum Signer<'a> {
    Rs256(&'a EncodingKey),
    Hs256(&'a [u8]),
    Unsigned,
}

fn forge(signer: Signer<'_>, typ: Option<&str>, kid: &str, claims: &Value) -> String {
    let header = |alg| {
        let mut header = Header::new(alg);
        header.typ = typ.map(str::to_owned);
        header.kid = Some(kid.to_owned());
        header
    };
    match signer {
        Signer::Rs256(key) => jsonwebtoken::encode(&header(Algorithm::RS256), claims, key),
        Signer::Hs256(secret) => jsonwebtoken::encode(
            &header(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret),
        ),
        Signer::Unsigned => Ok(format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": typ, "kid": kid}).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )),
    }
    .expect("encode")
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("claims")
}

fn with(claims: &Value, changes: Value) -> Value {
    let mut claims = claims.clone();
    if let (Some(claims), Some(changes)) = (claims.as_object_mut(), changes.as_object()) {
        claims.extend(changes.clone());
    }
    claims
}

/// A genuine access token re-signed by the forging harness with the real key (a control that
/// must be accepted), and forgeries of it, each named, that must all be refused.
pub(crate) struct Forgeries {
    pub resigned: String,
    pub forgeries: Vec<(&'static str, String)>,
}

/// Forgeries of `genuine`, issued by `api`, whose signing key is `signing` (`pem`).
pub(crate) async fn access_token_forgeries(
    api: &TestApi,
    signing: &SigningKey,
    pem: &str,
    genuine: &str,
) -> Forgeries {
    let claims = payload(genuine);
    let kid = signing.kid().to_owned();
    let ours = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("pem");
    let (mallory, mallory_pem) = SigningKey::generate(KeyAlgorithm::Rs256).expect("key");
    let theirs = EncodingKey::from_rsa_pem(mallory_pem.as_bytes()).expect("pem");
    let jwks = api.get_public("/.well-known/jwks.json").await.expect(200);
    let public_jwk = serde_json::to_vec(&jwks.json()["keys"][0]).expect("jwk");
    let modulus = URL_SAFE_NO_PAD
        .decode(jwks.json()["keys"][0]["n"].as_str().expect("n"))
        .expect("n");
    let iat = claims["iat"].as_i64().expect("iat");
    let at = Some("at+jwt");

    let forgeries = vec![
        ("alg none", forge(Signer::Unsigned, at, &kid, &claims)),
        (
            "HS256 keyed with the JWK",
            forge(Signer::Hs256(&public_jwk), at, &kid, &claims),
        ),
        (
            "HS256 keyed with the modulus",
            forge(Signer::Hs256(&modulus), at, &kid, &claims),
        ),
        (
            "HS256 keyed with the JWKS document",
            forge(Signer::Hs256(jwks.text.as_bytes()), at, &kid, &claims),
        ),
        (
            "someone else's key under our kid",
            forge(Signer::Rs256(&theirs), at, &kid, &claims),
        ),
        (
            "someone else's key and kid",
            forge(Signer::Rs256(&theirs), at, mallory.kid(), &claims),
        ),
        (
            "unknown kid",
            forge(Signer::Rs256(&ours), at, "not-our-kid", &claims),
        ),
        ("no typ", forge(Signer::Rs256(&ours), None, &kid, &claims)),
        (
            "an ID token's typ",
            forge(Signer::Rs256(&ours), Some("JWT"), &kid, &claims),
        ),
        (
            "expired",
            forge(
                Signer::Rs256(&ours),
                at,
                &kid,
                &with(&claims, json!({"exp": iat - 1})),
            ),
        ),
        (
            "issued an hour ahead",
            forge(
                Signer::Rs256(&ours),
                at,
                &kid,
                &with(&claims, json!({"iat": iat + 3600, "exp": iat + 7200})),
            ),
        ),
        (
            "not before ten minutes from now",
            forge(
                Signer::Rs256(&ours),
                at,
                &kid,
                &with(&claims, json!({"nbf": iat + 600})),
            ),
        ),
        (
            "another issuer",
            forge(
                Signer::Rs256(&ours),
                at,
                &kid,
                &with(&claims, json!({"iss": "https://evil.example"})),
            ),
        ),
        (
            "another audience",
            forge(
                Signer::Rs256(&ours),
                at,
                &kid,
                &with(&claims, json!({"aud": "billing-api"})),
            ),
        ),
        (
            "no exp",
            forge(Signer::Rs256(&ours), at, &kid, &{
                let mut c = claims.clone();
                c.as_object_mut().map(|c| c.remove("exp"));
                c
            }),
        ),
        ("scope widened under the old signature", {
            let widened = with(&claims, json!({"scope": "products:read admin:write"}));
            let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
            parts[1] = URL_SAFE_NO_PAD.encode(widened.to_string());
            parts.join(".")
        }),
        ("not a JWT", "a.b.c".to_owned()),
    ];
    let resigned = forge(Signer::Rs256(&ours), at, &kid, &claims);
    Forgeries {
        resigned,
        forgeries,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_access_tokens_are_inactive_at_introspection() {
    let (signing, pem) = SigningKey::generate(KeyAlgorithm::Rs256).expect("key");
    let api = TestApi::dynamodb_with(Env::default().with("SIGNING_KEY_PEM", pem.clone())).await;
    let resource_server = api.integration("acme", &["introspect:read"]).await;
    let who = api.integration("acme", &["products:read"]).await;
    let genuine = api.access_token(&who).await;
    let Forgeries {
        resigned,
        forgeries,
    } = access_token_forgeries(&api, &signing, &pem, &genuine).await;

    // Control: the harness, re-signing the genuine claims with the real key, is accepted.
    assert_eq!(
        api.introspect(&resource_server, &resigned).await["active"],
        true
    );

    for (what, forged) in &forgeries {
        assert_eq!(
            api.introspect(&resource_server, forged).await,
            json!({"active": false}),
            "{what}"
        );
    }
    // The genuine token is still fine, and nothing above revoked or changed it.
    assert_eq!(
        api.introspect(&resource_server, &genuine).await["active"],
        true
    );
    // A token from the future becomes valid once its time comes; an nbf one too.
    api.fixture.advance(Duration::minutes(10));
    let (_, not_before) = forgeries
        .iter()
        .find(|(what, _)| what.starts_with("not before"))
        .expect("the nbf case");
    assert_eq!(
        api.introspect(&resource_server, not_before).await["active"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_management_tokens_are_refused_at_the_gateway() {
    let dir = std::env::temp_dir().join(format!("clavis-idp-{}", ulid::Ulid::generate()));
    let api = TestApi::memory_with_idp(LocalIdp::load_or_create(&dir).expect("idp")).await;
    let pem = std::fs::read_to_string(dir.join("dev-idp-key.pem")).expect("pem");
    std::fs::remove_dir_all(&dir).expect("clean up");
    let key = SigningKey::from_pem(KeyAlgorithm::Rs256, &pem).expect("key");
    let ours = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("pem");
    let (_, mallory_pem) = SigningKey::generate(KeyAlgorithm::Rs256).expect("key");
    let theirs = EncodingKey::from_rsa_pem(mallory_pem.as_bytes()).expect("pem");
    let public_jwk = serde_json::to_vec(key.public_jwk()).expect("jwk");
    let kid = key.kid().to_owned();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": idp::ISSUER, "aud": idp::AUDIENCE, "iat": now, "exp": now + 600,
        "sub": "admin-of-acme", "role": "admin", "tenant": "acme",
    });
    let list = "/v1/tenants/acme/credentials";
    let typ = Some("JWT");

    let control = forge(Signer::Rs256(&ours), typ, &kid, &claims);
    api.get(list, &control).await.expect(200);

    let forgeries = [
        ("alg none", forge(Signer::Unsigned, typ, &kid, &claims)),
        (
            "HS256 keyed with the JWK",
            forge(Signer::Hs256(&public_jwk), typ, &kid, &claims),
        ),
        (
            "HS256 keyed with the PEM",
            forge(Signer::Hs256(pem.as_bytes()), typ, &kid, &claims),
        ),
        (
            "someone else's key",
            forge(Signer::Rs256(&theirs), typ, &kid, &claims),
        ),
        (
            "unknown kid",
            forge(Signer::Rs256(&ours), typ, "other", &claims),
        ),
        (
            "expired",
            forge(
                Signer::Rs256(&ours),
                typ,
                &kid,
                &with(&claims, json!({"exp": now - 5})),
            ),
        ),
        (
            "not before",
            forge(
                Signer::Rs256(&ours),
                typ,
                &kid,
                &with(&claims, json!({"nbf": now + 600})),
            ),
        ),
        (
            "another issuer",
            forge(
                Signer::Rs256(&ours),
                typ,
                &kid,
                &with(&claims, json!({"iss": "https://evil.example"})),
            ),
        ),
        (
            "another audience",
            forge(
                Signer::Rs256(&ours),
                typ,
                &kid,
                &with(&claims, json!({"aud": "clavis-api"})),
            ),
        ),
    ];
    for (what, forged) in &forgeries {
        let reply = api.get(list, forged).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.text);
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{what}");
    }
    // A token Clavis issued to an integration is not a management token.
    let who = api.integration("acme", &["products:read"]).await;
    let access_token = api.access_token(&who).await;
    api.get(list, &access_token).await.expect(401);
    // A genuine token that claims a role Clavis does not know gets nowhere either.
    let stranger = forge(
        Signer::Rs256(&ours),
        typ,
        &kid,
        &with(&claims, json!({"role": "owner"})),
    );
    api.get(list, &stranger)
        .await
        .expect_problem(403, "forbidden");
}

/// Sends a form body exactly as given, with `Basic` credentials.
async fn raw_form(api: &TestApi, who: (&str, &str), content_type: &str, body: Vec<u8>) -> Reply {
    let reply = api
        .http
        .post(format!("{}/oauth/token", api.gateway.url()))
        .basic_auth(who.0, Some(who.1))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("send");
    Reply {
        status: reply.status().as_u16(),
        headers: reply.headers().clone(),
        text: reply.text().await.unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_or_malformed_token_requests_are_refused() {
    let api = TestApi::dynamodb().await;
    let who = api.integration("acme", &["products:read"]).await;
    let basic = (who.id.as_str(), who.secret.as_str());
    let form = "application/x-www-form-urlencoded";
    let grant = b"grant_type=client_credentials".to_vec();
    raw_form(&api, basic, form, grant.clone()).await.expect(200);

    let in_body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        who.id, who.secret
    );
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "grant_type twice",
            form,
            b"grant_type=client_credentials&grant_type=client_credentials".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "scope twice",
            form,
            b"grant_type=client_credentials&scope=products:read&scope=products:read".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "client_id twice",
            form,
            format!("{in_body}&client_id={}", who.id).into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "Basic and body credentials",
            form,
            in_body.clone().into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "invalid UTF-8",
            form,
            b"grant_type=client_credentials&scope=\xff\xfe".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "percent-encoded invalid UTF-8",
            form,
            b"grant_type=client_credentials&scope=%ff%fe".to_vec(),
            400,
            "invalid_scope",
        ),
        (
            "JSON instead of a form",
            "application/json",
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
            400,
            "invalid_request",
        ),
        (
            "a NUL in the grant",
            form,
            b"grant_type=client_credentials%00".to_vec(),
            400,
            "unsupported_grant_type",
        ),
    ];
    for (what, content_type, body, status, error) in cases {
        let reply = raw_form(&api, basic, content_type, body).await;
        assert_eq!(
            (reply.status, reply.json()["error"].as_str()),
            (status, Some(error)),
            "{what}: {}",
            reply.text
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
    }
    // A form far beyond any real token request is refused before it is parsed.
    let mut long = grant.clone();
    long.extend(b"&scope=");
    long.extend(vec![b'a'; 100 * 1024]);
    let reply = raw_form(&api, basic, form, long).await;
    assert_eq!(
        (reply.status, reply.json()["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // And the honest request still works: none of the above counted as a failed login.
    raw_form(&api, basic, form, grant).await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_headers_and_paths_are_not_reflected() {
    let api = TestApi::memory().await;
    let token = api.admin("acme");
    let id = api.create_in("acme").await;
    let cases = [
        (
            "/v1/tenants/acme%0d%0aSet-Cookie:%20a=b/credentials".to_owned(),
            400,
        ),
        (
            format!("/v1/tenants/acme/credentials/{id}%0d%0aSet-Cookie:%20a=b"),
            404,
        ),
        ("/v1/tenants/acme/credentials/%ff%fe".to_owned(), 404),
        ("/v1/tenants/%ff/credentials".to_owned(), 400),
    ];
    for (path, status) in &cases {
        let reply = api.get(path, &token).await;
        assert_eq!(reply.status, *status, "{path}: {}", reply.text);
        assert!(reply.header("set-cookie").is_none(), "{path}");
        assert!(!reply.text.contains("Set-Cookie"), "{path}: {}", reply.text);
    }
    // If-Match is compared strongly (RFC 9110 §13.1.1): a list without the current version, a
    // weak tag or a number too long for a version all leave the credential alone.
    let suspend = format!("/v1/tenants/acme/credentials/{id}/suspend");
    for (if_match, status) in [
        ("\"7\", \"8\"".to_owned(), 412),
        ("W/\"1\"".to_owned(), 400),
        (format!("\"{}\"", "9".repeat(4000)), 400),
    ] {
        let reply = api
            .send(
                Method::POST,
                &suspend,
                Some(&token),
                Some(json!({})),
                &[("if-match", &if_match)],
            )
            .await;
        assert_eq!(
            reply.status,
            status,
            "If-Match {}: {}",
            &if_match[..if_match.len().min(12)],
            reply.text
        );
    }
    // Raw bytes no HTTP client would send: a bare CR or a NUL in a header value. The server
    // refuses the request and keeps serving.
    let address = api.gateway.url().trim_start_matches("http://").to_owned();
    for header in ["X-Note: a\rSet-Cookie: a=b", "X-Note: a\0b"] {
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connect");
        let request = format!(
            "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n{header}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
            "{header:?}: {answer}"
        );
        assert!(!answer.contains("Set-Cookie"), "{header:?}: {answer}");
    }
    // Shown once, read back unchanged: the credential is as created.
    let shown = api
        .get(&format!("/v1/tenants/acme/credentials/{id}"), &token)
        .await
        .expect(200)
        .json();
    assert_eq!(shown["version"], 1);
}
