//! Production signals from labelled decision logs: rolling FPR and ASR (and
//! the error rate) over windows, alert rules with a `for` duration as the
//! runbooks write them, and the rollback decision by bundle age.
//!
//! Why `for`: a single bad window is noise; "FPR > 15% for 5 minutes" means
//! the condition held at every evaluation point over those 5 minutes, the
//! way Prometheus evaluates an alerting rule. Why "not eligible": a window
//! with too few labelled decisions has an interval too wide to say anything,
//! so it can neither fire nor count as clear (it breaks a `for` streak, and
//! it never proves an alert cleared).
//!
//! Pure computation: `pipeline::release` reads the logs, this judges them.

use serde::{Deserialize, Serialize};

use super::logs::Entry;
use crate::corpus::Label;
use crate::metrics::Rate;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    /// Benign decisions not allowed / benign decisions.
    Fpr,
    /// Adversarial decisions allowed / adversarial decisions.
    Asr,
    /// Errors / all decisions.
    ErrorRate,
}

/// "`signal` > `above` for `for-minutes`".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AlertRule {
    pub id: String,
    pub signal: Signal,
    pub above: f64,
    pub for_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SignalPolicy {
    /// The rolling window each point is computed over.
    pub window_minutes: i64,
    /// How often the rules are evaluated (Prometheus's evaluation interval).
    pub step_minutes: i64,
    /// Fewest decisions of the watched population in a window for it to be
    /// eligible (benign ones for FPR, adversarial for ASR, all for errors).
    pub min_decisions: u64,
    pub rules: Vec<AlertRule>,
}

impl Default for SignalPolicy {
    /// The hotfix runbook's rules.
    fn default() -> Self {
        let rule = |id: &str, signal, above, for_minutes| AlertRule { id: id.into(), signal, above, for_minutes };
        SignalPolicy {
            window_minutes: 5,
            step_minutes: 1,
            min_decisions: 30,
            rules: vec![
                rule("fpr-high", Signal::Fpr, 0.15, 5),
                rule("asr-high", Signal::Asr, 0.50, 5),
                rule("error-rate-high", Signal::ErrorRate, 0.01, 2),
            ],
        }
    }
}

/// One signal in one window: `None` when not eligible.
fn window_rate(window: &[&Entry], signal: Signal, min: u64) -> Option<Rate> {
    // An error never counts for the target: a benign error is a false
    // positive, an adversarial one is not a detection (the default policy).
    let allowed = |d: &Entry| !d.deny && !d.error;
    let (hits, total) = window.iter().fold((0u64, 0u64), |(h, t), d| match signal {
        Signal::Fpr if d.label == Some(Label::Benign) => (h + u64::from(!allowed(d)), t + 1),
        Signal::Asr if d.label == Some(Label::Adversarial) => (h + u64::from(allowed(d) || d.error), t + 1),
        Signal::ErrorRate => (h + u64::from(d.error), t + 1),
        _ => (h, t),
    });
    // Wilson at 95%, as every rate in gauntlet by default.
    (total >= min.max(1)).then(|| Rate::new(hits, total, &crate::metrics::CountingPolicy::default()))
}

/// Where a rule stands at the end of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct RuleState {
    pub rule: AlertRule,
    /// `None`: every tenant together.
    pub tenant: Option<String>,
    /// Firing at the last evaluation point.
    pub firing: bool,
    /// When it last started firing (ms), if it ever did.
    pub fired_at_ms: Option<i64>,
    /// Consecutive eligible clear windows at the end of the log (a promotion
    /// resumes after two).
    pub clear_windows: u64,
    /// Evaluation points with too few decisions to judge.
    pub not_eligible: u64,
    /// The window that fired (or the last one judged): its rate and interval.
    pub evidence: Option<Rate>,
}

/// Every rule over the whole log and over each tenant's decisions
/// (`tenants`: the names `logs::read_log` interned).
pub fn evaluate(entries: &[Entry], tenants: &[String], policy: &SignalPolicy) -> Vec<RuleState> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by_key(|d| d.ts_ms);
    let mut present: Vec<u32> = sorted.iter().filter_map(|d| d.tenant).collect();
    present.sort_unstable_by_key(|&t| &tenants[t as usize]);
    present.dedup();
    let mut out = Vec::new();
    for tenant in std::iter::once(None).chain(present.into_iter().map(Some)) {
        let subset: Vec<&Entry> = sorted.iter().filter(|d| tenant.is_none() || d.tenant == tenant).copied().collect();
        let name = tenant.map(|t| tenants[t as usize].as_str());
        for rule in &policy.rules {
            out.push(evaluate_rule(&subset, rule, policy, name));
        }
    }
    out
}

