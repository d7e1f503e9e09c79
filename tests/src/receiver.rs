//! A webhook receiver on 127.0.0.1 (`tests/receiver/receiver.mjs`) that verifies each delivery
//! with the Standard Webhooks library for Node.js, so that Clavis's signatures are checked by
//! code Clavis did not write.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use clavis_local::dynamodb_local::repo_root;

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub id: String,
    pub timestamp: String,
    pub event_type: Option<String>,
    pub content_type: Option<String>,
    /// Whether each secret configured for the path verified the delivery.
    pub verified: Vec<bool>,
    pub signatures: usize,
    pub body: Value,
}

pub struct Receiver {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

impl Receiver {
    pub async fn start() -> Self {
        let script = repo_root().join("tests/receiver/receiver.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("node {}: {e}", script.display()));
        let stdout = child.stdout.take().expect("the receiver's output");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the receiver starts within 20 s")
            .expect("the receiver's first line")
            .expect("the receiver prints its port");
        let port = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected receiver output: {line}"));
        Self {
            child,
            port,
            http: reqwest::Client::new(),
        }
    }

    /// The URL of one of its endpoints (each path is its own receiver).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Verify deliveries to `path` with each of `secrets`, and answer them with `answers` in
    /// turn (the last repeats).
    pub async fn configure(&self, path: &str, secrets: &[&str], answers: &[u16]) {
        self.http
            .post(self.url("/_configure"))
            .json(&json!({ "path": path, "secrets": secrets, "answers": answers }))
            .send()
            .await
            .expect("configure the receiver")
            .error_for_status()
            .expect("the receiver took its configuration");
    }

    pub async fn received(&self) -> Vec<Received> {
        let all: Vec<Value> = self
            .http
            .get(self.url("/_received"))
            .send()
            .await
            .expect("ask the receiver")
            .json()
            .await
            .expect("the receiver's list");
        all.into_iter()
            .map(|r| Received {
                path: r["path"].as_str().unwrap_or_default().to_owned(),
                id: r["id"].as_str().unwrap_or_default().to_owned(),
                timestamp: r["timestamp"].as_str().unwrap_or_default().to_owned(),
                event_type: r["type"].as_str().map(str::to_owned),
                content_type: r["contentType"].as_str().map(str::to_owned),
                verified: r["verified"]
                    .as_array()
                    .map(|v| v.iter().map(|b| b.as_bool() == Some(true)).collect())
                    .unwrap_or_default(),
                signatures: r["signatures"].as_u64().unwrap_or(0) as usize,
                body: serde_json::from_str(r["body"].as_str().unwrap_or("null"))
                    .unwrap_or(Value::Null),
            })
            .collect()
    }

    /// What `path` received, once `done` holds for it; panics after `within`. `tick` runs between
    /// looks (a test moves its clock there, so that retries fall due).
    pub async fn wait_for(
        &self,
        path: &str,
        within: Duration,
        mut tick: impl FnMut(),
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let at_path: Vec<Received> = self
                .received()
                .await
                .into_iter()
                .filter(|r| r.path == path)
                .collect();
            if done(&at_path) {
                return at_path;
            }
            if tokio::time::Instant::now() > deadline {
                let logs = crate::api::captured_logs();
                let related: Vec<&str> = logs
                    .lines()
                    .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
                    .collect();
                panic!(
                    "{path} did not receive what was expected within {within:?}: {at_path:#?}\nlogs:\n{}",
                    related.join("\n")
                );
            }
            tick();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
