//! The expiry sweeper: records each passed expiry (`credential.expired`) and each near one
//! (`credential.expiring_soon`) exactly once, reading only what is due.
//!
//! It walks the hour buckets of the sparse expiry index from the checkpoint up to now. Each
//! record is one transaction of the credential change and its audit event, conditioned on the
//! version read, so two sweeps racing, or a sweep retried after a crash half-way, record every
//! event once: the loser of a race re-reads the credential and finds nothing left to record.
//! A sweep stops before its deadline and leaves the checkpoint at the oldest hour it did not
//! finish, so the next run resumes there.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DurationRound, TimeDelta};
use serde::Serialize;

use crate::audit::AuditAction;
use crate::credential::Credential;
use crate::lifecycle;
use crate::store::{DueCursor, DueQuery, StoreError, SweepPorts};
use crate::time::{Clock, Timestamp};

/// Credentials read per index query.
const PAGE_SIZE: usize = 100;
/// The first sweep of a table (no checkpoint yet) looks back this far: nothing in a new table
/// is older, and a lost checkpoint is rebuilt by one longer walk over empty hours.
const FIRST_SWEEP_LOOKBACK: TimeDelta = TimeDelta::days(30);
/// A finished sweep leaves its checkpoint this far behind its own `now`: the index is
/// eventually consistent, and writers' clocks may run a little behind the sweeper's.
const CHECKPOINT_MARGIN: TimeDelta = TimeDelta::hours(1);

/// What one sweep did, logged as its summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Due credentials the index returned.
    pub found: u64,
    pub recorded_expired: u64,
    pub recorded_expiring_soon: u64,
    /// Found, but nothing was left to record (another sweep did it, or it was revoked, deleted
    /// or given a new expiry since the index was read).
    pub skipped: u64,
    /// Found, but left for the next run (deadline, or a write that kept conflicting).
    pub remaining: u64,
    /// Whether every hour up to now was swept; `false` when the deadline cut the sweep short.
    pub complete: bool,
    /// Index entries read and queries made: the sweep's cost.
    pub items_read: u64,
    pub queries: u64,
}

pub struct Sweeper {
    store: Arc<dyn SweepPorts>,
    clock: Arc<dyn Clock>,
    notice_window: TimeDelta,
}

enum Outcome {
    Recorded(AuditAction),
    NothingToRecord,
    LeftForLater,
}

fn hour_of(at: Timestamp) -> Timestamp {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

impl Sweeper {
    pub fn new(
        store: Arc<dyn SweepPorts>,
        clock: Arc<dyn Clock>,
        notice_window: TimeDelta,
    ) -> Self {
        Self {
            store,
            clock,
            notice_window,
        }
    }

    /// One sweep. `deadline`: when to stop starting new work (the Lambda deadline less a
    /// margin); `None` runs until everything due is recorded.
    pub async fn sweep(&self, deadline: Option<Instant>) -> Result<SweepReport, StoreError> {
        let now = self.clock.now();
        let past_deadline = || deadline.is_some_and(|d| Instant::now() >= d);
        let mut report = SweepReport::default();
        let last_hour = hour_of(now);
        let mut hour = match self.store.sweep_checkpoint().await? {
            Some(checkpoint) => hour_of(checkpoint),
            None => hour_of(now - FIRST_SWEEP_LOOKBACK),
        };
        // The oldest hour with work left behind, which the next sweep must start from.
        let mut unfinished: Option<Timestamp> = None;
        'hours: while hour <= last_hour {
            let mut after: Option<DueCursor> = None;
            loop {
                if past_deadline() {
                    unfinished.get_or_insert(hour);
                    break 'hours;
                }
                let page = self
                    .store
                    .due(&DueQuery {
                        hour,
                        until: now,
                        after: after.as_ref(),
                        limit: PAGE_SIZE,
                    })
                    .await?;
                report.queries += 1;
                report.items_read += page.items_read;
                report.found += page.credentials.len() as u64;
                let mut credentials = page.credentials.into_iter();
                for credential in credentials.by_ref() {
                    match self.record(&credential, now).await? {
                        Outcome::Recorded(AuditAction::Expired { .. }) => {
                            report.recorded_expired += 1
                        }
                        Outcome::Recorded(_) => report.recorded_expiring_soon += 1,
                        Outcome::NothingToRecord => report.skipped += 1,
                        Outcome::LeftForLater => {
                            report.remaining += 1;
                            unfinished.get_or_insert(hour);
                        }
                    }
                    if past_deadline() {
                        break;
                    }
                }
                let left = credentials.len() as u64;
                if left > 0 {
                    report.remaining += left;
                    unfinished.get_or_insert(hour);
                    break 'hours;
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            hour += TimeDelta::hours(1);
        }
        report.complete = hour > last_hour;
        let checkpoint = unfinished.unwrap_or(last_hour - CHECKPOINT_MARGIN);
        self.store.save_sweep_checkpoint(checkpoint).await?;
        Ok(report)
    }

    /// Records what is due for one credential read from the index. The index may be stale, so
    /// the write is conditioned on the version read; on a conflict the credential is read again
    /// (strongly consistent) and, if something is still due, written once more.
    async fn record(&self, indexed: &Credential, now: Timestamp) -> Result<Outcome, StoreError> {
        let mut current = indexed.clone();
        for _ in 0..2 {
            let Some(change) = lifecycle::sweep(&current, now, self.notice_window) else {
                return Ok(Outcome::NothingToRecord);
            };
            match self.store.update(current.version, &change).await {
                Ok(()) => return Ok(Outcome::Recorded(change.event.action)),
                Err(StoreError::Conflict) => match self.store.get(&current.client_id).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(Outcome::NothingToRecord),
                },
                Err(other) => return Err(other),
            }
        }
        Ok(Outcome::LeftForLater)
    }
}

impl Sweeper {
    /// One sweep, logged as a summary.
    pub async fn sweep_and_log(
        &self,
        deadline: Option<Instant>,
    ) -> Result<SweepReport, StoreError> {
        let report = self
            .sweep(deadline)
            .await
            .inspect_err(|e| tracing::error!(error = %e, "sweep failed"))?;
        tracing::info!(
            found = report.found,
            recorded_expired = report.recorded_expired,
            recorded_expiring_soon = report.recorded_expiring_soon,
            skipped = report.skipped,
            remaining = report.remaining,
            complete = report.complete,
            items_read = report.items_read,
            queries = report.queries,
            "sweep finished"
        );
        Ok(report)
    }
}