fn evaluate_rule(sorted: &[&Entry], rule: &AlertRule, policy: &SignalPolicy, tenant: Option<&str>) -> RuleState {
    let mut state = RuleState {
        rule: rule.clone(),
        tenant: tenant.map(String::from),
        firing: false,
        fired_at_ms: None,
        clear_windows: 0,
        not_eligible: 0,
        evidence: None,
    };
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else { return state };
    let (window, step) = (policy.window_minutes.max(1) * 60_000, policy.step_minutes.max(1) * 60_000);
    // Points are window ends, every step, from the first full window on.
    let mut at = first.ts_ms + window;
    let mut held_since: Option<i64> = None;
    while at <= last.ts_ms + step {
        let lo = sorted.partition_point(|d| d.ts_ms < at - window);
        let hi = sorted.partition_point(|d| d.ts_ms < at);
        match window_rate(&sorted[lo..hi], rule.signal, policy.min_decisions) {
            None => {
                state.not_eligible += 1;
                held_since = None;
                state.clear_windows = 0;
                state.firing = false;
            }
            Some(rate) => {
                let breached = rate.value.is_some_and(|v| v > rule.above);
                if breached {
                    let since = *held_since.get_or_insert(at);
                    state.clear_windows = 0;
                    // Held at every point from `since` to now, and for at
                    // least `for`: as Prometheus moves pending to firing.
                    let held = at - since >= rule.for_minutes * 60_000;
                    if held && !state.firing {
                        state.fired_at_ms = Some(at);
                    }
                    state.firing = held;
                } else {
                    held_since = None;
                    state.firing = false;
                    state.clear_windows += 1;
                }
                state.evidence = Some(rate);
            }
        }
        at += step;
    }
    state
}

/// One row of the rollback matrix: a bundle younger than `max-age-hours`
/// with an error rate above `error-rate-above` is rolled back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RollbackRow {
    pub max_age_hours: f64,
    pub error_rate_above: f64,
}

/// What the rollback matrix saw: the bundle's age, its error rate since
/// deployment, and the row that fired (if one did).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct RollbackCheck {
    pub deployed_at: String,
    pub age_hours: f64,
    pub decisions: u64,
    pub errors: u64,
    pub error_rate: Option<f64>,
    pub fired: Option<RollbackRow>,
}

/// The matrix over the canary decisions since `deployed_ms`, aged at the
/// last decision.
pub fn rollback_check(canary: &[Entry], deployed_ms: i64, deployed_at: &str, matrix: &[RollbackRow]) -> RollbackCheck {
    let since: Vec<&Entry> = canary.iter().filter(|e| e.ts_ms >= deployed_ms).collect();
    let end = since.iter().map(|e| e.ts_ms).max().unwrap_or(deployed_ms);
    let errors = since.iter().filter(|e| e.error).count() as u64;
    let decisions = since.len() as u64;
    let error_rate = (decisions > 0).then(|| errors as f64 / decisions as f64);
    let age_hours = (end - deployed_ms) as f64 / 3_600_000.0;
    let fired = error_rate.and_then(|r| rollback(matrix, age_hours, r)).cloned();
    RollbackCheck { deployed_at: deployed_at.to_string(), age_hours, decisions, errors, error_rate, fired }
}

/// The policy runbook's matrix: < 2 h and > 5%; 2–12 h and > 10%; 12–24 h and > 15%.
pub fn default_rollback_matrix() -> Vec<RollbackRow> {
    vec![
        RollbackRow { max_age_hours: 2.0, error_rate_above: 0.05 },
        RollbackRow { max_age_hours: 12.0, error_rate_above: 0.10 },
        RollbackRow { max_age_hours: 24.0, error_rate_above: 0.15 },
    ]
}

