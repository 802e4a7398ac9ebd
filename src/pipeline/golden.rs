//! Golden snapshot files: read, compare, and (blessing, or locally for
//! review) write. The comparison itself is pure, in `evaluate::golden`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::errors::Error;
use crate::evaluate::golden::{self, GoldenReport, GoldenStatus};
use crate::golden_file;
use crate::replay::CaseResult;

/// Checks (or, blessing, writes) each dataset's decision snapshot.
pub(super) fn check(
    golden_dir: &Path,
    results: &[CaseResult],
    datasets: &[Arc<str>],
    bless: bool,
) -> Result<Vec<GoldenReport>, Error> {
    let mut by_dataset: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for (r, d) in results.iter().zip(datasets) {
        by_dataset.entry(d).or_default().push(r);
    }
    let ci = golden_file::in_ci();
    let mut reports = Vec::new();
    for (dataset, rs) in by_dataset {
        let path = golden_file::snapshot_path(golden_dir, dataset);
        let body = golden::snapshot_body(rs.iter().copied());
        let old = golden_file::read_body(&path);
        let diff = old.as_deref().map(|o| golden::diff(o, &body)).unwrap_or_default();
        let (mut status, mut pending) = match &old {
            Some(o) if *o == body => (GoldenStatus::Match, None),
            Some(_) => (GoldenStatus::Changed, None),
            None => (GoldenStatus::Missing, None),
        };
        if status != GoldenStatus::Match {
            if bless {
                golden_file::write_snapshot(&path, dataset, &body)?;
                status = GoldenStatus::Blessed;
            } else if !ci {
                let new_path = golden_file::pending_path(&path);
                golden_file::write_snapshot(&new_path, dataset, &body)?;
                pending = Some(new_path.display().to_string());
            }
        }
        reports.push(GoldenReport {
            dataset: dataset.to_string(),
            path: path.display().to_string(),
            status,
            cases: rs.len() as u64,
            flips: diff.flips.len() as u64,
            changes: (diff.changes.len() + diff.added.len() + diff.removed.len()) as u64,
            diff: diff.render(50),
            pending,
        });
    }
    Ok(reports)
}
