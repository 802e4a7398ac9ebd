//! The project's production rules as Prometheus recording and alerting
//! rules (`gauntlet alerts --format prometheus`), so the gate is watched in
//! production by the same numbers `gauntlet release` judges a log with.
//!
//! Equivalence, rule by rule: a signal's rate over its window is the ratio
//! of two counters' `increase` over the same range (extrapolation cancels
//! in a ratio); "not eligible" is an `and` on the window's volume; `for`
//! is Prometheus's own; a burn-rate pair is two ratios over the budget with
//! the low-traffic guard on both windows. Rules come overall and `by` the
//! tenant label, as gauntlet judges overall and per tenant.
//!
//! Population, rule by rule, as `release` judges: every rate and the burn
//! rate select the series whose track is not the baseline's (during a
//! canary, the canary; otherwise all traffic, tracked or not); a
//! `*-vs-baseline` signal divides that by the baseline track. The unmatched
//! share divides by the decisions that report whether a rule matched.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::signals::Signal;
use super::ReleasePolicy;

/// Counter names the production gate exports (`[release.metrics]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct MetricNames {
    /// Labelled benign decisions that were not allowed.
    pub false_positives: String,
    /// Labelled benign decisions.
    pub benign_requests: String,
    /// Labelled adversarial decisions that were allowed.
    pub attack_successes: String,
    /// Labelled adversarial decisions.
    pub adversarial_requests: String,
    /// Decisions that ended in an error.
    pub errors: String,
    /// Every decision.
    pub requests: String,
    /// The label that names the tenant.
    pub tenant_label: String,
    /// Decisions that matched no policy rule.
    pub unmatched_requests: String,
    /// Decisions that denied (blocked).
    pub denied_requests: String,
    /// The summed cost of decisions.
    pub cost: String,
    /// Decisions that report whether a policy rule matched: the unmatched
    /// share's denominator, as gauntlet counts the lines that say. The same
    /// as `requests` when every decision reports it.
    pub rule_reported_requests: String,
    /// Decisions by reason code, one increment per reason a decision carries.
    pub reasons: String,
    /// The label of `reasons` that names the reason code.
    pub reason_label: String,
    /// The label that tells the canary from the baseline (`*-vs-baseline`).
    pub track_label: String,
    /// The track label's value on the canary's series.
    pub canary_track: String,
    /// The track label's value on the baseline's series.
    pub baseline_track: String,
}

impl Default for MetricNames {
    fn default() -> Self {
        MetricNames {
            false_positives: "firewall_false_positives_total".into(),
            benign_requests: "firewall_benign_requests_total".into(),
            attack_successes: "firewall_attack_successes_total".into(),
            adversarial_requests: "firewall_adversarial_requests_total".into(),
            errors: "firewall_errors_total".into(),
            requests: "firewall_requests_total".into(),
            tenant_label: "tenant".into(),
            unmatched_requests: "firewall_unmatched_requests_total".into(),
            denied_requests: "firewall_denied_requests_total".into(),
            cost: "firewall_decision_cost_total".into(),
            rule_reported_requests: "firewall_requests_total".into(),
            reasons: "firewall_decision_reasons_total".into(),
            reason_label: "reason".into(),
            track_label: "track".into(),
            canary_track: "canary".into(),
            baseline_track: "baseline".into(),
        }
    }
}

impl MetricNames {
    /// Each name that is not one in Prometheus's grammar, by its key: it is
    /// written unquoted into PromQL inside YAML, so a stray character (a
    /// newline, a brace) would change or inject a rule. Track values are
    /// quoted and escaped, so any text is fine there.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let metric = |s: &str| {
            let mut chars = s.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        };
        let label = |s: &str| {
            let mut chars = s.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with("__")
        };
        let metrics = [
            ("false-positives", &self.false_positives),
            ("benign-requests", &self.benign_requests),
            ("attack-successes", &self.attack_successes),
            ("adversarial-requests", &self.adversarial_requests),
            ("errors", &self.errors),
            ("requests", &self.requests),
            ("unmatched-requests", &self.unmatched_requests),
            ("denied-requests", &self.denied_requests),
            ("cost", &self.cost),
            ("rule-reported-requests", &self.rule_reported_requests),
            ("reasons", &self.reasons),
        ];
        let labels = [
            ("tenant-label", &self.tenant_label),
            ("track-label", &self.track_label),
            ("reason-label", &self.reason_label),
        ];
        let mut out = Vec::new();
        for (key, name) in metrics.into_iter().filter(|(_, n)| !metric(n)) {
            out.push((
                key,
                format!("`{}` is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", name.escape_debug()),
            ));
        }
        for (key, name) in labels.into_iter().filter(|(_, n)| !label(n)) {
            out.push((
                key,
                format!(
                    "`{}` is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)",
                    name.escape_debug()
                ),
            ));
        }
        out
    }
}

