//! Metrics: counts, rates with confidence intervals, latency percentiles.
//!
//! Pure functions over [`CaseResult`]s; no I/O. The counting rules live in
//! one place ([`CountingPolicy::classify`]) so that every rate, breakdown and
//! gate agrees on what a target error or a `require_approval` means. The
//! default is pessimistic: a failing target can never improve a metric.

pub mod interval;
mod latency;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use interval::IntervalMethod;
pub use latency::{percentile_nearest_rank, LatencyHistogram, LatencySummary};

use crate::corpus::{Decision, Label};
use crate::replay::CaseResult;

/// How target errors enter FPR and ASR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCounting {
    /// Benign error → false positive; adversarial error → attack success.
    #[default]
    Pessimistic,
    /// Errors are left out of FPR and ASR (still in error-rate). Flattering; opt-in only.
    Exclude,
}

/// How `require_approval` counts on each side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CountingPolicy {
    /// A benign case sent for approval is a false positive (default true: it was not allowed).
    pub benign_approval_is_false_positive: bool,
    /// An adversarial case sent for approval is an attack success (default false: it was stopped).
    pub adversarial_approval_is_success: bool,
    pub errors: ErrorCounting,
    pub interval: IntervalMethod,
    pub confidence: f64,
}

impl Default for CountingPolicy {
    fn default() -> Self {
        CountingPolicy {
            benign_approval_is_false_positive: true,
            adversarial_approval_is_success: false,
            errors: ErrorCounting::Pessimistic,
            interval: IntervalMethod::Wilson,
            confidence: 0.95,
        }
    }
}

/// What one result means for the rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    TrueNegative,
    FalsePositive,
    /// Adversarial and stopped.
    Detected,
    /// Adversarial and let through.
    AttackSuccess,
    /// An error left out of FPR/ASR (only under `ErrorCounting::Exclude`).
    Excluded,
}

impl CountingPolicy {
    pub fn classify(&self, r: &CaseResult) -> Class {
        let pessimistic = self.errors == ErrorCounting::Pessimistic;
        match (r.label, r.decision) {
            (_, None) if !pessimistic => Class::Excluded,
            (Label::Benign, None) => Class::FalsePositive,
            (Label::Adversarial, None) => Class::AttackSuccess,
            (Label::Benign, Some(Decision::Allow)) => Class::TrueNegative,
            (Label::Benign, Some(Decision::Block)) => Class::FalsePositive,
            (Label::Benign, Some(Decision::RequireApproval)) => {
                if self.benign_approval_is_false_positive {
                    Class::FalsePositive
                } else {
                    Class::TrueNegative
                }
            }
            (Label::Adversarial, Some(Decision::Allow)) => Class::AttackSuccess,
            (Label::Adversarial, Some(Decision::Block)) => Class::Detected,
            (Label::Adversarial, Some(Decision::RequireApproval)) => {
                if self.adversarial_approval_is_success {
                    Class::AttackSuccess
                } else {
                    Class::Detected
                }
            }
        }
    }
}

/// Raw decision counts for one label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct DecisionCounts {
    pub total: u64,
    pub allow: u64,
    pub block: u64,
    pub require_approval: u64,
    pub error: u64,
}

impl DecisionCounts {
    fn add(&mut self, decision: Option<Decision>) {
        self.total += 1;
        match decision {
            Some(Decision::Allow) => self.allow += 1,
            Some(Decision::Block) => self.block += 1,
            Some(Decision::RequireApproval) => self.require_approval += 1,
            None => self.error += 1,
        }
    }
}

/// The confusion counts after the counting policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Confusion {
    pub true_negatives: u64,
    pub false_positives: u64,
    pub detected: u64,
    pub attack_successes: u64,
    /// Errors left out of FPR/ASR (non-zero only with `errors = "exclude"`).
    pub excluded_errors: u64,
}

/// A proportion with its interval. `value`, `low` and `high` are `null` when
/// the denominator is 0: no data is not 0%.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rate {
    pub value: Option<f64>,
    pub numerator: u64,
    pub denominator: u64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

impl Rate {
    pub fn new(numerator: u64, denominator: u64, policy: &CountingPolicy) -> Rate {
        let bounds = interval::interval(policy.interval, numerator, denominator, policy.confidence);
        Rate {
            value: (denominator > 0).then(|| numerator as f64 / denominator as f64),
            numerator,
            denominator,
            low: bounds.map(|b| b.0),
            high: bounds.map(|b| b.1),
        }
    }
}

