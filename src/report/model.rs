use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::corpus::{DatasetInfo, Decision, Label};
use crate::evaluate::{
    AppliedWaiver, Bound, Comparator, Filter, FixtureSuiteOutcome, GateOutcome, GateStatus, Lane, Metric, Mode,
    WaiverReport, WaiverStatus,
};
use crate::metrics::{CountingPolicy, Metrics};
use crate::replay::CaseResult;
use crate::target::{CaseError, TargetFingerprint};

pub const VERDICT_SCHEMA: &str = "gauntlet.verdict.v1";

/// How many failing cases of each kind a verdict carries as examples.
pub const FAILING_CASES_CAP: usize = 50;
/// Longest case text carried in a report, in characters.
pub const CASE_TEXT_CAP: usize = 2000;

/// The whole outcome of a run: `verdict.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Verdict {
    /// Always `gauntlet.verdict.v1` for this format.
    pub schema: String,
    pub verdict: Overall,
    /// The process exit code this verdict gives (0, 1 or 3).
    pub exit_code: i32,
    pub run: RunInfo,
    pub gates: Vec<GateReport>,
    pub metrics: Metrics,
    pub corpora: CorporaInfo,
    pub failing_cases: FailingCases,
    /// Expectation suites (`fixtures/*.toml`), case by case.
    pub fixtures: Vec<FixtureSuiteOutcome>,
    /// Decision snapshots (`fixtures/golden/`), one per dataset.
    pub golden: Vec<GoldenReport>,
    pub waivers: WaiverAudit,
}

pub const WAIVER_AUDIT_SCHEMA: &str = "gauntlet.waiver-audit.v1";

/// `waiver-audit.json`, and the verdict's `waivers` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WaiverAudit {
    /// Always `gauntlet.waiver-audit.v1`.
    pub schema: String,
    pub today: String,
    pub lane: Option<Lane>,
    pub counts: BTreeMap<WaiverStatus, u64>,
    pub waivers: Vec<WaiverReport>,
}

