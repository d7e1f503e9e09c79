//! The single-table key scheme and the opaque pagination cursor. Both adapters order and page
//! by the same sort keys, so a cursor means the same position in either.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::audit::AuditEvent;
use crate::credential::Credential;
use crate::idempotency::KeyDigest;
use crate::ids::{ClientId, EventId, TenantId, WebhookId};
use crate::leak::SecretFingerprint;
use crate::source::SourceAddress;
use crate::store::StoreError;
use crate::time::{Timestamp, key_format, parse_rfc3339};
use crate::webhook::delivery::Delivery;

pub const CREDENTIAL_SK: &str = "CRED";
pub const DENIED_TOKEN_SK: &str = "JTI";
const CREDENTIAL_LISTING_PREFIX: &str = "CRED#";
const AUDIT_PREFIX: &str = "AUDIT#";
const USAGE_PREFIX: &str = "USAGE#";

const CREDENTIAL_PK_PREFIX: &str = "CRED#";

pub fn credential_pk(client_id: &ClientId) -> String {
    format!("{CREDENTIAL_PK_PREFIX}{client_id}")
}

/// The client ID of a credential's partition key (`CRED#<client_id>`), if it is one.
pub fn client_id_of_pk(pk: &str) -> Option<ClientId> {
    pk.strip_prefix(CREDENTIAL_PK_PREFIX)
        .and_then(ClientId::parse)
}

const TENANT_PK_PREFIX: &str = "TENANT#";

pub fn tenant_pk(tenant: &TenantId) -> String {
    format!("{TENANT_PK_PREFIX}{tenant}")
}

const USAGE_DAY_PREFIX: &str = "DAY#";

/// A credential's counts on one UTC day, in its own partition: `DAY#yyyy-mm-dd`.
pub fn usage_day_sk(day: chrono::NaiveDate) -> String {
    format!("{USAGE_DAY_PREFIX}{}", day.format("%Y-%m-%d"))
}

/// The same day in its tenant's index (GSI1): `DAY#yyyy-mm-dd#<client_id>`, so that a range
/// of days reads every credential's in one query.
pub fn usage_day_listing_key(day: chrono::NaiveDate, client_id: &ClientId) -> String {
    format!("{}#{client_id}", usage_day_sk(day))
}

/// The last possible listing key of `day` in a tenant's index: after every client ID.
pub fn usage_day_listing_end(day: chrono::NaiveDate) -> String {
    format!("{}#~", usage_day_sk(day))
}

/// A tenant's webhook endpoint, in the tenant's partition: `WEBHOOK#<id>`.
pub fn webhook_sk(id: &WebhookId) -> String {
    format!("{WEBHOOK_PREFIX}{id}")
}

pub const fn webhook_prefix() -> &'static str {
    WEBHOOK_PREFIX
}

const WEBHOOK_PREFIX: &str = "WEBHOOK#";

/// The count of a tenant's endpoints, beside them, which keeps the limit under concurrency.
pub const WEBHOOK_COUNT_SK: &str = "WEBHOOKS";

/// A webhook's deliveries, in a partition of their own: `WEBHOOK#<id>`.
pub fn delivery_pk(webhook: &WebhookId) -> String {
    format!("{WEBHOOK_PREFIX}{webhook}")
}

/// A delivery, by its event's time and id: `DELIVERY#<event time>#<event id>`, newest last.
pub fn delivery_sk(event_at: Timestamp, event_id: &EventId) -> String {
    format!("{DELIVERY_PREFIX}{}#{event_id}", key_format(event_at))
}

pub const fn delivery_prefix() -> &'static str {
    DELIVERY_PREFIX
}

const DELIVERY_PREFIX: &str = "DELIVERY#";

/// The marker of an event recorded once per owner and marker (a quota threshold's month).
pub fn once_sk(marker: &str) -> String {
    format!("ONCE#{marker}")
}

