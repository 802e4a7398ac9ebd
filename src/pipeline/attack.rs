//! `gauntlet attack`: the adaptive evasion search against the project's
//! target. The searches are pure (`crate::attack`); this wires them to the
//! target, the request budget, the journal that lets a cut-off search
//! resume, and the two outputs: attack.json and evasions.jsonl.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::progress::{with_progress, Step};
use super::write_json;
use crate::attack::{
    search_all, search_steps, summarise, Answer, AttackReport, AttackSettings, CaseRecord, Original, Originals,
    Queries, Query, Strategy, ATTACK_SCHEMA,
};
use crate::corpus::{Case, Decision, Label, Payload};
use crate::errors::{Code, Error};
use crate::evaluate::Lane;
use crate::progress::Progress;
use crate::replay::journal::RequestMeter;
use crate::targets::{Outcome, ReplayProgress, Target};

#[derive(Debug, Clone)]
pub struct AttackOptions {
    pub config: PathBuf,
    pub lane: Lane,
    pub out: Option<PathBuf>,
    pub quiet: bool,
    pub budget: usize,
    pub seed: u64,
    pub strategy: Strategy,
    pub max_edit_share: f64,
    pub resume: bool,
}

/// What `attack --dry-run` prints: the most the search can send.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackPlan {
    pub originals: u64,
    pub budget: usize,
    /// Health probe and canary.
    pub probes: u64,
    /// Originals at rest + budget × originals + one confirmation each.
    pub max_requests: u64,
    pub cost_per_request: Option<f64>,
}

/// The adversarial originals of the lane's corpora (variants are the
/// static transforms' business; the search makes its own).
fn originals(cases: &[Case]) -> Vec<&Case> {
    cases.iter().filter(|c| c.label == Label::Adversarial && c.transform.is_none()).collect()
}

fn plan_of(cases: &[&Case], opts: &AttackOptions, config: &crate::config::Config) -> AttackPlan {
    let n = cases.len() as u64;
    let spec = &config.target;
    let probes = u64::from(spec.health_probe.unwrap_or(true)) + if spec.canary_texts().is_some() { 2 } else { 0 };
    AttackPlan {
        originals: n,
        budget: opts.budget,
        probes,
        max_requests: probes + n + n * opts.budget as u64 + n,
        cost_per_request: spec.cost,
    }
}

/// The plan against `max-requests` and `max-cost`, before any request.
fn check_budget(plan: &AttackPlan, config: &crate::config::Config) -> Result<(), Error> {
    let Some(limit) = crate::targets::RequestPlan::limit(&config.target) else { return Ok(()) };
    if plan.max_requests <= limit {
        return Ok(());
    }
    let key =
        if config.target.max_requests.is_some_and(|m| m < plan.max_requests) { "max-requests" } else { "max-cost" };
    Err(config
        .key_location(&["target", key])
        .diagnostic(
            Code::BudgetExceeded,
            format!(
                "this attack may send {} requests ({} originals at rest, {} variants each at most, one confirmation each, {} probes), over the budget of {limit}; lower --budget or raise {key}",
                plan.max_requests, plan.originals, plan.budget, plan.probes
            ),
        )
        .into())
}

pub fn attack_dry_run(opts: &AttackOptions) -> Result<AttackPlan, Error> {
    validate(opts)?;
    let plan = super::plan(&opts.config, opts.quiet)?;
    let cases = originals(&plan.corpus.cases);
    let attack_plan = plan_of(&cases, opts, &plan.config);
    check_budget(&attack_plan, &plan.config)?;
    Ok(attack_plan)
}

fn validate(opts: &AttackOptions) -> Result<(), Error> {
    if !(1..=10_000).contains(&opts.budget) {
        return Err(Error::Usage("--budget must be between 1 and 10,000 queries per case".into()));
    }
    if !(opts.max_edit_share.is_finite() && opts.max_edit_share > 0.0 && opts.max_edit_share <= 1.0) {
        return Err(Error::Usage("--max-edit-share must be in (0, 1]".into()));
    }
    Ok(())
}

/// The progress a search batch reports into: requests metered against the
/// budget; no connection warm-up (rounds are many and short, and no
/// latency is reported).
struct Sink<'a> {
    meter: &'a RequestMeter,
    inner: &'a dyn Progress,
}

impl Progress for Sink<'_> {
    fn advance(&self, n: u64) {
        self.inner.advance(n)
    }
}

