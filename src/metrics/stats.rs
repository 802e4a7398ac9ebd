//! Tests for comparing proportions, with statrs for the distributions.

use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, Normal};
use statrs::stats_tests::{fishers_exact, Alternative};

use crate::metrics::interval::{interval, IntervalMethod};

/// Which test produced a p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TestKind {
    /// Pooled two-proportion z-test (every expected cell count ≥ 5).
    TwoProportionZ,
    /// Fisher's exact test, two-sided (small samples).
    FisherExact,
}

/// Two-sided p-value for x1/n1 against x2/n2: the z-test when every expected
/// count of the 2×2 table is at least 5, Fisher's exact test otherwise.
pub fn compare_proportions(x1: u64, n1: u64, x2: u64, n2: u64) -> (f64, TestKind) {
    if n1 == 0 || n2 == 0 {
        return (1.0, TestKind::FisherExact);
    }
    let n = (n1 + n2) as f64;
    let p = (x1 + x2) as f64 / n;
    let expected = [n1 as f64 * p, n1 as f64 * (1.0 - p), n2 as f64 * p, n2 as f64 * (1.0 - p)];
    if expected.iter().all(|&e| e >= 5.0) {
        let se = (p * (1.0 - p) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
        if se == 0.0 {
            return (1.0, TestKind::TwoProportionZ);
        }
        let z = (x1 as f64 / n1 as f64 - x2 as f64 / n2 as f64) / se;
        let normal = Normal::standard();
        (2.0 * (1.0 - normal.cdf(z.abs())), TestKind::TwoProportionZ)
    } else {
        let table = [x1, n1 - x1, x2, n2 - x2];
        (fishers_exact(&table, Alternative::TwoSided).unwrap_or(1.0).min(1.0), TestKind::FisherExact)
    }
}

/// Newcombe's hybrid score interval for p1 − p2 (method 10), built from the
/// two Wilson intervals: sound at 0 and n, unlike the Wald difference.
pub fn difference_interval(x1: u64, n1: u64, x2: u64, n2: u64, confidence: f64) -> Option<(f64, f64)> {
    let (l1, u1) = interval(IntervalMethod::Wilson, x1, n1, confidence)?;
    let (l2, u2) = interval(IntervalMethod::Wilson, x2, n2, confidence)?;
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let d = p1 - p2;
    let low = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let high = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    Some((low.max(-1.0), high.min(1.0)))
}

/// Newcombe's interval for a paired difference p1 − p2 (method 10 of his
/// 1998 paper on paired data): the two marginal Wilson intervals combined
/// with the correlation between the paired answers. `both` and `neither`
/// are the concordant pairs, `only_first` and `only_second` the discordant
/// ones (p1 = (both + only_first) / n, p2 = (both + only_second) / n).
/// Sharing cases makes the comparison far tighter than treating the two
/// runs as independent samples, which is why a diff pairs whatever it can.
pub fn paired_difference_interval(
    both: u64,
    only_first: u64,
    only_second: u64,
    neither: u64,
    confidence: f64,
) -> Option<(f64, f64)> {
    let n = both + only_first + only_second + neither;
    let (x1, x2) = (both + only_first, both + only_second);
    let (l1, u1) = interval(IntervalMethod::Wilson, x1, n, confidence)?;
    let (l2, u2) = interval(IntervalMethod::Wilson, x2, n, confidence)?;
    let (p1, p2) = (x1 as f64 / n as f64, x2 as f64 / n as f64);
    // The correlation, with Newcombe's continuity adjustment of the
    // cross-product; 0 when a margin is empty.
    let margins = [x1, n - x1, x2, n - x2];
    let phi = if margins.contains(&0) {
        0.0
    } else {
        let cross = both as f64 * neither as f64 - only_first as f64 * only_second as f64;
        let adjusted = if cross > n as f64 / 2.0 {
            cross - n as f64 / 2.0
        } else if cross >= 0.0 {
            0.0
        } else {
            cross
        };
        adjusted / margins.iter().map(|&m| m as f64).product::<f64>().sqrt()
    };
    let d = p1 - p2;
    let low = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2) - 2.0 * phi * (p1 - l1) * (u2 - p2)).max(0.0).sqrt();
    let high = d + ((p2 - l2).powi(2) + (u1 - p1).powi(2) - 2.0 * phi * (p2 - l2) * (u1 - p1)).max(0.0).sqrt();
    Some((low.max(-1.0), high.min(1.0)))
}

