//! The table's items as types, and the attribute helpers every part uses.

use super::*;
use clavis_core::credential::LeakNotice;
use clavis_core::leak::{LeakOutcome, LeakSource, SecretFingerprint};

pub(super) const ENTITY_CREDENTIAL: &str = "credential";
pub(super) const ENTITY_AUDIT: &str = "audit";
pub(super) const ENTITY_USAGE: &str = "usage";
pub(super) const ENTITY_DENIED_TOKEN: &str = "denied_token";
pub(super) const ENTITY_FAILURES: &str = "auth_failures";
pub(super) const ENTITY_SWEEP_CHECKPOINT: &str = "sweep_checkpoint";
pub(super) const ENTITY_IDEMPOTENCY: &str = "idempotency";
pub(super) const ENTITY_POLICY: &str = "policy";
pub(super) const ENTITY_USAGE_DAY: &str = "usage_day";
pub(super) const ENTITY_WEBHOOK: &str = "webhook";
pub(super) const ENTITY_DELIVERY: &str = "delivery";
pub(super) const ENTITY_ONCE: &str = "once";

/// The keys of an item listed in its tenant's index (GSI1): the item's own, and the index's.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct TenantIndexed {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CredentialItem {
    #[serde(flatten)]
    keys: TenantIndexed,
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    entity: String,
    client_id: String,
    tenant: String,
    name: String,
    description: String,
    scopes: Vec<String>,
    environment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monthly_request_quota: Option<u64>,
    created_at: String,
    created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry_set_at: Option<String>,
    secret_hash: String,
    /// Absent for secrets issued before fingerprints were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_fingerprint: Option<String>,
    secret_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_rotated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous_secret_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous_secret_valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suspended_at: Option<String>,
    /// Absent on items written before token generations existed: generation 0.
    #[serde(default)]
    token_generation: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocation_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry_recorded_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry_notice_recorded_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    leak_reported_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    leak_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    leak_action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    leak_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used_from: Option<String>,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

/// Attributes a lifecycle write never sets: the key, and what the token endpoint maintains.
pub(super) const NOT_WRITTEN_BY_LIFECYCLE: [&str; 4] =
    ["PK", "SK", "last_used_at", "last_used_from"];
/// Attributes a lifecycle write removes when the new state has no value for them.
pub(super) const OPTIONAL_ATTRIBUTES: [&str; 20] = [
    "GSI2PK",
    "monthly_request_quota",
    "GSI2SK",
    "expires_at",
    "expiry_set_at",
    "secret_rotated_at",
    "previous_secret_hash",
    "previous_secret_valid_until",
    "suspended_at",
    "revoked_at",
    "revoked_by",
    "revocation_reason",
    "expiry_recorded_at",
    "expiry_notice_recorded_at",
    "secret_fingerprint",
    "leak_reported_at",
    "leak_source",
    "leak_action",
    "leak_url",
    "ttl",
];

pub(super) fn epoch(at: Timestamp) -> i64 {
    at.timestamp()
}

pub(super) fn corrupt(field: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "{field} has an unreadable value ({} bytes)",
        value.len()
    ))
}

pub(super) fn stored_time(field: &str, value: &str) -> Result<Timestamp, StoreError> {
    parse_rfc3339(value).ok_or_else(|| corrupt(field, value))
}

pub(super) fn stored_time_opt(
    field: &str,
    value: Option<&String>,
) -> Result<Option<Timestamp>, StoreError> {
    value.map(|v| stored_time(field, v)).transpose()
}

