//! What callers see, and what is left in the table, when DynamoDB fails under a running API:
//! unreachable (connections refused, or accepted and never answered), stopped and restarted,
//! throttling, transaction conflicts, answers lost after a commit, and a handler dropped
//! mid-write as a Lambda timeout drops it, followed by a cold start. Everything runs against
//! DynamoDB Local; the faults sit between the store's client and it (a TCP forwarder, or the
//! SDK's HTTP layer), never in the code under test.
//!
//! Each test prints its figures (`cargo test -p clavis-tests --test integration faults --
//! --nocapture`): faults injected, requests sent, how long failing requests took.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use clavis_core::store::{Retention, SharedStore};
use clavis_core::time::{Clock, ManualClock, SystemClock};
use clavis_core::token::keys::{KeyAlgorithm, SigningKey};
use clavis_dynamodb::DynamoStore;
use clavis_dynamodb::schema::create_table;
use clavis_local::dynamodb_local::{DynamoDbLocal, Storage, repo_root};
use clavis_runtime::config::{Env, StoreSettings};
use clavis_tests::api::{Integration, Reply, TestApi};
use clavis_tests::forwarder::{Forwarder, Link};
use clavis_tests::injector::{Fault, FaultInjector};
use clavis_tests::{Fixture, dynamodb_local, fresh_table};
use futures_util::future::{BoxFuture, join_all};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// The functions' `Timeout` (infra/template.yaml): a request must have failed well before.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Fixtures

/// An API whose store reaches DynamoDB Local through `faults` (and, if given, the forwarder),
/// and a direct client to the same table for looking at what was written.
async fn api_through(
    faults: &FaultInjector,
    endpoint: Option<&str>,
    settings: Env,
) -> (TestApi, Table) {
    let (table_settings, direct) = fresh_table().await;
    let table = Table {
        client: direct,
        name: table_settings.table_name.clone(),
    };
    let api = api_on(faults, endpoint, &table, settings, None).await;
    (api, table)
}

/// An API over an existing table: what a new Lambda instance builds at its cold start.
async fn api_on(
    faults: &FaultInjector,
    endpoint: Option<&str>,
    table: &Table,
    settings: Env,
    idp: Option<clavis_local::idp::LocalIdp>,
) -> TestApi {
    let endpoint = match endpoint {
        Some(endpoint) => endpoint.to_owned(),
        None => dynamodb_local().await.endpoint().to_owned(),
    };
    let store_settings = StoreSettings::local(&endpoint, &table.name);
    let client = store_settings.client().await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let store: SharedStore = Arc::new(
        DynamoStore::new(
            faults.wrap(&client),
            table.name.clone(),
            clock.clone(),
            Retention::default(),
        )
        .with_webhook_url_key(Arc::new(clavis_core::webhook::UrlKey::generate())),
    );
    let fixture = Fixture {
        store,
        clock,
        table: Some((table.client.clone(), table.name.clone())),
        feed: clavis_tests::stream_feed(&store_settings, client),
    };
    let idp = match idp {
        Some(idp) => idp,
        None => clavis_local::idp::LocalIdp::ephemeral().expect("idp"),
    };
    TestApi::with(fixture, settings, idp).await
}

struct Table {
    client: Client,
    name: String,
}

/// One credential item and the audit events under its key, read straight from the table.
#[derive(Debug, Default)]
struct Stored {
    version: Option<u64>,
    secret_version: Option<u64>,
    /// `(type, request_id)`, oldest first.
    events: Vec<(String, String)>,
}

impl Table {
    async fn read(&self) -> HashMap<String, Stored> {
        let text = |item: &HashMap<String, AttributeValue>, name: &str| match item.get(name) {
            Some(AttributeValue::S(s) | AttributeValue::N(s)) => s.clone(),
            _ => String::new(),
        };
        let mut stored: HashMap<String, Stored> = HashMap::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.name)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            for item in page.items() {
                let client_id = text(item, "client_id");
                match text(item, "entity").as_str() {
                    "credential" => {
                        let entry = stored.entry(client_id).or_default();
                        entry.version = text(item, "version").parse().ok();
                        entry.secret_version = text(item, "secret_version").parse().ok();
                    }
                    "audit" => {
                        let sort_key = text(item, "SK");
                        stored.entry(client_id).or_default().events.push((
                            sort_key,
                            format!("{}|{}", text(item, "type"), text(item, "request_id")),
                        ));
                    }
                    _ => {}
                }
            }
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        for entry in stored.values_mut() {
            // Sort keys are `AUDIT#<time>#<ulid>`: in the order the events happened.
            entry.events.sort();
            entry.events = entry
                .events
                .drain(..)
                .map(|(_, joined)| {
                    let (kind, request) = joined.split_once('|').unwrap_or_default();
                    (kind.to_owned(), request.to_owned())
                })
                .collect();
        }
        stored
    }

    /// The table's own invariant, whatever happened: a credential's version counts its
    /// lifecycle writes, and each wrote exactly one audit event with it, so a credential has as
    /// many events as its version; events without a credential end with its deletion.
    async fn assert_whole(&self) -> HashMap<String, Stored> {
        let stored = self.read().await;
        for (client_id, entry) in &stored {
            match entry.version {
                Some(version) => assert_eq!(
                    entry.events.len() as u64,
                    version,
                    "{client_id}: version {version} but events {:?}",
                    entry.events
                ),
                None => assert_eq!(
                    entry.events.last().map(|(kind, _)| kind.as_str()),
                    Some("credential.deleted"),
                    "{client_id}: audit events without a credential: {:?}",
                    entry.events
                ),
            }
        }
        stored
    }
}

