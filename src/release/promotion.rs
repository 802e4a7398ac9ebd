//! Staged promotion (canary 10% → 50% → 100%), as the runbooks run it: a
//! stage is promoted only after its minimum soak, with its quality gates
//! passing and its signals judged clear; and after an alert, promotion
//! resumes only once the alert has been clear for two consecutive windows
//! and a sign-off record says who looked at it and what was done.
//!
//! Why a sign-off and not just a clear signal: an alert that clears by
//! itself may clear because traffic moved, not because the cause went away;
//! the runbook wants a person to own that judgement, on the record. Why the
//! sign-off must be dated on or after the alert: an old incident's sign-off
//! must not wave through a new one.
//!
//! Pure: sign-off files are parsed by `config::sign_offs`, logs by
//! `release::logs`; this only judges.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::signals::{RuleState, RuleStatus, Signal};
use crate::evaluate::GateStatus;

/// One promotion stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Stage {
    /// The stage's name, as `--stage` gives it.
    pub name: String,
    /// Share of traffic the bundle serves in this stage.
    pub traffic_percent: f64,
    /// Least time in this stage before the next one.
    pub min_soak_hours: f64,
    /// Gate ids (`gates/*.toml`) the latest verdict must pass (or waive).
    #[serde(default)]
    pub gates: Vec<String>,
    /// Signal rule ids that must be judged clear at the end of the log
    /// (default: every FPR, ASR and error-rate rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<Vec<String>>,
}

/// `[release.promotion]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct PromotionPolicy {
    /// The stages in order (`[[release.promotion.stages]]`).
    pub stages: Vec<Stage>,
    /// Consecutive clear windows an alert needs before promotion resumes.
    pub clear_windows: u64,
    /// The folder of sign-off records, relative to gauntlet.toml.
    pub sign_offs: String,
}

impl Default for PromotionPolicy {
    /// The runbook's: 10% → 50% → 100%, at least 24 h each, the FPR, ASR
    /// and error-rate rules clear in every stage.
    fn default() -> Self {
        let stage = |name: &str, traffic_percent| Stage {
            name: name.into(),
            traffic_percent,
            min_soak_hours: 24.0,
            gates: Vec::new(),
            signals: None,
        };
        PromotionPolicy {
            stages: vec![stage("canary-10", 10.0), stage("canary-50", 50.0), stage("full", 100.0)],
            clear_windows: 2,
            sign_offs: "sign-offs".into(),
        }
    }
}

/// A validated sign-off record (`sign-offs/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct SignOff {
    pub incident: String,
    pub owner: String,
    #[schemars(with = "String")]
    pub date: NaiveDate,
    pub mitigation: String,
    /// Signal rule ids whose alerts it clears.
    pub rules: Vec<String>,
    /// Only for this release version, when set.
    pub version: Option<String>,
    /// `path:line` of the record.
    pub location: String,
}

/// An alert that fired and has cleared: may promotion resume?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ResumeCheck {
    pub rule: String,
    pub tenant: Option<String>,
    /// RFC 3339.
    pub fired_at: String,
    pub clear_windows: u64,
    pub clear_windows_needed: u64,
    /// The incident of the sign-off that covers it.
    pub sign_off: Option<String>,
    pub resumed: bool,
}

/// Every alert that fired during the log and is no longer firing (one that
/// still fires blocks on its own).
pub fn resume_checks(
    states: &[RuleState],
    sign_offs: &[SignOff],
    version: Option<&str>,
    needed: u64,
) -> Vec<ResumeCheck> {
    let mut out = Vec::new();
    for s in states.iter().filter(|s| !s.firing) {
        let Some(fired) = s.fired_at_ms.and_then(chrono::DateTime::from_timestamp_millis) else { continue };
        let covers = |o: &&SignOff| {
            o.rules.contains(&s.rule.id)
                && o.date >= fired.date_naive()
                && o.version.as_deref().is_none_or(|v| Some(v) == version)
        };
        let sign_off = sign_offs.iter().find(covers).map(|o| o.incident.clone());
        let resumed = s.clear_windows >= needed && sign_off.is_some();
        out.push(ResumeCheck {
            rule: s.rule.id.clone(),
            tenant: s.tenant.clone(),
            fired_at: fired.to_rfc3339(),
            clear_windows: s.clear_windows,
            clear_windows_needed: needed,
            sign_off,
            resumed,
        });
    }
    out
}

/// One requirement of a stage and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Requirement {
    pub id: String,
    pub status: String,
    pub met: bool,
}

/// The stage under release: soaked long enough, its gates passing, its
/// signals clear?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct StageCheck {
    pub stage: String,
    pub traffic_percent: f64,
    /// What GO promotes to; `None` in the last stage (GO: the rollout is done).
    pub next: Option<String>,
    pub started_at: String,
    /// From the stage's start to the last decision in the log.
    pub soak_hours: f64,
    pub min_soak_hours: f64,
    pub gates: Vec<Requirement>,
    pub signals: Vec<Requirement>,
}

impl StageCheck {
    pub fn soaked(&self) -> bool {
        self.soak_hours >= self.min_soak_hours
    }
}