/// How many items each of a credential's usage counts (its month's and each day's) is split
/// over. Each instance that counts uses writes to one shard of its own choosing, so that a
/// credential served by many instances at once spreads its writes over this many items (and
/// partitions) instead of one; reads sum the shards. Eight keep the hottest item near 125
/// writes a second at 1,000 instances flushing once a second (`make simulate`).
pub const USAGE_SHARDS: u8 = 8;

/// One of the [`USAGE_SHARDS`] items a usage count is split over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageShard(u8);

impl UsageShard {
    /// Shard 0 is where counts were kept before they were split: what was counted then is
    /// read with the rest.
    pub const FIRST: Self = Self(0);

    pub fn new(index: u8) -> Option<Self> {
        (index < USAGE_SHARDS).then_some(Self(index))
    }

    /// A shard drawn at random: an instance's own.
    pub fn random() -> Self {
        Self(crate::random::bytes::<1>()[0] % USAGE_SHARDS)
    }

    pub fn all() -> impl Iterator<Item = Self> {
        (0..USAGE_SHARDS).map(Self)
    }

    pub fn index(self) -> u8 {
        self.0
    }
}

/// The partition a shard of a credential's usage counts is under: the credential's own for
/// shard 0, one of its own for each other.
pub fn usage_pk(client_id: &ClientId, shard: UsageShard) -> String {
    match shard.0 {
        0 => credential_pk(client_id),
        n => format!("USAGE#{client_id}#{n}"),
    }
}

/// The partition of the tenant's index (GSI1) a shard's day counts are listed under: the
/// tenant's own for shard 0, one of its own for each other, so that a busy tenant's day counts
/// do not all land on one index partition either.
pub fn usage_day_index_pk(tenant: &TenantId, shard: UsageShard) -> String {
    match shard.0 {
        0 => tenant_pk(tenant),
        n => format!("TENANT#{tenant}#USAGE#{n}"),
    }
}

/// The lookup item of an issued secret: `LEAK#<fingerprint>`, [`SECRET_LOOKUP_SK`].
pub fn secret_lookup_pk(fingerprint: &SecretFingerprint) -> String {
    format!("LEAK#{}", fingerprint.as_str())
}

pub const SECRET_LOOKUP_SK: &str = "LEAK";

/// The marker under a credential that its secret's leak was recorded: one per secret.
pub fn leak_marker(fingerprint: &SecretFingerprint) -> String {
    format!("leak#{}", fingerprint.as_str())
}

/// A tenant's policy: `TENANT#<tenant>`, `POLICY`.
pub const POLICY_SK: &str = "POLICY";

/// The partition an audit event is stored in: its credential's, or its tenant's for an event
/// about the tenant itself.
pub fn event_pk(tenant: &TenantId, client_id: Option<&ClientId>) -> String {
    match client_id {
        Some(client_id) => credential_pk(client_id),
        None => tenant_pk(tenant),
    }
}

/// Whose an audit event's partition is: `Some(Some(id))` a credential's, `Some(None)` a
/// tenant's; `None` for a key that is neither.
pub fn event_owner_of_pk(pk: &str) -> Option<Option<ClientId>> {
    if pk.starts_with(TENANT_PK_PREFIX) {
        return Some(None);
    }
    client_id_of_pk(pk).map(Some)
}

pub fn denied_token_pk(jti: &str) -> String {
    format!("JTI#{jti}")
}

/// A request made with an idempotency key: per tenant and key digest.
pub fn idempotency_pk(tenant: &TenantId, key: &KeyDigest) -> String {
    format!("IDEM#{tenant}#{}", key.as_str())
}

pub const IDEMPOTENCY_SK: &str = "IDEM";

/// Failures of one client ID from one source address.
pub fn throttle_pk(client_id: &ClientId, source: &SourceAddress) -> String {
    format!("THROTTLE#{client_id}#{source}")
}

/// Failures from one source address across client IDs.
pub fn source_throttle_pk(source: &SourceAddress) -> String {
    format!("THROTTLE_SOURCE#{source}")
}

