//! Loading and validating every input before a case is replayed, all
//! problems collected at once.

use std::collections::HashSet;
use std::path::Path;

use super::progress::{with_progress, Step};
use crate::config::{load_fixtures, load_gates, load_waivers, Config};
use crate::corpus::{load_corpora_reporting, CorpusSet};
use crate::errors::{Code, Diagnostic, Error};
use crate::evaluate::{FixtureInput, FixtureSuite, Gate, Waiver};
use crate::stage_clock::StageClock;
use crate::targets::Target;

/// Everything loaded and validated before any case is replayed.
pub struct Plan {
    pub config: Config,
    pub gates: Vec<Gate>,
    pub corpus: CorpusSet,
    pub target: Box<dyn Target>,
    pub fixtures: Vec<FixtureSuite>,
    pub waivers: Vec<Waiver>,
    /// Suspicious but not wrong (empty inputs, conflicting labels, a `where`
    /// value no case has): reported and recorded, never an exit code.
    pub warnings: Vec<Diagnostic>,
}

/// Loads and validates every input, collecting all problems before failing.
/// `quiet`: no progress lines while the corpora load.
pub fn plan(config_path: &Path, quiet: bool) -> Result<Plan, Error> {
    let mut clock = StageClock::new("plan");
    let config = Config::load(config_path)?;
    let mut problems: Vec<Diagnostic> = Vec::new();
    let gates = load_gates(&config.gates, &mut problems);
    if gates.is_empty() && problems.is_empty() {
        problems.push(config.key_location(&["run", "gates"]).diagnostic(
            Code::NoGates,
            format!(
                "no gate in {} (gates/*.toml): a run without a gate could never fail; see the user guide, \"Gates, counting and statistics\"",
                config.gates.display()
            ),
        ));
    }
    let fixtures = load_fixtures(&config.fixtures, &mut problems);
    let waivers = load_waivers(&config.waivers, &mut problems);
    let target = match crate::targets::from_config(&config.target, &config.spec_file()) {
        Ok(t) => Some(t),
        Err(Error::Input(mut d)) => {
            problems.append(&mut d);
            None
        }
        Err(e) => return Err(e),
    };
    clock.mark("target");
    let loading = Step::bytes("loading corpora", 0);
    let corpus = match with_progress(loading, quiet, |p| load_corpora_reporting(&config.corpora, &config.base, p)) {
        Ok(c) => Some(c),
        Err(Error::Input(mut d)) => {
            problems.append(&mut d);
            None
        }
        Err(e) => return Err(e),
    };
    clock.mark("corpora");
    let refers_to_cases = fixtures.iter().flat_map(|s| &s.cases).any(|c| matches!(c.input, FixtureInput::Ref(_)));
    if let Some(corpus) = corpus.as_ref().filter(|_| refers_to_cases) {
        let ids: HashSet<&str> = corpus.cases.iter().map(|c| c.id.as_str()).collect();
        for suite in &fixtures {
            for case in &suite.cases {
                if let FixtureInput::Ref(id) = &case.input {
                    if !ids.contains(id.as_str()) {
                        problems.push(
                            case.defined_at
                                .diagnostic(Code::UnknownRef, format!("fixture `ref` names no corpus case `{id}`")),
                        );
                    }
                }
            }
        }
    }
    match (corpus, target) {
        (Some(corpus), Some(target)) if problems.is_empty() => {
            let mut warnings = corpus.summary.warnings.clone();
            let chains: Vec<&str> =
                config.transforms.iter().flat_map(|t| t.plan.chains.iter().map(|(c, _)| c.name.as_str())).collect();
            for gate in &gates {
                if let Some(t) = gate.filter.transform.as_deref().filter(|t| *t != "*" && !chains.contains(t)) {
                    warnings.push(gate.defined_at.diagnostic(
                        Code::UnmatchedFilter,
                        format!(
                            "gate `{}`: where transform = \"{t}\" is no chain of [transforms] (chains: {})",
                            gate.id,
                            if chains.is_empty() { "none".to_string() } else { chains.join(", ") }
                        ),
                    ));
                }
                for (key, value) in gate.filter.unmatched(&corpus.cases) {
                    warnings.push(gate.defined_at.diagnostic(
                        Code::UnmatchedFilter,
                        format!("gate `{}`: where {key} = \"{value}\" matches no loaded case", gate.id),
                    ));
                }
            }
            Ok(Plan { config, gates, corpus, target, fixtures, waivers, warnings })
        }
        _ => Err(Error::Input(problems)),
    }
}

/// Every case the target cannot send at all (a preset's API has no place
/// for it), as errors at the case's file:line: found before any request,
/// not as one malformed request per case.
pub fn check_sendable(target: &dyn Target, cases: &[crate::corpus::Case]) -> Result<(), Error> {
    let problems: Vec<Diagnostic> = cases
        .iter()
        .filter_map(|c| {
            let why = target.cannot_send(c)?;
            Some(
                Diagnostic::new(c.origin.path.as_ref(), Code::UnsupportedCaseKind, format!("case `{}`: {why}", c.id))
                    .at_line(c.origin.line),
            )
        })
        .take(crate::errors::DIAGNOSTIC_CAP)
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Input(problems))
    }
}