/// Events recorded for one request, over the whole table.
fn events_of(stored: &HashMap<String, Stored>, request_id: &str) -> Vec<(String, String)> {
    stored
        .iter()
        .flat_map(|(client_id, entry)| {
            entry
                .events
                .iter()
                .filter(|(_, request)| request == request_id)
                .map(move |(kind, _)| (client_id.clone(), kind.clone()))
        })
        .collect()
}

fn version(reply: &Reply) -> u64 {
    reply.json()["version"].as_u64().expect("version")
}

// ---------------------------------------------------------------------------------------------
// Every route that reaches the store

/// One request of the probe: which route, whether it writes, and what came back how fast.
struct Probed {
    route: &'static str,
    writes: bool,
    reply: Reply,
    took: Duration,
}

/// Every operation whose function reads or writes the table: the eleven management routes as
/// the tenant's admin (writes aimed at `target`), and the three token endpoints as `client`.
fn every_route<'a>(
    api: &'a TestApi,
    tenant: &'a str,
    target: &'a str,
    client: &'a Integration,
    token: &'a str,
) -> Vec<BoxFuture<'a, Probed>> {
    let admin = api.admin(tenant);
    let base = format!("/v1/tenants/{tenant}/credentials");
    let one = format!("{base}/{target}");
    let managed: Vec<(&'static str, bool, Method, String, Option<Value>)> = vec![
        (
            "create",
            true,
            Method::POST,
            base.clone(),
            Some(json!({"name": "During the outage", "scopes": ["products:read"]})),
        ),
        ("list", false, Method::GET, base.clone(), None),
        ("get", false, Method::GET, one.clone(), None),
        (
            "update",
            true,
            Method::PATCH,
            one.clone(),
            Some(json!({"name": "Renamed in the outage"})),
        ),
        (
            "update-expiry",
            true,
            Method::PUT,
            format!("{one}/expiry"),
            Some(json!({"expires_at": null})),
        ),
        (
            "rotate",
            true,
            Method::POST,
            format!("{one}/rotate"),
            Some(json!({})),
        ),
        (
            "suspend",
            true,
            Method::POST,
            format!("{one}/suspend"),
            Some(json!({})),
        ),
        (
            "reactivate",
            true,
            Method::POST,
            format!("{one}/reactivate"),
            Some(json!({})),
        ),
        (
            "revoke",
            true,
            Method::POST,
            format!("{one}/revoke"),
            Some(json!({"reason": "outage"})),
        ),
        ("delete", true, Method::DELETE, one.clone(), None),
        (
            "credential-audit",
            false,
            Method::GET,
            format!("{one}/audit"),
            None,
        ),
        (
            "tenant-audit",
            false,
            Method::GET,
            format!("/v1/tenants/{tenant}/audit"),
            None,
        ),
    ];
    let mut probes: Vec<BoxFuture<'a, Probed>> = Vec::new();
    for (route, writes, method, path, body) in managed {
        let admin = admin.clone();
        probes.push(Box::pin(async move {
            let started = Instant::now();
            let reply = api.send(method, &path, Some(&admin), body, &[]).await;
            Probed {
                route,
                writes,
                reply,
                took: started.elapsed(),
            }
        }));
    }
    let oauth: [(_, _, Vec<(&str, &str)>); 3] = [
        (
            "token",
            "/oauth/token",
            vec![("grant_type", "client_credentials")],
        ),
        ("introspect", "/oauth/introspect", vec![("token", token)]),
        ("revoke-token", "/oauth/revoke", vec![("token", token)]),
    ];
    for (route, path, fields) in oauth {
        probes.push(Box::pin(async move {
            let started = Instant::now();
            let reply = api
                .form(path, Some((&client.id, &client.secret)), &fields)
                .await;
            Probed {
                route,
                writes: false,
                reply,
                took: started.elapsed(),
            }
        }));
    }
    probes
}

