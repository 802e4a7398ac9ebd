//! The `run` pipeline: config → corpus → target → replay → metrics →
//! evaluate → report. The only stage that touches files and the clock; every
//! step it calls is pure or owned by its module.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

use crate::config::{load_fixtures, load_gates, load_waivers, Config};
use crate::corpus::{load_corpora, Case, CorpusSet, Decision, Label, Origin};
use crate::errors::{Diagnostic, Error};
use crate::evaluate::{
    apply_waivers, audit_waivers_only, check_waiver_rules, evaluate_gates, fixture_result_ids, golden, judge_fixtures,
    FixtureCase, FixtureInput, FixtureSuite, Gate, GateOutcome, GateStatus, Lane, Waiver, LIFECYCLE_GATE,
};
use crate::golden_file;
use crate::hashing::{hash_dir, sha256_hex};
use crate::metrics::compute_all;
use crate::partition::Partition;
use crate::replay::{replay_repeated, CaseResult, Counter};
use crate::report::history::{self, HistoryEntry};
use crate::report::{
    atomic::write_bytes, overall, render_all, results_file::write_results, CorporaInfo, FailingCases, GateReport,
    GoldenReport, GoldenStatus, Hashes, Overall, RunInfo, Verdict, WaiverAudit, VERDICT_SCHEMA,
};
use crate::stage_clock::StageClock;
use crate::target::builtin::{Firewall, Overrides};
use crate::target::exec::{ExecConfig, ExecTarget};
use crate::target::http::{check_template, expand_env, HttpConfig, HttpTarget};
use crate::target::{Progress, Target, TargetFingerprint};

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

/// Everything loaded and validated before any case is replayed.
pub struct Plan {
    pub config: Config,
    pub gates: Vec<Gate>,
    pub corpus: CorpusSet,
    pub target: Box<dyn Target>,
    pub fixtures: Vec<FixtureSuite>,
    pub waivers: Vec<Waiver>,
}

/// Loads and validates every input, collecting all problems before failing.
pub fn plan(config_path: &Path) -> Result<Plan, Error> {
    let mut clock = StageClock::new("plan");
    let config = Config::load(config_path)?;
    let mut problems: Vec<Diagnostic> = Vec::new();
    let gates = load_gates(&config.gates, &mut problems);
    let fixtures = load_fixtures(&config.fixtures, &mut problems);
    let waivers = load_waivers(&config.waivers, &mut problems);
    let target = match build_target(&config) {
        Ok(t) => Some(t),
        Err(Error::Input(mut d)) => {
            problems.append(&mut d);
            None
        }
        Err(e) => return Err(e),
    };
    clock.mark("target");
    let corpus = match load_corpora(&config.corpora, &config.base) {
        Ok(c) => Some(c),
        Err(Error::Input(mut d)) => {
            problems.append(&mut d);
            None
        }
        Err(e) => return Err(e),
    };
    clock.mark("corpora");
    let refers_to_cases = fixtures.iter().flat_map(|s| &s.cases).any(|c| matches!(c.input, FixtureInput::Ref(_)));
    if let Some(corpus) = corpus.as_ref().filter(|_| refers_to_cases) {
        let ids: HashSet<&str> = corpus.cases.iter().map(|c| c.id.as_str()).collect();
        for suite in &fixtures {
            for case in &suite.cases {
                if let FixtureInput::Ref(id) = &case.input {
                    if !ids.contains(id.as_str()) {
                        let (path, line) = case.defined_at.rsplit_once(':').unwrap_or((&case.defined_at, "0"));
                        problems.push(
                            Diagnostic::new(
                                Path::new(path),
                                "unknown-ref",
                                format!("fixture `ref` names no corpus case `{id}`"),
                            )
                            .at_line(line.parse().unwrap_or(0)),
                        );
                    }
                }
            }
        }
    }
    match (corpus, target) {
        (Some(corpus), Some(target)) if problems.is_empty() => {
            Ok(Plan { config, gates, corpus, target, fixtures, waivers })
        }
        _ => Err(Error::Input(problems)),
    }
}

