//! Many lifecycle operations on one credential at the same moment, through the local gateway
//! on DynamoDB Local. Every write is conditioned on the version it read, so the accepted ones
//! must line up as consecutive versions: replaying them in that order on a model of the
//! lifecycle rules has to reach, step by step, the states the API answered with, and the audit
//! trail has to hold one event per accepted operation and nothing else.

use std::collections::BTreeMap;

use chrono::Duration;
use clavis_runtime::config::Env;
use clavis_tests::api::{Integration, Reply, TestApi};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

const TENANT: &str = "acme";

#[derive(Debug, Clone)]
enum Op {
    Rotate { grace: bool },
    Suspend,
    Reactivate,
    SetExpiry(Option<String>),
    Revoke,
}

impl Op {
    fn audit_type(&self) -> &'static str {
        match self {
            Op::Rotate { .. } => "credential.secret_rotated",
            Op::Suspend => "credential.suspended",
            Op::Reactivate => "credential.reactivated",
            Op::SetExpiry(_) => "credential.expiry_changed",
            Op::Revoke => "credential.revoked",
        }
    }

    async fn send(&self, api: &TestApi, id: &str) -> Reply {
        let path = format!("/v1/tenants/{TENANT}/credentials/{id}");
        let (method, path, body) = match self {
            Op::Rotate { grace } => (
                Method::POST,
                format!("{path}/rotate"),
                json!({"previous_secret_valid_for_seconds": if *grace { 600 } else { 0 }}),
            ),
            Op::Suspend => (Method::POST, format!("{path}/suspend"), json!({})),
            Op::Reactivate => (Method::POST, format!("{path}/reactivate"), json!({})),
            Op::SetExpiry(at) => (
                Method::PUT,
                format!("{path}/expiry"),
                json!({"expires_at": at}),
            ),
            Op::Revoke => (
                Method::POST,
                format!("{path}/revoke"),
                json!({"reason": "race"}),
            ),
        };
        api.send(method, &path, Some(&api.admin(TENANT)), Some(body), &[])
            .await
    }
}

/// The part of a credential the raced operations change.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    status: String,
    expires_at: Option<String>,
    secret_version: u64,
    version: u64,
}

impl Model {
    fn of(view: &Value) -> Self {
        Self {
            status: view["status"].as_str().unwrap_or_default().to_owned(),
            expires_at: view["expires_at"].as_str().map(normalise),
            secret_version: view["secret_version"].as_u64().unwrap_or_default(),
            version: view["version"].as_u64().unwrap_or_default(),
        }
    }

    /// The lifecycle table (DESIGN.md), for the statuses these operations can reach.
    fn apply(&self, op: &Op) -> Result<Self, String> {
        let mut next = self.clone();
        next.version += 1;
        match (op, self.status.as_str()) {
            (_, "revoked") => return Err(format!("{op:?} accepted after the revocation")),
            (Op::Rotate { .. }, "active" | "suspended") => next.secret_version += 1,
            (Op::Suspend, "active") => next.status = "suspended".into(),
            (Op::Reactivate, "suspended") => next.status = "active".into(),
            (Op::SetExpiry(at), "active") => next.expires_at = at.as_deref().map(normalise),
            (Op::Revoke, _) => next.status = "revoked".into(),
            (op, status) => return Err(format!("{op:?} accepted while {status}")),
        }
        Ok(next)
    }
}

/// RFC 3339 timestamps compare as instants, whatever precision the API prints.
fn normalise(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.to_utc().to_rfc3339())
        .unwrap_or_else(|_| at.to_owned())
}

struct Accepted {
    op: Op,
    body: Value,
}

/// Sends every operation at once; checks each answer is a success or a refusal with a code.
async fn race(api: &TestApi, id: &str, ops: &[Op]) -> Vec<Accepted> {
    let replies = join_all(ops.iter().map(|op| op.send(api, id))).await;
    let mut accepted = Vec::new();
    for (op, reply) in ops.iter().zip(replies) {
        match reply.status {
            200 => accepted.push(Accepted {
                op: op.clone(),
                body: reply.json(),
            }),
            409 => assert!(
                !reply.code().is_empty(),
                "{op:?} refused without a code: {}",
                reply.text
            ),
            _ => panic!("{op:?} answered {}: {}", reply.status, reply.text),
        }
    }
    accepted.sort_by_key(|a| view(&a.body)["version"].as_u64());
    accepted
}

/// Rotations answer `{credential, client_secret}`, the others the credential itself.
fn view(body: &Value) -> &Value {
    if body.get("client_secret").is_some() {
        &body["credential"]
    } else {
        body
    }
}

/// Replays the accepted operations in version order from `start`; each must have been allowed
/// by the rules and must have answered exactly the state the replay reaches.
fn replay(start: Model, accepted: &[Accepted]) -> Model {
    accepted.iter().fold(start, |model, a| {
        let next = model
            .apply(&a.op)
            .unwrap_or_else(|e| panic!("no serial order explains this: {e}"));
        assert_eq!(Model::of(view(&a.body)), next, "after {:?}", a.op);
        next
    })
}

async fn credential(api: &TestApi, id: &str) -> Value {
    api.get(
        &format!("/v1/tenants/{TENANT}/credentials/{id}"),
        &api.admin(TENANT),
    )
    .await
    .expect(200)
    .json()
}