impl CredentialItem {
    /// `sweep_at`: where the credential sits in the sweep index (GSI2), if anywhere.
    pub(super) fn from_credential(
        credential: &Credential,
        retention: &Retention,
        sweep_at: Option<Timestamp>,
    ) -> Self {
        let due = sweep_at;
        let revocation = credential.revocation.as_ref();
        let previous = credential.secret.previous.as_ref();
        let leak = credential.leak.as_ref();
        Self {
            keys: TenantIndexed {
                pk: credential_pk(&credential.client_id),
                sk: CREDENTIAL_SK.to_owned(),
                gsi1pk: tenant_pk(&credential.tenant),
                gsi1sk: credential_listing_key(credential),
            },
            gsi2pk: due.map(sweep_bucket),
            gsi2sk: due.map(|d| sweep_sort_key(d, &credential.client_id)),
            entity: ENTITY_CREDENTIAL.to_owned(),
            client_id: credential.client_id.to_string(),
            tenant: credential.tenant.to_string(),
            name: credential.name.to_string(),
            description: credential.description.to_string(),
            scopes: credential.scopes.to_strings(),
            environment: credential.environment.as_str().to_owned(),
            monthly_request_quota: credential.monthly_request_quota.map(RequestQuota::get),
            created_at: key_format(credential.created_at),
            created_by: credential.created_by.clone(),
            expires_at: credential.expires_at.map(key_format),
            expiry_set_at: credential.expiry_set_at.map(key_format),
            secret_hash: credential.secret.hash.as_phc().to_owned(),
            secret_fingerprint: credential
                .secret
                .fingerprint
                .as_ref()
                .map(|f| f.as_str().to_owned()),
            secret_version: credential.secret.version,
            secret_rotated_at: credential.secret.rotated_at.map(key_format),
            previous_secret_hash: previous.map(|p| p.hash.as_phc().to_owned()),
            previous_secret_valid_until: previous.map(|p| key_format(p.valid_until)),
            suspended_at: credential.suspended_at.map(key_format),
            token_generation: credential.token_generation,
            revoked_at: revocation.map(|r| key_format(r.at)),
            revoked_by: revocation.map(|r| r.by.clone()),
            revocation_reason: revocation.and_then(|r| r.reason.as_ref().map(Reason::to_string)),
            expiry_recorded_at: credential.expiry_recorded_at.map(key_format),
            expiry_notice_recorded_at: credential.expiry_notice_recorded_at.map(key_format),
            leak_reported_at: leak.map(|l| key_format(l.reported_at)),
            leak_source: leak.map(|l| l.source.as_str().to_owned()),
            leak_action: leak.map(|l| l.action.as_str().to_owned()),
            leak_url: leak.and_then(|l| l.url.clone()),
            last_used_at: credential.last_used_at.map(key_format),
            last_used_from: credential
                .last_used_from
                .as_ref()
                .map(|from| from.as_str().to_owned()),
            version: credential.version,
            ttl: retention.credential_expires_at(credential).map(epoch),
        }
    }

