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

/// Per minute: 20 benign reviewed samples and 20 adversarial probes (all
/// blocked), with `blocked` of the benign ones blocked and `errors` of the
/// 40 decisions ending in an error.
struct Scenario {
    name: &'static str,
    minutes: Vec<(u32, u32)>,
}

fn scenarios() -> Vec<Scenario> {
    let phase = |n: usize, blocked: u32, errors: u32| std::iter::repeat_n((blocked, errors), n);
    vec![
        Scenario { name: "fpr-rise-held-10-min", minutes: phase(40, 1, 0).chain(phase(10, 4, 0)).collect() },
        Scenario {
            name: "fpr-rise-for-3-min",
            minutes: phase(40, 1, 0).chain(phase(3, 4, 0)).chain(phase(10, 1, 0)).collect(),
        },
        Scenario { name: "errors-2.5-percent", minutes: phase(30, 1, 0).chain(phase(10, 1, 1)).collect() },
        Scenario { name: "healthy", minutes: phase(30, 1, 0).collect() },
    ]
}

fn decision_log(s: &Scenario) -> String {
    let mut out = String::new();
    for (m, &(blocked, errors)) in s.minutes.iter().enumerate() {
        for k in 0..40u32 {
            let ts = 1_790_000_000 + m as i64 * 60 + k as i64;
            let (label, decision) = match k % 2 {
                0 if k / 2 < blocked => ("benign", "block"),
                0 => ("benign", "allow"),
                _ => ("adversarial", "block"),
            };
            let error = if k >= 40 - errors { "\"timeout\"" } else { "null" };
            let _ = writeln!(
                out,
                "{{\"ts\":{ts},\"decision\":\"{decision}\",\"error\":{error},\"label\":\"{label}\",\"tenant\":\"acme\",\"policy-version\":\"2.0\"}}"
            );
        }
    }
    out
}

/// gauntlet's verdict per rule id and tenant (`None`: overall), at the end
/// of the log; lines of policy version 2.0 are the canary, others the
/// baseline.
fn gauntlet_firing(log: &Path) -> Result<Vec<(String, Option<String>, bool)>, Failed> {
    use gauntlet::release::{logs, signals, ReleasePolicy};
    let mut tenants = Vec::new();
    let population = logs::Population::ByVersion("2.0".into());
    let bytes = std::fs::read(log).map_err(|e| e.to_string())?;
    let (entries, problems) =
        logs::parse_log(log, bytes, &population, &mut tenants, &()).map_err(|d| format!("{d:?}"))?;
    if !problems.is_empty() {
        return Err(format!("{problems:?}").into());
    }
    let counting = gauntlet::metrics::CountingPolicy::default();
    let states = signals::evaluate(&entries, &tenants, &ReleasePolicy::default().signals, &counting);
    Ok(states.into_iter().map(|s| (s.rule.id, s.tenant, s.firing)).collect())
}

