//! Leaked secrets (DESIGN: "Leaked secrets"): what leads from a found secret to its credential
//! without a scan or argon2 (its fingerprint), and GitHub's secret scanning partner contract
//! (a report signed with one of GitHub's ECDSA P-256 keys, and the feedback it expects). The
//! lookup items, the endpoints and the tenant policy's action build on these.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::ids::{ClientId, TenantId};
use crate::secret::ClientSecret;
use crate::time::Timestamp;

/// GitHub sends at most this many tokens in one report; a longer one is refused whole.
pub const MAX_REPORTED_TOKENS: usize = 1000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a whole secret string, in hex: what a lookup item is keyed by. A 256-bit random
/// secret cannot be recovered from it, and it is the `token_hash` GitHub's feedback names.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretFingerprint(String);

impl SecretFingerprint {
    pub fn of(secret: &ClientSecret) -> Self {
        Self::of_text(secret.expose())
    }

    /// The fingerprint of any reported string, secret-shaped or not (GitHub's `token_hash`).
    pub fn of_text(text: &str) -> Self {
        Self(hex(digest(&SHA256, text.as_bytes()).as_ref()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| Self(text.to_owned()))
    }
}

impl fmt::Debug for SecretFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretFingerprint({}…)", &self.0[..12.min(self.0.len())])
    }
}

/// GitHub's signing keys, as `GET /meta/public_keys/secret_scanning` lists them.
pub struct GithubKeys(HashMap<String, Vec<u8>>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySetError {
    #[error(
        "not GitHub's key set JSON ({{\"public_keys\": [{{\"key_identifier\", \"key\"}}]}}): {0}"
    )]
    Shape(String),
    #[error("the key {0} is not a PEM public key")]
    Key(String),
}

#[derive(Deserialize)]
struct KeySetDocument {
    public_keys: Vec<KeyDocument>,
}

#[derive(Deserialize)]
struct KeyDocument {
    key_identifier: String,
    key: String,
}

/// Why a report is not taken: not GitHub's (answered 401), or not checkable at this moment
/// (503, for GitHub to send again). Either way nothing happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureRefusal {
    #[error("the report is not signed")]
    Missing,
    #[error("the report names a key GitHub does not list")]
    UnknownKey,
    #[error("the report's signature does not verify")]
    Invalid,
    /// The report names a key not held, and GitHub's key set cannot be fetched again yet (it
    /// was fetched a moment ago, or GitHub did not answer).
    #[error("GitHub's signing keys cannot be checked at this moment; send the report again later")]
    KeysUnavailable,
}

impl GithubKeys {
    pub fn parse(json: &str) -> Result<Self, KeySetError> {
        let document: KeySetDocument =
            serde_json::from_str(json).map_err(|e| KeySetError::Shape(e.to_string()))?;
        let mut keys = HashMap::new();
        for key in document.public_keys {
            let parsed = pem::parse(key.key.trim())
                .ok()
                .filter(|p| p.tag() == "PUBLIC KEY")
                .ok_or_else(|| KeySetError::Key(key.key_identifier.clone()))?;
            keys.insert(key.key_identifier, parsed.into_contents());
        }
        Ok(Self(keys))
    }

    /// Checks `Github-Public-Key-Signature` (base64 of an ASN.1 DER ECDSA P-256 SHA-256
    /// signature) over the raw body, by the key `Github-Public-Key-Identifier` names.
    pub fn verify(
        &self,
        key_identifier: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), SignatureRefusal> {
        let (Some(key_identifier), Some(signature)) = (key_identifier, signature) else {
            return Err(SignatureRefusal::Missing);
        };
        let key = self
            .0
            .get(key_identifier)
            .ok_or(SignatureRefusal::UnknownKey)?;
        let signature = STANDARD
            .decode(signature.trim())
            .map_err(|_| SignatureRefusal::Invalid)?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key)
            .verify(body, &signature)
            .map_err(|_| SignatureRefusal::Invalid)
    }
}

