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
    /// A shadow-mode decision log to calibrate from instead: its labelled
    /// lines that carry a `score` (production traffic, enforcement off).
    pub decision_log: Option<PathBuf>,
}

/// Fewest labelled, scored decisions a shadow-mode calibration accepts
/// (the maintenance playbook's rule: at least 100 before a rate is trusted).
pub const SHADOW_MIN_DECISIONS: usize = 100;

/// The labelled lines of a shadow-mode decision log that carry a score, as
/// results the review reads (id `shadow:<line>`, the line's `category` or
/// `production`, its decision, score and latency); and the sentence saying
/// where the evidence came from. Every bad line is reported at its line.
fn shadow_results(path: &Path) -> Result<(Vec<crate::replay::CaseResult>, String), Error> {
    use crate::corpus::{Case, Decision, Direction, Label, Origin, Payload};
    use crate::errors::{Code, Diagnostic};
    use crate::targets::{ErrorKind, Outcome};
    use std::sync::Arc;
    let text = std::fs::read_to_string(path).map_err(|e| Diagnostic::new(path, Code::UnreadableFile, e.to_string()))?;
    let file = Arc::new(path.to_path_buf());
    let (source, dataset) = (Arc::<str>::from("shadow-mode decision log"), Arc::<str>::from("production"));
    let mut results = Vec::new();
    let mut problems = Vec::new();
    let (mut lines, mut labelled) = (0usize, 0usize);
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let n = i + 1;
        lines += 1;
        let bad = |code, message: String| Diagnostic::new(path, code, message).at_line(n);
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => {
                problems.push(bad(Code::InvalidLogLine, "a decision-log line must be one JSON object".into()));
                continue;
            }
            Err(e) => {
                problems.push(Diagnostic::new(path, Code::InvalidLogLine, e.to_string()).at(n, e.column()));
                continue;
            }
        };
        let label = match v.get("label").and_then(|l| l.as_str()) {
            None => None,
            Some(l) => match Label::parse(l) {
                Some(l) => Some(l),
                None => {
                    problems.push(bad(
                        Code::InvalidLabel,
                        format!("label `{}` is neither benign nor adversarial", l.escape_debug()),
                    ));
                    continue;
                }
            },
        };
        let score = match v.get("score") {
            None | Some(serde_json::Value::Null) => None,
            Some(x) => match x.as_f64().filter(|s| (0.0..=1.0).contains(s)) {
                Some(s) => Some(s),
                None => {
                    problems.push(bad(Code::OutOfRange, format!("`score` {x} must be a number in [0, 1]")));
                    continue;
                }
            },
        };
        let (Some(label), Some(score)) = (label, score) else { continue };
        labelled += 1;
        let failed =
            !matches!(v.get("error"), None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)));
        let latency_us = v.get("latency-us").and_then(|l| l.as_u64()).unwrap_or(0);
        let outcome = if failed {
            Outcome::error(ErrorKind::Target, "the production decision ended in an error", latency_us)
        } else {
            let decision = match v.get("decision").and_then(|d| d.as_str()) {
                Some("deny") => Some(Decision::Block),
                Some(d) => Decision::parse(d),
                None => None,
            };
            let Some(decision) = decision else {
                problems.push(bad(
                    Code::InvalidDecision,
                    "a line without an error needs `decision`: allow, block or require_approval".into(),
                ));
                continue;
            };
            Outcome { score: Some(score), ..Outcome::decided(decision, latency_us) }
        };
        let category = v.get("category").and_then(|c| c.as_str()).unwrap_or("production");
        let case = Case {
            id: format!("shadow:{n}"),
            payload: Payload::Text(String::new()),
            label,
            category: Arc::from(category),
            source: source.clone(),
            tags: Vec::new(),
            expected: None,
            direction: Direction::Ingress,
            context: None,
            dataset: dataset.clone(),
            expected_first_block: None,
            origin: Origin { path: file.clone(), line: n },
            transform: None,
            variant_of: None,
        };
        results.push(crate::replay::CaseResult::new(case, outcome));
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    if labelled < SHADOW_MIN_DECISIONS {
        return Err(Error::Usage(format!(
            "{}: {labelled} of {lines} lines are labelled and carry a score; a shadow-mode calibration needs at least {SHADOW_MIN_DECISIONS}",
            path.display()
        )));
    }
    let benign = results.iter().filter(|r| r.label == Label::Benign).count();
    let sentence = format!(
        "production traffic in shadow mode: {} ({labelled} of {lines} lines labelled with a score: {benign} benign, {} adversarial)",
        path.display(),
        labelled - benign
    );
    Ok((results, sentence))
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
    let (results, source) = match (&opts.decision_log, &opts.from) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage("--decision-log and --from are two sources: give one".into()));
        }
        (Some(log), None) => shadow_results(log)?,
        (None, Some(path)) => {
            let path = results_in(path);
            (read_results_showing("reading results", &path, opts.quiet)?, path.display().to_string())
        }
        (None, None) => {
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
