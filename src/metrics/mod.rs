//! Metrics: counts, rates with confidence intervals, latency percentiles.
//!
//! Pure functions over [`CaseResult`]s; no I/O. The counting rules live in
//! one place ([`CountingPolicy::classify`]) so that every rate, breakdown and
//! gate agrees on what a target error or a `require_approval` means. The
//! default is pessimistic: a failing target can never improve a metric.

pub mod interval;
mod latency;
mod policy;
mod scores;
pub mod stats;
mod transforms;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

pub use interval::IntervalMethod;
pub use latency::{percentile_nearest_rank, LatencyHistogram, LatencySummary};
pub use policy::{Class, CountingPolicy, ErrorCounting};
pub use scores::{ScoreSummary, SCORE_BINS};
pub use transforms::{by_transform, originals_by_id, PairCounts, TransformStats};

use crate::corpus::{Decision, Label};
use crate::replay::CaseResult;

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
    fn merge(&mut self, other: &DecisionCounts) {
        self.total += other.total;
        self.allow += other.allow;
        self.block += other.block;
        self.require_approval += other.require_approval;
        self.error += other.error;
    }

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

impl Confusion {
    fn add(&mut self, class: Class) {
        match class {
            Class::TrueNegative => self.true_negatives += 1,
            Class::FalsePositive => self.false_positives += 1,
            Class::Detected => self.detected += 1,
            Class::AttackSuccess => self.attack_successes += 1,
            Class::Excluded => self.excluded_errors += 1,
        }
    }

    fn merge(&mut self, other: &Confusion) {
        self.true_negatives += other.true_negatives;
        self.false_positives += other.false_positives;
        self.detected += other.detected;
        self.attack_successes += other.attack_successes;
        self.excluded_errors += other.excluded_errors;
    }
}

/// A proportion with its interval. `value`, `low` and `high` are `null` when
/// the denominator is 0: no data is not 0%.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    let mut tally = Tally::default();
    for r in results {
        tally.add(r, policy);
    }
    tally.finish(policy)
}

/// [`compute`] over the results `keep` accepts, counted on every core.
pub fn compute_where(
    results: &[CaseResult],
    keep: impl Fn(&CaseResult) -> bool + Sync,
    policy: &CountingPolicy,
) -> MetricSet {
    use rayon::prelude::*;
    results
        .par_chunks(16 * 1024)
        .map(|chunk| {
            let mut tally = Tally::default();
            for r in chunk.iter().filter(|r| keep(r)) {
                tally.add(r, policy);
            }
            tally
        })
        .reduce(Tally::default, |mut a, b| {
            a.merge(b);
            a
        })
        .finish(policy)
}

/// What a [`MetricSet`] is computed from. Tallies of disjoint slices merge,
/// so a large run is counted on every core and the result does not depend
/// on how it was split.
#[derive(Default)]
struct Tally {
    benign: DecisionCounts,
    adversarial: DecisionCounts,
    confusion: Confusion,
    latencies: Vec<u64>,
    repeated: u64,
    flipped: u64,
    /// (expected, actual) → cases.
    decision_matrix: BTreeMap<(&'static str, &'static str), u64>,
}

impl Tally {
    fn add(&mut self, r: &CaseResult, policy: &CountingPolicy) {
        self.add_classified(r, policy.classify(r));
    }

