//! `gauntlet run`: plan, replay, judge, write.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;

use super::judge::{Judging, ReplayFacts};
use super::plan::{plan, Plan};
use crate::config::Config;
use crate::corpus::{Case, Decision, Label, Origin};
use crate::errors::Error;
use crate::evaluate::own_gates;
use crate::evaluate::{FixtureCase, FixtureInput, FixtureSuite, GateOutcome, Lane};
use crate::metrics::CountingPolicy;
use crate::partition::Partition;
use crate::progress::Counter;
use crate::replay::journal::{journal_path, replay_journaled, Journal, KeyInputs, RequestMeter, RunKey};
use crate::replay::{replay_repeated, AbortRule, CaseResult};
use crate::report::{CorporaInfo, Verdict};
use crate::stage_clock::StageClock;
use crate::targets::{RequestPlan, Target};

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
    /// Accept the current decisions as the golden snapshots (never in CI).
    pub bless: bool,
    /// Replay each case this many times; rates use the per-case majority.
    pub repeat: u32,
    /// Replay twice (the second time on another thread count) and fail on any difference.
    pub check_determinism: bool,
    /// Only this shard of the cases (`--partition hash:M/N`).
    pub partition: Option<Partition>,
    /// The history file read for trends, and whether to append to it.
    pub history: super::History,
    /// Continue an interrupted run from its journal (`--resume`).
    pub resume: bool,
}

impl RunOptions {
    /// Defaults for a plain `gauntlet run` with this config.
    pub fn new(config: PathBuf) -> Self {
        RunOptions {
            config,
            out_dir: None,
            lane: Lane::Full,
            quiet: true,
            today: None,
            bless: false,
            repeat: 1,
            check_determinism: false,
            partition: None,
            history: super::History::default(),
            resume: false,
        }
    }
}

/// A finished run.
#[derive(Debug)]
pub struct RunOutput {
    pub verdict: Verdict,
    pub results: Vec<CaseResult>,
    pub reports_dir: PathBuf,
}

/// Synthetic cases for fixture entries that carry their own input.
fn fixture_cases(suites: &[FixtureSuite]) -> Vec<Case> {
    let category: Arc<str> = Arc::from("fixture");
    let dataset: Arc<str> = Arc::from("fixtures");
    let mut out = Vec::new();
    for suite in suites {
        let source: Arc<str> = Arc::from(format!("fixture:{}", suite.name).as_str());
        for case in &suite.cases {
            if let FixtureInput::Input(payload) = &case.input {
                out.push(Case {
                    id: FixtureCase::replay_id(&suite.name, &case.name),
                    payload: payload.clone(),
                    label: if case.expect == Decision::Allow { Label::Benign } else { Label::Adversarial },
                    category: category.clone(),
                    source: source.clone(),
                    tags: Vec::new(),
                    expected: Some(case.expect),
                    direction: Default::default(),
                    context: None,
                    dataset: dataset.clone(),
                    expected_first_block: None,
                    origin: Origin {
                        path: Arc::new(case.defined_at.path.clone()),
                        line: case.defined_at.line.unwrap_or(0),
                    },
                    transform: None,
                    variant_of: None,
                });
            }
        }
    }
    out
}

/// The project's abort rule (`abort-error-share`, `abort-min-cases`).
pub(super) fn abort_rule(spec: &crate::targets::TargetSpec) -> AbortRule {
    AbortRule {
        share: spec.abort_error_share.unwrap_or(AbortRule::DEFAULT.share),
        min_cases: spec.abort_min_cases.unwrap_or(AbortRule::DEFAULT.min_cases),
    }
}

/// Replays again on a different number of threads for gate `determinism`.
fn second_replay(
    target: &dyn Target,
    cases: Vec<Case>,
    first: &[CaseResult],
    repeat: u32,
    policy: &CountingPolicy,
) -> Result<GateOutcome, Error> {
    let threads = if rayon::current_num_threads() > 1 { 1 } else { 2 };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Target(format!("cannot start the determinism replay: {e}")))?;
    let severity = |l, d| policy.severity(l, d);
    let second = pool.install(|| replay_repeated(target, cases, repeat, &severity, &Counter::default()))?;
    Ok(own_gates::determinism(first, &second.results, (rayon::current_num_threads(), threads)))
}

/// The cases a run replays, in order: originals with their variants
/// following (so results hold originals first, also after a merge), per
/// tenant, this shard's share, then fixture inputs and tenant probes (once:
/// unsharded, or in shard 1).
pub(super) struct RunCases {
    pub cases: Vec<Case>,
    /// How many of `cases` come from the corpora.
    pub corpus_len: usize,
    pub seqs: Option<Vec<u64>>,
}

