//! The request counts a tenant reads (and may bill by) across the ends of a gateway's life.
//! Uses are counted in memory and written in batches; a clean stop writes the last batch, so
//! every token issued is counted exactly, and a crash loses at most the uses since the last
//! flush but never counts a token that was not issued.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use clavis_core::ids::ClientId;
use clavis_core::store::{UsageMonth, UsageReader};
use clavis_core::time::{Clock, SystemClock};
use clavis_dynamodb::DynamoStore;
use clavis_local::dynamodb_local::{DynamoDbLocal, Storage};
use clavis_sdk::NewCredential;
use secrecy::ExposeSecret;
use tokio::task::JoinSet;

mod common;

use common::{Serving, serve};

/// A credential of tenant `demo`: its client ID and secret.
#[derive(Clone)]
struct Integration {
    id: String,
    secret: String,
}

/// `n` credentials, created as an admin's program would: with the SDK.
async fn create(gateway: &Serving, n: usize) -> Vec<Integration> {
    let client = clavis_sdk::Client::new(&gateway.url, gateway.token.clone()).expect("a client");
    let tenant = client.tenant("demo");
    let mut integrations = Vec::with_capacity(n);
    for i in 0..n {
        let issued = tenant
            .create(&NewCredential::new(format!("Busy {i}"), ["products:read"]))
            .await
            .unwrap_or_else(|e| panic!("create: {e}; the gateway said:\n{}", gateway.log()));
        integrations.push(Integration {
            id: issued.credential.client_id,
            secret: issued.client_secret.expose_secret().to_owned(),
        });
    }
    integrations
}

