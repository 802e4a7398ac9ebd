//! gauntlet: a CI conformance and calibration harness for LLM security gates.
//!
//! Data flows one way, one module per stage, and no module imports a later
//! one (`tests/integration/architecture.rs` enforces it):
//!
//! `corpus` (labelled cases) → `target` (the gate under test) → `replay`
//! (cases through the target, one outcome each) → `metrics` (rates with
//! confidence intervals, pure) → `evaluate` (gates, waivers, fixtures and
//! the overall verdict, pure) → `report` (one model, every format).
//! `calibrate`, `attack` (the adaptive evasion search) and `release` are
//! pure computations beside `evaluate`.
//!
//! Below every stage sit `errors` (the diagnostics catalogue), `exit_code`,
//! `text` (making hostile text inert), `atomic_file` and `hashing`. Above
//! them, `config` reads gauntlet.toml into the stages' types and `pipeline`
//! wires the stages for each command; everything it calls is usable on its
//! own, so other tools can embed a stage without the rest.

pub mod atomic_file;
pub mod attack;
pub mod calibrate;
pub mod compare;
pub mod config;
pub mod conformance;
pub mod corpus;
pub mod diagnostic_codes;
pub mod errors;
pub mod evaluate;
pub mod exit_code;
pub mod golden_file;
pub mod hashing;
pub mod init;
pub mod json_string;
pub mod load;
pub mod metrics;
pub mod partition;
pub mod pipeline;
pub mod progress;
pub mod release;
pub mod replay;
pub mod report;
pub mod serve;
pub mod stage_clock;
pub mod targets;
pub mod text;
pub mod toml_spans;
pub mod transform;

pub use errors::{Diagnostic, Error};
