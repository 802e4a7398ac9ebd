//! Reports: one model ([`Verdict`]), rendered into every format.
//!
//! `verdict.json` is the model serialised; the terminal table (and the other
//! formats) render from it and compute nothing of their own, so a saved
//! verdict re-renders identically later.

pub mod attack;
pub mod calibration;
pub mod csv_out;
pub mod github;
pub mod history;
pub mod html;
pub mod junit;
pub mod load;
pub mod markdown;
mod model;
pub mod release;
pub mod results_file;
pub mod robustness;
pub mod signal_chart;
pub mod terminal;

use std::path::Path;

pub use model::*;

use crate::errors::Error;
use crate::replay::CaseResult;

/// Where a run's history lives unless `--history` names a file.
pub fn default_history(out_dir: &Path) -> std::path::PathBuf {
    out_dir.join("history").join("history.jsonl")
}

/// Writes dashboard.html, junit.xml and summary.md from a verdict, and
/// results.csv when results are given. Deterministic: the same verdict,
/// results and history give the same bytes, so `gauntlet report --from`
/// reproduces a run's reports.
pub fn render_all(
    verdict: &Verdict,
    results: Option<&[CaseResult]>,
    out_dir: &Path,
    history_path: &Path,
) -> Result<(), Error> {
    let history = history::read_until(history_path, &verdict.run.finished_at);
    // The previous entry is the last one before this run's own.
    let previous = history.iter().rev().find(|h| h.finished_at != verdict.run.finished_at);
    // A release report beside the dashboard adds its rolling-rate charts;
    // one that cannot be read is left out, and the next release rewrites it.
    let release = std::fs::read_to_string(out_dir.join("release-readiness.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let load =
        std::fs::read_to_string(out_dir.join("load.json")).ok().and_then(|text| serde_json::from_str(&text).ok());
    let attack =
        std::fs::read_to_string(out_dir.join("attack.json")).ok().and_then(|text| serde_json::from_str(&text).ok());
    let page = html::PageContext {
        stderr_log: std::fs::metadata(out_dir.join("target-stderr.log")).is_ok_and(|m| m.len() > 0),
        release,
        load,
        attack,
    };
    let html = html::render_dashboard(verdict, &history, &page)
        .map_err(|e| Error::Target(format!("rendering the dashboard: {e}")))?;
    crate::atomic_file::write_bytes(&out_dir.join("dashboard.html"), html.as_bytes())?;
    crate::atomic_file::write_bytes(&out_dir.join("junit.xml"), junit::render_junit(verdict).as_bytes())?;
    crate::atomic_file::write_bytes(
        &out_dir.join("summary.md"),
        markdown::render_summary(verdict, previous).as_bytes(),
    )?;
    if let Some(results) = results {
        csv_out::write_csv(&out_dir.join("results.csv"), results)?;
    }
    Ok(())
}
