//! Evaluation: metrics judged against gates. Pure; no I/O.
//!
//! A gate's status is never `pass` unless its number was computed from
//! enough honest samples: too few samples is `inconclusive`, an aborted run
//! is `error`, and both fail a blocking gate.

mod command_gates;
mod fixtures;
mod gates;
pub mod golden;
pub mod own_gates;
mod verdict;
mod waivers;

pub use command_gates::{evaluate_attack_gates, evaluate_load_gates, AttackFacts, LoadFacts};
pub use fixtures::{
    fixture_gates, fixture_result_ids, judge_fixtures, FixtureCase, FixtureCaseOutcome, FixtureInput, FixtureSuite,
    FixtureSuiteOutcome,
};
pub use gates::{
    evaluate_gates, format_value, Bound, Comparator, Filter, Gate, GateOutcome, GateStatus, Lane, Metric, Mode,
};
pub use verdict::{overall, Overall};
pub use waivers::{
    apply as apply_waivers, audit_only as audit_waivers_only, check_rules as check_waiver_rules, lifecycle_outcome,
    locate_key, status_name, AppliedWaiver, Scope, Waiver, WaiverJudgement, WaiverPolicy, WaiverReport, WaiverStatus,
    WaiverTarget, LIFECYCLE_GATE, MAX_WAIVER_DAYS,
};
