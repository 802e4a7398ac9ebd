//! 95% (or other) confidence intervals for a binomial proportion.
//!
//! Wilson is the default: well-behaved at 0/n and n/n, where the textbook
//! normal interval collapses to [0, 0]. Clopper-Pearson (exact, conservative)
//! is selectable. Both use statrs for the distribution functions.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF, Normal};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IntervalMethod {
    #[default]
    Wilson,
    ClopperPearson,
}

/// Two-sided interval for `successes` out of `trials`; `None` without data.
pub fn interval(method: IntervalMethod, successes: u64, trials: u64, confidence: f64) -> Option<(f64, f64)> {
    if trials == 0 {
        return None;
    }
    debug_assert!(successes <= trials);
    Some(match method {
        IntervalMethod::Wilson => wilson(successes, trials, confidence),
        IntervalMethod::ClopperPearson => clopper_pearson(successes, trials, confidence),
    })
}

/// A confidence as reports print it: `95%`, `90%`, `97.5%`. Every report
/// labels its intervals with this, never with a literal "95%": the
/// project's `[counting] confidence` sets the level.
pub fn percent_label(confidence: f64) -> String {
    let percent = (confidence * 1000.0).round() / 10.0;
    if percent.fract() == 0.0 {
        format!("{percent:.0}%")
    } else {
        format!("{percent}%")
    }
}

/// The standard normal quantile for a two-sided `confidence`.
pub fn z_for(confidence: f64) -> f64 {
    let normal = Normal::standard();
    normal.inverse_cdf(1.0 - (1.0 - confidence) / 2.0)
}

fn wilson(successes: u64, trials: u64, confidence: f64) -> (f64, f64) {
    let n = trials as f64;
    let p = successes as f64 / n;
    let z = z_for(confidence);
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    // Exact ends at 0/n and n/n (the formula gives them up to rounding).
    let low = if successes == 0 { 0.0 } else { (centre - half).max(0.0) };
    let high = if successes == trials { 1.0 } else { (centre + half).min(1.0) };
    (low, high)
}

fn clopper_pearson(successes: u64, trials: u64, confidence: f64) -> (f64, f64) {
    let alpha = 1.0 - confidence;
    let x = successes as f64;
    let n = trials as f64;
    // Beta(0, ·) and Beta(·, 0) do not exist: the bounds there are exactly 0 and 1.
    let low =
        if successes == 0 { 0.0 } else { Beta::new(x, n - x + 1.0).expect("positive shapes").inverse_cdf(alpha / 2.0) };
    let high = if successes == trials {
        1.0
    } else {
        Beta::new(x + 1.0, n - x).expect("positive shapes").inverse_cdf(1.0 - alpha / 2.0)
    };
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn clopper_pearson_3_of_100_matches_published_value() {
        let (low, high) = interval(IntervalMethod::ClopperPearson, 3, 100, 0.95).unwrap();
        assert!(close(low, 0.0062, 0.0001), "{low}");
        assert!(close(high, 0.0852, 0.0001), "{high}");
    }

    #[test]
    fn clopper_pearson_edges_are_exact() {
        let (low, high) = interval(IntervalMethod::ClopperPearson, 0, 10, 0.95).unwrap();
        assert_eq!(low, 0.0);
        // (α/2)^(1/n) rule: 1 - 0.025^(1/10) = 0.3085
        assert!(close(high, 0.3085, 0.0001), "{high}");
        let (low, high) = interval(IntervalMethod::ClopperPearson, 10, 10, 0.95).unwrap();
        assert!(close(low, 0.6915, 0.0001), "{low}");
        assert_eq!(high, 1.0);
    }

    #[test]
    fn wilson_edges_are_not_degenerate() {
        // 0/n: [0, z²/(n+z²)]; for n = 10, z = 1.96: 0.2775.
        let (low, high) = interval(IntervalMethod::Wilson, 0, 10, 0.95).unwrap();
        assert_eq!(low, 0.0);
        assert!(close(high, 0.2775, 0.0001), "{high}");
        let (low, high) = interval(IntervalMethod::Wilson, 10, 10, 0.95).unwrap();
        assert!(close(low, 0.7225, 0.0001), "{low}");
        assert_eq!(high, 1.0);
    }

    #[test]
    fn wilson_matches_published_value() {
        // 81/263 → [0.2553, 0.3662] (Wilson 1927 / standard references).
        let (low, high) = interval(IntervalMethod::Wilson, 81, 263, 0.95).unwrap();
        assert!(close(low, 0.2553, 0.0002), "{low}");
        assert!(close(high, 0.3662, 0.0002), "{high}");
    }

    #[test]
    fn no_trials_is_no_data() {
        assert_eq!(interval(IntervalMethod::Wilson, 0, 0, 0.95), None);
        assert_eq!(interval(IntervalMethod::ClopperPearson, 0, 0, 0.95), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// Bounds lie in [0, 1] and hold the point estimate, for both methods.
        #[test]
        fn bounds_are_proper_and_hold_the_estimate(n in 1u64..5000, frac in 0.0f64..=1.0, conf in 0.8f64..0.999) {
            let x = ((n as f64) * frac).round() as u64;
            for method in [IntervalMethod::Wilson, IntervalMethod::ClopperPearson] {
                let (low, high) = interval(method, x, n, conf).unwrap();
                let p = x as f64 / n as f64;
                proptest::prop_assert!((0.0..=1.0).contains(&low) && (0.0..=1.0).contains(&high), "{method:?} {x}/{n}");
                proptest::prop_assert!(low <= p + 1e-12 && p <= high + 1e-12, "{method:?} {x}/{n}: [{low}, {high}]");
            }
        }

        /// At a fixed rate, four times the samples give a narrower interval.
        #[test]
        fn intervals_narrow_as_n_grows(n in 5u64..2000, k in 1u64..5) {
            let (x, big) = (n * k / 5, n * 4);
            for method in [IntervalMethod::Wilson, IntervalMethod::ClopperPearson] {
                let (l1, h1) = interval(method, x, n, 0.95).unwrap();
                let (l2, h2) = interval(method, x * 4, big, 0.95).unwrap();
                proptest::prop_assert!(h2 - l2 < h1 - l1, "{method:?} {x}/{n}");
            }
        }
    }
}
