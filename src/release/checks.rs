//! The release checks, pure: each takes evidence already read (by
//! `pipeline::release`) and says what blocks the release, naming the
//! evidence it rests on.

use super::{AlertState, BlockingReason, CanaryCheck};
use crate::calibrate::Calibration;
use crate::evaluate::{status_name, GateStatus, Lane, Overall, WaiverReport};

/// What the release needs to know about the latest verdict.
#[derive(Debug, Clone)]
pub struct VerdictFacts {
    pub lane: Lane,
    pub overall: Overall,
    /// Blocking gates that failed, were inconclusive or in error.
    pub failing_blocking: Vec<String>,
    pub age_hours: Option<f64>,
    /// What the verdict was computed under that differs from what is being
    /// released, each as a sentence naming the hash (`gates hash … is now …`).
    pub stale: Vec<String>,
    /// `fixtures:*` and `golden:*` gates: id, status, first line of detail.
    pub fixture_gates: Vec<(String, GateStatus, String)>,
    /// Every gate and its status (what a promotion stage requires).
    pub gates: Vec<(String, GateStatus)>,
}

/// What the release needs to know about the latest load run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadEvidence {
    pub fail_open: u64,
    /// Blocking load gates that failed.
    pub failing_gates: Vec<String>,
    pub no_rate_found: bool,
    pub age_hours: Option<f64>,
    pub target_hash: String,
}

impl LoadEvidence {
    pub fn of(r: &crate::load::LoadReport, age_hours: Option<f64>) -> LoadEvidence {
        LoadEvidence {
            fail_open: r.fail_open.count,
            failing_gates: r.gates.iter().filter(|g| g.blocking && g.status == "fail").map(|g| g.id.clone()).collect(),
            no_rate_found: r.bounds.is_some() && r.found_rate.is_none(),
            age_hours,
            target_hash: r.target.hash.clone(),
        }
    }
}

/// What the release needs to know about the latest attack run.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackEvidence {
    /// Blocking `adaptive-evasion-rate` gates that failed.
    pub failing_gates: Vec<String>,
    pub age_hours: Option<f64>,
    pub target_hash: String,
}

impl AttackEvidence {
    pub fn of(r: &crate::attack::AttackReport, age_hours: Option<f64>) -> AttackEvidence {
        AttackEvidence {
            failing_gates: r.gates.iter().filter(|g| g.blocking && g.status == "fail").map(|g| g.id.clone()).collect(),
            age_hours,
            target_hash: r.target.hash.clone(),
        }
    }
}

struct SideRun<'a> {
    failing_gates: &'a [String],
    age_hours: Option<f64>,
    target_hash: &'a str,
}

/// Collects blocking reasons, each tied to an evidence id.
#[derive(Default)]
pub struct Blockers(pub Vec<BlockingReason>);

impl Blockers {
    fn block(&mut self, check: &str, message: String, evidence: &str) {
        self.0.push(BlockingReason { check: check.into(), message, evidence: evidence.into() });
    }

    /// The latest verdict: present, full lane, passing, fresh, and of what is released.
    pub fn verdict(&mut self, v: Option<&VerdictFacts>, max_age_days: i64) {
        let Some(v) = v else {
            self.block("verdict", "no readable verdict.json: run `gauntlet run --lane full` first".into(), "verdict");
            return;
        };
        if v.lane != Lane::Full {
            self.block(
                "verdict",
                format!("the latest verdict is from the {} lane; release needs the full lane", v.lane.as_str()),
                "verdict",
            );
        }
        if v.overall != Overall::Pass {
            self.block(
                "verdict",
                format!("the verdict is {}: {}", v.overall.as_str(), v.failing_blocking.join(", ")),
                "verdict",
            );
        }
        if let Some(hours) = v.age_hours.filter(|h| *h > max_age_days as f64 * 24.0) {
            self.block(
                "verdict",
                format!("the verdict is {hours:.0} hours old; at most {max_age_days} days are accepted"),
                "verdict",
            );
        }
        for what in &v.stale {
            self.block(
                "verdict",
                format!("the verdict is stale: it was computed under another project than the one released ({what})"),
                "verdict",
            );
        }
        // No fixture at all is no evidence, not a pass: a release vouches
        // that known false positives stay allowed and known threats blocked.
        if v.fixture_gates.is_empty() {
            self.block(
                "fixtures",
                "the verdict checked no fixture suite and no golden snapshot: known false positives and known threats are unverified".into(),
                "verdict",
            );
        }
        for (id, status, first_line) in &v.fixture_gates {
            if *status != GateStatus::Pass {
                self.block("fixtures", format!("{id} is {}: {first_line}", status.as_str()), "verdict");
            }
        }
    }

    /// Expired or invalid waivers as of the release date.
    pub fn waivers(&mut self, waivers: &[WaiverReport]) {
        for w in waivers.iter().filter(|w| w.status.is_blocking()) {
            self.block(
                "waivers",
                format!("waiver {} is {}: {}", w.id, status_name(w.status), w.detail.join("; ")),
                "waiver-audit",
            );
        }
    }

