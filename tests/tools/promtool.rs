//! The production rules as Prometheus judges them: `promtool check rules`
//! on what `gauntlet alerts` writes, and `promtool test rules` with input
//! series built from the same synthetic scenarios whose decision logs
//! gauntlet's release signals judge. Each scenario's expected alerts are
//! gauntlet's answer, so the promtool test passes only if Prometheus fires
//! exactly when gauntlet does.

use std::fmt::Write;
use std::path::Path;
use std::process::Command;

use libtest_mimic::Failed;

/// One track's minute: 20 benign reviewed samples (`fp` of them blocked),
/// 20 adversarial probes (`succ` of them allowed), `errors` more decisions
/// that ended in an error, `unmatched` of the 40 labelled decisions
/// matching no policy rule, and `reason` of them carrying the reason code
/// `pii-email` (the others `ok`).
#[derive(Clone, Copy, Default)]
struct Minute {
    fp: u32,
    succ: u32,
    errors: u32,
    unmatched: u32,
    reason: u32,
}

impl Minute {
    fn denied(&self) -> u32 {
        self.fp + 20 - self.succ
    }
}

/// Per minute, the canary's and the baseline's traffic.
struct Scenario {
    name: &'static str,
    minutes: Vec<(Minute, Minute)>,
}

const HEALTHY: Minute = Minute { fp: 1, succ: 0, errors: 0, unmatched: 2, reason: 2 };

fn scenarios() -> Vec<Scenario> {
    let phase = |n: usize, canary: Minute, baseline: Minute| std::iter::repeat_n((canary, baseline), n);
    let both = |n: usize, m: Minute| phase(n, m, m);
    let with = |f: &dyn Fn(&mut Minute)| {
        let mut m = HEALTHY;
        f(&mut m);
        m
    };
    let fpr20 = with(&|m| m.fp = 4);
    let asr60 = with(&|m| m.succ = 12);
    let errors = with(&|m| m.errors = 1);
    let unmatched = with(&|m| m.unmatched = 12);
    // A baseline that lets most probes through denies 9 of 40; the
    // healthy canary denies 21: 2.3 times as many.
    let lenient = with(&|m| m.succ = 12);
    let reason40 = with(&|m| m.reason = 16);
    vec![
        Scenario { name: "fpr-rise-held-10-min", minutes: both(40, HEALTHY).chain(both(10, fpr20)).collect() },
        Scenario {
            name: "fpr-rise-for-3-min",
            minutes: both(40, HEALTHY).chain(both(3, fpr20)).chain(both(10, HEALTHY)).collect(),
        },
        Scenario { name: "canary-fpr-20-baseline-healthy", minutes: phase(40, fpr20, HEALTHY).collect() },
        Scenario { name: "baseline-fpr-20-canary-healthy", minutes: phase(40, HEALTHY, fpr20).collect() },
        Scenario { name: "errors-2.5-percent", minutes: both(30, HEALTHY).chain(both(10, errors)).collect() },
        Scenario { name: "asr-60-percent", minutes: both(30, HEALTHY).chain(phase(10, asr60, HEALTHY)).collect() },
        Scenario {
            name: "unmatched-30-percent",
            minutes: both(30, HEALTHY).chain(phase(10, unmatched, HEALTHY)).collect(),
        },
        Scenario { name: "denies-doubled", minutes: both(30, lenient).chain(phase(10, HEALTHY, lenient)).collect() },
        Scenario {
            name: "reason-5-to-40-percent-10-min",
            minutes: both(30, HEALTHY).chain(phase(10, reason40, HEALTHY)).collect(),
        },
        Scenario {
            name: "reason-5-to-40-percent-3-min",
            minutes: both(30, HEALTHY).chain(phase(3, reason40, HEALTHY)).chain(both(15, HEALTHY)).collect(),
        },
        Scenario { name: "healthy", minutes: both(30, HEALTHY).collect() },
    ]
}

fn decision_log(s: &Scenario) -> String {
    let mut out = String::new();
    for (m, (canary, baseline)) in s.minutes.iter().enumerate() {
        for (version, t) in [("2.0", canary), ("1.9", baseline)] {
            for k in 0..40u32 {
                let ts = 1_790_000_000 + m as i64 * 60 + k as i64;
                let (label, decision) = match k % 2 {
                    0 if k / 2 < t.fp => ("benign", "block"),
                    0 => ("benign", "allow"),
                    _ if k / 2 < t.succ => ("adversarial", "allow"),
                    _ => ("adversarial", "block"),
                };
                let rule = if k < t.unmatched { "null" } else { "\"r1\"" };
                let reason = if k < t.reason { "pii-email" } else { "ok" };
                let _ = writeln!(
                    out,
                    "{{\"ts\":{ts},\"decision\":\"{decision}\",\"label\":\"{label}\",\"tenant\":\"acme\",\"policy-version\":\"{version}\",\"matched-rule\":{rule},\"reasons\":[\"{reason}\"]}}"
                );
            }
            for k in 0..t.errors {
                let ts = 1_790_000_000 + m as i64 * 60 + 40 + k as i64;
                let _ = writeln!(
                    out,
                    "{{\"ts\":{ts},\"error\":\"timeout\",\"tenant\":\"acme\",\"policy-version\":\"{version}\"}}"
                );
            }
        }
    }
    out
}

