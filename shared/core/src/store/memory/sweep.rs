//! The expiry index and the sweeper's checkpoint, in memory.

use super::*;

#[async_trait]
impl SweepCheckpoint for MemoryStore {
    async fn sweep_checkpoint(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.state().sweep_checkpoint)
    }

    async fn save_sweep_checkpoint(&self, hour: Timestamp) -> Result<(), StoreError> {
        self.state().sweep_checkpoint = Some(hour);
        Ok(())
    }
}

#[async_trait]
impl SweepIndex for MemoryStore {
    async fn due(&self, query: &DueQuery<'_>) -> Result<DuePage, StoreError> {
        let state = self.state();
        let hour_end = query.hour + chrono::Duration::hours(1);
        let mut due: Vec<(String, &ClientId)> = state
            .sweep_index
            .iter()
            .filter(|(_, at)| **at >= query.hour && **at < hour_end && **at <= query.until)
            .map(|(client_id, at)| (sweep_sort_key(*at, client_id), client_id))
            .filter(|(key, _)| query.after.is_none_or(|cursor| *key > cursor.sort_key))
            .collect();
        due.sort();
        let limit = query.limit.max(1);
        let more = due.len() > limit;
        due.truncate(limit);
        let next = if more {
            due.last().map(|(key, client_id)| DueCursor {
                sort_key: key.clone(),
                client_id: (*client_id).clone(),
            })
        } else {
            None
        };
        let credentials: Vec<Credential> = due
            .iter()
            .filter_map(|(_, client_id)| state.credentials.get(*client_id).cloned())
            .collect();
        Ok(DuePage {
            items_read: credentials.len() as u64,
            credentials,
            next,
        })
    }
}
