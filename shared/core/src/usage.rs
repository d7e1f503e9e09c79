//! Usage counted in batches: each warm instance adds up the uses of each credential in memory,
//! and the refusals that named it, and writes them at least once a second, one atomic `ADD` per
//! credential to its month's count and its day's (one transaction of two items), so that a
//! credential used thousands of times a second costs each instance one write a second (DynamoDB
//! caps one item near 1,000 writes a second) and no request waits for a usage write. What an
//! instance has not flushed when it dies is lost: at most one flush interval of uses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration as StdDuration;

use chrono::Duration;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use tokio::time::Instant;

use chrono::NaiveDate;

use crate::credential::Credential;
use crate::ids::{ClientId, TenantId};
use crate::retry::Backoff;
use crate::source::SourceAddress;
use crate::store::{
    LastUse, StoreError, USAGE_WRITE_ID_LIFETIME, UsageBatch, UsageMonth, UsageShard, UsageWriter,
};
use crate::time::Timestamp;
use crate::usage_days::{DayCounts, RefusalReason};

/// `last_used_at` is refreshed at most this often per credential: it is shown, not billed.
const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);
/// How long a batch whose write failed is retried. Well inside the store's memory of write IDs,
/// so a retry never counts a batch twice; a batch still unwritten then is given up (and logged)
/// rather than risk that.
const RETRY_FOR: StdDuration = StdDuration::from_secs(5 * 60);
/// Tries of a batch that keeps losing to other instances' writes on its counter items, within
/// one flush; what is still unwritten then is retried at the next flush.
const CONFLICT_ATTEMPTS: u32 = 6;
const RETRY_AFTER_CONFLICT: Backoff =
    Backoff::new(StdDuration::from_millis(10), StdDuration::from_millis(200));
/// Batch writes one flush keeps in flight: enough to write many credentials in one round trip
/// or two, few enough not to flood the connection pool.
const WRITES_AT_ONCE: usize = 32;
const _: () = assert!(RETRY_FOR.as_secs() * 2 <= USAGE_WRITE_ID_LIFETIME.num_seconds() as u64);

/// Uses and refusals of one credential on one UTC day, counted since the last flush.
#[derive(Debug, Clone)]
struct Counting {
    tenant: TenantId,
    counts: DayCounts,
    /// The latest use (or, with none, the first refusal).
    latest: Timestamp,
    /// Where the latest use came from.
    latest_source: Option<SourceAddress>,
    refresh_last_used: bool,
}

impl Counting {
    fn new(credential: &Credential, at: Timestamp) -> Self {
        Self {
            tenant: credential.tenant.clone(),
            counts: DayCounts::default(),
            latest: at,
            latest_source: None,
            refresh_last_used: false,
        }
    }
}