    pub(super) fn into_credential(self) -> Result<Credential, StoreError> {
        if self.entity != ENTITY_CREDENTIAL {
            return Err(StoreError::Corrupt(format!(
                "expected a credential, found {}",
                self.entity
            )));
        }
        let client_id = ClientId::parse(&self.client_id)
            .ok_or_else(|| corrupt("client_id", &self.client_id))?;
        let tenant =
            TenantId::parse(&self.tenant).ok_or_else(|| corrupt("tenant", &self.tenant))?;
        // Stored text passed validation when it was written; a failure here means the item was
        // edited by hand, and is reported rather than served.
        let name = Name::parse(&self.name).map_err(|_| corrupt("name", &self.name))?;
        let description = Description::parse(&self.description)
            .map_err(|_| corrupt("description", &self.description))?;
        let scopes =
            Scopes::parse(&self.scopes).map_err(|_| corrupt("scopes", &self.scopes.join(" ")))?;
        let environment = Environment::parse(&self.environment)
            .ok_or_else(|| corrupt("environment", &self.environment))?;
        let monthly_request_quota = self
            .monthly_request_quota
            .map(|q| {
                RequestQuota::new(q).map_err(|_| corrupt("monthly_request_quota", &q.to_string()))
            })
            .transpose()?;
        let previous = match (self.previous_secret_hash, &self.previous_secret_valid_until) {
            (Some(hash), Some(until)) => Some(PreviousSecret {
                hash: SecretHash::from_phc(hash),
                valid_until: stored_time("previous_secret_valid_until", until)?,
            }),
            (None, None) => None,
            // Half a grace period cannot be honoured either way: report it, as other damage.
            (Some(_), None) => {
                return Err(StoreError::Corrupt(
                    "previous_secret_hash has no previous_secret_valid_until".into(),
                ));
            }
            (None, Some(until)) => return Err(corrupt("previous_secret_valid_until", until)),
        };
        let revocation = match &self.revoked_at {
            Some(at) => Some(Revocation {
                at: stored_time("revoked_at", at)?,
                by: self.revoked_by.unwrap_or_default(),
                reason: self
                    .revocation_reason
                    .as_deref()
                    .map(Reason::parse)
                    .transpose()
                    .map_err(|_| StoreError::Corrupt("revocation_reason is unreadable".into()))?,
            }),
            None => None,
        };
        let leak = match (&self.leak_reported_at, &self.leak_source, &self.leak_action) {
            (Some(at), Some(source), Some(action)) => Some(LeakNotice {
                reported_at: stored_time("leak_reported_at", at)?,
                source: LeakSource::parse(source).ok_or_else(|| corrupt("leak_source", source))?,
                action: LeakOutcome::parse(action).ok_or_else(|| corrupt("leak_action", action))?,
                url: self.leak_url,
            }),
            (None, None, None) => None,
            _ => return Err(StoreError::Corrupt("a leak notice is incomplete".into())),
        };
        let fingerprint = self
            .secret_fingerprint
            .as_deref()
            .map(|f| SecretFingerprint::parse(f).ok_or_else(|| corrupt("secret_fingerprint", f)))
            .transpose()?;
        Ok(Credential {
            client_id,
            tenant,
            name,
            description,
            scopes,
            environment,
            monthly_request_quota,
            created_at: stored_time("created_at", &self.created_at)?,
            created_by: self.created_by,
            expires_at: stored_time_opt("expires_at", self.expires_at.as_ref())?,
            expiry_set_at: stored_time_opt("expiry_set_at", self.expiry_set_at.as_ref())?,
            secret: SecretRecord {
                hash: SecretHash::from_phc(self.secret_hash),
                fingerprint,
                version: self.secret_version,
                rotated_at: stored_time_opt("secret_rotated_at", self.secret_rotated_at.as_ref())?,
                previous,
            },
            suspended_at: stored_time_opt("suspended_at", self.suspended_at.as_ref())?,
            token_generation: self.token_generation,
            revocation,
            expiry_recorded_at: stored_time_opt(
                "expiry_recorded_at",
                self.expiry_recorded_at.as_ref(),
            )?,
            expiry_notice_recorded_at: stored_time_opt(
                "expiry_notice_recorded_at",
                self.expiry_notice_recorded_at.as_ref(),
            )?,
            last_used_at: stored_time_opt("last_used_at", self.last_used_at.as_ref())?,
            last_used_from: self
                .last_used_from
                .as_deref()
                .map(|from| {
                    SourceAddress::parse(from).ok_or_else(|| corrupt("last_used_from", from))
                })
                .transpose()?,
            leak,
            version: self.version,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AuditItem {
    #[serde(flatten)]
    keys: TenantIndexed,
    entity: String,
    #[serde(flatten)]
    pub(super) event: AuditEvent,
    ttl: i64,
}

/// An audit event's `details` when it has none (a suspension, a reactivation) is not stored:
/// DynamoDB Local writes an empty map into its stream in a form the SDK cannot read, which
/// would stop the local event feed at that record.
const DETAILS: &str = "details";

impl AuditItem {
    /// The item an event is stored as.
    pub(super) fn item_of(event: &AuditEvent, retention: &Retention) -> Result<Item, StoreError> {
        let mut item = to_item(&Self::from_event(event, retention))?;
        if matches!(item.get(DETAILS), Some(AttributeValue::M(details)) if details.is_empty()) {
            item.remove(DETAILS);
        }
        Ok(item)
    }

    /// The event an item holds, `details` restored when none was stored.
    pub(super) fn event_of(mut item: Item) -> Result<AuditEvent, StoreError> {
        item.entry(DETAILS.to_owned())
            .or_insert_with(|| AttributeValue::M(HashMap::new()));
        Ok(from_item::<AuditItem>(item)?.event)
    }

    fn from_event(event: &AuditEvent, retention: &Retention) -> Self {
        let key = audit_key(event);
        Self {
            keys: TenantIndexed {
                pk: event_pk(&event.tenant, event.client_id.as_ref()),
                sk: key.clone(),
                gsi1pk: tenant_pk(&event.tenant),
                gsi1sk: key,
            },
            entity: ENTITY_AUDIT.to_owned(),
            event: event.clone(),
            ttl: epoch(retention.audit_expires_at(event)),
        }
    }
}

/// An item's own key, for the items no index lists.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct OwnKey {
    #[serde(rename = "PK")]
    pub(super) pk: String,
    #[serde(rename = "SK")]
    pub(super) sk: String,
}

/// A tenant's policy: the document's rules as attributes, and its version.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PolicyItem {
    #[serde(flatten)]
    key: OwnKey,
    entity: String,
    tenant: String,
    #[serde(flatten)]
    document: PolicyDocument,
    pub(super) version: u64,
    updated_at: String,
    updated_by: String,
}

impl PolicyItem {
    /// `None` for the open policy of a tenant that never set one: there is nothing to store.
    pub(super) fn from_policy(stored: &StoredPolicy) -> Option<Self> {
        Some(Self {
            key: OwnKey {
                pk: tenant_pk(&stored.tenant),
                sk: POLICY_SK.to_owned(),
            },
            entity: ENTITY_POLICY.to_owned(),
            tenant: stored.tenant.to_string(),
            document: stored.policy.document(),
            version: stored.version,
            updated_at: key_format(stored.updated_at?),
            updated_by: stored.updated_by.clone()?,
        })
    }

    pub(super) fn into_policy(self) -> Result<StoredPolicy, StoreError> {
        if self.entity != ENTITY_POLICY {
            return Err(StoreError::Corrupt(format!(
                "expected a policy, found {}",
                self.entity
            )));
        }
        let policy = TenantPolicy::from_document(self.document)
            .map_err(|e| StoreError::Corrupt(format!("a stored policy breaks its rules: {e}")))?;
        Ok(StoredPolicy {
            tenant: TenantId::parse(&self.tenant).ok_or_else(|| corrupt("tenant", &self.tenant))?,
            policy,
            version: self.version,
            updated_at: Some(stored_time("updated_at", &self.updated_at)?),
            updated_by: Some(self.updated_by),
        })
    }
}

/// A request made with an idempotency key. The key is not here, only its digest; the secret
/// is sealed under a key derived from it (see `clavis_core::idempotency`).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct IdempotencyItem {
    #[serde(flatten)]
    key: OwnKey,
    entity: String,
    tenant: String,
    key_digest: String,
    operation: String,
    client_id: String,
    /// Absent from records written before it was kept (they live a day): their version is
    /// the one in the response they hold.
    #[serde(default)]
    version: Option<u64>,
    fingerprint: String,
    /// The response body without the secret, as JSON text.
    response: String,
    #[serde(with = "serde_bytes_base64")]
    sealed_secret: Vec<u8>,
    created_at: String,
    ttl: i64,
}

/// Binary attributes as base64 text: the item stays readable in the console and in scans.
pub(super) mod serde_bytes_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

impl IdempotencyItem {
    pub(super) fn from_record(record: &IdempotencyRecord) -> Self {
        Self {
            key: OwnKey {
                pk: idempotency_pk(&record.tenant, &record.key),
                sk: IDEMPOTENCY_SK.to_owned(),
            },
            entity: ENTITY_IDEMPOTENCY.to_owned(),
            tenant: record.tenant.to_string(),
            key_digest: record.key.as_str().to_owned(),
            operation: record.operation.as_str().to_owned(),
            client_id: record.client_id.to_string(),
            version: Some(record.version),
            fingerprint: record.fingerprint.as_str().to_owned(),
            response: record.response.to_string(),
            sealed_secret: record.sealed_secret.clone(),
            created_at: key_format(record.created_at),
            ttl: epoch(record.expires_at),
        }
    }