pub(super) fn run_cases(
    mut originals: Vec<Case>,
    config: &Config,
    fixtures: &[FixtureSuite],
    opts: &RunOptions,
) -> Result<RunCases, Error> {
    if let Some(plan) = config.transforms.as_ref().and_then(|t| t.for_lane(opts.lane)) {
        crate::transform::append_variants(&mut originals, plan).map_err(Error::Input)?;
    }
    let mut cases = crate::targets::tenants::expand(originals, &config.target);
    let mut seqs = None;
    if let Some(p) = opts.partition {
        let (kept, seq) = p.select(cases);
        cases = kept;
        seqs = Some(seq);
    }
    let corpus_len = cases.len();
    if opts.partition.is_none_or(|p| p.index == 1) {
        cases.extend(fixture_cases(fixtures));
        cases.extend(crate::targets::tenants::probes(&config.target, &config.path));
    }
    Ok(RunCases { cases, corpus_len, seqs })
}

/// Runs the whole pipeline and writes `verdict.json`, `results.jsonl`,
/// `waiver-audit.json` and the human reports (a shard writes its results
/// for `gauntlet merge` instead of reports).
pub fn run(opts: &RunOptions) -> Result<RunOutput, Error> {
    let today = super::resolve_today(opts.today)?;
    let started = chrono::Utc::now();
    let mut clock = StageClock::new("run");
    let Plan { config, gates, corpus, target, fixtures, waivers, warnings } = plan(&opts.config, opts.quiet)?;
    clock.mark("plan");
    let reports_dir = opts.out_dir.clone().unwrap_or_else(|| config.reports.clone());
    super::check_reports_dir(&reports_dir, opts.out_dir.is_some(), &config)?;
    let corpus_summary = corpus.summary.clone();
    let RunCases { cases, corpus_len, seqs } = run_cases(corpus.cases, &config, &fixtures, opts)?;
    clock.mark("cases");
    let mut journal = JournalPlan::new(&config, &gates, &corpus_summary.hash, target.as_ref(), &cases, opts)?;
    let recorded = journal.resumed.as_ref().map_or(0, Journal::recorded_count);
    let requests = request_plan(&cases, corpus_len, opts, &config, recorded);
    check_budget(&requests, &config)?;
    let second_pass = opts.check_determinism.then(|| cases.clone());

    super::plan::check_sendable(target.as_ref(), &cases)?;
    let meter = RequestMeter::new(RequestPlan::limit(&config.target));
    if config.target.health_probe.unwrap_or(true) {
        target.probe(&crate::targets::probe_case(&cases), &meter)?;
    }
    if let Some((block, allow)) = config.target.canary_texts() {
        crate::targets::canary::check(target.as_ref(), &block, &allow, &meter)?;
    }
    let policy = config.counting;
    let severity = |l, d| policy.severity(l, d);
    let total = cases.len() as u64 * opts.repeat.max(1) as u64;
    let mut open_journal = journal.open(cases.len(), opts.repeat)?;
    let replayed =
        super::progress::with_progress(super::progress::Step::cases("replay", total), opts.quiet, |progress| {
            match open_journal.as_mut() {
                Some(j) => {
                    let abort = abort_rule(&config.target);
                    replay_journaled(target.as_ref(), cases, opts.repeat, &severity, progress, j, &meter, abort)
                }
                None => replay_repeated(target.as_ref(), cases, opts.repeat, &severity, progress),
            }
        })
        .map_err(|e| interrupted(e, open_journal.as_ref(), &meter, &config))?;
    clock.mark("replay");
    let determinism = match second_pass {
        Some(cases) => Some(second_replay(target.as_ref(), cases, &replayed.results, opts.repeat, &config.counting)?),
        None => None,
    };
    let mut results = replayed.results;
    let fixture_results = results.split_off(corpus_len);
    let aborted = replayed.aborted.clone().or_else(|| abort_rule(&config.target).judge(&results));
    if let Some(seqs) = seqs {
        for (r, s) in results.iter_mut().zip(seqs) {
            r.seq = Some(s);
        }
    }
    let facts = ReplayFacts {
        started,
        fingerprint: target.fingerprint(),
        corpus: CorporaInfo {
            cases: 0,
            files: corpus_summary.files.iter().map(|f| f.display().to_string()).collect(),
            datasets: corpus_summary.datasets.clone(),
            repeated_inputs: corpus_summary.repeated_inputs as u64,
        },
        corpora_hash: corpus_summary.hash.clone(),
        git_commit: super::git_commit(&config.base),
        aborted,
        partition: opts.partition,
        extra_gates: determinism.into_iter().collect(),
        warnings: warnings.iter().map(crate::errors::Warning::from).collect(),
    };
    let judging = Judging {
        config: &config,
        gates: &gates,
        fixtures: &fixtures,
        waivers: &waivers,
        lane: opts.lane,
        today,
        bless: opts.bless,
    };
    let verdict = super::judge::judge_and_write(
        &judging,
        &results,
        &fixture_results,
        facts,
        &reports_dir,
        target.stderr_log(),
        &opts.history,
    )?;
    clock.mark("judged+written");
    // An honest verdict is written: nothing is left to resume.
    if let (Some(journal), None) = (open_journal, &verdict.run.aborted) {
        journal.remove()?;
    }
    Ok(RunOutput { verdict, results, reports_dir })
}