impl ReplayProgress for Sink<'_> {
    fn reserve(&self, n: u64) -> u64 {
        self.meter.reserve(n)
    }
    fn stopped(&self) -> bool {
        self.meter.stopped()
    }
    fn warm_connections(&self) -> bool {
        false
    }
}

fn answer_of(o: &Outcome) -> Answer {
    match &o.decision {
        Ok(d) => Answer { allowed: *d == Decision::Allow, score: o.score, error: false },
        Err(_) => Answer { allowed: false, score: None, error: true },
    }
}

/// Answers recorded so far, so a cut-off search resumes where it stopped:
/// the searches are deterministic given their answers, so replaying them
/// over the recorded ones reaches the same point without sending again.
struct Journal {
    path: PathBuf,
    recorded: HashMap<String, Answer>,
    file: std::io::BufWriter<std::fs::File>,
    /// Answers taken from the journal in this run.
    reused: u64,
}

impl Journal {
    fn open(path: PathBuf, key: &str, resume: bool) -> Result<Journal, Error> {
        let mut recorded = HashMap::new();
        if resume {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::Usage(format!(
                    "nothing to resume: {} cannot be read ({e}); run without --resume",
                    path.display()
                ))
            })?;
            let mut lines = text.lines();
            if lines.next() != Some(key) {
                return Err(Error::Usage(format!(
                    "{} is another attack's (other target, corpora, budget, seed or strategy): run without --resume",
                    path.display()
                )));
            }
            for (n, line) in lines.enumerate() {
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                    crate::errors::Diagnostic::new(&path, Code::UnreadableJournal, e.to_string()).at_line(n + 2)
                })?;
                let (Some(k), Some(allowed), Some(error)) =
                    (v["key"].as_str(), v["allowed"].as_bool(), v["error"].as_bool())
                else {
                    return Err(crate::errors::Diagnostic::new(&path, Code::UnreadableJournal, "not an answer line")
                        .at_line(n + 2)
                        .into());
                };
                recorded.insert(k.to_string(), Answer { allowed, score: v["score"].as_f64(), error });
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::Usage(format!("{}: {e}", dir.display())))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(resume)
            .write(true)
            .truncate(!resume)
            .open(&path)
            .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        let mut file = std::io::BufWriter::new(file);
        if !resume {
            writeln!(file, "{key}").map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        }
        Ok(Journal { path, recorded, file, reused: 0 })
    }

    fn record(&mut self, key: &str, a: &Answer) {
        let line = serde_json::json!({"key": key, "allowed": a.allowed, "score": a.score, "error": a.error});
        let _ = writeln!(self.file, "{line}");
    }

    fn flush(&mut self) {
        let _ = self.file.flush();
    }
}

/// A query's journal key: the original, what is sent, and why (`rest`,
/// `search`, `confirm`).
fn query_key(id: &str, payload: &Payload, kind: &str) -> String {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    h.update([0]);
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(payload).unwrap_or_default());
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

