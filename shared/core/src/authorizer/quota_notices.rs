//! `credential.quota_threshold`: recorded once per credential, month and threshold (80 % and
//! 100 % of `monthly_request_quota`), by whichever instance sees the count cross it first. The
//! store keeps the once (a marker written with the event); each instance remembers what it
//! has recorded or found recorded, so a busy credential costs one write per threshold per
//! instance and month, not one per request.

use std::sync::{Arc, Mutex};

use lru::LruCache;

use crate::audit::{Actor, AuditAction, AuditEvent, Context};
use crate::credential::Credential;
use crate::ids::ClientId;
use crate::store::{EventRecorder, UsageMonth};
use crate::time::Timestamp;

/// The thresholds, in percent of the quota.
pub const QUOTA_THRESHOLDS: [u8; 2] = [80, 100];

pub(super) struct QuotaNotices {
    store: Arc<dyn EventRecorder>,
    recorded: Mutex<LruCache<(ClientId, UsageMonth, u8), ()>>,
}

/// The thresholds `used` of `quota` has reached.
pub fn reached(used: u64, quota: u64) -> impl Iterator<Item = u8> {
    QUOTA_THRESHOLDS
        .into_iter()
        .filter(move |percent| u128::from(used) * 100 >= u128::from(quota) * u128::from(*percent))
}

impl QuotaNotices {
    pub(super) fn new(store: Arc<dyn EventRecorder>, entries: std::num::NonZeroUsize) -> Self {
        Self {
            store,
            recorded: Mutex::new(LruCache::new(entries)),
        }
    }

    /// Records each threshold `used` has reached that is not recorded yet. A failure is
    /// logged and tried again on the credential's next request; it never decides one.
    pub(super) async fn notice(&self, credential: &Credential, used: u64, now: Timestamp) {
        let Some(quota) = credential.monthly_request_quota.map(|q| q.get()) else {
            return;
        };
        let month = UsageMonth::of(now);
        for percent in reached(used, quota) {
            let key = (credential.client_id.clone(), month, percent);
            if self.lock().contains(&key) {
                continue;
            }
            let context = Context {
                actor: Actor::system(),
                now,
                request_id: None,
            };
            let event = AuditEvent::new(
                credential,
                &context,
                AuditAction::QuotaThreshold {
                    percent,
                    month: month.to_string(),
                    monthly_request_quota: quota,
                },
            );
            let marker = format!("quota#{month}#{percent}");
            match self.store.record_event_once(&marker, &event).await {
                Ok(_) => {
                    self.lock().put(key, ());
                }
                Err(error) => tracing::warn!(%error, percent, "a quota threshold was not recorded"),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<(ClientId, UsageMonth, u8), ()>> {
        self.recorded.lock().unwrap_or_else(|p| p.into_inner())
    }
}
