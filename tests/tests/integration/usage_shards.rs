//! Many instances counting one busy credential at once, on DynamoDB Local: each instance is a
//! usage recorder of its own (as each warm Lambda instance is), flushing on its own timer to
//! its own shard. Totals come out exact, no counter item takes more than the writes the model
//! (`make simulate`) gives it, and quota checks that sum the shards overrun by no more than
//! what the instances held unflushed or were writing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clavis_core::credential::{Credential, RequestQuota};
use clavis_core::lifecycle::NewCredential;
use clavis_core::source::SourceAddress;
use clavis_core::store::{
    SharedStore, StateQuery, StoreError, USAGE_SHARDS, UsageBatch, UsageMonth, UsageShard,
    UsageWriter,
};
use clavis_core::testing;
use clavis_core::time::Clock;
use clavis_core::usage::UsageRecorder;
use clavis_tests::{Fixture, dynamodb_fixture};

const INSTANCES: usize = 32;
/// Instances checking a quota: each reads the table for every use.
const QUOTA_INSTANCES: usize = 8;
const FLUSH_EVERY: Duration = Duration::from_millis(250);
const RUN_FOR: Duration = Duration::from_secs(3);
/// How long the quota run may take to reach its quota on a busy machine.
const QUOTA_LIMIT: Duration = Duration::from_secs(60);

/// The store, noting each batch written: which shard, when, how many uses.
struct NotingWriter {
    store: SharedStore,
    started: Instant,
    written: Mutex<Vec<(UsageShard, Duration, u64)>>,
}

#[async_trait]
impl UsageWriter for NotingWriter {
    async fn record_uses(&self, batch: &UsageBatch) -> Result<(), StoreError> {
        self.store
            .record_uses(batch)
            .await
            .inspect_err(|e| eprintln!("usage write failed: {e}"))?;
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((batch.shard, self.started.elapsed(), batch.counts.uses));
        Ok(())
    }
}

async fn busy_credential(fx: &Fixture, quota: Option<u64>) -> Credential {
    let created = testing::create(
        NewCredential {
            monthly_request_quota: quota.map(|q| RequestQuota::new(q).expect("a quota")),
            ..testing::new_credential("acme", &["products:read"])
        },
        testing::fake_hash("busy"),
        &fx.context(),
    );
    fx.store.insert(&created).await.expect("inserted");
    created.credential
}

