//! Expiry: when an expiry may be set or edited, and what the sweeper records once one nears
//! and once it has passed.

use chrono::Duration;

use super::{Transition, next_version};
use crate::audit::{Actor, AuditAction, AuditEvent, Context};
use crate::credential::{Credential, Status, ValidationError};
use crate::time::Timestamp;

/// An expiry this close (or closer) can no longer be edited: integrations must not be surprised
/// by a last-minute change, and a UI with a skewed clock must not race the deadline.
pub const EXPIRY_LOCK_WINDOW: Duration = Duration::hours(72);
/// No expiry further out than this; a credential meant to live forever has no expiry at all.
pub const MAX_EXPIRY_AHEAD: Duration = Duration::days(3650);

/// Whether an edit of `expires_at` is refused at `now`. Locked from exactly 72:00:00 before.
pub fn is_expiry_locked(expires_at: Timestamp, now: Timestamp) -> bool {
    expires_at - now <= EXPIRY_LOCK_WINDOW
}

/// Checks a requested expiry: strictly in the future, and not absurdly far.
pub fn check_new_expiry(
    field: &'static str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<Timestamp, ValidationError> {
    if expires_at <= now {
        return Err(ValidationError::new(
            field,
            "expiry_in_past",
            format!(
                "{field} must be in the future (it is {expires_at}, the server's time is {now})"
            ),
        ));
    }
    if expires_at - now > MAX_EXPIRY_AHEAD {
        return Err(ValidationError::new(
            field,
            "expiry_too_far",
            format!(
                "{field} must be at most {} days ahead; leave it out for a credential that does not expire",
                MAX_EXPIRY_AHEAD.num_days()
            ),
        ));
    }
    Ok(expires_at)
}

/// Resolves the two ways a caller may ask for an expiry at creation.
pub fn requested_expiry(
    expires_at: Option<Timestamp>,
    expires_in_days: Option<i64>,
    now: Timestamp,
) -> Result<Option<Timestamp>, ValidationError> {
    match (expires_at, expires_in_days) {
        (Some(_), Some(_)) => Err(ValidationError::new(
            "expires_in_days",
            "conflicting_expiry",
            "give expires_at or expires_in_days, not both",
        )),
        (Some(at), None) => check_new_expiry("expires_at", at, now).map(Some),
        (None, Some(days)) if !(1..=MAX_EXPIRY_AHEAD.num_days()).contains(&days) => {
            Err(ValidationError::new(
                "expires_in_days",
                "invalid_expiry",
                format!(
                    "expires_in_days must be between 1 and {}",
                    MAX_EXPIRY_AHEAD.num_days()
                ),
            ))
        }
        (None, Some(days)) => Ok(Some(now + Duration::days(days))),
        (None, None) => Ok(None),
    }
}

/// The sweeper's one write per expired credential. `None` when there is nothing to record:
/// not yet expired, already recorded, or revoked (revocation supersedes expiry).
pub fn record_expiry(credential: &Credential, now: Timestamp) -> Option<Transition> {
    let expires_at = credential.expires_at?;
    if credential.status(now) != Status::Expired || credential.expiry_recorded_at.is_some() {
        return None;
    }
    let mut next = next_version(credential);
    next.expiry_recorded_at = Some(now);
    Some(system_transition(
        next,
        now,
        AuditAction::Expired { expires_at },
    ))
}

/// The sweeper's warning that a credential expires within `notice_window`, once per expiry.
/// `None` when there is nothing to record: no expiry, not yet inside the window, already
/// expired (the expiry itself is recorded instead), already noticed, or revoked.
pub fn record_expiring_soon(
    credential: &Credential,
    now: Timestamp,
    notice_window: Duration,
) -> Option<Transition> {
    let expires_at = credential.expires_at?;
    if credential.revocation.is_some()
        || credential.expiry_notice_recorded_at.is_some()
        || credential.is_past_expiry(now)
        || expires_at - now > notice_window
    {
        return None;
    }
    let mut next = next_version(credential);
    next.expiry_notice_recorded_at = Some(now);
    Some(system_transition(
        next,
        now,
        AuditAction::ExpiringSoon { expires_at },
    ))
}

/// What the sweeper records for `credential` at `now`, if anything: the expiry once it has
/// passed, else the notice once it is near.
pub fn sweep(
    credential: &Credential,
    now: Timestamp,
    notice_window: Duration,
) -> Option<Transition> {
    record_expiry(credential, now).or_else(|| record_expiring_soon(credential, now, notice_window))
}

fn system_transition(next: Credential, now: Timestamp, action: AuditAction) -> Transition {
    let context = Context {
        actor: Actor::system(),
        now,
        request_id: None,
    };
    let event = AuditEvent::new(&next, &context, action);
    Transition {
        credential: next,
        event,
    }
}
