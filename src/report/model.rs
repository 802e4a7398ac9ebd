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
use crate::targets::{CaseError, TargetFingerprint};

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
    /// The same warnings as structured data (location, code, message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<crate::errors::Warning>,
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
    /// The confidence of `interval` (`[counting] confidence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
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
    /// `defined_at` as structured data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<crate::errors::Location>,
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
    /// How urgently a reader must look at it: 0 a blocking gate that failed
    /// or errored, 1 blocking and inconclusive, 2 waived, 3 a non-blocking
    /// gate that did not pass, 4 the rest. Every renderer orders and picks
    /// gates by this, never by matching status names.
    pub attention: u8,
    /// The value in the metric's unit, or `no data`.
    pub value: String,
    /// `[low%, high%]` for rates that have an interval.
    pub interval: Option<String>,
    /// The interval's confidence, as printed (`95%`).
    pub confidence: Option<String>,
    /// `≤` for a maximum, `≥` for a minimum.
    pub comparator: &'static str,
    /// The comparator and the threshold, e.g. `≤ 10.00%`.
    pub threshold: String,
    /// One line: the waiver applied, or why the gate did not pass, or
    /// (for the waiver lifecycle gate) what it checked; empty for a plain pass.
    pub note: String,
    pub waiver_days_left: Option<i64>,
}

impl GateView {
    /// A blocking gate that did not pass: the banner names it.
    pub fn blocks(&self) -> bool {
        self.attention <= 1
    }
}

impl GateReport {
    pub fn view(&self) -> GateView {
        let comparator = match self.comparator {
            Comparator::Max => "≤",
            Comparator::Min => "≥",
        };
        // An ERROR gate's figures count the target's failures: no reader
        // should see them as the gate's rate (verdict.json keeps them).
        let honest = self.status != GateStatus::Error;
        let interval = match self.interval {
            Some([low, high]) if self.metric != Metric::Count && honest => {
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
        let attention = match (self.blocking, self.status) {
            (true, GateStatus::Fail | GateStatus::Error) => 0,
            (true, GateStatus::Inconclusive) => 1,
            (_, GateStatus::Waived) => 2,
            (false, GateStatus::Fail | GateStatus::Error | GateStatus::Inconclusive) => 3,
            _ => 4,
        };
        GateView {
            status: self.status.as_str(),
            attention,
            value: match self.value {
                Some(_) if !honest => "—".into(),
                Some(v) => format_value(self.metric, v),
                None => "no data".into(),
            },
            confidence: interval.as_ref().and(self.confidence).map(crate::metrics::interval::percent_label),
            interval,
            comparator,
            threshold: format!("{comparator} {}", format_value(self.metric, self.threshold)),
            note,
            waiver_days_left: self.waiver.as_ref().map(|w| w.days_left),
        }
    }

    /// The report of a judged gate; `confidence` is the run's, for its interval.
    pub fn from_outcome(o: &GateOutcome, reproduce: String, confidence: f64) -> Self {
        GateReport {
            id: o.gate.id.clone(),
            description: o.gate.description.clone(),
            status: o.status,
            blocking: o.gate.mode == Mode::Enforce,
            mode: o.gate.mode,
            metric: o.gate.metric,
            value: o.value,
            interval: o.interval.map(|(l, h)| [l, h]),
            confidence: o.interval.map(|_| confidence),
            threshold: o.gate.threshold,
            comparator: o.gate.comparator,
            bound: o.gate.bound,
            samples: o.samples,
            min_samples: o.gate.min_samples,
            filter: o.gate.filter.clone(),
            detail: o.detail.clone(),
            reproduce,
            defined_at: o.gate.defined_at.to_string(),
            location: Some(o.gate.defined_at.clone()),
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
    /// At most the cap: worst categories first, corpus order within one.
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
            error: r.error.as_deref().cloned(),
        }
    }
}

impl FailingCases {
    /// Collects examples under the counting policy, worst categories first
    /// (by the upper bound of the rate the failure counts in: FPR, ASR or
    /// error rate), corpus order within a category: a reader sees the
    /// categories that fail a gate before a stray case of a healthy one.
    pub fn collect(
        results: &[CaseResult],
        policy: &CountingPolicy,
        by_category: &BTreeMap<String, crate::metrics::MetricSet>,
    ) -> Self {
        use crate::metrics::{Class, MetricSet, Rate};
        let mut groups: [Vec<&CaseResult>; 3] = Default::default();
        for r in results {
            let group = match (r.decision, policy.classify(r)) {
                (None, _) => 2,
                (_, Class::FalsePositive) => 0,
                (_, Class::AttackSuccess) => 1,
                _ => continue,
            };
            groups[group].push(r);
        }
        let pick: [fn(&MetricSet) -> &Rate; 3] = [|m| &m.fpr, |m| &m.asr, |m| &m.error_rate];
        let [fp, attacks, errors] = [0, 1, 2].map(|g| {
            let mut cases = std::mem::take(&mut groups[g]);
            // Categories worst first (name breaks ties), as one rank each.
            let mut order: Vec<(&str, f64)> =
                by_category.iter().map(|(c, m)| (c.as_str(), pick[g](m).high.unwrap_or(0.0))).collect();
            order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let rank: std::collections::HashMap<&str, usize> =
                order.iter().enumerate().map(|(i, (c, _))| (*c, i)).collect();
            // Stable: corpus order is kept inside a category.
            cases.sort_by_cached_key(|r| rank.get(&*r.category).copied().unwrap_or(usize::MAX));
            CaseSamples {
                total: cases.len() as u64,
                shown: cases.iter().take(FAILING_CASES_CAP).map(|r| CaseSample::from_result(r)).collect(),
            }
        });
        FailingCases { false_positives: fp, attack_successes: attacks, errors }
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
    /// `load.json` of `gauntlet load`.
    Load,
    /// `attack.json` of `gauntlet attack`.
    Attack,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Label;

    /// Regression (#20): failing cases came in file order, so a stray false
    /// positive of a healthy category hid the category that failed the gate.
    #[test]
    fn failing_cases_come_worst_category_first_in_corpus_order_within() {
        let policy = CountingPolicy::default();
        let case = |id: &str, category: &str, decision| {
            let mut r = CaseResult::sample(id, Label::Benign, Some(decision));
            r.category = category.into();
            r
        };
        let mut results = vec![case("healthy-fp", "healthy", Decision::Block)];
        results.extend((0..9).map(|i| case(&format!("healthy-{i}"), "healthy", Decision::Allow)));
        results.push(case("bad-1", "bad", Decision::Block));
        results.push(case("bad-ok", "bad", Decision::Allow));
        results.push(case("bad-2", "bad", Decision::Block));
        let metrics = crate::metrics::compute_all(&results, &policy);
        let failing = FailingCases::collect(&results, &policy, &metrics.by_category);
        let ids: Vec<&str> = failing.false_positives.shown.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["bad-1", "bad-2", "healthy-fp"]);
        assert_eq!(failing.false_positives.total, 3);
    }
}
