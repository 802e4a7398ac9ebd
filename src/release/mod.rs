//! Release readiness: one GO / NO-GO from the evidence a release manager
//! needs. Pure checks here (`checks`); `pipeline::release` reads the files.
//!
//! Burn rate follows the multiwindow, multi-burn-rate alerting of SRE
//! practice: with SLO target T the error budget is B = 1 − T and the burn
//! rate over a window is (error ratio in the window) / B. A pair of windows
//! (long, short, factor) fires when both burn faster than the factor; a
//! window with fewer decisions than the minimum is not eligible (it cannot
//! fire: low traffic would make one error look like an outage). Promotion
//! needs every pair clear at the end of the log and one short window earlier.

mod checks;
pub mod logs;
pub mod prometheus;
pub mod promotion;
pub mod reasons;
pub mod rollback;
pub mod signals;

use serde::{Deserialize, Serialize};

use crate::metrics::stats::compare_proportions;
use crate::metrics::{percentile_nearest_rank, CountingPolicy, Rate};
pub use checks::{AttackEvidence, Blockers, LoadEvidence, VerdictFacts};
use logs::Entry;

pub const RELEASE_SCHEMA: &str = "gauntlet.release.v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct BurnWindow {
    pub long_minutes: i64,
    pub short_minutes: i64,
    pub factor: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ReleasePolicy {
    pub slo_target: f64,
    pub windows: Vec<BurnWindow>,
    pub min_window_decisions: u64,
    pub canary_min_decisions: u64,
    pub max_canary_error_rate: f64,
    pub max_canary_deny_rate: f64,
    /// Smallest worsening of a rate against the baseline that blocks.
    pub rate_tolerance: f64,
    /// Smallest relative p95 latency increase that blocks.
    pub latency_tolerance: f64,
    pub max_verdict_age_days: i64,
    /// Rolling FPR / ASR / error-rate rules over labelled decision logs.
    #[serde(default)]
    pub signals: signals::SignalPolicy,
    /// Rollback by bundle age (needs `--deployed-at`).
    #[serde(default = "rollback::default_rollback_matrix")]
    pub rollback: Vec<rollback::RollbackRow>,
    /// The counters `gauntlet alerts --format prometheus` writes rules over.
    #[serde(default)]
    pub metrics: prometheus::MetricNames,
    /// Stages, soak, and when promotion resumes after an alert.
    #[serde(default)]
    pub promotion: promotion::PromotionPolicy,
}

impl Default for ReleasePolicy {
    fn default() -> Self {
        ReleasePolicy {
            slo_target: 0.999,
            windows: vec![
                BurnWindow { long_minutes: 60, short_minutes: 5, factor: 14.4 },
                BurnWindow { long_minutes: 360, short_minutes: 30, factor: 6.0 },
            ],
            min_window_decisions: 100,
            canary_min_decisions: 100,
            max_canary_error_rate: 0.05,
            max_canary_deny_rate: 0.30,
            rate_tolerance: 0.01,
            latency_tolerance: 0.10,
            max_verdict_age_days: 7,
            signals: signals::SignalPolicy::default(),
            rollback: rollback::default_rollback_matrix(),
            metrics: prometheus::MetricNames::default(),
            promotion: promotion::PromotionPolicy::default(),
        }
    }
}

/// One window's burn at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct WindowBurn {
    pub minutes: i64,
    pub decisions: u64,
    pub errors: u64,
    /// `null` when the window is not eligible (too few decisions).
    pub burn_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct AlertState {
    pub window: BurnWindow,
    /// At the end of the log.
    pub firing_now: bool,
    /// One short window before the end.
    pub firing_before: bool,
    pub long: WindowBurn,
    pub short: WindowBurn,
}

