//! What a credential, or a tenant's credentials together, did day by day: the usage
//! dashboard's reads.

use std::collections::HashMap;

use chrono::NaiveDate;
use futures_util::future::join_all;

use super::{CredentialService, ServiceError};
use crate::ids::{ClientId, TenantId};
use crate::usage_days::{DayCounts, UsageRange, every_day, totals};

/// Every day of a range with its counts, oldest first, and their sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyReport {
    pub range: UsageRange,
    pub days: Vec<(NaiveDate, DayCounts)>,
    pub total: DayCounts,
}

impl DailyReport {
    fn new(range: UsageRange, counted: HashMap<NaiveDate, DayCounts>) -> Self {
        let days = every_day(&range, counted);
        let total = totals(&days);
        Self { range, days, total }
    }
}

/// One of a tenant's most used credentials in a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopCredential {
    pub client_id: ClientId,
    /// `None` for a credential deleted since.
    pub name: Option<String>,
    pub uses: u64,
}

/// How many credentials a tenant's usage names.
pub const TOP_CREDENTIALS: usize = 10;

impl CredentialService {
    /// A credential's days in `range` (another tenant's answers as an unknown one).
    pub async fn credential_usage(
        &self,
        tenant: &TenantId,
        client_id: &ClientId,
        range: UsageRange,
    ) -> Result<DailyReport, ServiceError> {
        let (credential, counted) = tokio::join!(
            self.load(tenant, client_id),
            self.store.credential_days(client_id, &range)
        );
        credential?;
        Ok(DailyReport::new(range, counted?))
    }

    /// The tenant's days in `range`, its credentials summed, and the most used of them.
    pub async fn tenant_usage(
        &self,
        tenant: &TenantId,
        range: UsageRange,
    ) -> Result<(DailyReport, Vec<TopCredential>), ServiceError> {
        let counted = self.store.tenant_days(tenant, &range).await?;
        let mut by_day: HashMap<NaiveDate, DayCounts> = HashMap::new();
        let mut by_credential: HashMap<ClientId, u64> = HashMap::new();
        for day in &counted {
            by_day.entry(day.day).or_default().add(&day.counts);
            *by_credential.entry(day.client_id.clone()).or_default() += day.counts.uses;
        }
        let mut ranked: Vec<(ClientId, u64)> = by_credential
            .into_iter()
            .filter(|(_, uses)| *uses > 0)
            .collect();
        // Most uses first; equal counts in client ID order, so that the answer is stable.
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
        ranked.truncate(TOP_CREDENTIALS);
        let names = join_all(ranked.iter().map(|(id, _)| self.store.get(id))).await;
        let mut top = Vec::with_capacity(ranked.len());
        for ((client_id, uses), read) in ranked.into_iter().zip(names) {
            let name = read?
                .filter(|c| &c.tenant == tenant)
                .map(|c| c.name.to_string());
            top.push(TopCredential {
                client_id,
                name,
                uses,
            });
        }
        Ok((DailyReport::new(range, by_day), top))
    }
}