    /// A calibration review must exist and show no regression.
    pub fn calibration(&mut self, c: Option<&Calibration>) {
        let Some(c) = c else {
            self.block(
                "calibration",
                "no calibration review (reports/calibration.json): run `gauntlet calibrate`".into(),
                "calibration",
            );
            return;
        };
        if let Some(b) = c.baseline.as_ref().filter(|b| b.regression_detected) {
            let which: Vec<String> =
                b.comparisons.iter().filter(|x| x.regression).map(|x| format!("{} {}", x.scope, x.metric)).collect();
            self.block("calibration", format!("regression against the baseline: {}", which.join(", ")), "calibration");
        }
    }

    /// The latest `gauntlet load`, when the project has one: it must pass
    /// (no fail-open answer, no failing blocking load gate), be fresh, and
    /// be of the target the verdict judged. A project that never ran a
    /// load test is not blocked for it.
    pub fn load(&mut self, load: Option<&LoadEvidence>, max_age_days: i64, verdict_target: Option<&str>) {
        let Some(l) = load else { return };
        if l.fail_open > 0 {
            self.block(
                "load",
                format!("{} answer(s) under load allowed a case the gate blocks at rest (fail-open)", l.fail_open),
                "load",
            );
        }
        if l.no_rate_found {
            self.block("load", "the --find-rate search found no rate within its bounds".into(), "load");
        }
        let side = SideRun { failing_gates: &l.failing_gates, age_hours: l.age_hours, target_hash: &l.target_hash };
        self.side_run("load", "load.json", &side, max_age_days, verdict_target);
    }

    /// The latest `gauntlet attack`: its blocking gates, its age and its target.
    pub fn attack(&mut self, attack: Option<&AttackEvidence>, max_age_days: i64, verdict_target: Option<&str>) {
        let Some(a) = attack else { return };
        let side = SideRun { failing_gates: &a.failing_gates, age_hours: a.age_hours, target_hash: &a.target_hash };
        self.side_run("attack", "attack.json", &side, max_age_days, verdict_target);
    }

    /// What `load` and `attack` evidence share: a failed blocking gate, a
    /// stale file, or a file about another target than the verdict's.
    fn side_run(&mut self, check: &str, file: &str, e: &SideRun, max_age_days: i64, verdict_target: Option<&str>) {
        for g in e.failing_gates {
            self.block(check, format!("{check} gate {g} failed"), check);
        }
        if let Some(hours) = e.age_hours.filter(|h| *h > max_age_days as f64 * 24.0) {
            self.block(
                check,
                format!("{file} is {hours:.0} hours old; at most {max_age_days} days are accepted"),
                check,
            );
        }
        if let Some(v) = verdict_target.filter(|v| *v != e.target_hash) {
            self.block(
                check,
                format!("{file} measured another target (hash {}) than the verdict judged ({v})", e.target_hash),
                check,
            );
        }
    }

    /// Burn-rate alerts firing now, or cleared too recently.
    pub fn burn(&mut self, alerts: &[AlertState]) {
        for a in alerts.iter().filter(|a| a.firing_now || a.firing_before) {
            self.block(
                "burn-rate",
                format!(
                    "{}x burn-rate alert ({} min / {} min windows) {}",
                    a.window.factor,
                    a.window.long_minutes,
                    a.window.short_minutes,
                    if a.firing_now { "firing at the end of the log" } else { "cleared less than two windows ago" }
                ),
                "decision-log-1",
            );
        }
    }

    /// The canary against its baseline population.
    pub fn canary(&mut self, c: Option<&CanaryCheck>) {
        for r in c.filter(|c| c.status != "pass").iter().flat_map(|c| &c.reasons) {
            self.block("canary", r.clone(), "decision-log-1");
        }
    }

    /// A signal rule firing at the end of the canary log, naming its
    /// window, the tenant and the evidence.
    pub fn signals(&mut self, states: &[super::signals::RuleState]) {
        for s in states.iter().filter(|s| s.firing) {
            self.block("signal", format!("alert {} firing: {}", s.rule.id, signal_evidence(s)), "decision-log-1");
        }
    }

    /// An alert that fired and cleared holds promotion until it has been
    /// clear long enough and someone signed it off.
    pub fn resumes(&mut self, resumes: &[super::promotion::ResumeCheck]) {
        for r in resumes.iter().filter(|r| !r.resumed) {
            let mut missing = Vec::new();
            if r.clear_windows < r.clear_windows_needed {
                missing.push(format!("clear for {} of {} windows", r.clear_windows, r.clear_windows_needed));
            }
            if r.sign_off.is_none() {
                missing.push(format!("no sign-off lists rule {} dated on or after {}", r.rule, &r.fired_at[..10]));
            }
            self.block(
                "promotion",
                format!(
                    "alert {}{} fired at {} and cleared; promotion waits: {}",
                    r.rule,
                    r.tenant.as_ref().map(|t| format!(" (tenant {t})")).unwrap_or_default(),
                    r.fired_at,
                    missing.join("; ")
                ),
                "decision-log-1",
            );
        }
    }