    pub(super) fn into_record(self) -> Result<IdempotencyRecord, StoreError> {
        if self.entity != ENTITY_IDEMPOTENCY {
            return Err(StoreError::Corrupt(format!(
                "expected an idempotency record, found {}",
                self.entity
            )));
        }
        let response: serde_json::Value = serde_json::from_str(&self.response)
            .map_err(|_| corrupt("response", &self.response))?;
        let version = self
            .version
            .or_else(|| response["credential"]["version"].as_u64())
            .ok_or_else(|| corrupt("version", "absent"))?;
        Ok(IdempotencyRecord {
            tenant: TenantId::parse(&self.tenant).ok_or_else(|| corrupt("tenant", &self.tenant))?,
            key: KeyDigest::parse(&self.key_digest)
                .ok_or_else(|| corrupt("key_digest", &self.key_digest))?,
            operation: Operation::parse(&self.operation)
                .ok_or_else(|| corrupt("operation", &self.operation))?,
            client_id: ClientId::parse(&self.client_id)
                .ok_or_else(|| corrupt("client_id", &self.client_id))?,
            version,
            fingerprint: Fingerprint::from_stored(&self.fingerprint),
            response,
            sealed_secret: self.sealed_secret,
            created_at: stored_time("created_at", &self.created_at)?,
            expires_at: chrono::DateTime::from_timestamp(self.ttl, 0)
                .ok_or_else(|| corrupt("ttl", &self.ttl.to_string()))?,
        })
    }
}

pub(super) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode item: {e}")))
}

