//! Process exit codes, defined once. CI systems key on these, so they are
//! part of the stable interface and documented in the README.

/// Every blocking gate passed (or was waived).
pub const PASS: i32 = 0;
/// A blocking gate failed or was inconclusive.
pub const GATE_FAILED: i32 = 1;
/// The configuration or an input file is invalid.
pub const INPUT_ERROR: i32 = 2;
/// The target or the infrastructure failed so that no honest verdict exists.
pub const TARGET_ERROR: i32 = 3;