/// Where GitHub's keys come from: a key set given to the deployment, or GitHub's published
/// one, fetched and cached.
#[async_trait::async_trait]
pub trait GithubKeySource: Send + Sync {
    /// The keys to check a report with; `None` while none could be had.
    async fn keys(&self) -> Option<Arc<GithubKeys>>;

    /// The keys fetched again, for a report naming a key not among them (GitHub rotates its
    /// keys); `None` when the source may not fetch again yet or the fetch failed.
    async fn refetched(&self) -> Option<Arc<GithubKeys>>;
}

/// A key set given once: nothing to refresh.
pub struct FixedGithubKeys(pub Arc<GithubKeys>);

#[async_trait::async_trait]
impl GithubKeySource for FixedGithubKeys {
    async fn keys(&self) -> Option<Arc<GithubKeys>> {
        Some(Arc::clone(&self.0))
    }

    async fn refetched(&self) -> Option<Arc<GithubKeys>> {
        Some(Arc::clone(&self.0))
    }
}

impl GithubKeys {
    /// No keys: every report is refused as signed by an unknown key.
    pub fn none() -> Self {
        Self(HashMap::new())
    }
}

/// Checks a report against `source`, fetching the keys again once when it names a key not
/// held (or none are held yet).
pub async fn verify_report(
    source: &dyn GithubKeySource,
    key_identifier: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureRefusal> {
    // What no key could verify is refused before anything is fetched for it.
    let Some(encoded) = signature.filter(|_| key_identifier.is_some()) else {
        return Err(SignatureRefusal::Missing);
    };
    if STANDARD.decode(encoded.trim()).is_err() {
        return Err(SignatureRefusal::Invalid);
    }
    let verify = |keys: Arc<GithubKeys>| keys.verify(key_identifier, signature, body);
    match source.keys().await.map(verify) {
        None | Some(Err(SignatureRefusal::UnknownKey)) => source
            .refetched()
            .await
            .map_or(Err(SignatureRefusal::KeysUnavailable), verify),
        Some(checked) => checked,
    }
}

/// One token of a report. `Debug` leaves the token out: it may be a live secret.
#[derive(Clone, Deserialize)]
pub struct ReportedToken {
    pub token: String,
    #[serde(rename = "type")]
    pub token_type: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

impl fmt::Debug for ReportedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportedToken")
            .field("token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("url", &self.url)
            .field("source", &self.source)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("the report is not a JSON array of {{\"token\", \"type\", \"url\", \"source\"}}")]
    Shape,
    #[error("a report holds at most {MAX_REPORTED_TOKENS} tokens")]
    TooMany,
}

/// The tokens of a report's raw body.
pub fn parse_report(body: &[u8]) -> Result<Vec<ReportedToken>, ReportError> {
    let tokens: Vec<ReportedToken> =
        serde_json::from_slice(body).map_err(|_| ReportError::Shape)?;
    if tokens.len() > MAX_REPORTED_TOKENS {
        return Err(ReportError::TooMany);
    }
    Ok(tokens)
}

/// GitHub's feedback label for one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// A secret Clavis issued, current or not.
    TruePositive,
    FalsePositive,
}

/// One entry of the answer: `{"token_hash", "token_type", "label"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feedback {
    pub token_hash: SecretFingerprint,
    pub token_type: String,
    pub label: Label,
}

/// Who found a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeakSource {
    /// GitHub's secret scanning, through its partner program.
    Github,
    /// One of the tenant's people, who pasted it.
    Admin,
}

impl LeakSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LeakSource::Github => "github",
            LeakSource::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [LeakSource::Github, LeakSource::Admin]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// What a leak report did to its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeakOutcome {
    Revoked,
    Suspended,
    /// Only the event: the tenant's policy says notify, the secret is no longer accepted, or
    /// the credential was already suspended.
    None,
}