/// Every signal kind, overall and by tenant: the policy gauntlet judges the
/// logs with, and (as TOML) what `gauntlet alerts` writes the rules from.
fn every_signal() -> (gauntlet::release::signals::SignalPolicy, String) {
    use gauntlet::release::signals::{AlertRule, Signal, SignalPolicy};
    let rules = vec![
        ("fpr-high", Signal::Fpr, 0.15, 5),
        ("asr-high", Signal::Asr, 0.5, 5),
        ("error-rate-high", Signal::ErrorRate, 0.01, 2),
        ("unmatched-high", Signal::UnmatchedShare, 0.2, 5),
        ("deny-spike", Signal::DenyRateVsBaseline, 2.0, 5),
        ("cost-per-decision-high", Signal::CostVsBaseline, 1.5, 5),
        ("reason-spike", Signal::ReasonShareVsBaseline, 3.0, 5),
    ];
    let mut toml = String::from("[target]\nkind = \"builtin\"\n\n");
    for (id, signal, above, for_minutes) in &rules {
        let _ = write!(
            toml,
            "[[release.signals.rules]]\nid = \"{id}\"\nsignal = \"{}\"\nabove = {above}\nfor-minutes = {for_minutes}\n",
            signal.as_str()
        );
    }
    let policy = SignalPolicy {
        rules: rules
            .into_iter()
            .map(|(id, signal, above, for_minutes)| AlertRule { id: id.into(), signal, above, for_minutes })
            .collect(),
        ..SignalPolicy::default()
    };
    (policy, toml)
}

/// (rule id, tenant, firing, the reason a reason-share rule names).
type Verdict = (String, Option<String>, bool, Option<String>);

/// gauntlet's verdict per rule id and tenant (`None`: overall) at the end
/// of the log, with the reason a reason-share rule names; lines of policy
/// version 2.0 are the canary, others the baseline.
fn gauntlet_firing(log: &Path, policy: &gauntlet::release::signals::SignalPolicy) -> Result<Vec<Verdict>, Failed> {
    use gauntlet::release::{logs, signals};
    let mut names = logs::Names::default();
    let population = logs::Population::ByVersion("2.0".into());
    let bytes = std::fs::read(log).map_err(|e| e.to_string())?;
    let (entries, problems) =
        logs::parse_log(log, bytes, &population, &mut names, &()).map_err(|d| format!("{d:?}"))?;
    if !problems.is_empty() {
        return Err(format!("{problems:?}").into());
    }
    let counting = gauntlet::metrics::CountingPolicy::default();
    let states = signals::evaluate(&entries, &names, policy, &counting);
    Ok(states.into_iter().map(|s| (s.rule.id, s.tenant, s.firing, s.reason)).collect())
}

/// One counter's input series on one track: cumulative, a value a minute from 0.
fn series(name: &str, labels: &str, per_minute: impl Iterator<Item = u32>) -> String {
    let mut total = 0u32;
    let mut values = vec!["0".to_string()];
    for n in per_minute {
        total += n;
        values.push(total.to_string());
    }
    format!("      - series: '{name}{{{labels}}}'\n        values: '{}'\n", values.join(" "))
}

fn input_series(s: &Scenario) -> String {
    let mut out = String::new();
    for (track, pick) in [("canary", 0usize), ("baseline", 1)] {
        let t = |m: &(Minute, Minute)| if pick == 0 { m.0 } else { m.1 };
        let labels = format!("tenant=\"acme\",track=\"{track}\"");
        let each = |f: &dyn Fn(Minute) -> u32| s.minutes.iter().map(|m| f(t(m))).collect::<Vec<_>>().into_iter();
        out.push_str(&series("firewall_benign_requests_total", &labels, each(&|_| 20)));
        out.push_str(&series("firewall_false_positives_total", &labels, each(&|m| m.fp)));
        out.push_str(&series("firewall_adversarial_requests_total", &labels, each(&|_| 20)));
        out.push_str(&series("firewall_attack_successes_total", &labels, each(&|m| m.succ)));
        out.push_str(&series("firewall_requests_total", &labels, each(&|m| 40 + m.errors)));
        out.push_str(&series("firewall_errors_total", &labels, each(&|m| m.errors)));
        out.push_str(&series("firewall_unmatched_requests_total", &labels, each(&|m| m.unmatched)));
        out.push_str(&series("firewall_denied_requests_total", &labels, each(&|m| m.denied())));
        for (reason, f) in
            [("pii-email", &(|m: Minute| m.reason) as &dyn Fn(Minute) -> u32), ("ok", &|m: Minute| 40 - m.reason)]
        {
            let l = format!("{labels},reason=\"{reason}\"");
            out.push_str(&series("firewall_decision_reasons_total", &l, each(f)));
        }
    }
    out
}