/// The target the config names.
pub fn build_target(config: &Config) -> Result<Box<dyn Target>, Error> {
    let t = &config.target;
    match t.kind.as_str() {
        "builtin" => {
            let firewall = |threshold: Option<f64>, system_prompt: Option<String>| -> Result<Firewall, Error> {
                let overrides = Overrides {
                    block_threshold: threshold.or(t.threshold),
                    approval_threshold: t.approval_threshold,
                    system_prompt: system_prompt.or_else(|| t.system_prompt.clone()),
                };
                match &t.rules {
                    Some(rules) => Firewall::from_file(&config.base.join(rules), overrides),
                    None => Firewall::from_toml(
                        Path::new("<embedded rules.toml>"),
                        crate::target::builtin::DEFAULT_RULES,
                        overrides,
                    ),
                }
            };
            match &t.tenant {
                Some(tenants) if !tenants.is_empty() => {
                    let routed = tenants
                        .iter()
                        .map(|tn| Ok((tn.id.clone(), firewall(tn.threshold, tn.system_prompt.clone())?)))
                        .collect::<Result<Vec<_>, Error>>()?;
                    let anonymous = if t.anonymous.unwrap_or(true) { Some(firewall(None, None)?) } else { None };
                    Ok(Box::new(crate::target::tenants::TenantRouter::new(routed, anonymous)))
                }
                _ => Ok(Box::new(firewall(None, None)?)),
            }
        }
        "exec" => {
            let command = t.command.clone().unwrap_or_default();
            Ok(Box::new(ExecTarget::new(ExecConfig {
                command,
                workers: t.workers.unwrap_or(1),
                window: t.window.unwrap_or(64),
                timeout: Duration::from_millis(t.timeout_ms.unwrap_or(2000)),
                max_restarts: t.max_restarts.unwrap_or(3),
                hello: t.hello.unwrap_or(false),
                dir: config.base.clone(),
            })))
        }
        "http" => {
            let mut problems = Vec::new();
            let here = |key: &str, code: &'static str, msg: String| {
                Diagnostic::new(&config.path, code, msg).near(&config.text, key)
            };
            if let Some(body) = &t.body {
                if let Err(e) = check_template(body) {
                    problems.push(here("body", "invalid-template", e));
                }
            }
            let mut headers = Vec::new();
            for (k, v) in t.headers.iter().flatten() {
                match expand_env(v) {
                    Ok(value) => headers.push((k.clone(), value)),
                    Err(e) => problems.push(here("headers", "missing-env", format!("header `{k}`: {e}"))),
                }
            }
            let mut decision_map = BTreeMap::new();
            for (k, v) in t.decision_map.iter().flatten() {
                match Decision::parse(v) {
                    Some(d) => {
                        decision_map.insert(k.clone(), d);
                    }
                    None => problems.push(here(
                        "decision-map",
                        "invalid-decision",
                        format!("decision-map `{k}` = `{v}` is not allow, block or require_approval"),
                    )),
                }
            }
            let pointer = |key: &str, value: &Option<String>, default: &str, problems: &mut Vec<Diagnostic>| {
                let p = value.clone().unwrap_or_else(|| default.to_string());
                if !p.is_empty() && !p.starts_with('/') {
                    problems.push(here(
                        key,
                        "invalid-pointer",
                        format!("`{key}` = `{p}` is not a JSON pointer (it starts with /)"),
                    ));
                }
                p
            };
            let decision = pointer("decision", &t.decision, "/decision", &mut problems);
            let score = pointer("score", &t.score, "/score", &mut problems);
            let reasons = pointer("reasons", &t.reasons, "/reasons", &mut problems);
            if !problems.is_empty() {
                return Err(Error::Input(problems));
            }
            Ok(Box::new(HttpTarget::new(HttpConfig {
                url: t.url.clone().unwrap_or_default(),
                body: t.body.clone(),
                headers,
                decision,
                decision_map,
                score,
                reasons,
                concurrency: t.concurrency.unwrap_or(16),
                timeout: Duration::from_millis(t.timeout_ms.unwrap_or(2000)),
                retries: t.retries.unwrap_or(3),
            })))
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

/// Synthetic cases for fixture entries that carry their own input.
fn fixture_cases(suites: &[FixtureSuite]) -> Vec<Case> {
    let category: Arc<str> = Arc::from("fixture");
    let dataset: Arc<str> = Arc::from("fixtures");
    let mut out = Vec::new();
    for suite in suites {
        let source: Arc<str> = Arc::from(format!("fixture:{}", suite.name).as_str());
        for case in &suite.cases {
            if let FixtureInput::Input(payload) = &case.input {
                let (path, line) = case.defined_at.rsplit_once(':').unwrap_or((&case.defined_at, "0"));
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
                    origin: Origin { path: Arc::new(PathBuf::from(path)), line: line.parse().unwrap_or(0) },
                });
            }
        }
    }
    out
}

/// With `[[target.tenant]]`, every case runs once per tenant (id
/// `<id>@<tenant>`, `context.tenant` set); cases naming a tenant already keep it.
fn expand_for_tenants(cases: Vec<Case>, config: &Config) -> Vec<Case> {
    let tenants: Vec<&str> = config.target.tenant.iter().flatten().map(|t| t.id.as_str()).collect();
    if tenants.is_empty() {
        return cases;
    }
    let mut out = Vec::with_capacity(cases.len() * tenants.len());
    for case in cases {
        if crate::target::tenants::tenant_of(&case).is_some() {
            out.push(case);
            continue;
        }
        for t in &tenants {
            let mut c = case.clone();
            c.id = format!("{}@{t}", case.id);
            c.context
                .get_or_insert_with(Default::default)
                .insert("tenant".into(), serde_json::Value::String(t.to_string()));
            out.push(c);
        }
    }
    out
}

const PROBE_PREFIX: &str = "probe::";

/// Requests that a tenant-aware gate must refuse: one for a tenant that does
/// not exist and, when anonymous access is off, one without a tenant.
fn tenant_probes(config: &Config) -> Vec<Case> {
    if config.target.tenant.as_ref().is_none_or(|t| t.is_empty()) {
        return Vec::new();
    }
    let make = |id: &str, tenant: Option<&str>| Case {
        id: format!("{PROBE_PREFIX}{id}"),
        payload: crate::corpus::Payload::Text("Hello, what are your opening hours?".into()),
        label: Label::Adversarial,
        category: Arc::from("tenant-probe"),
        source: Arc::from("gauntlet"),
        tags: Vec::new(),
        expected: Some(Decision::Block),
        direction: Default::default(),
        context: tenant.map(|t| {
            let mut m = serde_json::Map::new();
            m.insert("tenant".into(), serde_json::Value::String(t.into()));
            m
        }),
        dataset: Arc::from("probes"),
        expected_first_block: None,
        origin: Origin { path: Arc::new(config.path.clone()), line: 0 },
    };
    let mut probes = vec![make("unknown-tenant", Some("gauntlet-probe-no-such-tenant"))];
    if !config.target.anonymous.unwrap_or(true) {
        probes.push(make("no-tenant", None));
    }
    probes
}

/// Gate `tenant-fail-closed`: every probe must be blocked.
fn tenant_gate(fixture_results: &[CaseResult], config: &Config, aborted: Option<&str>) -> Option<GateOutcome> {
    let probes: Vec<&CaseResult> = fixture_results.iter().filter(|r| r.id.starts_with(PROBE_PREFIX)).collect();
    if probes.is_empty() {
        return None;
    }
    let open: Vec<String> = probes
        .iter()
        .filter(|r| r.decision != Some(Decision::Block))
        .map(|r| format!("{} answered {}", r.id, r.decision.map(|d| d.as_str()).unwrap_or("error")))
        .collect();
    let (status, detail) = match (aborted, open.is_empty()) {
        (Some(reason), _) => (GateStatus::Error, format!("run incomplete: {reason}")),
        (None, true) => (GateStatus::Pass, format!("{} probe(s) refused", probes.len())),
        (None, false) => (GateStatus::Fail, format!("not fail-closed: {}", open.join("; "))),
    };
    Some(GateOutcome {
        gate: Gate::synthetic(
            "tenant-fail-closed",
            "Requests for an unknown tenant (or none, without anonymous access) are blocked.",
            config.path.display().to_string(),
        ),
        status,
        value: Some(open.len() as f64),
        interval: None,
        compared: Some(open.len() as f64),
        samples: probes.len() as u64,
        detail,
        waiver: None,
    })
}