/// A batch whose write failed, retried as it is (same write ID) at the next flushes.
struct Unconfirmed {
    batch: UsageBatch,
    first_tried: Instant,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushReport {
    /// Batches (one per credential and day) written.
    pub written: usize,
    pub uses: u64,
    /// Batches whose write failed; they are retried at the next flush.
    pub failed: usize,
    /// Uses given up after failing for [`RETRY_FOR`].
    pub lost: u64,
}

impl FlushReport {
    /// Logs a last flush: what was written, and what was not.
    pub fn log_final(&self, when: &'static str) {
        tracing::info!(
            written = self.written,
            uses = self.uses,
            failed = self.failed,
            lost = self.lost,
            when,
            "usage flushed"
        );
    }
}

/// Counts uses of credentials in memory and writes them in batches; see the module's comment.
pub struct UsageRecorder {
    store: Arc<dyn UsageWriter>,
    flush_every: StdDuration,
    /// Per credential, then per UTC day: a quota check reads one credential's days without
    /// walking every credential's.
    counting: Mutex<HashMap<ClientId, HashMap<NaiveDate, Counting>>>,
    unconfirmed: Mutex<Vec<Unconfirmed>>,
    /// When this instance last asked for each credential's `last_used_at` to be refreshed.
    refreshed: Mutex<HashMap<ClientId, Timestamp>>,
    /// One flush at a time, so that a shutdown flush never races the periodic one.
    flushing: tokio::sync::Mutex<()>,
    /// The counter items this instance adds to: one of each credential's, drawn once, so that
    /// many instances counting one busy credential spread their writes over its shards.
    shard: UsageShard,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves the map whole, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl UsageRecorder {
    /// A recorder whose [flusher](Self::spawn_flusher) writes every `flush_every`.
    pub fn new(store: Arc<dyn UsageWriter>, flush_every: StdDuration) -> Self {
        Self {
            store,
            flush_every,
            counting: Mutex::new(HashMap::new()),
            unconfirmed: Mutex::new(Vec::new()),
            refreshed: Mutex::new(HashMap::new()),
            flushing: tokio::sync::Mutex::new(()),
            shard: UsageShard::random(),
        }
    }

    /// The counter shard this recorder (its instance) writes to.
    pub fn shard(&self) -> UsageShard {
        self.shard
    }

    /// Counts one use of `credential` at `at` from `source`, in memory: nothing waits for a
    /// write.
    pub fn record(&self, credential: &Credential, at: Timestamp, source: &SourceAddress) {
        let stale =
            |last: Option<Timestamp>| last.is_none_or(|last| at - last >= LAST_USED_RESOLUTION);
        let refresh = stale(credential.last_used_at) && {
            let mut refreshed = locked(&self.refreshed);
            let due = stale(refreshed.get(&credential.client_id).copied());
            if due {
                refreshed.insert(credential.client_id.clone(), at);
            }
            due
        };
        let mut counting = locked(&self.counting);
        let entry = Self::day_of(&mut counting, credential, at);
        entry.refresh_last_used |= refresh;
        let newest = entry.counts.uses == 0 || at >= entry.latest;
        if newest {
            entry.latest = at;
        }
        // Where a use came from matters only to a refresh of the last use (once a minute):
        // the other uses copy nothing.
        if entry.refresh_last_used && (newest || entry.latest_source.is_none()) {
            entry.latest_source = Some(source.clone());
        }
        entry.counts.uses += 1;
    }

    /// What is being counted for `credential` on the UTC day of `at`.
    fn day_of<'a>(
        counting: &'a mut HashMap<ClientId, HashMap<NaiveDate, Counting>>,
        credential: &Credential,
        at: Timestamp,
    ) -> &'a mut Counting {
        counting
            .entry(credential.client_id.clone())
            .or_default()
            .entry(at.date_naive())
            .or_insert_with(|| Counting::new(credential, at))
    }

    /// Counts one refusal of a request that named `credential`, in memory.
    pub fn refuse(&self, credential: &Credential, reason: RefusalReason, at: Timestamp) {
        let mut counting = locked(&self.counting);
        Self::day_of(&mut counting, credential, at)
            .counts
            .refuse(reason);
    }

    /// Uses of `client_id` in `month` this instance has counted but not yet seen written: with
    /// the stored count, what a quota check compares (uses in a flush under way are in
    /// neither for the length of its write).
    pub fn unflushed(&self, client_id: &ClientId, month: UsageMonth) -> u64 {
        let counted: u64 = locked(&self.counting)
            .get(client_id)
            .map(|days| {
                days.values()
                    .filter(|c| UsageMonth::of(c.latest) == month)
                    .map(|c| c.counts.uses)
                    .sum()
            })
            .unwrap_or(0);
        let retrying: u64 = locked(&self.unconfirmed)
            .iter()
            .filter(|u| u.batch.client_id == *client_id && UsageMonth::of(u.batch.latest) == month)
            .map(|u| u.batch.counts.uses)
            .sum();
        counted + retrying
    }

