use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::corpus::{DatasetInfo, Decision, Label};
pub use crate::evaluate::golden::{GoldenReport, GoldenStatus};
pub use crate::evaluate::Overall;
use crate::evaluate::{
    format_value, AppliedWaiver, Bound, Comparator, Filter, FixtureSuiteOutcome, GateOutcome, GateStatus, Lane, Metric,
    Mode, WaiverReport, WaiverStatus,
};
use crate::metrics::{CountingPolicy, Metrics};
use crate::replay::CaseResult;
use crate::target::{CaseError, TargetFingerprint};

pub const VERDICT_SCHEMA: &str = "gauntlet.verdict.v1";

/// How many failing cases of each kind a verdict carries as examples.
pub const FAILING_CASES_CAP: usize = 50;
pub use crate::text::CASE_TEXT_CAP;

/// The whole outcome of a run: `verdict.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Verdict {
    /// Always `gauntlet.verdict.v1` for this format.
    pub schema: String,
    pub verdict: Overall,
    /// The process exit code this verdict gives (0, 1 or 3).
    pub exit_code: i32,
    pub run: RunInfo,
    #[serde(default)]
    pub gates: Vec<GateReport>,
    pub metrics: Metrics,
    pub corpora: CorporaInfo,
    pub failing_cases: FailingCases,
    /// Expectation suites (`fixtures/*.toml`), case by case.
    #[serde(default)]
    pub fixtures: Vec<FixtureSuiteOutcome>,
    /// Decision snapshots (`fixtures/golden/`), one per dataset.
    #[serde(default)]
    pub golden: Vec<GoldenReport>,
    pub waivers: WaiverAudit,
    /// Warnings about the inputs, each `path:line: warning[code]: message`
    /// (codes in docs/errors.md). They never change the verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

pub const WAIVER_AUDIT_SCHEMA: &str = "gauntlet.waiver-audit.v1";

