//! The expiry sweeper against both stores, and its cost on a large table in DynamoDB Local.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use clavis_core::audit::{Actor, AuditAction};
use clavis_core::credential::{Credential, Status};
use clavis_core::lifecycle;
use clavis_core::store::{AuditScope, PageRequest};
use clavis_core::sweep::{SweepReport, Sweeper};
use clavis_tests::{Fixture, new_credential};

const NOTICE_WINDOW: Duration = Duration::days(7);

clavis_tests::against_both_stores!(
    each_notice_and_each_expiry_is_recorded_once,
    racing_sweeps_record_each_event_once,
    a_sweep_cut_short_leaves_the_rest_for_the_next,
    a_crash_between_records_is_resumed_without_repeats,
    moved_and_revoked_expiries_are_not_recorded,
);

fn sweeper(fx: &Fixture) -> Sweeper {
    Sweeper::new(fx.store.clone(), fx.clock.clone(), NOTICE_WINDOW)
}

async fn insert_expiring_in(fx: &Fixture, expires_in: Duration) -> Credential {
    let created = new_credential("acme", Some(fx.now() + expires_in), fx.now());
    fx.store.insert(&created).await.expect("insert");
    created.credential
}

/// The sweeper's events on one credential, oldest first.
async fn system_events(fx: &Fixture, credential: &Credential) -> Vec<AuditAction> {
    let scope = AuditScope::Credential(credential.tenant.clone(), credential.client_id.clone());
    let page = fx
        .store
        .list_events(&scope, &PageRequest::first(100))
        .await
        .expect("audit");
    let mut events: Vec<AuditAction> = page
        .items
        .into_iter()
        .filter(|e| e.actor == Actor::system())
        .map(|e| e.action)
        .collect();
    events.reverse();
    events
}

async fn sweep(fx: &Fixture) -> SweepReport {
    sweeper(fx).sweep(None).await.expect("sweep")
}

async fn each_notice_and_each_expiry_is_recorded_once(fx: Fixture) {
    let soon: Vec<Credential> = insert_many(&fx, 3, Duration::hours(2)).await;
    let later = insert_expiring_in(&fx, Duration::days(30)).await;
    let never = new_credential("acme", None, fx.now());
    fx.store.insert(&never).await.unwrap();

    let first = sweep(&fx).await;
    assert_eq!(
        (first.recorded_expiring_soon, first.recorded_expired),
        (3, 0)
    );
    assert!(first.complete);
    let again = sweep(&fx).await;
    assert_eq!((again.found, again.items_read), (0, 0), "{again:?}");

    fx.advance(Duration::hours(3));
    // Expired but not yet swept: already expired everywhere, because status is computed.
    let unswept = fx.store.get(&soon[0].client_id).await.unwrap().unwrap();
    assert_eq!(unswept.status(fx.now()), Status::Expired);
    assert_eq!(unswept.expiry_recorded_at, None);

    let second = sweep(&fx).await;
    assert_eq!(
        (second.recorded_expired, second.recorded_expiring_soon),
        (3, 0)
    );
    assert_eq!(second.items_read, 3, "reads only what is due: {second:?}");
    for credential in &soon {
        let expires_at = credential.expires_at.unwrap();
        assert_eq!(
            system_events(&fx, credential).await,
            [
                AuditAction::ExpiringSoon { expires_at },
                AuditAction::Expired { expires_at },
            ]
        );
        let stored = fx.store.get(&credential.client_id).await.unwrap().unwrap();
        assert!(stored.expiry_recorded_at.is_some());
    }
    assert_eq!(sweep(&fx).await.found, 0, "nothing twice");

    // Twenty-three days on, the 30-day credential gets its notice, and then its expiry.
    fx.advance(Duration::days(23));
    assert_eq!(sweep(&fx).await.recorded_expiring_soon, 1);
    fx.advance(Duration::days(7));
    assert_eq!(sweep(&fx).await.recorded_expired, 1);
    assert_eq!(system_events(&fx, &later).await.len(), 2);
    assert!(system_events(&fx, &never.credential).await.is_empty());
}

async fn insert_many(fx: &Fixture, n: usize, expires_in: Duration) -> Vec<Credential> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(insert_expiring_in(fx, expires_in).await);
    }
    out
}