/// Holm's step-down adjustment: adjusted p-values in the input order.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Exact McNemar test on discordant pairs (b changed one way, c the other).
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let binomial = Binomial::new(0.5, n).expect("valid binomial");
    (2.0 * binomial.cdf(b.min(c))).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_exact_matches_the_published_value() {
        // R: fisher.test(matrix(c(3, 1, 1, 3), 2))$p.value = 0.4857
        let (p, kind) = compare_proportions(3, 4, 1, 4);
        assert_eq!(kind, TestKind::FisherExact);
        assert!((p - 0.4857).abs() < 1e-4, "{p}");
    }

    #[test]
    fn z_test_for_large_samples() {
        // 120/1000 vs 80/1000: z = 2.98, two-sided p = 0.0029.
        let (p, kind) = compare_proportions(120, 1000, 80, 1000);
        assert_eq!(kind, TestKind::TwoProportionZ);
        assert!((p - 0.00288).abs() < 2e-4, "{p}");
    }

    /// The worked example of the Holm-Bonferroni method (four hypotheses,
    /// p = 0.01, 0.04, 0.03, 0.005): adjusted 0.03, 0.06, 0.06, 0.02, so at
    /// α = 0.05 the first and the last are rejected.
    #[test]
    fn holm_matches_the_worked_example() {
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.005]);
        let expected = [0.03, 0.06, 0.06, 0.02];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
        let rejected: Vec<bool> = adjusted.iter().map(|&p| p <= 0.05).collect();
        assert_eq!(rejected, [true, false, false, true]);
    }

    #[test]
    fn holm_adjusts_step_down() {
        let adjusted = holm(&[0.01, 0.04, 0.03]);
        assert!((adjusted[0] - 0.03).abs() < 1e-12);
        assert!((adjusted[2] - 0.06).abs() < 1e-12);
        assert!((adjusted[1] - 0.06).abs() < 1e-12, "monotone: never below a smaller p's value");
    }

    #[test]
    fn newcombe_interval_contains_the_difference() {
        let (l, h) = difference_interval(56, 70, 48, 80, 0.95).unwrap();
        // Newcombe (1998), example (a): 0.2 with [0.0524, 0.3339].
        assert!((l - 0.0524).abs() < 1e-3 && (h - 0.3339).abs() < 1e-3, "{l} {h}");
    }

    /// Fagerland, Lydersen and Laake, "Statistical Analysis of Contingency
    /// Tables" (2017), chapter 8: complete response before and after
    /// consolidation therapy (Cavo et al., 2012), table 59 / 6 / 16 / 80.
    /// Newcombe's paired interval for the difference: -0.0621 (-0.1186 to -0.0046).
    #[test]
    fn paired_newcombe_interval_matches_the_published_example() {
        let (l, h) = paired_difference_interval(59, 6, 16, 80, 0.95).unwrap();
        assert!((l - -0.1186).abs() < 5e-5 && (h - -0.0046).abs() < 5e-5, "{l} {h}");
        // No discordant pairs: the interval still has width (no false certainty).
        let (l, h) = paired_difference_interval(50, 0, 0, 50, 0.95).unwrap();
        assert!(l < 0.0 && h > 0.0 && l > -0.1 && h < 0.1, "{l} {h}");
        // Swapping the runs mirrors the interval.
        let (l2, h2) = paired_difference_interval(59, 16, 6, 80, 0.95).unwrap();
        assert!((l2 + -0.0046).abs() < 5e-5 && (h2 + -0.1186).abs() < 5e-5, "{l2} {h2}");
    }

    /// The exact McNemar test is the two-sided exact binomial test of the
    /// discordant pairs against ½, summed here term by term.
    #[test]
    fn mcnemar_exact_is_the_exact_binomial_test() {
        // Bentur et al. (2009), airway hyper-responsiveness before and after
        // stem cell transplantation: b = 1, c = 7; exact p = 0.0703 (Fagerland et al.).
        assert!((mcnemar_exact(1, 7) - 0.0703).abs() < 5e-5, "{}", mcnemar_exact(1, 7));
        let by_hand = |b: u64, c: u64| {
            let n = b + c;
            let choose = |k: u64| (0..k).fold(1.0f64, |acc, i| acc * (n - i) as f64 / (i + 1) as f64);
            let tail: f64 = (0..=b.min(c)).map(|k| choose(k) * 0.5f64.powi(n as i32)).sum();
            (2.0 * tail).min(1.0)
        };
        for (b, c) in [(6, 16), (0, 5), (3, 3), (10, 2), (40, 55)] {
            assert!((mcnemar_exact(b, c) - by_hand(b, c)).abs() < 1e-9, "{b} {c}");
        }
    }

    #[test]
    fn mcnemar_exact_value() {
        // b = 1, c = 9: p = 2 * P(X <= 1 | n = 10) = 0.0215.
        assert!((mcnemar_exact(1, 9) - 0.02148).abs() < 1e-4);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
    }
}