/// Checks (or, blessing, writes) each dataset's decision snapshot.
fn check_golden(
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

fn golden_gates(reports: &[GoldenReport], aborted: Option<&str>) -> Vec<GateOutcome> {
    reports
        .iter()
        .map(|g| {
            let (status, detail) = match (aborted, g.status) {
                (Some(reason), _) => (GateStatus::Error, format!("run incomplete: {reason}")),
                (None, GoldenStatus::Match) => (GateStatus::Pass, "decisions match the snapshot".to_string()),
                (None, GoldenStatus::Blessed) => {
                    (GateStatus::Pass, "snapshot blessed with the current decisions".to_string())
                }
                (None, GoldenStatus::Missing) => {
                    (GateStatus::Fail, format!("no snapshot at {}: review and run `gauntlet fixtures bless`", g.path))
                }
                (None, GoldenStatus::Changed) => (
                    GateStatus::Fail,
                    format!(
                        "{} flipped, {} other changes; first lines:\n{}",
                        g.flips,
                        g.changes,
                        first_lines(&g.diff, 8)
                    ),
                ),
            };
            GateOutcome {
                gate: Gate::synthetic(
                    format!("golden:{}", g.dataset),
                    format!("Decisions on `{}` match fixtures/golden.", g.dataset),
                    g.path.clone(),
                ),
                status,
                value: Some((g.flips + g.changes) as f64),
                interval: None,
                compared: Some((g.flips + g.changes) as f64),
                samples: g.cases,
                detail,
                waiver: None,
            }
        })
        .collect()
}

fn first_lines(s: &str, n: usize) -> String {
    s.lines().take(n).collect::<Vec<_>>().join("\n")
}

/// Replays again on a different number of threads and compares every
/// decision, score, reason list and error kind with the first replay.
fn determinism_gate(
    target: &dyn Target,
    cases: Vec<Case>,
    first: &[CaseResult],
    repeat: u32,
) -> Result<GateOutcome, Error> {
    let threads = if rayon::current_num_threads() > 1 { 1 } else { 2 };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Target(format!("cannot start the determinism replay: {e}")))?;
    let second = pool.install(|| replay_repeated(target, cases, repeat, &Counter::default()))?;
    let key =
        |r: &CaseResult| (r.decision, r.score.map(f64::to_bits), r.reasons.clone(), r.error.as_ref().map(|e| e.kind));
    let differing: Vec<&str> =
        first.iter().zip(&second.results).filter(|(a, b)| key(a) != key(b)).map(|(a, _)| a.id.as_str()).collect();
    let detail = if differing.is_empty() {
        format!(
            "{} cases identical across two replays ({} and {threads} threads)",
            first.len(),
            rayon::current_num_threads()
        )
    } else {
        let shown: Vec<&str> = differing.iter().take(20).copied().collect();
        format!("{} case(s) differ between replays: {}", differing.len(), shown.join(", "))
    };
    Ok(GateOutcome {
        gate: Gate::synthetic(
            "determinism",
            "Two replays (on different thread counts) give identical answers.",
            "--check-determinism",
        ),
        status: if differing.is_empty() { GateStatus::Pass } else { GateStatus::Fail },
        value: Some(differing.len() as f64),
        interval: None,
        compared: Some(differing.len() as f64),
        samples: first.len() as u64,
        detail,
        waiver: None,
    })
}

/// The gate template for gauntlet's own waiver gate.
pub fn lifecycle_gate(config: &Config) -> Gate {
    Gate::synthetic(LIFECYCLE_GATE, "No expired or invalid waiver.", config.waivers.display().to_string())
}

/// What judging a replay needs besides the results: the validated inputs.
pub struct Judging<'a> {
    pub config: &'a Config,
    pub gates: &'a [Gate],
    pub fixtures: &'a [FixtureSuite],
    pub waivers: &'a [Waiver],
    pub lane: Lane,
    pub today: NaiveDate,
    pub bless: bool,
}

/// Facts about the replay, recorded in the verdict.
pub struct ReplayFacts {
    pub started: chrono::DateTime<chrono::Utc>,
    pub fingerprint: TargetFingerprint,
    pub corpus: CorporaInfo,
    pub corpora_hash: String,
    pub git_commit: Option<String>,
    pub aborted: Option<String>,
    pub partition: Option<Partition>,
    /// Gates computed during the replay (determinism).
    pub extra_gates: Vec<GateOutcome>,
}

