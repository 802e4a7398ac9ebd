//! `gauntlet load`: the project's cases at a fixed arrival rate, latency
//! corrected for coordinated omission, answers compared with the same
//! cases at rest, and optionally the search for the saturation point.

use std::path::PathBuf;
use std::time::Duration;

use super::progress::{with_progress, Step};
use super::write_json;
use crate::corpus::{Case, Decision};
use crate::errors::Error;
use crate::evaluate::Lane;
use crate::load::{
    case_order, fail_open, find_rate, generate, summarise, Arrivals, CurvePoint, LoadPlan, LoadReport, LoadSettings,
    LoadSummary, StepVerdict, LOAD_SCHEMA,
};
use crate::partition::Partition;
use crate::targets::Target;

/// What `gauntlet load` was asked; `None` takes `[load]`'s value.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub config: PathBuf,
    pub lane: Lane,
    pub out: Option<PathBuf>,
    pub quiet: bool,
    pub rate: Option<f64>,
    pub duration: Option<Duration>,
    pub arrivals: Option<Arrivals>,
    pub max_in_flight: Option<usize>,
    pub seed: Option<u64>,
    pub partition: Option<Partition>,
    /// Search for the highest rate within the bounds instead of one step.
    pub find_rate: bool,
    pub max_p99: Option<Duration>,
    pub max_error_rate: Option<f64>,
    pub step: Option<Duration>,
    pub start_rate: Option<f64>,
}

