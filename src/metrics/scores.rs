//! What the dashboard needs to draw scores: how benign and adversarial
//! cases spread over the score range, the ROC curve those spreads give, and
//! where the target's own decisions put it. Computed once per run from the
//! results (the verdict does not keep per-case scores), in fixed bins so
//! the same results always give the same figure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Class, CountingPolicy};
use crate::corpus::{Decision, Label, Payload};
use crate::replay::CaseResult;

/// Bins over [0, 1].
pub const SCORE_BINS: usize = 40;

/// Score spreads and the ROC curve, when the target gives scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ScoreSummary {
    /// Benign cases per score bin (bin i holds [i/40, (i+1)/40), the last also 1).
    pub benign: Vec<u64>,
    pub adversarial: Vec<u64>,
    /// (FPR, detection rate) if every case scoring at least the bin edge
    /// were blocked, from the highest edge to 0.
    pub roc: Vec<[f64; 2]>,
    /// The target's own decisions as (FPR, detection rate) on the scored cases.
    pub operating_point: [f64; 2],
    /// The lowest score the target blocked, when every case scoring that or
    /// more was blocked (a plain threshold); `None` when decisions do not
    /// follow the score.
    pub threshold: Option<f64>,
}

fn bin(score: f64) -> usize {
    ((score.clamp(0.0, 1.0) * SCORE_BINS as f64) as usize).min(SCORE_BINS - 1)
}

/// Per-chunk tallies of [`score_summary`], merged in any order.
#[derive(Clone)]
struct Tally {
    benign: Vec<u64>,
    adversarial: Vec<u64>,
    false_positives: u64,
    detected: u64,
    lowest_blocked: f64,
    highest_allowed: f64,
}

impl Tally {
    fn new() -> Self {
        Tally {
            benign: vec![0; SCORE_BINS],
            adversarial: vec![0; SCORE_BINS],
            false_positives: 0,
            detected: 0,
            lowest_blocked: f64::INFINITY,
            highest_allowed: f64::NEG_INFINITY,
        }
    }

    fn add(mut self, r: &CaseResult, policy: &CountingPolicy) -> Self {
        let (Some(score), Some(decision)) = (r.score, r.decision) else { return self };
        if !score.is_finite() {
            return self;
        }
        match r.label {
            Label::Benign => {
                self.benign[bin(score)] += 1;
                self.false_positives += u64::from(policy.classify(r) == Class::FalsePositive);
            }
            Label::Adversarial => {
                self.adversarial[bin(score)] += 1;
                self.detected += u64::from(policy.classify(r) == Class::Detected);
            }
        }
        match decision {
            Decision::Block => self.lowest_blocked = self.lowest_blocked.min(score),
            Decision::Allow => self.highest_allowed = self.highest_allowed.max(score),
            Decision::RequireApproval => {}
        }
        self
    }

    fn merge(mut self, other: Tally) -> Self {
        for (a, b) in self.benign.iter_mut().zip(other.benign) {
            *a += b;
        }
        for (a, b) in self.adversarial.iter_mut().zip(other.adversarial) {
            *a += b;
        }
        self.false_positives += other.false_positives;
        self.detected += other.detected;
        self.lowest_blocked = self.lowest_blocked.min(other.lowest_blocked);
        self.highest_allowed = self.highest_allowed.max(other.highest_allowed);
        self
    }
}

/// The summary over cases with a score and a decision; `None` without any.
pub fn score_summary(results: &[CaseResult], policy: &CountingPolicy) -> Option<ScoreSummary> {
    use rayon::prelude::*;
    let t = results
        .par_chunks(16 * 1024)
        .map(|chunk| chunk.iter().fold(Tally::new(), |t, r| t.add(r, policy)))
        .reduce(Tally::new, Tally::merge);
    let (n_benign, n_adversarial) = (t.benign.iter().sum::<u64>(), t.adversarial.iter().sum::<u64>());
    if n_benign + n_adversarial == 0 {
        return None;
    }
    let share = |x: u64, n: u64| if n == 0 { 0.0 } else { x as f64 / n as f64 };
    let mut roc = Vec::with_capacity(SCORE_BINS + 1);
    let (mut b_above, mut a_above) = (0u64, 0u64);
    roc.push([0.0, 0.0]);
    for i in (0..SCORE_BINS).rev() {
        b_above += t.benign[i];
        a_above += t.adversarial[i];
        roc.push([share(b_above, n_benign), share(a_above, n_adversarial)]);
    }
    Some(ScoreSummary {
        operating_point: [share(t.false_positives, n_benign), share(t.detected, n_adversarial)],
        threshold: (t.lowest_blocked.is_finite() && t.highest_allowed < t.lowest_blocked).then_some(t.lowest_blocked),
        benign: t.benign,
        adversarial: t.adversarial,
        roc,
    })
}

