//! Waiting before trying again: exponential, capped, with "equal jitter" (half of the wait
//! fixed, half random), so that requests that collided once do not collide again in step.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
}

impl Backoff {
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Self { initial, max }
    }

    /// The wait before retry number `retry` (0-based).
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max);
        let half = ceiling / 2;
        half + half.mul_f64(crate::random::unit())
    }

    /// Sleeps [`delay`](Self::delay) of `retry`.
    pub async fn wait(&self, retry: u32) {
        tokio::time::sleep(self.delay(retry)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_and_stay_within_their_jitter() {
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(200));
        for (retry, ceiling) in [(0, 10), (1, 20), (2, 40), (4, 160), (5, 200), (30, 200)] {
            let ceiling = Duration::from_millis(ceiling);
            for _ in 0..50 {
                let delay = backoff.delay(retry);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "retry {retry}: {delay:?}"
                );
            }
        }
        // Jitter: fifty waits for the same retry are not all the same.
        let waits: std::collections::HashSet<Duration> =
            (0..50).map(|_| backoff.delay(3)).collect();
        assert!(waits.len() > 1);
    }
}
