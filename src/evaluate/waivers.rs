//! Waivers: time-bounded, owned, tracked permission to ship past a known
//! failure. Pure: parsing happens in `config::waivers`, the clock is an input.
//!
//! Stricter than usual on purpose: a waiver that is broken in any way is
//! `invalid` and fails the `waiver-lifecycle` gate (never silently ignored),
//! an expired one fails it too, and a waiver that matched no failure is
//! reported `unused` so the team removes it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::gates::{GateOutcome, GateStatus, Lane};
use super::FixtureSuiteOutcome;
use crate::errors::{Code, Diagnostic, Location};

/// The id of gauntlet's own waiver gate; it cannot be waived.
pub const LIFECYCLE_GATE: &str = "waiver-lifecycle";
/// The longest a waiver may run; a project may lower it, never raise it.
pub const MAX_WAIVER_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    Full,
    Preflight,
    Both,
}

impl Scope {
    pub fn covers(self, lane: Lane) -> bool {
        matches!((self, lane), (Scope::Both, _) | (Scope::Full, Lane::Full) | (Scope::Preflight, Lane::Preflight))
    }

    fn overlaps(self, other: Scope) -> bool {
        self == Scope::Both || other == Scope::Both || self == other
    }
}

/// What a waiver waives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaiverTarget {
    Gate(String),
    /// A fixture case, written `suite::case`.
    Case(String),
}

/// A waiver as parsed; fields that failed to parse are `None` and the
/// reason is in `problems`.
#[derive(Debug, Clone)]
pub struct Waiver {
    pub id: String,
    pub target: Option<WaiverTarget>,
    pub owner: String,
    pub tracking: String,
    pub reason: String,
    pub remove_when: String,
    pub approver: Option<String>,
    pub created: Option<NaiveDate>,
    pub expires: Option<NaiveDate>,
    pub scope: Option<Scope>,
    /// The `[[waiver]]` table.
    pub defined_at: Location,
    /// Where rule problems about a given key are reported.
    pub key_locations: Vec<(String, Location)>,
    /// The entry as written, for the audit.
    pub raw: serde_json::Value,
    pub problems: Vec<Diagnostic>,
}

impl Waiver {
    /// A diagnostic located at `key` inside this waiver (or its table).
    pub fn diagnostic(&self, key: &str, code: crate::errors::Code, message: String) -> Diagnostic {
        locate_key(&self.key_locations, key, code, message)
    }
}

/// A diagnostic at `key` (or, when absent, at the table: the empty key).
pub fn locate_key(
    locations: &[(String, Location)],
    key: &str,
    code: crate::errors::Code,
    message: String,
) -> Diagnostic {
    locations
        .iter()
        .find(|(k, _)| k == key)
        .or_else(|| locations.iter().find(|(k, _)| k.is_empty()))
        .map(|(_, at)| at.diagnostic(code, message))
        .expect("the table location is always recorded")
}

#[derive(Debug, Clone, Copy)]
pub struct WaiverPolicy {
    pub max_days: i64,
    pub expiring_soon_days: i64,
}