pub fn failure_window_sk(window_start: Timestamp) -> String {
    format!("WINDOW#{}", key_format(window_start))
}

/// GSI1 sort key of a credential: creation time, then client ID to break ties.
pub fn credential_listing_key(credential: &Credential) -> String {
    format!(
        "{CREDENTIAL_LISTING_PREFIX}{}#{}",
        key_format(credential.created_at),
        credential.client_id
    )
}

/// Sort key of an audit event, both in its credential's partition and in GSI1.
pub fn audit_key(event: &AuditEvent) -> String {
    format!("{AUDIT_PREFIX}{}#{}", key_format(event.at), event.id)
}

pub const fn audit_prefix() -> &'static str {
    AUDIT_PREFIX
}

pub const fn credential_listing_prefix() -> &'static str {
    CREDENTIAL_LISTING_PREFIX
}

/// GSI2 partition: the hour in which the sweeper next has work for the credential.
pub fn sweep_bucket(due: Timestamp) -> String {
    format!("EXPIRES#{}", due.format("%Y-%m-%dT%H"))
}

/// GSI2 sort key: the due time, then the client ID to break ties.
pub fn sweep_sort_key(due: Timestamp, client_id: &ClientId) -> String {
    format!("{}#{client_id}", key_format(due))
}

/// The greatest sort key due at or before `until` (`~` sorts after every client ID character).
pub fn sweep_sort_key_until(until: Timestamp) -> String {
    format!("{}#~", key_format(until))
}

pub const SWEEP_CHECKPOINT_PK: &str = "SWEEP";
pub const SWEEP_CHECKPOINT_SK: &str = "CHECKPOINT";

/// A billing month, `yyyy-mm` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UsageMonth {
    year: i32,
    month: u32,
}

impl UsageMonth {
    pub fn of(at: Timestamp) -> Self {
        use chrono::Datelike;
        Self {
            year: at.year(),
            month: at.month(),
        }
    }

    pub fn sort_key(self) -> String {
        format!("{USAGE_PREFIX}{self}")
    }
}

impl std::fmt::Display for UsageMonth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Where the next page starts: the sort key of the last item handed out, and the client ID
/// that completes its primary key (`None`: an event about the tenant, in the tenant's
/// partition). Opaque to callers (base64url JSON) and checked on the way back in, so a forged
/// cursor is a 400 and never reaches the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub sort_key: String,
    pub client_id: Option<ClientId>,
}

#[derive(Serialize, Deserialize)]
struct CursorWire {
    k: String,
    c: String,
}

/// Which listing a cursor belongs to; a cursor of one is refused by the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Credentials,
    Audit,
    Deliveries,
}

impl Cursor {
    pub fn for_credential(credential: &Credential) -> Self {
        Self {
            sort_key: credential_listing_key(credential),
            client_id: Some(credential.client_id.clone()),
        }
    }

    pub fn for_event(event: &AuditEvent) -> Self {
        Self {
            sort_key: audit_key(event),
            client_id: event.client_id.clone(),
        }
    }

    pub fn for_delivery(delivery: &Delivery) -> Self {
        Self {
            sort_key: delivery_sk(delivery.event_at, &delivery.event_id),
            client_id: None,
        }
    }