/// `gates`: every gate of the latest verdict with its status (empty when
/// there is no verdict); `states`: the signal rules (overall ones count).
pub fn stage_check(
    stages: &[Stage],
    index: usize,
    started_ms: i64,
    started_at: &str,
    end_ms: i64,
    gates: &[(String, GateStatus)],
    states: &[RuleState],
) -> StageCheck {
    let stage = &stages[index];
    let gate_requirements = stage
        .gates
        .iter()
        .map(|id| match gates.iter().find(|(g, _)| g == id) {
            Some((_, status)) => Requirement {
                id: id.clone(),
                status: status.as_str().into(),
                met: matches!(status, GateStatus::Pass | GateStatus::Waived),
            },
            None => Requirement { id: id.clone(), status: "not in the verdict".into(), met: false },
        })
        .collect();
    let quality = |s: &&RuleState| matches!(s.rule.signal, Signal::Fpr | Signal::Asr | Signal::ErrorRate);
    let default_ids: Vec<String> =
        states.iter().filter(|s| s.tenant.is_none()).filter(quality).map(|s| s.rule.id.clone()).collect();
    let signal_requirements = stage
        .signals
        .as_ref()
        .unwrap_or(&default_ids)
        .iter()
        .map(|id| {
            let status = states.iter().find(|s| &s.rule.id == id && s.tenant.is_none()).map(|s| s.status);
            let name = match status {
                Some(RuleStatus::Clear) => "clear",
                Some(RuleStatus::Pending) => "over its threshold (pending)",
                Some(RuleStatus::Firing) => "firing",
                Some(RuleStatus::NotEligible) => "not eligible: too few decisions in the last window",
                Some(RuleStatus::NoData) | None => "no data: the log never had enough decisions to judge it",
            };
            Requirement { id: id.clone(), status: name.into(), met: status == Some(RuleStatus::Clear) }
        })
        .collect();
    StageCheck {
        stage: stage.name.clone(),
        traffic_percent: stage.traffic_percent,
        next: stages.get(index + 1).map(|s| s.name.clone()),
        started_at: started_at.into(),
        soak_hours: (end_ms - started_ms).max(0) as f64 / 3_600_000.0,
        min_soak_hours: stage.min_soak_hours,
        gates: gate_requirements,
        signals: signal_requirements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::signals::AlertRule;

    /// An fpr-high state that fired on 2026-09-21 and has been clear for `clear` windows.
    fn cleared(clear: u64) -> RuleState {
        let rule = AlertRule { id: "fpr-high".into(), signal: Signal::Fpr, above: 0.15, for_minutes: 5 };
        RuleState {
            status: RuleStatus::Clear,
            fired_at_ms: Some(1_790_000_000_000),
            clear_windows: clear,
            value: Some(0.05),
            ..RuleState::new(rule, None)
        }
    }

    fn sign_off(date: (i32, u32, u32), version: Option<&str>) -> SignOff {
        SignOff {
            incident: "INC-1".into(),
            owner: "alice".into(),
            date: NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap(),
            mitigation: "reverted".into(),
            rules: vec!["fpr-high".into()],
            version: version.map(String::from),
            location: "sign-offs/a.toml:1".into(),
        }
    }

    #[test]
    fn a_sign_off_must_postdate_the_alert_and_match_the_version() {
        let resumed = |o: SignOff, clear| resume_checks(&[cleared(clear)], &[o], Some("v2"), 2)[0].resumed;
        assert!(resumed(sign_off((2026, 9, 21), None), 2));
        assert!(!resumed(sign_off((2026, 9, 21), None), 1), "one clear window is not two");
        assert!(!resumed(sign_off((2026, 9, 20), None), 2), "an older incident's sign-off");
        assert!(!resumed(sign_off((2026, 9, 22), Some("v1")), 2), "another release's sign-off");
        assert!(resumed(sign_off((2026, 9, 22), Some("v2")), 2));
    }

    #[test]
    fn the_last_stage_has_no_next_and_a_missing_gate_is_not_met() {
        let stages = PromotionPolicy::default().stages;
        let check = stage_check(&stages, 2, 0, "t0", 30 * 3_600_000, &[], &[cleared(3)]);
        assert_eq!(check.next, None);
        assert!(check.soaked());
        assert_eq!(check.signals.len(), 1, "the FPR, ASR and error-rate rules there are: {check:?}");
        assert!(check.signals[0].met);
        let named = Stage { signals: Some(vec!["fpr-high".into(), "asr-high".into()]), ..stages[0].clone() };
        let check = stage_check(&[named], 0, 0, "t0", 1, &[], &[cleared(3)]);
        assert_eq!(check.signals.iter().map(|s| s.met).collect::<Vec<_>>(), [true, false], "asr-high has no data");
        let with_gate = Stage { gates: vec!["fpr".into()], ..stages[0].clone() };
        let check = stage_check(&[with_gate], 0, 0, "t0", 1, &[("fpr".into(), GateStatus::Waived)], &[]);
        assert!(check.gates[0].met && !check.soaked());
    }
}
