use super::*;

fn r(id: &str, label: Label, score: f64, decision: Decision) -> CaseResult {
    CaseResult { score: Some(score), ..CaseResult::sample(id, label, Some(decision)) }
}

#[test]
fn roc_and_auc_of_a_hand_computed_set() {
    // benign 0.1, 0.4; attacks 0.35, 0.8. Pairs attack > benign: 3 of 4 → AUC 0.75.
    let results = [
        r("b1", Label::Benign, 0.1, Decision::Allow),
        r("b2", Label::Benign, 0.4, Decision::Allow),
        r("a1", Label::Adversarial, 0.35, Decision::Allow),
        r("a2", Label::Adversarial, 0.8, Decision::Block),
    ];
    let refs: Vec<&CaseResult> = results.iter().collect();
    let roc = roc(&refs, 0.95);
    let points: Vec<(f64, f64, f64)> =
        roc.points.iter().skip(1).map(|p| (p.threshold, p.fpr, p.detection_rate)).collect();
    assert_eq!(points, vec![(0.8, 0.0, 0.5), (0.4, 0.5, 0.5), (0.35, 0.5, 1.0), (0.1, 1.0, 1.0)]);
    assert_eq!(roc.auc, Some(0.75));
    let [low, high] = roc.auc_interval.unwrap();
    assert!(low <= 0.75 && high >= 0.75);
}

#[test]
fn ties_count_half_and_perfect_separation_is_one() {
    let tie = [r("b", Label::Benign, 0.5, Decision::Allow), r("a", Label::Adversarial, 0.5, Decision::Allow)];
    assert_eq!(roc(&tie.iter().collect::<Vec<_>>(), 0.95).auc, Some(0.5));
    let sep = [r("b", Label::Benign, 0.1, Decision::Allow), r("a", Label::Adversarial, 0.9, Decision::Block)];
    assert_eq!(roc(&sep.iter().collect::<Vec<_>>(), 0.95).auc, Some(1.0));
}

#[test]
fn target_fpr_picks_the_highest_detection_threshold_that_meets_it() {
    let mut results = Vec::new();
    for i in 0..1000 {
        // Benign scores 0.000..0.999; attacks 0.5..1.0.
        results.push(r(&format!("b{i}"), Label::Benign, i as f64 / 1000.0, Decision::Allow));
        results.push(r(&format!("a{i}"), Label::Adversarial, 0.5 + i as f64 / 2000.0, Decision::Block));
    }
    let c =
        calibrate(&results, &CountingPolicy::default(), Some(0.5), &[0.10], FprBound::Point, "t".into(), "now".into());
    let p = c.targets[0].point.as_ref().unwrap();
    // FPR ≤ 10% on the point estimate: 100 benign may score at or above the
    // threshold (0.900..0.999); the loosest such threshold is the attack
    // score 0.8995 just below them, which catches attacks 799..999.
    assert_eq!(p.threshold, Some(0.8995));
    assert_eq!(p.fpr.numerator, 100);
    assert_eq!(p.detection_rate.numerator, 201);
    let upper =
        calibrate(&results, &CountingPolicy::default(), Some(0.5), &[0.10], FprBound::Upper, "t".into(), "now".into());
    assert!(
        upper.targets[0].point.as_ref().unwrap().threshold.unwrap() > 0.9,
        "the conservative bound needs a stricter threshold"
    );
}

#[test]
fn regression_needs_significance_and_size() {
    let base: Vec<CaseResult> = (0..400)
        .map(|i| r(&format!("b{i}"), Label::Benign, 0.1, if i < 20 { Decision::Block } else { Decision::Allow }))
        .collect();
    let worse: Vec<CaseResult> = (0..400)
        .map(|i| r(&format!("b{i}"), Label::Benign, 0.1, if i < 60 { Decision::Block } else { Decision::Allow }))
        .collect();
    let c = compare(&base, &worse, &CountingPolicy::default(), 0.02, "base".into());
    assert!(c.regression_detected);
    assert_eq!(c.flips_total, 40);
    assert!(c.flips.iter().all(|f| f.worse));
    let slightly: Vec<CaseResult> = (0..400)
        .map(|i| r(&format!("b{i}"), Label::Benign, 0.1, if i < 22 { Decision::Block } else { Decision::Allow }))
        .collect();
    assert!(!compare(&base, &slightly, &CountingPolicy::default(), 0.02, "base".into()).regression_detected);
}

#[test]
fn scoreless_targets_get_the_operating_point_only() {
    let mut x = r("b", Label::Benign, 0.0, Decision::Allow);
    x.score = None;
    let c = calibrate(&[x], &CountingPolicy::default(), None, &[0.05], FprBound::Upper, "t".into(), "now".into());
    assert!(!c.scored);
    assert!(c.roc.is_none());
    assert!(c.recommendation.contains("no scores"));
}

/// Regression: the operating point at a threshold hard-coded pessimistic
/// counting, so with `errors = "exclude"` calibration disagreed with the run.
#[test]
fn exclude_counting_gives_the_runs_rates_at_the_current_threshold() {
    use crate::metrics::ErrorCounting;
    use crate::targets::{CaseError, ErrorKind};
    let error = |id: &str, label: Label| CaseResult {
        error: Some(Box::new(CaseError { kind: ErrorKind::Timeout, message: "slow".into() })),
        ..CaseResult::sample(id, label, None)
    };
    // Decisions are the 0.5 threshold's, so the run and the sweep see the same gate.
    let results = vec![
        r("b1", Label::Benign, 0.1, Decision::Allow),
        r("b2", Label::Benign, 0.7, Decision::Block),
        r("b3", Label::Benign, 0.2, Decision::Allow),
        r("a1", Label::Adversarial, 0.9, Decision::Block),
        r("a2", Label::Adversarial, 0.3, Decision::Allow),
        error("b-err", Label::Benign),
        error("a-err", Label::Adversarial),
    ];
    for errors in [ErrorCounting::Exclude, ErrorCounting::Pessimistic] {
        let policy = CountingPolicy { errors, ..CountingPolicy::default() };
        let run = metrics::compute(results.iter(), &policy);
        let c = calibrate(&results, &policy, Some(0.5), &[0.5], FprBound::Point, "t".into(), "now".into());
        assert_eq!(c.current.fpr, run.fpr, "{errors:?}");
        assert_eq!(c.current.asr, run.asr, "{errors:?}");
    }
}