async fn racing_sweeps_record_each_event_once(fx: Fixture) {
    let due = insert_many(&fx, 20, Duration::days(10)).await;
    fx.advance(Duration::days(11));
    let (first, second) = (sweeper(&fx), sweeper(&fx));
    let a = tokio::spawn(async move { first.sweep(None).await });
    let b = tokio::spawn(async move { second.sweep(None).await });
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    assert_eq!(a.recorded_expired + b.recorded_expired, 20, "{a:?} / {b:?}");
    assert_eq!(a.remaining + b.remaining, 0);
    for credential in &due {
        let expires_at = credential.expires_at.unwrap();
        assert_eq!(
            system_events(&fx, credential).await,
            [AuditAction::Expired { expires_at }],
            "one expiry event (the notice window passed unswept)"
        );
    }
}

async fn a_sweep_cut_short_leaves_the_rest_for_the_next(fx: Fixture) {
    let due = insert_many(&fx, 5, Duration::days(10)).await;
    fx.advance(Duration::days(11));
    let cut = sweeper(&fx).sweep(Some(Instant::now())).await.unwrap();
    assert!(!cut.complete);
    assert_eq!(cut.recorded_expired, 0);
    let rest = sweep(&fx).await;
    assert!(rest.complete);
    assert_eq!(rest.recorded_expired, 5);
    for credential in &due {
        assert_eq!(system_events(&fx, credential).await.len(), 1);
    }
}

async fn a_crash_between_records_is_resumed_without_repeats(fx: Fixture) {
    let due = insert_many(&fx, 6, Duration::days(10)).await;
    fx.advance(Duration::days(11));
    // A sweep that recorded two expiries and died before saving its checkpoint.
    for credential in &due[..2] {
        let change = lifecycle::sweep(credential, fx.now(), NOTICE_WINDOW).unwrap();
        fx.store.update(credential.version, &change).await.unwrap();
    }
    let resumed = sweep(&fx).await;
    assert_eq!(resumed.recorded_expired, 4, "{resumed:?}");
    for credential in &due {
        assert_eq!(system_events(&fx, credential).await.len(), 1);
    }
}

async fn moved_and_revoked_expiries_are_not_recorded(fx: Fixture) {
    let moved = insert_expiring_in(&fx, Duration::days(10)).await;
    let revoked = insert_expiring_in(&fx, Duration::days(10)).await;
    let change =
        lifecycle::set_expiry(&moved, Some(fx.now() + Duration::days(100)), &fx.context()).unwrap();
    fx.store.update(moved.version, &change).await.unwrap();
    let change = lifecycle::revoke(&revoked, None, &fx.context()).unwrap();
    fx.store.update(revoked.version, &change).await.unwrap();
    fx.advance(Duration::days(11));
    let report = sweep(&fx).await;
    assert_eq!(report.found, 0, "{report:?}");
    assert!(system_events(&fx, &moved).await.is_empty());
    assert!(system_events(&fx, &revoked).await.is_empty());
}

/// The yardstick: 10,000 credentials, 300 due. Each sweep reads the due items and
/// nothing else, whatever the table holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_table_costs_only_what_is_due() {
    let fx = clavis_tests::dynamodb_fixture().await;
    let store = &fx.store;
    let now = fx.now();
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..10_000u32 {
        // 300 expire in two hours; the rest months or years away, or never.
        let expires_at = match i % 100 {
            _ if i < 300 => Some(now + Duration::hours(2)),
            0..=9 => None,
            n => Some(now + Duration::days(30 + i64::from(n) * 7)),
        };
        let store = Arc::clone(store);
        writes.spawn(async move {
            let created = new_credential("acme", expires_at, now);
            store.insert(&created).await.expect("insert");
        });
        while writes.len() >= 32 {
            writes
                .join_next()
                .await
                .expect("task")
                .expect("insert task");
        }
    }
    while let Some(done) = writes.join_next().await {
        done.expect("insert task");
    }

    let notices = sweep(&fx).await;
    assert_eq!(notices.recorded_expiring_soon, 300, "{notices:?}");
    assert!(notices.items_read <= 300 + 2, "{notices:?}");
    let idle = sweep(&fx).await;
    assert_eq!((idle.found, idle.items_read), (0, 0), "{idle:?}");

    fx.advance(Duration::hours(3));
    let expiries = sweeper(&fx)
        .sweep(Some(Instant::now() + StdDuration::from_secs(600)))
        .await
        .unwrap();
    assert_eq!(expiries.recorded_expired, 300, "{expiries:?}");
    assert!(expiries.items_read <= 300 + 2, "{expiries:?}");
    assert!(expiries.complete);
    assert_eq!(sweep(&fx).await.found, 0);
}
