//! Leaked secrets: the lookup item of each issued secret (`LEAK#<fingerprint>`, written with
//! the create or rotation that issues it) and the record of a report, once per secret.

use std::collections::HashSet;

use super::*;
use clavis_core::leak::{IssuedSecret, SecretFingerprint};
use clavis_core::lifecycle::LeakRecord;
use clavis_core::store::keys::{
    SECRET_LOOKUP_SK, event_pk, leak_marker, once_sk, secret_lookup_pk,
};
use clavis_core::store::{LeakWriter, SecretLookup};

pub(super) const ENTITY_SECRET_LOOKUP: &str = "secret_lookup";

/// The lookup item: which credential, tenant and secret version a fingerprint belongs to.
/// It holds no secret and no hash; the fingerprint of a 256-bit random secret gives nothing
/// back.
#[derive(Debug, Serialize, Deserialize)]
struct SecretLookupItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    fingerprint: String,
    client_id: String,
    tenant: String,
    secret_version: u32,
    issued_at: String,
    ttl: i64,
}

impl SecretLookupItem {
    fn from_issued(issued: &IssuedSecret, retention: &Retention) -> Self {
        Self {
            pk: secret_lookup_pk(&issued.fingerprint),
            sk: SECRET_LOOKUP_SK.to_owned(),
            entity: ENTITY_SECRET_LOOKUP.to_owned(),
            fingerprint: issued.fingerprint.as_str().to_owned(),
            client_id: issued.client_id.to_string(),
            tenant: issued.tenant.to_string(),
            secret_version: issued.secret_version,
            issued_at: key_format(issued.issued_at),
            ttl: epoch(issued.issued_at + retention.secret_fingerprints),
        }
    }

    fn into_issued(self) -> Result<IssuedSecret, StoreError> {
        Ok(IssuedSecret {
            fingerprint: SecretFingerprint::parse(&self.fingerprint)
                .ok_or_else(|| corrupt("fingerprint", &self.fingerprint))?,
            client_id: ClientId::parse(&self.client_id)
                .ok_or_else(|| corrupt("client_id", &self.client_id))?,
            tenant: TenantId::parse(&self.tenant).ok_or_else(|| corrupt("tenant", &self.tenant))?,
            secret_version: self.secret_version,
            issued_at: stored_time("issued_at", &self.issued_at)?,
        })
    }
}

impl DynamoStore {
    /// The lookup item of the secret `change` issues, if it issues one with a fingerprint.
    pub(super) fn secret_lookup_put(
        &self,
        change: &Transition,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        let Some(issued) = change.issued_secret() else {
            return Ok(None);
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&SecretLookupItem::from_issued(
                &issued,
                &self.retention,
            ))?))
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Some(TransactWriteItem::builder().put(put).build()))
    }

    /// The marker that `event` was recorded under `marker` for its owner, kept as long as the
    /// event; written only if absent.
    pub(super) fn once_put(
        &self,
        marker: &str,
        event: &AuditEvent,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = key(
            event_pk(&event.tenant, event.client_id.as_ref()),
            once_sk(marker),
        );
        item.insert("entity".into(), s(ENTITY_ONCE));
        item.insert(
            TABLE.ttl_attribute.into(),
            n(epoch(self.retention.audit_expires_at(event))),
        );
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

#[async_trait]
impl SecretLookup for DynamoStore {
    async fn issued_secrets(
        &self,
        fingerprints: &[SecretFingerprint],
    ) -> Result<Vec<IssuedSecret>, StoreError> {
        // Strongly consistent: a secret issued a moment ago is found.
        let keys = fingerprints
            .iter()
            .map(|f| key(secret_lookup_pk(f), SECRET_LOOKUP_SK))
            .collect();
        self.batch_get_all(keys, true)
            .await?
            .into_iter()
            .map(|item| from_item::<SecretLookupItem>(item)?.into_issued())
            .collect()
    }

    async fn recorded_leaks(
        &self,
        secrets: &[IssuedSecret],
    ) -> Result<HashSet<SecretFingerprint>, StoreError> {
        // The marker's key names its secret: the answer is matched back by key, not by content.
        let by_key: HashMap<(String, String), &SecretFingerprint> = secrets
            .iter()
            .map(|issued| {
                (
                    (
                        event_pk(&issued.tenant, Some(&issued.client_id)),
                        once_sk(&leak_marker(&issued.fingerprint)),
                    ),
                    &issued.fingerprint,
                )
            })
            .collect();
        let keys = by_key.keys().map(|(pk, sk)| key(pk.clone(), sk)).collect();
        let mut recorded = HashSet::new();
        for item in self.batch_get_all(keys, true).await? {
            let (Some(pk), Some(sk)) = (string_attr(&item, "PK"), string_attr(&item, "SK")) else {
                return Err(StoreError::Corrupt("a leak marker without its key".into()));
            };
            if let Some(fingerprint) = by_key.get(&(pk.to_owned(), sk.to_owned())) {
                recorded.insert((*fingerprint).clone());
            }
        }
        Ok(recorded)
    }
}

#[async_trait]
impl LeakWriter for DynamoStore {
    async fn record_leak(&self, leak: &LeakRecord) -> Result<bool, StoreError> {
        let mut items = vec![(
            TransactItem::Once,
            self.once_put(&leak_marker(&leak.fingerprint), &leak.event)?,
        )];
        if let Some((expected_version, change)) = leak.transition() {
            items.push((
                TransactItem::Change,
                self.lifecycle_update_of(expected_version, &change)?,
            ));
        }
        items.push((TransactItem::Event, self.audit_put(&leak.event)?));
        if let Some(action) = &leak.action_event {
            items.push((TransactItem::Event, self.audit_put(action)?));
        }
        match self
            .transact_items(items, leak.event.id.as_str(), StoreError::Conflict)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::AlreadyExists) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
