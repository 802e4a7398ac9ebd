//! Every number gauntlet.toml accepts, with its range, in one table.
//!
//! A value the code would clamp, or could not use (a rate of 1e-300 a
//! second, a NaN cost, a zero-minute window), is an error at its key when
//! the file is loaded, so `check` and every command refuse it alike. The
//! table is checked against the parser's own tree, array items included
//! (`*` for any index).

use std::path::Path;

use crate::errors::{Code, Diagnostic};
use crate::toml_spans::TomlSpans;

/// The values a number may take.
#[derive(Debug, Clone, Copy)]
enum Range {
    /// `min <= value <= max`, finite.
    Closed(f64, f64),
    /// `min < value <= max`, finite.
    AboveUpTo(f64, f64),
}

impl Range {
    fn holds(self, v: f64) -> bool {
        v.is_finite()
            && match self {
                Range::Closed(lo, hi) => lo <= v && v <= hi,
                Range::AboveUpTo(lo, hi) => lo < v && v <= hi,
            }
    }

    fn describe(self) -> String {
        let show = |x: f64| if x == f64::MAX { "any finite number".to_string() } else { x.to_string() };
        match self {
            Range::Closed(lo, hi) if hi == f64::MAX => format!("a finite number ≥ {lo}"),
            Range::Closed(lo, hi) => format!("in [{lo}, {}]", show(hi)),
            Range::AboveUpTo(lo, hi) if hi == f64::MAX => format!("a finite number > {lo}"),
            Range::AboveUpTo(lo, hi) => format!("in ({lo}, {}]", show(hi)),
        }
    }
}

const ANY: f64 = f64::MAX;

/// (key path, range, why). Keys with ranges that depend on other keys
/// (the approval threshold under the block one) are checked where they are
/// validated; this table holds each key's own range.
const NUMBERS: &[(&[&str], Range, &str)] = &[
    (&["target", "rate-limit"], Range::Closed(0.001, 1e6), "requests per second over all connections"),
    (&["target", "cost"], Range::Closed(0.0, ANY), "what one request costs"),
    (&["target", "max-cost"], Range::Closed(0.0, ANY), "the run's budget, in the unit of `cost`"),
    (&["target", "max-requests"], Range::Closed(1.0, ANY), "a run sends at least its health probe"),
    (&["target", "reasons-threshold"], Range::Closed(0.0, 1.0), "a score"),
    (&["target", "abort-min-cases"], Range::Closed(1.0, ANY), "cases"),
    (&["counting", "costs", "*"], Range::Closed(0.0, ANY), "a cell's weight"),
    (&["release", "max-canary-error-rate"], Range::Closed(0.0, 1.0), "a rate"),
    (&["release", "max-canary-deny-rate"], Range::Closed(0.0, 1.0), "a rate"),
    (&["release", "rate-tolerance"], Range::Closed(0.0, 1.0), "a rate difference"),
    (&["release", "latency-tolerance"], Range::Closed(0.0, ANY), "a ratio"),
    (&["release", "max-verdict-age-days"], Range::Closed(0.0, 3650.0), "days"),
    (&["release", "signals", "window-minutes"], Range::Closed(1.0, 10080.0), "minutes (up to a week)"),
    (&["release", "signals", "step-minutes"], Range::Closed(1.0, 10080.0), "minutes"),
    (&["release", "signals", "min-decisions"], Range::Closed(1.0, ANY), "decisions in a window"),
    (&["release", "rollback", "*", "max-age-hours"], Range::AboveUpTo(0.0, 8760.0), "hours since deployment"),
    (&["release", "rollback", "*", "error-rate-above"], Range::Closed(0.0, 1.0), "a rate"),
    (&["release", "promotion", "clear-windows"], Range::Closed(1.0, ANY), "windows"),
    (&["load", "rate"], Range::Closed(0.001, 1e6), "requests per second"),
    (&["load", "duration-seconds"], Range::Closed(0.1, 86_400.0), "seconds"),
    (&["load", "max-in-flight"], Range::Closed(1.0, 100_000.0), "requests at once"),
    (&["load", "max-p99-ms"], Range::AboveUpTo(0.0, 3_600_000.0), "milliseconds"),
    (&["load", "max-error-rate"], Range::Closed(0.0, 1.0), "a rate"),
    (&["load", "step-seconds"], Range::Closed(0.1, 3600.0), "seconds"),
    (&["load", "start-rate"], Range::Closed(0.001, 1e6), "requests per second"),
];