impl Default for WaiverPolicy {
    fn default() -> Self {
        WaiverPolicy { max_days: MAX_WAIVER_DAYS, expiring_soon_days: 7 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WaiverStatus {
    Active,
    ExpiringSoon,
    Expired,
    Invalid,
    Unused,
}

impl WaiverStatus {
    /// An expired or invalid waiver fails CI; the others only inform.
    pub fn is_blocking(self) -> bool {
        matches!(self, WaiverStatus::Expired | WaiverStatus::Invalid)
    }
}

/// A waiver applied to a gate or fixture case, shown beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct AppliedWaiver {
    pub id: String,
    pub expires: String,
    pub days_left: i64,
    pub tracking: String,
    pub owner: String,
}

/// The judgement of one waiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct WaiverReport {
    pub id: String,
    pub status: WaiverStatus,
    pub days_remaining: Option<i64>,
    /// `path:line: error[code]: message` lines, and notes.
    #[serde(default)]
    pub detail: Vec<String>,
    pub defined_at: String,
    /// `defined_at` as structured data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// What it waived in this run.
    #[serde(default)]
    pub applied_to: Vec<String>,
    pub raw: serde_json::Value,
}

/// Semantic checks that need the run's gates and fixture cases.
pub fn check_rules(
    waivers: &[Waiver],
    today: NaiveDate,
    policy: &WaiverPolicy,
    gate_ids: &[&str],
    case_ids: &[String],
) -> Vec<Vec<Diagnostic>> {
    let max_days = policy.max_days.min(MAX_WAIVER_DAYS);
    let mut out: Vec<Vec<Diagnostic>> = waivers.iter().map(|w| w.problems.clone()).collect();
    for (i, w) in waivers.iter().enumerate() {
        let problems = &mut out[i];
        if let Some(created) = w.created {
            if created > today {
                problems.push(w.diagnostic(
                    "created",
                    Code::CreatedInFuture,
                    format!("`created` {created} is after today ({today})"),
                ));
            }
            if let Some(expires) = w.expires {
                if expires < created {
                    problems.push(w.diagnostic(
                        "expires",
                        Code::ExpiresBeforeCreated,
                        format!("`expires` {expires} is before `created` {created}"),
                    ));
                } else if (expires - created).num_days() > max_days {
                    problems.push(w.diagnostic(
                        "expires",
                        Code::WaiverTooLong,
                        format!(
                            "waiver runs {} days; at most {max_days} are allowed from `created` to `expires`",
                            (expires - created).num_days()
                        ),
                    ));
                }
            }
        }
        match &w.target {
            Some(WaiverTarget::Gate(g)) if g == LIFECYCLE_GATE => problems.push(w.diagnostic(
                "gate",
                Code::UnwaivableGate,
                format!("the `{LIFECYCLE_GATE}` gate cannot be waived"),
            )),
            Some(WaiverTarget::Gate(g)) if !gate_ids.contains(&g.as_str()) => {
                problems.push(w.diagnostic("gate", Code::UnknownGate, format!("no gate `{g}` exists")))
            }
            Some(WaiverTarget::Case(c)) if !case_ids.contains(c) => problems.push(w.diagnostic(
                "case",
                Code::UnknownCase,
                format!("no fixture case `{c}` exists (write it as suite::case)"),
            )),
            _ => {}
        }
        for (j, other) in waivers.iter().enumerate().take(i) {
            if other.id == w.id {
                problems.push(w.diagnostic(
                    "id",
                    Code::DuplicateWaiverId,
                    format!("waiver id `{}` is also used at {}", w.id, other.defined_at),
                ));
            }
            if let (Some(a), Some(b), Some(sa), Some(sb)) = (&w.target, &other.target, w.scope, other.scope) {
                if a == b && sa.overlaps(sb) {
                    problems.push(w.diagnostic(
                        "scope",
                        Code::DuplicateWaiver,
                        format!(
                            "waiver `{}` at {} already covers the same target and scope",
                            waivers[j].id, other.defined_at
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// The outcome of judging every waiver.
#[derive(Debug, Clone)]
pub struct WaiverJudgement {
    pub reports: Vec<WaiverReport>,
    pub lifecycle: GateOutcome,
}

/// Applies valid, unexpired waivers in this lane: first to fixture cases,
/// then (once each suite's gate is known) to gates; then judges every
/// waiver and builds the `waiver-lifecycle` gate from `lifecycle_gate`.
/// `gates` gains the fixture suites' gates.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    waivers: &[Waiver],
    rule_problems: &[Vec<Diagnostic>],
    today: NaiveDate,
    policy: &WaiverPolicy,
    lane: Lane,
    gates: &mut Vec<GateOutcome>,
    fixtures: &mut [FixtureSuiteOutcome],
    aborted: Option<&str>,
    lifecycle_gate: super::Gate,
) -> WaiverJudgement {
    let days: Vec<Option<i64>> = waivers.iter().map(|w| w.expires.map(|e| (e - today).num_days())).collect();
    let usable: Vec<bool> = waivers
        .iter()
        .zip(rule_problems)
        .zip(&days)
        .map(|((w, p), d)| p.is_empty() && d.is_some_and(|d| d >= 0) && w.scope.is_some_and(|s| s.covers(lane)))
        .collect();
    let applied = |w: &Waiver, d: Option<i64>| AppliedWaiver {
        id: w.id.clone(),
        expires: w.expires.map(|d| d.to_string()).unwrap_or_default(),
        days_left: d.unwrap_or(0),
        tracking: w.tracking.clone(),
        owner: w.owner.clone(),
    };
    let mut applied_to: Vec<Vec<String>> = vec![Vec::new(); waivers.len()];
    for (i, w) in waivers.iter().enumerate().filter(|(i, _)| usable[*i]) {
        if let Some(WaiverTarget::Case(case)) = &w.target {
            for c in
                fixtures.iter_mut().flat_map(|s| s.cases.iter_mut()).filter(|c| &c.qualified_name == case && !c.pass)
            {
                c.waiver = Some(applied(w, days[i]));
                applied_to[i].push(format!("fixture case {case}"));
            }
        }
    }
    gates.extend(super::fixture_gates(fixtures, aborted));
    for (i, w) in waivers.iter().enumerate().filter(|(i, _)| usable[*i]) {
        if let Some(WaiverTarget::Gate(id)) = &w.target {
            for g in gates.iter_mut().filter(|g| &g.gate.id == id && waivable(g.status)) {
                g.status = GateStatus::Waived;
                g.waiver = Some(applied(w, days[i]));
                applied_to[i].push(format!("gate {id}"));
            }
        }
    }
    let mut reports = Vec::new();
    for (i, (w, problems)) in waivers.iter().zip(rule_problems).enumerate() {
        let mut detail: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
        let in_lane = w.scope.is_some_and(|s| s.covers(lane));
        let status = if !problems.is_empty() {
            WaiverStatus::Invalid
        } else if days[i].is_some_and(|d| d < 0) {
            detail.push(format!("expired on {}", w.expires.expect("checked")));
            WaiverStatus::Expired
        } else if !in_lane {
            detail.push(format!("scope does not cover the {} lane; not applied", lane.as_str()));
            status_by_days(days[i], policy)
        } else if applied_to[i].is_empty() {
            detail.push("matched no failure in this run: remove it".into());
            WaiverStatus::Unused
        } else {
            status_by_days(days[i], policy)
        };
        reports.push(WaiverReport {
            id: w.id.clone(),
            status,
            days_remaining: days[i],
            detail,
            defined_at: w.defined_at.to_string(),
            location: Some(w.defined_at.clone()),
            applied_to: std::mem::take(&mut applied_to[i]),
            raw: w.raw.clone(),
        });
    }
    let lifecycle = lifecycle_outcome(&reports, lifecycle_gate);
    WaiverJudgement { reports, lifecycle }
}

/// The `waiver-lifecycle` gate: fails on expired or invalid waivers, warns
/// (in its detail) on expiring-soon and unused ones.
pub fn lifecycle_outcome(reports: &[WaiverReport], gate: super::Gate) -> GateOutcome {
    let blocking: Vec<&WaiverReport> = reports.iter().filter(|r| r.status.is_blocking()).collect();
    let warnings: Vec<&WaiverReport> =
        reports.iter().filter(|r| matches!(r.status, WaiverStatus::ExpiringSoon | WaiverStatus::Unused)).collect();
    let describe = |rs: &[&WaiverReport]| {
        rs.iter().map(|r| format!("{} ({})", r.id, status_name(r.status))).collect::<Vec<_>>().join(", ")
    };
    let detail = match (blocking.is_empty(), warnings.is_empty()) {
        (true, true) => format!("{} waiver(s), all healthy", reports.len()),
        (true, false) => format!("warnings: {}", describe(&warnings)),
        (false, true) => format!("blocking: {}", describe(&blocking)),
        (false, false) => format!("blocking: {}; warnings: {}", describe(&blocking), describe(&warnings)),
    };
    GateOutcome {
        gate,
        status: if blocking.is_empty() { GateStatus::Pass } else { GateStatus::Fail },
        value: Some(blocking.len() as f64),
        interval: None,
        compared: Some(blocking.len() as f64),
        samples: reports.len() as u64,
        detail,
        waiver: None,
    }
}

/// Judges waivers without a run (for `gauntlet waivers audit`): validity and
/// dates only, since whether a waiver is used needs the run's failures.
pub fn audit_only(
    waivers: &[Waiver],
    rule_problems: &[Vec<Diagnostic>],
    today: NaiveDate,
    policy: &WaiverPolicy,
) -> Vec<WaiverReport> {
    waivers
        .iter()
        .zip(rule_problems)
        .map(|(w, problems)| {
            let days = w.expires.map(|e| (e - today).num_days());
            let mut detail: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
            let status = if !problems.is_empty() {
                WaiverStatus::Invalid
            } else if days.is_some_and(|d| d < 0) {
                detail.push(format!("expired on {}", w.expires.expect("checked")));
                WaiverStatus::Expired
            } else {
                status_by_days(days, policy)
            };
            WaiverReport {
                id: w.id.clone(),
                status,
                days_remaining: days,
                detail,
                defined_at: w.defined_at.to_string(),
                location: Some(w.defined_at.clone()),
                applied_to: Vec::new(),
                raw: w.raw.clone(),
            }
        })
        .collect()
}

fn waivable(status: GateStatus) -> bool {
    matches!(status, GateStatus::Fail | GateStatus::Inconclusive)
}

fn status_by_days(days_remaining: Option<i64>, policy: &WaiverPolicy) -> WaiverStatus {
    match days_remaining {
        Some(d) if d <= policy.expiring_soon_days => WaiverStatus::ExpiringSoon,
        _ => WaiverStatus::Active,
    }
}

pub fn status_name(s: WaiverStatus) -> &'static str {
    match s {
        WaiverStatus::Active => "active",
        WaiverStatus::ExpiringSoon => "expiring-soon",
        WaiverStatus::Expired => "expired",
        WaiverStatus::Invalid => "invalid",
        WaiverStatus::Unused => "unused",
    }
}
