//! The rollback decision matrix: how much error a bundle may show depends
//! on how long it has been deployed (a young bundle is rolled back early;
//! an old one has proved itself and gets more room before a rollback).

use serde::{Deserialize, Serialize};

use super::logs::Entry;

/// One row of the rollback matrix: a bundle younger than `max-age-hours`
/// with an error rate above `error-rate-above` is rolled back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RollbackRow {
    /// The row applies while the bundle is younger than this.
    pub max_age_hours: f64,
    /// The error rate since deployment above which the release is rolled back.
    pub error_rate_above: f64,
}

/// What the rollback matrix saw: the bundle's age, its error rate since
/// deployment, and the row that fired (if one did).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct RollbackCheck {
    pub deployed_at: String,
    pub age_hours: f64,
    pub decisions: u64,
    pub errors: u64,
    pub error_rate: Option<f64>,
    pub fired: Option<RollbackRow>,
}

/// The matrix over the canary decisions since `deployed_ms`, aged at the
/// last decision.
pub fn rollback_check(canary: &[Entry], deployed_ms: i64, deployed_at: &str, matrix: &[RollbackRow]) -> RollbackCheck {
    let since: Vec<&Entry> = canary.iter().filter(|e| e.ts_ms >= deployed_ms).collect();
    let end = since.iter().map(|e| e.ts_ms).max().unwrap_or(deployed_ms);
    let errors = since.iter().filter(|e| e.error).count() as u64;
    let decisions = since.len() as u64;
    let error_rate = (decisions > 0).then(|| errors as f64 / decisions as f64);
    let age_hours = (end - deployed_ms) as f64 / 3_600_000.0;
    let fired = error_rate.and_then(|r| rollback(matrix, age_hours, r)).cloned();
    RollbackCheck { deployed_at: deployed_at.to_string(), age_hours, decisions, errors, error_rate, fired }
}

/// The policy runbook's matrix: < 2 h and > 5%; 2–12 h and > 10%; 12–24 h and > 15%.
pub fn default_rollback_matrix() -> Vec<RollbackRow> {
    vec![
        RollbackRow { max_age_hours: 2.0, error_rate_above: 0.05 },
        RollbackRow { max_age_hours: 12.0, error_rate_above: 0.10 },
        RollbackRow { max_age_hours: 24.0, error_rate_above: 0.15 },
    ]
}

/// The row that says roll back, for a bundle of this age with this error
/// rate (rows are checked youngest first; an age past every row never rolls
/// back by this matrix).
pub fn rollback(matrix: &[RollbackRow], age_hours: f64, error_rate: f64) -> Option<&RollbackRow> {
    let mut rows: Vec<&RollbackRow> = matrix.iter().collect();
    rows.sort_by(|a, b| a.max_age_hours.total_cmp(&b.max_age_hours));
    rows.into_iter().find(|r| age_hours < r.max_age_hours).filter(|r| error_rate > r.error_rate_above)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rollback_matrix_depends_on_the_bundle_age() {
        let m = default_rollback_matrix();
        assert_eq!(rollback(&m, 1.0, 0.06).map(|r| r.max_age_hours), Some(2.0), "young bundle, 6% errors: roll back");
        assert_eq!(rollback(&m, 5.0, 0.06), None, "older bundle, same errors: no rollback");
        assert_eq!(rollback(&m, 5.0, 0.11).map(|r| r.max_age_hours), Some(12.0));
        assert_eq!(rollback(&m, 30.0, 0.50), None, "past the matrix");
    }
}
