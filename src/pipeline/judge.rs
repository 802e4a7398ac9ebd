//! Judging a replay: metrics, gates, fixtures, golden snapshots and
//! waivers → the verdict; then writing it and every report. Shared by `run`
//! and `merge`, so a merged run is judged exactly as an unsharded one.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;

use super::write_json;
use crate::atomic_file::write_bytes;
use crate::config::Config;
use crate::errors::{Error, Location};
use crate::evaluate::{
    apply_waivers, check_waiver_rules, evaluate_gates, fixture_result_ids, judge_fixtures, overall, own_gates,
    FixtureSuite, Gate, GateOutcome, Lane, Mode, Overall, Waiver,
};
use crate::hashing::{hash_dir, sha256_hex};
use crate::metrics::compute_all;
use crate::partition::Partition;
use crate::replay::CaseResult;
use crate::report::history::{self, HistoryEntry};
use crate::report::results_file::write_results;
use crate::report::{
    render_all, CorporaInfo, FailingCases, GateReport, Hashes, RunInfo, Verdict, WaiverAudit, VERDICT_SCHEMA,
};
use crate::stage_clock::StageClock;
use crate::targets::TargetFingerprint;

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
    /// Input warnings from planning (each rendered too, in `warnings`).
    pub warnings: Vec<crate::errors::Warning>,
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
    // Robustness variants come after the originals; every figure but the
    // paired ones counts originals only.
    let split = results.iter().position(|r| r.transform.is_some()).unwrap_or(results.len());
    let separated: (Vec<CaseResult>, Vec<CaseResult>);
    let (originals, variants) = if results[split..].iter().all(|r| r.transform.is_some()) {
        results.split_at(split)
    } else {
        // Materialised variants (`corpus expand`) can sit anywhere in the corpus.
        separated = results.iter().cloned().partition(|r| r.transform.is_none());
        (&separated.0[..], &separated.1[..])
    };
    let mut metrics = compute_all(originals, &config.counting);
    metrics.weighted_cost = config.costs.weighted_cost(originals);
    metrics.by_transform = crate::metrics::by_transform(originals, variants, &config.counting);
    clock.mark("metrics");
    let mut outcomes = evaluate_gates(j.gates, results, &config.counting, &config.costs, j.lane, aborted);
    clock.mark("gates");
    outcomes.extend(facts.extra_gates);
    outcomes.extend(own_gates::tenant_fail_closed(fixture_results, &Location::new(&config.path), aborted));
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
        let datasets: Vec<Arc<str>> = originals.iter().map(|r| r.dataset.clone()).collect();
        let mut reports = super::golden::check(&golden_dir, originals, &datasets, j.bless)?;
        // Variants in a snapshot of their own per dataset: a lane without
        // transforms and one with them agree about the originals'.
        let mut names: HashMap<&str, Arc<str>> = HashMap::new();
        let variant_sets: Vec<Arc<str>> = variants
            .iter()
            .map(|r| names.entry(&r.dataset).or_insert_with(|| Arc::from(format!("{}.variants", r.dataset))).clone())
            .collect();
        reports.extend(super::golden::check(&golden_dir, variants, &variant_sets, j.bless)?);
        reports
    } else {
        Vec::new()
    };
    outcomes.extend(own_gates::golden(&golden, aborted));
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
        own_gates::lifecycle_gate(&config.waivers),
    );
    outcomes.push(judgement.lifecycle);

    let reproduce = match facts.partition {
        Some(p) => {
            format!("gauntlet run --config {} --lane {} --partition {p}", config.path.display(), j.lane.as_str())
        }
        None => format!("gauntlet run --config {} --lane {}", config.path.display(), j.lane.as_str()),
    };
    let gate_reports: Vec<GateReport> =
        outcomes.iter().map(|o| GateReport::from_outcome(o, reproduce.clone(), config.counting.confidence)).collect();
    let mut verdict_status = overall(gate_reports.iter().map(|g| (g.blocking, g.status)), aborted.is_none());
    if facts.partition.is_some() && aborted.is_none() {
        // A shard's gates see part of the data; only the merge may fail the build.
        verdict_status = Overall::Pass;
    }
    let today_text = j.today.format("%Y-%m-%d").to_string();
    let failing_cases = FailingCases::collect(originals, &config.counting, &metrics.by_category);
    clock.mark("failing");
    Ok(Verdict {
        schema: VERDICT_SCHEMA.into(),
        verdict: verdict_status,
        exit_code: verdict_status.outcome().code(),
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
            no_blocking_gate: !j.gates.iter().any(|g| g.lanes.contains(&j.lane) && g.mode == Mode::Enforce),
        },
        gates: gate_reports,
        metrics,
        corpora: CorporaInfo { cases: results.len() as u64, ..facts.corpus },
        failing_cases,
        fixtures: fixture_outcomes,
        golden,
        waivers: WaiverAudit::new(today_text, Some(j.lane), judgement.reports),
        warnings: facts.warnings.iter().map(ToString::to_string).collect(),
        diagnostics: facts.warnings,
    })
}

/// Which history file a run reads for its trends, and whether it appends
/// to it. A plain local run only reads: it never changes a file the
/// project may track in git. `--record` appends to the default file,
/// `--history PATH` reads and appends PATH (a CI cache restored and saved
/// around the run).
#[derive(Debug, Clone, Default)]
pub struct History {
    pub path: Option<std::path::PathBuf>,
    pub record: bool,
}

impl History {
    pub fn file(&self, reports: &Path) -> std::path::PathBuf {
        self.path.clone().unwrap_or_else(|| crate::report::default_history(reports))
    }

    pub fn appends(&self) -> bool {
        self.record || self.path.is_some()
    }
}

/// Judges the run and writes everything it produces into `dir`. The results
/// files do not depend on the verdict, and judging runs mostly on one
/// thread, so they are written while judging runs. A judging error (exit 2)
/// can thus leave fresh results files beside the previous verdict: each
/// file is still whole, and the results record what the target answered.
pub(super) fn judge_and_write(
    j: &Judging,
    results: &[CaseResult],
    fixture_results: &[CaseResult],
    facts: ReplayFacts,
    dir: &Path,
    stderr: Option<String>,
    history: &History,
) -> Result<Verdict, Error> {
    let partitioned = facts.partition.is_some();
    let (verdict, written) = rayon::join(
        || judge(j, results, fixture_results, facts),
        || write_result_files(dir, results, fixture_results, partitioned),
    );
    let verdict = verdict?;
    written?;
    write_reports(dir, &verdict, stderr, history)?;
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
fn write_reports(dir: &Path, verdict: &Verdict, stderr: Option<String>, history: &History) -> Result<(), Error> {
    let mut clock = StageClock::new("write");
    match stderr {
        Some(log) => write_bytes(&dir.join("target-stderr.log"), log.as_bytes())?,
        // A log left by an earlier run must not be linked as this run's.
        None => {
            let _ = std::fs::remove_file(dir.join("target-stderr.log"));
        }
    }
    write_json(&dir.join("waiver-audit.json"), &verdict.waivers)?;
    write_json(&dir.join("verdict.json"), verdict)?;
    let file = history.file(dir);
    if history.appends() && verdict.run.lane == Lane::Full && verdict.run.complete && verdict.run.partition.is_none() {
        history::append(&file, &HistoryEntry::from_verdict(verdict))?;
    }
    clock.mark("verdict");
    if verdict.run.partition.is_none() {
        render_all(verdict, None, dir, &file)?;
    }
    clock.mark("reports");
    Ok(())
}
