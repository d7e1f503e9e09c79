//! What one sweep reads against the size of the table: for each table size, a fresh table in
//! DynamoDB Local (in memory) with the same 300 credentials due, one sweep for their notices and
//! one for their expiries. Prints one JSON line per size; `make bench-sweep` runs it.

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use clavis_core::lifecycle;
use clavis_core::store::SharedStore;
use clavis_core::sweep::Sweeper;
use clavis_core::testing;
use clavis_core::time::{Clock, ManualClock, SystemClock, Timestamp};
use clavis_dynamodb::schema::create_table;
use clavis_local::dynamodb_local::{DynamoDbLocal, Storage};

const DUE: u32 = 300;

fn credential(expires_at: Option<Timestamp>, now: Timestamp) -> lifecycle::Transition {
    // The sweeper never looks at the hash; hashing 100,000 secrets would only slow the run.
    testing::created(&["bench:read"], expires_at, now)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let local = DynamoDbLocal::start(Storage::InMemory).await?;
    for size in sizes {
        let table = format!("sweep-cost-{size}");
        let settings = local.store_settings(&table);
        create_table(&settings.client().await, &table).await?;
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let store: SharedStore = Arc::new(settings.dynamo_store(clock.clone()).await);
        let sweeper = Sweeper::new(store.clone(), clock.clone(), Duration::days(7));
        // A table's first sweep walks the 30-day lookback over empty hours; run it before
        // loading, so the figures are those of the sweeps a running deployment makes.
        sweeper.sweep(None).await?;
        let now = clock.now();
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..size {
            let expires_at = if i < DUE {
                Some(now + Duration::hours(2))
            } else {
                Some(now + Duration::days(30 + i64::from(i % 3000)))
            };
            let store = Arc::clone(&store);
            writes.spawn(async move { store.insert(&credential(expires_at, now)).await });
            while writes.len() >= 32 {
                writes.join_next().await.expect("a write")??;
            }
        }
        while let Some(done) = writes.join_next().await {
            done??;
        }
        clock.advance(Duration::minutes(15));
        let started = Instant::now();
        let notices = sweeper.sweep(None).await?;
        let notices_ms = started.elapsed().as_millis();
        clock.advance(Duration::hours(3));
        let started = Instant::now();
        let expiries = sweeper.sweep(None).await?;
        let expiries_ms = started.elapsed().as_millis();
        clock.advance(Duration::minutes(15));
        let idle = sweeper.sweep(None).await?;
        println!(
            "{}",
            serde_json::json!({
                "credentials": size,
                "due": DUE,
                "expiry_sweep": {"recorded": expiries.recorded_expired, "items_read": expiries.items_read, "queries": expiries.queries, "ms": expiries_ms},
                "notice_sweep": {"recorded": notices.recorded_expiring_soon, "items_read": notices.items_read, "queries": notices.queries, "ms": notices_ms},
                "idle_sweep": {"items_read": idle.items_read, "queries": idle.queries},
            })
        );
    }
    local.stop();
    Ok(())
}