/// Metrics, gates, fixtures, golden snapshots and waivers → the verdict.
/// Shared by `run` and `merge`, so a merged run is judged exactly as an
/// unsharded one.
pub fn judge(
    j: &Judging,
    results: &[CaseResult],
    fixture_results: &[CaseResult],
    facts: ReplayFacts,
) -> Result<Verdict, Error> {
    let mut clock = StageClock::new("judge");
    let config = j.config;
    let aborted = facts.aborted.as_deref();
    let mut metrics = compute_all(results, &config.counting);
    metrics.weighted_cost = config.costs.weighted_cost(results);
    clock.mark("metrics");
    let mut outcomes = evaluate_gates(j.gates, results, &config.counting, &config.costs, j.lane, aborted);
    clock.mark("gates");
    outcomes.extend(facts.extra_gates);
    outcomes.extend(tenant_gate(fixture_results, config, aborted));
    // Only the few results fixtures name, not an index of the whole run.
    let wanted = fixture_result_ids(j.fixtures);
    let by_id: HashMap<&str, &CaseResult> = {
        use rayon::prelude::*;
        let named = |r: &&CaseResult| wanted.contains(r.id.as_str());
        let mut found: Vec<&CaseResult> =
            if wanted.is_empty() { Vec::new() } else { results.par_iter().filter(named).collect() };
        found.extend(fixture_results.iter().filter(named));
        found.into_iter().map(|r| (r.id.as_str(), r)).collect()
    };
    let mut fixture_outcomes = judge_fixtures(j.fixtures, &by_id);
    clock.mark("fixtures");
    // A shard sees part of the corpus: snapshots are checked at the merge.
    let golden_dir = config.fixtures.join("golden");
    let golden = if facts.partition.is_none() && (golden_dir.is_dir() || j.bless) {
        let datasets: Vec<Arc<str>> = results.iter().map(|r| r.dataset.clone()).collect();
        check_golden(&golden_dir, results, &datasets, j.bless)?
    } else {
        Vec::new()
    };
    outcomes.extend(golden_gates(&golden, aborted));
    clock.mark("golden");

    // Waivers last: they apply to gate and fixture failures of this lane.
    let mut gate_ids: Vec<String> = j.gates.iter().map(|g| g.id.clone()).collect();
    gate_ids.extend(fixture_outcomes.iter().map(|s| s.gate_id()));
    gate_ids.extend(golden.iter().map(|g| format!("golden:{}", g.dataset)));
    let gate_id_refs: Vec<&str> = gate_ids.iter().map(String::as_str).collect();
    let case_ids: Vec<String> =
        fixture_outcomes.iter().flat_map(|s| s.cases.iter().map(|c| c.qualified_name.clone())).collect();
    let rule_problems = check_waiver_rules(j.waivers, j.today, &config.waiver_policy, &gate_id_refs, &case_ids);
    let judgement = apply_waivers(
        j.waivers,
        &rule_problems,
        j.today,
        &config.waiver_policy,
        j.lane,
        &mut outcomes,
        &mut fixture_outcomes,
        aborted,
        lifecycle_gate(config),
    );
    outcomes.push(judgement.lifecycle);

    let reproduce = match facts.partition {
        Some(p) => {
            format!("gauntlet run --config {} --lane {} --partition {p}", config.path.display(), j.lane.as_str())
        }
        None => format!("gauntlet run --config {} --lane {}", config.path.display(), j.lane.as_str()),
    };
    let gate_reports: Vec<GateReport> =
        outcomes.iter().map(|o| GateReport::from_outcome(o, reproduce.clone())).collect();
    let (mut verdict_status, mut exit_code) = overall(&gate_reports, aborted.is_none());
    if facts.partition.is_some() && aborted.is_none() {
        // A shard's gates see part of the data; only the merge may fail the build.
        (verdict_status, exit_code) = (Overall::Pass, crate::exit_code::PASS);
    }
    let today_text = j.today.format("%Y-%m-%d").to_string();
    let failing_cases = FailingCases::collect(results, &config.counting);
    clock.mark("failing");
    Ok(Verdict {
        schema: VERDICT_SCHEMA.into(),
        verdict: verdict_status,
        exit_code,
        run: RunInfo {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: facts.git_commit,
            config: config.path.display().to_string(),
            lane: j.lane,
            started_at: facts.started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            today: today_text.clone(),
            hashes: Hashes {
                config: sha256_hex(config.text.as_bytes()),
                corpora: facts.corpora_hash,
                target: facts.fingerprint.hash.clone(),
                gates: hash_dir(&config.gates, "toml"),
            },
            target: facts.fingerprint,
            counting: config.counting,
            complete: aborted.is_none(),
            aborted: facts.aborted.clone(),
            partition: facts.partition,
        },
        gates: gate_reports,
        metrics,
        corpora: CorporaInfo { cases: results.len() as u64, ..facts.corpus },
        failing_cases,
        fixtures: fixture_outcomes,
        golden,
        waivers: WaiverAudit::new(today_text, Some(j.lane), judgement.reports),
    })
}

/// Judges the run and writes everything it produces into `dir`. The results
/// files do not depend on the verdict, and judging runs mostly on one
/// thread, so they are written while judging runs. A judging error (exit 2)
/// can thus leave fresh results files beside the previous verdict: each
/// file is still whole, and the results record what the target answered.
fn judge_and_write(
    j: &Judging,
    results: &[CaseResult],
    fixture_results: &[CaseResult],
    facts: ReplayFacts,
    dir: &Path,
    stderr: Option<String>,
) -> Result<Verdict, Error> {
    let partitioned = facts.partition.is_some();
    let (verdict, written) = rayon::join(
        || judge(j, results, fixture_results, facts),
        || write_result_files(dir, results, fixture_results, partitioned),
    );
    let verdict = verdict?;
    written?;
    write_reports(dir, &verdict, stderr)?;
    Ok(verdict)
}

/// results.jsonl and results.csv, side by side; a shard writes its fixture
/// results for the merge instead of the CSV.
fn write_result_files(
    dir: &Path,
    results: &[CaseResult],
    fixture_results: &[CaseResult],
    partitioned: bool,
) -> Result<(), Error> {
    let mut clock = StageClock::new("write");
    let (jsonl, other) = rayon::join(
        || write_results(&dir.join("results.jsonl"), results),
        || match partitioned {
            true => write_results(&dir.join("fixture-results.jsonl"), fixture_results),
            false => crate::report::csv_out::write_csv(&dir.join("results.csv"), results),
        },
    );
    jsonl?;
    other?;
    clock.mark("results");
    Ok(())
}

/// The verdict, the waiver audit, history and the human reports.
fn write_reports(dir: &Path, verdict: &Verdict, stderr: Option<String>) -> Result<(), Error> {
    let mut clock = StageClock::new("write");
    if let Some(log) = stderr {
        write_bytes(&dir.join("target-stderr.log"), log.as_bytes())?;
    }
    write_json(&dir.join("waiver-audit.json"), &verdict.waivers)?;
    write_json(&dir.join("verdict.json"), verdict)?;
    if verdict.run.lane == Lane::Full && verdict.run.complete && verdict.run.partition.is_none() {
        history::append(&dir.join("history").join("history.jsonl"), &HistoryEntry::from_verdict(verdict))?;
    }
    clock.mark("verdict");
    if verdict.run.partition.is_none() {
        render_all(verdict, None, dir)?;
    }
    clock.mark("reports");
    Ok(())
}

