//! Replay: cases through a target, one [`CaseResult`] per case, in corpus order.
//!
//! `CaseResult` is also the line format of `results.jsonl`, so everything
//! downstream (metrics, reports, merge, calibration) reads the same record
//! whether it comes from a live replay or a saved file.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::corpus::{Case, Decision, Direction, Label, Payload};
use crate::errors::Error;
use crate::target::{CaseError, Outcome, Progress, Target};

/// One case's ground truth and outcome. A line of `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CaseResult {
    pub id: String,
    pub label: Label,
    pub category: Arc<str>,
    pub source: Arc<str>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Arc<str>>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Decision>,
    pub input: Payload,
    /// `null` when the target failed for this case (see `error`).
    pub decision: Option<Decision>,
    pub score: Option<f64>,
    pub reasons: Vec<Arc<str>>,
    pub latency_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_latency_us: Option<u64>,
    #[serde(default = "one")]
    pub attempts: u32,
    pub error: Option<CaseError>,
}

fn one() -> u32 {
    1
}

impl CaseResult {
    pub fn new(case: Case, outcome: Outcome) -> Self {
        let (decision, error) = match outcome.decision {
            Ok(d) => (Some(d), None),
            Err(e) => (None, Some(e)),
        };
        CaseResult {
            id: case.id,
            label: case.label,
            category: case.category,
            source: case.source,
            tags: case.tags,
            direction: case.direction,
            expected: case.expected,
            input: case.payload,
            decision,
            score: outcome.score,
            reasons: outcome.reasons,
            latency_us: outcome.latency_us,
            target_latency_us: outcome.target_latency_us,
            attempts: outcome.attempts,
            error,
        }
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| &**t == tag)
    }
}

/// What a replay produced.
#[derive(Debug)]
pub struct ReplayOutput {
    pub results: Vec<CaseResult>,
    /// Set when the target gave up before every case got an honest attempt.
    pub aborted: Option<String>,
}

/// Replays `cases` through `target`. Every case gets exactly one result.
pub fn replay(target: &dyn Target, cases: Vec<Case>, progress: &dyn Progress) -> Result<ReplayOutput, Error> {
    let replayed = target.replay(&cases, progress)?;
    if replayed.outcomes.len() != cases.len() {
        return Err(Error::Target(format!(
            "target returned {} outcomes for {} cases",
            replayed.outcomes.len(),
            cases.len()
        )));
    }
    let results = cases.into_iter().zip(replayed.outcomes).map(|(c, o)| CaseResult::new(c, o)).collect();
    Ok(ReplayOutput { results, aborted: replayed.aborted })
}

/// A progress counter that a progress bar can poll.
#[derive(Default)]
pub struct Counter(pub AtomicU64);

impl Progress for Counter {
    fn advance(&self, cases: u64) {
        self.0.fetch_add(cases, Ordering::Relaxed);
    }
}
