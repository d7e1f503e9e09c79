//! `make simulate`: the load model (tests/src/load_model.rs) over the traffic shapes the
//! scaling issue asks about, no AWS needed. Prints, per shape and kind of request, the Lambda
//! instances kept busy, the writes a second on the hottest usage item (and what one unsplit
//! item would take), the read and write units per million requests, and the cost per million
//! at list prices; the last line is machine-readable.

use clavis_core::store::USAGE_SHARDS;
use clavis_tests::load_model::{Deployment, Operation, Shape, simulate};

/// A 30-day month.
const SECONDS_PER_MONTH: f64 = 30.0 * 24.0 * 3600.0;

fn main() {
    let d = Deployment::default();
    println!(
        "Load model: {USAGE_SHARDS} usage shards, flush every {} s, DynamoDB round trip {} ms, \
         authorizer {} MB, token functions {} MB (tests/src/load_model.rs)",
        d.flush_interval_s, d.dynamodb_round_trip_ms, d.authorizer_memory_mb, d.token_memory_mb
    );
    println!();
    println!(
        "| shape | request | instances | hottest item writes/s | its partition's write units/s | unsplit item writes/s | read units / M | write units / M | USD / M | USD / month |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let shapes = [
        ("1k/s, one key", 1_000.0, 1),
        ("10k/s, one key", 10_000.0, 1),
        ("100k/s, one key", 100_000.0, 1),
        ("1k/s, 10,000 keys", 1_000.0, 10_000),
        ("10k/s, 10,000 keys", 10_000.0, 10_000),
        ("100k/s, 10,000 keys", 100_000.0, 10_000),
    ];
    let mut headline = None;
    for (label, requests_per_s, keys) in shapes {
        let shape = Shape {
            requests_per_s,
            keys,
        };
        for operation in Operation::all(&d) {
            let out = simulate(&operation, shape, &d);
            println!(
                "| {label} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.3} | {:.0} |",
                operation.name,
                out.instances,
                out.hottest_item_writes_per_s,
                out.hottest_partition_write_units_per_s,
                out.unsharded_item_writes_per_s,
                out.read_units_per_million,
                out.write_units_per_million,
                out.cost_per_million_usd,
                out.cost_per_million_usd * requests_per_s * SECONDS_PER_MONTH / 1_000_000.0
            );
            if keys == 1
                && requests_per_s == 100_000.0
                && operation.name == "verified request, Bearer"
            {
                headline = Some(out);
            }
        }
    }
    let Some(headline) = headline else {
        eprintln!("the 100k/s one-key Bearer shape was not run");
        std::process::exit(1);
    };
    println!();
    println!(
        "hottest_item_writes_per_s_at_100k_rps={:.0} cost_per_million_verified_requests_usd={:.3}",
        headline.hottest_item_writes_per_s, headline.cost_per_million_usd
    );
}
