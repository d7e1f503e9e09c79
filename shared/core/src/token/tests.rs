use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::keys::{KeyAlgorithm, SigningKey};
use super::*;
use crate::testing;
use crate::time::parse_rfc3339;

fn now() -> Timestamp {
    parse_rfc3339("2026-06-01T12:00:00Z").unwrap()
}

fn credential() -> Credential {
    testing::created(&["products:read", "stock:write"], None, now()).credential
}

fn tokens(algorithm: KeyAlgorithm) -> Tokens {
    let key = SigningKey::generate(algorithm).unwrap().0;
    Tokens::new(
        KeySet::new(key, None).unwrap(),
        "https://auth.example",
        "clavis-api",
    )
}

#[test]
fn issued_tokens_carry_the_rfc_9068_claims() {
    let tokens = tokens(KeyAlgorithm::Rs256);
    let c = credential();
    let issued = tokens.issue(&c, &c.scopes, now()).unwrap();
    assert_eq!(issued.expires_in, 3600);
    let header = jsonwebtoken::decode_header(&issued.access_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(
        header.kid.as_deref(),
        Some(tokens.public_keys().current().kid())
    );
    let claims = tokens.verify(&issued.access_token, now()).unwrap();
    assert_eq!(claims.sub, c.client_id.as_str());
    assert_eq!(claims.client_id, c.client_id.as_str());
    assert_eq!(claims.scope, "products:read stock:write");
    assert_eq!(claims.tenant, "acme");
    assert_eq!(claims.secret_version, 1);
    assert_eq!(
        (claims.iat, claims.exp),
        (now().timestamp(), now().timestamp() + 3600)
    );
    assert_eq!(claims.jti.len(), 26);
}

#[test]
fn a_verifier_holds_the_public_keys_only_and_issues_nothing() {
    let issuer = tokens(KeyAlgorithm::Rs256);
    let c = credential();
    let issued = issuer.issue(&c, &c.scopes, now()).unwrap();
    assert_eq!(issued.claims.environment.as_deref(), Some("live"));
    assert_eq!(issued.claims.token_generation, c.token_generation);
    // As a verifying function loads them: the JWKS the issuer publishes, nothing more.
    let published: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(serde_json::to_value(issuer.public_keys().jwks()).unwrap()).unwrap();
    let verifier = Tokens::verifying(
        PublicKeys::from_jwks(&published).unwrap(),
        "https://auth.example",
        "clavis-api",
    );
    assert!(verifier.signing_key().is_none());
    assert_eq!(
        verifier.verify(&issued.access_token, now()).unwrap(),
        issued.claims
    );
    assert_eq!(
        verifier.issue(&c, &c.scopes, now()).unwrap_err(),
        IssueError::NoSigningKey
    );
    assert!(issuer.verifying_only().signing_key().is_none());
}

#[test]
fn every_algorithm_round_trips() {
    for algorithm in [
        KeyAlgorithm::Rs256,
        KeyAlgorithm::Es256,
        KeyAlgorithm::EdDsa,
    ] {
        let tokens = tokens(algorithm);
        let c = credential();
        let issued = tokens.issue(&c, &c.scopes, now()).unwrap();
        assert!(
            tokens.verify(&issued.access_token, now()).is_ok(),
            "{algorithm:?}"
        );
    }
}

#[test]
fn tokens_expire_after_an_hour_and_not_before() {
    let tokens = tokens(KeyAlgorithm::EdDsa);
    let c = credential();
    let token = tokens.issue(&c, &c.scopes, now()).unwrap().access_token;
    assert!(
        tokens
            .verify(&token, now() + Duration::seconds(3599))
            .is_ok()
    );
    assert_eq!(
        tokens.verify(&token, now() + Duration::hours(1)),
        Err(TokenRejected::Expired)
    );
    assert_eq!(
        tokens.verify(&token, now() - Duration::minutes(5)),
        Err(TokenRejected::IssuedInFuture)
    );
}

#[test]
fn a_token_is_not_accepted_before_its_nbf() {
    let tokens = tokens(KeyAlgorithm::Rs256);
    let c = credential();
    let mut claims = tokens.issue(&c, &c.scopes, now()).unwrap().claims;
    claims.nbf = Some((now() + Duration::minutes(10)).timestamp());
    let early = tokens
        .signing_key()
        .unwrap()
        .sign(ACCESS_TOKEN_TYPE, &claims)
        .unwrap();
    assert_eq!(
        tokens.verify(&early, now()),
        Err(TokenRejected::NotYetValid)
    );
    assert!(tokens.verify(&early, now() + Duration::minutes(10)).is_ok());
}

#[test]
fn a_rotated_out_key_still_verifies_tokens_in_flight() {
    let old = SigningKey::generate(KeyAlgorithm::Rs256).unwrap().0;
    let new = SigningKey::generate(KeyAlgorithm::Rs256).unwrap().0;
    let before = Tokens::new(
        KeySet::new(old.clone(), None).unwrap(),
        "https://auth.example",
        "clavis-api",
    );
    let after = Tokens::new(
        KeySet::new(new.clone(), Some(old)).unwrap(),
        "https://auth.example",
        "clavis-api",
    );
    let c = credential();
    let in_flight = before.issue(&c, &c.scopes, now()).unwrap().access_token;
    assert!(after.verify(&in_flight, now()).is_ok());
    assert_eq!(after.public_keys().jwks().keys.len(), 2);
    let dropped = Tokens::new(
        KeySet::new(new, None).unwrap(),
        "https://auth.example",
        "clavis-api",
    );
    assert_eq!(
        dropped.verify(&in_flight, now()),
        Err(TokenRejected::UnknownKey)
    );
}

#[test]
fn tokens_for_another_issuer_or_audience_are_refused() {
    let key = SigningKey::generate(KeyAlgorithm::EdDsa).unwrap().0;
    let ours = Tokens::new(
        KeySet::new(key.clone(), None).unwrap(),
        "https://auth.example",
        "clavis-api",
    );
    let c = credential();
    for (issuer, audience) in [
        ("https://evil.example", "clavis-api"),
        ("https://auth.example", "other-api"),
    ] {
        let theirs = Tokens::new(KeySet::new(key.clone(), None).unwrap(), issuer, audience);
        let token = theirs.issue(&c, &c.scopes, now()).unwrap().access_token;
        assert_eq!(
            ours.verify(&token, now()),
            Err(TokenRejected::Invalid),
            "{issuer} {audience}"
        );
    }
}

fn forge(header: &serde_json::Value, claims: &AccessTokenClaims, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(serde_json::to_string(claims).unwrap()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

#[test]
fn classic_jwt_attacks_fail() {
    let tokens = tokens(KeyAlgorithm::Rs256);
    let c = credential();
    let claims = tokens.issue(&c, &c.scopes, now()).unwrap().claims;
    let kid = tokens.public_keys().current().kid().to_owned();
    // alg: none.
    let none = forge(
        &serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
        &claims,
        b"",
    );
    assert!(tokens.verify(&none, now()).is_err());
    // HS256 keyed with the public key, which anyone can fetch from the JWKS.
    let public = serde_json::to_vec(tokens.public_keys().current().public_jwk()).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.clone());
    let confused =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&public)).unwrap();
    assert_eq!(tokens.verify(&confused, now()), Err(TokenRejected::Invalid));
    // A key of someone else's under our key ID.
    let mallory = SigningKey::generate(KeyAlgorithm::Rs256).unwrap().0;
    let stolen = mallory.sign(ACCESS_TOKEN_TYPE, &claims).unwrap();
    assert_eq!(
        tokens.verify(&stolen, now()),
        Err(TokenRejected::UnknownKey)
    );
    let mut parts: Vec<String> = stolen.split('.').map(str::to_owned).collect();
    parts[0] = URL_SAFE_NO_PAD
        .encode(serde_json::json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}).to_string());
    assert_eq!(
        tokens.verify(&parts.join("."), now()),
        Err(TokenRejected::Invalid)
    );
    // An ID token or any JWT that is not an access token.
    let id_token = tokens.signing_key().unwrap().sign("JWT", &claims).unwrap();
    assert_eq!(
        tokens.verify(&id_token, now()),
        Err(TokenRejected::WrongType)
    );
    // Tampered claims.
    let genuine = tokens.issue(&c, &c.scopes, now()).unwrap().access_token;
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    let mut widened = claims.clone();
    widened.scope = "admin:everything".into();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_string(&widened).unwrap());
    assert_eq!(
        tokens.verify(&parts.join("."), now()),
        Err(TokenRejected::Invalid)
    );
    for garbage in ["", "a.b.c", "not a token", "..."] {
        assert!(tokens.verify(garbage, now()).is_err());
    }
}
