use super::*;
use clavis_core::token::keys::SigningKey;

#[test]
fn table_name_is_required() {
    let err = StoreSettings::from_env(&Env::default().with("AWS_REGION", "eu-west-1")).unwrap_err();
    assert_eq!(err.variable, "TABLE_NAME");
    assert!(err.to_string().contains("TABLE_NAME is required"));
}

#[test]
fn region_is_required_in_aws_but_defaulted_locally() {
    let err = StoreSettings::from_env(&Env::default().with("TABLE_NAME", "t")).unwrap_err();
    assert_eq!(err.variable, "AWS_REGION");
    let local = StoreSettings::from_env(
        &Env::default()
            .with("TABLE_NAME", "t")
            .with("DYNAMODB_ENDPOINT", "http://127.0.0.1:1"),
    )
    .unwrap();
    assert_eq!(local.region, "us-east-1");
}

#[test]
fn malformed_numbers_name_their_variable() {
    let env = Env::default()
        .with("TABLE_NAME", "t")
        .with("AWS_REGION", "eu-west-1")
        .with("AUDIT_RETENTION_DAYS", "a year");
    assert_eq!(
        StoreSettings::from_env(&env).unwrap_err().variable,
        "AUDIT_RETENTION_DAYS"
    );
    let env = env.with("AUDIT_RETENTION_DAYS", "0");
    assert_eq!(
        StoreSettings::from_env(&env).unwrap_err().variable,
        "AUDIT_RETENTION_DAYS"
    );
    let env = env.with("AUDIT_RETENTION_DAYS", "30");
    let settings = StoreSettings::from_env(&env).unwrap();
    assert_eq!(settings.retention.audit_events, Duration::days(30));
}

fn token_env() -> Env {
    let (_, pem) = SigningKey::generate(KeyAlgorithm::EdDsa).unwrap();
    Env::default()
        .with("TOKEN_ISSUER", "https://api.example.com/")
        .with("TOKEN_AUDIENCE", "clavis-api")
        .with("SIGNING_ALGORITHM", "EdDSA")
        .with("SIGNING_KEY_PEM", pem)
}

#[tokio::test]
async fn token_settings_load_pem_keys() {
    let settings = TokenSettings::from_env(&token_env()).unwrap();
    assert_eq!(settings.issuer, "https://api.example.com");
    assert!(
        !format!("{settings:?}").contains("PRIVATE KEY"),
        "keys never print"
    );
    let tokens = settings.tokens("eu-west-1").await.unwrap();
    assert_eq!(tokens.public_keys().jwks().keys.len(), 1);
    assert!(tokens.signing_key().is_some());
}

#[tokio::test]
async fn token_settings_name_what_is_wrong() {
    let missing = |variable: &str| {
        let mut env = token_env();
        env.0.remove(variable);
        TokenSettings::from_env(&env).unwrap_err().variable
    };
    assert_eq!(missing("TOKEN_ISSUER"), "TOKEN_ISSUER");
    assert_eq!(missing("TOKEN_AUDIENCE"), "TOKEN_AUDIENCE");
    assert_eq!(missing("SIGNING_KEY_PEM"), "SIGNING_KEYS_SECRET_ID");
    let bad = |variable: &str, value: &str| {
        TokenSettings::from_env(&token_env().with(variable, value))
            .unwrap_err()
            .variable
    };
    assert_eq!(bad("TOKEN_ISSUER", "api.example.com"), "TOKEN_ISSUER");
    assert_eq!(bad("SIGNING_ALGORITHM", "HS256"), "SIGNING_ALGORITHM");
    assert_eq!(bad("SIGNING_KEYS_SECRET_ID", "arn:x"), "SIGNING_KEY_PEM");
    assert_eq!(
        bad("TOKEN_FAILURE_LIMIT", "0"),
        "TOKEN_FAILURE_LIMIT/TOKEN_FAILURE_WINDOW_SECONDS"
    );
    assert_eq!(bad("USAGE_FLUSH_SECONDS", "0"), "USAGE_FLUSH_SECONDS");
    assert_eq!(bad("USAGE_FLUSH_SECONDS", "301"), "USAGE_FLUSH_SECONDS");
    assert_eq!(bad("USAGE_FLUSH_SECONDS", "soon"), "USAGE_FLUSH_SECONDS");
    let garbled = TokenSettings::from_env(
        &token_env().with("SIGNING_KEY_PEM", "-----BEGIN PRIVATE KEY-----"),
    )
    .unwrap();
    assert_eq!(
        garbled.tokens("eu-west-1").await.unwrap_err().variable,
        "SIGNING_KEY_PEM"
    );
}

#[test]
fn argon2_cost_is_configurable_and_checked() {
    assert!(secret_hasher(&Env::default()).is_ok());
    assert!(secret_hasher(&Env::default().with("ARGON2_MEMORY_KIB", "1")).is_err());
    assert!(secret_hasher(&Env::default().with("ARGON2_ITERATIONS", "many")).is_err());
}

#[test]
fn a_bad_scope_catalogue_stops_the_cold_start_naming_the_variable() {
    let error = scope_catalogue(&Env::default().with("SCOPE_CATALOGUE", "[{]")).unwrap_err();
    assert!(error.to_string().contains("SCOPE_CATALOGUE"), "{error}");
    assert_eq!(
        scope_catalogue(&Env::default()).unwrap(),
        ScopeCatalogue::default()
    );
}