impl WaiverAudit {
    pub fn new(today: String, lane: Option<Lane>, waivers: Vec<WaiverReport>) -> Self {
        let mut counts = BTreeMap::new();
        for w in &waivers {
            *counts.entry(w.status).or_insert(0) += 1;
        }
        WaiverAudit { schema: WAIVER_AUDIT_SCHEMA.into(), today, lane, counts, waivers }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GoldenStatus {
    Match,
    Changed,
    Missing,
    Blessed,
}

/// One dataset's decision snapshot check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GoldenReport {
    pub dataset: String,
    pub path: String,
    pub status: GoldenStatus,
    pub cases: u64,
    pub flips: u64,
    pub changes: u64,
    /// Readable diff, flipped decisions first (hostile text: escape it).
    pub diff: String,
    /// Where the new state was written for review (`.snap.new`), if anywhere.
    pub pending: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Overall {
    Pass,
    Fail,
    /// The target failed so that no honest verdict exists.
    Error,
}

impl Overall {
    pub fn as_str(self) -> &'static str {
        match self {
            Overall::Pass => "pass",
            Overall::Fail => "fail",
            Overall::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RunInfo {
    pub tool_version: String,
    pub git_commit: Option<String>,
    pub config: String,
    pub lane: Lane,
    pub started_at: String,
    pub finished_at: String,
    /// The date waivers were judged against (`--today` or the clock), YYYY-MM-DD.
    pub today: String,
    pub target: TargetFingerprint,
    pub hashes: Hashes,
    pub counting: CountingPolicy,
    /// False when the target gave up part way; then `aborted` says why.
    pub complete: bool,
    pub aborted: Option<String>,
    /// Set on a shard's verdict (`--partition hash:M/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<crate::partition::Partition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Hashes {
    pub config: String,
    pub corpora: String,
    pub target: String,
    pub gates: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CorporaInfo {
    pub cases: u64,
    pub files: Vec<String>,
    pub datasets: Vec<DatasetInfo>,
    /// Cases whose input repeats an earlier case's input.
    pub repeated_inputs: u64,
}

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GateReport {
    pub id: String,
    pub description: String,
    pub status: GateStatus,
    /// Whether this gate can fail the run (enforce mode).
    pub blocking: bool,
    pub mode: Mode,
    pub metric: Metric,
    /// Rates as fractions, latency in microseconds, count as a number.
    pub value: Option<f64>,
    /// [low, high] at the run's confidence level, for rates.
    pub interval: Option<[f64; 2]>,
    pub threshold: f64,
    pub comparator: Comparator,
    pub bound: Bound,
    pub samples: u64,
    pub min_samples: u64,
    #[serde(rename = "where")]
    pub filter: Filter,
    pub detail: String,
    /// A command line that reproduces this gate's run.
    pub reproduce: String,
    pub defined_at: String,
    /// The waiver applied to this gate, with its days left.
    pub waiver: Option<AppliedWaiver>,
}

impl GateReport {
    pub fn from_outcome(o: &GateOutcome, reproduce: String) -> Self {
        GateReport {
            id: o.gate.id.clone(),
            description: o.gate.description.clone(),
            status: o.status,
            blocking: o.gate.mode == Mode::Enforce,
            mode: o.gate.mode,
            metric: o.gate.metric,
            value: o.value,
            interval: o.interval.map(|(l, h)| [l, h]),
            threshold: o.gate.threshold,
            comparator: o.gate.comparator,
            bound: o.gate.bound,
            samples: o.samples,
            min_samples: o.gate.min_samples,
            filter: o.gate.filter.clone(),
            detail: o.detail.clone(),
            reproduce,
            defined_at: o.gate.defined_at.clone(),
            waiver: o.waiver.clone(),
        }
    }
}

/// Examples of what went wrong, capped, with the totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FailingCases {
    pub false_positives: CaseSamples,
    pub attack_successes: CaseSamples,
    pub errors: CaseSamples,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CaseSamples {
    pub total: u64,
    /// The first cases in corpus order, at most the cap.
    pub shown: Vec<CaseSample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CaseSample {
    pub id: String,
    pub label: Label,
    pub category: String,
    pub source: String,
    /// The input as text, cut at the cap (see `truncated`). Hostile: escape it.
    pub text: String,
    pub truncated: bool,
    pub decision: Option<Decision>,
    pub score: Option<f64>,
    pub reasons: Vec<String>,
    pub error: Option<CaseError>,
}

impl CaseSample {
    pub fn from_result(r: &CaseResult) -> Self {
        let (text, truncated) = super::text::truncate_chars(&r.input.display_text(), CASE_TEXT_CAP);
        CaseSample {
            id: r.id.clone(),
            label: r.label,
            category: r.category.to_string(),
            source: r.source.to_string(),
            text,
            truncated,
            decision: r.decision,
            score: r.score,
            reasons: r.reasons.iter().map(|s| s.to_string()).collect(),
            error: r.error.clone(),
        }
    }
}

impl FailingCases {
    /// Collects examples in corpus order under the counting policy.
    pub fn collect(results: &[CaseResult], policy: &CountingPolicy) -> Self {
        use crate::metrics::Class;
        let mut out = FailingCases::default();
        let push = |samples: &mut CaseSamples, r: &CaseResult| {
            samples.total += 1;
            if samples.shown.len() < FAILING_CASES_CAP {
                samples.shown.push(CaseSample::from_result(r));
            }
        };
        for r in results {
            if r.decision.is_none() {
                push(&mut out.errors, r);
                continue;
            }
            match policy.classify(r) {
                Class::FalsePositive => push(&mut out.false_positives, r),
                Class::AttackSuccess => push(&mut out.attack_successes, r),
                _ => {}
            }
        }
        out
    }
}

/// The overall verdict from gate statuses: any blocking gate failing,
/// inconclusive or in error fails the run; an aborted run is an error.
pub fn overall(gates: &[GateReport], complete: bool) -> (Overall, i32) {
    if !complete {
        return (Overall::Error, crate::exit_code::TARGET_ERROR);
    }
    if gates.iter().any(|g| g.blocking && g.status.is_failing()) {
        (Overall::Fail, crate::exit_code::GATE_FAILED)
    } else {
        (Overall::Pass, crate::exit_code::PASS)
    }
}

/// The JSON Schema of `waiver-audit.json`.
pub fn waiver_audit_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(WaiverAudit)).expect("schema serialises")
}

/// The JSON Schema of `verdict.json`, generated from these types.
pub fn verdict_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Verdict)).expect("schema serialises")
}