/// Runs the whole pipeline and writes `verdict.json`, `results.jsonl`,
/// `waiver-audit.json` and the human reports (a shard writes its results
/// for `gauntlet merge` instead of reports).
pub fn run(opts: &RunOptions) -> Result<RunOutput, Error> {
    let today = resolve_today(opts.today)?;
    let started = chrono::Utc::now();
    let mut clock = StageClock::new("run");
    let Plan { config, gates, corpus, target, fixtures, waivers } = plan(&opts.config)?;
    clock.mark("plan");
    let reports_dir = opts.out_dir.clone().unwrap_or_else(|| config.reports.clone());
    let corpus_summary = corpus.summary.clone();
    let mut cases = expand_for_tenants(corpus.cases, &config);
    let mut seqs = None;
    if let Some(p) = opts.partition {
        let (kept, seq) = p.select(cases);
        cases = kept;
        seqs = Some(seq);
    }
    let corpus_len = cases.len();
    // Fixture inputs and tenant probes run once: unsharded, or in shard 1.
    if opts.partition.is_none_or(|p| p.index == 1) {
        cases.extend(fixture_cases(&fixtures));
        cases.extend(tenant_probes(&config));
    }
    let second_pass = opts.check_determinism.then(|| cases.clone());

    let show_bar = !opts.quiet && std::io::stderr().is_terminal() && cases.len() >= 10_000;
    let replayed = if show_bar {
        let bar = indicatif::ProgressBar::new(cases.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cases {per_sec} eta {eta}")
                .expect("valid template"),
        );
        let bar = Bar(bar);
        let out = replay_repeated(target.as_ref(), cases, opts.repeat, &bar);
        bar.0.finish_and_clear();
        out?
    } else {
        replay_repeated(target.as_ref(), cases, opts.repeat, &Counter::default())?
    };
    clock.mark("replay");
    let determinism = match second_pass {
        Some(cases) => Some(determinism_gate(target.as_ref(), cases, &replayed.results, opts.repeat)?),
        None => None,
    };
    let aborted = replayed.aborted.clone();
    let mut results = replayed.results;
    let fixture_results = results.split_off(corpus_len);
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
        git_commit: git_commit(&config.base),
        aborted,
        partition: opts.partition,
        extra_gates: determinism.into_iter().collect(),
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
    let verdict = judge_and_write(&judging, &results, &fixture_results, facts, &reports_dir, target.stderr_log())?;
    clock.mark("judged+written");
    Ok(RunOutput { verdict, results, reports_dir })
}

/// One shard's saved output, read back by `merge`.
struct Shard {
    dir: PathBuf,
    verdict: Verdict,
    results: Vec<CaseResult>,
    fixture_results: Vec<CaseResult>,
}

fn read_shard(dir: &Path) -> Result<Shard, Error> {
    let verdict_path = dir.join("verdict.json");
    let text = std::fs::read_to_string(&verdict_path)
        .map_err(|e| Diagnostic::new(&verdict_path, "missing-shard-file", e.to_string()))?;
    let verdict: Verdict = serde_json::from_str(&text)
        .map_err(|e| Diagnostic::new(&verdict_path, "invalid-verdict", e.to_string()).at(e.line(), e.column()))?;
    let results = crate::report::results_file::read_results(&dir.join("results.jsonl"))?;
    let fixture_path = dir.join("fixture-results.jsonl");
    let fixture_results =
        if fixture_path.exists() { crate::report::results_file::read_results(&fixture_path)? } else { Vec::new() };
    Ok(Shard { dir: dir.to_path_buf(), verdict, results, fixture_results })
}

