//! `clavis dev-token`: a management token for the local gateway, signed with the development
//! key `make run` keeps in its data directory, exactly as `clavis-local dev-token` signs it.
//!
//! The issuer, audience and key file are those of `clavis_local::idp`; they are repeated here
//! rather than imported because that crate brings the whole server and the AWS SDK with it. The
//! CLI's tests check that the gateway accepts what this prints.

use std::path::Path;

use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::args::DevTokenArgs;
use crate::error::CliError;

const ISSUER: &str = "https://idp.clavis.local";
const AUDIENCE: &str = "clavis-management";
const KEY_FILE: &str = "dev-idp-key.pem";

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'static str,
    aud: &'static str,
    iat: i64,
    exp: i64,
    sub: &'a str,
    role: &'a str,
    tenant: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    advises: &'a [String],
}

pub fn mint(args: &DevTokenArgs, tenant: Option<&str>) -> Result<String, CliError> {
    if args.hours < 1 {
        return Err(CliError::config(
            format!("--hours {} is not a lifetime", args.hours),
            Some("Give a whole number of hours, 1 or more.".to_owned()),
        ));
    }
    let key_path = args.data_dir.join(KEY_FILE);
    let key = signing_key(&key_path)?;
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".to_owned());
    // The gateway picks the key by `kid`: the key's RFC 7638 thumbprint, as the server names it.
    header.kid = Some(
        Jwk::from_encoding_key(&key, Algorithm::RS256)
            .and_then(|jwk| jwk.thumbprint(ThumbprintHash::SHA256))
            .map_err(|e| unusable_key(&key_path, &e.to_string()))?,
    );
    let now = chrono::Utc::now().timestamp();
    let advises: Vec<String> = args
        .advises
        .iter()
        .filter(|a| !a.is_empty())
        .cloned()
        .collect();
    let claims = Claims {
        iss: ISSUER,
        aud: AUDIENCE,
        iat: now,
        exp: now.saturating_add(args.hours.saturating_mul(3600)),
        sub: &args.subject,
        role: &args.role,
        tenant: tenant.unwrap_or("demo"),
        advises: &advises,
    };
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| unusable_key(&key_path, &e.to_string()))
}

fn signing_key(path: &Path) -> Result<EncodingKey, CliError> {
    let pem = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CliError::config(
                format!("no development key at {}", path.display()),
                Some(
                    "Start the local gateway once with `make run` (it creates the key), from the repository root, or point --data-dir / CLAVIS_DATA_DIR at its data directory."
                        .to_owned(),
                ),
            )
        } else {
            CliError::file("read the development key", path, e)
        }
    })?;
    EncodingKey::from_rsa_pem(&pem).map_err(|e| unusable_key(path, &e.to_string()))
}

fn unusable_key(path: &Path, why: &str) -> CliError {
    CliError::config(
        format!(
            "{} is not a usable RS256 development key: {why}",
            path.display()
        ),
        Some(
            "Remove it and start `make run` again to create a new one (tokens printed before then stop working)."
                .to_owned(),
        ),
    )
}