/// Runs the load and writes `load.json`; returns its report.
pub fn load(opts: &LoadOptions) -> Result<LoadReport, Error> {
    let plan = super::plan(&opts.config, opts.quiet)?;
    let config = &plan.config;
    let settings = resolve(&config.load, opts)?;
    let out_dir = opts.out.clone().unwrap_or_else(|| config.reports.clone());
    crate::atomic_file::could_write(&out_dir)
        .map_err(|e| Error::Usage(format!("--out {}: load.json could not be written there: {e}", out_dir.display())))?;
    let cases = load_cases(plan.corpus.cases.clone(), config, opts.lane)?;
    let target: &dyn Target = plan.target.as_ref();
    let probe = crate::targets::probe_case(&cases);
    // A target that sends one case at a time is driven by gauntlet's own
    // workers; one that replays in batches (exec) is paced instead.
    let paced = match target.send_once(&probe) {
        None => {
            target.probe(&probe, &())?;
            true
        }
        Some(o) => {
            if let Err(e) = o.decision {
                return Err(Error::Target(format!(
                    "health probe before the load: {} ({})",
                    e.message,
                    e.kind.as_str()
                )));
            }
            false
        }
    };
    if let Some((block, allow)) = config.target.canary_texts() {
        crate::targets::canary::check(target, &block, &allow, &())?;
    }
    if paced && settings.max_in_flight.is_some() {
        return Err(Error::Usage(
            "--max-in-flight: an exec target holds `workers` x `window` requests at once; set those in [target]".into(),
        ));
    }
    let cap = settings.max_in_flight.unwrap_or_else(|| default_cap(config));
    let (share, phase) = match opts.partition {
        Some(p) => (1.0 / p.count as f64, (p.index - 1) as f64 / p.count as f64),
        None => (1.0, 0.0),
    };
    let order = case_order(cases.len(), settings.seed);
    let step_plan = |rate: f64, duration: Duration| LoadPlan {
        rate: rate * share,
        duration,
        arrivals: settings.arrivals,
        seed: settings.seed,
        max_in_flight: cap,
        phase,
    };
    // Decisions at rest, for the cases the load will send: a closed-loop
    // replay, which also warms the target up.
    let most = if opts.find_rate {
        usize::MAX
    } else {
        (settings.rate * share * settings.duration_seconds).ceil() as usize + 1
    };
    let used: Vec<usize> = {
        let mut u: Vec<usize> = order.iter().copied().take(most.min(cases.len())).collect();
        u.sort_unstable();
        u
    };
    let at_rest = decisions_at_rest(target, &cases, &used, opts.quiet)?;
    let send = |i: usize| target.send_once(&cases[i]).expect("the target sends one case");
    let bounds = StepVerdict {
        max_p99_us: (settings.max_p99_ms * 1000.0).round() as u64,
        max_error_rate: settings.max_error_rate,
    };
    let mut samples = Vec::new();
    let run_step =
        |rate: f64, duration: Duration, samples: &mut Vec<crate::load::Sample>| -> Result<LoadSummary, Error> {
            let plan = step_plan(rate, duration);
            let label = format!("load at {:.0}/s", plan.rate);
            let run = with_progress(Step::cases(&label, 0), opts.quiet, |p| {
                if paced {
                    crate::load::generate_paced(target, &cases, &order, &plan, p)
                } else {
                    Ok(generate(&send, &order, &plan, p))
                }
            })?;
            let mut summary = summarise(&run);
            // Rates in the report are the whole run's, whatever this runner's share.
            summary.rate.asked = rate;
            samples.extend(run.samples);
            Ok(summary)
        };
    let (summary, found_rate, curve) = if opts.find_rate {
        let step = Duration::from_secs_f64(settings.step_seconds);
        let (found, steps) = find_rate(
            |rate| {
                let mut step_samples = Vec::new();
                let s = run_step(rate, step, &mut step_samples)?;
                if !opts.quiet {
                    eprintln!(
                        "gauntlet: {rate:.0}/s: p99 {}, errors {:.1}%",
                        crate::load::show_us(s.latency.p99),
                        s.requests.error_rate * 100.0
                    );
                }
                samples.append(&mut step_samples);
                Ok::<_, Error>(s)
            },
            &bounds,
            settings.start_rate,
            1e6,
            0.05,
            16,
        )?;
        let mut curve: Vec<CurvePoint> = steps.iter().map(|(_, s, ok)| CurvePoint::of(s, *ok)).collect();
        curve.sort_by(|a, b| a.asked.total_cmp(&b.asked));
        // The report's figures are the found rate's step (else the first).
        let chosen = steps
            .iter()
            .filter(|(r, _, ok)| *ok && Some(*r) == found)
            .map(|(_, s, _)| s.clone())
            .next()
            .unwrap_or_else(|| steps[0].1.clone());
        (chosen, found, curve)
    } else {
        let duration = Duration::from_secs_f64(settings.duration_seconds);
        (run_step(settings.rate, duration, &mut samples)?, None, Vec::new())
    };
    let ids: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
    let fail_open = fail_open(&samples, &at_rest, &ids);
    let gates = judge_load_gates(&plan.gates, &summary, &fail_open, config, opts.lane);
    let report = LoadReport {
        schema: LOAD_SCHEMA.into(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        target: target.fingerprint(),
        lane: opts.lane.as_str().into(),
        seed: settings.seed,
        partition: opts.partition,
        runners: 1,
        summary,
        fail_open,
        found_rate,
        bounds: opts.find_rate.then_some(bounds),
        curve,
        gates,
    };
    write_load(&out_dir, &report)?;
    Ok(report)
}

/// load.json and its page, load.html.
fn write_load(dir: &std::path::Path, report: &LoadReport) -> Result<(), Error> {
    write_json(&dir.join("load.json"), report)?;
    super::write_bytes(&dir.join("load.html"), crate::report::load::render_html(report).as_bytes())
}

/// The lane's `load-*` gates judged on one load run.
fn judge_load_gates(
    gates: &[crate::evaluate::Gate],
    s: &LoadSummary,
    fail_open: &crate::load::FailOpen,
    config: &crate::config::Config,
    lane: Lane,
) -> Vec<crate::load::CommandGateVerdict> {
    let facts = crate::evaluate::LoadFacts {
        latency_p99_us: s.latency.p99,
        answered: s.requests.scheduled,
        errors: s.requests.errors.values().sum(),
        scheduled: s.requests.scheduled,
        fail_open: fail_open.count,
        fail_open_checked: fail_open.checked,
    };
    command_gate_verdicts(crate::evaluate::evaluate_load_gates(gates, &facts, &config.counting, lane))
}

/// Gates judged by `load` or `attack`, as their reports keep them.
pub(super) fn command_gate_verdicts(
    outcomes: Vec<crate::evaluate::GateOutcome>,
) -> Vec<crate::load::CommandGateVerdict> {
    outcomes
        .into_iter()
        .map(|o| crate::load::CommandGateVerdict {
            id: o.gate.id.clone(),
            metric: o.gate.metric.as_str().into(),
            status: o.status.as_str().into(),
            detail: o.detail,
            blocking: o.gate.mode == crate::evaluate::Mode::Enforce,
            location: o.gate.defined_at.to_string(),
        })
        .collect()
}

/// `[load]` with the command line's values over it, checked.
fn resolve(config: &LoadSettings, opts: &LoadOptions) -> Result<LoadSettings, Error> {
    let mut s = *config;
    if let Some(r) = opts.rate {
        s.rate = r;
    }
    if let Some(d) = opts.duration {
        s.duration_seconds = d.as_secs_f64();
    }
    if let Some(a) = opts.arrivals {
        s.arrivals = a;
    }
    if opts.max_in_flight.is_some() {
        s.max_in_flight = opts.max_in_flight;
    }
    if let Some(seed) = opts.seed {
        s.seed = seed;
    }
    if let Some(p) = opts.max_p99 {
        s.max_p99_ms = p.as_secs_f64() * 1000.0;
    }
    if let Some(e) = opts.max_error_rate {
        s.max_error_rate = e;
    }
    if let Some(step) = opts.step {
        s.step_seconds = step.as_secs_f64();
    }
    if let Some(r) = opts.start_rate {
        s.start_rate = r;
    }
    let bad = |what: &str| Err(Error::Usage(what.to_string()));
    if !(s.rate.is_finite() && s.rate >= 0.001 && s.rate <= 1e6) {
        return bad("--rate must be between 0.001 and 1,000,000 requests a second");
    }
    if !(s.duration_seconds.is_finite() && (0.1..=86_400.0).contains(&s.duration_seconds)) {
        return bad("--duration must be between 100ms and 24h");
    }
    if s.max_in_flight == Some(0) {
        return bad("--max-in-flight must be at least 1");
    }
    if !(s.max_error_rate.is_finite() && (0.0..=1.0).contains(&s.max_error_rate)) {
        return bad("--max-error-rate must be in [0, 1]");
    }
    if !(s.max_p99_ms.is_finite() && s.max_p99_ms > 0.0) {
        return bad("--max-p99 must be a positive duration");
    }
    if !(s.start_rate.is_finite() && s.start_rate >= 0.001 && s.start_rate <= 1e6) {
        return bad("--start-rate must be between 0.001 and 1,000,000 requests a second");
    }
    if !(s.step_seconds.is_finite() && (0.1..=3600.0).contains(&s.step_seconds)) {
        return bad("--step must be between 100ms and 1h");
    }
    Ok(s)
}

/// The connections gauntlet may open: the http target's `concurrency`, or
/// for an in-process target the cores (more threads than cores would only
/// queue in the scheduler).
fn default_cap(config: &crate::config::Config) -> usize {
    match config.target.kind.as_str() {
        "http" => config.target.concurrency(),
        "exec" => config.target.exec_slots(),
        _ => std::thread::available_parallelism().map_or(2, |n| n.get()),
    }
}

/// The lane's cases: originals, with the lane's transforms and tenants,
/// as a replay would send them (no fixtures, no probes).
fn load_cases(mut cases: Vec<Case>, config: &crate::config::Config, lane: Lane) -> Result<Vec<Case>, Error> {
    if let Some(plan) = config.transforms.as_ref().and_then(|t| t.for_lane(lane)) {
        crate::transform::append_variants(&mut cases, plan).map_err(Error::Input)?;
    }
    let cases = crate::targets::tenants::expand(cases, &config.target);
    if cases.is_empty() {
        return Err(Error::Usage("no case to send".into()));
    }
    Ok(cases)
}

/// Each used case's decision from a closed-loop replay (`None` for cases
/// not used or that errored at rest: nothing to compare).
fn decisions_at_rest(
    target: &dyn Target,
    cases: &[Case],
    used: &[usize],
    quiet: bool,
) -> Result<Vec<Option<Decision>>, Error> {
    let subset: Vec<Case> = used.iter().map(|&i| cases[i].clone()).collect();
    let replayed = with_progress(Step::cases("at rest", subset.len() as u64), quiet, |p| {
        target.replay(&subset, &crate::targets::Unmetered(p))
    })?;
    let mut out = vec![None; cases.len()];
    for (&i, o) in used.iter().zip(replayed.outcomes) {
        out[i] = o.decision.ok();
    }
    Ok(out)
}

/// `gauntlet merge` of load runs (`load --partition M/N` on N runners):
/// histograms added exactly, counts and rates summed, written as one
/// load.json. Every runner must be there once, with the same target, seed
/// and arrivals.
pub fn merge_load(
    dirs: &[PathBuf],
    config: &std::path::Path,
    out: Option<&std::path::Path>,
) -> Result<LoadReport, Error> {
    use crate::errors::{Code, Diagnostic};
    let config = crate::config::Config::load(config)?;
    let mut parts: Vec<(PathBuf, LoadReport)> = Vec::new();
    let mut problems = Vec::new();
    for dir in dirs {
        let path = dir.join("load.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Diagnostic::new(&path, Code::MissingShardFile, e.to_string()))?;
        match serde_json::from_str::<LoadReport>(&text) {
            Ok(r) if r.schema != LOAD_SCHEMA => problems.push(Diagnostic::new(
                &path,
                Code::UnknownSchema,
                format!("schema `{}` is not {LOAD_SCHEMA}", r.schema),
            )),
            Ok(r) => parts.push((path, r)),
            Err(e) => problems.push(Diagnostic::new(&path, Code::InvalidLoad, e.to_string()).at(e.line(), e.column())),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let (first_path, first) = &parts[0];
    let Some(count) = first.partition.map(|p| p.count) else {
        return Err(Diagnostic::new(
            first_path,
            Code::NotAShard,
            "this load run was not partitioned (--partition M/N)",
        )
        .into());
    };
    let mut seen = vec![false; count as usize];
    for (path, r) in &parts {
        let Some(p) = r.partition else {
            problems.push(Diagnostic::new(
                path,
                Code::NotAShard,
                "this load run was not partitioned (--partition M/N)",
            ));
            continue;
        };
        if p.count != count {
            problems.push(Diagnostic::new(
                path,
                Code::ShardCountMismatch,
                format!("split in {} parts, the first in {count}", p.count),
            ));
        } else if std::mem::replace(&mut seen[p.index as usize - 1], true) {
            problems.push(Diagnostic::new(
                path,
                Code::DuplicateShard,
                format!("runner {}/{count} is given twice", p.index),
            ));
        }
        if r.target.hash != first.target.hash || r.seed != first.seed || r.summary.arrivals != first.summary.arrivals {
            problems.push(Diagnostic::new(
                path,
                Code::ShardMismatch,
                "another target, seed or arrivals than the first runner's",
            ));
        }
        if !r.curve.is_empty() {
            problems.push(Diagnostic::new(
                path,
                Code::ShardMismatch,
                "a --find-rate search is one machine's; it is not merged",
            ));
        }
    }
    for (i, _) in seen.iter().enumerate().filter(|(_, s)| !**s) {
        problems.push(Diagnostic::new(
            first_path,
            Code::MissingShard,
            format!("no folder holds runner {}/{count}", i + 1),
        ));
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let summaries: Vec<LoadSummary> = parts.iter().map(|(_, r)| r.summary.clone()).collect();
    let mut summary = crate::load::merge_summaries(&summaries).map_err(Error::Usage)?;
    // Each runner reported the whole run's asked rate; achieved rates add.
    summary.rate.asked = first.summary.rate.asked;
    let mut fail = crate::load::FailOpen::default();
    for (_, r) in &parts {
        fail.checked += r.fail_open.checked;
        fail.count += r.fail_open.count;
        for c in &r.fail_open.cases {
            if fail.cases.len() < 50 && !fail.cases.contains(c) {
                fail.cases.push(c.clone());
            }
        }
    }
    let report = LoadReport {
        schema: LOAD_SCHEMA.into(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        target: first.target.clone(),
        lane: first.lane.clone(),
        seed: first.seed,
        partition: None,
        runners: count,
        summary,
        fail_open: fail,
        found_rate: None,
        bounds: None,
        curve: Vec::new(),
        gates: Vec::new(),
    };
    let gates = crate::config::load_gates(&config.gates, &mut problems);
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    let lane = if report.lane == Lane::Preflight.as_str() { Lane::Preflight } else { Lane::Full };
    let report =
        LoadReport { gates: judge_load_gates(&gates, &report.summary, &report.fail_open, &config, lane), ..report };
    let out_dir = out.map(std::path::Path::to_path_buf).unwrap_or_else(|| config.reports.clone());
    write_load(&out_dir, &report)?;
    Ok(report)
}