/// Cumulative counter values, one a minute from 0.
fn counter(s: &Scenario, per_minute: impl Fn(u32, u32) -> u32) -> String {
    let mut total = 0u32;
    let mut values = vec!["0".to_string()];
    for &(blocked, errors) in &s.minutes {
        total += per_minute(blocked, errors);
        values.push(total.to_string());
    }
    values.join(" ")
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
    verdicts: &[(String, Option<String>, bool)],
    rule: &str,
    alert: &str,
    minutes: usize,
) -> bool {
    let mut overall = false;
    for tenant in [None, Some("acme")] {
        let firing = verdicts.iter().any(|(id, t, f)| id == rule && t.as_deref() == tenant && *f);
        let name = if tenant.is_some() { format!("{alert}ByTenant") } else { alert.to_string() };
        overall |= tenant.is_none() && firing;
        let _ = write!(tests, "      - eval_time: {minutes}m\n        alertname: {name}\n");
        if firing {
            let _ = write!(
                tests,
                "        exp_alerts:\n          - exp_labels:\n              severity: page\n              gauntlet_rule: {rule}\n{}            exp_annotations:\n              summary: {}\n",
                tenant.map(|t| format!("              tenant: {t}\n")).unwrap_or_default(),
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

pub fn check(promtool: &Path) -> Result<(), Failed> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-scratch/promtool");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let rules = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["alerts", "--format", "prometheus", "--config"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("gauntlet.toml"))
        .output()?;
    if !rules.status.success() {
        return Err(format!("gauntlet alerts failed: {}", String::from_utf8_lossy(&rules.stderr)).into());
    }
    let rules = String::from_utf8(rules.stdout)?;
    std::fs::write(dir.join("rules.yml"), &rules)?;
    let checked = Command::new(promtool).args(["check", "rules"]).arg(dir.join("rules.yml")).output()?;
    if !checked.status.success() {
        return Err(format!("promtool check rules:\n{}", String::from_utf8_lossy(&checked.stdout)).into());
    }

    // Every kind of signal, as a project could configure them, is valid PromQL.
    let every = dir.join("every-signal.toml");
    let mut config = String::from("[target]\nkind = \"builtin\"\n\n[release.signals]\nmin-decisions = 20\n");
    for (id, signal, above) in [
        ("fpr", "fpr", 0.15),
        ("asr", "asr", 0.5),
        ("errors", "error-rate", 0.01),
        ("unmatched", "unmatched-share", 0.2),
        ("deny-spike", "deny-rate-vs-baseline", 2.0),
        ("cost", "cost-vs-baseline", 1.5),
    ] {
        let _ = write!(
            config,
            "[[release.signals.rules]]\nid = \"{id}\"\nsignal = \"{signal}\"\nabove = {above}\nfor-minutes = 5\n"
        );
    }
    std::fs::write(&every, config)?;
    let every_rules = dir.join("every-signal.yml");
    let written = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["alerts", "--format", "prometheus", "--config"])
        .arg(&every)
        .arg("--out")
        .arg(&every_rules)
        .output()?;
    if !written.status.success() {
        return Err(format!("gauntlet alerts: {}", String::from_utf8_lossy(&written.stderr)).into());
    }
    let checked = Command::new(promtool).args(["check", "rules"]).arg(&every_rules).output()?;
    let said = String::from_utf8_lossy(&checked.stdout);
    if !checked.status.success() || !said.contains("SUCCESS: 42 rules found") {
        return Err(format!("promtool check rules on every signal:\n{said}").into());
    }

    let mut tests = String::from("rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n");
    let mut fired = Vec::new();
    for s in scenarios() {
        let log = dir.join(format!("{}.jsonl", s.name));
        std::fs::write(&log, decision_log(&s))?;
        let verdicts = gauntlet_firing(&log)?;
        let _ = write!(
            tests,
            "  - name: {name}\n    interval: 1m\n    input_series:\n      \
             - series: 'firewall_benign_requests_total{{tenant=\"acme\"}}'\n        values: '{benign}'\n      \
             - series: 'firewall_false_positives_total{{tenant=\"acme\"}}'\n        values: '{fp}'\n      \
             - series: 'firewall_adversarial_requests_total{{tenant=\"acme\"}}'\n        values: '{adv}'\n      \
             - series: 'firewall_attack_successes_total{{tenant=\"acme\"}}'\n        values: '{succ}'\n      \
             - series: 'firewall_requests_total{{tenant=\"acme\"}}'\n        values: '{req}'\n      \
             - series: 'firewall_errors_total{{tenant=\"acme\"}}'\n        values: '{err}'\n    alert_rule_test:\n",
            name = s.name,
            benign = counter(&s, |_, _| 20),
            fp = counter(&s, |b, _| b),
            adv = counter(&s, |_, _| 20),
            succ = counter(&s, |_, _| 0),
            req = counter(&s, |_, _| 40),
            err = counter(&s, |_, e| e),
        );
        for (rule, alert) in [("fpr-high", "GauntletFprHigh"), ("error-rate-high", "GauntletErrorRateHigh")] {
            let firing = expect_alert(&mut tests, &rules, &verdicts, rule, alert, s.minutes.len());
            fired.push((s.name, rule, firing));
        }
    }
    for c in cost_scenarios() {
        let log = dir.join(format!("{}.jsonl", c.name));
        std::fs::write(&log, cost_log(&c))?;
        let verdicts = gauntlet_firing(&log)?;
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
        fired.push((c.name, "cost-per-decision-high", firing));
    }
    // Agreement must be about something: both answers occur.
    let expect = [
        ("fpr-rise-held-10-min", "fpr-high", true),
        ("fpr-rise-for-3-min", "fpr-high", false),
        ("errors-2.5-percent", "error-rate-high", true),
        ("healthy", "error-rate-high", false),
        ("cost-up-60-percent", "cost-per-decision-high", true),
        ("cost-up-20-percent", "cost-per-decision-high", false),
    ];
    for e in expect {
        if !fired.contains(&e) {
            return Err(format!("gauntlet's own answer changed: expected {e:?} in {fired:?}").into());
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
