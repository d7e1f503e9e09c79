//! What a leaked secret does to its credential (DESIGN: "Leaked secrets"): the tenant's
//! `leak_action` for a secret the credential still accepts, the event alone for one it no
//! longer does, and in both cases a `credential.leaked` event.

use super::{Transition, next_version, revoke, suspend};
use crate::audit::{AuditAction, AuditEvent, Context};
use crate::credential::{Credential, LeakNotice, Reason, Status};
use crate::leak::{IssuedSecret, LeakOutcome, LeakReport, SecretFingerprint};
use crate::policy::LeakAction;
use crate::time::Timestamp;

/// Everything a leak report writes, at once or not at all, and once per secret and credential.
#[derive(Debug, Clone)]
pub struct LeakRecord {
    pub fingerprint: SecretFingerprint,
    /// `credential.leaked`; its credential owns the marker that makes a repeat change nothing.
    pub event: AuditEvent,
    /// The version read and the credential after the report (its notice, and the action's
    /// state), when it changes.
    pub update: Option<(u64, Credential)>,
    /// The action's own event: `credential.revoked` (reason `leaked`) or `credential.suspended`.
    pub action_event: Option<AuditEvent>,
    /// Whether the secret was one the credential still accepted.
    pub secret_current: bool,
    pub outcome: LeakOutcome,
}

impl LeakRecord {
    /// The credential's change as a lifecycle transition (for where it sits in the sweep
    /// index), when there is one.
    pub fn transition(&self) -> Option<(u64, Transition)> {
        self.update.as_ref().map(|(version, credential)| {
            (
                *version,
                Transition {
                    credential: credential.clone(),
                    event: self.event.clone(),
                },
            )
        })
    }
}

/// Whether `credential` still accepts the secret issued as `secret_version`: its current one,
/// or the one before within its grace period, of a credential that is neither revoked nor
/// expired (a suspended one would accept it again once reactivated).
pub fn still_accepts(credential: &Credential, secret_version: u32, now: Timestamp) -> bool {
    if !matches!(credential.status(now), Status::Active | Status::Suspended) {
        return false;
    }
    let secret = &credential.secret;
    secret.version == secret_version
        || (secret.version == secret_version.saturating_add(1)
            && secret
                .previous
                .as_ref()
                .is_some_and(|p| p.valid_until > now))
}

/// The report of `issued` leaked, for `credential` (`None` once deleted or past its
/// retention), under the tenant's `action`.
pub fn record_leak(
    credential: Option<&Credential>,
    issued: &IssuedSecret,
    report: &LeakReport,
    action: LeakAction,
    context: &Context,
) -> LeakRecord {
    let live = credential.filter(|c| still_accepts(c, issued.secret_version, context.now));
    let (outcome, update, action_event) = match live {
        None => (LeakOutcome::None, None, None),
        Some(credential) => {
            let acted = match action {
                LeakAction::Revoke => revoke(credential, Reason::parse("leaked").ok(), context)
                    .ok()
                    .map(|t| (LeakOutcome::Revoked, t)),
                LeakAction::Suspend => suspend(credential, context)
                    .ok()
                    .map(|t| (LeakOutcome::Suspended, t)),
                LeakAction::Notify => None,
            };
            let (outcome, mut next, action_event) = match acted {
                Some((outcome, t)) => (outcome, t.credential, Some(t.event)),
                // Notify, or a suspension of a credential already suspended: the notice alone.
                None => (LeakOutcome::None, next_version(credential), None),
            };
            next.leak = Some(LeakNotice {
                reported_at: context.now,
                source: report.source,
                action: outcome,
                url: report.url.as_ref().map(|u| u.as_str().to_owned()),
            });
            (outcome, Some((credential.version, next)), action_event)
        }
    };
    let leaked = AuditAction::Leaked {
        source: report.source,
        url: report.url.clone(),
        secret_current: live.is_some(),
        action: outcome,
    };
    let event = AuditEvent {
        id: crate::ids::EventId::generate(),
        tenant: issued.tenant.clone(),
        client_id: Some(issued.client_id.clone()),
        at: context.now,
        actor: context.actor.clone(),
        request_id: context.request_id.clone(),
        action: leaked,
    };
    LeakRecord {
        fingerprint: issued.fingerprint.clone(),
        event,
        update,
        action_event,
        secret_current: live.is_some(),
        outcome,
    }
}
