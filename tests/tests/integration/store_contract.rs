//! The store contract: every test runs against the in-memory adapter and against DynamoDB
//! Local, and both must behave the same.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use clavis_core::audit::AuditEvent;
use clavis_core::credential::{Credential, Name, Reason, Scopes, Status};
use clavis_core::idempotency::{Fingerprint, IdempotencyKey, IdempotencyRecord, Operation};
use clavis_core::ids::ClientId;
use clavis_core::lifecycle::{self, DetailsPatch, GracePeriod, Transition};
use clavis_core::policy::{PolicyFields, StoredPolicy, TenantPolicy};
use clavis_core::source::SourceAddress;
use clavis_core::store::{
    Attempt, AuditScope, CredentialQuery, CredentialState, Cursor, Failures, Page, PageRequest,
    StateQuery, StoreError, UsageMonth, UsageShard,
};
use clavis_core::time::Timestamp;
use clavis_core::usage_days::{DayCounts, RefusalReason, UsageRange};
use clavis_tests::{Fixture, fake_hash, new_credential, tenant};

clavis_tests::against_both_stores!(
    inserted_credentials_read_back_whole,
    client_ids_are_never_reused,
    unknown_credentials_are_absent,
    every_lifecycle_change_persists_with_its_event,
    stale_versions_conflict_and_write_nothing,
    racing_rotations_have_exactly_one_winner,
    deletes_are_versioned_and_keep_the_audit_trail,
    listing_pages_newest_first_without_gaps_or_repeats,
    listing_filters_on_status_computed_now,
    filtered_listing_pages_across_sparse_matches,
    forged_and_foreign_cursors_are_refused,
    audit_trails_page_per_credential_and_per_tenant,
    ended_credentials_vanish_after_their_retention,
    audit_events_vanish_after_their_retention,
    usage_counts_per_month_and_survives_lifecycle_writes,
    denied_tokens_are_remembered_until_they_expire,
    a_credentials_state_reads_it_its_months_uses_and_the_deny_list_together,
    failures_count_per_client_and_source_and_per_source_until_the_window_ends,
    idempotency_records_land_with_their_change_and_read_back_whole,
    a_taken_idempotency_key_refuses_the_whole_write,
    a_taken_key_explains_a_stale_rotation_too,
    idempotency_records_vanish_after_a_day_and_the_key_is_free_again,
    policies_are_versioned_per_tenant_and_land_with_their_event,
    days_add_up_per_credential_and_read_back_per_credential_and_per_tenant,
    listing_finds_the_credentials_nobody_used_lately,
    a_policy_is_read_with_the_credential_where_it_is_asked_for,
    counts_written_to_every_shard_read_back_as_one,
);

async fn insert(fx: &Fixture, tenant_name: &str) -> Credential {
    let created = new_credential(tenant_name, Some(fx.now() + Duration::days(30)), fx.now());
    fx.store.insert(&created).await.expect("insert");
    created.credential
}

async fn apply(fx: &Fixture, before: &Credential, change: Transition) -> Credential {
    fx.store
        .update(before.version, &change)
        .await
        .expect("update");
    change.credential
}

async fn events(fx: &Fixture, credential: &Credential) -> Vec<AuditEvent> {
    let scope = AuditScope::Credential(credential.tenant.clone(), credential.client_id.clone());
    fx.store
        .list_events(&scope, &PageRequest::first(100))
        .await
        .expect("audit")
        .items
}

/// Writes one usage batch of `uses` at `at`, as a recorder's flush does.
async fn record_uses(
    fx: &Fixture,
    credential: &Credential,
    uses: u64,
    at: Timestamp,
    refresh: bool,
) {
    let batch = clavis_core::testing::uses(credential, uses, at, refresh);
    fx.store.record_uses(&batch).await.expect("uses recorded");
}

/// The first `limit` credentials listed for the tenant `acme`, newest first.
async fn listed(fx: &Fixture, limit: usize) -> Page<Credential> {
    fx.store
        .list(&CredentialQuery {
            tenant: &tenant("acme"),
            status: None,
            unused_since: None,
            page: &PageRequest::first(limit),
        })
        .await
        .expect("a listing")
}

fn kinds(events: &[AuditEvent]) -> Vec<&'static str> {
    events.iter().map(AuditEvent::kind).collect()
}

async fn inserted_credentials_read_back_whole(fx: Fixture) {
    let credential = insert(&fx, "acme").await;
    let stored = fx.store.get(&credential.client_id).await.unwrap().unwrap();
    assert_eq!(stored, credential);
    assert_eq!(
        kinds(&events(&fx, &credential).await),
        ["credential.created"]
    );
}

async fn client_ids_are_never_reused(fx: Fixture) {
    let created = new_credential("acme", None, fx.now());
    fx.store.insert(&created).await.unwrap();
    let mut again = new_credential("acme", None, fx.now());
    again.credential.client_id = created.credential.client_id.clone();
    again.event.client_id = Some(created.credential.client_id.clone());
    assert!(matches!(
        fx.store.insert(&again).await,
        Err(StoreError::AlreadyExists)
    ));
    let stored = fx
        .store
        .get(&created.credential.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, created.credential);
    assert_eq!(
        events(&fx, &created.credential).await.len(),
        1,
        "the refused insert wrote no event"
    );
}

async fn unknown_credentials_are_absent(fx: Fixture) {
    assert!(fx.store.get(&ClientId::generate()).await.unwrap().is_none());
}

