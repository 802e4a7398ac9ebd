//! gauntlet: a CI conformance and calibration harness for LLM security gates.
//!
//! Data flows one way, one module per stage:
//!
//! `corpus` (labelled cases) → `target` (the gate under test) → `replay`
//! (cases through the target, one outcome each) → `metrics` (rates with
//! confidence intervals, pure) → `evaluate` (gates, pure) → `report`
//! (verdict.json, results.jsonl, terminal table).
//!
//! `pipeline` wires the stages together for the CLI; everything it calls is
//! usable on its own, so other tools can embed a stage without the rest.

pub mod calibrate;
pub mod config;
pub mod conformance;
pub mod corpus;
pub mod errors;
pub mod evaluate;
pub mod exit_code;
pub mod golden_file;
pub mod hashing;
pub mod init;
pub mod json_string;
pub mod metrics;
pub mod partition;
pub mod pipeline;
pub mod release;
pub mod replay;
pub mod report;
pub mod serve;
pub mod stage_clock;
pub mod target;

pub use errors::{Diagnostic, Error};