/// A 503 a caller can act on and that tells an attacker nothing: `Retry-After`, the
/// machine-readable code, and no trace of the SDK's error, the endpoint or the table.
#[track_caller]
fn assert_unavailable(probed: &Probed, secrets: &[&str]) {
    let Probed {
        route,
        reply,
        took,
        writes,
    } = probed;
    assert_eq!(reply.status, 503, "{route}: {}", reply.text);
    let retry_after: u64 = reply
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{route}: no Retry-After in {:?}", reply.headers));
    assert!((1..=30).contains(&retry_after), "{route}: {retry_after}");
    let body = reply.json();
    if route.starts_with('/') || ["token", "introspect", "revoke-token"].contains(route) {
        assert_eq!(body["error"], "temporarily_unavailable", "{route}");
        assert!(body["error_description"].is_string(), "{route}");
    } else {
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{route}"
        );
        assert_eq!(body["code"], "service_unavailable", "{route}");
        assert_eq!(body["status"], 503, "{route}");
        // A write the store did not confirm says so; a read, or a write that never started,
        // says nothing was changed.
        let detail = body["detail"].as_str().unwrap_or_default();
        if body["outcome"] == "unknown" {
            assert!(*writes, "{route}: a read cannot have an unknown outcome");
            assert!(detail.contains("may or may not"), "{route}: {detail}");
        } else {
            assert!(detail.contains("nothing was changed"), "{route}: {detail}");
        }
    }
    // The request ID is a random ULID: it may spell anything ("…NSDK0…" once failed this), so it
    // is left out of the scan for internals.
    let mut scanned = body.clone();
    if let Some(fields) = scanned.as_object_mut() {
        fields.remove("request_id");
    }
    let lower = if scanned.is_null() {
        reply.text.to_lowercase()
    } else {
        scanned.to_string().to_lowercase()
    };
    for secret in secrets {
        assert!(
            !lower.contains(&secret.to_lowercase()),
            "{route}: {secret} in {}",
            reply.text
        );
    }
    for internal in [
        "dynamodb",
        "dispatch",
        "timeout",
        "timed out",
        "refused",
        "connector",
        "sdk",
        "exception",
        "127.0.0.1",
        "localhost",
        "clavis-test-",
        "transactwriteitems",
        "getitem",
    ] {
        assert!(
            !lower.contains(internal),
            "{route}: the answer shows {internal:?}: {}",
            reply.text
        );
    }
    assert!(
        *took < FUNCTION_TIMEOUT,
        "{route}: took {took:?}, past the function's timeout"
    );
}

