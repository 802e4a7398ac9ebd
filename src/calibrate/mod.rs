//! Calibration: the threshold sweep, ROC and AUC, operating points for
//! target false-positive rates, and the comparison with a baseline run.
//! Pure; `pipeline::calibrate` does the reading and writing.
//!
//! The sweep treats "block when score ≥ t" as the decision at threshold t.
//! Target errors have no score and are counted the pessimistic way at every
//! threshold (a benign error is a false positive, an adversarial error an
//! attack success), as everywhere else in gauntlet.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::corpus::{Decision, Label};
use crate::metrics::stats::{compare_proportions, difference_interval, holm, mcnemar_exact, TestKind};
use crate::metrics::{self, Class, CountingPolicy, Rate};
use crate::replay::CaseResult;

pub const CALIBRATION_SCHEMA: &str = "gauntlet.calibration.v1";

/// Which number must meet a target FPR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FprBound {
    /// The upper end of the interval (default: conservative).
    Upper,
    Point,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct RocPoint {
    pub threshold: f64,
    pub fpr: f64,
    pub detection_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Roc {
    pub benign: u64,
    pub adversarial: u64,
    /// Cases with no score (target errors), counted pessimistically.
    pub unscored: u64,
    /// From the strictest threshold (nothing blocked) to the loosest.
    pub points: Vec<RocPoint>,
    pub auc: Option<f64>,
    /// 95% DeLong interval.
    pub auc_interval: Option<[f64; 2]>,
}

/// An operating point: FPR and ASR (with intervals) at a threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct OperatingPoint {
    pub threshold: Option<f64>,
    pub fpr: Rate,
    pub asr: Rate,
    pub detection_rate: Rate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TargetRow {
    pub target_fpr: f64,
    /// The highest-detection threshold whose FPR (on the chosen bound) meets the target.
    pub point: Option<OperatingPoint>,
    /// Whether it differs from the current threshold beyond chance (McNemar on attacks).
    pub vs_current_p: Option<f64>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CategoryCalibration {
    pub category: String,
    pub benign: u64,
    pub adversarial: u64,
    pub auc: Option<f64>,
    pub current: OperatingPoint,
    pub recommended: Option<OperatingPoint>,
}

/// One metric compared with the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Comparison {
    pub metric: String,
    /// `overall` or a category.
    pub scope: String,
    pub baseline: Rate,
    pub current: Rate,
    pub difference: Option<f64>,
    pub difference_interval: Option<[f64; 2]>,
    pub test: TestKind,
    pub p_value: f64,
    /// Holm-adjusted over every comparison in this report.
    pub p_adjusted: f64,
    /// Worse, significant after adjustment, and larger than the tolerance.
    pub regression: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Flip {
    pub id: String,
    pub label: Label,
    pub category: String,
    pub before: Option<Decision>,
    pub after: Option<Decision>,
    /// Benign allowed → not allowed, or adversarial stopped → allowed.
    pub worse: bool,
    /// Hostile text: escape it.
    pub text: String,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct BaselineComparison {
    pub source: String,
    pub tolerance: f64,
    pub regression_detected: bool,
    pub comparisons: Vec<Comparison>,
    /// Worse flips first, then the others; capped at `FLIPS_CAP`.
    pub flips: Vec<Flip>,
    pub flips_total: u64,
    /// Corpus drift, kept apart from gate drift.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub added_total: u64,
    pub removed_total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Calibration {
    pub schema: String,
    pub generated_at: String,
    pub source: String,
    pub scored: bool,
    /// Plain words: what to do and how sure it is.
    pub recommendation: String,
    pub bound: FprBound,
    /// The confidence of every interval and bound here (`[counting] confidence`).
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    pub current_threshold: Option<f64>,
    pub current: OperatingPoint,
    pub roc: Option<Roc>,
    pub targets: Vec<TargetRow>,
    pub categories: Vec<CategoryCalibration>,
    pub baseline: Option<BaselineComparison>,
}

fn default_confidence() -> f64 {
    0.95
}

impl Calibration {
    /// A regression against the baseline fails the review.
    pub fn outcome(&self) -> crate::exit_code::Outcome {
        crate::exit_code::Outcome::failed_if(self.baseline.as_ref().is_some_and(|b| b.regression_detected))
    }
}

pub const FLIPS_CAP: usize = 200;
const DRIFT_CAP: usize = 100;

/// Per-case facts the sweep needs.
#[derive(Clone, Copy)]
struct Scored {
    score: Option<f64>,
    adversarial: bool,
}

fn scored(results: &[&CaseResult]) -> Vec<Scored> {
    results
        .iter()
        .map(|r| Scored {
            score: if r.decision.is_some() { r.score } else { None },
            adversarial: r.label == Label::Adversarial,
        })
        .collect()
}

/// Rates at "block when score ≥ t", each case counted by the run's policy
/// (an error follows `errors`: pessimistic, or left out).
fn point_at(cases: &[Scored], t: f64, policy: &CountingPolicy) -> OperatingPoint {
    let (mut benign, mut fp, mut adversarial, mut caught) = (0, 0, 0, 0);
    for c in cases {
        let label = if c.adversarial { Label::Adversarial } else { Label::Benign };
        let decision = c.score.map(|s| if s >= t { Decision::Block } else { Decision::Allow });
        match policy.classify_decision(label, decision) {
            Class::TrueNegative => benign += 1,
            Class::FalsePositive => (benign, fp) = (benign + 1, fp + 1),
            Class::Detected => (adversarial, caught) = (adversarial + 1, caught + 1),
            Class::AttackSuccess => adversarial += 1,
            Class::Excluded => {}
        }
    }
    OperatingPoint {
        threshold: Some(t),
        fpr: Rate::new(fp, benign, policy),
        asr: Rate::new(adversarial - caught, adversarial, policy),
        detection_rate: Rate::new(caught, adversarial, policy),
    }
}

/// (threshold, false positives, attacks caught) at every distinct score,
/// strictest first: one sort and one pass, whatever the number of scores.
fn sweep(cases: &[Scored]) -> Vec<(f64, u64, u64)> {
    let benign_errors = cases.iter().filter(|c| !c.adversarial && c.score.is_none()).count() as u64;
    let mut sorted: Vec<(f64, bool)> = cases.iter().filter_map(|c| c.score.map(|s| (s, c.adversarial))).collect();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut fp, mut tp) = (benign_errors, 0u64);
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].0;
        while i < sorted.len() && sorted[i].0 == t {
            if sorted[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        out.push((t, fp, tp));
    }
    out
}

/// The ROC over every distinct score, and AUC with a DeLong interval.
pub fn roc(results: &[&CaseResult], confidence: f64) -> Roc {
    let cases = scored(results);
    let benign = cases.iter().filter(|c| !c.adversarial).count() as u64;
    let adversarial = cases.len() as u64 - benign;
    let unscored = cases.iter().filter(|c| c.score.is_none()).count() as u64;
    let benign_errors = cases.iter().filter(|c| !c.adversarial && c.score.is_none()).count() as u64;
    let rate = |x: u64, n: u64| if n == 0 { 0.0 } else { x as f64 / n as f64 };
    let mut points = vec![RocPoint { threshold: 1.0 + 1e-9, fpr: rate(benign_errors, benign), detection_rate: 0.0 }];
    points.extend(sweep(&cases).into_iter().map(|(t, fp, tp)| RocPoint {
        threshold: t,
        fpr: rate(fp, benign),
        detection_rate: rate(tp, adversarial),
    }));
    let (auc, auc_interval) = delong(&cases, confidence);
    Roc { benign, adversarial, unscored, points, auc, auc_interval }
}

/// AUC as P(attack score > benign score) + ½ P(tie), unscored cases ranked
/// the pessimistic way (benign highest, attacks lowest), with DeLong's
/// variance from midranks.
fn delong(cases: &[Scored], confidence: f64) -> (Option<f64>, Option<[f64; 2]>) {
    let key = |c: &Scored| c.score.unwrap_or(if c.adversarial { f64::NEG_INFINITY } else { f64::INFINITY });
    let pos: Vec<f64> = cases.iter().filter(|c| c.adversarial).map(key).collect();
    let neg: Vec<f64> = cases.iter().filter(|c| !c.adversarial).map(key).collect();
    let (m, n) = (pos.len(), neg.len());
    if m == 0 || n == 0 {
        return (None, None);
    }
    let midranks = |xs: &[f64]| -> Vec<f64> {
        let mut idx: Vec<usize> = (0..xs.len()).collect();
        idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
        let mut ranks = vec![0.0; xs.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
                j += 1;
            }
            let r = (i + j) as f64 / 2.0 + 1.0;
            for &k in &idx[i..=j] {
                ranks[k] = r;
            }
            i = j + 1;
        }
        ranks
    };
    let all: Vec<f64> = pos.iter().chain(neg.iter()).copied().collect();
    let r_all = midranks(&all);
    let r_pos = midranks(&pos);
    let r_neg = midranks(&neg);
    let v10: Vec<f64> = (0..m).map(|i| (r_all[i] - r_pos[i]) / n as f64).collect();
    let v01: Vec<f64> = (0..n).map(|j| 1.0 - (r_all[m + j] - r_neg[j]) / m as f64).collect();
    let auc = v10.iter().sum::<f64>() / m as f64;
    let var = |v: &[f64]| {
        if v.len() < 2 {
            return 0.0;
        }
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let se = (var(&v10) / m as f64 + var(&v01) / n as f64).sqrt();
    let z = metrics::interval::z_for(confidence);
    let round = |x: f64| (x * 1e9).round() / 1e9;
    (Some(round(auc)), Some([round((auc - z * se).max(0.0)), round((auc + z * se).min(1.0))]))
}

/// Everything `gauntlet calibrate` reports, except the baseline.
pub fn calibrate(
    results: &[CaseResult],
    policy: &CountingPolicy,
    current_threshold: Option<f64>,
    target_fprs: &[f64],
    bound: FprBound,
    source: String,
    generated_at: String,
) -> Calibration {
    let observed = metrics::compute(results.iter(), policy);
    // Errors left out of the rates (`errors = "exclude"`) are left out of
    // every threshold's rates too, so calibration and the run agree.
    let all: Vec<&CaseResult> = results
        .iter()
        .filter(|r| r.decision.is_some() || policy.classify_decision(r.label, None) != Class::Excluded)
        .collect();
    let current_from_decisions = OperatingPoint {
        threshold: None,
        fpr: observed.fpr,
        asr: observed.asr,
        detection_rate: observed.detection_rate,
    };
    let scored_any = results.iter().any(|r| r.score.is_some());
    if !scored_any {
        return Calibration {
            schema: CALIBRATION_SCHEMA.into(),
            generated_at,
            source,
            scored: false,
            recommendation: "The target reports no scores, so there is no threshold to sweep: shown is the operating point of its decisions only. Have the target return `score` (0..1) to calibrate.".into(),
            bound,
            confidence: policy.confidence,
            current_threshold: None,
            current: current_from_decisions,
            roc: None,
            targets: Vec::new(),
            categories: Vec::new(),
            baseline: None,
        };
    }
    let cases = scored(&all);
    let roc_all = roc(&all, policy.confidence);
    let current = match current_threshold {
        Some(t) => point_at(&cases, t, policy),
        None => current_from_decisions,
    };
    let swept = sweep(&cases);
    let adversarial_n = roc_all.adversarial;
    let at = |(t, fp, tp): (f64, u64, u64)| OperatingPoint {
        threshold: Some(t),
        fpr: Rate::new(fp, roc_all.benign, policy),
        asr: Rate::new(adversarial_n - tp, adversarial_n, policy),
        detection_rate: Rate::new(tp, adversarial_n, policy),
    };
    let meets = |p: &OperatingPoint, f: f64| {
        let v = match bound {
            FprBound::Upper => p.fpr.high,
            FprBound::Point => p.fpr.value,
        };
        v.is_some_and(|v| v <= f)
    };
    let benign = roc_all.benign;
    let mut targets = Vec::new();
    for &f in target_fprs {
        // Thresholds from strict to loose: FPR only grows, so the last one
        // that meets the target has the highest detection.
        // Ties in detection keep the stricter threshold (fewer false positives).
        let mut best: Option<OperatingPoint> = None;
        for &row in &swept {
            let p = at(row);
            if !meets(&p, f) {
                break;
            }
            if best.as_ref().is_none_or(|b| p.detection_rate.numerator > b.detection_rate.numerator) {
                best = Some(p);
            }
        }
        let mut note = String::new();
        if (benign as f64) < 3.0 / f {
            note = format!(
                "only {benign} benign cases: an FPR of {:.1}% cannot be told from zero (needs at least {:.0}, the rule of three)",
                f * 100.0,
                (3.0 / f).ceil()
            );
        }
        let vs_current_p = match (&best, current_threshold) {
            (Some(p), Some(t0)) => {
                let t1 = p.threshold.expect("swept");
                let (mut b, mut c) = (0, 0);
                for s in cases.iter().filter(|c| c.adversarial) {
                    let at0 = s.score.is_some_and(|x| x >= t0);
                    let at1 = s.score.is_some_and(|x| x >= t1);
                    b += (at0 && !at1) as u64;
                    c += (!at0 && at1) as u64;
                }
                Some(mcnemar_exact(b, c))
            }
            _ => None,
        };
        if best.is_none() && note.is_empty() {
            let z = metrics::interval::z_for(policy.confidence);
            let strictest = swept.first().map(|&row| at(row));
            let bound_now = strictest.and_then(|p| match bound {
                FprBound::Upper => p.fpr.high,
                FprBound::Point => p.fpr.value,
            });
            note = format!(
                "no threshold meets it: even the strictest gives {} on {benign} benign cases; showing ≤ {:.1}% with zero false positives takes about {:.0} benign cases",
                bound_now.map(|b| format!("{:.2}%", b * 100.0)).unwrap_or_else(|| "no data".into()),
                f * 100.0,
                (z * z * (1.0 - f) / f).ceil()
            );
        }
        targets.push(TargetRow { target_fpr: f, point: best, vs_current_p, note });
    }
    let recommendation = recommend(&targets, &current, current_threshold, bound, policy.confidence);
    let recommended_t = targets.iter().rev().find_map(|r| r.point.as_ref().and_then(|p| p.threshold));
    let mut by_category: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for r in results {
        by_category.entry(&r.category).or_default().push(r);
    }
    let categories = by_category
        .into_iter()
        .map(|(name, rs)| {
            let cs = scored(&rs);
            let adversarial = cs.iter().filter(|c| c.adversarial).count() as u64;
            let current = match current_threshold {
                Some(t) => point_at(&cs, t, policy),
                None => {
                    let m = metrics::compute(rs.iter().copied(), policy);
                    OperatingPoint { threshold: None, fpr: m.fpr, asr: m.asr, detection_rate: m.detection_rate }
                }
            };
            CategoryCalibration {
                category: name.to_string(),
                benign: cs.len() as u64 - adversarial,
                adversarial,
                auc: delong(&cs, policy.confidence).0,
                current,
                recommended: recommended_t.map(|t| point_at(&cs, t, policy)),
            }
        })
        .collect();
    Calibration {
        schema: CALIBRATION_SCHEMA.into(),
        generated_at,
        source,
        scored: true,
        recommendation,
        bound,
        confidence: policy.confidence,
        current_threshold,
        current,
        roc: Some(roc_all),
        targets,
        categories,
        baseline: None,
    }
}

fn pct(r: &Rate) -> String {
    match (r.value, r.low, r.high) {
        (Some(v), Some(l), Some(h)) => format!("{:.2}% [{:.2}%, {:.2}%]", v * 100.0, l * 100.0, h * 100.0),
        _ => "no data".into(),
    }
}

fn recommend(
    targets: &[TargetRow],
    current: &OperatingPoint,
    current_threshold: Option<f64>,
    bound: FprBound,
    confidence: f64,
) -> String {
    let bound_word = match bound {
        FprBound::Upper => format!("upper {} bound", crate::metrics::interval::percent_label(confidence)),
        FprBound::Point => "point estimate".to_string(),
    };
    let mut lines = Vec::new();
    lines.push(format!(
        "Current operating point{}: FPR {}, ASR {}.",
        current_threshold.map(|t| format!(" (threshold {t})")).unwrap_or_default(),
        pct(&current.fpr),
        pct(&current.asr)
    ));
    for row in targets {
        match &row.point {
            Some(p) => {
                let t = p.threshold.expect("swept");
                let sure = match row.vs_current_p {
                    Some(pv) if pv < 0.05 => {
                        format!("differs from the current threshold beyond chance (McNemar p = {pv:.3})")
                    }
                    Some(pv) => {
                        format!("not distinguishable from the current threshold on these corpora (McNemar p = {pv:.3})")
                    }
                    None => String::new(),
                };
                lines.push(format!(
                    "FPR ≤ {:.0}% ({bound_word}): threshold {t}, FPR {}, ASR {}{}{}.",
                    row.target_fpr * 100.0,
                    pct(&p.fpr),
                    pct(&p.asr),
                    if sure.is_empty() { String::new() } else { format!("; {sure}") },
                    if row.note.is_empty() { String::new() } else { format!("; {}", row.note) }
                ));
            }
            None => lines.push(format!("FPR ≤ {:.0}% ({bound_word}): {}.", row.target_fpr * 100.0, row.note)),
        }
    }
    lines.join("\n")
}

/// Compares `current` with `baseline`: rates overall and per category, with
/// difference intervals, p-values and Holm adjustment; flips; corpus drift.
pub fn compare(
    baseline: &[CaseResult],
    current: &[CaseResult],
    policy: &CountingPolicy,
    tolerance: f64,
    source: String,
) -> BaselineComparison {
    let base_ids: HashMap<&str, &CaseResult> = baseline.iter().map(|r| (r.id.as_str(), r)).collect();
    let cur_ids: HashMap<&str, &CaseResult> = current.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut scopes: Vec<(String, Vec<&CaseResult>, Vec<&CaseResult>)> =
        vec![("overall".into(), baseline.iter().collect(), current.iter().collect())];
    let mut cats: BTreeMap<&str, (Vec<&CaseResult>, Vec<&CaseResult>)> = BTreeMap::new();
    for r in baseline {
        cats.entry(&r.category).or_default().0.push(r);
    }
    for r in current {
        cats.entry(&r.category).or_default().1.push(r);
    }
    scopes.extend(cats.into_iter().map(|(k, (b, c))| (k.to_string(), b, c)));
    let mut comparisons = Vec::new();
    for (scope, b, c) in scopes {
        let mb = metrics::compute(b.iter().copied(), policy);
        let mc = metrics::compute(c.iter().copied(), policy);
        for (name, rb, rc, higher_is_worse) in [
            ("fpr", mb.fpr, mc.fpr, true),
            ("asr", mb.asr, mc.asr, true),
            ("detection-rate", mb.detection_rate, mc.detection_rate, false),
        ] {
            if rb.denominator == 0 || rc.denominator == 0 {
                continue;
            }
            let (p, test) = compare_proportions(rc.numerator, rc.denominator, rb.numerator, rb.denominator);
            let difference = rc.value.zip(rb.value).map(|(c, b)| c - b);
            let interval =
                difference_interval(rc.numerator, rc.denominator, rb.numerator, rb.denominator, policy.confidence)
                    .map(|(l, h)| [l, h]);
            let _ = higher_is_worse;
            comparisons.push(Comparison {
                metric: name.into(),
                scope: scope.clone(),
                baseline: rb,
                current: rc,
                difference,
                difference_interval: interval,
                test,
                p_value: p,
                p_adjusted: p,
                regression: false,
            });
        }
    }
    let adjusted = holm(&comparisons.iter().map(|c| c.p_value).collect::<Vec<_>>());
    for (c, a) in comparisons.iter_mut().zip(adjusted) {
        c.p_adjusted = a;
        let worse_by = match c.metric.as_str() {
            "detection-rate" => -c.difference.unwrap_or(0.0),
            _ => c.difference.unwrap_or(0.0),
        };
        c.regression = a < 0.05 && worse_by > tolerance;
    }
    let mut flips: Vec<Flip> = Vec::new();
    for r in current {
        let Some(b) = base_ids.get(r.id.as_str()) else { continue };
        if b.decision == r.decision {
            continue;
        }
        let allowed = |d: Option<Decision>| d == Some(Decision::Allow);
        let worse = match r.label {
            Label::Benign => allowed(b.decision) && !allowed(r.decision),
            Label::Adversarial => !allowed(b.decision) && allowed(r.decision),
        };
        let (text, _) = crate::text::truncate_chars(&r.input.display_text(), 500);
        flips.push(Flip {
            id: r.id.clone(),
            label: r.label,
            category: r.category.to_string(),
            before: b.decision,
            after: r.decision,
            worse,
            text,
            reasons: r.reasons.iter().map(|s| s.to_string()).collect(),
        });
    }
    flips.sort_by_key(|f| !f.worse); // stable: worse first, corpus order kept
    let flips_total = flips.len() as u64;
    flips.truncate(FLIPS_CAP);
    let added: Vec<String> =
        current.iter().filter(|r| !base_ids.contains_key(r.id.as_str())).map(|r| r.id.clone()).collect();
    let removed: Vec<String> =
        baseline.iter().filter(|r| !cur_ids.contains_key(r.id.as_str())).map(|r| r.id.clone()).collect();
    BaselineComparison {
        source,
        tolerance,
        regression_detected: comparisons.iter().any(|c| c.regression),
        comparisons,
        flips,
        flips_total,
        added_total: added.len() as u64,
        removed_total: removed.len() as u64,
        added: added.into_iter().take(DRIFT_CAP).collect(),
        removed: removed.into_iter().take(DRIFT_CAP).collect(),
    }
}

#[cfg(test)]
mod tests;
