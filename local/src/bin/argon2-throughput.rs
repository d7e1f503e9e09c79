//! Raw argon2id verifications per second, in process, at the configured cost: the baseline the
//! token endpoint's throughput is compared with in `make bench`.
//!
//! Usage: `argon2-throughput [threads] [seconds]`; prints one JSON line.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clavis_core::credential::Environment;
use clavis_core::secret::ClientSecret;
use clavis_runtime::config::{Env, secret_hasher};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let threads: usize = match args.next() {
        Some(n) => n.parse()?,
        None => std::thread::available_parallelism()?.get(),
    };
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let hasher = Arc::new(secret_hasher(&Env::from_process())?);
    let secret = ClientSecret::generate(Environment::Live);
    let hash = hasher.hash(&secret)?;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (hasher, secret, hash, done) = (
                Arc::clone(&hasher),
                secret.clone(),
                hash.clone(),
                Arc::clone(&done),
            );
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    if hasher.verify(&secret, &hash) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "worker panicked")?;
    }
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("{{\"threads\": {threads}, \"verifies_per_second\": {rate:.1}}}");
    Ok(())
}