fn seconds(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

fn slowest(probed: &[Probed]) -> Duration {
    probed.iter().map(|p| p.took).max().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// 1. DynamoDB unreachable under a running API

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_database_answers_503_everywhere_and_the_same_api_recovers_by_itself() {
    let local = dynamodb_local().await;
    let forwarder = Forwarder::to_endpoint(local.endpoint())
        .await
        .expect("forwarder");
    let counting = FaultInjector::new();
    let (api, table) = api_through(&counting, Some(&forwarder.endpoint()), Env::default()).await;
    let tenant = "outage";

    // Before: a client with a token, and a credential for the writes to aim at.
    let client = api.integration(tenant, &["products:read"]).await;
    let token = api.access_token(&client).await;
    let target = api
        .integration_named(tenant, "Target", &["products:read"])
        .await;
    let port = forwarder.addr().port().to_string();
    let internals = [table.name.as_str(), port.as_str()];

    // Refused: the database's address answers every connection attempt with a reset.
    forwarder.set(Link::Refused);
    let attempts_before = counting.attempts("GetItem") + counting.attempts("Query");
    let mut refused = Vec::new();
    for probe in every_route(&api, tenant, &target.id, &client, &token) {
        refused.push(probe.await);
    }
    for probed in &refused {
        assert_unavailable(probed, &internals);
    }

    // Silent: connections are accepted and nothing ever comes back; only the client's
    // timeouts end the requests. All at once, as a busy API meets an outage.
    forwarder.set(Link::Silent);
    let silent = join_all(every_route(&api, tenant, &target.id, &client, &token)).await;
    for probed in &silent {
        assert_unavailable(probed, &internals);
    }
    let sdk_attempts = counting.attempts("GetItem") + counting.attempts("Query") - attempts_before;

    // Back: the very same API serves again, with nothing restarted.
    forwarder.set(Link::Up);
    let back = Instant::now();
    let get = format!("/v1/tenants/{tenant}/credentials/{}", target.id);
    let admin = api.admin(tenant);
    loop {
        let reply = api.get(&get, &admin).await;
        if reply.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < FUNCTION_TIMEOUT,
            "not serving {:?} after the database came back: {}",
            back.elapsed(),
            reply.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recovery = back.elapsed();
    let served = join_all(every_route(&api, tenant, &target.id, &client, &token)).await;
    for probed in &served {
        assert!(
            probed.reply.status < 500,
            "{} after recovery: {}",
            probed.route,
            probed.reply.text
        );
    }
    api.post(
        &format!("/v1/tenants/{tenant}/credentials/{}/suspend", client.id),
        &admin,
        json!({}),
    )
    .await
    .expect(200);

    // Nothing half-written: every credential's events match its version, every write that
    // answered success left exactly its one event, and every write that answered 503 left
    // nothing or (when its outcome was unknown) its whole change.
    let stored = table.assert_whole().await;
    for probed in refused.iter().chain(&silent) {
        let request = probed.reply.header("x-request-id").unwrap_or_default();
        let events = events_of(&stored, request);
        assert!(events.len() <= 1, "{}: {events:?}", probed.route);
        if probed.reply.json()["outcome"] != "unknown" {
            assert!(
                events.is_empty(),
                "{}: wrote {events:?} yet said nothing changed",
                probed.route
            );
        }
    }
    for probed in served.iter().filter(|p| p.writes && p.reply.status < 300) {
        let request = probed.reply.header("x-request-id").expect("x-request-id");
        assert_eq!(
            events_of(&stored, request).len(),
            1,
            "{} succeeded after recovery",
            probed.route
        );
    }

    eprintln!(
        "faults/outage: {} requests refused (slowest {}), {} silent at once (slowest {}), \
         {} SDK read attempts during the outage, {} connections cut; serving again {} after \
         the database returned",
        refused.len(),
        seconds(slowest(&refused)),
        silent.len(),
        seconds(slowest(&silent)),
        sdk_attempts,
        forwarder.cut(),
        seconds(recovery),
    );
}

// ---------------------------------------------------------------------------------------------
// 1b. DynamoDB Local stopped and started again on the same data

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restarted_on_its_data_is_served_again_by_the_running_api() {
    let data = repo_root()
        .join("target")
        .join(format!("faults-restart-{}", ulid::Ulid::generate()));
    let first = DynamoDbLocal::start(Storage::Directory(data.clone()))
        .await
        .expect("DynamoDB Local on disk");
    let forwarder = Forwarder::to_endpoint(first.endpoint())
        .await
        .expect("forwarder");
    let direct = first.store_settings("unused").client().await;
    let name = format!("clavis-restart-{}", ulid::Ulid::generate());
    create_table(&direct, &name).await.expect("table");
    let table = Table {
        client: direct,
        name,
    };
    let counting = FaultInjector::new();
    let api = api_on(
        &counting,
        Some(&forwarder.endpoint()),
        &table,
        Env::default(),
        None,
    )
    .await;
    let tenant = "restart";
    let admin = api.admin(tenant);
    let client = api
        .integration_named(tenant, "Survivor", &["products:read"])
        .await;
    let path = format!("/v1/tenants/{tenant}/credentials/{}", client.id);
    api.post(&format!("{path}/suspend"), &admin, json!({}))
        .await
        .expect(200);
    api.post(&format!("{path}/reactivate"), &admin, json!({}))
        .await
        .expect(200);
    let token = api.access_token(&client).await;

    // The database goes away for real.
    let stopping = Instant::now();
    first.stop();
    let stopped_in = stopping.elapsed();
    let down = [
        api.get(&path, &admin).await,
        api.token_request(&client).await,
    ];
    for (reply, route) in down.iter().zip(["get", "token"]) {
        assert_eq!(reply.status, 503, "{route}: {}", reply.text);
        assert!(reply.header("retry-after").is_some(), "{route}");
    }

    // And comes back on another port, on the same files; the forwarder keeps the address the
    // API knows, as a DNS name would.
    let starting = Instant::now();
    let second = DynamoDbLocal::start(Storage::Directory(data.clone()))
        .await
        .expect("DynamoDB Local restarted");
    let started_in = starting.elapsed();
    forwarder.redirect(second.endpoint()).expect("redirect");
    let back = Instant::now();
    let credential = loop {
        let reply = api.get(&path, &admin).await;
        if reply.status == 200 {
            break reply;
        }
        assert!(back.elapsed() < FUNCTION_TIMEOUT, "{}", reply.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let recovery = back.elapsed();
    assert_eq!(version(&credential), 3);
    assert_eq!(credential.json()["status"], "active");
    let trail = api.get(&format!("{path}/audit"), &admin).await.expect(200);
    let kinds: Vec<String> = trail.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "credential.reactivated",
            "credential.suspended",
            "credential.created"
        ]
    );
    // The secret still verifies, and the token issued before the outage is still good.
    api.access_token(&client).await;
    let introspected = api
        .form(
            "/oauth/introspect",
            Some((&client.id, &client.secret)),
            &[("token", &token)],
        )
        .await
        .expect(200);
    assert_eq!(introspected.json()["active"], true);
    Table {
        client: second.store_settings(&table.name).client().await,
        name: table.name.clone(),
    }
    .assert_whole()
    .await;

    second.stop();
    let _ = std::fs::remove_dir_all(&data);
    eprintln!(
        "faults/restart: DynamoDB Local stopped in {}, restarted in {}; the running API served \
         again {} after the restart",
        seconds(stopped_in),
        seconds(started_in),
        seconds(recovery),
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Throttling and transaction conflicts

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_is_absorbed_by_retries_and_persistent_throttling_answers_503() {
    let faults = FaultInjector::new();
    let (api, table) = api_through(&faults, None, Env::default()).await;
    let tenant = "throttled";
    let admin = api.admin(tenant);
    let client = api
        .integration_named(tenant, "Busy", &["products:read"])
        .await;
    let path = format!("/v1/tenants/{tenant}/credentials/{}", client.id);

    // Two throttled attempts, then an answer: the SDK's retries absorb them.
    let before = faults.attempts("GetItem");
    faults.inject("GetItem", Fault::throttling(), 2);
    let read = api.get(&path, &admin).await.expect(200);
    // The credential and the tenant's policy, one GetItem each, and the two throttled.
    assert_eq!(faults.attempts("GetItem") - before, 4);
    assert_eq!(version(&read), 1);
    faults.inject("TransactWriteItems", Fault::throughput_exceeded(), 2);
    let suspended = api
        .post(&format!("{path}/suspend"), &admin, json!({}))
        .await
        .expect(200);
    assert_eq!(version(&suspended), 2);
    faults.inject("GetItem", Fault::throughput_exceeded(), 1);
    faults.inject("UpdateItem", Fault::throttling(), 1);
    api.post(&format!("{path}/reactivate"), &admin, json!({}))
        .await
        .expect(200);
    api.access_token(&client).await;
    // The use is written now, not by the gateway's flusher while a fault below waits for the
    // request it is meant for (usage is a TransactWriteItems too).
    api.flush_usage().await;

    // Throttling that outlasts the retries: 503 with Retry-After, never a 500.
    let mut persistent = Vec::new();
    // A read of a credential is two GetItems at once (the credential, its tenant's policy),
    // each tried three times: six faults outlast both.
    for (operation, fault) in [
        ("GetItem", Fault::throttling()),
        ("GetItem", Fault::throughput_exceeded()),
        ("GetItem", Fault::internal_error()),
    ] {
        faults.inject(operation, fault, 6);
        let started = Instant::now();
        let reply = api.get(&path, &admin).await;
        persistent.push(Probed {
            route: "get",
            writes: false,
            reply,
            took: started.elapsed(),
        });
    }
    faults.inject("Query", Fault::throttling(), 3);
    let started = Instant::now();
    let reply = api.get(&format!("{path}/audit"), &admin).await;
    persistent.push(Probed {
        route: "credential-audit",
        writes: false,
        reply,
        took: started.elapsed(),
    });
    // A token request reads the credential and the failure counts in one BatchGetItem.
    faults.inject("BatchGetItem", Fault::throttling(), 3);
    let started = Instant::now();
    let reply = api.token_request(&client).await;
    persistent.push(Probed {
        route: "token",
        writes: false,
        reply,
        took: started.elapsed(),
    });
    // A write throttled on every attempt: the store cannot know whether an earlier attempt
    // landed, so it says the outcome is unknown; the table shows it did not.
    faults.inject("TransactWriteItems", Fault::throttling(), 3);
    let started = Instant::now();
    let reply = api
        .post(&format!("{path}/suspend"), &admin, json!({}))
        .await;
    persistent.push(Probed {
        route: "suspend",
        writes: true,
        reply,
        took: started.elapsed(),
    });
    // A transaction DynamoDB cancelled for throttling was evaluated and wrote nothing.
    faults.inject(
        "TransactWriteItems",
        Fault::Cancel(vec!["ThrottlingError", "None"]),
        1,
    );
    let started = Instant::now();
    let reply = api
        .post(&format!("{path}/suspend"), &admin, json!({}))
        .await;
    assert!(reply.json().get("outcome").is_none(), "{}", reply.text);
    persistent.push(Probed {
        route: "suspend",
        writes: true,
        reply,
        took: started.elapsed(),
    });
    for probed in &persistent {
        assert_unavailable(probed, &[table.name.as_str()]);
    }
    assert_eq!(faults.pending(), 0);

    let current = api.get(&path, &admin).await.expect(200);
    assert_eq!(version(&current), 3, "the throttled writes wrote nothing");
    assert_eq!(current.json()["status"], "active");
    table.assert_whole().await;
    eprintln!(
        "faults/throttling: injected {:?}; {} requests answered 503 (slowest {})",
        faults.injected(),
        persistent.len(),
        seconds(slowest(&persistent)),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transaction_conflicts_are_retried_and_answer_409_only_when_they_persist() {
    let faults = FaultInjector::new();
    let (api, table) = api_through(&faults, None, Env::default()).await;
    let tenant = "contended";
    let admin = api.admin(tenant);
    let client = api
        .integration_named(tenant, "Contended", &["products:read"])
        .await;
    let path = format!("/v1/tenants/{tenant}/credentials/{}", client.id);
    let conflict = || Fault::Cancel(vec!["TransactionConflict", "None"]);

    // Lost twice to another transaction: read again, decide again, and win the third time.
    let before = faults.attempts("TransactWriteItems");
    faults.inject("TransactWriteItems", conflict(), 2);
    let suspended = api
        .send(
            Method::POST,
            &format!("{path}/suspend"),
            Some(&admin),
            Some(json!({})),
            &[("if-match", "\"1\"")],
        )
        .await
        .expect(200);
    assert_eq!(version(&suspended), 2);
    assert_eq!(faults.attempts("TransactWriteItems") - before, 3);

    // Lost every time: 409 concurrent_modification, and nothing written.
    faults.inject("TransactWriteItems", conflict(), 5);
    let refused = api
        .post(&format!("{path}/reactivate"), &admin, json!({}))
        .await
        .expect_problem(409, "concurrent_modification");
    assert!(refused.header("retry-after").is_none());
    assert_eq!(faults.pending(), 0);
    let current = api.get(&path, &admin).await.expect(200);
    assert_eq!(
        (version(&current), current.json()["status"].as_str()),
        (2, Some("suspended"))
    );

    // A create that meets a conflict is tried again too, and makes one credential.
    faults.inject(
        "TransactWriteItems",
        Fault::Cancel(vec!["None", "TransactionConflict"]),
        1,
    );
    let created = api
        .create(
            tenant,
            json!({"name": "Conflicted once", "scopes": ["products:read"]}),
        )
        .await;
    assert_eq!(created["credential"]["version"], 1);
    faults.inject("TransactWriteItems", conflict(), 5);
    api.post(
        &format!("/v1/tenants/{tenant}/credentials"),
        &admin,
        json!({"name": "Never made", "scopes": ["products:read"]}),
    )
    .await
    .expect_problem(409, "concurrent_modification");
    let listed = api
        .get(&format!("/v1/tenants/{tenant}/credentials"), &admin)
        .await
        .expect(200);
    let mut names: Vec<String> = listed.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["Conflicted once", "Contended"]);
    table.assert_whole().await;
    eprintln!("faults/conflicts: injected {:?}", faults.injected());
}

// ---------------------------------------------------------------------------------------------
// 3. Answers lost after the commit, and handlers dropped mid-write

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_whose_answer_is_lost_is_retried_without_being_applied_twice() {
    let faults = FaultInjector::new();
    let (api, table) = api_through(&faults, None, Env::default()).await;
    let tenant = "lost";
    let admin = api.admin(tenant);

    // Each write below is carried out by DynamoDB, and its answer lost on the way back; the
    // SDK sends it again with the same client request token, and DynamoDB answers that the
    // transaction is done, without doing it a second time.
    let before = faults.attempts("TransactWriteItems");
    faults.inject("TransactWriteItems", Fault::LoseAnswer, 1);
    let client = api
        .integration_named(tenant, "Once", &["products:read"])
        .await;
    assert_eq!(faults.attempts("TransactWriteItems") - before, 2);
    let path = format!("/v1/tenants/{tenant}/credentials/{}", client.id);

    faults.inject("TransactWriteItems", Fault::LoseAnswer, 1);
    let rotated = api
        .post(&format!("{path}/rotate"), &admin, json!({}))
        .await
        .expect(200);
    assert_eq!(rotated.json()["credential"]["secret_version"], 2);
    let rotated = Integration {
        id: client.id.clone(),
        secret: rotated.json()["client_secret"]
            .as_str()
            .expect("secret")
            .to_owned(),
    };
    faults.inject("TransactWriteItems", Fault::LoseAnswer, 1);
    api.post(&format!("{path}/suspend"), &admin, json!({}))
        .await
        .expect(200);
    faults.inject("TransactWriteItems", Fault::LoseAnswer, 1);
    let reactivated = api
        .post(&format!("{path}/reactivate"), &admin, json!({}))
        .await
        .expect(200);
    assert_eq!(version(&reactivated), 4);
    assert_eq!(faults.pending(), 0);

    // One credential, one event per write, and the secret the rotation returned is the one
    // that works.
    let stored = table.assert_whole().await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let kinds: Vec<&str> = stored[&client.id]
        .events
        .iter()
        .map(|(kind, _)| kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "credential.created",
            "credential.secret_rotated",
            "credential.suspended",
            "credential.reactivated"
        ]
    );
    assert_eq!(stored[&client.id].secret_version, Some(2));
    api.access_token(&rotated).await;
    api.token_request(&client).await.expect(401);
    eprintln!(
        "faults/lost-answers: injected {:?}, every write applied once",
        faults.injected()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_the_database_never_confirms_answers_an_honest_503_and_is_all_or_nothing() {
    let faults = FaultInjector::new();
    let (api, table) = api_through(&faults, None, Env::default()).await;
    let tenant = "unconfirmed";
    let admin = api.admin(tenant);
    let client = api
        .integration_named(tenant, "Unconfirmed", &["products:read"])
        .await;
    let path = format!("/v1/tenants/{tenant}/credentials/{}", client.id);

    // Every attempt is carried out and every answer lost: the caller cannot be told.
    faults.inject("TransactWriteItems", Fault::LoseAnswer, 3);
    let started = Instant::now();
    let reply = api.post(&format!("{path}/rotate"), &admin, json!({})).await;
    let rotate = Probed {
        route: "rotate",
        writes: true,
        reply,
        took: started.elapsed(),
    };
    assert_unavailable(&rotate, &[table.name.as_str()]);
    assert_eq!(
        rotate.reply.json()["outcome"],
        "unknown",
        "{}",
        rotate.reply.text
    );
    assert!(rotate.reply.json().get("client_secret").is_none());
    // As the answer says, reading tells: the rotation was applied, whole.
    let stored = table.assert_whole().await;
    let request = rotate.reply.header("x-request-id").expect("x-request-id");
    assert_eq!(
        events_of(&stored, request),
        [(client.id.clone(), "credential.secret_rotated".to_owned())]
    );
    let current = api.get(&path, &admin).await.expect(200);
    assert_eq!(current.json()["secret_version"], 2);

    // A create likewise: one credential and its event, or neither.
    faults.inject("TransactWriteItems", Fault::LoseAnswer, 3);
    let reply = api
        .post(
            &format!("/v1/tenants/{tenant}/credentials"),
            &admin,
            json!({"name": "Maybe", "scopes": ["products:read"]}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.json()["outcome"].as_str()),
        (503, Some("unknown"))
    );
    let stored = table.assert_whole().await;
    let request = reply.header("x-request-id").expect("x-request-id");
    assert_eq!(events_of(&stored, request).len(), 1);
    assert_eq!(stored.len(), 2);

    // A failure before the write is not an unknown: nothing was sent, nothing was changed. The
    // usage a write shows is read before it writes, so nothing fails after a commit.
    faults.inject("BatchGetItem", Fault::throttling(), 3);
    let reply = api
        .post(&format!("{path}/suspend"), &admin, json!({}))
        .await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert!(reply.json().get("outcome").is_none(), "{}", reply.text);
    let current = api.get(&path, &admin).await.expect(200);
    assert_eq!(
        (version(&current), current.json()["status"].as_str()),
        (2, Some("active"))
    );
    table.assert_whole().await;
    eprintln!(
        "faults/unconfirmed: injected {:?}; the unconfirmed rotation answered 503 in {}",
        faults.injected(),
        seconds(rotate.took)
    );
}

/// What the lost answers above mean for a caller of the SDK: its create and rotation, whose
/// answers the database loses after the commit, are repeated under their idempotency keys and
/// deliver their one secret; nothing is applied twice and no credential is left orphaned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_creates_and_rotations_whose_answers_are_lost_still_deliver_their_one_secret() {
    let faults = FaultInjector::new();
    let (api, table) = api_through(&faults, None, Env::default()).await;
    let tenant = "retried";
    let client = clavis_sdk::Client::new(api.gateway.url(), api.admin(tenant)).unwrap();
    let acme = client.tenant(tenant);

    faults.inject("TransactWriteItems", Fault::LoseAnswer, 3);
    let created = acme
        .create(&clavis_sdk::NewCredential::new(
            "Lost answer",
            ["products:read"],
        ))
        .await
        .expect("the SDK repeats the create and gets its answer");
    assert_eq!(
        faults.injected().values().sum::<u64>(),
        3,
        "the first attempt's answers were lost"
    );
    let stored = table.assert_whole().await;
    let credentials = stored.values().filter(|s| s.version.is_some()).count();
    assert_eq!(credentials, 1, "one credential, not an orphan and a twin");
    let integration = Integration {
        id: created.credential.client_id.clone(),
        secret: created.client_secret.expose_secret().to_owned(),
    };
    api.token_request(&integration).await.expect(200);
    // Written now, so that the lost answers below are the rotation's, not the use's.
    api.flush_usage().await;

    faults.inject("TransactWriteItems", Fault::LoseAnswer, 3);
    let rotated = acme
        .credential(&created.credential.client_id)
        .rotate(None)
        .await
        .expect("the SDK repeats the rotation and gets its answer");
    assert_eq!(rotated.credential.secret_version, 2, "rotated once");
    api.token_request(&Integration {
        id: integration.id.clone(),
        secret: rotated.client_secret.expose_secret().to_owned(),
    })
    .await
    .expect(200);
    api.token_request(&integration).await.expect(401);
    table.assert_whole().await;
}

/// Sends `method path` in the background, as a caller whose request the API may never answer.
fn in_background(
    api: &TestApi,
    method: Method,
    path: String,
    token: String,
) -> tokio::task::JoinHandle<Result<u16, reqwest::Error>> {
    let request = api
        .http
        .request(method, format!("{}{path}", api.gateway.url()))
        .bearer_auth(token)
        .json(&json!({}));
    tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
}

/// Stops serving at once, dropping every request in flight: what a Lambda timeout does to an
/// invocation. Returns once the dropped handlers' DynamoDB calls are gone too.
async fn kill(api: TestApi, faults: &FaultInjector) {
    let TestApi { gateway, .. } = api;
    gateway.stop().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while faults.in_flight() > 0 {
        assert!(
            Instant::now() < deadline,
            "a dropped handler's call is still running"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    faults.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handlers_dropped_mid_write_leave_all_or_nothing_and_a_cold_start_sees_every_write() {
    // One signing key and issuer for every instance, as the deployment configures them.
    let (_, pem) = SigningKey::generate(KeyAlgorithm::Rs256).expect("key");
    let settings = Env::default()
        .with("SIGNING_KEY_PEM", pem)
        .with("TOKEN_ISSUER", "https://clavis.faults.test");
    let faults = FaultInjector::new();
    let (first, table) = api_through(&faults, None, settings.clone()).await;
    let idp = (*first.idp).clone();
    let tenant = "timeouts";
    let admin = first.admin(tenant);
    let steady = first
        .integration_named(tenant, "Steady", &["products:read"])
        .await;
    let steady_token = first.access_token(&steady).await;
    // Written now: the faults below are for the handlers' transactions, not the use's.
    first.flush_usage().await;
    let held_back = first
        .integration_named(tenant, "Held back", &["products:read"])
        .await;
    let committed = first
        .integration_named(tenant, "Committed", &["products:read"])
        .await;
    let base = format!("/v1/tenants/{tenant}/credentials");

    // The invocation times out while its transaction waits to be sent: nothing is written.
    faults.inject(
        "TransactWriteItems",
        Fault::HoldRequest(Duration::from_secs(30)),
        3,
    );
    let attempts = faults.attempts("TransactWriteItems");
    let suspend = in_background(
        &first,
        Method::POST,
        format!("{base}/{}/suspend", held_back.id),
        admin.clone(),
    );
    let deadline = Instant::now() + FUNCTION_TIMEOUT;
    while faults.attempts("TransactWriteItems") == attempts {
        assert!(
            Instant::now() < deadline,
            "the suspension never reached its write"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    kill(first, &faults).await;
    assert!(
        suspend.await.expect("task").is_err(),
        "the caller got no answer"
    );

    // A new instance, and an invocation that times out after DynamoDB committed its
    // transaction but before the answer came back: both items are written.
    let second = api_on(&faults, None, &table, settings.clone(), Some(idp.clone())).await;
    faults.inject(
        "TransactWriteItems",
        Fault::HoldAnswer(Duration::from_secs(30)),
        3,
    );
    let rotate = in_background(
        &second,
        Method::POST,
        format!("{base}/{}/rotate", committed.id),
        admin.clone(),
    );
    assert!(
        faults.held(FUNCTION_TIMEOUT).await,
        "the rotation's transaction was never carried out"
    );
    kill(second, &faults).await;
    assert!(
        rotate.await.expect("task").is_err(),
        "the caller got no answer"
    );

    let stored = table.assert_whole().await;
    assert_eq!(stored[&held_back.id].version, Some(1));
    assert_eq!(stored[&committed.id].version, Some(2));
    assert_eq!(
        stored[&committed.id]
            .events
            .last()
            .map(|(kind, _)| kind.as_str()),
        Some("credential.secret_rotated")
    );

    // A cold start over the same table and key sees every write: the rotation (whose new
    // secret was lost with the invocation; the old one no longer works, as after any
    // rotation without a grace period, and the trail shows it), not the suspension.
    let cold = api_on(&FaultInjector::new(), None, &table, settings, Some(idp)).await;
    let after = cold
        .get(&format!("{base}/{}", committed.id), &admin)
        .await
        .expect(200);
    assert_eq!(
        (version(&after), after.json()["secret_version"].as_u64()),
        (2, Some(2))
    );
    let after = cold
        .get(&format!("{base}/{}", held_back.id), &admin)
        .await
        .expect(200);
    assert_eq!(
        (version(&after), after.json()["status"].as_str()),
        (1, Some("active"))
    );
    cold.token_request(&committed).await.expect(401);
    // Secrets issued before verify at the new instance (no cache, a fresh argon2id check),
    // tokens issued before are good there, and its own tokens are too.
    let fresh = cold.access_token(&steady).await;
    cold.access_token(&held_back).await;
    for token in [&steady_token, &fresh] {
        let introspected = cold
            .form(
                "/oauth/introspect",
                Some((&steady.id, &steady.secret)),
                &[("token", token)],
            )
            .await
            .expect(200);
        assert_eq!(introspected.json()["active"], true, "{}", introspected.text);
        assert_eq!(introspected.json()["iss"], "https://clavis.faults.test");
    }
    let trail = cold
        .get(&format!("{base}/{}/audit", committed.id), &admin)
        .await
        .expect(200);
    assert_eq!(
        trail.json()["items"][0]["type"],
        "credential.secret_rotated"
    );
    table.assert_whole().await;
    eprintln!(
        "faults/timeouts: injected {:?}; two invocations dropped mid-write, three instances",
        faults.injected()
    );
}

/// An API on a fresh table through `faults` that writes usage only when the test flushes it
/// (its background flush is five minutes away), so every usage write a test sees is its own.
pub(crate) async fn api_flushed_by_hand(faults: &FaultInjector) -> TestApi {
    api_flushed_by_hand_with(faults, Env::default()).await
}

/// [`api_flushed_by_hand`] with settings of the test's own.
pub(crate) async fn api_flushed_by_hand_with(faults: &FaultInjector, settings: Env) -> TestApi {
    let settings = settings.with("USAGE_FLUSH_SECONDS", "300");
    api_through(faults, None, settings).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_whose_write_answer_is_lost_is_retried_and_counted_once() {
    let faults = FaultInjector::new();
    let api = api_flushed_by_hand(&faults).await;
    let who = api.integration("lost", &["products:read"]).await;
    for _ in 0..7 {
        api.token_request(&who).await.expect(200);
    }
    let count = || async {
        api.get(
            &format!("/v1/tenants/lost/credentials/{}", who.id),
            &api.admin("lost"),
        )
        .await
        .expect(200)
        .json()["request_count"]
            .as_u64()
    };

    // DynamoDB applies the batch every time, and every answer is lost (the SDK's attempts
    // included): the flush cannot know, and keeps the batch.
    faults.inject("TransactWriteItems", Fault::LoseAnswer, 3);
    let report = api.usage.flush().await;
    assert_eq!((report.written, report.failed), (0, 1), "{report:?}");
    assert_eq!(
        faults.attempts("TransactWriteItems"),
        3 + 1,
        "the create's, then 3"
    );
    assert_eq!(
        count().await,
        Some(7),
        "applied once, though sent three times"
    );

    // The next flush sends it again, under the same write ID, with the new uses beside it.
    api.token_request(&who).await.expect(200);
    let report = api.usage.flush().await;
    assert_eq!((report.written, report.uses, report.failed), (2, 8, 0));
    assert_eq!(count().await, Some(8), "each use once");
}
