//! `gates/*.toml`: `[[gate]]` tables → validated [`Gate`]s.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use walkdir::WalkDir;

use crate::errors::{toml_diagnostic, Code, Diagnostic, Location};
use crate::evaluate::{Bound, Comparator, Filter, Gate, Lane, Metric, Mode};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGateFile {
    /// Each `[[gate]]`: one CI check.
    #[serde(default)]
    #[schemars(with = "Vec<RawGate>")]
    gate: Vec<toml::Spanned<RawGate>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawGate {
    /// The gate's id, named in reports, waivers and stages.
    id: String,
    #[serde(default)]
    /// What the gate checks, in words.
    description: String,
    /// The metric judged.
    metric: Metric,
    /// Pass when the value is at most this (one of `max` and `min`).
    max: Option<f64>,
    /// Pass when the value is at least this (one of `max` and `min`).
    min: Option<f64>,
    bound: Option<Bound>,
    #[serde(default)]
    /// Fewer samples than this is inconclusive, never a pass.
    min_samples: u64,
    #[serde(default, rename = "where")]
    filter: Filter,
    #[serde(default = "default_mode")]
    /// `enforce` (a failure fails CI, default), `soft` (reported failing, never blocks) or `shadow` (computed quietly).
    mode: Mode,
    #[serde(default = "default_lanes")]
    /// The lanes it runs in (default both).
    lanes: Vec<Lane>,
    /// For `decision-rate`: allow, block, require_approval or error.
    actual: Option<String>,
    /// For `adaptive-evasion-rate`: the attacker's queries per original.
    budget: Option<usize>,
}

fn default_mode() -> Mode {
    Mode::Enforce
}

fn default_lanes() -> Vec<Lane> {
    vec![Lane::Preflight, Lane::Full]
}

/// Ids reserved for gates gauntlet adds itself.
pub const RESERVED_GATE_IDS: &[&str] = &["waiver-lifecycle"];

/// Loads every `*.toml` under `dir` (sorted). A missing folder means no gates.
pub fn load_gates(dir: &Path, problems: &mut Vec<Diagnostic>) -> Vec<Gate> {
    let mut gates = Vec::new();
    let mut seen: HashMap<String, Location> = HashMap::new();
    if !dir.exists() {
        return gates;
    }
    for entry in WalkDir::new(dir).sort_by_file_name() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                problems.push(Diagnostic::new(dir, Code::UnreadableFile, e.to_string()));
                continue;
            }
        };
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(Diagnostic::new(path, Code::UnreadableFile, e.to_string()));
                continue;
            }
        };
        let file: RawGateFile = match toml::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                problems.push(toml_diagnostic(path, &text, &e));
                continue;
            }
        };
        for spanned in file.gate {
            let span = spanned.span();
            let raw = spanned.into_inner();
            let here = |code, msg: String| Diagnostic::new(path, code, msg).at_offset(&text, span.start);
            let (line, _) = crate::errors::line_column(&text, span.start);
            let defined_at = Location::new(path).at_line(line);
            if !is_valid_id(&raw.id) {
                problems.push(here(
                    Code::InvalidGateId,
                    format!("gate id `{}` must be lowercase letters, digits, `-`, `_`, `:` or `.`", raw.id),
                ));
            }
            if RESERVED_GATE_IDS.contains(&raw.id.as_str()) {
                problems.push(here(
                    Code::ReservedGateId,
                    format!("gate id `{}` is reserved for gauntlet's own gate", raw.id),
                ));
            }
            if let Some(first) = seen.insert(raw.id.clone(), defined_at.clone()) {
                problems
                    .push(here(Code::DuplicateGateId, format!("gate id `{}` is already defined at {first}", raw.id)));
            }
            let (comparator, threshold) = match (raw.max, raw.min) {
                (Some(max), None) => (Comparator::Max, max),
                (None, Some(min)) => (Comparator::Min, min),
                _ => {
                    problems.push(here(
                        Code::InvalidThreshold,
                        format!("gate `{}` needs exactly one of `max` or `min`", raw.id),
                    ));
                    continue;
                }
            };
            if raw.metric.is_rate() && !(0.0..=1.0).contains(&threshold) {
                problems.push(here(
                    Code::InvalidThreshold,
                    format!("gate `{}`: a rate threshold is a fraction in [0, 1] (10% is 0.10)", raw.id),
                ));
            }
            if !raw.metric.is_rate() && threshold < 0.0 {
                problems
                    .push(here(Code::InvalidThreshold, format!("gate `{}`: threshold must not be negative", raw.id)));
            }
            if raw.metric.judged_elsewhere() && !raw.filter.is_empty() {
                let over = if raw.metric.is_load() { "load run" } else { "attack run" };
                problems.push(here(
                    Code::WhereNotForMetric,
                    format!(
                        "gate `{}`: `{}` is judged over the whole {over}; `where` cannot narrow it",
                        raw.id,
                        raw.metric.as_str()
                    ),
                ));
            }
            match (raw.metric, raw.budget) {
                (Metric::AdaptiveEvasionRate, None) => problems.push(here(
                    Code::InvalidThreshold,
                    format!("gate `{}`: `adaptive-evasion-rate` needs `budget`, the attacker's queries per case (for example 50)", raw.id),
                )),
                (Metric::AdaptiveEvasionRate, Some(0)) => problems.push(here(
                    Code::InvalidThreshold,
                    format!("gate `{}`: `budget` is at least 1 query", raw.id),
                )),
                (Metric::AdaptiveEvasionRate, _) | (_, None) => {}
                (_, Some(_)) => problems.push(here(
                    Code::InvalidThreshold,
                    format!("gate `{}`: `budget` belongs to `adaptive-evasion-rate` gates only", raw.id),
                )),
            }
            if raw.lanes.is_empty() {
                problems.push(here(Code::EmptyLanes, format!("gate `{}` runs in no lane", raw.id)));
            }
            let bound =
                raw.bound.unwrap_or(if raw.metric.is_rate() { Bound::conservative(comparator) } else { Bound::Point });
            if !raw.metric.is_rate() && bound != Bound::Point {
                problems.push(here(Code::InvalidBound, format!("gate `{}`: only rates have interval bounds", raw.id)));
            }
            gates.push(Gate {
                id: raw.id,
                description: raw.description,
                metric: raw.metric,
                comparator,
                threshold,
                bound,
                min_samples: raw.min_samples,
                filter: raw.filter,
                mode: raw.mode,
                lanes: raw.lanes,
                actual: raw.actual,
                budget: raw.budget,
                defined_at,
            });
        }
    }
    gates
}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_:.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Vec<Gate>, Vec<Diagnostic>) {
        let dir = std::env::temp_dir().join(format!("gauntlet-gates-{}-{}", std::process::id(), text.len()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("g.toml"), text).unwrap();
        let mut problems = Vec::new();
        let gates = load_gates(&dir, &mut problems);
        std::fs::remove_dir_all(&dir).unwrap();
        (gates, problems)
    }

    #[test]
    fn defaults_to_conservative_bound_for_rates() {
        let (gates, problems) = load("[[gate]]\nid = \"fpr\"\nmetric = \"fpr\"\nmax = 0.1\n\n[[gate]]\nid = \"det\"\nmetric = \"detection-rate\"\nmin = 0.95\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(gates[0].bound, Bound::Upper);
        assert_eq!(gates[1].bound, Bound::Lower);
        assert_eq!(gates[1].defined_at.line, Some(6), "{}", gates[1].defined_at);
    }

    #[test]
    fn reports_every_gate_problem_with_its_line() {
        let (_, problems) = load("[[gate]]\nid = \"a\"\nmetric = \"fpr\"\nmax = 10\n\n[[gate]]\nid = \"a\"\nmetric = \"asr\"\nmax = 0.5\nmin = 0.1\n");
        let found: Vec<_> = problems.iter().map(|d| (d.code.as_str(), d.line)).collect();
        assert_eq!(
            found,
            [("invalid-threshold", Some(1)), ("duplicate-gate-id", Some(6)), ("invalid-threshold", Some(6))]
        );
    }

    #[test]
    fn unknown_metric_names_the_line() {
        let (_, problems) = load("[[gate]]\nid = \"a\"\nmetric = \"fnr\"\nmax = 0.1\n");
        assert_eq!(problems[0].code, "invalid-toml");
        assert_eq!(problems[0].line, Some(3));
    }
}