/// `fpr-high` → `GauntletFprHigh`.
fn alert_name(id: &str) -> String {
    let mut out = String::from("Gauntlet");
    for part in id.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// A YAML double-quoted string.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The counters a signal is a ratio of: (hits, decisions).
fn counters(signal: Signal, names: &MetricNames) -> (&str, &str) {
    match signal {
        Signal::Fpr => (&names.false_positives, &names.benign_requests),
        Signal::Asr => (&names.attack_successes, &names.adversarial_requests),
        Signal::ErrorRate => (&names.errors, &names.requests),
        Signal::UnmatchedShare => (&names.unmatched_requests, &names.rule_reported_requests),
        Signal::DenyRateVsBaseline => (&names.denied_requests, &names.requests),
        Signal::CostVsBaseline => (&names.cost, &names.requests),
        Signal::ReasonShareVsBaseline => (&names.reasons, &names.requests),
    }
}

/// The series `release` judges: every track but the baseline's.
fn judged(names: &MetricNames) -> String {
    format!("{{{}!={}}}", names.track_label, quoted(&names.baseline_track))
}

fn baseline(names: &MetricNames) -> String {
    format!("{{{}={}}}", names.track_label, quoted(&names.baseline_track))
}

/// The recording rules of one signal, overall (`labels` empty) or by
/// tenant: the ratio over the window and the volume that makes it eligible
/// (for a `*-vs-baseline` signal, both tracks' volumes).
fn record(out: &mut String, signal: Signal, names: &MetricNames, window: &str, suffix: &str, labels: &[&str]) {
    let slug = signal.as_str().replace('-', "_");
    let (num, den) = counters(signal, names);
    let by = |extra: &[&str]| {
        let all: Vec<&str> = labels.iter().chain(extra).copied().collect();
        if all.is_empty() {
            String::new()
        } else {
            format!(" by ({})", all.join(", "))
        }
    };
    let on = format!("on({})", labels.join(", "));
    let sum = |metric: &str, selector: &str, extra: &[&str]| {
        format!("sum{}(increase({metric}{selector}[{window}]))", by(extra))
    };
    let (c, b) = (judged(names), baseline(names));
    let ratio = match signal {
        Signal::ReasonShareVsBaseline => {
            let r = [names.reason_label.as_str()];
            let mut keys: Vec<&str> = labels.to_vec();
            keys.push(&names.reason_label);
            // A reason the baseline never gave counts half a decision: its
            // series is made from the canary's with value 0, then floored.
            format!(
                "({cr} / {on} group_left() {cd}) / on({keys}) (clamp_min({br} or (0 * {cr}), 0.5) / {on} group_left() {bd})",
                cr = sum(num, &c, &r),
                cd = sum(den, &c, &[]),
                br = sum(num, &b, &r),
                bd = sum(den, &b, &[]),
                keys = keys.join(", ")
            )
        }
        s if s.against_baseline() => {
            // As gauntlet does: a baseline without denies counts half of one.
            let baseline_num = match s {
                Signal::DenyRateVsBaseline => format!("clamp_min({}, 0.5)", sum(num, &b, &[])),
                _ => sum(num, &b, &[]),
            };
            format!("({} / {}) / ({baseline_num} / {})", sum(num, &c, &[]), sum(den, &c, &[]), sum(den, &b, &[]))
        }
        _ => format!("{} / {}", sum(num, &c, &[]), sum(den, &c, &[])),
    };
    if signal.against_baseline() {
        let _ = writeln!(
            out,
            "      - record: gauntlet:{slug}{suffix}:baseline_volume_{window}\n        expr: {}",
            sum(den, &b, &[])
        );
    }
    let _ = writeln!(
        out,
        "      - record: gauntlet:{slug}{suffix}:ratio_{window}\n        expr: {ratio}\n      - record: gauntlet:{slug}{suffix}:volume_{window}\n        expr: {}",
        sum(den, &c, &[])
    );
}

/// The rules file for `policy` with counters named by `names`.
pub fn render_rules(policy: &ReleasePolicy, names: &MetricNames) -> String {
    let signals = &policy.signals;
    let window = format!("{}m", signals.window_minutes.max(1));
    let tenant = [names.tenant_label.as_str()];
    let scopes: [(&str, &[&str]); 2] = [("", &[]), (":by_tenant", &tenant)];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by `gauntlet alerts --format prometheus` from [release] in gauntlet.toml.\n\
         # Check with `promtool check rules`; regenerate rather than edit.\ngroups:\n  - name: gauntlet-signals\n    interval: {}m\n    rules:",
        signals.step_minutes.max(1)
    );
    // FPR, ASR and the error rate always (dashboards chart them); the others
    // when a rule watches them.
    let mut used = vec![Signal::Fpr, Signal::Asr, Signal::ErrorRate];
    for rule in &signals.rules {
        if !used.contains(&rule.signal) {
            used.push(rule.signal);
        }
    }
    for signal in used {
        for (suffix, labels) in &scopes {
            record(&mut out, signal, names, &window, suffix, labels);
        }
    }
    for rule in &signals.rules {
        for (suffix, labels) in &scopes {
            let s = rule.signal.as_str().replace('-', "_");
            let min = signals.min_decisions.max(1);
            // `on` the scope's labels: a reason-share ratio carries the
            // reason label, the volumes do not.
            let on = format!("on({})", labels.join(", "));
            let baseline_guard = if rule.signal.against_baseline() {
                format!(" and {on} gauntlet:{s}{suffix}:baseline_volume_{window} >= {min}")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "      - alert: {}{}\n        expr: gauntlet:{s}{suffix}:ratio_{window} > {} and {on} gauntlet:{s}{suffix}:volume_{window} >= {min}{baseline_guard}\n        for: {}m\n        labels:\n          severity: page\n          gauntlet_rule: {}\n        annotations:\n          summary: {}",
                alert_name(&rule.id),
                if suffix.is_empty() { "" } else { "ByTenant" },
                rule.above,
                rule.for_minutes,
                quoted(&rule.id),
                quoted(&format!(
                    "{} above {} for {} minutes (gauntlet rule {})",
                    rule.signal.as_str(),
                    rule.signal.show(rule.above),
                    rule.for_minutes,
                    rule.id
                )),
            );
        }
    }
    let budget = 1.0 - policy.slo_target;
    for w in &policy.windows {
        let c = judged(names);
        let ratio = |minutes: i64| {
            format!(
                "(sum(increase({e}{c}[{minutes}m])) / sum(increase({r}{c}[{minutes}m])))",
                e = names.errors,
                r = names.requests
            )
        };
        let volume = |minutes: i64| {
            format!("sum(increase({}{c}[{minutes}m])) >= {}", names.requests, policy.min_window_decisions)
        };
        let _ = writeln!(
            out,
            "      - alert: GauntletErrorBudgetBurn{l}m{s}m\n        expr: ({rl} / {budget}) > {f} and ({rs} / {budget}) > {f} and {vl} and {vs}\n        labels:\n          severity: page\n        annotations:\n          summary: {summary}",
            l = w.long_minutes,
            s = w.short_minutes,
            rl = ratio(w.long_minutes),
            rs = ratio(w.short_minutes),
            vl = volume(w.long_minutes),
            vs = volume(w.short_minutes),
            f = w.factor,
            summary = quoted(&format!(
                "error budget of SLO {} burning faster than {}x over {} and {} minutes",
                policy.slo_target, w.factor, w.long_minutes, w.short_minutes
            )),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_carry_the_policy_thresholds_durations_and_guards() {
        let yaml = render_rules(&ReleasePolicy::default(), &MetricNames::default());
        assert!(yaml.contains("- alert: GauntletFprHigh\n        expr: gauntlet:fpr:ratio_5m > 0.15 and on() gauntlet:fpr:volume_5m >= 30\n        for: 5m"));
        assert!(yaml.contains(
            "- alert: GauntletErrorRateHighByTenant\n        expr: gauntlet:error_rate:by_tenant:ratio_5m > 0.01"
        ));
        assert!(yaml.contains("sum by (tenant)(increase(firewall_false_positives_total{track!=\"baseline\"}[5m]))"));
        assert!(yaml.contains("GauntletErrorBudgetBurn60m5m"));
        assert!(yaml.contains("sum(increase(firewall_requests_total{track!=\"baseline\"}[60m])) >= 100"));
        assert_eq!(alert_name("error-rate-high"), "GauntletErrorRateHigh");
    }
}
