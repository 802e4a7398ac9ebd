//! The run's overall verdict from its gates: the one place that decides
//! whether a build is green.

use serde::{Deserialize, Serialize};

use super::GateStatus;
use crate::exit_code::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Overall {
    Pass,
    Fail,
    /// The target failed so that no honest verdict exists.
    Error,
}

impl Overall {
    pub fn as_str(self) -> &'static str {
        match self {
            Overall::Pass => "pass",
            Overall::Fail => "fail",
            Overall::Error => "error",
        }
    }

    pub fn outcome(self) -> Outcome {
        match self {
            Overall::Pass => Outcome::Pass,
            Overall::Fail => Outcome::GateFailed,
            Overall::Error => Outcome::TargetError,
        }
    }
}

/// Any blocking gate failing, inconclusive or in error fails the run; an
/// aborted run is an error whatever its gates say.
pub fn overall(gates: impl IntoIterator<Item = (bool, GateStatus)>, complete: bool) -> Overall {
    if !complete {
        return Overall::Error;
    }
    if gates.into_iter().any(|(blocking, status)| blocking && status.is_failing()) {
        Overall::Fail
    } else {
        Overall::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_soft_gate_passes_and_an_inconclusive_blocking_gate_fails() {
        assert_eq!(overall([(false, GateStatus::Fail), (true, GateStatus::Pass)], true), Overall::Pass);
        assert_eq!(overall([(true, GateStatus::Inconclusive)], true), Overall::Fail);
        assert_eq!(overall([(true, GateStatus::Waived)], true), Overall::Pass);
        assert_eq!(overall([(true, GateStatus::Pass)], false), Overall::Error);
    }
}