async fn every_lifecycle_change_persists_with_its_event(fx: Fixture) {
    let c = insert(&fx, "acme").await;
    let ctx = fx.context();
    let c = apply(&fx, &c, lifecycle::suspend(&c, &ctx).unwrap()).await;
    let c = apply(&fx, &c, lifecycle::reactivate(&c, &ctx).unwrap()).await;
    let grace = GracePeriod::from_seconds(600).unwrap();
    let c = apply(
        &fx,
        &c,
        lifecycle::rotate_secret(&c, fake_hash("second"), grace, &ctx).unwrap(),
    )
    .await;
    let c = apply(&fx, &c, lifecycle::set_expiry(&c, None, &ctx).unwrap()).await;
    let patch = DetailsPatch {
        name: Some(Name::parse("Renamed").unwrap()),
        scopes: Some(Scopes::parse(&["products:read"]).unwrap()),
        ..DetailsPatch::default()
    };
    let c = apply(
        &fx,
        &c,
        lifecycle::update_details(&c, patch, &ctx).unwrap().unwrap(),
    )
    .await;
    let stored = fx.store.get(&c.client_id).await.unwrap().unwrap();
    assert_eq!(
        stored, c,
        "suspend, reactivate, rotate, expiry and update all round-trip"
    );
    let reason = Some(Reason::parse("integration retired").unwrap());
    let c = apply(&fx, &c, lifecycle::revoke(&c, reason, &ctx).unwrap()).await;
    let stored = fx.store.get(&c.client_id).await.unwrap().unwrap();
    assert_eq!(stored, c);
    assert_eq!(stored.status(fx.now()), Status::Revoked);
    assert_eq!(stored.version, 7);
    assert_eq!(
        kinds(&events(&fx, &c).await),
        [
            "credential.revoked",
            "credential.updated",
            "credential.expiry_changed",
            "credential.secret_rotated",
            "credential.reactivated",
            "credential.suspended",
            "credential.created",
        ],
        "one event per change, newest first"
    );
}