/// Asks for a token; its status, or `None` when no answer came.
async fn token(http: &reqwest::Client, url: &str, who: &Integration) -> Option<u16> {
    let reply = http
        .post(format!("{url}/oauth/token"))
        .basic_auth(&who.id, Some(&who.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .ok()?;
    let status = reply.status().as_u16();
    // The answer is whole only once its body is read.
    reply.bytes().await.ok()?;
    Some(status)
}

/// This month's stored counts (and the next month's, should the test straddle the turn).
async fn stored_counts(
    store: &DynamoStore,
    ids: &[ClientId],
    months: &[UsageMonth],
) -> HashMap<ClientId, u64> {
    let mut counts = HashMap::new();
    for month in months {
        for (id, n) in store.request_counts(ids, *month).await.expect("counts") {
            *counts.entry(id).or_default() += n;
        }
    }
    counts
}

/// A gateway serving on a table of its own in DynamoDB Local, and `credentials` credentials of
/// tenant `demo`.
struct Busy {
    _local: DynamoDbLocal,
    _cwd: tempfile::TempDir,
    /// The table, read directly: the counts stay readable after the gateway is gone.
    store: DynamoStore,
    gateway: Serving,
    http: reqwest::Client,
    integrations: Vec<Integration>,
    ids: Vec<ClientId>,
}

async fn busy_gateway(table: &str, credentials: usize) -> Busy {
    let local = DynamoDbLocal::start(Storage::InMemory)
        .await
        .expect("DynamoDB Local");
    let store = local
        .store_settings(table)
        .dynamo_store(Arc::new(SystemClock))
        .await;
    let cwd = tempfile::tempdir().expect("working directory");
    let settings = [
        ("DYNAMODB_ENDPOINT", local.endpoint()),
        ("TABLE_NAME", table),
    ];
    let gateway = serve(cwd.path(), &settings).await;
    let http = reqwest::Client::new();
    let integrations = create(&gateway, credentials).await;
    let ids = integrations
        .iter()
        .map(|i| ClientId::parse(&i.id).expect("client id"))
        .collect();
    Busy {
        _local: local,
        _cwd: cwd,
        store,
        gateway,
        http,
        integrations,
        ids,
    }
}

fn months() -> Vec<UsageMonth> {
    let now = SystemClock.now();
    let mut months = vec![
        UsageMonth::of(now),
        UsageMonth::of(now + chrono::Duration::minutes(10)),
    ];
    months.dedup();
    months
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_clean_stop_every_token_issued_is_counted_exactly() {
    let busy = busy_gateway("usage-clean", 50).await;
    let months = months();

    // One first-time token each (a hash apiece), then 1,000 at once.
    for who in &busy.integrations {
        assert_eq!(token(&busy.http, &busy.gateway.url, who).await, Some(200));
    }
    let mut requests = JoinSet::new();
    for i in 0..1000 {
        let (http, url, who) = (
            busy.http.clone(),
            busy.gateway.url.clone(),
            busy.integrations[i % 50].clone(),
        );
        requests.spawn(async move { (i % 50, token(&http, &url, &who).await) });
    }
    // What is checked is that every token issued is counted. On two cores shared with the
    // other suites, DynamoDB Local can time out under 1,000 requests at once: such a request
    // is answered 503 (nothing issued, nothing counted), never anything else.
    let mut issued = vec![1_u64; busy.integrations.len()];
    while let Some(outcome) = requests.join_next().await {
        match outcome.expect("task") {
            (who, Some(200)) => issued[who] += 1,
            (_, status) => assert_eq!(status, Some(503), "only a timeout may refuse"),
        }
    }
    let refused = 1050 - issued.iter().sum::<u64>();
    assert!(
        refused < 100,
        "{refused} of 1,000 token requests were refused"
    );

    busy.gateway.signal(libc::SIGTERM);
    let mut child = busy.gateway.child;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the gateway stops within 30 s of SIGTERM")
        .expect("exit status");
    assert!(status.success(), "clean stop, got {status}");

    let counts = stored_counts(&busy.store, &busy.ids, &months).await;
    for (id, issued) in busy.ids.iter().zip(&issued) {
        assert_eq!(
            counts.get(id),
            Some(issued),
            "{id}: every token issued counted"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_gateway_never_counts_more_than_it_issued() {
    let busy = busy_gateway("usage-killed", 5).await;
    let months = months();

    // Requests without pause from 20 callers; per credential, how many were sent and how many
    // were refused (an answer other than 200). Every other one may have been issued a token.
    let stop = Arc::new(AtomicBool::new(false));
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..5).map(|_| AtomicU64::new(0)).collect());
    let refused: Arc<Vec<AtomicU64>> = Arc::new((0..5).map(|_| AtomicU64::new(0)).collect());
    let mut callers = JoinSet::new();
    for caller in 0..20 {
        let (http, url) = (busy.http.clone(), busy.gateway.url.clone());
        let (integrations, stop, sent, refused) = (
            busy.integrations.clone(),
            Arc::clone(&stop),
            Arc::clone(&sent),
            Arc::clone(&refused),
        );
        callers.spawn(async move {
            let mut i = caller;
            while !stop.load(Ordering::SeqCst) {
                let k = i % integrations.len();
                sent[k].fetch_add(1, Ordering::SeqCst);
                match token(&http, &url, &integrations[k]).await {
                    Some(200) | None => {}
                    Some(_) => {
                        refused[k].fetch_add(1, Ordering::SeqCst);
                    }
                }
                i += 1;
            }
        });
    }

    // Kill it once a flush has landed, mid-stream: uses counted since are lost with it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let counts = stored_counts(&busy.store, &busy.ids, &months).await;
        if counts.values().sum::<u64>() > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no usage was ever written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    busy.gateway.signal(libc::SIGKILL);
    let mut child = busy.gateway.child;
    child.wait().await.expect("killed");
    stop.store(true, Ordering::SeqCst);
    while callers.join_next().await.is_some() {}

    let counts = stored_counts(&busy.store, &busy.ids, &months).await;
    let mut counted = 0;
    for (k, id) in busy.ids.iter().enumerate() {
        let issued_at_most = sent[k].load(Ordering::SeqCst) - refused[k].load(Ordering::SeqCst);
        let stored = counts.get(id).copied().unwrap_or(0);
        assert!(
            stored <= issued_at_most,
            "{id}: {stored} counted, at most {issued_at_most} issued"
        );
        counted += stored;
    }
    assert!(counted > 0);
}
