use std::fmt;

use serde::{Deserialize, Serialize};

use crate::corpus::Label;
use crate::errors::Location;
use crate::metrics::{self, CountingPolicy, MetricSet, Rate};
use crate::replay::CaseResult;

/// The CI lane a run belongs to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Lane {
    /// Pull requests: fast.
    Preflight,
    /// Nightly and release.
    Full,
}

impl Lane {
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Preflight => "preflight",
            Lane::Full => "full",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    Fpr,
    Asr,
    DetectionRate,
    ErrorRate,
    Precision,
    LatencyP50,
    LatencyP95,
    LatencyP99,
    Count,
    /// Share of cases whose repeated answers disagreed (`--repeat N`).
    FlipRate,
    /// Share of cases (after `where`, usually `expected = ...`) whose actual
    /// decision is the gate's `actual`: one cell of the three-way matrix.
    DecisionRate,
    /// Mean cost per case from `[counting.costs]`.
    WeightedCost,
    /// Adversarial variants that got through where their original was stopped.
    EvasionRate,
    /// Benign variants not allowed where their original was.
    OverBlockRate,
    /// Corrected p99 latency of `gauntlet load` (µs): from intended send
    /// time to answer. Judged by `gauntlet load`, not by `run`.
    LoadLatencyP99,
    /// Target errors over requests sent by `gauntlet load`.
    LoadErrorRate,
    /// Answers under load that allowed a case the gate blocks at rest.
    LoadFailOpen,
    /// Blocked adversarial originals an adaptive search got past the gate
    /// within the gate's `budget` of queries. Judged by `gauntlet attack`.
    AdaptiveEvasionRate,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Fpr => "fpr",
            Metric::Asr => "asr",
            Metric::DetectionRate => "detection-rate",
            Metric::ErrorRate => "error-rate",
            Metric::Precision => "precision",
            Metric::LatencyP50 => "latency-p50",
            Metric::LatencyP95 => "latency-p95",
            Metric::LatencyP99 => "latency-p99",
            Metric::Count => "count",
            Metric::FlipRate => "flip-rate",
            Metric::DecisionRate => "decision-rate",
            Metric::WeightedCost => "weighted-cost",
            Metric::EvasionRate => "evasion-rate",
            Metric::OverBlockRate => "over-block-rate",
            Metric::LoadLatencyP99 => "load-latency-p99",
            Metric::LoadErrorRate => "load-error-rate",
            Metric::LoadFailOpen => "load-fail-open",
            Metric::AdaptiveEvasionRate => "adaptive-evasion-rate",
        }
    }

    /// Judged over load.json by `gauntlet load`; `run` leaves it out.
    pub fn is_load(self) -> bool {
        matches!(self, Metric::LoadLatencyP99 | Metric::LoadErrorRate | Metric::LoadFailOpen)
    }

    /// Judged by its own command (`load`, `attack`), never by `run`.
    pub fn judged_elsewhere(self) -> bool {
        self.is_load() || self == Metric::AdaptiveEvasionRate
    }

    pub fn is_rate(self) -> bool {
        matches!(
            self,
            Metric::Fpr
                | Metric::Asr
                | Metric::DetectionRate
                | Metric::ErrorRate
                | Metric::Precision
                | Metric::FlipRate
                | Metric::DecisionRate
                | Metric::EvasionRate
                | Metric::OverBlockRate
                | Metric::LoadErrorRate
                | Metric::AdaptiveEvasionRate
        )
    }

    fn rate(self, m: &MetricSet) -> Option<&Rate> {
        match self {
            Metric::Fpr => Some(&m.fpr),
            Metric::Asr => Some(&m.asr),
            Metric::DetectionRate => Some(&m.detection_rate),
            Metric::ErrorRate => Some(&m.error_rate),
            Metric::Precision => Some(&m.precision),
            Metric::FlipRate => Some(&m.flip_rate),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Comparator {
    /// The value must be at most the threshold.
    Max,
    /// The value must be at least the threshold.
    Min,
}

/// Which number is compared: the point estimate or an interval end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Bound {
    Point,
    Upper,
    Lower,
}

impl Bound {
    /// The conservative end for a comparator: a maximum is checked on the
    /// upper bound, a minimum on the lower, so luck cannot pass a gate.
    pub fn conservative(comparator: Comparator) -> Bound {
        match comparator {
            Comparator::Max => Bound::Upper,
            Comparator::Min => Bound::Lower,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Blocks the run when it fails.
    Enforce,
    /// Reported as failing, never blocks.
    Soft,
    /// Computed quietly, for trying a gate out.
    Shadow,
}

/// Which results a gate looks at. Every present field must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Ingress (prompts) or egress (model output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<crate::corpus::Direction>,
    /// Cases whose expected decision is this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<crate::corpus::Decision>,
    /// Cases sent for this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Any of these categories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category: Vec<String>,
    /// Any of these sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<String>,
    /// All of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Robustness variants of this transform chain (`*`: of any). Without
    /// it a gate sees originals only (`evasion-rate` and `over-block-rate`
    /// gates: every variant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
}

impl Filter {
    /// The `where` values (categories, sources, tags) no case has: most
    /// often a typo, which would leave the gate judging nothing.
    pub fn unmatched<'a>(&'a self, cases: &[crate::corpus::Case]) -> Vec<(&'static str, &'a str)> {
        let mut out = Vec::new();
        for (key, values) in [("category", &self.category), ("source", &self.source), ("tags", &self.tags)] {
            for v in values {
                let seen = cases.iter().any(|c| match key {
                    "category" => *c.category == **v,
                    "source" => *c.source == **v,
                    _ => c.tags.iter().any(|t| **t == **v),
                });
                if !seen {
                    out.push((key, v.as_str()));
                }
            }
        }
        out
    }

    pub fn matches(&self, r: &CaseResult) -> bool {
        self.matches_case(r)
            && match self.transform.as_deref() {
                None => r.transform.is_none(),
                Some("*") => r.transform.is_some(),
                Some(t) => r.transform.as_deref() == Some(t),
            }
    }

    /// For the paired metrics: the variants that count (of any transform
    /// unless `transform` names one).
    pub fn matches_variant(&self, r: &CaseResult) -> bool {
        self.matches_case(r)
            && match self.transform.as_deref() {
                None | Some("*") => r.transform.is_some(),
                Some(t) => r.transform.as_deref() == Some(t),
            }
    }

    /// Every condition but `transform`.
    fn matches_case(&self, r: &CaseResult) -> bool {
        self.label.is_none_or(|l| l == r.label)
            && self.direction.is_none_or(|d| d == r.direction)
            && self.expected.is_none_or(|e| r.expected == Some(e))
            && self.tenant.as_deref().is_none_or(|t| r.tenant.as_deref() == Some(t))
            && (self.category.is_empty() || self.category.iter().any(|c| **c == *r.category))
            && (self.source.is_empty() || self.source.iter().any(|s| **s == *r.source))
            && self.tags.iter().all(|t| r.has_tag(t))
    }

    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(l) = self.label {
            parts.push(format!("label={}", l.as_str()));
        }
        if let Some(d) = self.direction {
            parts.push(format!("direction={d:?}").to_lowercase());
        }
        if let Some(e) = self.expected {
            parts.push(format!("expected={}", e.as_str()));
        }
        if let Some(t) = &self.tenant {
            parts.push(format!("tenant={t}"));
        }
        if !self.category.is_empty() {
            parts.push(format!("category={}", self.category.join("|")));
        }
        if !self.source.is_empty() {
            parts.push(format!("source={}", self.source.join("|")));
        }
        if !self.tags.is_empty() {
            parts.push(format!("tags={}", self.tags.join("+")));
        }
        if parts.is_empty() {
            f.write_str("all cases")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// A validated gate.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub id: String,
    pub description: String,
    pub metric: Metric,
    pub comparator: Comparator,
    pub threshold: f64,
    pub bound: Bound,
    pub min_samples: u64,
    pub filter: Filter,
    pub mode: Mode,
    pub lanes: Vec<Lane>,
    /// For `decision-rate`: the actual decision (`allow`, `block`,
    /// `require_approval` or `error`) whose share is measured.
    pub actual: Option<String>,
    /// For `adaptive-evasion-rate`: the attacker's queries per original.
    pub budget: Option<usize>,
    /// `path:line` of its definition.
    pub defined_at: Location,
}

impl Gate {
    /// A gate gauntlet adds itself (fixtures, snapshots, waivers, determinism,
    /// tenants): blocking, in every lane, passing when its count is 0.
    pub fn synthetic(id: impl Into<String>, description: impl Into<String>, defined_at: Location) -> Gate {
        Gate {
            id: id.into(),
            description: description.into(),
            metric: Metric::Count,
            comparator: Comparator::Max,
            threshold: 0.0,
            bound: Bound::Point,
            min_samples: 0,
            filter: Filter::default(),
            mode: Mode::Enforce,
            lanes: vec![Lane::Preflight, Lane::Full],
            actual: None,
            budget: None,
            defined_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GateStatus {
    Pass,
    Fail,
    Waived,
    Inconclusive,
    Error,
}

impl GateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GateStatus::Pass => "pass",
            GateStatus::Fail => "fail",
            GateStatus::Waived => "waived",
            GateStatus::Inconclusive => "inconclusive",
            GateStatus::Error => "error",
        }
    }

    /// Whether this status stops a blocking gate from passing.
    pub fn is_failing(self) -> bool {
        matches!(self, GateStatus::Fail | GateStatus::Inconclusive | GateStatus::Error)
    }
}

/// A gate judged on one run.
#[derive(Debug, Clone, PartialEq)]
pub struct GateOutcome {
    pub gate: Gate,
    pub status: GateStatus,
    /// The point value (rate, or microseconds for latency, or a count).
    pub value: Option<f64>,
    pub interval: Option<(f64, f64)>,
    /// The number actually compared with the threshold.
    pub compared: Option<f64>,
    pub samples: u64,
    pub detail: String,
    /// The waiver that turned a failure into `waived`.
    pub waiver: Option<super::AppliedWaiver>,
}

/// Judges every gate of `lane` on `results`. `aborted` (the target gave up)
/// turns every gate into `error`: numbers from a partial run are not evidence.
pub fn evaluate_gates(
    gates: &[Gate],
    results: &[CaseResult],
    policy: &CountingPolicy,
    costs: &metrics::CostWeights,
    lane: Lane,
    aborted: Option<&str>,
) -> Vec<GateOutcome> {
    use rayon::prelude::*;
    // Gates over all cases share one computation.
    let overall = std::sync::OnceLock::new();
    let originals = std::sync::OnceLock::new();
    let gates: Vec<&Gate> = gates.iter().filter(|g| g.lanes.contains(&lane) && !g.metric.judged_elsewhere()).collect();
    gates.into_par_iter().map(|g| evaluate_gate(g, results, policy, costs, aborted, &overall, &originals)).collect()
}

#[allow(clippy::too_many_arguments)]
fn evaluate_gate<'a>(
    gate: &Gate,
    results: &'a [CaseResult],
    policy: &CountingPolicy,
    costs: &metrics::CostWeights,
    aborted: Option<&str>,
    overall: &std::sync::OnceLock<MetricSet>,
    originals: &std::sync::OnceLock<std::collections::HashMap<&'a str, &'a CaseResult>>,
) -> GateOutcome {
    let filtered;
    let set = if gate.filter.is_empty() {
        overall.get_or_init(|| metrics::compute_where(results, |r| r.transform.is_none(), policy))
    } else {
        filtered = metrics::compute_where(results, |r| gate.filter.matches(r), policy);
        &filtered
    };
    let paired = matches!(gate.metric, Metric::EvasionRate | Metric::OverBlockRate).then(|| {
        let originals = originals
            .get_or_init(|| results.iter().filter(|r| r.transform.is_none()).map(|r| (r.id.as_str(), r)).collect());
        let mut counts = metrics::PairCounts::default();
        for v in results.iter().filter(|r| gate.filter.matches_variant(r)) {
            counts.add(v.origin.as_deref().and_then(|o| originals.get(o).copied()), v, policy);
        }
        match gate.metric {
            Metric::EvasionRate => counts.evasion_rate(policy),
            _ => counts.over_block_rate(policy),
        }
    });
    let decision_rate = (gate.metric == Metric::DecisionRate).then(|| {
        let actual = gate.actual.as_deref().unwrap_or("");
        let matching: Vec<&CaseResult> = results.iter().filter(|r| gate.filter.matches(r)).collect();
        let hits = matching.iter().filter(|r| metrics::actual_name(r) == actual).count() as u64;
        Rate::new(hits, matching.len() as u64, policy)
    });
    let rate = match (&decision_rate, &paired) {
        (Some(r), _) | (None, Some(r)) => Some(r),
        (None, None) => gate.metric.rate(set),
    };
    let (value, interval, samples) = match rate {
        Some(rate) => (rate.value, rate.low.zip(rate.high), rate.denominator),
        None => {
            let value = match gate.metric {
                Metric::LatencyP50 => set.latency.p50.map(|v| v as f64),
                Metric::LatencyP95 => set.latency.p95.map(|v| v as f64),
                Metric::LatencyP99 => set.latency.p99.map(|v| v as f64),
                Metric::WeightedCost => costs.weighted_cost(results.iter().filter(|r| gate.filter.matches(r))),
                _ => Some(set.cases as f64),
            };
            let samples = match gate.metric {
                Metric::Count | Metric::WeightedCost => set.cases,
                _ => set.latency.count,
            };
            (value, None, samples)
        }
    };
    judge_value(gate, value, interval, samples, aborted)
}

/// A gate's verdict on its value (and interval, for a rate) over `samples`.
pub(super) fn judge_value(
    gate: &Gate,
    value: Option<f64>,
    interval: Option<(f64, f64)>,
    samples: u64,
    aborted: Option<&str>,
) -> GateOutcome {
    let compared = match (gate.bound, interval) {
        (Bound::Point, _) | (_, None) => value,
        (Bound::Upper, Some((_, high))) => Some(high),
        (Bound::Lower, Some((low, _))) => Some(low),
    };
    let outcome = |status, detail: String| GateOutcome {
        gate: gate.clone(),
        status,
        value,
        interval,
        compared,
        samples,
        detail,
        waiver: None,
    };
    if let Some(reason) = aborted {
        return outcome(GateStatus::Error, format!("run incomplete, no honest value: {reason}"));
    }
    let Some(compared_value) = compared else {
        return outcome(GateStatus::Inconclusive, format!("no data: no cases match {}", gate.filter));
    };
    if !matches!(gate.metric, Metric::Count | Metric::LoadFailOpen) && samples < gate.min_samples {
        return outcome(
            GateStatus::Inconclusive,
            format!("{samples} samples, fewer than the {} required", gate.min_samples),
        );
    }
    let ok = match gate.comparator {
        Comparator::Max => compared_value <= gate.threshold,
        Comparator::Min => compared_value >= gate.threshold,
    };
    let bound = match gate.bound {
        Bound::Point => "value",
        Bound::Upper => "upper bound",
        Bound::Lower => "lower bound",
    };
    let op = match (gate.comparator, ok) {
        (Comparator::Max, true) => "≤",
        (Comparator::Max, false) => ">",
        (Comparator::Min, true) => "≥",
        (Comparator::Min, false) => "<",
    };
    let detail = format!(
        "{} {bound} {} {op} {}",
        gate.metric.as_str(),
        format_value(gate.metric, compared_value),
        format_value(gate.metric, gate.threshold)
    );
    outcome(if ok { GateStatus::Pass } else { GateStatus::Fail }, detail)
}

/// Human rendering of a metric value: rates as percentages, latency in µs.
pub fn format_value(metric: Metric, value: f64) -> String {
    if metric.is_rate() {
        format!("{:.2}%", value * 100.0)
    } else if matches!(metric, Metric::Count | Metric::LoadFailOpen) {
        format!("{value:.0}")
    } else if metric == Metric::WeightedCost {
        format!("{value:.3}")
    } else {
        format!("{value:.0} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Decision;

    fn results(benign_allowed: usize, benign_blocked: usize, errors: usize) -> Vec<CaseResult> {
        let mut out = Vec::new();
        let mk = |decision: Option<Decision>| CaseResult::sample("", Label::Benign, decision);
        out.extend((0..benign_allowed).map(|_| mk(Some(Decision::Allow))));
        out.extend((0..benign_blocked).map(|_| mk(Some(Decision::Block))));
        out.extend((0..errors).map(|_| mk(None)));
        out
    }

    fn fpr_gate(max: f64, bound: Bound, min_samples: u64) -> Gate {
        Gate {
            id: "fpr".into(),
            description: String::new(),
            metric: Metric::Fpr,
            comparator: Comparator::Max,
            threshold: max,
            bound,
            min_samples,
            filter: Filter::default(),
            mode: Mode::Enforce,
            lanes: vec![Lane::Preflight, Lane::Full],
            actual: None,
            budget: None,
            defined_at: Location::new("gates.toml"),
        }
    }

    fn status(gate: &Gate, results: &[CaseResult]) -> GateStatus {
        evaluate_gates(
            std::slice::from_ref(gate),
            results,
            &CountingPolicy::default(),
            &Default::default(),
            Lane::Full,
            None,
        )[0]
        .status
    }

    #[test]
    fn upper_bound_is_stricter_than_point() {
        let r = results(190, 10, 0); // 5%, Wilson upper ≈ 9.0%
        assert_eq!(status(&fpr_gate(0.08, Bound::Point, 100), &r), GateStatus::Pass);
        assert_eq!(status(&fpr_gate(0.08, Bound::Upper, 100), &r), GateStatus::Fail);
    }

    #[test]
    fn too_few_samples_is_inconclusive_not_pass() {
        let r = results(50, 0, 0);
        assert_eq!(status(&fpr_gate(0.10, Bound::Point, 100), &r), GateStatus::Inconclusive);
        assert!(GateStatus::Inconclusive.is_failing());
    }

    #[test]
    fn target_errors_cannot_make_a_gate_pass() {
        // 200 clean benign cases pass; turning 30 allows into errors must fail.
        let gate = fpr_gate(0.10, Bound::Upper, 100);
        assert_eq!(status(&gate, &results(200, 0, 0)), GateStatus::Pass);
        assert_eq!(status(&gate, &results(170, 0, 30)), GateStatus::Fail);
    }

    #[test]
    fn aborted_run_gives_error_status() {
        let gate = fpr_gate(0.10, Bound::Upper, 1);
        let out = evaluate_gates(
            &[gate],
            &results(200, 0, 0),
            &CountingPolicy::default(),
            &Default::default(),
            Lane::Full,
            Some("crashed"),
        );
        assert_eq!(out[0].status, GateStatus::Error);
    }

    #[test]
    fn gates_outside_the_lane_are_not_evaluated() {
        let mut gate = fpr_gate(0.10, Bound::Upper, 1);
        gate.lanes = vec![Lane::Full];
        assert!(evaluate_gates(
            &[gate],
            &results(10, 0, 0),
            &CountingPolicy::default(),
            &Default::default(),
            Lane::Preflight,
            None
        )
        .is_empty());
    }
}
