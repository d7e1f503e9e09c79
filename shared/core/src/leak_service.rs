//! Answering a leaked secret (DESIGN: "Leaked secrets"): from the secret to its credential by
//! fingerprint, then the tenant's `leak_action`, recorded once per secret. GitHub's reports
//! reach any tenant's credentials; an admin's only their own tenant's.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::{StreamExt, stream};

use crate::audit::{Actor, ActorRole, Context};
use crate::ids::ClientId;
use crate::leak::{
    Feedback, IssuedSecret, Label, LeakOutcome, LeakReport, LeakSource, ReportedToken,
    SecretFingerprint, SourceUrl, candidate,
};
use crate::lifecycle::record_leak;
use crate::service::{Acting, MAX_ATTEMPTS, RETRY_AFTER_CONFLICT};
use crate::store::{LeakPorts, StoreError};
use crate::time::Clock;

/// The one acting for GitHub's reports in the audit trail.
fn github_actor() -> Actor {
    Actor {
        subject: "github-secret-scanning".to_owned(),
        role: ActorRole::System,
    }
}

/// How many of a report's secrets are answered at once: a report of 1,000 stays well inside
/// GitHub's 30 seconds without flooding the table.
const CONCURRENT_ANSWERS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum LeakError {
    #[error("This is not a Clavis client secret (csk_live_… or csk_test_…, with its checksum).")]
    InvalidSecret,
    #[error("No credential of this tenant was issued this secret.")]
    SecretNotFound,
    #[error("The credential is being changed by other requests at this moment; try again.")]
    Contention,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a report did to the credential whose secret it named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakAnswer {
    pub client_id: ClientId,
    pub outcome: LeakOutcome,
    pub secret_current: bool,
    /// The secret's leak was recorded before: this report changed nothing.
    pub already_reported: bool,
}

pub struct LeakResponder {
    store: Arc<dyn LeakPorts>,
    clock: Arc<dyn Clock>,
}

impl LeakResponder {
    pub fn new(store: Arc<dyn LeakPorts>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// An admin's report of a secret they found: only their tenant's credentials are matched,
    /// and another tenant's secret is indistinguishable from an unknown one.
    pub async fn admin_report(
        &self,
        acting: &Acting,
        secret: &str,
        url: Option<SourceUrl>,
    ) -> Result<LeakAnswer, LeakError> {
        let secret = candidate(secret).ok_or(LeakError::InvalidSecret)?;
        let fingerprint = SecretFingerprint::of(&secret);
        let issued = self
            .store
            .issued_secrets(std::slice::from_ref(&fingerprint))
            .await?
            .into_iter()
            .find(|issued| issued.tenant == acting.tenant)
            .ok_or(LeakError::SecretNotFound)?;
        let report = LeakReport {
            source: LeakSource::Admin,
            url,
        };
        self.answer(&issued, &report, || acting.at(self.clock.now()))
            .await
    }

    /// GitHub's report: one feedback entry per token, in order. A token that fails its
    /// checksum is a false positive without a lookup; every secret Clavis issued, current or
    /// not, is a true positive and is answered. An error leaves the report to GitHub's retry,
    /// which acts only where this one did not.
    pub async fn github_report(
        &self,
        tokens: &[ReportedToken],
        request_id: Option<&str>,
    ) -> Result<Vec<Feedback>, LeakError> {
        let fingerprints: Vec<SecretFingerprint> = tokens
            .iter()
            .map(|t| SecretFingerprint::of_text(&t.token))
            .collect();
        let mut candidates: Vec<SecretFingerprint> = tokens
            .iter()
            .zip(&fingerprints)
            .filter(|(token, _)| candidate(&token.token).is_some())
            .map(|(_, fingerprint)| fingerprint.clone())
            .collect();
        candidates.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        candidates.dedup();
        let issued: HashMap<SecretFingerprint, IssuedSecret> = if candidates.is_empty() {
            HashMap::new()
        } else {
            self.store
                .issued_secrets(&candidates)
                .await?
                .into_iter()
                .map(|issued| (issued.fingerprint.clone(), issued))
                .collect()
        };
        // Each secret once, with the URL of its first report.
        let mut found: Vec<(IssuedSecret, Option<SourceUrl>)> = Vec::new();
        let mut seen = HashSet::new();
        for (token, fingerprint) in tokens.iter().zip(&fingerprints) {
            if let Some(secret) = issued.get(fingerprint)
                && seen.insert(fingerprint)
            {
                let url = token.url.as_deref().and_then(SourceUrl::parse);
                found.push((secret.clone(), url));
            }
        }
        // GitHub reports a secret again wherever it is found again: those already recorded
        // are settled by one batch of reads instead of a read and a cancelled write each.
        if !found.is_empty() {
            let secrets: Vec<IssuedSecret> = found.iter().map(|(s, _)| s.clone()).collect();
            let recorded = self.store.recorded_leaks(&secrets).await?;
            found.retain(|(secret, _)| !recorded.contains(&secret.fingerprint));
        }
        let request_id = request_id.map(str::to_owned);
        let answers: Vec<Result<LeakAnswer, LeakError>> = stream::iter(found)
            .map(|(issued, url)| {
                let report = LeakReport {
                    source: LeakSource::Github,
                    url,
                };
                let request_id = request_id.clone();
                async move {
                    let context = || Context {
                        actor: github_actor(),
                        now: self.clock.now(),
                        request_id: request_id.clone(),
                    };
                    self.answer(&issued, &report, context).await
                }
            })
            .buffer_unordered(CONCURRENT_ANSWERS)
            .collect()
            .await;
        for answer in answers {
            answer?;
        }
        Ok(tokens
            .iter()
            .zip(fingerprints)
            .map(|(token, fingerprint)| Feedback {
                label: if issued.contains_key(&fingerprint) {
                    Label::TruePositive
                } else {
                    Label::FalsePositive
                },
                token_hash: fingerprint,
                token_type: token.token_type.clone(),
            })
            .collect())
    }

    /// Reads the credential and its tenant's policy, decides, and records; on a lost race,
    /// reads and decides again.
    async fn answer(
        &self,
        issued: &IssuedSecret,
        report: &LeakReport,
        context: impl Fn() -> Context,
    ) -> Result<LeakAnswer, LeakError> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                RETRY_AFTER_CONFLICT.wait(attempt - 1).await;
            }
            let (credential, policy) = tokio::join!(
                self.store.get(&issued.client_id),
                self.store.policy(&issued.tenant)
            );
            let credential = credential?.filter(|c| c.tenant == issued.tenant);
            let action = policy?.policy.leak_action();
            let record = record_leak(credential.as_ref(), issued, report, action, &context());
            match self.store.record_leak(&record).await {
                Ok(recorded) => {
                    return Ok(LeakAnswer {
                        client_id: issued.client_id.clone(),
                        outcome: if recorded {
                            record.outcome
                        } else {
                            LeakOutcome::None
                        },
                        secret_current: record.secret_current,
                        already_reported: !recorded,
                    });
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(LeakError::Contention)
    }
}
