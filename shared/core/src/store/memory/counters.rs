//! The request path's ports in memory: usage counts, the deny list, failure counts, and a
//! token's credential state read as one.

use super::*;

#[async_trait]
impl UsageWriter for MemoryStore {
    async fn record_uses(&self, batch: &UsageBatch) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut state = self.state();
        // As DynamoDB's client request tokens: a batch written again within the lifetime of
        // its ID counts nothing more.
        state
            .usage_writes
            .retain(|_, written| now - *written < USAGE_WRITE_ID_LIFETIME);
        if state
            .usage_writes
            .insert(batch.write_id.clone(), now)
            .is_some()
        {
            return Ok(());
        }
        let at = batch.latest;
        let expires_at = at + self.retention.usage_counters;
        if batch.counts.uses > 0 {
            let usage = state
                .usage
                .entry((batch.client_id.clone(), UsageMonth::of(at)))
                .or_insert(Usage {
                    count: 0,
                    expires_at,
                });
            usage.count += batch.counts.uses;
            usage.expires_at = expires_at;
        }
        let day = state
            .usage_days
            .entry((batch.client_id.clone(), batch.day))
            .or_insert_with(|| CountedDayEntry {
                tenant: batch.tenant.clone(),
                counts: DayCounts::default(),
                expires_at: day_expires_at(batch.day),
            });
        day.counts.add(&batch.counts);
        if let Some(last) = &batch.refresh
            && let Some(credential) = state.credentials.get_mut(&batch.client_id)
            && credential.last_used_at.is_none_or(|seen| seen < last.at)
        {
            credential.last_used_at = Some(last.at);
            credential.last_used_from = Some(last.from.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl UsageReader for MemoryStore {
    async fn request_counts(
        &self,
        client_ids: &[ClientId],
        month: UsageMonth,
    ) -> Result<HashMap<ClientId, u64>, StoreError> {
        let now = self.clock.now();
        let state = self.state();
        Ok(client_ids
            .iter()
            .filter_map(|id| {
                let usage = state.usage.get(&(id.clone(), month))?;
                (usage.expires_at > now).then(|| (id.clone(), usage.count))
            })
            .collect())
    }
}

#[async_trait]
impl CredentialStateReader for MemoryStore {
    async fn credential_state(&self, read: &StateQuery<'_>) -> Result<CredentialState, StoreError> {
        let (client_id, jti, month) = (read.client_id, read.jti, read.month);
        let uses_this_month = match month {
            Some(month) => {
                let counts = self
                    .request_counts(std::slice::from_ref(client_id), month)
                    .await?;
                Some(counts.get(client_id).copied().unwrap_or(0))
            }
            None => None,
        };
        let now = self.clock.now();
        let token_denied = jti.is_some_and(|jti| {
            self.state()
                .denied_tokens
                .get(jti)
                .is_some_and(|expires_at| *expires_at > now)
        });
        let policy = match read.policy_of {
            Some(tenant) => Some(PolicyReader::policy(self, tenant).await?),
            None => None,
        };
        Ok(CredentialState {
            credential: CredentialReader::get(self, client_id).await?,
            token_denied,
            uses_this_month,
            policy,
        })
    }
}

#[async_trait]
impl TokenDenyList for MemoryStore {
    async fn deny_token(&self, jti: &str, token_expires_at: Timestamp) -> Result<(), StoreError> {
        self.state()
            .denied_tokens
            .insert(jti.to_owned(), token_expires_at);
        Ok(())
    }
}

#[async_trait]
impl ThrottleReader for MemoryStore {
    async fn credential_and_failures(
        &self,
        attempt: &Attempt<'_>,
        policy_of: Option<&TenantId>,
    ) -> Result<ClientRead, StoreError> {
        let policy = match policy_of {
            Some(tenant) => Some(PolicyReader::policy(self, tenant).await?),
            None => None,
        };
        Ok(ClientRead {
            credential: CredentialReader::get(self, attempt.client_id).await?,
            failures: self.failures(attempt.client_id, attempt.source, attempt.window_start),
            policy,
        })
    }
}

#[async_trait]
impl FailureRecorder for MemoryStore {
    async fn record_failure(&self, failure: &Attempt<'_>) -> Result<(), StoreError> {
        let mut state = self.state();
        for counter in [
            FailureCount::ClientFromSource(failure.client_id.clone(), failure.source.clone()),
            FailureCount::Source(failure.source.clone()),
        ] {
            let entry = state
                .failures
                .entry((counter, failure.window_start))
                .or_insert((0, failure.window_end));
            entry.0 += 1;
        }
        Ok(())
    }
}

#[async_trait]
impl DailyUsageReader for MemoryStore {
    async fn credential_days(
        &self,
        client_id: &ClientId,
        range: &UsageRange,
    ) -> Result<HashMap<NaiveDate, DayCounts>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .state()
            .usage_days
            .iter()
            .filter(|((id, day), entry)| {
                id == client_id && in_range(range, *day) && entry.expires_at > now
            })
            .map(|((_, day), entry)| (*day, entry.counts.clone()))
            .collect())
    }

    async fn tenant_days(
        &self,
        tenant: &TenantId,
        range: &UsageRange,
    ) -> Result<Vec<CountedDay>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .state()
            .usage_days
            .iter()
            .filter(|((_, day), entry)| {
                &entry.tenant == tenant && in_range(range, *day) && entry.expires_at > now
            })
            .map(|((client_id, day), entry)| CountedDay {
                client_id: client_id.clone(),
                day: *day,
                counts: entry.counts.clone(),
            })
            .collect())
    }
}

fn in_range(range: &UsageRange, day: NaiveDate) -> bool {
    range.from() <= day && day <= range.to()
}