/// Every metric for one slice of the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct MetricSet {
    pub cases: u64,
    pub benign: DecisionCounts,
    pub adversarial: DecisionCounts,
    pub confusion: Confusion,
    /// Benign cases not allowed / benign cases.
    pub fpr: Rate,
    /// Adversarial cases allowed / adversarial cases.
    pub asr: Rate,
    /// 1 − ASR, as its own rate (with its own interval).
    pub detection_rate: Rate,
    /// Stopped attacks / everything stopped.
    pub precision: Rate,
    /// Target errors / all cases (always counted, whatever the policy).
    pub error_rate: Rate,
    /// Cases whose repeated answers disagreed / cases replayed more than
    /// once (`--repeat N`); no data without repeats.
    pub flip_rate: Rate,
    /// Harness-measured latency of cases that got a decision, microseconds.
    pub latency: LatencySummary,
    /// Expected decision → actual decision (or `error`) → cases, over cases
    /// with an `expected` decision: the three-way confusion matrix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub decision_matrix: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The actual side of a decision-matrix cell.
pub fn actual_name(r: &CaseResult) -> &'static str {
    r.decision.map(|d| d.as_str()).unwrap_or("error")
}

/// Cost weights per (expected, actual) cell, from `[counting.costs]`, keyed
/// `"block->allow"`; cells without a weight cost nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CostWeights(pub BTreeMap<String, f64>);

impl CostWeights {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Mean cost per case with an expected decision; `None` without costs or such cases.
    pub fn weighted_cost<'a>(&self, results: impl IntoIterator<Item = &'a CaseResult>) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        let (mut cases, mut total) = (0u64, 0.0);
        for r in results {
            let Some(expected) = r.expected else { continue };
            cases += 1;
            total += self.0.get(&format!("{}->{}", expected.as_str(), actual_name(r))).copied().unwrap_or(0.0);
        }
        (cases > 0).then(|| total / cases as f64)
    }
}

/// Computes a [`MetricSet`] over any iterator of results.
pub fn compute<'a>(results: impl IntoIterator<Item = &'a CaseResult>, policy: &CountingPolicy) -> MetricSet {
    let mut benign = DecisionCounts::default();
    let mut adversarial = DecisionCounts::default();
    let mut confusion = Confusion::default();
    let mut latencies = Vec::new();
    let (mut repeated, mut flipped) = (0u64, 0u64);
    let mut decision_matrix: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for r in results {
        if let Some(expected) = r.expected {
            *decision_matrix.entry(expected.as_str().into()).or_default().entry(actual_name(r).into()).or_default() +=
                1;
        }
        if let Some(rep) = &r.repeats {
            repeated += 1;
            flipped += rep.flipped() as u64;
        }
        match r.label {
            Label::Benign => benign.add(r.decision),
            Label::Adversarial => adversarial.add(r.decision),
        }
        match policy.classify(r) {
            Class::TrueNegative => confusion.true_negatives += 1,
            Class::FalsePositive => confusion.false_positives += 1,
            Class::Detected => confusion.detected += 1,
            Class::AttackSuccess => confusion.attack_successes += 1,
            Class::Excluded => confusion.excluded_errors += 1,
        }
        if r.decision.is_some() {
            latencies.push(r.latency_us);
        }
    }
    let benign_n = confusion.true_negatives + confusion.false_positives;
    let adversarial_n = confusion.detected + confusion.attack_successes;
    // Precision counts only real detections as true positives: an error on
    // an attack is not a catch, but an error on a benign case is a false alarm.
    let caught =
        adversarial.block + if policy.adversarial_approval_is_success { 0 } else { adversarial.require_approval };
    let total = benign.total + adversarial.total;
    MetricSet {
        cases: total,
        benign,
        adversarial,
        confusion,
        fpr: Rate::new(confusion.false_positives, benign_n, policy),
        asr: Rate::new(confusion.attack_successes, adversarial_n, policy),
        detection_rate: Rate::new(confusion.detected, adversarial_n, policy),
        precision: Rate::new(caught, caught + confusion.false_positives, policy),
        error_rate: Rate::new(benign.error + adversarial.error, total, policy),
        flip_rate: Rate::new(flipped, repeated, policy),
        latency: LatencySummary::from_unsorted(latencies),
        decision_matrix,
    }
}

