//! Time as the domain sees it: UTC, whole seconds, from a clock that tests can move.

use std::sync::Mutex;

use chrono::{DateTime, SubsecRound, Utc};

/// Every instant Clavis stores or compares. Whole seconds: expiry "takes effect to the second",
/// and stored keys sort lexicographically only when every value has the same shape.
pub type Timestamp = DateTime<Utc>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now().trunc_subsecs(0)
    }
}

/// A clock that only moves when told to: for tests, and for the local gateway's time travel.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start.trunc_subsecs(0)))
    }

    pub fn set(&self, to: Timestamp) {
        *self.lock() = to.trunc_subsecs(0);
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.lock();
        *now += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timestamp> {
        // A panic while holding this lock cannot leave a half-written timestamp behind.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.lock()
    }
}

/// The form used inside storage keys: fixed width, so that string order is time order.
pub fn key_format(at: Timestamp) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses a caller-supplied RFC 3339 instant (any offset) into UTC, dropping sub-seconds.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_format_sorts_like_time() {
        let a = parse_rfc3339("2026-01-02T03:04:05Z").unwrap();
        let b = parse_rfc3339("2026-01-02T03:04:06+00:00").unwrap();
        assert!(key_format(a) < key_format(b));
        assert_eq!(key_format(a), "2026-01-02T03:04:05Z");
    }

    #[test]
    fn parse_normalises_offsets_and_fractions() {
        let t = parse_rfc3339("2026-01-02T05:04:05.999+02:00").unwrap();
        assert_eq!(key_format(t), "2026-01-02T03:04:05Z");
        assert!(parse_rfc3339("2026-01-02").is_none());
        assert!(parse_rfc3339("tomorrow").is_none());
    }
}
