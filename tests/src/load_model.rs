//! The load model `make simulate` prints (tests/src/bin/simulate.rs): how many Lambda
//! instances a traffic shape keeps busy, how their batched usage writes land on the counter
//! shards, what DynamoDB capacity each million requests takes, and what that costs at AWS list
//! prices. Its inputs are the project's own figures: the calls and keys per operation that
//! `tests/tests/integration/call_counts.rs` asserts (the constants below are checked there),
//! and the CPU per request `make bench-http` measured (BENCHMARKS.md).

use clavis_core::store::USAGE_SHARDS;

/// DynamoDB work of one request, as `call_counts.rs` counts it.
#[derive(Debug, Clone, Copy)]
pub struct Reads {
    /// Round trips to DynamoDB before the answer.
    pub round_trips: u32,
    /// Items read (strongly consistent: one read unit each, up to 4 KB).
    pub items: u32,
}

/// A Bearer request the authorizer verifies: one `BatchGetItem` of the credential, the deny
/// list entry and the tenant's policy.
pub const BEARER: Reads = Reads {
    round_trips: 1,
    items: 3,
};
/// The same for a credential with a monthly quota: every shard of its month's count as well.
pub const BEARER_WITH_QUOTA: Reads = Reads {
    round_trips: 1,
    items: 3 + USAGE_SHARDS as u32,
};
/// A Basic request (or a repeat token) whose secret the instance verified before: the
/// credential, its two failure counters and the policy, in one `BatchGetItem`.
pub const BASIC_REPEAT: Reads = Reads {
    round_trips: 1,
    items: 4,
};
/// A first-time token: the same read, then the tenant's policy on its own (`GetItem`).
pub const FIRST_TOKEN: Reads = Reads {
    round_trips: 2,
    items: 4,
};

/// Write units of one usage flush of one credential: one `TransactWriteItems` of the month's
/// and the day's shard items, each at most 1 KB, transactional writes costing two units each.
pub const FLUSH_WRITE_UNITS: f64 = 2.0 * 2.0;
/// Items one flush writes.
pub const FLUSH_ITEMS: u32 = 2;

/// CPU milliseconds per request, measured by `make bench-http` on one core of the 2-vCPU
/// machine (BENCHMARKS.md): the authorizer's gateway 0.368 ms per Bearer request, the token
/// endpoint 0.554 ms per repeat token; argon2id 17.7 ms per hash (113 raw hashes a second on
/// two cores).
pub const AUTHORIZER_CPU_MS: f64 = 0.368;
pub const REPEAT_TOKEN_CPU_MS: f64 = 0.554;
pub const ARGON2_CPU_MS: f64 = 17.7;

/// What a shape is run with in AWS: the template's memory sizes, a Lambda's share of a vCPU
/// (one full vCPU at 1,769 MB), DynamoDB's round trip (its published single-digit
/// milliseconds; not measurable here), the flush interval (`USAGE_FLUSH_SECONDS`), and how
/// long an instance lives before Lambda replaces it (each start reads its keys once).
#[derive(Debug, Clone, Copy)]
pub struct Deployment {
    pub authorizer_memory_mb: f64,
    pub token_memory_mb: f64,
    pub dynamodb_round_trip_ms: f64,
    pub flush_interval_s: f64,
    pub instance_lifetime_s: f64,
}

impl Default for Deployment {
    fn default() -> Self {
        Self {
            authorizer_memory_mb: 256.0,
            token_memory_mb: 1024.0,
            dynamodb_round_trip_ms: 5.0,
            flush_interval_s: 1.0,
            instance_lifetime_s: 3600.0,
        }
    }
}

/// AWS list prices, us-east-1, on-demand, arm64 (USD).
pub mod price {
    pub const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
    pub const LAMBDA_PER_GB_SECOND: f64 = 0.000_013_333_4;
    pub const HTTP_API_PER_MILLION: f64 = 1.00;
    pub const DYNAMODB_PER_MILLION_WRITE_UNITS: f64 = 0.625;
    pub const DYNAMODB_PER_MILLION_READ_UNITS: f64 = 0.125;
    pub const SECRETS_MANAGER_PER_10K_CALLS: f64 = 0.05;
}

/// One kind of request Clavis serves.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub name: &'static str,
    pub reads: Reads,
    pub cpu_ms: f64,
    pub memory_mb: f64,
    /// Through Clavis's own HTTP API (the token endpoint), rather than as an authorizer of
    /// the platform's API (whose own request is the platform's).
    pub own_route: bool,
    /// Secrets Manager reads at each cold start (the token issuer's signing key).
    pub secrets_per_start: u32,
}

impl Operation {
    pub fn all(d: &Deployment) -> [Operation; 5] {
        [
            Operation {
                name: "verified request, Bearer",
                reads: BEARER,
                cpu_ms: AUTHORIZER_CPU_MS,
                memory_mb: d.authorizer_memory_mb,
                own_route: false,
                secrets_per_start: 0,
            },
            Operation {
                name: "verified request, Bearer, quota",
                reads: BEARER_WITH_QUOTA,
                cpu_ms: AUTHORIZER_CPU_MS,
                memory_mb: d.authorizer_memory_mb,
                own_route: false,
                secrets_per_start: 0,
            },
            Operation {
                name: "verified request, Basic",
                reads: BASIC_REPEAT,
                cpu_ms: AUTHORIZER_CPU_MS,
                memory_mb: d.authorizer_memory_mb,
                own_route: false,
                secrets_per_start: 0,
            },
            Operation {
                name: "repeat token",
                reads: BASIC_REPEAT,
                cpu_ms: REPEAT_TOKEN_CPU_MS,
                memory_mb: d.token_memory_mb,
                own_route: true,
                secrets_per_start: 1,
            },
            Operation {
                name: "first-time token",
                reads: FIRST_TOKEN,
                cpu_ms: REPEAT_TOKEN_CPU_MS + ARGON2_CPU_MS,
                memory_mb: d.token_memory_mb,
                own_route: true,
                secrets_per_start: 1,
            },
        ]
    }