    fn add_classified(&mut self, r: &CaseResult, class: Class) {
        if let Some(expected) = r.expected {
            *self.decision_matrix.entry((expected.as_str(), actual_name(r))).or_default() += 1;
        }
        if let Some(rep) = &r.repeats {
            self.repeated += 1;
            self.flipped += rep.flipped() as u64;
        }
        match r.label {
            Label::Benign => self.benign.add(r.decision),
            Label::Adversarial => self.adversarial.add(r.decision),
        }
        self.confusion.add(class);
        // A timed-out case waited at least this long: left out, a slow gate
        // would look fast. Other errors say nothing of the gate's speed.
        let timed_out = r.error.as_ref().is_some_and(|e| e.kind == crate::targets::ErrorKind::Timeout);
        if r.decision.is_some() || timed_out {
            self.latencies.push(r.latency_us);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.benign.merge(&other.benign);
        self.adversarial.merge(&other.adversarial);
        self.confusion.merge(&other.confusion);
        self.latencies.extend_from_slice(&other.latencies);
        self.repeated += other.repeated;
        self.flipped += other.flipped;
        for (cell, n) in other.decision_matrix {
            *self.decision_matrix.entry(cell).or_default() += n;
        }
    }

    fn finish(self, policy: &CountingPolicy) -> MetricSet {
        let Tally { benign, adversarial, confusion, latencies, repeated, flipped, decision_matrix: cells } = self;
        let benign_n = confusion.true_negatives + confusion.false_positives;
        let adversarial_n = confusion.detected + confusion.attack_successes;
        // Precision counts only real detections as true positives: an error on
        // an attack is not a catch, but an error on a benign case is a false alarm.
        let caught =
            adversarial.block + if policy.adversarial_approval_is_success { 0 } else { adversarial.require_approval };
        let total = benign.total + adversarial.total;
        let mut decision_matrix: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for ((expected, actual), n) in cells {
            decision_matrix.entry(expected.into()).or_default().insert(actual.into(), n);
        }
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
    /// Per leak kind (cases tagged `leak-kind:<kind>`): the real detection
    /// rate, attacks of that kind stopped by a detector of that kind / attacks
    /// of that kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_leak_kind: BTreeMap<String, Rate>,
    /// Conversation cases: blocked anywhere (benign) or never (attacks), and
    /// how many turns an attack got through before its block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<ConversationStats>,
    /// Mean cost per case over the decision matrix (`[counting.costs]`), if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted_cost: Option<f64>,
    pub latency_histogram: LatencyHistogram,
    /// Score spreads and the ROC curve, when the target gives scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<ScoreSummary>,
    /// Categories holding model output (`egress`) or conversations; the
    /// others hold prompts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub category_kinds: BTreeMap<String, String>,
    /// Robustness variants per transform chain, paired with their originals
    /// (`[transforms]`). Every other figure counts originals only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_transform: BTreeMap<String, TransformStats>,
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
    /// Kept for v1 readers, misnamed: the same number as
    /// `share-of-attacks-stopped`, not a detection rate (see `by-leak-kind`).
    pub detection_rate: Rate,
    /// Adversarial cases it fired on that were stopped / all adversarial
    /// cases of the direction: this detector's share of the stopped attacks.
    #[serde(default)]
    pub share_of_attacks_stopped: Rate,
}

/// Tallies by one key (category, source, …), borrowed from the results.
#[derive(Default)]
struct GroupTallies<'a> {
    slots: Vec<(&'a str, Tally)>,
    index: HashMap<&'a str, usize>,
    /// The previous result's slot: neighbours in a corpus usually share a key.
    last: usize,
}

impl<'a> GroupTallies<'a> {
    fn slot(&mut self, key: &'a str) -> &mut Tally {
        if self.slots.get(self.last).is_none_or(|(k, _)| *k != key) {
            let next = self.slots.len();
            self.last = *self.index.entry(key).or_insert(next);
            if self.last == next {
                self.slots.push((key, Tally::default()));
            }
        }
        &mut self.slots[self.last].1
    }

    fn merge(&mut self, other: GroupTallies<'a>) {
        for (key, tally) in other.slots {
            self.slot(key).merge(tally);
        }
    }

    fn finish(self, policy: &CountingPolicy) -> BTreeMap<String, MetricSet> {
        use rayon::prelude::*;
        let sets: Vec<(String, MetricSet)> =
            self.slots.into_par_iter().map(|(key, tally)| (key.to_string(), tally.finish(policy))).collect();
        sets.into_iter().collect()
    }
}

/// Per direction: benign and adversarial cases, and per reason code the
/// false positives and detections it was part of.
#[derive(Default)]
struct DetectorTally<'a> {
    totals: BTreeMap<&'static str, (u64, u64)>,
    fired: HashMap<(&'static str, &'a str), (u64, u64)>,
}

impl<'a> DetectorTally<'a> {
    fn add(&mut self, r: &'a CaseResult, class: Class) {
        let dir = direction_name(r);
        let total = self.totals.entry(dir).or_default();
        match r.label {
            Label::Benign => total.0 += 1,
            Label::Adversarial => total.1 += 1,
        }
        for reason in &r.reasons {
            let f = self.fired.entry((dir, reason)).or_default();
            match class {
                Class::FalsePositive => f.0 += 1,
                Class::Detected => f.1 += 1,
                _ => {}
            }
        }
    }

    fn merge(&mut self, other: DetectorTally<'a>) {
        for (dir, (b, a)) in other.totals {
            let t = self.totals.entry(dir).or_default();
            t.0 += b;
            t.1 += a;
        }
        for (key, (fp, det)) in other.fired {
            let f = self.fired.entry(key).or_default();
            f.0 += fp;
            f.1 += det;
        }
    }

