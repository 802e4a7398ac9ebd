//! `gauntlet report --from`: every report re-rendered from saved files.

use std::path::Path;

use crate::config::Config;
use crate::errors::Error;
use crate::report::{render_all, Verdict};

/// `gauntlet report --from`: re-renders every report from saved files,
/// byte for byte as the run wrote them. Returns the verdict and how the
/// project it names (if it is still there) has changed since, for a warning:
/// the reports stay those of the run, whatever changed.
pub fn report_from(
    verdict_path: &Path,
    results_path: Option<&Path>,
    out_dir: Option<&Path>,
) -> Result<(Verdict, Vec<super::Drift>), Error> {
    let verdict = Verdict::read(verdict_path)?;
    let drift = match Config::load(Path::new(&verdict.run.config)) {
        Ok(config) => super::drift(&verdict.run.hashes, &config),
        Err(_) => Vec::new(),
    };
    let results = match results_path {
        Some(p) => Some(crate::report::results_file::read_results(p, &())?),
        None => None,
    };
    let dir =
        out_dir.map(Path::to_path_buf).unwrap_or_else(|| verdict_path.parent().unwrap_or(Path::new(".")).to_path_buf());
    render_all(&verdict, results.as_deref(), &dir, &crate::report::default_history(&dir))?;
    Ok((verdict, drift))
}
