//! Stopping criteria: a small struct of OR-ed budgets.

use crate::config::Budget;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by [`interrupt`]: every run of this process stops before its next proposal.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks every run in this process to stop before its next proposal, its journal as it stands
/// (the folder stays resumable): what a library caller does on Ctrl-C, where the `emprox`
/// binary exits instead. [`clear_interrupt`] lets later runs go on.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Undoes [`interrupt`].
pub fn clear_interrupt() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

/// Whether [`interrupt`] was called (and not cleared).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `max_queries` reached.
    MaxQueries,
    /// `max_sim_seconds` reached.
    MaxSimSeconds,
    /// `max_wall_seconds` reached.
    MaxWallSeconds,
    /// The strategy kept proposing cells already evaluated (or the space is exhausted).
    Exhausted,
    /// `[search] max_failures` evaluations failed in a row.
    MaxFailures,
}

/// Its name in files (`max_wall_seconds`, ...).
impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
        f.write_str(v.as_str().unwrap_or_default())
    }
}

/// Counts failed evaluations in a row against `[search] max_failures`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailureStreak {
    limit: Option<u64>,
    streak: u64,
}

impl FailureStreak {
    /// A counter that trips after `limit` failures in a row (never without a limit).
    pub fn new(limit: Option<u64>) -> Self {
        Self { limit, streak: 0 }
    }

    /// Records one evaluation's outcome; true when the limit is reached.
    pub fn record(&mut self, failed: bool) -> bool {
        self.streak = if failed { self.streak + 1 } else { 0 };
        self.limit.is_some_and(|l| self.streak >= l)
    }
}

/// The budgets of a run; the first one reached stops it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoppingCriteria {
    budget: Budget,
}

impl StoppingCriteria {
    /// Criteria from the `[budget]` table.
    pub fn new(budget: &Budget) -> Self {
        Self {
            budget: budget.clone(),
        }
    }

    /// The budget reached after `queries` queries, `sim` simulated and `wall` wall seconds.
    pub fn reached(&self, queries: u64, sim: f64, wall: f64) -> Option<StopReason> {
        let b = &self.budget;
        if b.max_queries.is_some_and(|m| queries >= m) {
            Some(StopReason::MaxQueries)
        } else if b.max_sim_seconds.is_some_and(|m| sim >= m) {
            Some(StopReason::MaxSimSeconds)
        } else if b.max_wall_seconds.is_some_and(|m| wall >= m) {
            Some(StopReason::MaxWallSeconds)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_or_ed() {
        let c = StoppingCriteria::new(&Budget {
            max_queries: Some(10),
            max_sim_seconds: Some(100.0),
            max_wall_seconds: None,
        });
        assert_eq!(c.reached(5, 50.0, 1e9), None);
        assert_eq!(c.reached(10, 50.0, 0.0), Some(StopReason::MaxQueries));
        assert_eq!(c.reached(3, 100.0, 0.0), Some(StopReason::MaxSimSeconds));
    }

    #[test]
    fn failure_streaks_reset_on_success() {
        let mut f = FailureStreak::new(Some(2));
        assert!(!f.record(true));
        assert!(!f.record(false));
        assert!(!f.record(true));
        assert!(f.record(true));
        let mut never = FailureStreak::new(None);
        assert!((0..1000).all(|_| !never.record(true)));
    }
}