/// Audit event types after `created`, counted, following every page.
async fn audit_counts(api: &TestApi, id: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/tenants/{TENANT}/credentials/{id}/audit?limit=100");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = api.get(&path, &api.admin(TENANT)).await.expect(200).json();
        for event in page["items"].as_array().into_iter().flatten() {
            let kind = event["type"].as_str().unwrap_or_default().to_owned();
            if kind != "credential.created" {
                *counts.entry(kind).or_default() += 1;
            }
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return counts,
        }
    }
}

fn counts_of<'a>(ops: impl Iterator<Item = &'a Op>) -> BTreeMap<String, usize> {
    ops.fold(BTreeMap::new(), |mut counts, op| {
        *counts.entry(op.audit_type().to_owned()).or_default() += 1;
        counts
    })
}

async fn token_status(api: &TestApi, id: &str, secret: &str) -> u16 {
    api.form(
        "/oauth/token",
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .status
}

/// Each kind of operation several times over, expiry edits spread over distinct future days
/// (never inside the 72-hour lock) and removals.
fn mixed_ops(api: &TestApi, revokes: usize) -> Vec<Op> {
    let mut ops = Vec::new();
    for i in 0..12 {
        ops.push(Op::Rotate { grace: i % 2 == 0 });
        ops.push(Op::Suspend);
        ops.push(Op::Reactivate);
        let at = (api.fixture.now() + Duration::days(10 + i)).to_rfc3339();
        ops.push(Op::SetExpiry((i % 4 != 3).then_some(at)));
    }
    ops.extend(std::iter::repeat_n(Op::Revoke, revokes));
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_lifecycle_operations_serialise_and_leave_one_trail() {
    // Wrong secrets are tried on purpose below; keep the failure throttle out of the way.
    let api = TestApi::dynamodb_with(Env::default().with("TOKEN_FAILURE_LIMIT", "1000")).await;
    let created = api
        .create(
            TENANT,
            json!({"name": "raced", "scopes": ["products:read"], "expires_in_days": 30}),
        )
        .await;
    let Integration {
        id,
        secret: first_secret,
    } = Integration::of(&created);
    let start = Model::of(&created["credential"]);

    // Round one: everything but revocation, 48 operations at once.
    let ops = mixed_ops(&api, 0);
    let accepted = race(&api, &id, &ops).await;
    let after = replay(start.clone(), &accepted);
    assert_eq!(
        after.version,
        start.version + accepted.len() as u64,
        "versions of accepted writes are consecutive, none lost, none twice"
    );
    assert_eq!(Model::of(&credential(&api, &id).await), after);
    assert_eq!(
        audit_counts(&api, &id).await,
        counts_of(accepted.iter().map(|a| &a.op))
    );
    assert!(
        accepted.iter().any(|a| matches!(a.op, Op::Rotate { .. })),
        "at least one rotation got through"
    );

    // Secrets: the last rotation's works, and the one it replaced only if it granted grace.
    if after.status == "suspended" {
        api.post(
            &format!("/v1/tenants/{TENANT}/credentials/{id}/reactivate"),
            &api.admin(TENANT),
            json!({}),
        )
        .await
        .expect(200);
    }
    let mut secrets = vec![(first_secret, false)];
    for a in &accepted {
        if let Op::Rotate { grace } = a.op {
            let secret = a.body["client_secret"].as_str().expect("secret").to_owned();
            secrets.push((secret, grace));
        }
    }
    let last_granted_grace = secrets.last().is_some_and(|(_, grace)| *grace);
    let live = secrets.len() - 1;
    for (i, (secret, _)) in secrets.iter().enumerate() {
        let works = i == live || (i + 1 == live && last_granted_grace);
        let status = token_status(&api, &id, secret).await;
        assert_eq!(
            status,
            if works { 200 } else { 401 },
            "secret {i} of {live}"
        );
    }

    // Round two: three revocations among everything else. One wins; nothing follows it.
    let start = Model::of(&credential(&api, &id).await);
    let before = audit_counts(&api, &id).await;
    let mut accepted = race(&api, &id, &mixed_ops(&api, 3)).await;
    let revoked_in_race = accepted
        .iter()
        .filter(|a| matches!(a.op, Op::Revoke))
        .count();
    assert!(revoked_in_race <= 1, "at most one revocation is accepted");
    if revoked_in_race == 0 {
        // Every revocation lost its retries to the others (409 concurrent_modification, a busy
        // machine makes that likely); a client sends it again, and now nothing competes.
        let reply = Op::Revoke.send(&api, &id).await.expect(200);
        accepted.push(Accepted {
            op: Op::Revoke,
            body: reply.json(),
        });
    }
    let after = replay(start.clone(), &accepted);
    assert!(
        matches!(accepted.last().map(|a| &a.op), Some(Op::Revoke)),
        "the revocation is the last accepted write"
    );
    assert_eq!(after.status, "revoked");
    assert_eq!(Model::of(&credential(&api, &id).await), after);
    let mut expected = before;
    for (kind, n) in counts_of(accepted.iter().map(|a| &a.op)) {
        *expected.entry(kind).or_default() += n;
    }
    assert_eq!(audit_counts(&api, &id).await, expected);

    // Revoked stays revoked: every operation is refused, and no secret gets a token.
    let refused = [
        Op::Rotate { grace: false },
        Op::Suspend,
        Op::Reactivate,
        Op::SetExpiry(None),
        Op::Revoke,
    ];
    for op in &refused {
        op.send(&api, &id)
            .await
            .expect_problem(409, "credential_revoked");
    }
    for (secret, _) in &secrets {
        assert_eq!(token_status(&api, &id, secret).await, 401);
    }
    assert_eq!(Model::of(&credential(&api, &id).await), after);
}