/// `gauntlet merge`: shard results → the single verdict and reports, judged
/// as if the run had not been split. Refuses a missing or duplicate shard,
/// shards of different configs, corpora, gates or targets, and a case seen
/// twice.
pub fn merge(
    dirs: &[PathBuf],
    config_path: &Path,
    out_dir: Option<&Path>,
    today: Option<NaiveDate>,
) -> Result<RunOutput, Error> {
    let today = resolve_today(today)?;
    let config = Config::load(config_path)?;
    let mut problems = Vec::new();
    let gates = load_gates(&config.gates, &mut problems);
    let fixtures = load_fixtures(&config.fixtures, &mut problems);
    let waivers = load_waivers(&config.waivers, &mut problems);
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let mut clock = StageClock::new("merge");
    let shards: Vec<Shard> = {
        use rayon::prelude::*;
        dirs.par_iter().map(|d| read_shard(d)).collect::<Result<_, _>>()?
    };
    clock.mark("read");
    let Some(first) = shards.first() else { return Err(Error::Usage("merge needs at least one shard folder".into())) };
    let count = match first.verdict.run.partition {
        Some(p) => p.count,
        None => {
            return Err(
                Diagnostic::new(&first.dir, "not-a-shard", "this verdict comes from an unpartitioned run").into()
            )
        }
    };
    let mut seen_index = vec![None::<&Path>; count as usize];
    for s in &shards {
        let here = |code, msg: String| Diagnostic::new(&s.dir.join("verdict.json"), code, msg);
        let Some(p) = s.verdict.run.partition else {
            problems.push(here("not-a-shard", "this verdict comes from an unpartitioned run".into()));
            continue;
        };
        if p.count != count {
            problems
                .push(here("shard-count-mismatch", format!("shard of {} parts, the first shard has {count}", p.count)));
            continue;
        }
        if let Some(other) = seen_index[p.index as usize - 1] {
            problems.push(here("duplicate-shard", format!("shard {p} is also in {}", other.display())));
        }
        seen_index[p.index as usize - 1] = Some(&s.dir);
        let (a, b) = (&s.verdict.run.hashes, &first.verdict.run.hashes);
        for (what, x, y) in [
            ("config", &a.config, &b.config),
            ("corpora", &a.corpora, &b.corpora),
            ("target", &a.target, &b.target),
            ("gates", &a.gates, &b.gates),
        ] {
            if x != y {
                problems.push(here(
                    "shard-mismatch",
                    format!("{what} hash differs from {}'s: shards of different runs", first.dir.display()),
                ));
            }
        }
        if s.verdict.run.lane != first.verdict.run.lane {
            problems.push(here("shard-mismatch", "lane differs between shards".into()));
        }
    }
    for (i, s) in seen_index.iter().enumerate() {
        if s.is_none() {
            problems.push(Diagnostic::new(
                Path::new(&format!("shard {}/{count}", i + 1)),
                "missing-shard",
                "no folder holds this shard",
            ));
        }
    }
    if sha256_hex(config.text.as_bytes()) != first.verdict.run.hashes.config {
        problems.push(Diagnostic::new(
            config_path,
            "shard-mismatch",
            "the shards were run with a different version of this config",
        ));
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let lane = first.verdict.run.lane;
    let started = shards.iter().map(|s| s.verdict.run.started_at.clone()).min().unwrap_or_default();
    let started = chrono::DateTime::parse_from_rfc3339(&started)
        .map(|d| d.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let aborted = shards.iter().find_map(|s| s.verdict.run.aborted.clone());
    let fingerprint = first.verdict.run.target.clone();
    let corpus = first.verdict.corpora.clone();
    let corpora_hash = first.verdict.run.hashes.corpora.clone();
    let git_commit = first.verdict.run.git_commit.clone();
    // Corpus order: sort small (position, shard, index) keys, then move each
    // result once (sorting the 300-byte results themselves moved each ~20 times).
    let mut order: Vec<(Option<u64>, u32, u32)> = shards
        .iter()
        .enumerate()
        .flat_map(|(k, s)| s.results.iter().enumerate().map(move |(i, r)| (r.seq, k as u32, i as u32)))
        .collect();
    {
        use rayon::prelude::*;
        order.par_sort_unstable();
    }
    let mut fixture_results = Vec::new();
    let mut parts: Vec<Vec<Option<CaseResult>>> = Vec::with_capacity(shards.len());
    for s in shards {
        parts.push(s.results.into_iter().map(Some).collect());
        fixture_results.extend(s.fixture_results);
    }
    let mut results: Vec<CaseResult> = Vec::with_capacity(order.len());
    for (_, k, i) in order {
        results.push(parts[k as usize][i as usize].take().expect("each result is placed once"));
    }
    drop(parts);
    let ids: Vec<&str> = results.iter().map(|r| r.id.as_str()).collect();
    for (i, _) in crate::hashing::repeats(&ids) {
        problems.push(Diagnostic::new(
            Path::new(&results[i].id),
            "duplicate-case",
            "this case id is in more than one shard",
        ));
    }
    drop(ids);
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    for r in results.iter_mut() {
        r.seq = None;
    }
    let judging =
        Judging { config: &config, gates: &gates, fixtures: &fixtures, waivers: &waivers, lane, today, bless: false };
    let facts = ReplayFacts {
        started,
        fingerprint,
        corpus,
        corpora_hash,
        git_commit,
        aborted,
        partition: None,
        extra_gates: Vec::new(),
    };
    let reports_dir = out_dir.map(Path::to_path_buf).unwrap_or_else(|| config.reports.clone());
    let verdict = judge_and_write(&judging, &results, &fixture_results, facts, &reports_dir, None)?;
    clock.mark("judged+written");
    Ok(RunOutput { verdict, results, reports_dir })
}

/// Pretty JSON with a trailing newline, written atomically.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Error> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("report serialises");
    bytes.push(b'\n');
    write_bytes(path, &bytes)
}

pub fn write_verdict(path: &Path, verdict: &Verdict) -> Result<(), Error> {
    write_json(path, verdict)
}

/// Gate ids and fixture case ids a waiver may name, known without a run.
fn waivable_ids(config: &Config, problems: &mut Vec<Diagnostic>) -> (Vec<String>, Vec<String>) {
    let mut gate_ids: Vec<String> = load_gates(&config.gates, problems).into_iter().map(|g| g.id).collect();
    let suites = load_fixtures(&config.fixtures, problems);
    gate_ids.extend(suites.iter().map(|s| format!("fixtures:{}", s.name)));
    if let Ok(entries) = std::fs::read_dir(config.fixtures.join("golden")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".snap") {
                gate_ids.push(format!("golden:{stem}"));
            }
        }
    }
    let case_ids = suites.iter().flat_map(|s| s.cases.iter().map(move |c| format!("{}::{}", s.name, c.name))).collect();
    (gate_ids, case_ids)
}

/// `gauntlet waivers audit`: the waiver checks alone (no replay), written to
/// `waiver-audit.json`. Unused waivers need a run to be seen.
pub fn audit_waivers(
    config_path: &Path,
    today: Option<NaiveDate>,
    out_dir: Option<&Path>,
) -> Result<WaiverAudit, Error> {
    let today = resolve_today(today)?;
    let config = Config::load(config_path)?;
    let mut problems = Vec::new();
    let waivers = load_waivers(&config.waivers, &mut problems);
    let (gate_ids, case_ids) = waivable_ids(&config, &mut problems);
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let refs: Vec<&str> = gate_ids.iter().map(String::as_str).collect();
    let rule_problems = check_waiver_rules(&waivers, today, &config.waiver_policy, &refs, &case_ids);
    let reports = audit_waivers_only(&waivers, &rule_problems, today, &config.waiver_policy);
    let audit = WaiverAudit::new(today.format("%Y-%m-%d").to_string(), None, reports);
    let dir = out_dir.map(Path::to_path_buf).unwrap_or_else(|| config.reports.clone());
    write_json(&dir.join("waiver-audit.json"), &audit)?;
    Ok(audit)
}

/// What `gauntlet waivers new` appends.
pub struct NewWaiver {
    pub gate: String,
    pub days: i64,
    pub owner: String,
    pub tracking: String,
    pub reason: String,
    pub scope: String,
    pub remove_when: String,
    pub id: Option<String>,
}

