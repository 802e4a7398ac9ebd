//! `reports/history/history.jsonl`: one compact line per full-lane run,
//! appended, never rewritten; the dashboard draws trends from it and the
//! summary says what got worse since the previous entry.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::model::Verdict;
use crate::errors::Error;

/// How many entries the dashboard draws.
pub const TREND_RUNS: usize = 30;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct HistoryEntry {
    pub finished_at: String,
    pub commit: Option<String>,
    pub verdict: String,
    pub cases: u64,
    pub fpr: Option<f64>,
    pub asr: Option<f64>,
    pub detection_rate: Option<f64>,
    pub error_rate: Option<f64>,
    pub p99_us: Option<u64>,
    pub config_hash: String,
    pub corpora_hash: String,
    /// Added later: older lines lack them (then no change is claimed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gates_hash: Option<String>,
}

impl HistoryEntry {
    pub fn from_verdict(v: &Verdict) -> Self {
        let o = &v.metrics.overall;
        HistoryEntry {
            finished_at: v.run.finished_at.clone(),
            commit: v.run.git_commit.clone(),
            verdict: v.verdict.as_str().into(),
            cases: o.cases,
            fpr: o.fpr.value,
            asr: o.asr.value,
            detection_rate: o.detection_rate.value,
            error_rate: o.error_rate.value,
            p99_us: o.latency.p99,
            config_hash: v.run.hashes.config.clone(),
            corpora_hash: v.run.hashes.corpora.clone(),
            target_hash: Some(v.run.hashes.target.clone()),
            gates_hash: Some(v.run.hashes.gates.clone()),
        }
    }
}

/// Appends one line (O_APPEND: concurrent appends never interleave within a line).
pub fn append(path: &Path, entry: &HistoryEntry) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut line = serde_json::to_vec(entry).expect("history serialises");
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| Error::io(path, e))?;
    file.write_all(&line).map_err(|e| Error::io(path, e))
}

/// Entries up to and including `until` (an RFC 3339 time), oldest first, at
/// most `TREND_RUNS`. Unreadable lines are skipped: history is decoration.
pub fn read_until(path: &Path, until: &str) -> Vec<HistoryEntry> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut entries: Vec<HistoryEntry> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<HistoryEntry>(l).ok())
        .filter(|e| e.finished_at.as_str() <= until)
        .collect();
    let skip = entries.len().saturating_sub(TREND_RUNS);
    entries.drain(..skip);
    entries
}