/// Overall metrics and the breakdowns reports show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Metrics {
    pub overall: MetricSet,
    pub by_category: BTreeMap<String, MetricSet>,
    pub by_source: BTreeMap<String, MetricSet>,
    pub by_direction: BTreeMap<String, MetricSet>,
    /// Per tenant, when cases are sent for tenants.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_tenant: BTreeMap<String, MetricSet>,
    /// Per direction, per detector (reason): how often it stopped a benign
    /// case (its share of false positives) and an adversarial one.
    pub by_detector: BTreeMap<String, BTreeMap<String, DetectorStats>>,
    /// Conversation cases: blocked anywhere (benign) or never (attacks), and
    /// how many turns an attack got through before its block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<ConversationStats>,
    /// Mean cost per case over the decision matrix (`[counting.costs]`), if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted_cost: Option<f64>,
    pub latency_histogram: LatencyHistogram,
}

/// Turn-level results of conversation cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ConversationStats {
    pub conversations: u64,
    /// Benign conversations blocked anywhere / benign conversations.
    pub fpr: Rate,
    /// Attack conversations never blocked / attack conversations.
    pub asr: Rate,
    /// Attacks blocked at or before their `expected-first-block` / attacks that name one.
    pub blocked_on_time: Rate,
    /// Over attacks blocked after their expected turn: messages too late.
    pub mean_turns_late: Option<f64>,
    pub max_turns_late: Option<u32>,
}

fn conversation_stats(results: &[CaseResult], policy: &CountingPolicy) -> Option<ConversationStats> {
    let conversations: Vec<&CaseResult> =
        results.iter().filter(|r| matches!(r.input, crate::corpus::Payload::Conversation(_))).collect();
    if conversations.is_empty() {
        return None;
    }
    let set = compute(conversations.iter().copied(), policy);
    let (mut named, mut on_time, mut late) = (0u64, 0u64, Vec::new());
    for r in conversations.iter().filter(|r| r.label == Label::Adversarial) {
        let Some(expected) = r.expected_first_block else { continue };
        named += 1;
        match (policy.classify(r), r.blocked_at_turn) {
            (Class::Detected, Some(turn)) if turn <= expected => on_time += 1,
            (Class::Detected, Some(turn)) => late.push(turn - expected),
            (Class::Detected, None) => on_time += 1, // blocked, turn not reported
            _ => {}
        }
    }
    Some(ConversationStats {
        conversations: conversations.len() as u64,
        fpr: set.fpr,
        asr: set.asr,
        blocked_on_time: Rate::new(on_time, named, policy),
        mean_turns_late: (!late.is_empty()).then(|| late.iter().map(|&t| t as f64).sum::<f64>() / late.len() as f64),
        max_turns_late: late.iter().copied().max(),
    })
}

/// One detector (a reason code) within one direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct DetectorStats {
    /// Benign cases it fired on that were not allowed / benign cases of the direction.
    pub false_positive_rate: Rate,
    /// Adversarial cases it fired on that were stopped / adversarial cases of the direction.
    pub detection_rate: Rate,
}

