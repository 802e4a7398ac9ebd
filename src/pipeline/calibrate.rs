//! `gauntlet calibrate`: the monthly calibration review's files.

use std::path::{Path, PathBuf};

use super::progress::{total_bytes, with_progress, Step};
use super::{write_json, RunOptions};
use crate::atomic_file::write_bytes;
use crate::config::Config;
use crate::errors::Error;
use crate::evaluate::Lane;

/// What `gauntlet calibrate` was asked to do.
pub struct CalibrateOptions {
    pub config: PathBuf,
    /// Saved results to calibrate instead of replaying.
    pub from: Option<PathBuf>,
    /// A baseline folder (with results.jsonl) or results file; default
    /// `reports/baseline/` when it exists.
    pub baseline: Option<PathBuf>,
    pub target_fprs: Vec<f64>,
    pub bound: crate::calibrate::FprBound,
    pub tolerance: f64,
    pub out_dir: Option<PathBuf>,
    /// No progress lines.
    pub quiet: bool,
}

/// Reads a results file with progress by bytes.
fn read_results_showing(what: &str, path: &Path, quiet: bool) -> Result<Vec<crate::replay::CaseResult>, Error> {
    let step = Step::bytes(what, total_bytes(&[path.to_path_buf()]));
    with_progress(step, quiet, |progress| crate::report::results_file::read_results(path, progress))
}

fn results_in(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("results.jsonl")
    } else {
        path.to_path_buf()
    }
}

/// `gauntlet calibrate`: threshold sweep, target-FPR operating points and
/// the baseline comparison; writes calibration.{json,html,md}.
pub fn calibrate(opts: &CalibrateOptions) -> Result<crate::calibrate::Calibration, Error> {
    let config = Config::load(&opts.config)?;
    // The current threshold is known for the built-in target; other targets
    // are judged at their own decisions.
    let current_threshold = match config.target.kind.as_str() {
        "builtin" => Some(config.target.firewall(&config.base, None, None)?.block_threshold()),
        _ => None,
    };
    let (results, source) = match &opts.from {
        Some(path) => {
            let path = results_in(path);
            (read_results_showing("reading results", &path, opts.quiet)?, path.display().to_string())
        }
        None => {
            let output = super::run(&RunOptions {
                lane: Lane::Full,
                quiet: opts.quiet,
                ..RunOptions::new(opts.config.clone())
            })?;
            let source = output.reports_dir.join("results.jsonl").display().to_string();
            (output.results, source)
        }
    };
    let mut calibration = crate::calibrate::calibrate(
        &results,
        &config.counting,
        current_threshold,
        &opts.target_fprs,
        opts.bound,
        source,
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let baseline = opts.baseline.clone().or_else(|| {
        let conventional = config.reports.join("baseline");
        conventional.join("results.jsonl").exists().then_some(conventional)
    });
    if let Some(b) = baseline {
        let path = results_in(&b);
        let base = read_results_showing("reading baseline results", &path, opts.quiet)?;
        calibration.baseline = Some(crate::calibrate::compare(
            &base,
            &results,
            &config.counting,
            opts.tolerance,
            path.display().to_string(),
        ));
    }
    let dir = opts.out_dir.clone().unwrap_or_else(|| config.reports.clone());
    write_json(&dir.join("calibration.json"), &calibration)?;
    let html = crate::report::calibration::render_html(&calibration)
        .map_err(|e| Error::Target(format!("rendering calibration.html: {e}")))?;
    write_bytes(&dir.join("calibration.html"), html.as_bytes())?;
    write_bytes(&dir.join("calibration.md"), crate::report::calibration::render_markdown(&calibration).as_bytes())?;
    Ok(calibration)
}