    pub fn encode(&self) -> String {
        let wire = CursorWire {
            k: self.sort_key.clone(),
            c: self
                .client_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        };
        // Serialising two strings cannot fail.
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a cursor a caller sent back. Only structure is checked here; which listing it
    /// belongs to is checked by the listing, with [`Cursor::check`].
    pub fn decode(token: &str) -> Result<Self, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| StoreError::InvalidCursor)?;
        let wire: CursorWire =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        let client_id = match wire.c.as_str() {
            "" => None,
            id => Some(ClientId::parse(id).ok_or(StoreError::InvalidCursor)?),
        };
        Ok(Self {
            sort_key: wire.k,
            client_id,
        })
    }

    /// Accepts the cursor only if its sort key is one this listing could have produced.
    pub fn check(&self, listing: Listing) -> Result<&Self, StoreError> {
        let prefix = match listing {
            Listing::Credentials => CREDENTIAL_LISTING_PREFIX,
            Listing::Audit => AUDIT_PREFIX,
            Listing::Deliveries => DELIVERY_PREFIX,
        };
        let rest = self
            .sort_key
            .strip_prefix(prefix)
            .ok_or(StoreError::InvalidCursor)?;
        let (time, id) = rest.split_once('#').ok_or(StoreError::InvalidCursor)?;
        let time_ok = parse_rfc3339(time).is_some_and(|t| key_format(t) == time);
        let id_ok = match listing {
            Listing::Credentials => self.client_id.as_ref().is_some_and(|c| id == c.as_str()),
            Listing::Audit | Listing::Deliveries => {
                EventId::parse(id).is_some_and(|e| e.as_str() == id)
            }
        };
        if time_ok && id_ok {
            Ok(self)
        } else {
            Err(StoreError::InvalidCursor)
        }
    }
}

/// Builds a page from up to `limit + 1` matching items in listing order: the extra item, if
/// any, only proves there is a next page, which starts after the last item handed out.
pub fn page_from<T>(
    mut items: Vec<T>,
    limit: usize,
    cursor_of: impl Fn(&T) -> Cursor,
) -> super::Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor_of)
    } else {
        None
    };
    super::Page { items, next_cursor }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(k: &str) -> Cursor {
        Cursor {
            sort_key: k.to_owned(),
            client_id: ClientId::parse("cid_abcdefghijklmnopqrstuvwxyz"),
        }
    }

    #[test]
    fn a_cursor_after_a_tenant_event_names_no_credential() {
        let c = Cursor {
            sort_key: "AUDIT#2026-01-01T00:00:00Z#01JZ0000000000000000000000".to_owned(),
            client_id: None,
        };
        let back = Cursor::decode(&c.encode()).unwrap();
        assert_eq!(back, c);
        assert!(back.check(Listing::Audit).is_ok());
        let listing = Cursor {
            sort_key: "CRED#2026-01-01T00:00:00Z#cid_abcdefghijklmnopqrstuvwxyz".to_owned(),
            client_id: None,
        };
        assert!(listing.check(Listing::Credentials).is_err());
    }

    #[test]
    fn cursors_round_trip_and_check_their_listing() {
        let c = cursor("CRED#2026-01-01T00:00:00Z#cid_abcdefghijklmnopqrstuvwxyz");
        let back = Cursor::decode(&c.encode()).unwrap();
        assert_eq!(back, c);
        assert!(back.check(Listing::Credentials).is_ok());
        assert!(back.check(Listing::Audit).is_err());
    }

    #[test]
    fn forged_cursors_are_refused() {
        for token in [
            "",
            "!!!",
            "e30",
            &URL_SAFE_NO_PAD.encode(b"{\"k\":\"x\",\"c\":\"nope\"}"),
        ] {
            assert!(
                matches!(Cursor::decode(token), Err(StoreError::InvalidCursor)),
                "{token}"
            );
        }
        for k in [
            "CRED#",
            "CRED#2026-01-01T00:00:00Z#cid_zzzzzzzzzzzzzzzzzzzzzzzzzz",
            "CRED#yesterday#cid_abcdefghijklmnopqrstuvwxyz",
            "TENANT#other",
        ] {
            assert!(cursor(k).check(Listing::Credentials).is_err(), "{k}");
        }
        assert!(
            cursor("AUDIT#2026-01-01T00:00:00Z#notaulid")
                .check(Listing::Audit)
                .is_err()
        );
    }

    #[test]
    fn usage_months_are_zero_padded() {
        let at = parse_rfc3339("2026-03-31T23:59:59Z").unwrap();
        assert_eq!(UsageMonth::of(at).sort_key(), "USAGE#2026-03");
    }
}