/// The generated rule's summary annotation, read back from the rules file.
fn summary(rules: &str, alert: &str) -> String {
    let at = rules.find(&format!("- alert: {alert}\n")).expect("the alert is in the rules");
    let line = rules[at..].lines().find(|l| l.trim_start().starts_with("summary: ")).expect("a summary");
    line.trim_start().trim_start_matches("summary: ").to_string()
}

/// Writes promtool's expectation for `alert` overall and by tenant from
/// gauntlet's verdicts; returns whether the overall one fires.
fn expect_alert(
    tests: &mut String,
    rules: &str,
    verdicts: &[Verdict],
    rule: &str,
    alert: &str,
    minutes: usize,
) -> bool {
    let mut overall = false;
    for tenant in [None, Some("acme")] {
        let verdict = verdicts.iter().find(|(id, t, _, _)| id == rule && t.as_deref() == tenant);
        let firing = verdict.is_some_and(|v| v.2);
        // A reason-share alert carries the reason it fired for.
        let reason = verdict.and_then(|v| v.3.clone()).filter(|_| rule == "reason-spike");
        let name = if tenant.is_some() { format!("{alert}ByTenant") } else { alert.to_string() };
        overall |= tenant.is_none() && firing;
        let _ = write!(tests, "      - eval_time: {minutes}m\n        alertname: {name}\n");
        if firing {
            let _ = write!(
                tests,
                "        exp_alerts:\n          - exp_labels:\n              severity: page\n              gauntlet_rule: {rule}\n{}{}            exp_annotations:\n              summary: {}\n",
                tenant.map(|t| format!("              tenant: {t}\n")).unwrap_or_default(),
                reason.map(|r| format!("              reason: {r}\n")).unwrap_or_default(),
                summary(rules, &name)
            );
        } else {
            tests.push_str("        exp_alerts: []\n");
        }
    }
    overall
}

/// 40 decisions a minute on each track; the baseline costs 1 a decision.
struct CostScenario {
    name: &'static str,
    minutes: usize,
    canary_cost: f64,
}

fn cost_scenarios() -> Vec<CostScenario> {
    vec![
        CostScenario { name: "cost-up-60-percent", minutes: 30, canary_cost: 1.6 },
        CostScenario { name: "cost-up-20-percent", minutes: 30, canary_cost: 1.2 },
    ]
}

fn cost_log(c: &CostScenario) -> String {
    let mut out = String::new();
    for m in 0..c.minutes {
        for k in 0..40 {
            let ts = 1_790_000_000 + m as i64 * 60 + k as i64;
            for (version, cost) in [("2.0", c.canary_cost), ("1.9", 1.0)] {
                let _ = writeln!(
                    out,
                    "{{\"ts\":{ts},\"decision\":\"allow\",\"cost\":{cost},\"tenant\":\"acme\",\"policy-version\":\"{version}\"}}"
                );
            }
        }
    }
    out
}