    /// Writes everything counted so far, one batch per credential and day, all at once, and
    /// retries the batches whose write failed before.
    pub fn flush(&self) -> BoxFuture<'_, FlushReport> {
        // Boxed: the flusher and the shutdown hook both call it, and one copy of its state
        // machine in the token functions' bootstraps is enough (they are size-budgeted).
        Box::pin(self.flush_now())
    }

    async fn flush_now(&self) -> FlushReport {
        let _one_at_a_time = self.flushing.lock().await;
        let now = Instant::now();
        let mut due: Vec<Unconfirmed> = std::mem::take(&mut *locked(&self.unconfirmed));
        let counted: Vec<(ClientId, NaiveDate, Counting)> = locked(&self.counting)
            .drain()
            .flat_map(|(client_id, days)| {
                days.into_iter()
                    .map(move |(day, c)| (client_id.clone(), day, c))
            })
            .collect();
        due.extend(counted.into_iter().map(|(client_id, day, c)| {
            Unconfirmed {
                batch: UsageBatch::new(
                    client_id,
                    c.tenant,
                    day,
                    c.counts,
                    c.latest,
                    c.latest_source
                        .filter(|_| c.refresh_last_used)
                        .map(|from| LastUse { at: c.latest, from }),
                )
                .in_shard(self.shard),
                first_tried: now,
            }
        }));
        if let Some(newest) = due.iter().map(|u| u.batch.latest).max() {
            // Forget refreshes older than the resolution: they decide nothing any more.
            locked(&self.refreshed).retain(|_, at| newest - *at < LAST_USED_RESOLUTION);
        }
        let writes: Vec<_> = due.iter().map(|u| self.write(&u.batch)).collect();
        let outcomes: Vec<_> = futures_util::stream::iter(writes)
            .buffered(WRITES_AT_ONCE)
            .collect()
            .await;
        let mut report = FlushReport::default();
        let mut retry = Vec::new();
        for (unconfirmed, outcome) in due.into_iter().zip(outcomes) {
            let batch = &unconfirmed.batch;
            match outcome {
                Ok(()) => {
                    report.written += 1;
                    report.uses += batch.counts.uses;
                }
                Err(e) if now.duration_since(unconfirmed.first_tried) < RETRY_FOR => {
                    tracing::warn!(client_id = %batch.client_id, uses = batch.counts.uses, error = %e, "usage not written yet; retried at the next flush");
                    report.failed += 1;
                    retry.push(unconfirmed);
                }
                Err(e) => {
                    tracing::error!(client_id = %batch.client_id, uses = batch.counts.uses, error = %e, "usage given up after failing for {RETRY_FOR:?}");
                    report.lost += batch.counts.uses;
                }
            }
        }
        locked(&self.unconfirmed).extend(retry);
        tracing::debug!(
            written = report.written,
            uses = report.uses,
            failed = report.failed,
            lost = report.lost,
            "usage flushed"
        );
        report
    }

    /// Writes one batch; a write that lost a race with another instance's on the same
    /// counter items (DynamoDB cancels one of two transactions on one item) is tried again at
    /// once, after a short jittered wait, rather than a whole flush later: the batch was not
    /// applied, and its write ID keeps a retry from counting twice.
    async fn write(&self, batch: &UsageBatch) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            match self.store.record_uses(batch).await {
                Err(StoreError::Conflict) if attempt + 1 < CONFLICT_ATTEMPTS => {
                    RETRY_AFTER_CONFLICT.wait(attempt).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Flushes every `flush_every` in the background until [stopped](Flusher::stop) (dropping
    /// the handle does not stop it).
    pub fn spawn_flusher(self: &Arc<Self>) -> Flusher {
        let recorder = Arc::clone(self);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(recorder.flush_every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    // Only a stop ends it; a dropped handle leaves it running, detached.
                    Ok(()) = &mut stopped => break,
                }
                // Never cancelled half-way: a flush that took its batches writes them.
                recorder.flush().await;
            }
        });
        Flusher {
            recorder: Arc::clone(self),
            stop,
            task,
        }
    }
}

