//! The `run` pipeline: config → corpus → target → replay → metrics →
//! evaluate → report. The only stage that touches files and the clock; every
//! step it calls is pure or owned by its module.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::config::{load_gates, Config};
use crate::corpus::{load_corpora, CorpusSet};
use crate::errors::{Diagnostic, Error};
use crate::evaluate::{evaluate_gates, Gate, Lane};
use crate::hashing::{hash_dir, sha256_hex};
use crate::metrics::compute_all;
use crate::replay::{replay, CaseResult, Counter};
use crate::report::{
    atomic::write_bytes, overall, results_file::write_results, CorporaInfo, FailingCases, GateReport, Hashes, RunInfo,
    Verdict, VERDICT_SCHEMA,
};
use crate::target::builtin::{Firewall, Overrides};
use crate::target::{Progress, Target};

/// What `gauntlet run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: PathBuf,
    /// Overrides the config's reports folder.
    pub out_dir: Option<PathBuf>,
    pub lane: Lane,
    pub quiet: bool,
    /// The date waivers are judged against; `None` reads GAUNTLET_TODAY, then the clock.
    pub today: Option<NaiveDate>,
}

/// A finished run.
#[derive(Debug)]
pub struct RunOutput {
    pub verdict: Verdict,
    pub results: Vec<CaseResult>,
    pub reports_dir: PathBuf,
}

/// Everything loaded and validated before any case is replayed.
pub struct Plan {
    pub config: Config,
    pub gates: Vec<Gate>,
    pub corpus: CorpusSet,
    pub target: Box<dyn Target>,
}

/// Loads and validates every input, collecting all problems before failing.
pub fn plan(config_path: &Path) -> Result<Plan, Error> {
    let config = Config::load(config_path)?;
    let mut problems: Vec<Diagnostic> = Vec::new();
    let gates = load_gates(&config.gates, &mut problems);
    let target = match build_target(&config) {
        Ok(t) => Some(t),
        Err(Error::Input(mut d)) => {
            problems.append(&mut d);
            None
        }
        Err(e) => return Err(e),
    };
    let corpus = match load_corpora(&config.corpora, &config.base) {
        Ok(c) => Some(c),
        Err(Error::Input(mut d)) => {
            problems.append(&mut d);
            None
        }
        Err(e) => return Err(e),
    };
    match (corpus, target) {
        (Some(corpus), Some(target)) if problems.is_empty() => Ok(Plan { config, gates, corpus, target }),
        _ => Err(Error::Input(problems)),
    }
}

/// The target the config names.
pub fn build_target(config: &Config) -> Result<Box<dyn Target>, Error> {
    let t = &config.target;
    match t.kind.as_str() {
        "builtin" => {
            let overrides = Overrides { block_threshold: t.threshold, approval_threshold: t.approval_threshold };
            let firewall = match &t.rules {
                Some(rules) => Firewall::from_file(&config.base.join(rules), overrides)?,
                None => Firewall::from_toml(
                    Path::new("<embedded rules.toml>"),
                    crate::target::builtin::DEFAULT_RULES,
                    overrides,
                )?,
            };
            Ok(Box::new(firewall))
        }
        other => {
            Err(Diagnostic::new(&config.path, "unsupported-target", format!("target kind `{other}` is not available"))
                .near(&config.text, "kind")
                .into())
        }
    }
}

/// The date waivers and evidence ages are judged against.
pub fn resolve_today(explicit: Option<NaiveDate>) -> Result<NaiveDate, Error> {
    if let Some(d) = explicit {
        return Ok(d);
    }
    match std::env::var("GAUNTLET_TODAY") {
        Ok(s) if !s.is_empty() => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|_| Error::Usage(format!("GAUNTLET_TODAY=`{s}` is not a YYYY-MM-DD date"))),
        _ => Ok(chrono::Local::now().date_naive()),
    }
}

fn git_commit(dir: &Path) -> Option<String> {
    if let Ok(sha) = std::env::var("GITHUB_SHA") {
        return Some(sha);
    }
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).current_dir(dir).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn advance(&self, cases: u64) {
        self.0.inc(cases);
    }
}

/// Runs the whole pipeline and writes `verdict.json` and `results.jsonl`.
pub fn run(opts: &RunOptions) -> Result<RunOutput, Error> {
    let today = resolve_today(opts.today)?;
    let started = chrono::Utc::now();
    let Plan { config, gates, corpus, target } = plan(&opts.config)?;
    let reports_dir = opts.out_dir.clone().unwrap_or_else(|| config.reports.clone());
    let corpus_summary = corpus.summary.clone();

    let show_bar = !opts.quiet && std::io::stderr().is_terminal() && corpus.cases.len() >= 10_000;
    let replayed = if show_bar {
        let bar = indicatif::ProgressBar::new(corpus.cases.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cases {per_sec} eta {eta}")
                .expect("valid template"),
        );
        let bar = Bar(bar);
        let out = replay(target.as_ref(), corpus.cases, &bar);
        bar.0.finish_and_clear();
        out?
    } else {
        replay(target.as_ref(), corpus.cases, &Counter::default())?
    };
    let metrics = compute_all(&replayed.results, &config.counting);
    let outcomes = evaluate_gates(&gates, &replayed.results, &config.counting, opts.lane, replayed.aborted.as_deref());
    let reproduce = format!("gauntlet run --config {} --lane {}", config.path.display(), opts.lane.as_str());
    let gate_reports: Vec<GateReport> =
        outcomes.iter().map(|o| GateReport::from_outcome(o, reproduce.clone())).collect();
    let (verdict_status, exit_code) = overall(&gate_reports, replayed.aborted.is_none());
    let fingerprint = target.fingerprint();
    let verdict = Verdict {
        schema: VERDICT_SCHEMA.into(),
        verdict: verdict_status,
        exit_code,
        run: RunInfo {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: git_commit(&config.base),
            config: config.path.display().to_string(),
            lane: opts.lane,
            started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            today: today.format("%Y-%m-%d").to_string(),
            hashes: Hashes {
                config: sha256_hex(config.text.as_bytes()),
                corpora: corpus_summary.hash.clone(),
                target: fingerprint.hash.clone(),
                gates: hash_dir(&config.gates, "toml"),
            },
            target: fingerprint,
            counting: config.counting,
            complete: replayed.aborted.is_none(),
            aborted: replayed.aborted.clone(),
        },
        gates: gate_reports,
        metrics,
        corpora: CorporaInfo {
            cases: replayed.results.len() as u64,
            files: corpus_summary.files.iter().map(|f| f.display().to_string()).collect(),
            datasets: corpus_summary.datasets.clone(),
            repeated_inputs: corpus_summary.repeated_inputs as u64,
        },
        failing_cases: FailingCases::collect(&replayed.results, &config.counting),
    };
    write_results(&reports_dir.join("results.jsonl"), &replayed.results)?;
    write_verdict(&reports_dir.join("verdict.json"), &verdict)?;
    Ok(RunOutput { verdict, results: replayed.results, reports_dir })
}

pub fn write_verdict(path: &Path, verdict: &Verdict) -> Result<(), Error> {
    let mut bytes = serde_json::to_vec_pretty(verdict).expect("verdict serialises");
    bytes.push(b'\n');
    write_bytes(path, &bytes)
}