    fn finish(self, policy: &CountingPolicy) -> BTreeMap<String, BTreeMap<String, DetectorStats>> {
        let mut out: BTreeMap<String, BTreeMap<String, DetectorStats>> = BTreeMap::new();
        for ((dir, reason), (fp, det)) in self.fired {
            let (benign, adversarial) = self.totals[dir];
            out.entry(dir.to_string()).or_default().insert(
                reason.to_string(),
                DetectorStats {
                    false_positive_rate: Rate::new(fp, benign, policy),
                    detection_rate: Rate::new(det, adversarial, policy),
                    share_of_attacks_stopped: Rate::new(det, adversarial, policy),
                },
            );
        }
        out
    }
}

fn direction_name(r: &CaseResult) -> &'static str {
    match r.direction {
        crate::corpus::Direction::Ingress => "ingress",
        crate::corpus::Direction::Egress => "egress",
    }
}

/// Everything [`compute_all`] gathers in its one pass.
#[derive(Default)]
struct RunTally<'a> {
    overall: Tally,
    by_category: GroupTallies<'a>,
    by_source: GroupTallies<'a>,
    by_direction: GroupTallies<'a>,
    by_tenant: GroupTallies<'a>,
    detectors: DetectorTally<'a>,
}

impl<'a> RunTally<'a> {
    fn add(&mut self, r: &'a CaseResult, policy: &CountingPolicy) {
        let class = policy.classify(r);
        self.overall.add_classified(r, class);
        self.by_category.slot(&r.category).add_classified(r, class);
        self.by_source.slot(&r.source).add_classified(r, class);
        self.by_direction.slot(direction_name(r)).add_classified(r, class);
        if let Some(tenant) = &r.tenant {
            self.by_tenant.slot(tenant).add_classified(r, class);
        }
        self.detectors.add(r, class);
    }

    fn merge(mut self, other: RunTally<'a>) -> RunTally<'a> {
        self.overall.merge(other.overall);
        self.by_category.merge(other.by_category);
        self.by_source.merge(other.by_source);
        self.by_direction.merge(other.by_direction);
        self.by_tenant.merge(other.by_tenant);
        self.detectors.merge(other.detectors);
        self
    }
}

/// Overall metrics and every breakdown, in one pass over the results split
/// across the cores.
pub fn compute_all(results: &[CaseResult], policy: &CountingPolicy) -> Metrics {
    use rayon::prelude::*;
    let tally = results
        .par_chunks(16 * 1024)
        .map(|chunk| {
            let mut tally = RunTally::default();
            for r in chunk {
                tally.add(r, policy);
            }
            tally
        })
        .reduce(RunTally::default, RunTally::merge);
    let latency_histogram = LatencyHistogram::from_latencies(tally.overall.latencies.iter().copied());
    let RunTally { overall, by_category, by_source, by_direction, by_tenant, detectors } = tally;
    let (overall, (by_category, (by_source, (by_direction, by_tenant)))) = rayon::join(
        || overall.finish(policy),
        || {
            rayon::join(
                || by_category.finish(policy),
                || {
                    rayon::join(
                        || by_source.finish(policy),
                        || rayon::join(|| by_direction.finish(policy), || by_tenant.finish(policy)),
                    )
                },
            )
        },
    );
    Metrics {
        overall,
        by_category,
        by_source,
        by_direction,
        by_tenant,
        by_detector: detectors.finish(policy),
        by_leak_kind: leak_kinds(results, policy),
        conversations: conversation_stats(results, policy),
        weighted_cost: None,
        latency_histogram,
        scores: scores::score_summary(results, policy),
        category_kinds: scores::category_kinds(results),
        by_transform: BTreeMap::new(),
    }
}

/// The detection rate per leak kind. A case of kind `K` is caught when it
/// is stopped and a reason `K` (or `K:…`, e.g. `secret:known-format` for
/// `secret`) fired: stopped by another detector is not this detector's catch.
fn leak_kinds(results: &[CaseResult], policy: &CountingPolicy) -> BTreeMap<String, Rate> {
    let mut counts: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in results.iter().filter(|r| r.label == Label::Adversarial) {
        for kind in r.tags.iter().filter_map(|t| t.strip_prefix("leak-kind:")) {
            let entry = counts.entry(kind).or_default();
            entry.0 += 1;
            let fired = r
                .reasons
                .iter()
                .any(|reason| reason.strip_prefix(kind).is_some_and(|rest| rest.is_empty() || rest.starts_with(':')));
            entry.1 += (fired && policy.classify(r) == Class::Detected) as u64;
        }
    }
    counts.into_iter().map(|(kind, (n, caught))| (kind.to_string(), Rate::new(caught, n, policy))).collect()
}

#[cfg(test)]
mod tests;