/// The background flushes of a [`UsageRecorder`].
pub struct Flusher {
    recorder: Arc<UsageRecorder>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Flusher {
    /// Lets a flush under way finish, stops, and writes what is left.
    pub async fn stop(self) -> FlushReport {
        // Gone already only if the task ended, which it does only when told to.
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the usage flusher failed");
        }
        self.recorder.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::{Retention, SharedStore, StoreError};
    use crate::time::{Clock, ManualClock, SystemClock};

    fn here() -> SourceAddress {
        SourceAddress::parse("192.0.2.1").unwrap()
    }

    async fn setup() -> (Arc<ManualClock>, SharedStore, Credential) {
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let store: SharedStore = Arc::new(MemoryStore::new(clock.clone(), Retention::default()));
        let created = crate::testing::created(&["products:read"], None, clock.now());
        store.insert(&created).await.unwrap();
        (clock, store, created.credential)
    }

    #[tokio::test]
    async fn uses_are_counted_in_memory_and_written_once_per_credential() {
        let (clock, store, c) = setup().await;
        let recorder = UsageRecorder::new(store.clone(), StdDuration::from_secs(1));
        for _ in 0..250 {
            recorder.record(&c, clock.now(), &here());
        }
        let month = UsageMonth::of(clock.now());
        let ids = [c.client_id.clone()];
        assert!(
            store.request_counts(&ids, month).await.unwrap().is_empty(),
            "nothing written yet"
        );
        let report = recorder.flush().await;
        assert_eq!((report.written, report.uses, report.failed), (1, 250, 0));
        assert_eq!(
            store.request_counts(&ids, month).await.unwrap()[&c.client_id],
            250
        );
        assert_eq!(
            recorder.flush().await,
            FlushReport::default(),
            "nothing twice"
        );
        let stored = store.get(&c.client_id).await.unwrap().unwrap();
        assert_eq!(stored.last_used_at, Some(clock.now()));
    }

    #[tokio::test]
    async fn last_used_is_refreshed_at_most_once_a_minute() {
        let (clock, store, c) = setup().await;
        let recorder = UsageRecorder::new(store.clone(), StdDuration::from_secs(1));
        let first = clock.now();
        recorder.record(&c, first, &here());
        recorder.flush().await;
        // The instance refreshed it a moment ago, even if the credential it read is older.
        clock.advance(Duration::seconds(30));
        recorder.record(&c, clock.now(), &here());
        recorder.flush().await;
        assert_eq!(
            store.get(&c.client_id).await.unwrap().unwrap().last_used_at,
            Some(first)
        );
        clock.advance(Duration::seconds(30));
        recorder.record(&c, clock.now(), &here());
        recorder.flush().await;
        assert_eq!(
            store.get(&c.client_id).await.unwrap().unwrap().last_used_at,
            Some(clock.now())
        );
    }

    /// A usage store that refuses every write, and remembers each write ID it was sent.
    #[derive(Default)]
    struct Refusing {
        sent: Mutex<Vec<(String, u64)>>,
    }

    #[async_trait::async_trait]
    impl UsageWriter for Refusing {
        async fn record_uses(&self, batch: &UsageBatch) -> Result<(), StoreError> {
            locked(&self.sent).push((batch.write_id.clone(), batch.counts.uses));
            Err(StoreError::OutcomeUnknown("the answer was lost".into()))
        }
    }

    /// Loses `conflicts` races on the counter items, then writes.
    struct Contended {
        conflicts: Mutex<u32>,
        sent: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl UsageWriter for Contended {
        async fn record_uses(&self, batch: &UsageBatch) -> Result<(), StoreError> {
            locked(&self.sent).push(batch.write_id.clone());
            let mut left = locked(&self.conflicts);
            if *left == 0 {
                return Ok(());
            }
            *left -= 1;
            Err(StoreError::Conflict)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_that_loses_a_race_is_written_within_the_same_flush() {
        let c = crate::testing::created(&["products:read"], None, SystemClock.now()).credential;
        for (conflicts, written, failed) in [(3, 1, 0), (CONFLICT_ATTEMPTS, 0, 1)] {
            let store = Arc::new(Contended {
                conflicts: Mutex::new(conflicts),
                sent: Mutex::new(Vec::new()),
            });
            let recorder = UsageRecorder::new(store.clone(), StdDuration::from_secs(1));
            recorder.record(&c, SystemClock.now(), &here());
            let report = recorder.flush().await;
            assert_eq!(
                (report.written, report.failed),
                (written, failed),
                "{conflicts}"
            );
            let sent = locked(&store.sent).clone();
            assert_eq!(sent.len() as u32, (conflicts + 1).min(CONFLICT_ATTEMPTS));
            assert!(
                sent.iter().all(|id| *id == sent[0]),
                "one write ID throughout"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_batch_is_retried_as_it_was_and_given_up_only_after_the_retry_window() {
        let store = Arc::new(Refusing::default());
        let recorder = UsageRecorder::new(store.clone(), StdDuration::from_secs(1));
        let c = crate::testing::created(&["products:read"], None, SystemClock.now()).credential;
        for _ in 0..3 {
            recorder.record(&c, SystemClock.now(), &here());
        }
        let report = recorder.flush().await;
        assert_eq!((report.written, report.failed, report.lost), (0, 1, 0));
        // Later uses travel in a batch of their own; the failed one is sent again unchanged.
        recorder.record(&c, SystemClock.now(), &here());
        tokio::time::advance(RETRY_FOR - StdDuration::from_secs(1)).await;
        let report = recorder.flush().await;
        assert_eq!((report.failed, report.lost), (2, 0));
        let sent = locked(&store.sent).clone();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[1], sent[0], "the same write ID and uses");
        assert_ne!(sent[2].0, sent[0].0);
        assert_eq!(sent[2].1, 1);
        // Past the window the first batch is given up (its ID may be forgotten by the store,
        // so sending it again could count it twice); the younger one is kept.
        tokio::time::advance(StdDuration::from_secs(2)).await;
        let report = recorder.flush().await;
        assert_eq!((report.failed, report.lost), (1, 3));
    }
}

#[cfg(test)]
mod day_tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::{Retention, SharedStore};
    use crate::time::{Clock, ManualClock, SystemClock};
    use crate::usage_days::UsageRange;

    #[tokio::test]
    async fn refusals_and_uses_are_flushed_as_one_batch_per_credential_and_day() {
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let store: SharedStore = Arc::new(MemoryStore::new(clock.clone(), Retention::default()));
        let created = crate::testing::created(&["products:read"], None, clock.now());
        store.insert(&created).await.unwrap();
        let c = created.credential;
        let recorder = UsageRecorder::new(store.clone(), StdDuration::from_secs(1));
        let from = SourceAddress::parse("192.0.2.7").unwrap();
        recorder.refuse(&c, RefusalReason::InvalidClient, clock.now());
        recorder.record(&c, clock.now(), &from);
        recorder.record(&c, clock.now(), &from);
        recorder.refuse(&c, RefusalReason::InvalidClient, clock.now());
        recorder.refuse(&c, RefusalReason::QuotaExceeded, clock.now());
        let report = recorder.flush().await;
        assert_eq!(
            (report.written, report.uses),
            (1, 2),
            "one batch for the day"
        );
        let today = clock.now().date_naive();
        let range = UsageRange::new(None, None, today).unwrap();
        let days = store.credential_days(&c.client_id, &range).await.unwrap();
        let counted = &days[&today];
        assert_eq!(counted.uses, 2);
        assert_eq!(counted.refused[&RefusalReason::InvalidClient], 2);
        assert_eq!(counted.refused[&RefusalReason::QuotaExceeded], 1);
        let stored = store.get(&c.client_id).await.unwrap().unwrap();
        assert_eq!(stored.last_used_from, Some(from));
        // A refusal alone is no use: nothing is unflushed toward a quota.
        recorder.refuse(&c, RefusalReason::Throttled, clock.now());
        assert_eq!(
            recorder.unflushed(&c.client_id, UsageMonth::of(clock.now())),
            0
        );
    }
}
