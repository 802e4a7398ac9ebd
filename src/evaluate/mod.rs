//! Evaluation: metrics judged against gates. Pure; no I/O.
//!
//! A gate's status is never `pass` unless its number was computed from
//! enough honest samples: too few samples is `inconclusive`, an aborted run
//! is `error`, and both fail a blocking gate.

mod gates;

pub use gates::{
    evaluate_gates, format_value, Bound, Comparator, Filter, Gate, GateOutcome, GateStatus, Lane, Metric, Mode,
};
