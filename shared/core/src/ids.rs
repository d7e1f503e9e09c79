//! Identifiers. Each parses from untrusted text exactly once, at the edge; past that point the
//! type says the value is well formed, so storage keys built from it cannot be malformed.

use std::fmt;
use std::sync::Mutex;

use rand::distr::{Distribution, Uniform};
use serde::{Deserialize, Serialize};

const CLIENT_ID_PREFIX: &str = "cid_";
const CLIENT_ID_RANDOM_LEN: usize = 26;
/// RFC 4648 base32, lower-cased: unambiguous when read aloud and safe in URLs and keys.
const BASE32_LOWER: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The public, permanent identifier of a credential: `cid_` and 26 random base32 characters
/// (130 bits), so IDs cannot be guessed or enumerated.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

/// `prefix` and `len` random base32 characters.
fn random_id(prefix: &str, len: usize) -> String {
    let alphabet = Uniform::new(0, BASE32_LOWER.len()).expect("non-empty alphabet");
    let mut rng = crate::random::os_rng();
    let random: String = alphabet
        .sample_iter(&mut rng)
        .take(len)
        .map(|i| char::from(BASE32_LOWER[i]))
        .collect();
    format!("{prefix}{random}")
}

fn is_random_id(text: &str, prefix: &str, len: usize) -> bool {
    text.strip_prefix(prefix).is_some_and(|random| {
        random.len() == len && random.bytes().all(|b| BASE32_LOWER.contains(&b))
    })
}

impl ClientId {
    pub fn generate() -> Self {
        Self(random_id(CLIENT_ID_PREFIX, CLIENT_ID_RANDOM_LEN))
    }

    pub fn parse(text: &str) -> Option<Self> {
        is_random_id(text, CLIENT_ID_PREFIX, CLIENT_ID_RANDOM_LEN).then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const WEBHOOK_ID_PREFIX: &str = "wh_";

/// A tenant's webhook endpoint: `wh_` and 26 random base32 characters, unguessable like a
/// client ID.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookId(String);

impl WebhookId {
    pub fn generate() -> Self {
        Self(random_id(WEBHOOK_ID_PREFIX, CLIENT_ID_RANDOM_LEN))
    }

    pub fn parse(text: &str) -> Option<Self> {
        is_random_id(text, WEBHOOK_ID_PREFIX, CLIENT_ID_RANDOM_LEN).then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant (the platform's "business"): letters, digits, `-`, `_` and `.`, 1 to 64 characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(text: &str) -> Option<Self> {
        let well_formed = (1..=Self::MAX_LEN).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        well_formed.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An audit event's identifier: a ULID, so identifiers made in one millisecond still sort in
/// the order they were made by one process.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(String);

impl EventId {
    /// Monotonic within the process: two events of one request, made in the same millisecond,
    /// still sort in the order they happened.
    pub fn generate() -> Self {
        static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());
        let next = GENERATOR
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .generate()
            // Only 2^80 identifiers in one millisecond exhaust it; a random one is then fine.
            .unwrap_or_else(|_| ulid::Ulid::generate());
        Self(next.to_string())
    }

    pub fn parse(text: &str) -> Option<Self> {
        ulid::Ulid::from_string(text)
            .ok()
            .map(|u| Self(u.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_id_impls {
    ($($ty:ident: $what:literal),* $(,)?) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self.0)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> {
                Self::parse(&text).ok_or_else(|| format!("not a valid {}", $what))
            }
        }

        impl From<$ty> for String {
            fn from(id: $ty) -> String {
                id.0
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    )*};
}

string_id_impls!(
    ClientId: "client ID",
    TenantId: "tenant",
    EventId: "event ID",
    WebhookId: "webhook ID",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_client_ids_parse_and_differ() {
        let a = ClientId::generate();
        let b = ClientId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 30);
        assert_eq!(ClientId::parse(a.as_str()), Some(a));
    }

    #[test]
    fn client_id_rejects_wrong_shapes() {
        for bad in [
            "",
            "cid_",
            "cid_ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "cid_abcdefghijklmnopqrstuvwxy",
            "cid_abcdefghijklmnopqrstuvwxyz2",
            "key_abcdefghijklmnopqrstuvwxyz",
            "cid_abcdefghijklmnopqrstuvwx01",
        ] {
            assert_eq!(ClientId::parse(bad), None, "{bad}");
        }
        assert!(ClientId::parse("cid_abcdefghijklmnopqrstuvwxyz").is_some());
    }

    #[test]
    fn tenant_ids_are_key_safe() {
        assert!(TenantId::parse("acme").is_some());
        assert!(TenantId::parse("Acme-Corp_2.eu").is_some());
        for bad in ["", "a#b", "a/b", "a b", "ünï", &"x".repeat(65)] {
            assert_eq!(TenantId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn event_ids_made_in_a_row_sort_in_order() {
        let ids: Vec<EventId> = (0..1000).map(|_| EventId::generate()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn event_ids_are_ulids() {
        let id = EventId::generate();
        assert_eq!(EventId::parse(id.as_str()), Some(id));
        assert_eq!(EventId::parse("nope"), None);
    }
}