/// Appends a valid waiver to `waivers/waivers.toml`; refuses (exit 2) when the
/// result would not pass the waiver rules.
pub fn new_waiver(config_path: &Path, today: Option<NaiveDate>, w: &NewWaiver) -> Result<PathBuf, Error> {
    let today = resolve_today(today)?;
    let config = Config::load(config_path)?;
    if w.days < 1 || w.days > config.waiver_policy.max_days {
        return Err(Error::Usage(format!(
            "--days must be 1 to {} (the project's limit)",
            config.waiver_policy.max_days
        )));
    }
    let file = config.waivers.join("waivers.toml");
    let existing = std::fs::read_to_string(&file).unwrap_or_default();
    let expires = today + chrono::Days::new(w.days as u64);
    let id = w.id.clone().unwrap_or_else(|| format!("{}-{}", w.gate, today.format("%Y%m%d")));
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let entry = format!(
        "\n[[waiver]]\nid = {}\ngate = {}\nowner = {}\ncreated = \"{}\"\nexpires = \"{}\"\ntracking = {}\nreason = {}\nscope = {}\nremove-when = {}\n",
        q(&id), q(&w.gate), q(&w.owner), today.format("%Y-%m-%d"), expires.format("%Y-%m-%d"), q(&w.tracking), q(&w.reason), q(&w.scope), q(&w.remove_when)
    );
    let text = format!("{existing}{entry}");
    let waivers = crate::config::parse_waivers(&file, &text).map_err(Error::from)?;
    let mut problems = Vec::new();
    let (gate_ids, case_ids) = waivable_ids(&config, &mut problems);
    let refs: Vec<&str> = gate_ids.iter().map(String::as_str).collect();
    let rule_problems = check_waiver_rules(&waivers, today, &config.waiver_policy, &refs, &case_ids);
    let last = rule_problems.last().cloned().unwrap_or_default();
    if !last.is_empty() {
        return Err(Error::Input(last));
    }
    write_bytes(&file, text.as_bytes())?;
    Ok(file)
}