    /// Billed milliseconds of one invocation: the CPU stretched by the function's share of
    /// a vCPU, plus its round trips, rounded up to the millisecond.
    pub fn billed_ms(&self, d: &Deployment) -> f64 {
        let vcpu = (self.memory_mb / 1769.0).min(1.0);
        (self.cpu_ms / vcpu + f64::from(self.reads.round_trips) * d.dynamodb_round_trip_ms).ceil()
    }
}

/// A traffic shape: requests a second, spread evenly over `keys` credentials.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub requests_per_s: f64,
    pub keys: u64,
}

/// What a shape costs one operation.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub instances: u64,
    /// Writes a second on the busiest usage item (a month or day shard of one credential).
    pub hottest_item_writes_per_s: f64,
    /// The same had counts not been split (every instance writing one item per credential).
    pub unsharded_item_writes_per_s: f64,
    /// Write units a second on the busiest shard's partition (its month and day items, both
    /// written by each flush, transactionally): DynamoDB allows 1,000.
    pub hottest_partition_write_units_per_s: f64,
    pub read_units_per_million: f64,
    pub write_units_per_million: f64,
    pub cost_per_million_usd: f64,
}

/// A small deterministic generator: the model draws shards as instances do, reproducibly.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Runs `shape` for `operation`: instances busy (Little's law over the billed duration), each
/// drawing a shard at random as `UsageRecorder` does and flushing every credential it saw in
/// each interval.
pub fn simulate(operation: &Operation, shape: Shape, d: &Deployment) -> Outcome {
    let duration_s = operation.billed_ms(d) / 1000.0;
    let instances = (shape.requests_per_s * duration_s).ceil().max(1.0) as u64;
    // Requests one instance serves per flush interval, and the distinct credentials among
    // them (uniform over `keys`): each is one flush write.
    let per_instance = shape.requests_per_s / instances as f64 * d.flush_interval_s;
    let keys = shape.keys as f64;
    let distinct = keys * (1.0 - (-per_instance / keys).exp());
    let flushes_per_s = instances as f64 * distinct / d.flush_interval_s;
    // The busiest shard of one credential: the instances that drew it and saw the credential.
    let mut rng = SplitMix(0x5EED ^ instances);
    let mut on_shard = vec![0u64; usize::from(USAGE_SHARDS)];
    for _ in 0..instances {
        on_shard[(rng.next() % u64::from(USAGE_SHARDS)) as usize] += 1;
    }
    let seen = (distinct / keys).min(1.0);
    let busiest = on_shard.iter().copied().max().unwrap_or(0) as f64;
    let hottest_item_writes_per_s = busiest * seen / d.flush_interval_s;
    let unsharded_item_writes_per_s = instances as f64 * seen / d.flush_interval_s;

    let million = 1_000_000.0;
    let requests_per_million = million;
    let read_units_per_million = requests_per_million * f64::from(operation.reads.items);
    let write_units_per_million =
        flushes_per_s * FLUSH_WRITE_UNITS / shape.requests_per_s * million;
    let starts_per_million =
        instances as f64 / d.instance_lifetime_s / shape.requests_per_s * million;
    let lambda = price::LAMBDA_PER_MILLION_REQUESTS
        + million * duration_s * operation.memory_mb / 1024.0 * price::LAMBDA_PER_GB_SECOND;
    let dynamodb = read_units_per_million / million * price::DYNAMODB_PER_MILLION_READ_UNITS
        + write_units_per_million / million * price::DYNAMODB_PER_MILLION_WRITE_UNITS;
    let api = if operation.own_route {
        price::HTTP_API_PER_MILLION
    } else {
        0.0
    };
    let secrets = starts_per_million * f64::from(operation.secrets_per_start) / 10_000.0
        * price::SECRETS_MANAGER_PER_10K_CALLS;
    Outcome {
        instances,
        hottest_item_writes_per_s,
        unsharded_item_writes_per_s,
        hottest_partition_write_units_per_s: hottest_item_writes_per_s * FLUSH_WRITE_UNITS,
        read_units_per_million,
        write_units_per_million,
        cost_per_million_usd: lambda + dynamodb + api + secrets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_at_100k_a_second_keeps_every_item_under_dynamodbs_limit() {
        let d = Deployment::default();
        let bearer = Operation::all(&d)[0];
        let out = simulate(
            &bearer,
            Shape {
                requests_per_s: 100_000.0,
                keys: 1,
            },
            &d,
        );
        assert!(out.hottest_item_writes_per_s < 1000.0, "{out:?}");
        assert!(out.hottest_partition_write_units_per_s < 1000.0, "{out:?}");
        assert!(out.unsharded_item_writes_per_s > out.hottest_item_writes_per_s * 4.0);
    }

    #[test]
    fn spreading_traffic_over_many_keys_makes_every_request_a_write() {
        let d = Deployment::default();
        let bearer = Operation::all(&d)[0];
        let spread = simulate(
            &bearer,
            Shape {
                requests_per_s: 1_000.0,
                keys: 10_000,
            },
            &d,
        );
        // Few requests of one key per instance and interval: batching saves almost nothing.
        assert!(
            spread.write_units_per_million > 3.5 * 1_000_000.0,
            "{spread:?}"
        );
    }
}