impl LeakOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LeakOutcome::Revoked => "revoked",
            LeakOutcome::Suspended => "suspended",
            LeakOutcome::None => "none",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            LeakOutcome::Revoked,
            LeakOutcome::Suspended,
            LeakOutcome::None,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A secret Clavis issued, as its lookup item remembers it: enough to find its credential and
/// to tell whether it is still the one the credential accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedSecret {
    pub fingerprint: SecretFingerprint,
    pub client_id: ClientId,
    pub tenant: TenantId,
    pub secret_version: u32,
    pub issued_at: Timestamp,
}

/// Where a leaked secret was seen: an `http(s)` URL of at most [`MAX_CHARS`](Self::MAX_CHARS),
/// as GitHub reports it or an admin gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SourceUrl(String);

impl SourceUrl {
    pub const MAX_CHARS: usize = 2048;

    /// The URL as the `url` crate serialises it (what is stored and shown), if it is http(s),
    /// not too long, and holds no secret: neither as written nor once percent-decoded with
    /// blanks and control characters dropped, so that a secret split by a tab or `%09` is
    /// still seen.
    pub fn parse(text: &str) -> Option<Self> {
        let parsed = url::Url::parse(text).ok()?;
        let normalised = parsed.as_str();
        let decoded: String = percent_encoding::percent_decode_str(normalised)
            .decode_utf8_lossy()
            .chars()
            .filter(|c| !c.is_control() && !c.is_whitespace())
            .collect();
        let holds_secret = [text, normalised, decoded.as_str()]
            .iter()
            .any(|form| crate::secret::looks_like_secret(form));
        (normalised.chars().count() <= Self::MAX_CHARS
            && matches!(parsed.scheme(), "http" | "https")
            && parsed.host().is_some()
            && !holds_secret)
            .then(|| Self(normalised.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A report of one secret, found by `source` at `url`.
#[derive(Debug, Clone)]
pub struct LeakReport {
    pub source: LeakSource,
    pub url: Option<SourceUrl>,
}

/// What a reported string can be before any lookup: a well-formed secret (its checksum holds)
/// to look up by fingerprint, or a false positive answered without touching the store.
pub fn candidate(token: &str) -> Option<ClientSecret> {
    ClientSecret::parse(token).ok().map(|(secret, _)| secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::Environment;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    /// A key pair standing in for GitHub's, and its key set document.
    fn github() -> (EcdsaKeyPair, String) {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let der = pair.public_key().as_der().unwrap();
        let pem = pem::encode(&pem::Pem::new("PUBLIC KEY", der.as_ref().to_vec()));
        let set = serde_json::json!({"public_keys": [
            {"key_identifier": "test-key", "key": pem, "is_current": true}
        ]});
        (pair, set.to_string())
    }

    fn sign(pair: &EcdsaKeyPair, body: &[u8]) -> String {
        STANDARD.encode(pair.sign(&SystemRandom::new(), body).unwrap().as_ref())
    }

    #[test]
    fn a_report_verifies_only_with_its_signature_over_the_raw_body_by_a_listed_key() {
        let (pair, set) = github();
        let keys = GithubKeys::parse(&set).unwrap();
        let body = br#"[{"token":"x","type":"clavis_secret","url":"https://github.com/a/b","source":"content"}]"#;
        let signature = sign(&pair, body);
        assert_eq!(
            keys.verify(Some("test-key"), Some(&signature), body),
            Ok(())
        );
        let tampered = br#"[{"token":"y","type":"clavis_secret","url":"https://github.com/a/b","source":"content"}]"#;
        assert_eq!(
            keys.verify(Some("test-key"), Some(&signature), tampered),
            Err(SignatureRefusal::Invalid)
        );
        assert_eq!(
            keys.verify(Some("other-key"), Some(&signature), body),
            Err(SignatureRefusal::UnknownKey)
        );
        assert_eq!(
            keys.verify(None, Some(&signature), body),
            Err(SignatureRefusal::Missing)
        );
        assert_eq!(
            keys.verify(Some("test-key"), None, body),
            Err(SignatureRefusal::Missing)
        );
        assert_eq!(
            keys.verify(Some("test-key"), Some("not base64!"), body),
            Err(SignatureRefusal::Invalid)
        );
        let (stranger, _) = github();
        assert_eq!(
            keys.verify(Some("test-key"), Some(&sign(&stranger, body)), body),
            Err(SignatureRefusal::Invalid),
            "a key GitHub does not hold"
        );
    }

    #[test]
    fn key_sets_are_parsed_or_refused_by_what_is_wrong() {
        assert!(matches!(
            GithubKeys::parse("{}"),
            Err(KeySetError::Shape(_))
        ));
        let bad = r#"{"public_keys": [{"key_identifier": "k", "key": "not pem"}]}"#;
        assert_eq!(
            GithubKeys::parse(bad).err(),
            Some(KeySetError::Key("k".into()))
        );
    }

    #[test]
    fn fingerprints_are_sha256_hex_and_only_secrets_are_candidates() {
        let secret = ClientSecret::generate(Environment::Live);
        let fingerprint = SecretFingerprint::of(&secret);
        assert_eq!(fingerprint.as_str().len(), 64);
        assert_eq!(
            SecretFingerprint::parse(fingerprint.as_str()),
            Some(fingerprint.clone())
        );
        assert_eq!(
            SecretFingerprint::of_text("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!format!("{fingerprint:?}").contains(fingerprint.as_str()));
        let reported = parse_report(
            format!(r#"[{{"token": "{}", "type": "t"}}]"#, secret.expose()).as_bytes(),
        )
        .expect("a report");
        assert!(!format!("{reported:?}").contains(secret.expose()));
        assert!(candidate(secret.expose()).is_some());
        let mut broken = secret.expose().to_owned();
        let last = broken.pop();
        broken.push(if last == Some('x') { 'y' } else { 'x' });
        assert!(
            candidate(&broken).is_none(),
            "a failed checksum is a false positive"
        );
        assert!(candidate("ghp_notours").is_none());
    }

    #[test]
    fn a_source_url_is_stored_normalised_and_never_holds_a_secret_however_it_is_split() {
        let secret = ClientSecret::generate(Environment::Live);
        let text = secret.expose();
        let (head, tail) = text.split_at(20);
        assert_eq!(
            SourceUrl::parse("https://gist.example/u/1#L3").map(|u| u.as_str().to_owned()),
            Some("https://gist.example/u/1#L3".to_owned())
        );
        for hidden in [
            format!("https://paste.example/?k={text}"),
            format!("https://paste.example/{head}\t{tail}"),
            format!("https://paste.example/{head}\n{tail}"),
            format!("https://paste.example/{head}%09{tail}"),
            format!("https://paste.example/{head}%20{tail}"),
            format!("https://paste.example/?k={head}%0A{tail}"),
        ] {
            assert_eq!(SourceUrl::parse(&hidden), None, "{hidden}");
        }
        assert_eq!(SourceUrl::parse("ftp://paste.example/1"), None);
        assert_eq!(
            SourceUrl::parse(&format!("https://a.example/{}", "x".repeat(2048))),
            None
        );
    }

    #[test]
    fn reports_are_arrays_of_at_most_a_thousand_tokens() {
        let one = br#"[{"token":"t","type":"clavis_secret","url":"u","source":"content"}]"#;
        assert_eq!(parse_report(one).unwrap()[0].token_type, "clavis_secret");
        assert_eq!(parse_report(b"{}").err(), Some(ReportError::Shape));
        let many = serde_json::to_vec(&vec![
            serde_json::json!({"token": "t", "type": "x"});
            MAX_REPORTED_TOKENS + 1
        ])
        .unwrap();
        assert_eq!(parse_report(&many).err(), Some(ReportError::TooMany));
    }
}