/// What this run will send (`--dry-run` prints it).
fn request_plan(cases: &[Case], corpus_len: usize, opts: &RunOptions, config: &Config, recorded: u64) -> RequestPlan {
    let passes = if opts.check_determinism { 2 } else { 1 };
    RequestPlan::new(cases, corpus_len, opts.repeat, passes, &config.target, recorded)
}

/// A plan over `max-requests` or `max-cost` is an input error at that key,
/// before any request.
fn check_budget(plan: &RequestPlan, config: &Config) -> Result<(), Error> {
    match plan.over_budget(&config.target) {
        Some((key, message)) => {
            Err(config.key_location(&["target", key]).diagnostic(crate::errors::Code::BudgetExceeded, message).into())
        }
        None => Ok(()),
    }
}

/// `gauntlet run --dry-run`: everything is loaded and validated as for a
/// run, the budget checked, and no request sent.
pub fn dry_run(opts: &RunOptions) -> Result<RequestPlan, Error> {
    let Plan { config, corpus, fixtures, .. } = plan(&opts.config, opts.quiet)?;
    let RunCases { cases, corpus_len, .. } = run_cases(corpus.cases, &config, &fixtures, opts)?;
    let requests = request_plan(&cases, corpus_len, opts, &config, 0);
    check_budget(&requests, &config)?;
    Ok(requests)
}

/// The journal a run keeps (exec and http targets: the built-in one
/// replays in seconds and keeps none): loaded before the budget check when
/// resuming, created only once the run is about to send.
struct JournalPlan {
    path: std::path::PathBuf,
    key: Option<RunKey>,
    resumed: Option<Journal>,
}

impl JournalPlan {
    fn new(
        config: &Config,
        gates: &[crate::evaluate::Gate],
        corpora_hash: &str,
        target: &dyn Target,
        cases: &[Case],
        opts: &RunOptions,
    ) -> Result<JournalPlan, Error> {
        let path = journal_path(&config.base, opts.lane.as_str(), opts.partition);
        let fingerprint = target.fingerprint();
        if fingerprint.kind == "builtin" {
            if opts.resume {
                return Err(Error::Usage(
                    "nothing to resume: the built-in target replays in seconds and keeps no journal; run without --resume".into(),
                ));
            }
            return Ok(JournalPlan { path, key: None, resumed: None });
        }
        let key = RunKey::new(&KeyInputs {
            config_text: &config.text,
            corpora_hash,
            gate_files: gates.iter().map(|g| g.defined_at.path.as_path()).collect(),
            target_hash: &fingerprint.hash,
            cases,
            lane: opts.lane.as_str(),
            repeat: opts.repeat,
        })?;
        let resumed = match opts.resume {
            true => Some(Journal::resume(&path, &key, cases.len(), opts.repeat)?),
            false => None,
        };
        Ok(JournalPlan { path, key: Some(key), resumed })
    }

    fn open(&mut self, cases: usize, repeat: u32) -> Result<Option<Journal>, Error> {
        match (self.resumed.take(), &self.key) {
            (Some(journal), _) => Ok(Some(journal)),
            (None, Some(key)) => Journal::create(&self.path, key, cases, repeat).map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// A replay that ended before every case had an outcome: what was recorded
/// stays in the journal, and the message says how to continue.
fn interrupted(error: Error, journal: Option<&Journal>, meter: &RequestMeter, config: &Config) -> Error {
    let Some(journal) = journal else { return error };
    let resume = format!(
        "the outcomes so far are recorded in {}; `gauntlet run --resume` replays only the rest",
        journal.path().display()
    );
    if meter.stopped() {
        return Error::Target(format!(
            "the request budget ran out mid-run after {} requests (max-requests {}, max-cost {}: retries sent more than planned); {resume}",
            meter.sent(),
            config.target.max_requests.map_or("-".into(), |m| m.to_string()),
            config.target.max_cost.map_or("-".into(), |m| m.to_string()),
        ));
    }
    match error {
        Error::Target(message) => Error::Target(format!("{message}; {resume}")),
        other => other,
    }
}

/// `gauntlet fixtures bless`: replay and accept the current decisions as the
/// golden snapshots. Refused with `CI` set: snapshots are reviewed locally.
pub fn bless(config: PathBuf) -> Result<RunOutput, Error> {
    if crate::golden_file::in_ci() {
        return Err(Error::Usage("refusing to bless snapshots with CI set: review and bless locally".into()));
    }
    run(&RunOptions { bless: true, ..RunOptions::new(config) })
}
