//! Golden fixtures: pinned cases whose decision must not change. Pure.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::gates::{Gate, GateOutcome, GateStatus};
use super::waivers::AppliedWaiver;
use crate::corpus::{Decision, Payload};
use crate::errors::Location;
use crate::replay::CaseResult;
use crate::targets::CaseError;

/// Where a fixture case's input comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum FixtureInput {
    /// Replayed as its own case.
    Input(Payload),
    /// The decision of a corpus case, by id.
    Ref(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FixtureCase {
    pub name: String,
    pub input: FixtureInput,
    pub expect: Decision,
    pub note: String,
    pub tracking: String,
    pub defined_at: Location,
}

impl FixtureCase {
    /// The id under which an `input` fixture case is replayed.
    pub fn replay_id(suite: &str, name: &str) -> String {
        format!("fixture::{suite}::{name}")
    }

    /// The id of the result this case is judged on: its own replay, or the
    /// corpus case it refers to.
    pub fn result_id(&self, suite: &str) -> String {
        match &self.input {
            FixtureInput::Input(_) => FixtureCase::replay_id(suite, &self.name),
            FixtureInput::Ref(id) => id.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FixtureSuite {
    pub name: String,
    pub path: String,
    pub cases: Vec<FixtureCase>,
}

/// One fixture case judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FixtureCaseOutcome {
    pub name: String,
    /// `suite::case`, as waivers and conformance trials name it.
    pub qualified_name: String,
    pub expect: Decision,
    pub actual: Option<Decision>,
    pub error: Option<CaseError>,
    #[serde(default)]
    pub pass: bool,
    pub score: Option<f64>,
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The input (hostile: escape it), cut at the report cap.
    pub text: String,
    pub note: String,
    pub tracking: String,
    pub defined_at: String,
    pub waiver: Option<AppliedWaiver>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FixtureSuiteOutcome {
    pub suite: String,
    pub path: String,
    #[serde(default)]
    pub cases: Vec<FixtureCaseOutcome>,
}

impl FixtureSuiteOutcome {
    pub fn gate_id(&self) -> String {
        format!("fixtures:{}", self.suite)
    }
}

/// The ids of the results the fixture cases are judged on.
pub fn fixture_result_ids(suites: &[FixtureSuite]) -> std::collections::HashSet<String> {
    suites.iter().flat_map(|s| s.cases.iter().map(|c| c.result_id(&s.name))).collect()
}

/// Judges every fixture case against the results (corpus and fixture replays).
pub fn judge_fixtures(suites: &[FixtureSuite], results: &HashMap<&str, &CaseResult>) -> Vec<FixtureSuiteOutcome> {
    suites
        .iter()
        .map(|suite| FixtureSuiteOutcome {
            suite: suite.name.clone(),
            path: suite.path.clone(),
            cases: suite
                .cases
                .iter()
                .map(|c| {
                    let result = results.get(c.result_id(&suite.name).as_str());
                    let actual = result.and_then(|r| r.decision);
                    let (text, _) = crate::text::truncate_chars(
                        &result.map(|r| r.input.display_text()).unwrap_or_default(),
                        crate::text::CASE_TEXT_CAP,
                    );
                    FixtureCaseOutcome {
                        name: c.name.clone(),
                        qualified_name: format!("{}::{}", suite.name, c.name),
                        expect: c.expect,
                        actual,
                        error: result.and_then(|r| r.error.as_deref().cloned()),
                        pass: actual == Some(c.expect),
                        score: result.and_then(|r| r.score),
                        reasons: result.map(|r| r.reasons.iter().map(|s| s.to_string()).collect()).unwrap_or_default(),
                        text,
                        note: c.note.clone(),
                        tracking: c.tracking.clone(),
                        defined_at: c.defined_at.to_string(),
                        waiver: None,
                    }
                })
                .collect(),
        })
        .collect()
}

/// One blocking gate per suite: every case must match (or be waived).
pub fn fixture_gates(suites: &[FixtureSuiteOutcome], aborted: Option<&str>) -> Vec<GateOutcome> {
    suites
        .iter()
        .map(|suite| {
            let mismatches: Vec<&FixtureCaseOutcome> = suite.cases.iter().filter(|c| !c.pass).collect();
            let unwaived: Vec<&&FixtureCaseOutcome> = mismatches.iter().filter(|c| c.waiver.is_none()).collect();
            let gate = Gate::synthetic(
                suite.gate_id(),
                format!("Every case of fixture suite `{}` keeps its expected decision.", suite.suite),
                Location::new(&suite.path),
            );
            let describe = |c: &FixtureCaseOutcome| {
                let actual = match (&c.actual, &c.error) {
                    (Some(d), _) => d.as_str().to_string(),
                    (None, Some(e)) => format!("error ({:?})", e.kind).to_lowercase(),
                    (None, None) => "missing".to_string(),
                };
                format!("{}: expected {}, got {} [{}]", c.name, c.expect.as_str(), actual, c.reasons.join(", "))
            };
            let (status, detail) = if let Some(reason) = aborted {
                (GateStatus::Error, format!("run incomplete: {reason}"))
            } else if mismatches.is_empty() {
                (GateStatus::Pass, format!("{} case(s) match", suite.cases.len()))
            } else if unwaived.is_empty() {
                (
                    GateStatus::Waived,
                    format!(
                        "waived mismatches: {}",
                        mismatches.iter().map(|c| describe(c)).collect::<Vec<_>>().join("; ")
                    ),
                )
            } else {
                (
                    GateStatus::Fail,
                    format!("mismatches: {}", unwaived.iter().map(|c| describe(c)).collect::<Vec<_>>().join("; ")),
                )
            };
            GateOutcome {
                gate,
                status,
                value: Some(unwaived.len() as f64),
                interval: None,
                compared: Some(unwaived.len() as f64),
                samples: suite.cases.len() as u64,
                detail,
                waiver: None,
            }
        })
        .collect()
}
