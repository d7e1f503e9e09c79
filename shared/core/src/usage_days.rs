//! Usage day by day: what one credential (or a tenant's credentials together) did on each UTC
//! day, its uses and its refusals by reason, and the ranges of days an admin may ask for.
//! Plain rules over dates and counts.

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, NaiveDate};

use crate::time::Timestamp;

/// How long daily counts are kept, and the longest range and earliest day one may ask for.
pub const USAGE_DAYS_KEPT: u64 = 400;
/// The range asked for when none is: today and the 29 days before.
pub const DEFAULT_RANGE_DAYS: u64 = 30;

/// Why a request that named a known credential was refused, as usage counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefusalReason {
    /// A wrong secret.
    InvalidClient,
    CredentialSuspended,
    CredentialRevoked,
    CredentialExpired,
    TokenRevoked,
    InsufficientScope,
    QuotaExceeded,
    EnvironmentNotAccepted,
    PolicyViolation,
    Throttled,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 10] = [
        RefusalReason::InvalidClient,
        RefusalReason::CredentialSuspended,
        RefusalReason::CredentialRevoked,
        RefusalReason::CredentialExpired,
        RefusalReason::TokenRevoked,
        RefusalReason::InsufficientScope,
        RefusalReason::QuotaExceeded,
        RefusalReason::EnvironmentNotAccepted,
        RefusalReason::PolicyViolation,
        RefusalReason::Throttled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::InvalidClient => "invalid_client",
            RefusalReason::CredentialSuspended => "credential_suspended",
            RefusalReason::CredentialRevoked => "credential_revoked",
            RefusalReason::CredentialExpired => "credential_expired",
            RefusalReason::TokenRevoked => "token_revoked",
            RefusalReason::InsufficientScope => "insufficient_scope",
            RefusalReason::QuotaExceeded => "quota_exceeded",
            RefusalReason::EnvironmentNotAccepted => "environment_not_accepted",
            RefusalReason::PolicyViolation => "policy_violation",
            RefusalReason::Throttled => "throttled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// When a day's counts may be removed: [`USAGE_DAYS_KEPT`] days after it.
pub fn day_expires_at(day: NaiveDate) -> Timestamp {
    let kept_until = day
        .checked_add_days(Days::new(USAGE_DAYS_KEPT + 1))
        .unwrap_or(NaiveDate::MAX);
    kept_until.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// What was counted on one day: uses, and refusals by reason (a reason with none is absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub uses: u64,
    pub refused: BTreeMap<RefusalReason, u64>,
}

impl DayCounts {
    pub fn add(&mut self, other: &DayCounts) {
        self.uses += other.uses;
        for (reason, n) in &other.refused {
            *self.refused.entry(*reason).or_default() += n;
        }
    }

    pub fn refuse(&mut self, reason: RefusalReason) {
        *self.refused.entry(reason).or_default() += 1;
    }

    pub fn total_refused(&self) -> u64 {
        self.refused.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.uses == 0 && self.refused.is_empty()
    }
}

/// A range of days a caller may not ask for: which end, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidRange {
    pub field: &'static str,
    pub reason: String,
}

/// UTC days from `from` to `to`, both included: `from` ≤ `to` ≤ today, at most
/// [`USAGE_DAYS_KEPT`] days, none older than that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRange {
    from: NaiveDate,
    to: NaiveDate,
}

impl UsageRange {
    /// The range asked for, with today and the 29 days before as defaults.
    pub fn new(
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        today: NaiveDate,
    ) -> Result<Self, InvalidRange> {
        let invalid = |field: &'static str, reason: String| InvalidRange { field, reason };
        let to = to.unwrap_or(today);
        if to > today {
            return Err(invalid(
                "to",
                format!("to must be today ({today}) or earlier, in UTC."),
            ));
        }
        let from = from.unwrap_or_else(|| {
            to.checked_sub_days(Days::new(DEFAULT_RANGE_DAYS - 1))
                .unwrap_or(NaiveDate::MIN)
        });
        if from > to {
            return Err(invalid(
                "from",
                format!("from must not be after to ({to})."),
            ));
        }
        let oldest = today
            .checked_sub_days(Days::new(USAGE_DAYS_KEPT - 1))
            .unwrap_or(NaiveDate::MIN);
        if from < oldest {
            return Err(invalid(
                "from",
                format!("from must be {oldest} or later: usage is kept {USAGE_DAYS_KEPT} days."),
            ));
        }
        Ok(Self { from, to })
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take_while(|day| *day <= self.to)
    }
}

/// Every day of `range`, oldest first, with what was counted on it (zeros where nothing was).
pub fn every_day(
    range: &UsageRange,
    mut counted: HashMap<NaiveDate, DayCounts>,
) -> Vec<(NaiveDate, DayCounts)> {
    range
        .days()
        .map(|day| (day, counted.remove(&day).unwrap_or_default()))
        .collect()
}

/// Sums over days.
pub fn totals(days: &[(NaiveDate, DayCounts)]) -> DayCounts {
    let mut total = DayCounts::default();
    for (_, counts) in days {
        total.add(counts);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_default_range_is_today_and_the_29_days_before() {
        let range = UsageRange::new(None, None, day("2026-12-06")).unwrap();
        assert_eq!(
            (range.from(), range.to()),
            (day("2026-11-07"), day("2026-12-06"))
        );
        assert_eq!(range.days().count(), 30);
        let ending = UsageRange::new(None, Some(day("2026-03-01")), day("2026-12-06")).unwrap();
        assert_eq!(ending.from(), day("2026-01-31"));
    }

    #[test]
    fn ranges_stay_within_the_days_kept_and_end_by_today() {
        let today = day("2026-12-06");
        let refused = |from: &str, to: &str| {
            UsageRange::new(Some(day(from)), Some(day(to)), today)
                .unwrap_err()
                .field
        };
        assert_eq!(refused("2026-12-01", "2026-12-07"), "to");
        assert_eq!(refused("2026-12-05", "2026-12-04"), "from");
        // 400 days back is the oldest: today is the 400th.
        let oldest = UsageRange::new(Some(day("2025-11-02")), None, today).unwrap();
        assert_eq!(oldest.days().count(), 400);
        assert_eq!(refused("2025-11-01", "2026-12-06"), "from");
        let one = UsageRange::new(Some(today), Some(today), today).unwrap();
        assert_eq!(one.days().collect::<Vec<_>>(), [today]);
    }

    #[test]
    fn every_day_is_present_and_totals_add_up() {
        let range = UsageRange::new(
            Some(day("2026-12-01")),
            Some(day("2026-12-03")),
            day("2026-12-06"),
        )
        .unwrap();
        let mut second = DayCounts {
            uses: 5,
            ..DayCounts::default()
        };
        second.refuse(RefusalReason::InvalidClient);
        second.refuse(RefusalReason::InvalidClient);
        second.refuse(RefusalReason::QuotaExceeded);
        let days = every_day(&range, HashMap::from([(day("2026-12-02"), second.clone())]));
        assert_eq!(
            days,
            [
                (day("2026-12-01"), DayCounts::default()),
                (day("2026-12-02"), second),
                (day("2026-12-03"), DayCounts::default()),
            ]
        );
        let total = totals(&days);
        assert_eq!((total.uses, total.total_refused()), (5, 3));
        assert_eq!(total.refused[&RefusalReason::InvalidClient], 2);
    }

    #[test]
    fn reasons_read_back_from_their_names() {
        for reason in RefusalReason::ALL {
            assert_eq!(RefusalReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(RefusalReason::parse("bored"), None);
    }
}