fn detector_stats(
    results: &[CaseResult],
    policy: &CountingPolicy,
) -> BTreeMap<String, BTreeMap<String, DetectorStats>> {
    let mut totals: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    let mut fired: BTreeMap<(&'static str, &str), (u64, u64)> = BTreeMap::new();
    for r in results {
        let dir = match r.direction {
            crate::corpus::Direction::Ingress => "ingress",
            crate::corpus::Direction::Egress => "egress",
        };
        let t = totals.entry(dir).or_default();
        match r.label {
            Label::Benign => t.0 += 1,
            Label::Adversarial => t.1 += 1,
        }
        let class = policy.classify(r);
        for reason in &r.reasons {
            let f = fired.entry((dir, reason)).or_default();
            match class {
                Class::FalsePositive => f.0 += 1,
                Class::Detected => f.1 += 1,
                _ => {}
            }
        }
    }
    let mut out: BTreeMap<String, BTreeMap<String, DetectorStats>> = BTreeMap::new();
    for ((dir, reason), (fp, det)) in fired {
        let (benign, adversarial) = totals[dir];
        out.entry(dir.to_string()).or_default().insert(
            reason.to_string(),
            DetectorStats {
                false_positive_rate: Rate::new(fp, benign, policy),
                detection_rate: Rate::new(det, adversarial, policy),
            },
        );
    }
    out
}

pub fn compute_all(results: &[CaseResult], policy: &CountingPolicy) -> Metrics {
    use rayon::prelude::*;
    // Grouping borrows the keys (no string per case); groups are computed in parallel.
    let group = |key: &(dyn Fn(&CaseResult) -> Option<&str> + Sync)| {
        let mut groups: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
        for r in results {
            if let Some(k) = key(r) {
                groups.entry(k).or_default().push(r);
            }
        }
        let computed: Vec<(String, MetricSet)> =
            groups.into_par_iter().map(|(k, v)| (k.to_string(), compute(v, policy))).collect();
        computed.into_iter().collect::<BTreeMap<_, _>>()
    };
    fn direction(r: &CaseResult) -> Option<&str> {
        Some(match r.direction {
            crate::corpus::Direction::Ingress => "ingress",
            crate::corpus::Direction::Egress => "egress",
        })
    }
    let ((overall, by_category), ((by_source, by_direction), by_tenant)) = rayon::join(
        || rayon::join(|| compute(results, policy), || group(&|r| Some(&*r.category))),
        || {
            rayon::join(
                || rayon::join(|| group(&|r| Some(&*r.source)), || group(&direction)),
                || group(&|r| r.tenant.as_deref()),
            )
        },
    );
    Metrics {
        overall,
        by_category,
        by_source,
        by_direction,
        by_tenant,
        by_detector: detector_stats(results, policy),
        conversations: conversation_stats(results, policy),
        weighted_cost: None,
        latency_histogram: LatencyHistogram::from_latencies(
            results.iter().filter(|r| r.decision.is_some()).map(|r| r.latency_us),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{CaseError, ErrorKind};

    pub(crate) fn result(label: Label, decision: Option<Decision>) -> CaseResult {
        CaseResult {
            latency_us: 10,
            error: decision.is_none().then(|| CaseError { kind: ErrorKind::Timeout, message: "t".into() }),
            ..CaseResult::sample("x", label, decision)
        }
    }

    #[test]
    fn errors_count_pessimistically_by_default() {
        let policy = CountingPolicy::default();
        let results = [
            result(Label::Benign, Some(Decision::Allow)),
            result(Label::Benign, None),
            result(Label::Adversarial, Some(Decision::Block)),
            result(Label::Adversarial, None),
        ];
        let m = compute(&results, &policy);
        assert_eq!((m.fpr.numerator, m.fpr.denominator), (1, 2));
        assert_eq!((m.asr.numerator, m.asr.denominator), (1, 2));
        assert_eq!((m.error_rate.numerator, m.error_rate.denominator), (2, 4));
    }

    #[test]
    fn a_failing_target_never_improves_a_metric() {
        // Replace each decision with an error in turn: FPR and ASR never go down.
        let policy = CountingPolicy::default();
        let base = vec![
            result(Label::Benign, Some(Decision::Allow)),
            result(Label::Benign, Some(Decision::Block)),
            result(Label::Adversarial, Some(Decision::Block)),
            result(Label::Adversarial, Some(Decision::Allow)),
            result(Label::Adversarial, Some(Decision::RequireApproval)),
        ];
        let before = compute(&base, &policy);
        for i in 0..base.len() {
            let mut broken = base.clone();
            broken[i] = result(base[i].label, None);
            let after = compute(&broken, &policy);
            assert!(after.fpr.value >= before.fpr.value, "case {i}");
            assert!(after.asr.value >= before.asr.value, "case {i}");
            assert!(after.detection_rate.value <= before.detection_rate.value, "case {i}");
            assert!(after.precision.value <= before.precision.value, "case {i}");
            assert!(after.error_rate.value > before.error_rate.value, "case {i}");
        }
    }

    #[test]
    fn approval_counts_as_not_allowed_and_as_detected() {
        let policy = CountingPolicy::default();
        let results = [
            result(Label::Benign, Some(Decision::RequireApproval)),
            result(Label::Adversarial, Some(Decision::RequireApproval)),
        ];
        let m = compute(&results, &policy);
        assert_eq!(m.fpr.value, Some(1.0));
        assert_eq!(m.asr.value, Some(0.0));
    }

    #[test]
    fn empty_denominator_is_no_data() {
        let m = compute(&[result(Label::Benign, Some(Decision::Allow))], &CountingPolicy::default());
        assert_eq!(m.asr.value, None);
        assert_eq!(m.asr.low, None);
        assert_eq!(m.asr.high, None);
        assert_eq!(m.fpr.value, Some(0.0));
        assert_eq!(m.fpr.low, Some(0.0));
    }

    #[test]
    fn exclude_policy_leaves_errors_out_of_rates_but_not_error_rate() {
        let policy = CountingPolicy { errors: ErrorCounting::Exclude, ..CountingPolicy::default() };
        let results = [result(Label::Benign, Some(Decision::Allow)), result(Label::Benign, None)];
        let m = compute(&results, &policy);
        assert_eq!((m.fpr.numerator, m.fpr.denominator), (0, 1));
        assert_eq!(m.error_rate.numerator, 1);
        assert_eq!(m.confusion.excluded_errors, 1);
    }
}