/// A number as the user likely wrote it: `0`, `-1`, `1e-300`, `NaN`.
fn shown(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

/// Every number of the table outside its range, at its key.
pub(super) fn problems(path: &Path, spans: &TomlSpans) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (pattern, range, what) in NUMBERS {
        for n in spans.numbers(pattern) {
            if !range.holds(n.value) {
                let key = n.path.join(".");
                out.push(
                    Diagnostic::new(
                        path,
                        Code::OutOfRange,
                        format!("`{key}` = {} must be {} ({what})", shown(n.value), range.describe()),
                    )
                    .at(n.line, n.column),
                );
            }
        }
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (#37): these were accepted and changed the answer, or
    /// made `run` panic (`rate-limit = 1e-300`), while `check` said ok.
    #[test]
    fn numbers_out_of_range_are_errors_at_their_keys() {
        let text = "[target]\nkind = \"http\"\nrate-limit = 1e-300\ncost = nan\nmax-requests = 0\nmax-cost = -1\n\n[release.signals]\nwindow-minutes = 0\nstep-minutes = 0\n\n[[release.rollback]]\nmax-age-hours = -1\nerror-rate-above = 2\n";
        let found = problems(Path::new("gauntlet.toml"), &TomlSpans::parse(text));
        let at: Vec<(Option<usize>, &str)> =
            found.iter().map(|d| (d.line, d.message.split(" = ").next().unwrap_or(""))).collect();
        assert_eq!(
            at,
            [
                (Some(3), "`target.rate-limit`"),
                (Some(4), "`target.cost`"),
                (Some(5), "`target.max-requests`"),
                (Some(6), "`target.max-cost`"),
                (Some(9), "`release.signals.window-minutes`"),
                (Some(10), "`release.signals.step-minutes`"),
                (Some(13), "`release.rollback.0.max-age-hours`"),
                (Some(14), "`release.rollback.0.error-rate-above`"),
            ]
        );
        assert!(found.iter().all(|d| d.code == Code::OutOfRange));
        let fine = "[target]\nkind = \"http\"\nrate-limit = 40\ncost = 0.002\nmax-requests = 100\n";
        assert!(problems(Path::new("g.toml"), &TomlSpans::parse(fine)).is_empty());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use crate::config::Config;

    /// A TOML float for any f64, NaN and infinities included.
    fn toml_float(v: f64) -> String {
        if v.is_nan() {
            "nan".into()
        } else if v.is_infinite() {
            if v > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            }
        } else {
            format!("{v:?}")
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any number at any numeric key: the config loads, or fails as an
        /// input error, and the target it names builds; never a panic.
        #[test]
        fn random_numbers_load_or_fail_as_input_errors(
            key in prop::sample::select(vec![
                "rate-limit", "cost", "max-cost", "max-requests", "timeout-ms", "concurrency",
                "retries", "abort-error-share", "abort-min-cases", "reasons-threshold",
            ]),
            value in prop_oneof![
                any::<f64>(),
                Just(f64::NAN), Just(f64::INFINITY), Just(1e-300), Just(0.0), Just(-1.0), Just(1e300),
            ],
            integer in any::<bool>(),
        ) {
            let written = if integer && value.is_finite() && value.abs() < 9e18 {
                format!("{}", value.trunc() as i64)
            } else {
                toml_float(value)
            };
            let text = format!("[target]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/x\"\n{key} = {written}\n");
            match Config::parse(std::path::Path::new("gauntlet.toml"), text) {
                Ok(config) => {
                    let _ = crate::targets::from_config(&config.target, &config.spec_file());
                }
                Err(e) => prop_assert_eq!(e.exit_code(), 2, "{}", e),
            }
        }
    }
}