pub(super) fn from_item<'a, T: Deserialize<'a>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode item: {e}")))
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))])
}

/// Item time-to-live as DynamoDB stores it, or `None` when the item has none.
pub(super) fn ttl_of(item: &Item) -> Option<i64> {
    match item.get(TABLE.ttl_attribute) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// DynamoDB deletes expired items up to days late; every read treats them as gone already.
pub(super) fn is_live(item: &Item, now: Timestamp) -> bool {
    ttl_of(item).is_none_or(|ttl| ttl > epoch(now))
}

pub(super) fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// A usage counter's count; anything but a number is corruption, not zero.
pub(super) fn usage_count(item: &Item) -> Result<u64, StoreError> {
    match item.get("request_count") {
        Some(AttributeValue::N(value)) => value
            .parse::<u64>()
            .map_err(|_| corrupt("request_count", value)),
        _ => Err(StoreError::Corrupt(
            "a usage counter has no numeric request_count".into(),
        )),
    }
}

/// A failure counter's count; anything but a number is corruption, not zero.
pub(super) fn failure_count(item: &Item) -> Result<u32, StoreError> {
    match item.get("failures") {
        Some(AttributeValue::N(count)) => count.parse().map_err(|_| corrupt("failures", count)),
        _ => Err(StoreError::Corrupt(
            "a failure counter has no numeric failures".into(),
        )),
    }
}

/// The attribute a day's count of refusals for `reason` is kept in.
pub(super) fn refused_attribute(reason: RefusalReason) -> String {
    format!("refused_{}", reason.as_str())
}

/// A day's counts as stored: `uses` and a `refused_<reason>` per reason counted.
pub(super) fn day_counts_of(item: &Item) -> Result<CountedDay, StoreError> {
    let text = |name: &str| {
        string_attr(item, name)
            .ok_or_else(|| StoreError::Corrupt(format!("a usage day has no {name}")))
    };
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse::<u64>().map_err(|_| corrupt(name, value)),
        _ => Err(StoreError::Corrupt(format!(
            "a usage day has no numeric {name}"
        ))),
    };
    let client_id = text("client_id")?;
    let day = text("day")?;
    let mut counts = DayCounts {
        uses: number("uses")?,
        ..DayCounts::default()
    };
    for reason in RefusalReason::ALL {
        let name = refused_attribute(reason);
        if item.contains_key(&name) {
            let count = number(&name)?;
            if count > 0 {
                counts.refused.insert(reason, count);
            }
        }
    }
    Ok(CountedDay {
        client_id: ClientId::parse(client_id).ok_or_else(|| corrupt("client_id", client_id))?,
        day: NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| corrupt("day", day))?,
        counts,
    })
}
