//! How a worker replaces its process: after a crash or a hang (a failure,
//! spending `max-restarts`), or to free the cases queued behind a case that
//! timed out (not a failure). A timed-out case's late answer is waited for
//! at most as long as a fresh process takes to start: waiting as long as
//! the alternative costs, then switching, is never worse than twice the
//! better choice made with hindsight.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{ExecTarget, Process, Run};

/// How a restart is accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Restart {
    /// A crash or a hang: spends the `max-restarts` budget.
    Failure,
    /// A case timed out and waiting for its late answer would cost more
    /// than a fresh process: counted apart, never against the budget.
    Timeout,
    /// One case sent alone after a crash, to find the culprit: not counted.
    Isolating,
}

impl ExecTarget {
    /// How long a restart costs, as last measured (at least 1 ms: the
    /// spawn alone is never free).
    pub(super) fn restart_cost(&self) -> Duration {
        Duration::from_micros(self.restart_cost_us.load(Ordering::Relaxed)).max(Duration::from_millis(1))
    }

    pub(super) fn note_restart_cost(&self, cost: Duration) {
        self.restart_cost_us.store(cost.as_micros() as u64, Ordering::Relaxed);
    }

    /// Kills a failed process and starts the next, within the restart budget.
    pub(super) fn replace(&self, run: &Run, failed: Process, why: &str, restart: Restart) -> Option<Process> {
        failed.kill();
        if run.aborted() {
            return None;
        }
        match restart {
            Restart::Failure => self.failures.fetch_add(1, Ordering::Relaxed),
            Restart::Timeout => self.timeout_restarts.fetch_add(1, Ordering::Relaxed),
            Restart::Isolating => 0,
        };
        if restart == Restart::Failure && run.restarts.fetch_add(1, Ordering::SeqCst) >= self.config.max_restarts {
            self.give_up(
                run,
                format!("target failed more than {} times (last: {why}); giving up", self.config.max_restarts),
            );
            return None;
        }
        match self.spawn() {
            Ok(p) => Some(p),
            Err(e) => {
                self.give_up(run, e);
                None
            }
        }
    }
}
