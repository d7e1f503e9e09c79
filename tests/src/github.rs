//! A stand-in for GitHub's secret scanning: a P-256 key pair whose public half is given to
//! Clavis as GitHub's key set, and reports signed with it as GitHub signs them (base64 of an
//! ASN.1 DER ECDSA P-256 SHA-256 signature over the raw body).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub struct GithubScanner {
    pair: EcdsaKeyPair,
    pub key_identifier: String,
}

impl GithubScanner {
    pub fn new(key_identifier: &str) -> Self {
        Self {
            pair: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                .expect("a P-256 key pair"),
            key_identifier: key_identifier.to_owned(),
        }
    }

    /// GitHub's key set document listing this scanner's key.
    pub fn key_set(&self) -> String {
        let der = self.pair.public_key().as_der().expect("a DER public key");
        let pem = pem::encode(&pem::Pem::new("PUBLIC KEY", der.as_ref().to_vec()));
        json!({"public_keys": [
            {"key_identifier": self.key_identifier, "key": pem, "is_current": true}
        ]})
        .to_string()
    }

    pub fn sign(&self, body: &[u8]) -> String {
        let signature = self
            .pair
            .sign(&SystemRandom::new(), body)
            .expect("a signature");
        STANDARD.encode(signature.as_ref())
    }

    /// A report body of `tokens`, each found in a public repository.
    pub fn report(tokens: &[&str]) -> Vec<u8> {
        let entries: Vec<Value> = tokens
            .iter()
            .enumerate()
            .map(|(i, token)| {
                json!({
                    "token": token,
                    "type": "clavis_client_secret",
                    "url": format!("https://github.com/octo/leaky/blob/main/config-{i}.env"),
                    "source": "content",
                })
            })
            .collect();
        serde_json::to_vec(&entries).expect("JSON")
    }
}