    /// The stage under release: soak, gates, signals.
    pub fn stage(&mut self, stage: Option<&super::promotion::StageCheck>) {
        let Some(s) = stage else { return };
        if !s.soaked() {
            self.block(
                "promotion",
                format!(
                    "stage {} has soaked {:.1} h of its {} h (since {})",
                    s.stage, s.soak_hours, s.min_soak_hours, s.started_at
                ),
                "decision-log-1",
            );
        }
        for g in s.gates.iter().filter(|g| !g.met) {
            self.block(
                "promotion",
                format!("stage {} needs gate {} to pass: it is {}", s.stage, g.id, g.status),
                "verdict",
            );
        }
        for g in s.signals.iter().filter(|g| !g.met) {
            self.block(
                "promotion",
                format!("stage {} needs signal {} clear: it is {}", s.stage, g.id, g.status),
                "decision-log-1",
            );
        }
    }

    /// The rollback matrix fired: the release is rolled back.
    pub fn rollback(&mut self, check: Option<&super::rollback::RollbackCheck>) {
        if let Some((c, row)) = check.and_then(|c| c.fired.as_ref().map(|r| (c, r))) {
            self.block(
                "rollback",
                format!(
                    "bundle {:.1} h old (deployed {}) with {:.2}% errors ({}/{}): younger than {} h and over {:.2}%",
                    c.age_hours,
                    c.deployed_at,
                    c.error_rate.unwrap_or(0.0) * 100.0,
                    c.errors,
                    c.decisions,
                    row.max_age_hours,
                    row.error_rate_above * 100.0
                ),
                "decision-log-1",
            );
        }
    }
}

/// A rule's evidence as one sentence: tenant, value, interval, threshold,
/// duration, since when, and the last window's counts or baseline.
pub fn signal_evidence(s: &super::signals::RuleState) -> String {
    let rule = &s.rule;
    let signal = rule.signal;
    let rate = s.evidence.as_ref();
    let value = s.value.map_or("-".into(), |v| signal.show(v));
    let interval = match rate.and_then(|r| r.low.zip(r.high)).filter(|_| !signal.against_baseline()) {
        Some((l, h)) => format!(" [{:.2}%, {:.2}%]", l * 100.0, h * 100.0),
        None => String::new(),
    };
    let fired = s.fired_at_ms.and_then(chrono::DateTime::from_timestamp_millis).map(|t| t.to_rfc3339());
    let counts = match (rate, s.baseline) {
        (_, Some(b)) if signal == super::signals::Signal::CostVsBaseline => {
            format!("baseline cost {b:.4} per decision")
        }
        (Some(r), Some(b)) => format!("last window {}/{}, baseline {:.2}%", r.numerator, r.denominator, b * 100.0),
        (Some(r), None) => format!("last window {}/{}", r.numerator, r.denominator),
        (None, _) => "no window judged".into(),
    };
    format!(
        "{}{}{} {value}{interval} > {} for {} min{}; {counts}",
        s.tenant.as_ref().map(|t| format!("tenant {t}: ")).unwrap_or_default(),
        signal.as_str(),
        s.reason.as_ref().map(|r| format!(" (reason {r})")).unwrap_or_default(),
        signal.show(rule.above),
        rule.for_minutes,
        fired.map(|f| format!(" (since {f})")).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence() -> LoadEvidence {
        LoadEvidence {
            fail_open: 0,
            failing_gates: Vec::new(),
            no_rate_found: false,
            age_hours: Some(2.0),
            target_hash: "t1".into(),
        }
    }

    fn reasons(l: Option<&LoadEvidence>, verdict_target: Option<&str>) -> Vec<String> {
        let mut b = Blockers::default();
        b.load(l, 7, verdict_target);
        b.0.into_iter().map(|r| r.message).collect()
    }

    #[test]
    fn a_load_run_blocks_only_when_it_failed_is_stale_or_measured_another_target() {
        assert!(reasons(None, Some("t1")).is_empty(), "no load run is no blocker");
        assert!(reasons(Some(&evidence()), Some("t1")).is_empty());
        let open = LoadEvidence { fail_open: 3, ..evidence() };
        assert_eq!(
            reasons(Some(&open), Some("t1")),
            ["3 answer(s) under load allowed a case the gate blocks at rest (fail-open)"]
        );
        let gate = LoadEvidence { failing_gates: vec!["load-p99".into()], ..evidence() };
        assert_eq!(reasons(Some(&gate), None), ["load gate load-p99 failed"]);
        let old = LoadEvidence { age_hours: Some(24.0 * 8.0), ..evidence() };
        assert!(reasons(Some(&old), None)[0].contains("192 hours old"));
        assert!(reasons(Some(&evidence()), Some("t2"))[0].contains("another target"));
    }
}
