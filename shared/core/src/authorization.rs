//! The one reader of the `Authorization` header, for the token endpoints, the request
//! authorizer and the local gateway alike: the scheme in any case (RFC 9110 §11.1), Basic's
//! halves form-urlencoded before they were joined (RFC 6749 §2.3.1).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// What an `Authorization` header presents. Its `Debug` shows neither token nor secret.
#[derive(PartialEq, Eq)]
pub enum Authorization<'a> {
    Bearer(&'a str),
    Basic { client_id: String, secret: String },
}

/// Why a header is not one of the two schemes, well formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedAuthorization {
    #[error("the Authorization header is neither Bearer nor Basic, or is empty")]
    Scheme,
    #[error("the Basic credentials are not base64 of client_id:client_secret")]
    Basic,
}

impl std::fmt::Debug for Authorization<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("Bearer(…)"),
            Self::Basic { client_id, .. } => f
                .debug_struct("Basic")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

impl<'a> Authorization<'a> {
    pub fn parse(header: &'a str) -> Result<Self, MalformedAuthorization> {
        let (scheme, value) = header
            .trim()
            .split_once(' ')
            .ok_or(MalformedAuthorization::Scheme)?;
        let value = value.trim();
        if value.is_empty() {
            return Err(MalformedAuthorization::Scheme);
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            return Ok(Self::Bearer(value));
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(MalformedAuthorization::Scheme);
        }
        let decoded = STANDARD
            .decode(value)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(MalformedAuthorization::Basic)?;
        let (client_id, secret) = decoded
            .split_once(':')
            .ok_or(MalformedAuthorization::Basic)?;
        Ok(Self::Basic {
            client_id: form_unescape(client_id),
            secret: form_unescape(secret),
        })
    }

    /// The bearer token, if this is one.
    pub fn bearer(header: &'a str) -> Option<&'a str> {
        match Self::parse(header) {
            Ok(Self::Bearer(token)) => Some(token),
            _ => None,
        }
    }
}

fn form_unescape(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(pair: &str) -> String {
        format!("Basic {}", STANDARD.encode(pair))
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            assert_eq!(
                Authorization::parse(&format!("{scheme} abc.def.ghi")),
                Ok(Authorization::Bearer("abc.def.ghi"))
            );
        }
        for scheme in ["Basic", "basic", "BASIC"] {
            let header = basic("cid_1:csk_x").replacen("Basic", scheme, 1);
            assert_eq!(
                Authorization::parse(&header),
                Ok(Authorization::Basic {
                    client_id: "cid_1".into(),
                    secret: "csk_x".into()
                })
            );
        }
    }

    #[test]
    fn basic_halves_are_form_unescaped() {
        assert_eq!(
            Authorization::parse(&basic("cid%5F1:a%3Ab")),
            Ok(Authorization::Basic {
                client_id: "cid_1".into(),
                secret: "a:b".into()
            })
        );
    }

    #[test]
    fn anything_else_is_malformed() {
        for (header, why) in [
            ("", MalformedAuthorization::Scheme),
            ("Bearer", MalformedAuthorization::Scheme),
            ("Bearer   ", MalformedAuthorization::Scheme),
            ("Digest abc", MalformedAuthorization::Scheme),
            ("Basic !!!", MalformedAuthorization::Basic),
            ("Basic bm9jb2xvbg==", MalformedAuthorization::Basic),
        ] {
            assert_eq!(Authorization::parse(header), Err(why), "{header:?}");
        }
    }

    #[test]
    fn debug_shows_no_token_or_secret() {
        let bearer = format!("{:?}", Authorization::parse("Bearer s3cr3t").unwrap());
        let basic = format!(
            "{:?}",
            Authorization::parse(&basic("cid_1:s3cr3t")).unwrap()
        );
        assert!(!bearer.contains("s3cr3t") && !basic.contains("s3cr3t"));
        assert!(basic.contains("cid_1"));
    }
}