/// `waiver-audit.json`, and the verdict's `waivers` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct WaiverAudit {
    /// Always `gauntlet.waiver-audit.v1`.
    pub schema: String,
    pub today: String,
    pub lane: Option<Lane>,
    #[serde(default)]
    pub counts: BTreeMap<WaiverStatus, u64>,
    #[serde(default)]
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

    /// `gauntlet waivers audit` fails on any expired or invalid waiver.
    pub fn outcome(&self) -> crate::exit_code::Outcome {
        crate::exit_code::Outcome::failed_if(self.waivers.iter().any(|w| w.status.is_blocking()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
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
    #[serde(default)]
    pub complete: bool,
    pub aborted: Option<String>,
    /// True when no enforce-mode gate of the project runs in this lane (a
    /// rollout of soft or shadow gates): only gauntlet's own gates can fail it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_blocking_gate: bool,
    /// Set on a shard's verdict (`--partition hash:M/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<crate::partition::Partition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Hashes {
    pub config: String,
    pub corpora: String,
    pub target: String,
    pub gates: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CorporaInfo {
    #[serde(default)]
    pub cases: u64,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub datasets: Vec<DatasetInfo>,
    /// Cases whose input repeats an earlier case's input.
    #[serde(default)]
    pub repeated_inputs: u64,
}

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct GateReport {
    pub id: String,
    pub description: String,
    pub status: GateStatus,
    /// Whether this gate can fail the run (enforce mode).
    #[serde(default)]
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
    #[serde(default)]
    pub samples: u64,
    #[serde(default)]
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

/// What a reader must be told when the project's own gates cannot block.
pub const NO_BLOCKING_GATE_NOTE: &str =
    "no enforce-mode gate from gates/ runs in this lane: only gauntlet's own gates (fixtures, golden, waivers) can fail this run";

impl Verdict {
    /// Reads a saved verdict.json, checked: the schema version, and that its
    /// exit code is the one its verdict gives. Anything malformed is an input
    /// error naming the file (exit 2), never a panic or a silent default.
    pub fn read(path: &std::path::Path) -> Result<Verdict, crate::errors::Error> {
        use crate::errors::{Code, Diagnostic};
        let text =
            std::fs::read_to_string(path).map_err(|e| Diagnostic::new(path, Code::UnreadableFile, e.to_string()))?;
        let schema = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("schema").and_then(|s| s.as_str()).map(str::to_string));
        if let Some(other) = schema.filter(|s| s != VERDICT_SCHEMA) {
            return Err(Diagnostic::new(
                path,
                Code::UnknownSchema,
                format!("schema `{other}` is not {VERDICT_SCHEMA}"),
            )
            .into());
        }
        let verdict: Verdict = serde_json::from_str(&text)
            .map_err(|e| Diagnostic::new(path, Code::InvalidVerdict, e.to_string()).at(e.line(), e.column()))?;
        if verdict.exit_code != verdict.outcome().code() {
            return Err(Diagnostic::new(
                path,
                Code::InvalidVerdict,
                format!("exit-code {} does not match verdict `{}`", verdict.exit_code, verdict.verdict.as_str()),
            )
            .into());
        }
        Ok(verdict)
    }

    pub fn outcome(&self) -> crate::exit_code::Outcome {
        self.verdict.outcome()
    }
}

/// One gate as every report shows it. Computed once here so the terminal,
/// JUnit, Markdown and HTML cannot disagree; each renderer only escapes,
/// cuts to its width and picks its placeholder for a missing interval.
/// Text fields are raw (gate ids and details may carry case text).
#[derive(Debug, Clone, PartialEq)]
pub struct GateView {
    pub status: &'static str,
    /// The value in the metric's unit, or `no data`.
    pub value: String,
    /// `[low%, high%]` for rates that have an interval.
    pub interval: Option<String>,
    /// `≤` for a maximum, `≥` for a minimum.
    pub comparator: &'static str,
    /// The comparator and the threshold, e.g. `≤ 10.00%`.
    pub threshold: String,
    /// One line: the waiver applied, or why the gate did not pass, or
    /// (for the waiver lifecycle gate) what it checked; empty for a plain pass.
    pub note: String,
    pub waiver_days_left: Option<i64>,
}

impl GateReport {
    pub fn view(&self) -> GateView {
        let comparator = match self.comparator {
            Comparator::Max => "≤",
            Comparator::Min => "≥",
        };
        let interval = match self.interval {
            Some([low, high]) if self.metric != Metric::Count => {
                Some(format!("[{:.2}%, {:.2}%]", low * 100.0, high * 100.0))
            }
            _ => None,
        };
        let note = match (&self.waiver, self.status) {
            (Some(w), _) => {
                format!("waived by {} until {} ({}), {} days left", w.id, w.expires, w.tracking, w.days_left)
            }
            (None, GateStatus::Pass) if self.id == crate::evaluate::LIFECYCLE_GATE => self.detail.clone(),
            (None, GateStatus::Pass) => String::new(),
            (None, _) => self.detail.lines().next().unwrap_or("").to_string(),
        };
        GateView {
            status: self.status.as_str(),
            value: self.value.map(|v| format_value(self.metric, v)).unwrap_or_else(|| "no data".into()),
            interval,
            comparator,
            threshold: format!("{comparator} {}", format_value(self.metric, self.threshold)),
            note,
            waiver_days_left: self.waiver.as_ref().map(|w| w.days_left),
        }
    }

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
            defined_at: o.gate.defined_at.to_string(),
            waiver: o.waiver.clone(),
        }
    }
}

/// Examples of what went wrong, capped, with the totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FailingCases {
    pub false_positives: CaseSamples,
    pub attack_successes: CaseSamples,
    pub errors: CaseSamples,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CaseSamples {
    #[serde(default)]
    pub total: u64,
    /// The first cases in corpus order, at most the cap.
    #[serde(default)]
    pub shown: Vec<CaseSample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CaseSample {
    pub id: String,
    pub label: Label,
    pub category: String,
    pub source: String,
    /// The input as text, cut at the cap (see `truncated`). Hostile: escape it.
    pub text: String,
    #[serde(default)]
    pub truncated: bool,
    pub decision: Option<Decision>,
    pub score: Option<f64>,
    #[serde(default)]
    pub reasons: Vec<String>,
    pub error: Option<CaseError>,
}

impl CaseSample {
    pub fn from_result(r: &CaseResult) -> Self {
        let (text, truncated) = crate::text::truncate_chars(&r.input.display_text(), CASE_TEXT_CAP);
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

/// The JSON Schema of `waiver-audit.json`.
pub fn waiver_audit_schema() -> serde_json::Value {
    open_schema(schemars::schema_for!(WaiverAudit))
}

/// v1 formats only grow: a published schema must accept properties it does
/// not list, so `additionalProperties: false` (from types that reject
/// unknown keys in config files) is taken out everywhere.
pub fn open_schema(schema: schemars::Schema) -> serde_json::Value {
    fn open(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                if map.get("additionalProperties") == Some(&serde_json::Value::Bool(false)) {
                    map.remove("additionalProperties");
                }
                map.values_mut().for_each(open);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(open),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(schema).expect("schema serialises");
    open(&mut value);
    value
}

/// The JSON Schema of `verdict.json`, generated from these types.
pub fn verdict_schema() -> serde_json::Value {
    open_schema(schemars::schema_for!(Verdict))
}

/// The JSON Schemas `gauntlet schema` prints (copies in `docs/schema/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    Verdict,
    WaiverAudit,
    Calibration,
    Release,
    /// `diff.json` of `gauntlet diff` (built above the report layer).
    Diff,
}