/// `gauntlet report --from`: re-renders every report from saved files.
pub fn report_from(verdict_path: &Path, results_path: Option<&Path>, out_dir: Option<&Path>) -> Result<Verdict, Error> {
    let text = std::fs::read_to_string(verdict_path)
        .map_err(|e| Diagnostic::new(verdict_path, "unreadable-file", e.to_string()))?;
    let verdict: Verdict = serde_json::from_str(&text)
        .map_err(|e| Diagnostic::new(verdict_path, "invalid-verdict", e.to_string()).at(e.line(), e.column()))?;
    if verdict.schema != VERDICT_SCHEMA {
        return Err(Diagnostic::new(
            verdict_path,
            "unknown-schema",
            format!("schema `{}` is not {VERDICT_SCHEMA}", verdict.schema),
        )
        .into());
    }
    let results = match results_path {
        Some(p) => Some(crate::report::results_file::read_results(p)?),
        None => None,
    };
    let dir =
        out_dir.map(Path::to_path_buf).unwrap_or_else(|| verdict_path.parent().unwrap_or(Path::new(".")).to_path_buf());
    render_all(&verdict, results.as_deref(), &dir)?;
    Ok(verdict)
}

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
        "builtin" => {
            let overrides = Overrides {
                block_threshold: config.target.threshold,
                approval_threshold: config.target.approval_threshold,
                system_prompt: config.target.system_prompt.clone(),
            };
            let firewall = match &config.target.rules {
                Some(rules) => Firewall::from_file(&config.base.join(rules), overrides)?,
                None => Firewall::from_toml(
                    Path::new("<embedded rules.toml>"),
                    crate::target::builtin::DEFAULT_RULES,
                    overrides,
                )?,
            };
            Some(firewall.block_threshold())
        }
        _ => None,
    };
    let (results, source) = match &opts.from {
        Some(path) => {
            (crate::report::results_file::read_results(&results_in(path))?, results_in(path).display().to_string())
        }
        None => {
            let output = run(&RunOptions { lane: Lane::Full, ..RunOptions::new(opts.config.clone()) })?;
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
        let base = crate::report::results_file::read_results(&path)?;
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

/// What `gauntlet release` was asked to do.
pub struct ReleaseOptions {
    pub config: PathBuf,
    pub version: Option<String>,
    /// Log paths, optionally prefixed `canary:` or `baseline:`; unprefixed
    /// lines are canary when their `policy-version` equals `version`.
    pub decision_logs: Vec<String>,
    pub today: Option<NaiveDate>,
    pub out_dir: Option<PathBuf>,
}

fn file_evidence(id: &str, path: &Path, summary: String, produced_at: Option<&str>) -> crate::release::Evidence {
    let bytes = std::fs::read(path).ok();
    let age_hours = produced_at
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_minutes() as f64 / 60.0)
        .or_else(|| {
            let modified = std::fs::metadata(path).ok()?.modified().ok()?;
            Some(modified.elapsed().ok()?.as_secs_f64() / 3600.0)
        })
        .map(|h| (h * 10.0).round() / 10.0);
    crate::release::Evidence {
        id: id.into(),
        path: path.display().to_string(),
        sha256: bytes.as_deref().map(sha256_hex),
        age_hours,
        summary,
    }
}

/// `gauntlet release`: GO only when every check passes; every blocking
/// reason names the evidence it rests on.
pub fn release(opts: &ReleaseOptions) -> Result<crate::release::ReleaseReport, Error> {
    use crate::release::{burn_alerts, canary_check, logs, BlockingReason, ReleaseReport, RELEASE_SCHEMA};
    let today = resolve_today(opts.today)?;
    let config = Config::load(&opts.config)?;
    let policy = config.release.clone();
    let mut evidence = Vec::new();
    let mut blocking = Vec::new();
    let mut block = |check: &str, message: String, evidence: &str| {
        blocking.push(BlockingReason { check: check.into(), message, evidence: evidence.into() })
    };

    // The latest verdict: full lane, passing, fresh, and of what is released.
    let verdict_path = config.reports.join("verdict.json");
    let verdict: Option<Verdict> =
        std::fs::read_to_string(&verdict_path).ok().and_then(|t| serde_json::from_str(&t).ok());
    match &verdict {
        None => {
            evidence.push(file_evidence("verdict", &verdict_path, "missing or unreadable".into(), None));
            block("verdict", "no readable verdict.json: run `gauntlet run --lane full` first".into(), "verdict");
        }
        Some(v) => {
            let e = file_evidence(
                "verdict",
                &verdict_path,
                format!("{} ({} lane, {} cases)", v.verdict.as_str(), v.run.lane.as_str(), v.corpora.cases),
                Some(&v.run.finished_at),
            );
            if v.run.lane != Lane::Full {
                block(
                    "verdict",
                    format!("the latest verdict is from the {} lane; release needs the full lane", v.run.lane.as_str()),
                    "verdict",
                );
            }
            if v.verdict != Overall::Pass {
                let failing: Vec<&str> =
                    v.gates.iter().filter(|g| g.blocking && g.status.is_failing()).map(|g| g.id.as_str()).collect();
                block("verdict", format!("the verdict is {}: {}", v.verdict.as_str(), failing.join(", ")), "verdict");
            }
            if e.age_hours.is_some_and(|h| h > policy.max_verdict_age_days as f64 * 24.0) {
                block(
                    "verdict",
                    format!(
                        "the verdict is {:.0} hours old; at most {} days are accepted",
                        e.age_hours.unwrap_or(0.0),
                        policy.max_verdict_age_days
                    ),
                    "verdict",
                );
            }
            if v.run.hashes.config != sha256_hex(config.text.as_bytes()) {
                block(
                    "verdict",
                    "the verdict was computed from a different gauntlet.toml than the one being released".into(),
                    "verdict",
                );
            }
            match load_corpora(&config.corpora, &config.base) {
                Ok(c) if c.summary.hash != v.run.hashes.corpora => block(
                    "verdict",
                    "the verdict was computed from different corpora than the ones being released".into(),
                    "verdict",
                ),
                Err(_) => block(
                    "verdict",
                    "the corpora cannot be loaded to check the verdict's corpus hash".into(),
                    "verdict",
                ),
                Ok(_) => {}
            }
            for g in v.gates.iter().filter(|g| g.id.starts_with("fixtures:") || g.id.starts_with("golden:")) {
                if g.status != crate::evaluate::GateStatus::Pass {
                    block(
                        "fixtures",
                        format!("{} is {}: {}", g.id, g.status.as_str(), g.detail.lines().next().unwrap_or("")),
                        "verdict",
                    );
                }
            }
            evidence.push(e);
        }
    }

    // Waivers as of today.
    let out_dir = opts.out_dir.clone().unwrap_or_else(|| config.reports.clone());
    let audit = audit_waivers(&opts.config, Some(today), Some(&out_dir))?;
    evidence.push(file_evidence(
        "waiver-audit",
        &out_dir.join("waiver-audit.json"),
        format!("{} waiver(s) as of {today}", audit.waivers.len()),
        None,
    ));
    for w in audit
        .waivers
        .iter()
        .filter(|w| matches!(w.status, crate::evaluate::WaiverStatus::Expired | crate::evaluate::WaiverStatus::Invalid))
    {
        block(
            "waivers",
            format!("waiver {} is {}: {}", w.id, crate::evaluate::status_name(w.status), w.detail.join("; ")),
            "waiver-audit",
        );
    }

    // Calibration drift.
    let calibration_path = config.reports.join("calibration.json");
    match std::fs::read_to_string(&calibration_path)
        .ok()
        .and_then(|t| serde_json::from_str::<crate::calibrate::Calibration>(&t).ok())
    {
        None => {
            evidence.push(file_evidence("calibration", &calibration_path, "missing".into(), None));
            block(
                "calibration",
                "no calibration review (reports/calibration.json): run `gauntlet calibrate`".into(),
                "calibration",
            );
        }
        Some(c) => {
            let regression = c.baseline.as_ref().is_some_and(|b| b.regression_detected);
            let summary = match &c.baseline {
                Some(b) => format!(
                    "baseline {}: regression {}",
                    b.source,
                    if regression { "detected" } else { "not detected" }
                ),
                None => "no baseline compared".into(),
            };
            evidence.push(file_evidence("calibration", &calibration_path, summary, Some(&c.generated_at)));
            if let Some(b) = c.baseline.as_ref().filter(|b| b.regression_detected) {
                let which: Vec<String> = b
                    .comparisons
                    .iter()
                    .filter(|x| x.regression)
                    .map(|x| format!("{} {}", x.scope, x.metric))
                    .collect();
                block("calibration", format!("regression against the baseline: {}", which.join(", ")), "calibration");
            }
        }
    }

    // Production decision logs.
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (i, spec) in opts.decision_logs.iter().enumerate() {
        let (population, path) = match spec.split_once(':') {
            Some(("canary", p)) => (logs::Population::Canary, p),
            Some(("baseline", p)) => (logs::Population::Baseline, p),
            _ => (
                opts.version.clone().map(logs::Population::ByVersion).unwrap_or(logs::Population::Canary),
                spec.as_str(),
            ),
        };
        let (mut e, mut bad) = logs::read_log(Path::new(path), &population).map_err(Error::from)?;
        evidence.push(file_evidence(
            &format!("decision-log-{}", i + 1),
            Path::new(path),
            format!("{} decisions", e.len()),
            None,
        ));
        entries.append(&mut e);
        problems.append(&mut bad);
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    entries.sort_by_key(|e| e.ts_ms);
    let canary_entries: Vec<logs::Entry> = entries.iter().filter(|e| e.canary).copied().collect();
    let alerts = burn_alerts(&canary_entries, &policy);
    for a in &alerts {
        if a.firing_now || a.firing_before {
            block(
                "burn-rate",
                format!(
                    "{}x burn-rate alert ({} min / {} min windows) {}",
                    a.window.factor,
                    a.window.long_minutes,
                    a.window.short_minutes,
                    if a.firing_now { "firing at the end of the log" } else { "cleared less than two windows ago" }
                ),
                "decision-log-1",
            );
        }
    }
    let canary = entries.iter().any(|e| !e.canary).then(|| canary_check(&entries, &policy, &config.counting));
    if let Some(c) = canary.as_ref().filter(|c| c.status != "pass") {
        for r in &c.reasons {
            block("canary", r.clone(), "decision-log-1");
        }
    }
    let report = ReleaseReport {
        schema: RELEASE_SCHEMA.into(),
        version: opts.version.clone(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        today: today.format("%Y-%m-%d").to_string(),
        decision: if blocking.is_empty() { "GO".into() } else { "NO-GO".into() },
        blocking,
        evidence,
        burn_alerts: alerts,
        canary,
        policy,
    };
    write_json(&out_dir.join("release-readiness.json"), &report)?;
    write_bytes(&out_dir.join("release-readiness.md"), crate::report::release::render_markdown(&report).as_bytes())?;
    write_bytes(&out_dir.join("release-readiness.html"), crate::report::release::render_html(&report).as_bytes())?;
    Ok(report)
}