/// What kind of input each category holds: `prompt`, `egress` or
/// `conversation` (a category holding several kinds is a `prompt` one), so
/// reports can show model output and conversations apart from prompts.
pub fn category_kinds(results: &[CaseResult]) -> BTreeMap<String, String> {
    use rayon::prelude::*;
    fn mixed(a: &'static str, b: &'static str) -> &'static str {
        if a == b {
            a
        } else {
            "prompt"
        }
    }
    let kinds = results
        .par_chunks(16 * 1024)
        .map(|chunk| {
            let mut kinds: BTreeMap<&str, &'static str> = BTreeMap::new();
            let mut last: Option<(&str, &'static str)> = None;
            for r in chunk {
                let kind = match (&r.input, r.direction) {
                    (Payload::Conversation(_), _) => "conversation",
                    (_, crate::corpus::Direction::Egress) => "egress",
                    _ => "prompt",
                };
                // Cases come grouped by file, so most repeat the last category and kind.
                if last == Some((&*r.category, kind)) {
                    continue;
                }
                last = Some((&*r.category, kind));
                kinds.entry(&r.category).and_modify(|k| *k = mixed(k, kind)).or_insert(kind);
            }
            kinds
        })
        .reduce(BTreeMap::new, |mut a, b| {
            for (c, k) in b {
                a.entry(c).and_modify(|x| *x = mixed(x, k)).or_insert(k);
            }
            a
        });
    kinds.into_iter().filter(|(_, k)| *k != "prompt").map(|(c, k)| (c.to_string(), k.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(label: Label, score: f64, decision: Decision) -> CaseResult {
        CaseResult { score: Some(score), ..CaseResult::sample("x", label, Some(decision)) }
    }

    /// A gate blocking at 0.5: the ROC runs from (0, 0) to (1, 1) through
    /// the operating point, and the threshold is found.
    #[test]
    fn a_thresholded_gate_gives_its_roc_operating_point_and_threshold() {
        let results = vec![
            scored(Label::Benign, 0.1, Decision::Allow),
            scored(Label::Benign, 0.2, Decision::Allow),
            scored(Label::Benign, 0.6, Decision::Block),
            scored(Label::Adversarial, 0.4, Decision::Allow),
            scored(Label::Adversarial, 0.7, Decision::Block),
            scored(Label::Adversarial, 0.9, Decision::Block),
        ];
        let s = score_summary(&results, &CountingPolicy::default()).unwrap();
        assert_eq!(s.benign.iter().sum::<u64>(), 3);
        assert_eq!(s.adversarial[bin(0.9)], 1);
        assert_eq!(s.roc.first(), Some(&[0.0, 0.0]));
        assert_eq!(s.roc.last(), Some(&[1.0, 1.0]));
        assert_eq!(s.operating_point, [1.0 / 3.0, 2.0 / 3.0]);
        assert!(s.roc.contains(&[1.0 / 3.0, 2.0 / 3.0]), "blocking at 0.5 is a point of the curve");
        assert_eq!(s.threshold, Some(0.6));
        // Decisions that do not follow the score have no threshold.
        let mut odd = results.clone();
        odd.push(scored(Label::Benign, 0.95, Decision::Allow));
        assert_eq!(score_summary(&odd, &CountingPolicy::default()).unwrap().threshold, None);
        // No scores, no summary.
        let unscored = vec![CaseResult::sample("x", Label::Benign, Some(Decision::Allow))];
        assert!(score_summary(&unscored, &CountingPolicy::default()).is_none());
    }

    /// Egress and conversation categories are told apart from prompts; a
    /// category mixing kinds counts as a prompt one.
    #[test]
    fn categories_are_sorted_by_what_they_hold() {
        let with = |category: &str, direction, conversation: bool| {
            let mut r = CaseResult::sample("x", Label::Benign, Some(Decision::Allow));
            r.category = category.into();
            r.direction = direction;
            if conversation {
                r.input = Payload::Conversation(Vec::new());
            }
            r
        };
        use crate::corpus::Direction::{Egress, Ingress};
        let results = vec![
            with("card", Egress, false),
            with("chat", Ingress, true),
            with("coding", Ingress, false),
            with("both", Egress, false),
            with("both", Ingress, false),
        ];
        let kinds = category_kinds(&results);
        assert_eq!(kinds.get("card").map(String::as_str), Some("egress"));
        assert_eq!(kinds.get("chat").map(String::as_str), Some("conversation"));
        assert!(!kinds.contains_key("coding") && !kinds.contains_key("both"));
    }
}