/// The row that says roll back, for a bundle of this age with this error
/// rate (rows are checked youngest first; an age past every row never rolls
/// back by this matrix).
pub fn rollback(matrix: &[RollbackRow], age_hours: f64, error_rate: f64) -> Option<&RollbackRow> {
    let mut rows: Vec<&RollbackRow> = matrix.iter().collect();
    rows.sort_by(|a, b| a.max_age_hours.total_cmp(&b.max_age_hours));
    rows.into_iter().find(|r| age_hours < r.max_age_hours).filter(|r| error_rate > r.error_rate_above)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    const TENANTS: [&str; 2] = ["acme", "globex"];

    fn entry(ts_ms: i64, label: Label, deny: bool, tenant: Option<&str>) -> Entry {
        let tenant = tenant.map(|t| TENANTS.iter().position(|n| *n == t).unwrap() as u32);
        Entry { ts_ms, error: false, deny, latency_us: None, canary: true, label: Some(label), tenant }
    }

    /// `minutes` of traffic, `per_minute` benign reviewed samples of which
    /// `fpr` are blocked, and as many adversarial probes all blocked.
    fn traffic(start_minute: i64, minutes: i64, per_minute: usize, fpr: f64, tenant: Option<&str>) -> Vec<Entry> {
        let mut out = Vec::new();
        for m in start_minute..start_minute + minutes {
            let blocked = (per_minute as f64 * fpr).round() as usize;
            for k in 0..per_minute {
                let ts_ms = m * MINUTE + (k as i64 * MINUTE / per_minute as i64);
                out.push(entry(ts_ms, Label::Benign, k < blocked, tenant));
                out.push(entry(ts_ms, Label::Adversarial, true, tenant));
            }
        }
        out
    }

    fn run(log: &[Entry]) -> Vec<RuleState> {
        evaluate(log, &TENANTS.map(String::from), &SignalPolicy::default())
    }

    fn fpr_rule(states: &[RuleState], tenant: Option<&str>) -> RuleState {
        states.iter().find(|s| s.rule.id == "fpr-high" && s.tenant.as_deref() == tenant).unwrap().clone()
    }

    #[test]
    fn an_fpr_rise_held_for_ten_minutes_fires() {
        let mut log = traffic(0, 30, 20, 0.05, None);
        log.extend(traffic(30, 10, 20, 0.20, None));
        let state = fpr_rule(&run(&log), None);
        assert!(state.firing, "{state:?}");
        // The window ending at minute 34 is the first over 15% (17%: four
        // minutes at 20%, one at 5%); held at every point for 5 minutes.
        assert_eq!(state.fired_at_ms, Some(39 * MINUTE));
        assert!(state.evidence.unwrap().value.unwrap() > 0.15);
    }

    #[test]
    fn the_same_rise_for_three_minutes_does_not_fire() {
        let mut log = traffic(0, 30, 20, 0.05, None);
        log.extend(traffic(30, 3, 20, 0.20, None));
        log.extend(traffic(33, 20, 20, 0.05, None));
        let state = fpr_rule(&run(&log), None);
        assert!(!state.firing && state.fired_at_ms.is_none(), "{state:?}");
        assert!(state.clear_windows >= 2, "clear again at the end: {state:?}");
    }

    #[test]
    fn a_low_volume_window_is_not_eligible_never_fine_and_never_firing() {
        // 2 benign decisions a minute: 10 in a window, under the minimum of 30,
        // all of them blocked.
        let log = traffic(0, 20, 2, 1.0, None);
        let state = fpr_rule(&run(&log), None);
        assert!(!state.firing);
        assert_eq!(state.clear_windows, 0, "not eligible is not clear");
        assert!(state.not_eligible > 10);
        assert!(state.evidence.is_none());
    }

    #[test]
    fn tenants_are_judged_alone_as_well_as_together() {
        let mut log = traffic(0, 20, 20, 0.30, Some("acme"));
        log.extend(traffic(0, 20, 60, 0.0, Some("globex")));
        let states = run(&log);
        assert!(fpr_rule(&states, Some("acme")).firing);
        assert!(!fpr_rule(&states, Some("globex")).firing);
        assert!(!fpr_rule(&states, None).firing, "7.5% overall: the tenant's breach is only visible alone");
    }

    #[test]
    fn the_rollback_matrix_depends_on_the_bundle_age() {
        let m = default_rollback_matrix();
        assert_eq!(rollback(&m, 1.0, 0.06).map(|r| r.max_age_hours), Some(2.0), "young bundle, 6% errors: roll back");
        assert_eq!(rollback(&m, 5.0, 0.06), None, "older bundle, same errors: no rollback");
        assert_eq!(rollback(&m, 5.0, 0.11).map(|r| r.max_age_hours), Some(12.0));
        assert_eq!(rollback(&m, 30.0, 0.50), None, "past the matrix");
    }
}
