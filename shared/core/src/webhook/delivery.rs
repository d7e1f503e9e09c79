//! A delivery: one event on its way to one endpoint. Its state moves from `pending` to
//! `delivered` (a 2xx within the timeout) or, after the retry schedule, to `failed`. The
//! message id, the body and so the signatures' input are fixed when the delivery is made, so
//! every retry carries the same `webhook-id`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids::{EventId, TenantId, WebhookId};
use crate::time::Timestamp;

/// A receiver has this long to answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a delivery's record is kept after its event: past the whole retry schedule, long
/// enough to look back on a month.
pub const DELIVERY_KEPT: chrono::Duration = chrono::Duration::days(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

/// Why an attempt got no usable answer. Shown to admins, so it names the kind of failure and
/// nothing of the receiver's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptError {
    Timeout,
    ConnectionFailed,
    /// The host now resolves to an address the destination rules refuse.
    DestinationNotAllowed,
    /// The endpoint was disabled or deleted before this attempt.
    EndpointUnavailable,
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttemptError::Timeout => "timeout",
            AttemptError::ConnectionFailed => "connection failed",
            AttemptError::DestinationNotAllowed => "destination not allowed",
            AttemptError::EndpointUnavailable => "endpoint unavailable",
        })
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// An HTTP answer, with its status.
    Answered(u16),
    NoAnswer(AttemptError),
}

impl AttemptOutcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, AttemptOutcome::Answered(status) if (200..300).contains(status))
    }

    /// 410 Gone: the receiver says the endpoint will never take deliveries again.
    pub fn gone(&self) -> bool {
        matches!(self, AttemptOutcome::Answered(410))
    }
}

/// The waits before each retry: after the first attempt fails, after the second, and so on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a retry schedule is comma-separated whole seconds, each at most a day (e.g. 5,300,1800)")]
pub struct InvalidSchedule;

impl Default for RetrySchedule {
    /// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: a receiver down for most of a day still gets
    /// its events.
    fn default() -> Self {
        Self(
            [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]
                .map(Duration::from_secs)
                .to_vec(),
        )
    }
}

impl RetrySchedule {
    pub fn parse(text: &str) -> Result<Self, InvalidSchedule> {
        let waits = text
            .split(',')
            .map(|part| match part.trim().parse::<u64>() {
                Ok(seconds) if seconds <= 86_400 => Ok(Duration::from_secs(seconds)),
                _ => Err(InvalidSchedule),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(waits))
    }

    /// The wait after the `attempts`-th attempt failed, or `None` when retries are used up.
    pub fn wait_after(&self, attempts: u32) -> Option<Duration> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        self.0.get(index).copied()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub tenant: TenantId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub event_type: String,
    /// When the event happened: orders a webhook's deliveries, newest first.
    pub event_at: Timestamp,
    /// The exact bytes every attempt sends and signs.
    pub body: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<AttemptError>,
    pub next_attempt_at: Option<Timestamp>,
    pub state: DeliveryState,
}

impl Delivery {
    /// A delivery of the event `key` names (of type `event_type`), due now.
    pub fn new(key: DeliveryKey, event_type: &str, body: String, now: Timestamp) -> Self {
        Self {
            tenant: key.tenant,
            webhook_id: key.webhook_id,
            event_id: key.event_id,
            event_type: event_type.to_owned(),
            event_at: key.event_at,
            body,
            attempts: 0,
            last_status: None,
            last_error: None,
            next_attempt_at: Some(now),
            state: DeliveryState::Pending,
        }
    }

    pub fn key(&self) -> DeliveryKey {
        DeliveryKey {
            tenant: self.tenant.clone(),
            webhook_id: self.webhook_id.clone(),
            event_id: self.event_id.clone(),
            event_at: self.event_at,
        }
    }

    /// The delivery after one more attempt: delivered, due again after the schedule's next
    /// wait, or failed once the schedule is used up (or at once, when the endpoint is gone).
    pub fn after_attempt(
        &self,
        outcome: AttemptOutcome,
        now: Timestamp,
        schedule: &RetrySchedule,
    ) -> Delivery {
        let mut next = self.clone();
        next.attempts = self.attempts.saturating_add(1);
        (next.last_status, next.last_error) = match outcome {
            AttemptOutcome::Answered(status) => (Some(status), None),
            AttemptOutcome::NoAnswer(error) => (None, Some(error)),
        };
        let retry = (!outcome.succeeded() && !outcome.gone())
            .then(|| schedule.wait_after(next.attempts))
            .flatten();
        (next.state, next.next_attempt_at) = match retry {
            _ if outcome.succeeded() => (DeliveryState::Delivered, None),
            Some(wait) => (
                DeliveryState::Pending,
                Some(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero())),
            ),
            None => (DeliveryState::Failed, None),
        };
        next
    }

    /// This delivery, failed without an attempt: its endpoint was disabled or deleted.
    pub fn abandoned(&self) -> Delivery {
        Delivery {
            last_error: Some(AttemptError::EndpointUnavailable),
            next_attempt_at: None,
            state: DeliveryState::Failed,
            ..self.clone()
        }
    }
}

/// Where a delivery is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryKey {
    pub tenant: TenantId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub event_at: Timestamp,
}

/// A queued request to attempt a delivery: its key, how many attempts it had when queued (a
/// ticket that no longer matches is a stale duplicate and does nothing), and when it is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryTicket {
    #[serde(flatten)]
    pub key: DeliveryKey,
    pub attempts: u32,
    pub due_at: Timestamp,
}