/// Burn-rate alerts over entries sorted by time.
pub fn burn_alerts(sorted: &[Entry], policy: &ReleasePolicy) -> Vec<AlertState> {
    let budget = 1.0 - policy.slo_target;
    let Some(end) = sorted.last().map(|e| e.ts_ms) else { return Vec::new() };
    let mut errors_prefix = Vec::with_capacity(sorted.len() + 1);
    errors_prefix.push(0u64);
    for e in sorted {
        errors_prefix.push(errors_prefix.last().unwrap() + e.error as u64);
    }
    // Decisions in (at - minutes, at].
    let window = |at: i64, minutes: i64| -> WindowBurn {
        let from = at - minutes * 60_000;
        let lo = sorted.partition_point(|e| e.ts_ms <= from);
        let hi = sorted.partition_point(|e| e.ts_ms <= at);
        let decisions = (hi - lo) as u64;
        let errors = errors_prefix[hi] - errors_prefix[lo];
        let burn_rate = (decisions >= policy.min_window_decisions && decisions > 0)
            .then(|| (errors as f64 / decisions as f64) / budget);
        WindowBurn { minutes, decisions, errors, burn_rate }
    };
    policy
        .windows
        .iter()
        .map(|w| {
            let firing = |at: i64| {
                let (l, s) = (window(at, w.long_minutes), window(at, w.short_minutes));
                let fires = l.burn_rate.is_some_and(|b| b > w.factor) && s.burn_rate.is_some_and(|b| b > w.factor);
                (fires, l, s)
            };
            let (firing_now, long, short) = firing(end);
            let (firing_before, _, _) = firing(end - w.short_minutes * 60_000);
            AlertState { window: w.clone(), firing_now, firing_before, long, short }
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Population {
    pub decisions: u64,
    pub error_rate: Rate,
    pub deny_rate: Rate,
    pub p95_latency_us: Option<u64>,
}

fn population(entries: &[&Entry], policy: &CountingPolicy) -> Population {
    let n = entries.len() as u64;
    let errors = entries.iter().filter(|e| e.error).count() as u64;
    let denies = entries.iter().filter(|e| e.deny).count() as u64;
    let mut latencies: Vec<u64> = entries.iter().filter_map(|e| e.latency_us).map(u64::from).collect();
    latencies.sort_unstable();
    Population {
        decisions: n,
        error_rate: Rate::new(errors, n, policy),
        deny_rate: Rate::new(denies, n, policy),
        p95_latency_us: percentile_nearest_rank(&latencies, 95.0),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CanaryCheck {
    pub canary: Population,
    pub baseline: Population,
    /// `pass`, `fail` or `inconclusive`.
    pub status: String,
    pub reasons: Vec<String>,
    pub deny_p_value: Option<f64>,
    pub error_p_value: Option<f64>,
    pub latency_p_value: Option<f64>,
}

/// One-sided Mann-Whitney U test that `a` tends to be larger than `b`
/// (normal approximation with tie correction; fine at canary sizes).
pub fn mann_whitney_greater(a: &[u64], b: &[u64]) -> Option<f64> {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut all: Vec<(u64, bool)> = a.iter().map(|&x| (x, true)).chain(b.iter().map(|&x| (x, false))).collect();
    all.sort_unstable_by_key(|p| p.0);
    let (mut rank_sum_a, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        rank_sum_a += rank * all[i..=j].iter().filter(|p| p.1).count() as f64;
        i = j + 1;
    }
    let u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let sigma = ((n1 * n2 / 12.0) * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    if sigma == 0.0 {
        return Some(1.0);
    }
    let z = (u - n1 * n2 / 2.0 - 0.5) / sigma;
    use statrs::distribution::{ContinuousCDF, Normal};
    Some(1.0 - Normal::standard().cdf(z))
}

pub fn canary_check(entries: &[Entry], policy: &ReleasePolicy, counting: &CountingPolicy) -> CanaryCheck {
    let canary: Vec<&Entry> = entries.iter().filter(|e| e.canary).collect();
    let base: Vec<&Entry> = entries.iter().filter(|e| !e.canary).collect();
    let (c, b) = (population(&canary, counting), population(&base, counting));
    let mut reasons = Vec::new();
    if c.decisions < policy.canary_min_decisions || b.decisions < policy.canary_min_decisions {
        reasons.push(format!(
            "inconclusive: {} canary and {} baseline decisions, at least {} each are needed",
            c.decisions, b.decisions, policy.canary_min_decisions
        ));
        return CanaryCheck {
            canary: c,
            baseline: b,
            status: "inconclusive".into(),
            reasons,
            deny_p_value: None,
            error_p_value: None,
            latency_p_value: None,
        };
    }
    let pct = |x: f64| format!("{:.2}%", x * 100.0);
    let (ce, cd) = (c.error_rate.value.unwrap_or(0.0), c.deny_rate.value.unwrap_or(0.0));
    let (be, bd) = (b.error_rate.value.unwrap_or(0.0), b.deny_rate.value.unwrap_or(0.0));
    if ce > policy.max_canary_error_rate {
        reasons.push(format!("canary error rate {} exceeds {}", pct(ce), pct(policy.max_canary_error_rate)));
    }
    if cd > policy.max_canary_deny_rate {
        reasons.push(format!("canary deny rate {} exceeds {}", pct(cd), pct(policy.max_canary_deny_rate)));
    }
    // One-sided: half the two-sided p when the canary is the worse side.
    let one_sided = |xc: u64, nc: u64, xb: u64, nb: u64| {
        let (p, _) = compare_proportions(xc, nc, xb, nb);
        if xc as f64 / nc as f64 > xb as f64 / nb as f64 {
            p / 2.0
        } else {
            1.0 - p / 2.0
        }
    };
    let deny_p = one_sided(c.deny_rate.numerator, c.decisions, b.deny_rate.numerator, b.decisions);
    if deny_p < 0.05 && cd - bd > policy.rate_tolerance {
        reasons.push(format!(
            "canary deny rate {} is significantly above the baseline's {} (p = {deny_p:.4})",
            pct(cd),
            pct(bd)
        ));
    }
    let error_p = one_sided(c.error_rate.numerator, c.decisions, b.error_rate.numerator, b.decisions);
    if error_p < 0.05 && ce - be > policy.rate_tolerance {
        reasons.push(format!(
            "canary error rate {} is significantly above the baseline's {} (p = {error_p:.4})",
            pct(ce),
            pct(be)
        ));
    }
    let lat = |es: &[&Entry]| es.iter().filter_map(|e| e.latency_us).map(u64::from).collect::<Vec<_>>();
    let latency_p = mann_whitney_greater(&lat(&canary), &lat(&base));
    if let (Some(p), Some(cp), Some(bp)) = (latency_p, c.p95_latency_us, b.p95_latency_us) {
        if p < 0.05 && cp as f64 > bp as f64 * (1.0 + policy.latency_tolerance) {
            reasons
                .push(format!("canary p95 latency {cp} µs is significantly above the baseline's {bp} µs (p = {p:.4})"));
        }
    }
    let status = if reasons.is_empty() { "pass" } else { "fail" };
    CanaryCheck {
        canary: c,
        baseline: b,
        status: status.into(),
        reasons,
        deny_p_value: Some(deny_p),
        error_p_value: Some(error_p),
        latency_p_value: latency_p,
    }
}

/// One artifact the decision rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Evidence {
    pub id: String,
    pub path: String,
    pub sha256: Option<String>,
    pub age_hours: Option<f64>,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct BlockingReason {
    pub check: String,
    pub message: String,
    /// The `id` of the evidence it rests on.
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ReleaseReport {
    pub schema: String,
    pub version: Option<String>,
    pub generated_at: String,
    pub today: String,
    /// `GO`, `NO-GO`, or `ROLLBACK` (a rollback-matrix row fired).
    pub decision: String,
    pub blocking: Vec<BlockingReason>,
    pub evidence: Vec<Evidence>,
    pub burn_alerts: Vec<AlertState>,
    pub canary: Option<CanaryCheck>,
    /// Each signal rule, overall and per tenant, at the end of the canary log.
    #[serde(default)]
    pub signals: Vec<signals::RuleState>,
    /// The rollback matrix applied to the canary since deployment.
    #[serde(default)]
    pub rollback: Option<rollback::RollbackCheck>,
    /// Alerts that fired and cleared, and whether promotion may resume.
    #[serde(default)]
    pub resumes: Vec<promotion::ResumeCheck>,
    /// The stage under release (`--stage`): GO promotes it to the next.
    #[serde(default)]
    pub stage: Option<promotion::StageCheck>,
    /// Sign-offs scoped to this version that cleared no alert of this log.
    #[serde(default)]
    pub unused_sign_offs: Vec<String>,
    /// Reason codes in the decision logs, canary beside baseline, largest
    /// shift first (lines without `reasons` add nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<reasons::ReasonShare>,
    pub policy: ReleasePolicy,
}

impl ReleaseReport {
    /// GO passes; anything else blocks the release.
    pub fn outcome(&self) -> crate::exit_code::Outcome {
        crate::exit_code::Outcome::failed_if(self.decision != "GO")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady(minutes: i64, per_minute: i64, error_every: i64, canary: bool, start: i64) -> Vec<Entry> {
        let mut out = Vec::new();
        for m in 0..minutes {
            for k in 0..per_minute {
                let i = m * per_minute + k;
                out.push(Entry {
                    ts_ms: start + m * 60_000 + k * (60_000 / per_minute),
                    error: error_every > 0 && i % error_every == 0,
                    deny: false,
                    latency_us: Some(100 + (i % 50) as u32),
                    canary,
                    ..Entry::default()
                });
            }
        }
        out
    }

    #[test]
    fn steady_traffic_raises_no_alert() {
        // 0.05% errors: burn rate 0.5, far below 6 and 14.4.
        let log = steady(480, 100, 2000, true, 0);
        assert!(burn_alerts(&log, &ReleasePolicy::default()).iter().all(|a| !a.firing_now && !a.firing_before));
    }

    #[test]
    fn fast_burn_pages() {
        // Six hours healthy, then the last hour at 2% errors: burn rate 20 > 14.4 on 1h and 5m.
        let mut log = steady(420, 100, 0, true, 0);
        log.extend(steady(60, 100, 50, true, 420 * 60_000));
        let alerts = burn_alerts(&log, &ReleasePolicy::default());
        assert!(alerts[0].firing_now, "{:?}", alerts[0]);
        assert!(alerts[0].long.burn_rate.unwrap() > 14.4);
    }

    #[test]
    fn slow_burn_raises_the_ticket_level_alert_only() {
        // 0.8% errors for 8 hours: burn rate 8 > 6 but < 14.4.
        let log = steady(480, 100, 125, true, 0);
        let alerts = burn_alerts(&log, &ReleasePolicy::default());
        assert!(!alerts[0].firing_now, "no page");
        assert!(alerts[1].firing_now && alerts[1].firing_before, "6x alert: {:?}", alerts[1]);
    }

    #[test]
    fn low_traffic_windows_are_not_eligible() {
        // 1 decision per minute, all errors: no 5-minute window has 100 decisions.
        let log = steady(480, 1, 1, true, 0);
        let alerts = burn_alerts(&log, &ReleasePolicy::default());
        assert!(alerts.iter().all(|a| !a.firing_now));
        assert_eq!(alerts[0].short.burn_rate, None);
    }

    #[test]
    fn canary_with_doubled_deny_rate_fails_and_healthy_canary_passes() {
        let make = |n: u64, deny_every: u64, canary: bool| {
            (0..n)
                .map(|i| Entry {
                    ts_ms: i as i64,
                    error: false,
                    deny: i % deny_every == 0,
                    latency_us: Some(100 + (i % 20) as u32),
                    canary,
                    ..Entry::default()
                })
                .collect::<Vec<_>>()
        };
        let policy = ReleasePolicy::default();
        let counting = CountingPolicy::default();
        let mut doubled = make(2000, 5, true); // 20% deny
        doubled.extend(make(2000, 10, false)); // 10% deny
        let check = canary_check(&doubled, &policy, &counting);
        assert_eq!(check.status, "fail", "{:?}", check.reasons);
        assert!(check.reasons.iter().any(|r| r.contains("deny rate")));
        let mut healthy = make(2000, 10, true);
        healthy.extend(make(2000, 10, false));
        assert_eq!(canary_check(&healthy, &policy, &counting).status, "pass");
        let few = make(50, 10, true);
        assert_eq!(canary_check(&few, &policy, &counting).status, "inconclusive");
    }

    #[test]
    fn mann_whitney_detects_a_shift() {
        let a: Vec<u64> = (0..200).map(|i| 150 + i % 30).collect();
        let b: Vec<u64> = (0..200).map(|i| 100 + i % 30).collect();
        assert!(mann_whitney_greater(&a, &b).unwrap() < 0.001);
        assert!(mann_whitney_greater(&b, &a).unwrap() > 0.99);
    }
}