fn alerts(config: &Path, out: &Path) -> Result<String, Failed> {
    let written = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["alerts", "--format", "prometheus", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .output()?;
    if !written.status.success() {
        return Err(format!("gauntlet alerts: {}", String::from_utf8_lossy(&written.stderr)).into());
    }
    Ok(std::fs::read_to_string(out)?)
}

fn check_rules(promtool: &Path, rules: &Path, expect: &str) -> Result<(), Failed> {
    let checked = Command::new(promtool).args(["check", "rules"]).arg(rules).output()?;
    let said = String::from_utf8_lossy(&checked.stdout);
    if !checked.status.success() || !said.contains(expect) {
        return Err(format!("promtool check rules on {}:\n{said}", rules.display()).into());
    }
    Ok(())
}

pub fn check(promtool: &Path) -> Result<(), Failed> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-scratch/promtool");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    // The bundled project's rules are valid.
    alerts(&Path::new(env!("CARGO_MANIFEST_DIR")).join("gauntlet.toml"), &dir.join("project.yml"))?;
    check_rules(promtool, &dir.join("project.yml"), "SUCCESS")?;

    // Every signal kind, overall and by tenant: valid, and judged as gauntlet judges.
    let (policy, toml) = every_signal();
    std::fs::write(dir.join("every-signal.toml"), toml)?;
    let rules = alerts(&dir.join("every-signal.toml"), &dir.join("rules.yml"))?;
    // 4 rates (ratio and volume, twice), 3 *-vs-baseline (and a baseline
    // volume), 7 alerts overall and by tenant, 2 burn-rate pairs.
    check_rules(promtool, &dir.join("rules.yml"), "SUCCESS: 50 rules found")?;

    let mut tests = String::from("rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n");
    let mut fired = Vec::new();
    for s in scenarios() {
        let log = dir.join(format!("{}.jsonl", s.name));
        std::fs::write(&log, decision_log(&s))?;
        let verdicts = gauntlet_firing(&log, &policy)?;
        let _ = write!(
            tests,
            "  - name: {}\n    interval: 1m\n    input_series:\n{}    alert_rule_test:\n",
            s.name,
            input_series(&s)
        );
        for rule in policy.rules.iter().filter(|r| r.id != "cost-per-decision-high") {
            let alert = alert_name(&rule.id);
            let firing = expect_alert(&mut tests, &rules, &verdicts, &rule.id, &alert, s.minutes.len());
            fired.push((s.name, rule.id.clone(), firing));
        }
    }
    for c in cost_scenarios() {
        let log = dir.join(format!("{}.jsonl", c.name));
        std::fs::write(&log, cost_log(&c))?;
        let verdicts = gauntlet_firing(&log, &policy)?;
        let _ = write!(tests, "  - name: {}\n    interval: 1m\n    input_series:\n", c.name);
        for (track, cost) in [("canary", c.canary_cost), ("baseline", 1.0)] {
            let labels = format!("tenant=\"acme\",track=\"{track}\"");
            let n = c.minutes + 1;
            let requests: Vec<String> = (0..n).map(|m| (m * 40).to_string()).collect();
            let costs: Vec<String> = (0..n).map(|m| format!("{}", m as f64 * 40.0 * cost)).collect();
            let _ = write!(
                tests,
                "      - series: 'firewall_requests_total{{{labels}}}'\n        values: '{}'\n      - series: 'firewall_decision_cost_total{{{labels}}}'\n        values: '{}'\n",
                requests.join(" "),
                costs.join(" ")
            );
        }
        tests.push_str("    alert_rule_test:\n");
        let firing = expect_alert(
            &mut tests,
            &rules,
            &verdicts,
            "cost-per-decision-high",
            "GauntletCostPerDecisionHigh",
            c.minutes,
        );
        fired.push((c.name, "cost-per-decision-high".into(), firing));
    }
    // Agreement must be about something: both answers occur for every kind.
    let expect = [
        ("fpr-rise-held-10-min", "fpr-high", true),
        ("fpr-rise-for-3-min", "fpr-high", false),
        ("canary-fpr-20-baseline-healthy", "fpr-high", true),
        ("baseline-fpr-20-canary-healthy", "fpr-high", false),
        ("errors-2.5-percent", "error-rate-high", true),
        ("healthy", "error-rate-high", false),
        ("asr-60-percent", "asr-high", true),
        ("healthy", "asr-high", false),
        ("unmatched-30-percent", "unmatched-high", true),
        ("healthy", "unmatched-high", false),
        ("denies-doubled", "deny-spike", true),
        ("healthy", "deny-spike", false),
        ("reason-5-to-40-percent-10-min", "reason-spike", true),
        ("reason-5-to-40-percent-3-min", "reason-spike", false),
        ("cost-up-60-percent", "cost-per-decision-high", true),
        ("cost-up-20-percent", "cost-per-decision-high", false),
    ];
    for (scenario, rule, firing) in expect {
        if !fired.iter().any(|(s, r, f)| *s == scenario && r == rule && *f == firing) {
            return Err(
                format!("gauntlet's own answer changed: expected {scenario} {rule} {firing} in {fired:?}").into()
            );
        }
    }
    std::fs::write(dir.join("tests.yml"), &tests)?;
    let tested = Command::new(promtool).args(["test", "rules"]).arg(dir.join("tests.yml")).output()?;
    if !tested.status.success() {
        return Err(format!(
            "promtool disagrees with gauntlet:\n{}{}",
            String::from_utf8_lossy(&tested.stdout),
            String::from_utf8_lossy(&tested.stderr)
        )
        .into());
    }
    Ok(())
}

/// `fpr-high` → `GauntletFprHigh`, as `gauntlet alerts` names them.
fn alert_name(id: &str) -> String {
    let mut out = String::from("Gauntlet");
    for part in id.split('-') {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}