/// `INSTANCES` recorders using `credential` as fast as `admit` lets them for `RUN_FOR`, each
/// flushing every `FLUSH_EVERY` and once more when it stops. Returns the uses they recorded,
/// the refusals, the batches written, and how many instances drew each shard.
async fn run_instances(
    fx: &Fixture,
    credential: &Credential,
    check_quota: bool,
) -> (
    u64,
    u64,
    Vec<(UsageShard, Duration, u64)>,
    HashMap<UsageShard, usize>,
) {
    let writer = Arc::new(NotingWriter {
        store: Arc::clone(&fx.store),
        started: Instant::now(),
        written: Mutex::new(Vec::new()),
    });
    let recorded = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let source = SourceAddress::parse(testing::USE_SOURCE).expect("an address");
    let mut tasks = Vec::new();
    let mut shards: HashMap<UsageShard, usize> = HashMap::new();
    // A quota check reads the table for every use: fewer instances, and fewer uses each, so
    // that DynamoDB Local (sharing two cores with the other tests) keeps up.
    let (instances, pace) = if check_quota {
        (QUOTA_INSTANCES, Duration::from_millis(100))
    } else {
        (INSTANCES, Duration::from_millis(2))
    };
    for _ in 0..instances {
        let recorder = Arc::new(UsageRecorder::new(writer.clone(), FLUSH_EVERY));
        *shards.entry(recorder.shard()).or_default() += 1;
        let (store, clock, credential, source) = (
            Arc::clone(&fx.store),
            fx.clock.clone(),
            credential.clone(),
            source.clone(),
        );
        let (recorded, refused) = (Arc::clone(&recorded), Arc::clone(&refused));
        tasks.push(tokio::spawn(async move {
            let flusher = recorder.spawn_flusher();
            // Counting runs for a fixed time; a quota run until each instance has been refused
            // (however slowly a busy machine lets it get there), within a generous limit.
            let deadline = Instant::now() + if check_quota { QUOTA_LIMIT } else { RUN_FOR };
            let mut refused_here = false;
            while Instant::now() < deadline && !refused_here {
                let now = clock.now();
                let month = UsageMonth::of(now);
                let admitted = if check_quota {
                    // The authorizer's read: the credential with every shard of its month.
                    let state = store
                        .credential_state(&StateQuery {
                            client_id: &credential.client_id,
                            jti: None,
                            month: Some(month),
                            policy_of: None,
                        })
                        .await
                        .expect("the state");
                    let used = state.uses_this_month.unwrap_or(0)
                        + recorder.unflushed(&credential.client_id, month);
                    credential
                        .monthly_request_quota
                        .is_none_or(|quota| quota.allows_another(used))
                } else {
                    true
                };
                if admitted {
                    recorder.record(&credential, now, &source);
                    recorded.fetch_add(1, Ordering::SeqCst);
                } else {
                    refused.fetch_add(1, Ordering::SeqCst);
                    refused_here = true;
                }
                tokio::time::sleep(pace).await;
            }
            let mut report = flusher.stop().await;
            // A batch DynamoDB Local did not take in time (a busy machine) is written by the
            // next flush, as a live instance's would be.
            for _ in 0..10 {
                if report.failed == 0 {
                    break;
                }
                report = recorder.flush().await;
            }
            assert_eq!((report.failed, report.lost), (0, 0), "every batch written");
        }));
    }
    for task in tasks {
        task.await.expect("an instance");
    }
    let written = std::mem::take(&mut *writer.written.lock().unwrap_or_else(|p| p.into_inner()));
    (
        recorded.load(Ordering::SeqCst),
        refused.load(Ordering::SeqCst),
        written,
        shards,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_instances_count_one_credential_exactly_and_spread_their_writes() {
    let fx = dynamodb_fixture().await;
    let credential = busy_credential(&fx, None).await;
    let (recorded, _, written, shards) = run_instances(&fx, &credential, false).await;
    assert!(recorded > 1000, "a busy credential: {recorded} uses");

    // Exact totals, read back the ways Clavis reads them.
    let month = UsageMonth::of(fx.now());
    let counts = fx
        .store
        .request_counts(std::slice::from_ref(&credential.client_id), month)
        .await
        .expect("counts");
    assert_eq!(counts[&credential.client_id], recorded);
    let today = clavis_core::usage_days::UsageRange::new(None, None, fx.now().date_naive())
        .expect("a range");
    let days = fx
        .store
        .credential_days(&credential.client_id, &today)
        .await
        .expect("days");
    assert_eq!(days.values().map(|d| d.uses).sum::<u64>(), recorded);

    // Each batch writes its shard's month and day items once. Per item and second: never more
    // than the instances that drew its shard, each flushing 1/FLUSH_EVERY times a second (and
    // once more when it stops), which is what the model predicts for the hottest item.
    let mut per_item_second: HashMap<(UsageShard, u64), u64> = HashMap::new();
    for (shard, at, _) in &written {
        *per_item_second.entry((*shard, at.as_secs())).or_default() += 1;
    }
    let flushes_per_second = (1.0 / FLUSH_EVERY.as_secs_f64()).ceil() as u64;
    for ((shard, second), writes) in &per_item_second {
        let budget = shards[shard] as u64 * (flushes_per_second + 1);
        assert!(
            *writes <= budget,
            "shard {} took {writes} writes in second {second}, budget {budget}",
            shard.index()
        );
    }
    let hottest = per_item_second.values().max().copied().unwrap_or(0);
    let unsharded = INSTANCES as u64 * flushes_per_second;
    assert!(
        hottest < unsharded,
        "the hottest item ({hottest}/s) takes less than one item would ({unsharded}/s)"
    );
    println!(
        "{INSTANCES} instances over {USAGE_SHARDS} shards ({shards:?} per shard): {recorded} uses, \
         hottest item {hottest} writes/s, one unsharded item would take {unsharded}/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_quota_summed_over_shards_is_overrun_by_at_most_what_instances_held_unflushed() {
    let fx = dynamodb_fixture().await;
    let quota = 40;
    let credential = busy_credential(&fx, Some(quota)).await;
    let (recorded, refused, written, _) = run_instances(&fx, &credential, true).await;
    assert_eq!(
        refused, QUOTA_INSTANCES as u64,
        "every instance reached the quota: {recorded} recorded"
    );
    let month = UsageMonth::of(fx.now());
    let stored = fx
        .store
        .request_counts(std::slice::from_ref(&credential.client_id), month)
        .await
        .expect("counts")[&credential.client_id];
    assert_eq!(stored, recorded, "every admitted use is counted");
    // The documented overrun: each instance admits on what is stored plus its own unflushed
    // uses, so what the others hold unflushed can pass, and so can a batch being written at
    // the moment of a read (no longer unflushed, not yet stored): two batches each at most.
    let largest_batch = written.iter().map(|(_, _, uses)| *uses).max().unwrap_or(0);
    let bound = QUOTA_INSTANCES as u64 * 2 * largest_batch;
    assert!(
        stored <= quota + bound,
        "{stored} uses against a quota of {quota}: overrun beyond {bound}"
    );
    println!(
        "quota {quota}: {stored} counted ({} over), {refused} refused; bound {bound}",
        stored.saturating_sub(quota)
    );
}