pub fn attack(opts: &AttackOptions) -> Result<AttackReport, Error> {
    validate(opts)?;
    let plan = super::plan(&opts.config, opts.quiet)?;
    let config = &plan.config;
    let out_dir = opts.out.clone().unwrap_or_else(|| config.reports.clone());
    crate::atomic_file::could_write(&out_dir).map_err(|e| {
        Error::Usage(format!("--out {}: attack.json could not be written there: {e}", out_dir.display()))
    })?;
    let cases = originals(&plan.corpus.cases);
    if cases.is_empty() {
        return Err(Error::Usage("no adversarial case in the corpora: nothing to attack".into()));
    }
    let attack_plan = plan_of(&cases, opts, config);
    check_budget(&attack_plan, config)?;
    let settings = AttackSettings {
        budget: opts.budget,
        seed: opts.seed,
        strategy: opts.strategy,
        max_edit_share: opts.max_edit_share,
    };
    let steps = search_steps(config.transforms.as_ref().and_then(|t| t.for_lane(opts.lane)));
    let target: &dyn Target = plan.target.as_ref();
    let fingerprint = target.fingerprint();
    let key = journal_key(&plan.corpus.summary.hash, &fingerprint.hash, opts, &steps);
    let journal_path = config.base.join(".gauntlet").join(format!("attack-{}.jsonl", opts.lane.as_str()));
    let meter = RequestMeter::new(crate::targets::RequestPlan::limit(&config.target));
    if config.target.health_probe.unwrap_or(true) {
        let probe = crate::targets::probe_case(&plan.corpus.cases);
        target.probe(&probe, &meter)?;
    }
    if let Some((block, allow)) = config.target.canary_texts() {
        crate::targets::canary::check(target, &block, &allow, &meter)?;
    }
    let mut journal = Journal::open(journal_path, &key, opts.resume)?;
    let mut sequence = 0u64;
    let mut ask = |queries: &[(&Case, Payload, &'static str)]| -> Result<Vec<Answer>, Error> {
        let mut answers: Vec<Option<Answer>> = vec![None; queries.len()];
        let mut to_send = Vec::new();
        let mut sent_at = Vec::new();
        for (i, (case, payload, kind)) in queries.iter().enumerate() {
            match journal.recorded.get(&query_key(&case.id, payload, kind)) {
                Some(a) => {
                    answers[i] = Some(*a);
                    journal.reused += 1;
                }
                None => {
                    // Unique per query: an exec target pairs answers by id.
                    sequence += 1;
                    let id = format!("{}#{kind}:{sequence}", case.id);
                    to_send.push(Case { id, payload: payload.clone(), ..(*case).clone() });
                    sent_at.push(i);
                }
            }
        }
        if !to_send.is_empty() {
            // Progress is the searches' own (a round at a time), not each batch's.
            let replayed = target
                .replay(&to_send, &Sink { meter: &meter, inner: &() })
                .map_err(|e| interrupted(e, &journal.path))?;
            if replayed.outcomes.len() < to_send.len() || meter.stopped() {
                journal.flush();
                return Err(interrupted(
                    Error::Target(format!("the request budget ran out after {} requests", meter.sent())),
                    &journal.path,
                ));
            }
            for (&i, o) in sent_at.iter().zip(&replayed.outcomes) {
                let a = answer_of(o);
                let (case, payload, kind) = &queries[i];
                journal.record(&query_key(&case.id, payload, kind), &a);
                answers[i] = Some(a);
            }
            journal.flush();
        }
        Ok(answers.into_iter().map(|a| a.expect("every query answered")).collect())
    };

    // At rest: each original as it is.
    let rest_queries: Vec<(&Case, Payload, &str)> = cases.iter().map(|c| (*c, c.payload.clone(), "rest")).collect();
    let at_rest = ask(&rest_queries)?;
    let mut counts = Originals {
        adversarial: cases.len() as u64,
        searched: 0,
        allowed_at_rest: 0,
        errored_at_rest: 0,
        not_searchable: 0,
        guided: 0,
        random: 0,
    };
    let mut searched: Vec<Original> = Vec::new();
    for (case, a) in cases.iter().zip(&at_rest) {
        if a.error {
            counts.errored_at_rest += 1;
        } else if a.allowed {
            counts.allowed_at_rest += 1;
        } else if matches!(case.payload, Payload::Structured(_)) {
            counts.not_searchable += 1;
        } else {
            let guided = opts.strategy != Strategy::Random;
            searched.push(Original { case, score_at_rest: if guided { a.score } else { None } });
        }
    }
    counts.searched = searched.len() as u64;

    let outcomes = with_progress(Step::cases("searching", 0), opts.quiet, |p| {
        search_all(&searched, &steps, &settings, |batch: &[Query]| {
            p.advance(batch.len() as u64);
            let qs: Vec<(&Case, Payload, &str)> =
                batch.iter().map(|q| (searched[q.original].case, q.payload.clone(), "search")).collect();
            ask(&qs)
        })
    })?;

    // Every evasion re-sent once: kept only if allowed again.
    let found: Vec<usize> = outcomes.iter().filter(|o| o.found.is_some()).map(|o| o.index).collect();
    let confirm_queries: Vec<(&Case, Payload, &str)> = found
        .iter()
        .map(|&i| (searched[i].case, outcomes[i].found.as_ref().expect("found").payload.clone(), "confirm"))
        .collect();
    let confirmed = ask(&confirm_queries)?;
    let held: HashMap<usize, bool> = found.iter().zip(&confirmed).map(|(&i, a)| (i, a.allowed)).collect();

    let records: Vec<CaseRecord> = outcomes
        .iter()
        .map(|o| {
            let original = &searched[o.index];
            let kept = held.get(&o.index).copied();
            CaseRecord {
                id: original.case.id.clone(),
                category: original.case.category.to_string(),
                strategy: if o.guided { "guided" } else { "random" }.into(),
                evaded: kept == Some(true),
                flipped: kept == Some(false),
                queries: o.found.as_ref().map_or(o.sent, |f| f.queries),
                sent: o.sent,
                errors: o.errors,
                chain: o.chain.clone(),
                score_at_rest: original.score_at_rest,
                score_path: o.score_path.clone(),
            }
        })
        .collect();
    counts.guided = records.iter().filter(|r| r.strategy == "guided").count() as u64;
    counts.random = records.len() as u64 - counts.guided;
    let summary = summarise(&records, opts.budget, &config.counting);
    let facts = crate::evaluate::AttackFacts {
        run_budget: opts.budget,
        queries_to_evade: records.iter().map(|r| r.evaded.then_some(r.queries)).collect(),
    };
    let gates = super::load::command_gate_verdicts(crate::evaluate::evaluate_attack_gates(
        &plan.gates,
        &facts,
        &config.counting,
        opts.lane,
    ));
    let queries = Queries {
        at_rest: cases.len() as u64,
        search: records.iter().map(|r| r.sent as u64).sum(),
        confirmations: found.len() as u64,
        recorded: journal.reused,
        errors: records.iter().map(|r| r.errors as u64).sum(),
    };
    let report = AttackReport {
        schema: ATTACK_SCHEMA.into(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        target: target.fingerprint(),
        lane: opts.lane.as_str().into(),
        seed: opts.seed,
        budget: opts.budget,
        strategy: opts.strategy.as_str().into(),
        max_edit_share: opts.max_edit_share,
        transforms: steps.iter().map(|s| s.name.clone()).collect(),
        originals: counts,
        queries,
        evaded: records.iter().filter(|r| r.evaded).count() as u64,
        flipped: records.iter().filter(|r| r.flipped).count() as u64,
        curve: summary.curve,
        by_category: summary.by_category,
        median_queries: summary.median_queries,
        edits: summary.edits,
        cases: records,
        gates,
    };
    let evasions: Vec<Case> = outcomes
        .iter()
        .filter(|o| held.get(&o.index) == Some(&true))
        .map(|o| {
            let original = searched[o.index].case;
            let found = o.found.as_ref().expect("evaded");
            Case {
                id: format!("{}#search", original.id),
                payload: found.payload.clone(),
                transform: Some(std::sync::Arc::from(o.chain.clone().unwrap_or_default().as_str())),
                variant_of: Some(original.id.clone()),
                ..original.clone()
            }
        })
        .collect();
    write_outputs(&out_dir, &report, &evasions)?;
    let path = journal.path.clone();
    drop(journal);
    let _ = std::fs::remove_file(path);
    Ok(report)
}

/// What must match for a journal's answers to be reused.
fn journal_key(corpora: &str, target: &str, opts: &AttackOptions, steps: &[crate::transform::Chain]) -> String {
    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    format!(
        "gauntlet attack journal v1 corpora={corpora} target={target} lane={} budget={} seed={} strategy={} share={} steps={}",
        opts.lane.as_str(),
        opts.budget,
        opts.seed,
        opts.strategy.as_str(),
        opts.max_edit_share,
        names.join(",")
    )
}

fn interrupted(e: Error, journal: &Path) -> Error {
    let resume = format!(
        "the answers so far are recorded in {}; `gauntlet attack --resume` continues where it stopped",
        journal.display()
    );
    match e {
        Error::Target(m) => Error::Target(format!("{m}; {resume}")),
        other => other,
    }
}

/// attack.json, attack.html and evasions.jsonl (one corpus case per
/// confirmed evasion, so `gauntlet run` can replay them).
fn write_outputs(dir: &Path, report: &AttackReport, evasions: &[Case]) -> Result<(), Error> {
    write_json(&dir.join("attack.json"), report)?;
    super::write_bytes(&dir.join("attack.html"), crate::report::attack::render_html(report).as_bytes())?;
    crate::atomic_file::write_atomic(&dir.join("evasions.jsonl"), |file| {
        let mut w = std::io::BufWriter::new(file);
        for case in evasions {
            serde_json::to_writer(&mut w, &case.to_corpus_line())?;
            w.write_all(b"\n")?;
        }
        w.flush()
    })
}
