use std::sync::Arc;

use super::*;
use crate::targets::{CaseError, ErrorKind};

pub(crate) fn result(label: Label, decision: Option<Decision>) -> CaseResult {
    CaseResult {
        latency_us: 10,
        error: decision.is_none().then(|| Box::new(CaseError { kind: ErrorKind::Timeout, message: "t".into() })),
        ..CaseResult::sample("x", label, decision)
    }
}

#[test]
fn breakdowns_counted_in_parallel_equal_each_group_counted_alone() {
    // Enough results for several parallel chunks, with keys interleaved
    // so chunks see groups in different orders.
    let policy = CountingPolicy::default();
    let decisions = [Some(Decision::Allow), Some(Decision::Block), Some(Decision::RequireApproval), None];
    let results: Vec<CaseResult> = (0..70_000u64)
        .map(|i| {
            let label = if i % 3 == 0 { Label::Adversarial } else { Label::Benign };
            let mut r = result(label, decisions[(i % 7 % 4) as usize]);
            r.category = format!("cat-{}", i % 11).into();
            r.source = format!("src-{}", i / 9_000).into();
            r.tenant = (i % 4 == 0).then(|| Arc::from(format!("tenant-{}", i % 3).as_str()));
            r.expected = (i % 5 == 0).then_some(Decision::Block);
            r.reasons = if i % 2 == 0 { vec!["a".into()] } else { vec!["a".into(), format!("r{}", i % 6).into()] };
            r.latency_us = (i * 7919) % 1000;
            r
        })
        .collect();
    let all = compute_all(&results, &policy);
    assert_eq!(all.overall, compute(&results, &policy));
    let alone = |key: &dyn Fn(&CaseResult) -> Option<String>| {
        let mut keys: Vec<String> = results.iter().filter_map(key).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .map(|k| {
                let set = compute(results.iter().filter(|r| key(r).as_deref() == Some(k.as_str())), &policy);
                (k, set)
            })
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(all.by_category, alone(&|r| Some(r.category.to_string())));
    assert_eq!(all.by_category.len(), 11);
    assert_eq!(all.by_source, alone(&|r| Some(r.source.to_string())));
    assert_eq!(all.by_tenant, alone(&|r| r.tenant.as_ref().map(|t| t.to_string())));
    assert_eq!(all.by_tenant.len(), 3);
    // Reason "a" fired on every case: its rates are the overall ones.
    let a = &all.by_detector["ingress"]["a"];
    let fp = results.iter().filter(|r| policy.classify(r) == Class::FalsePositive).count() as u64;
    assert_eq!((a.false_positive_rate.numerator, a.false_positive_rate.denominator), (fp, all.overall.benign.total));
    assert_eq!(all.latency_histogram.counts.iter().sum::<u64>(), all.overall.latency.count);
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

/// Regression (#18 item 7): the per-detector "detection rate" was the
/// detector's share of all stopped attacks (pii:card 13.64%), not a
/// detection rate. `by-leak-kind` is the real one: cases of a kind stopped
/// by a detector of that kind / cases of that kind.
#[test]
fn leak_kind_detection_rate_counts_only_catches_by_that_kind() {
    use std::sync::Arc;
    let policy = CountingPolicy::default();
    let case = |id: &str, kind: &str, decision: Decision, reasons: &[&str]| {
        let mut r = CaseResult::sample(id, Label::Adversarial, Some(decision));
        r.tags = vec![Arc::from(format!("leak-kind:{kind}").as_str())];
        r.reasons = reasons.iter().map(|s| Arc::from(*s)).collect();
        r
    };
    let results = vec![
        case("c1", "pii:card", Decision::Block, &["pii:card"]),
        case("c2", "pii:card", Decision::Block, &["pii:email"]), // stopped, but not as a card
        case("c3", "pii:card", Decision::Allow, &["pii:card"]),  // fired, let through
        case("s1", "secret", Decision::Block, &["secret:known-format"]),
        case("s2", "secret", Decision::Block, &["secretive"]), // not `secret` nor `secret:…`
    ];
    let m = compute_all(&results, &policy);
    let card = m.by_leak_kind["pii:card"];
    assert_eq!((card.numerator, card.denominator), (1, 3));
    let secret = m.by_leak_kind["secret"];
    assert_eq!((secret.numerator, secret.denominator), (1, 2));
    // The per-detector number stays what it is: a share of all stopped attacks.
    let d = &m.by_detector["ingress"]["pii:card"];
    assert_eq!((d.share_of_attacks_stopped.numerator, d.share_of_attacks_stopped.denominator), (1, 5));
    assert_eq!(d.detection_rate, d.share_of_attacks_stopped, "kept for v1 readers");
}
