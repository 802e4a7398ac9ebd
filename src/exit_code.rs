//! Process exit codes, defined once. CI systems key on these, so they are
//! part of the stable interface and documented in the README.
//!
//! Every command's result is turned into an [`Outcome`] by the library;
//! `main.rs` only asks the outcome for its code.

/// Every blocking gate passed (or was waived).
pub const PASS: i32 = 0;
/// A blocking gate failed or was inconclusive.
pub const GATE_FAILED: i32 = 1;
/// The configuration or an input file is invalid.
pub const INPUT_ERROR: i32 = 2;
/// The target or the infrastructure failed so that no honest verdict exists.
pub const TARGET_ERROR: i32 = 3;

/// What a finished command means for CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// A blocking check failed: a gate, a regression, a NO-GO, a bad waiver.
    GateFailed,
    InputError,
    TargetError,
}

impl Outcome {
    pub fn code(self) -> i32 {
        match self {
            Outcome::Pass => PASS,
            Outcome::GateFailed => GATE_FAILED,
            Outcome::InputError => INPUT_ERROR,
            Outcome::TargetError => TARGET_ERROR,
        }
    }

    /// Pass unless `failed`.
    pub fn failed_if(failed: bool) -> Self {
        if failed {
            Outcome::GateFailed
        } else {
            Outcome::Pass
        }
    }
}
