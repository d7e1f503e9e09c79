//! Shared fixtures: one DynamoDB Local per test process (started on first use, killed with
//! the process), a fresh table per test, and builders for domain values.

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use chrono::Duration;
use clavis_core::audit::Context;
use clavis_core::lifecycle::{NewCredential, Transition};
use clavis_core::store::memory::MemoryStore;
use clavis_core::store::{EventFeed, Retention, SharedStore};
use clavis_core::testing;
use clavis_core::time::{Clock, ManualClock, SystemClock, Timestamp};
use clavis_dynamodb::schema::create_table;
use clavis_dynamodb::stream::StreamFeed;
use clavis_local::dynamodb_local::{DynamoDbLocal, Storage};
use clavis_runtime::config::StoreSettings;
use tokio::sync::OnceCell;

pub mod api;
pub mod forwarder;
pub mod github;
pub mod injector;
pub mod load_model;
pub mod readme;
pub mod receiver;
pub mod scan;
pub mod stub;

static DYNAMODB_LOCAL: OnceCell<DynamoDbLocal> = OnceCell::const_new();

/// The process's DynamoDB Local. It is never dropped: the process's exit kills it (see
/// `clavis_local::dynamodb_local`), so no test run leaves a Java process behind.
pub async fn dynamodb_local() -> &'static DynamoDbLocal {
    DYNAMODB_LOCAL
        .get_or_init(|| async {
            DynamoDbLocal::start(Storage::InMemory)
                .await
                .unwrap_or_else(|e| panic!("DynamoDB Local: {e}"))
        })
        .await
}

/// A new, empty table on DynamoDB Local, and a client bound to the calling test's runtime.
pub async fn fresh_table() -> (StoreSettings, Client) {
    let local = dynamodb_local().await;
    let settings = local.store_settings(&format!("clavis-test-{}", ulid::Ulid::generate()));
    let client = settings.client().await;
    create_table(&client, &settings.table_name)
        .await
        .unwrap_or_else(|e| panic!("create table: {e}"));
    (settings, client)
}

/// A store plus the clock it reads, which tests move by hand.
pub struct Fixture {
    pub store: SharedStore,
    pub clock: Arc<ManualClock>,
    /// Set for DynamoDB: lets a test inspect the raw table.
    pub table: Option<(Client, String)>,
    /// A new reader of the store's events from their beginning (the table's stream, or the
    /// memory store's log), as a publisher starting afresh reads them.
    pub feed: FeedFactory,
}

impl Fixture {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    pub fn context(&self) -> Context {
        context_at(self.now())
    }
}

/// Starts at the real time, so that TTLs the store computes lie in the real future and
/// DynamoDB Local's own TTL deletion never races a test.
fn test_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(SystemClock.now()))
}

pub fn memory_fixture() -> Fixture {
    let clock = test_clock();
    let store = Arc::new(MemoryStore::new(clock.clone(), Retention::default()));
    let log = Arc::clone(&store);
    Fixture {
        store,
        clock,
        table: None,
        feed: Arc::new(move || Arc::clone(&log) as Arc<dyn EventFeed>),
    }
}

/// New readers of a table's stream, each from the oldest record.
pub fn stream_feed(settings: &StoreSettings, client: Client) -> FeedFactory {
    let streams = settings.streams_client();
    let table = settings.table_name.clone();
    Arc::new(move || {
        Arc::new(StreamFeed::new(
            client.clone(),
            streams.clone(),
            table.clone(),
        )) as Arc<dyn EventFeed>
    })
}

pub type FeedFactory = Arc<dyn Fn() -> Arc<dyn EventFeed> + Send + Sync>;

pub async fn dynamodb_fixture() -> Fixture {
    let (settings, client) = fresh_table().await;
    let clock = test_clock();
    Fixture {
        store: Arc::new(
            settings
                .dynamo_store(clock.clone())
                .await
                .with_webhook_url_key(Arc::new(clavis_core::webhook::UrlKey::generate())),
        ),
        clock,
        feed: stream_feed(&settings, client.clone()),
        table: Some((client, settings.table_name)),
    }
}

pub use clavis_core::testing::{admin, context_at, fake_hash, tenant};

/// A credential of `tenant_name` (expiring at `expires_at`), created by an admin at `now`.
pub fn new_credential(
    tenant_name: &str,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Transition {
    testing::create(
        NewCredential {
            expires_at,
            ..testing::new_credential(tenant_name, &["products:read", "stock:write"])
        },
        fake_hash("first"),
        &context_at(now),
    )
}

/// Runs each named `async fn(Fixture)` of the calling module twice: against the in-memory store
/// and against a fresh table in DynamoDB Local. Both adapters must behave the same.
#[macro_export]
macro_rules! against_both_stores {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $test() { super::$test($crate::memory_fixture()).await })*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
              async fn $test() { super::$test($crate::dynamodb_fixture().await).await })*
        }
    };
}