async fn stale_versions_conflict_and_write_nothing(fx: Fixture) {
    let c = insert(&fx, "acme").await;
    let ctx = fx.context();
    let current = apply(&fx, &c, lifecycle::suspend(&c, &ctx).unwrap()).await;
    // A writer that read version 1 tries to revoke.
    let stale = lifecycle::revoke(&c, None, &ctx).unwrap();
    assert!(matches!(
        fx.store.update(c.version, &stale).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(fx.store.get(&c.client_id).await.unwrap().unwrap(), current);
    assert_eq!(
        kinds(&events(&fx, &c).await),
        ["credential.suspended", "credential.created"]
    );
}

async fn racing_rotations_have_exactly_one_winner(fx: Fixture) {
    let c = insert(&fx, "acme").await;
    let fx = Arc::new(fx);
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let fx = Arc::clone(&fx);
            let c = c.clone();
            tokio::spawn(async move {
                let hash = fake_hash(&format!("racer{i}"));
                let change =
                    lifecycle::rotate_secret(&c, hash.clone(), GracePeriod::none(), &fx.context())
                        .unwrap();
                fx.store.update(c.version, &change).await.map(|()| hash)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            Ok(hash) => winners.push(hash),
            Err(StoreError::Conflict) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one of the racing rotations wins");
    let stored = fx.store.get(&c.client_id).await.unwrap().unwrap();
    assert_eq!(stored.secret.hash, winners[0]);
    assert_eq!(stored.version, c.version + 1);
    assert_eq!(
        kinds(&events(&fx, &c).await),
        ["credential.secret_rotated", "credential.created"]
    );
}

async fn deletes_are_versioned_and_keep_the_audit_trail(fx: Fixture) {
    let c = insert(&fx, "acme").await;
    let ctx = fx.context();
    let suspended = apply(&fx, &c, lifecycle::suspend(&c, &ctx).unwrap()).await;
    let stale_delete = lifecycle::delete(&c, &ctx);
    assert!(matches!(
        fx.store.delete(&c, &stale_delete).await,
        Err(StoreError::Conflict)
    ));
    assert!(fx.store.get(&c.client_id).await.unwrap().is_some());
    fx.store
        .delete(&suspended, &lifecycle::delete(&suspended, &ctx))
        .await
        .unwrap();
    assert!(fx.store.get(&c.client_id).await.unwrap().is_none());
    assert_eq!(
        kinds(&events(&fx, &c).await),
        [
            "credential.deleted",
            "credential.suspended",
            "credential.created"
        ]
    );
    let listed = listed(&fx, 10).await;
    assert!(listed.items.is_empty());
}

/// Pages through a listing, returning every client ID in order.
async fn page_through(
    fx: &Fixture,
    status: Option<Status>,
    limit: usize,
) -> (Vec<ClientId>, usize) {
    let mut seen = Vec::new();
    let mut page = PageRequest::first(limit);
    let mut pages = 0;
    loop {
        let result = fx
            .store
            .list(&CredentialQuery {
                tenant: &tenant("acme"),
                status,
                unused_since: None,
                page: &page,
            })
            .await
            .unwrap();
        pages += 1;
        assert!(result.items.len() <= limit);
        seen.extend(result.items.iter().map(|c| c.client_id.clone()));
        match result.next_cursor {
            Some(cursor) => {
                let token = cursor.encode();
                page = PageRequest::after(limit, Cursor::decode(&token).unwrap());
            }
            None => return (seen, pages),
        }
        assert!(pages < 100, "pagination does not end");
    }
}

async fn listing_pages_newest_first_without_gaps_or_repeats(fx: Fixture) {
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(insert(&fx, "acme").await.client_id);
        insert(&fx, "globex").await;
        // Three share a second, to exercise the tie-break on client ID.
        if i % 3 == 2 {
            fx.advance(Duration::seconds(1));
        }
    }
    let (seen, pages) = page_through(&fx, None, 3).await;
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7, "no repeats");
    assert_eq!(
        seen.iter().collect::<HashSet<_>>(),
        created.iter().collect::<HashSet<_>>(),
        "no other tenant, no gaps"
    );
    let all = listed(&fx, 100).await;
    let created_at: Vec<_> = all.items.iter().map(|c| c.created_at).collect();
    assert!(created_at.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(all.next_cursor.is_none());
    // A page that ends exactly at the last item has no next page.
    let (_, pages) = page_through(&fx, None, 7).await;
    assert_eq!(pages, 1);
}

async fn listing_filters_on_status_computed_now(fx: Fixture) {
    let ctx = fx.context();
    let active = insert(&fx, "acme").await;
    let s = insert(&fx, "acme").await;
    let suspended = apply(&fx, &s, lifecycle::suspend(&s, &ctx).unwrap()).await;
    let r = insert(&fx, "acme").await;
    let revoked = apply(&fx, &r, lifecycle::revoke(&r, None, &ctx).unwrap()).await;
    let soon = new_credential("acme", Some(fx.now() + Duration::hours(1)), fx.now());
    fx.store.insert(&soon).await.unwrap();
    let no_expiry = new_credential("acme", None, fx.now());
    fx.store.insert(&no_expiry).await.unwrap();
    // The sweeper has not run: expiry is computed at read time.
    fx.advance(Duration::hours(2));
    let ids = |status| {
        let fx = &fx;
        async move {
            let page = fx
                .store
                .list(&CredentialQuery {
                    tenant: &tenant("acme"),
                    status: Some(status),
                    unused_since: None,
                    page: &PageRequest::first(100),
                })
                .await
                .unwrap();
            page.items
                .into_iter()
                .map(|c| c.client_id)
                .collect::<HashSet<_>>()
        }
    };
    assert_eq!(
        ids(Status::Active).await,
        HashSet::from([
            active.client_id.clone(),
            no_expiry.credential.client_id.clone()
        ])
    );
    assert_eq!(
        ids(Status::Suspended).await,
        HashSet::from([suspended.client_id.clone()])
    );
    assert_eq!(
        ids(Status::Expired).await,
        HashSet::from([soon.credential.client_id.clone()])
    );
    assert_eq!(
        ids(Status::Revoked).await,
        HashSet::from([revoked.client_id.clone()])
    );
    // Past every expiry: expired outranks suspended, revoked outranks expired.
    fx.advance(Duration::days(31));
    assert_eq!(
        ids(Status::Revoked).await,
        HashSet::from([revoked.client_id])
    );
    assert_eq!(
        ids(Status::Expired).await,
        HashSet::from([
            active.client_id,
            suspended.client_id,
            soon.credential.client_id
        ])
    );
    assert!(ids(Status::Suspended).await.is_empty());
}

async fn filtered_listing_pages_across_sparse_matches(fx: Fixture) {
    let ctx = fx.context();
    let mut suspended = HashSet::new();
    for i in 0..30 {
        let c = insert(&fx, "acme").await;
        if i % 7 == 0 {
            let s = apply(&fx, &c, lifecycle::suspend(&c, &ctx).unwrap()).await;
            suspended.insert(s.client_id);
        }
        fx.advance(Duration::seconds(1));
    }
    let (seen, _) = page_through(&fx, Some(Status::Suspended), 2).await;
    assert_eq!(seen.len(), suspended.len());
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), suspended);
}

async fn forged_and_foreign_cursors_are_refused(fx: Fixture) {
    for token in ["not-base64!", "e30", "eyJrIjoiQ1JFRCMiLCJjIjoieCJ9"] {
        assert!(
            matches!(Cursor::decode(token), Err(StoreError::InvalidCursor)),
            "{token}"
        );
    }
    let c = insert(&fx, "acme").await;
    insert(&fx, "acme").await;
    let credential_cursor = listed(&fx, 1).await.next_cursor.unwrap();
    let audit_scope = AuditScope::Tenant(tenant("acme"));
    let result = fx
        .store
        .list_events(&audit_scope, &PageRequest::after(10, credential_cursor))
        .await;
    assert!(
        matches!(result, Err(StoreError::InvalidCursor)),
        "a credential cursor is no audit cursor"
    );
    let audit_cursor = fx
        .store
        .list_events(&audit_scope, &PageRequest::first(1))
        .await
        .unwrap()
        .next_cursor
        .unwrap();
    let result = fx
        .store
        .list(&CredentialQuery {
            tenant: &tenant("acme"),
            status: None,
            unused_since: None,
            page: &PageRequest::after(10, audit_cursor),
        })
        .await;
    assert!(
        matches!(result, Err(StoreError::InvalidCursor)),
        "an audit cursor is no credential cursor"
    );
    // A well-formed cursor from one tenant's listing only positions another tenant's listing.
    let cursor = listed(&fx, 1).await.next_cursor.unwrap();
    let other = fx
        .store
        .list(&CredentialQuery {
            tenant: &tenant("globex"),
            status: None,
            unused_since: None,
            page: &PageRequest::after(10, cursor),
        })
        .await
        .unwrap();
    assert!(other.items.is_empty());
    assert!(fx.store.get(&c.client_id).await.unwrap().is_some());
}

async fn audit_trails_page_per_credential_and_per_tenant(fx: Fixture) {
    let a = insert(&fx, "acme").await;
    fx.advance(Duration::seconds(1));
    let b = insert(&fx, "acme").await;
    let g = insert(&fx, "globex").await;
    let mut current = a.clone();
    for _ in 0..4 {
        fx.advance(Duration::seconds(1));
        let ctx = fx.context();
        current = apply(&fx, &current, lifecycle::suspend(&current, &ctx).unwrap()).await;
        current = apply(
            &fx,
            &current,
            lifecycle::reactivate(&current, &ctx).unwrap(),
        )
        .await;
    }
    // Per credential: 1 created + 8 changes, newest first, across pages of 4.
    let scope = AuditScope::Credential(tenant("acme"), a.client_id.clone());
    let mut all = Vec::new();
    let mut page = PageRequest::first(4);
    loop {
        let result = fx.store.list_events(&scope, &page).await.unwrap();
        all.extend(result.items);
        match result.next_cursor {
            Some(cursor) => page = PageRequest::after(4, cursor),
            None => break,
        }
    }
    assert_eq!(all.len(), 9);
    assert!(
        all.iter()
            .all(|e| e.client_id.as_ref() == Some(&a.client_id))
    );
    assert!(all.windows(2).all(|w| w[0].at >= w[1].at), "newest first");
    assert_eq!(all.last().unwrap().kind(), "credential.created");
    // Per tenant: both acme credentials, not globex's.
    let tenant_events = fx
        .store
        .list_events(
            &AuditScope::Tenant(tenant("acme")),
            &PageRequest::first(100),
        )
        .await
        .unwrap();
    assert_eq!(tenant_events.items.len(), 10);
    assert!(
        tenant_events
            .items
            .iter()
            .any(|e| e.client_id.as_ref() == Some(&b.client_id))
    );
    assert!(
        !tenant_events
            .items
            .iter()
            .any(|e| e.client_id.as_ref() == Some(&g.client_id))
    );
    // A credential's trail is not readable through another tenant.
    let foreign = AuditScope::Credential(tenant("globex"), a.client_id.clone());
    assert!(
        fx.store
            .list_events(&foreign, &PageRequest::first(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn ended_credentials_vanish_after_their_retention(fx: Fixture) {
    let c = insert(&fx, "acme").await;
    let revoked = apply(&fx, &c, lifecycle::revoke(&c, None, &fx.context()).unwrap()).await;
    let live = insert(&fx, "acme").await;
    fx.advance(Duration::days(89));
    assert!(
        fx.store.get(&revoked.client_id).await.unwrap().is_some(),
        "still visible within retention"
    );
    fx.advance(Duration::days(1));
    assert!(
        fx.store.get(&revoked.client_id).await.unwrap().is_none(),
        "gone once its ttl passes"
    );
    let listed = listed(&fx, 10).await;
    let ids: Vec<_> = listed.items.iter().map(|c| &c.client_id).collect();
    assert_eq!(
        ids,
        [&live.client_id],
        "listings skip items past their ttl too"
    );
    // Recorded expiry: kept for the retention after the expiry itself.
    let expiring = new_credential("acme", Some(fx.now() + Duration::hours(1)), fx.now());
    fx.store.insert(&expiring).await.unwrap();
    fx.advance(Duration::hours(2));
    let recorded = lifecycle::record_expiry(&expiring.credential, fx.now()).unwrap();
    fx.store
        .update(expiring.credential.version, &recorded)
        .await
        .unwrap();
    fx.advance(Duration::days(89));
    assert!(
        fx.store
            .get(&expiring.credential.client_id)
            .await
            .unwrap()
            .is_some()
    );
    fx.advance(Duration::days(1));
    assert!(
        fx.store
            .get(&expiring.credential.client_id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn audit_events_vanish_after_their_retention(fx: Fixture) {
    let c = insert(&fx, "acme").await;
    fx.advance(Duration::days(399));
    assert_eq!(events(&fx, &c).await.len(), 1);
    fx.advance(Duration::days(1));
    assert!(events(&fx, &c).await.is_empty());
    let tenant_events = fx
        .store
        .list_events(&AuditScope::Tenant(tenant("acme")), &PageRequest::first(10))
        .await
        .unwrap();
    assert!(tenant_events.items.is_empty());
}

async fn usage_counts_per_month_and_survives_lifecycle_writes(fx: Fixture) {
    let c = insert(&fx, "acme").await;
    let other = insert(&fx, "acme").await;
    let now = fx.now();
    // One use, then a batch of 40: each one atomic write.
    record_uses(&fx, &c, 1, now, true).await;
    record_uses(&fx, &c, 40, now, true).await;
    let next_month = now + Duration::days(32);
    record_uses(&fx, &c, 1, next_month, true).await;
    // Counted, but last_used_at left alone when the caller does not ask to refresh it.
    record_uses(&fx, &c, 1, next_month + Duration::seconds(5), false).await;
    let ids = [c.client_id.clone(), other.client_id.clone()];
    let this = fx
        .store
        .request_counts(&ids, UsageMonth::of(now))
        .await
        .unwrap();
    assert_eq!(this.get(&c.client_id), Some(&41));
    assert_eq!(this.get(&other.client_id), None);
    let next = fx
        .store
        .request_counts(&ids, UsageMonth::of(next_month))
        .await
        .unwrap();
    assert_eq!(next.get(&c.client_id), Some(&2));
    // A batch written again (its first answer lost) counts once.
    let batch = clavis_core::testing::uses(&c, 7, next_month, false);
    fx.store.record_uses(&batch).await.unwrap();
    fx.store.record_uses(&batch).await.unwrap();
    let next = fx
        .store
        .request_counts(&ids, UsageMonth::of(next_month))
        .await
        .unwrap();
    assert_eq!(next.get(&c.client_id), Some(&9));
    let stored = fx.store.get(&c.client_id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(next_month));
    // A lifecycle write built from a read taken before the use must not erase it.
    let change = lifecycle::suspend(&c, &fx.context()).unwrap();
    fx.store.update(c.version, &change).await.unwrap();
    let stored = fx.store.get(&c.client_id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(next_month));
    assert_eq!(stored.status(fx.now()), Status::Suspended);
    // Using a deleted credential records nothing on it and does not fail.
    fx.store
        .delete(&other, &lifecycle::delete(&other, &fx.context()))
        .await
        .unwrap();
    record_uses(&fx, &other, 1, now, true).await;
    assert!(fx.store.get(&other.client_id).await.unwrap().is_none());
}

async fn denied_tokens_are_remembered_until_they_expire(fx: Fixture) {
    let exp = fx.now() + Duration::hours(1);
    let anyone = ClientId::generate();
    let denied = async |jti: &str| {
        fx.store
            .credential_state(&StateQuery {
                client_id: &anyone,
                jti: Some(jti),
                month: None,
                policy_of: None,
            })
            .await
            .unwrap()
            .token_denied
    };
    assert!(!denied("jti-1").await);
    fx.store.deny_token("jti-1", exp).await.unwrap();
    assert!(denied("jti-1").await);
    assert!(!denied("jti-2").await);
    fx.advance(Duration::hours(1));
    assert!(!denied("jti-1").await, "past exp the token is dead anyway");
}

async fn a_credentials_state_reads_it_its_months_uses_and_the_deny_list_together(fx: Fixture) {
    let c = insert(&fx, "acme").await;
    let now = fx.now();
    let month = UsageMonth::of(now);
    let state = |jti: Option<&'static str>| {
        let (fx, id) = (&fx, c.client_id.clone());
        async move {
            fx.store
                .credential_state(&StateQuery {
                    client_id: &id,
                    jti,
                    month: Some(month),
                    policy_of: None,
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(
        state(Some("jti-a")).await,
        CredentialState {
            credential: Some(c.clone()),
            token_denied: false,
            uses_this_month: Some(0),
            policy: None,
        }
    );
    record_uses(&fx, &c, 12, now, false).await;
    record_uses(&fx, &c, 5, now + Duration::days(40), false).await;
    fx.store
        .deny_token("jti-a", now + Duration::minutes(30))
        .await
        .unwrap();
    let read = state(Some("jti-a")).await;
    assert_eq!((read.token_denied, read.uses_this_month), (true, Some(12)));
    assert_eq!(read.credential.as_ref(), Some(&c));
    let other_token = state(Some("jti-b")).await;
    assert!(!other_token.token_denied);
    assert!(!state(None).await.token_denied, "no token, nothing denied");
    // Past the token's expiry its deny-list entry is gone (TTL), as is nothing else.
    fx.advance(Duration::minutes(31));
    let later = state(Some("jti-a")).await;
    assert_eq!(
        (later.token_denied, later.uses_this_month),
        (false, Some(12))
    );
    // Deleted: no credential, its uses still read.
    fx.store
        .delete(&c, &lifecycle::delete(&c, &fx.context()))
        .await
        .unwrap();
    let gone = state(Some("jti-b")).await;
    assert_eq!((gone.credential, gone.uses_this_month), (None, Some(12)));
    // Uses not asked for are not read.
    let without = fx
        .store
        .credential_state(&StateQuery {
            client_id: &c.client_id,
            jti: Some("jti-a"),
            month: None,
            policy_of: None,
        })
        .await
        .unwrap();
    assert_eq!(without.uses_this_month, None);
}

async fn failures_count_per_client_and_source_and_per_source_until_the_window_ends(fx: Fixture) {
    let a = ClientId::generate();
    let b = ClientId::generate();
    let (here, there) = (
        SourceAddress::parse("192.0.2.1").unwrap(),
        SourceAddress::parse("2001:db8::1").unwrap(),
    );
    let window = fx.now();
    let end = window + Duration::minutes(5);
    let attempt = |client_id, source, window_start: Timestamp| Attempt {
        client_id,
        source,
        window_start,
        window_end: window_start + Duration::minutes(5),
    };
    let failures = async |id, source, window| {
        fx.store
            .credential_and_failures(&attempt(id, source, window), None)
            .await
            .unwrap()
            .failures
    };
    let fail = async |id, source| {
        let failed = attempt(id, source, window);
        fx.store.record_failure(&failed).await.unwrap();
    };
    let counts = |client_from_source, source| Failures {
        client_from_source,
        source,
    };
    assert_eq!(failures(&a, &here, window).await, counts(0, 0));
    for _ in 0..3 {
        fail(&a, &here).await;
    }
    fail(&b, &here).await;
    fail(&a, &there).await;
    assert_eq!(failures(&a, &here, window).await, counts(3, 4));
    assert_eq!(failures(&b, &here, window).await, counts(1, 4));
    assert_eq!(failures(&a, &there, window).await, counts(1, 1));
    let read = fx
        .store
        .credential_and_failures(&attempt(&a, &here, window), None)
        .await
        .unwrap();
    assert_eq!((read.credential, read.failures), (None, counts(3, 4)));
    assert!(read.policy.is_none(), "not asked for");
    assert_eq!(
        failures(&a, &here, end).await,
        counts(0, 0),
        "a new window starts from zero"
    );
    fx.advance(Duration::minutes(5));
    assert_eq!(
        failures(&a, &here, window).await,
        counts(0, 0),
        "the counters expire with their window"
    );
}

fn record(
    fx: &Fixture,
    key: &str,
    client_id: &ClientId,
    operation: Operation,
) -> IdempotencyRecord {
    let tenant = tenant("acme");
    let key = IdempotencyKey::parse(key).unwrap();
    let digest = key.digest(&tenant);
    IdempotencyRecord {
        tenant,
        key: digest,
        operation,
        client_id: client_id.clone(),
        version: 1,
        fingerprint: Fingerprint::of(&[b"request"]),
        response: serde_json::json!({"credential": {"client_id": client_id.to_string(), "version": 1}, "client_secret_notice": "once"}),
        sealed_secret: vec![0, 1, 2, 254, 255],
        created_at: fx.now(),
        expires_at: fx.now() + clavis_core::idempotency::REMEMBERED_FOR,
    }
}

const KEY: &str = "0f6a1c9e-3b2d-4e8f-a7c5-9d1b2e3f4a5b";

/// The live record under `record`'s tenant and key, whatever record that is now.
async fn recalled(fx: &Fixture, record: &IdempotencyRecord) -> Option<IdempotencyRecord> {
    fx.store
        .recall(&record.tenant, &record.key)
        .await
        .expect("recall")
}

/// A new credential of acme inserted under `KEY`: the transition, its record, and how the
/// write went.
async fn create_under_key(fx: &Fixture) -> (Transition, IdempotencyRecord, Result<(), StoreError>) {
    let created = new_credential("acme", None, fx.now());
    let remembered = record(fx, KEY, &created.credential.client_id, Operation::Create);
    let written = fx.store.insert_remembered(&created, &remembered).await;
    (created, remembered, written)
}

async fn idempotency_records_land_with_their_change_and_read_back_whole(fx: Fixture) {
    let created = new_credential("acme", None, fx.now());
    let remembered = record(&fx, KEY, &created.credential.client_id, Operation::Create);
    assert!(recalled(&fx, &remembered).await.is_none());
    fx.store
        .insert_remembered(&created, &remembered)
        .await
        .unwrap();
    assert_eq!(recalled(&fx, &remembered).await.as_ref(), Some(&remembered));
    // Per tenant: the same key elsewhere is another record.
    let elsewhere = IdempotencyKey::parse(KEY)
        .unwrap()
        .digest(&tenant("globex"));
    assert!(
        fx.store
            .recall(&tenant("globex"), &elsewhere)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        fx.store.get(&created.credential.client_id).await.unwrap(),
        Some(created.credential.clone())
    );

    let c = created.credential;
    let rotation =
        lifecycle::rotate_secret(&c, fake_hash("rotated"), GracePeriod::none(), &fx.context())
            .unwrap();
    let rotated = record(&fx, &"r".repeat(40), &c.client_id, Operation::RotateSecret);
    fx.store
        .update_remembered(c.version, &rotation, &rotated)
        .await
        .unwrap();
    assert_eq!(recalled(&fx, &rotated).await, Some(rotated));
    assert_eq!(
        kinds(&events(&fx, &c).await),
        ["credential.secret_rotated", "credential.created"]
    );
}

async fn a_taken_idempotency_key_refuses_the_whole_write(fx: Fixture) {
    let (first, remembered, written) = create_under_key(&fx).await;
    written.unwrap();
    // A twin: another credential under the same key.
    let (twin, _, refused) = create_under_key(&fx).await;
    assert!(matches!(refused, Err(StoreError::IdempotencyKeyTaken)));
    assert!(
        fx.store
            .get(&twin.credential.client_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(events(&fx, &twin.credential).await.is_empty());
    assert_eq!(
        recalled(&fx, &remembered).await,
        Some(remembered),
        "the first record stays as it was"
    );

    // An update under a taken key writes nothing either.
    let c = first.credential;
    let rotation =
        lifecycle::rotate_secret(&c, fake_hash("rotated"), GracePeriod::none(), &fx.context())
            .unwrap();
    let again = record(&fx, KEY, &c.client_id, Operation::RotateSecret);
    assert!(matches!(
        fx.store
            .update_remembered(c.version, &rotation, &again)
            .await,
        Err(StoreError::IdempotencyKeyTaken)
    ));
    assert_eq!(fx.store.get(&c.client_id).await.unwrap(), Some(c.clone()));
    assert_eq!(kinds(&events(&fx, &c).await), ["credential.created"]);
}

async fn a_taken_key_explains_a_stale_rotation_too(fx: Fixture) {
    // Two rotations with one key read the same version; the first wins. The second fails on
    // both the version and the key, and the key is the reason that tells the caller what to do.
    let c = insert(&fx, "acme").await;
    let key = "t".repeat(40);
    let first =
        lifecycle::rotate_secret(&c, fake_hash("first"), GracePeriod::none(), &fx.context())
            .unwrap();
    fx.store
        .update_remembered(
            c.version,
            &first,
            &record(&fx, &key, &c.client_id, Operation::RotateSecret),
        )
        .await
        .unwrap();
    let second =
        lifecycle::rotate_secret(&c, fake_hash("second"), GracePeriod::none(), &fx.context())
            .unwrap();
    assert!(matches!(
        fx.store
            .update_remembered(
                c.version,
                &second,
                &record(&fx, &key, &c.client_id, Operation::RotateSecret)
            )
            .await,
        Err(StoreError::IdempotencyKeyTaken)
    ));
    let stored = fx.store.get(&c.client_id).await.unwrap().unwrap();
    assert_eq!(stored.secret.hash, fake_hash("first"));
}

async fn idempotency_records_vanish_after_a_day_and_the_key_is_free_again(fx: Fixture) {
    let (_, remembered, written) = create_under_key(&fx).await;
    written.unwrap();
    fx.advance(Duration::hours(23));
    assert!(recalled(&fx, &remembered).await.is_some());
    fx.advance(Duration::hours(1));
    assert!(
        recalled(&fx, &remembered).await.is_none(),
        "past its TTL, whether or not DynamoDB has deleted it yet"
    );
    let (_, later_record, written) = create_under_key(&fx).await;
    written.unwrap();
    assert_eq!(recalled(&fx, &later_record).await, Some(later_record));
}

fn tightened(days: i64) -> TenantPolicy {
    TenantPolicy::new(PolicyFields {
        max_lifetime_days: Some(days),
        allowed_scopes: Some(Scopes::parse(&["products:read"]).unwrap()),
        ..PolicyFields::default()
    })
    .unwrap()
}

async fn policies_are_versioned_per_tenant_and_land_with_their_event(fx: Fixture) {
    let acme = tenant("acme");
    let open = fx.store.policy(&acme).await.unwrap();
    assert_eq!(
        open,
        StoredPolicy::open(acme.clone()),
        "never set: open, version 0"
    );

    let first = lifecycle::replace_policy(&open, tightened(90), &fx.context());
    fx.store.put_policy(0, &first).await.unwrap();
    let stored = fx.store.policy(&acme).await.unwrap();
    assert_eq!(stored, first.policy, "read back whole");
    assert_eq!(stored.version, 1);

    // A writer who read version 0 lost: nothing of its write lands, event included.
    let stale = lifecycle::replace_policy(&open, tightened(30), &fx.context());
    assert!(matches!(
        fx.store.put_policy(0, &stale).await,
        Err(StoreError::Conflict)
    ));
    let second = lifecycle::replace_policy(&stored, tightened(30), &fx.context());
    assert!(matches!(
        fx.store.put_policy(2, &second).await,
        Err(StoreError::Conflict)
    ));
    fx.store.put_policy(1, &second).await.unwrap();
    assert_eq!(fx.store.policy(&acme).await.unwrap().version, 2);
    assert_eq!(
        fx.store.policy(&tenant("globex")).await.unwrap(),
        StoredPolicy::open(tenant("globex")),
        "another tenant's policy is its own"
    );

    // The tenant's trail holds one event per landed change, beside its credentials' events,
    // and pages across both kinds.
    let c = insert(&fx, "acme").await;
    let mut seen = Vec::new();
    let mut page = PageRequest::first(1);
    loop {
        let found = fx
            .store
            .list_events(&AuditScope::Tenant(acme.clone()), &page)
            .await
            .unwrap();
        seen.extend(found.items);
        match found.next_cursor {
            Some(cursor) => {
                let token = Cursor::decode(&cursor.encode()).unwrap();
                page = PageRequest::after(1, token);
            }
            None => break,
        }
    }
    let policy_events: Vec<&AuditEvent> = seen
        .iter()
        .filter(|e| e.kind() == "tenant.policy_changed")
        .collect();
    assert_eq!(policy_events.len(), 2, "{seen:?}");
    assert!(policy_events.iter().all(|e| e.client_id.is_none()));
    assert_eq!(policy_events[0].id, second.event.id, "newest first");
    assert!(
        seen.iter()
            .any(|e| e.client_id.as_ref() == Some(&c.client_id))
    );
    assert!(
        events(&fx, &c)
            .await
            .iter()
            .all(|e| e.kind() != "tenant.policy_changed"),
        "not in a credential's trail"
    );
}

async fn a_policy_is_read_with_the_credential_where_it_is_asked_for(fx: Fixture) {
    let c = insert(&fx, "acme").await;
    let acme = tenant("acme");
    let source = SourceAddress::parse("192.0.2.7").unwrap();
    let attempt = Attempt {
        client_id: &c.client_id,
        source: &source,
        window_start: fx.now(),
        window_end: fx.now() + Duration::minutes(5),
    };
    let read = fx
        .store
        .credential_and_failures(&attempt, Some(&acme))
        .await
        .unwrap();
    assert_eq!(read.credential.as_ref(), Some(&c));
    assert_eq!(read.policy, Some(StoredPolicy::open(acme.clone())));

    let set = lifecycle::replace_policy(
        &StoredPolicy::open(acme.clone()),
        tightened(90),
        &fx.context(),
    );
    fx.store.put_policy(0, &set).await.unwrap();
    let read = fx
        .store
        .credential_and_failures(&attempt, Some(&acme))
        .await
        .unwrap();
    assert_eq!(read.policy, Some(set.policy.clone()));
    assert_eq!(read.credential.as_ref(), Some(&c));

    let state = fx
        .store
        .credential_state(&StateQuery {
            client_id: &c.client_id,
            jti: Some("jti-p"),
            month: Some(UsageMonth::of(fx.now())),
            policy_of: Some(&acme),
        })
        .await
        .unwrap();
    assert_eq!(state.policy, Some(set.policy));
    assert_eq!(state.credential.as_ref(), Some(&c));
    assert!(
        !state.token_denied,
        "the policy item is not a deny-list entry"
    );
    assert_eq!(state.uses_this_month, Some(0));
}

fn day_range(from: Timestamp, to: Timestamp, today: Timestamp) -> UsageRange {
    UsageRange::new(
        Some(from.date_naive()),
        Some(to.date_naive()),
        today.date_naive(),
    )
    .unwrap()
}

async fn days_add_up_per_credential_and_read_back_per_credential_and_per_tenant(fx: Fixture) {
    let a = insert(&fx, "acme").await;
    let b = insert(&fx, "acme").await;
    let g = insert(&fx, "globex").await;
    let first = fx.now();
    let second = first + Duration::days(1);
    record_uses(&fx, &a, 3, first, true).await;
    record_uses(&fx, &a, 2, first, false).await;
    let mut refusals = clavis_core::testing::uses(&a, 0, first, false);
    refusals.counts.refuse(RefusalReason::InvalidClient);
    refusals.counts.refuse(RefusalReason::InvalidClient);
    refusals.counts.refuse(RefusalReason::Throttled);
    fx.store.record_uses(&refusals).await.unwrap();
    // Written again (its answer lost): counted once.
    fx.store.record_uses(&refusals).await.unwrap();
    record_uses(&fx, &a, 4, second, false).await;
    record_uses(&fx, &b, 7, second, false).await;
    record_uses(&fx, &g, 9, second, false).await;
    fx.advance(Duration::days(1));

    let both = day_range(first, second, fx.now());
    let days = fx.store.credential_days(&a.client_id, &both).await.unwrap();
    let mut on_first = DayCounts {
        uses: 5,
        ..DayCounts::default()
    };
    on_first.refused.insert(RefusalReason::InvalidClient, 2);
    on_first.refused.insert(RefusalReason::Throttled, 1);
    assert_eq!(days[&first.date_naive()], on_first);
    assert_eq!(days[&second.date_naive()].uses, 4);
    assert_eq!(days.len(), 2);
    let only_second = day_range(second, second, fx.now());
    let days = fx
        .store
        .credential_days(&a.client_id, &only_second)
        .await
        .unwrap();
    assert_eq!(days.keys().collect::<Vec<_>>(), [&second.date_naive()]);
    // Refusals alone count no use this month.
    let month = fx
        .store
        .request_counts(std::slice::from_ref(&a.client_id), UsageMonth::of(first))
        .await
        .unwrap();
    assert_eq!(month.get(&a.client_id), Some(&(5 + 4)));

    let mut of_acme = fx.store.tenant_days(&tenant("acme"), &both).await.unwrap();
    of_acme.sort_by_key(|d| (d.day, d.client_id.to_string()));
    let seen: Vec<(ClientId, u64)> = of_acme
        .iter()
        .map(|d| (d.client_id.clone(), d.counts.uses))
        .collect();
    let mut expected_second = vec![(a.client_id.clone(), 4), (b.client_id.clone(), 7)];
    expected_second.sort_by_key(|(id, _)| id.to_string());
    let mut expected = vec![(a.client_id.clone(), 5)];
    expected.extend(expected_second);
    assert_eq!(seen, expected, "globex's day is not acme's");
    assert!(
        fx.store
            .tenant_days(
                &tenant("acme"),
                &day_range(
                    first - Duration::days(3),
                    first - Duration::days(1),
                    fx.now()
                )
            )
            .await
            .unwrap()
            .is_empty()
    );

    // The refreshed use is the credential's last, with where it came from.
    let stored = fx.store.get(&a.client_id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(first));
    assert_eq!(
        stored.last_used_from.as_ref().map(|s| s.as_str()),
        Some(clavis_core::testing::USE_SOURCE)
    );
}

async fn listing_finds_the_credentials_nobody_used_lately(fx: Fixture) {
    let never = insert(&fx, "acme").await;
    let used_long_ago = insert(&fx, "acme").await;
    record_uses(&fx, &used_long_ago, 1, fx.now(), true).await;
    let used_lately = insert(&fx, "acme").await;
    fx.advance(Duration::days(20));
    record_uses(&fx, &used_lately, 1, fx.now(), true).await;
    fx.advance(Duration::days(10));
    let fresh = insert(&fx, "acme").await;
    fx.advance(Duration::days(5));
    let page = PageRequest::first(10);
    let unused = |days: i64| {
        let (fx, page) = (&fx, &page);
        async move {
            let query = CredentialQuery {
                tenant: &tenant("acme"),
                status: None,
                unused_since: Some(fx.now() - Duration::days(days)),
                page,
            };
            let mut ids: Vec<String> = fx
                .store
                .list(&query)
                .await
                .unwrap()
                .items
                .iter()
                .map(|c| c.client_id.to_string())
                .collect();
            ids.sort();
            ids
        }
    };
    let mut expected = vec![
        never.client_id.to_string(),
        used_long_ago.client_id.to_string(),
    ];
    expected.sort();
    assert_eq!(unused(30).await, expected);
    // Used 15 days ago: unused for 10; made 5 days ago: not yet.
    let mut all_but_fresh = vec![
        never.client_id.to_string(),
        used_long_ago.client_id.to_string(),
        used_lately.client_id.to_string(),
    ];
    all_but_fresh.sort();
    assert_eq!(unused(10).await, all_but_fresh, "{}", fresh.client_id);
}

/// Instances write to shards of their own; every read sums them: the month for quota checks
/// and views, the days for the dashboard, the tenant's days with its other credentials'.
async fn counts_written_to_every_shard_read_back_as_one(fx: Fixture) {
    let a = insert(&fx, "acme").await;
    let b = insert(&fx, "acme").await;
    let now = fx.now();
    let mut expected = 0;
    for shard in UsageShard::all() {
        let uses = u64::from(shard.index()) + 1;
        expected += uses;
        let batch = clavis_core::testing::uses(&a, uses, now, false).in_shard(shard);
        fx.store.record_uses(&batch).await.expect("recorded");
    }
    let mut refused = clavis_core::testing::uses(&a, 0, now, false)
        .in_shard(UsageShard::new(3).expect("a shard"));
    refused.counts.refuse(RefusalReason::Throttled);
    fx.store.record_uses(&refused).await.expect("recorded");
    let other = clavis_core::testing::uses(&b, 5, now, false)
        .in_shard(UsageShard::new(7).expect("a shard"));
    fx.store.record_uses(&other).await.expect("recorded");

    let month = UsageMonth::of(now);
    let counts = fx
        .store
        .request_counts(&[a.client_id.clone(), b.client_id.clone()], month)
        .await
        .expect("counts");
    assert_eq!(counts[&a.client_id], expected);
    assert_eq!(counts[&b.client_id], 5);
    let state = fx
        .store
        .credential_state(&StateQuery {
            client_id: &a.client_id,
            jti: None,
            month: Some(month),
            policy_of: None,
        })
        .await
        .expect("state");
    assert_eq!(state.uses_this_month, Some(expected));
    let today = day_range(now, now, now);
    let days = fx
        .store
        .credential_days(&a.client_id, &today)
        .await
        .expect("days");
    let day = &days[&now.date_naive()];
    assert_eq!(day.uses, expected);
    assert_eq!(day.refused.get(&RefusalReason::Throttled), Some(&1));
    let tenant_days = fx
        .store
        .tenant_days(&tenant("acme"), &today)
        .await
        .expect("tenant days");
    let mut per_credential: Vec<(String, u64)> = tenant_days
        .iter()
        .map(|d| (d.client_id.to_string(), d.counts.uses))
        .collect();
    per_credential.sort();
    let mut wanted = vec![
        (a.client_id.to_string(), expected),
        (b.client_id.to_string(), 5),
    ];
    wanted.sort();
    assert_eq!(per_credential, wanted, "one entry per credential and day");
}
