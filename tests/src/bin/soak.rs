//! `make soak`: the token endpoint and the management API under load together, for a bounded
//! time, through the local gateway on DynamoDB Local. `hey` drives four workloads at once:
//! token requests, credential creations, rotations of one credential, and listings. Afterwards
//! every accepted write must be in the table and in the audit trail, no request may have failed,
//! and no plaintext secret may be in the table or the logs.
//!
//! Usage: soak [SECONDS] (default 60). Prints a JSON summary; exits non-zero on any finding.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use clavis_core::secret::looks_like_secret;
use clavis_tests::api::{TestApi, captured_logs};
use clavis_tests::scan::table_text;
use serde_json::{Value, json};
use tokio::process::Command;

const TENANT: &str = "soak";

/// One `hey` run and what it expects every response to be.
struct Load {
    name: &'static str,
    concurrency: u32,
    method: &'static str,
    path: String,
    content_type: &'static str,
    authorization: String,
    body: Option<String>,
    expected_status: u16,
}

impl Load {
    /// Runs for `seconds` and returns the count of responses per status (0: no response).
    async fn run(&self, base: &str, seconds: u64) -> Result<BTreeMap<u16, u64>, String> {
        let mut hey = Command::new("hey");
        hey.args(["-z", &format!("{seconds}s")])
            .args(["-c", &self.concurrency.to_string()])
            .args(["-m", self.method, "-T", self.content_type, "-o", "csv"])
            .args(["-H", &format!("Authorization: {}", self.authorization)]);
        if let Some(body) = &self.body {
            hey.args(["-d", body]);
        }
        let output = hey
            .arg(format!("{base}{}", self.path))
            .output()
            .await
            .map_err(|e| format!("hey ({}): {e}; is hey installed?", self.name))?;
        if !output.status.success() {
            return Err(format!(
                "hey ({}) failed: {}",
                self.name,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        // CSV rows: response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,
        // status-code,offset. A request that got no response has no status.
        let mut statuses = BTreeMap::new();
        for row in String::from_utf8_lossy(&output.stdout).lines().skip(1) {
            let status = row
                .split(',')
                .nth(6)
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            *statuses.entry(status).or_default() += 1;
        }
        Ok(statuses)
    }
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// Every item of a paged listing under `path`.
async fn all_items(api: &TestApi, path: &str, token: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{separator}limit=100");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page = api.get(&url, token).await.expect(200).json();
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let seconds: u64 = match std::env::args().nth(1).map(|s| s.parse()) {
        None => 60,
        Some(Ok(seconds)) if seconds > 0 => seconds,
        Some(_) => {
            eprintln!("usage: soak [SECONDS]");
            return ExitCode::from(2);
        }
    };
    match soak(seconds).await {
        Ok(summary) => {
            println!("{summary:#}");
            ExitCode::SUCCESS
        }
        Err(findings) => {
            eprintln!("soak failed:\n- {}", findings.join("\n- "));
            ExitCode::FAILURE
        }
    }
}

async fn soak(seconds: u64) -> Result<Value, Vec<String>> {
    let api = TestApi::dynamodb().await;
    let admin = format!("Bearer {}", api.admin(TENANT));
    let integration = api.integration(TENANT, &["soak:read"]).await;
    let rotated = api.integration(TENANT, &["soak:write"]).await;
    let credentials = format!("/v1/tenants/{TENANT}/credentials");
    let loads = [
        Load {
            name: "token requests",
            concurrency: 4,
            method: "POST",
            path: "/oauth/token".into(),
            content_type: "application/x-www-form-urlencoded",
            authorization: basic(&integration.id, &integration.secret),
            body: Some("grant_type=client_credentials".into()),
            expected_status: 200,
        },
        Load {
            name: "creations",
            concurrency: 2,
            method: "POST",
            path: credentials.clone(),
            content_type: "application/json",
            authorization: admin.clone(),
            body: Some(json!({"name": "soaked", "scopes": ["soak:read"]}).to_string()),
            expected_status: 201,
        },
        Load {
            name: "rotations of one credential",
            concurrency: 2,
            method: "POST",
            path: format!("{credentials}/{}/rotate", rotated.id),
            content_type: "application/json",
            authorization: admin.clone(),
            body: Some("{}".into()),
            expected_status: 200,
        },
        Load {
            name: "listings",
            concurrency: 2,
            method: "GET",
            path: format!("{credentials}?limit=20"),
            content_type: "application/json",
            authorization: admin.clone(),
            body: None,
            expected_status: 200,
        },
    ];

    let base = api.gateway.url();
    let started = Instant::now();
    let results =
        futures_util::future::join_all(loads.iter().map(|load| load.run(&base, seconds))).await;
    let elapsed = started.elapsed().as_secs_f64();

    let mut findings = Vec::new();
    let mut accepted = BTreeMap::new();
    let mut sent = 0;
    for (load, result) in loads.iter().zip(results) {
        match result {
            Ok(statuses) => {
                sent += statuses.values().sum::<u64>();
                for (status, count) in &statuses {
                    if *status != load.expected_status {
                        findings.push(format!("{}: {count} answered {status}", load.name));
                    }
                }
                let ok = statuses.get(&load.expected_status).copied().unwrap_or(0);
                if ok == 0 {
                    findings.push(format!("{}: nothing was accepted", load.name));
                }
                accepted.insert(load.name, ok);
            }
            Err(e) => findings.push(e),
        }
    }
    let tokens = accepted.get("token requests").copied().unwrap_or(0);
    let created = accepted.get("creations").copied().unwrap_or(0);
    let rotations = accepted
        .get("rotations of one credential")
        .copied()
        .unwrap_or(0);

    // Every accepted write is in the table, as the API reads it back.
    let token = api.admin(TENANT);
    let listed = all_items(&api, &credentials, &token).await;
    if listed.len() as u64 != created + 2 {
        findings.push(format!(
            "{} credentials listed, {} created (+2 set up)",
            listed.len(),
            created
        ));
    }
    let rotated_now = api
        .get(&format!("{credentials}/{}", rotated.id), &token)
        .await
        .expect(200)
        .json();
    if rotated_now["secret_version"].as_u64() != Some(rotations + 1) {
        findings.push(format!(
            "secret_version {} after {rotations} accepted rotations",
            rotated_now["secret_version"]
        ));
    }
    api.flush_usage().await;
    let used = api
        .get(&format!("{credentials}/{}", integration.id), &token)
        .await
        .expect(200)
        .json()["request_count"]
        .as_u64();
    if used != Some(tokens) {
        findings.push(format!(
            "request_count {used:?} after {tokens} tokens issued"
        ));
    }
    // And in the audit trail: one event per accepted write, nothing else.
    let events = all_items(&api, &format!("/v1/tenants/{TENANT}/audit"), &token).await;
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    for event in &events {
        *by_type
            .entry(event["type"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    let expected: BTreeMap<String, u64> = [
        ("credential.created".to_owned(), created + 2),
        ("credential.secret_rotated".to_owned(), rotations),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .collect();
    if by_type != expected {
        findings.push(format!("audit trail {by_type:?}, expected {expected:?}"));
    }
    // No plaintext secret anywhere: every item's every string, and everything logged.
    let (client, table) = api.fixture.table.as_ref().expect("a DynamoDB fixture");
    let items = table_text(client, table).await;
    let leaking = items
        .iter()
        .filter(|(_, texts)| texts.iter().any(|t| looks_like_secret(t)))
        .count();
    if leaking > 0 {
        findings.push(format!("{leaking} items hold a plaintext secret"));
    }
    let logs = captured_logs();
    if looks_like_secret(&logs) {
        findings.push("a plaintext secret was logged".to_owned());
    }

    let summary = json!({
        "seconds": seconds,
        "elapsed_seconds": (elapsed * 10.0).round() / 10.0,
        "requests_sent": sent,
        "accepted": accepted,
        "credentials_listed": listed.len(),
        "audit_events": events.len(),
        "table_items_scanned": items.len(),
        "log_bytes_scanned": logs.len(),
    });
    if findings.is_empty() {
        Ok(summary)
    } else {
        findings.push(format!("summary: {summary}"));
        Err(findings)
    }
}
