//! Webhook delivery, measured locally: DynamoDB Local, its stream read by the in-process
//! publisher (as `make run` does; Lambda and SQS in AWS), and a receiver on 127.0.0.1 that
//! answers 204 and notes when each event arrived. `make bench-webhooks` runs it.
//!
//! 1. Latency: `SPACED` test events sent one after another, 20 ms apart; for each, the time
//!    from the API's answer (the event is written) to its arrival. The floor is the feed's
//!    poll interval: an event waits up to that long to be read.
//! 2. Throughput: `BURST` test events written by 32 concurrent callers; events delivered per
//!    second from the first write to the last arrival, beside the rate the API wrote them at
//!    (the ceiling: nothing can be delivered faster than it is written).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clavis_local::events::FEED_POLL;
use clavis_runtime::config::Env;
use clavis_tests::api::TestApi;
use clavis_tests::stub::{Stub, StubResponse};
use serde_json::json;

const SPACED: usize = 200;
const BURST: usize = 2000;
const CALLERS: usize = 32;

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn wait_for(arrivals: &Arrivals, ids: &[String], within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        let missing = {
            let arrived = arrivals.lock().unwrap_or_else(|p| p.into_inner());
            ids.iter().filter(|id| !arrived.contains_key(*id)).count()
        };
        if missing == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{missing} of {} events not delivered within {within:?}",
                ids.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arrivals: Arrivals = Arc::default();
    let noted = Arc::clone(&arrivals);
    let receiver = Stub::serve(move |request| {
        let noted = Arc::clone(&noted);
        async move {
            if let Some(id) = request.header("webhook-id") {
                noted
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(id.to_owned())
                    .or_insert_with(Instant::now);
            }
            StubResponse::new(204)
        }
    })
    .await;
    let api = TestApi::dynamodb_with(Env::default().with("WEBHOOK_ALLOW_PRIVATE", "true")).await;
    let admin = api.admin("bench");
    let created = api
        .post(
            "/v1/tenants/bench/webhooks",
            &admin,
            json!({ "url": format!("{}/hook", receiver.url()), "event_types": [] }),
        )
        .await
        .expect(201)
        .json();
    let test_path = format!(
        "/v1/tenants/bench/webhooks/{}/test",
        created["webhook"]["id"].as_str().ok_or("a webhook id")?
    );
    let deliveries = api.start_deliveries();
    let send = |api: &TestApi| {
        let (api_url, path, admin) = (api.gateway.url(), test_path.clone(), admin.clone());
        let http = api.http.clone();
        async move {
            let reply: serde_json::Value = http
                .post(format!("{api_url}{path}"))
                .bearer_auth(&admin)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let id = reply["event_id"].as_str().ok_or("an event id")?.to_owned();
            Ok::<_, String>((id, Instant::now()))
        }
    };

    let mut written = Vec::new();
    for _ in 0..SPACED {
        written.push(send(&api).await?);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ids: Vec<String> = written.iter().map(|(id, _)| id.clone()).collect();
    wait_for(&arrivals, &ids, Duration::from_secs(60)).await?;
    let mut latencies: Vec<Duration> = {
        let arrived = arrivals.lock().unwrap_or_else(|p| p.into_inner());
        written
            .iter()
            .map(|(id, at)| arrived[id].saturating_duration_since(*at))
            .collect()
    };
    latencies.sort();

    let started = Instant::now();
    let mut burst = Vec::with_capacity(BURST);
    let mut callers = tokio::task::JoinSet::new();
    for caller in 0..CALLERS {
        let share = BURST / CALLERS + usize::from(caller < BURST % CALLERS);
        let sends: Vec<_> = (0..share).map(|_| send(&api)).collect();
        callers.spawn(async move {
            let mut ids = Vec::new();
            for sent in sends {
                ids.push(sent.await?.0);
            }
            Ok::<_, String>(ids)
        });
    }
    while let Some(done) = callers.join_next().await {
        burst.extend(done??);
    }
    let write_time = started.elapsed();
    wait_for(&arrivals, &burst, Duration::from_secs(300)).await?;
    let last = {
        let arrived = arrivals.lock().unwrap_or_else(|p| p.into_inner());
        burst
            .iter()
            .map(|id| arrived[id])
            .max()
            .ok_or("no arrivals")?
    };
    let delivery_time = last.saturating_duration_since(started);
    deliveries.stop().await;

    let written_per_s = BURST as f64 / write_time.as_secs_f64();
    let delivered_per_s = BURST as f64 / delivery_time.as_secs_f64();
    println!(
        "{}",
        json!({
            "spaced_events": SPACED,
            "latency_ms": {
                "median": percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
                "p99": percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
                "max": latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
                "feed_poll_floor": FEED_POLL.as_secs_f64() * 1000.0,
            },
            "burst_events": BURST,
            "written_per_s": (written_per_s * 10.0).round() / 10.0,
            "delivered_per_s": (delivered_per_s * 10.0).round() / 10.0,
            "delivered_over_written": (delivered_per_s / written_per_s * 100.0).round() / 100.0,
        })
    );
    Ok(())
}
