//! Secret lookups and leak records, in memory.

use std::collections::HashSet;

use async_trait::async_trait;

use super::MemoryStore;
use crate::leak::{IssuedSecret, SecretFingerprint};
use crate::lifecycle::LeakRecord;
use crate::store::keys::{event_pk, leak_marker};
use crate::store::{LeakWriter, SecretLookup, StoreError};

#[async_trait]
impl SecretLookup for MemoryStore {
    async fn issued_secrets(
        &self,
        fingerprints: &[SecretFingerprint],
    ) -> Result<Vec<IssuedSecret>, StoreError> {
        let now = self.clock.now();
        let state = self.state();
        Ok(fingerprints
            .iter()
            .filter_map(|fingerprint| state.secret_lookups.get(fingerprint))
            .filter(|(_, until)| *until > now)
            .map(|(issued, _)| issued.clone())
            .collect())
    }

    async fn recorded_leaks(
        &self,
        secrets: &[IssuedSecret],
    ) -> Result<HashSet<SecretFingerprint>, StoreError> {
        let state = self.state();
        Ok(secrets
            .iter()
            .filter(|issued| {
                state.once.contains(&(
                    event_pk(&issued.tenant, Some(&issued.client_id)),
                    leak_marker(&issued.fingerprint),
                ))
            })
            .map(|issued| issued.fingerprint.clone())
            .collect())
    }
}

#[async_trait]
impl LeakWriter for MemoryStore {
    async fn record_leak(&self, leak: &LeakRecord) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut state = self.state();
        let marker = (
            event_pk(&leak.event.tenant, leak.event.client_id.as_ref()),
            leak_marker(&leak.fingerprint),
        );
        if state.once.contains(&marker) {
            return Ok(false);
        }
        if let Some((expected_version, change)) = leak.transition() {
            // Checks before it mutates: a conflict leaves the marker unwritten too.
            self.update_in(&mut state, expected_version, &change, now)?;
        } else {
            state.events.push(leak.event.clone());
        }
        if let Some(action) = &leak.action_event {
            state.events.push(action.clone());
        }
        state.once.insert(marker);
        Ok(true)
    }
}
