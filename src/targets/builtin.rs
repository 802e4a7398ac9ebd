//! The built-in reference firewall as a target: the adapter between the
//! `gauntlet-firewall` crate (rules, normalisation, matching, egress
//! detectors; it knows nothing of the harness) and the harness's cases,
//! outcomes and diagnostics.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use gauntlet_firewall::{ProblemKind, RulesError};
use rayon::prelude::*;

pub use gauntlet_firewall::{Judgement, Overrides, DEFAULT_RULES};

use super::{Outcome, ReplayProgress, Replayed, Target, TargetFingerprint};
use crate::corpus::{Case, Decision, Direction, Payload};
use crate::errors::{Code, Diagnostic, Error};
use crate::hashing::sha256_hex;
use crate::toml_spans::TomlSpans;

/// A compiled rule set, with what the verdict records of it.
pub struct Firewall {
    inner: gauntlet_firewall::Firewall,
    description: String,
    hash: String,
}

/// The firewall's decision in the harness's words.
fn decision(d: gauntlet_firewall::Decision) -> Decision {
    match d {
        gauntlet_firewall::Decision::Allow => Decision::Allow,
        gauntlet_firewall::Decision::Block => Decision::Block,
        gauntlet_firewall::Decision::RequireApproval => Decision::RequireApproval,
    }
}

impl Firewall {
    /// The embedded default rules.
    pub fn default_rules() -> Firewall {
        Self::embedded(Overrides::default()).expect("embedded rules are valid (tested)")
    }

    pub fn from_file(path: &Path, overrides: Overrides) -> Result<Firewall, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(path, &text, overrides)
    }

    /// The firewall with the rules embedded in the binary.
    pub fn embedded(overrides: Overrides) -> Result<Firewall, Error> {
        Self::from_toml(Path::new("<embedded rules.toml>"), DEFAULT_RULES, overrides)
    }

    /// Compiles `text` (the rules file at `path`); every problem is a
    /// diagnostic at its key.
    pub fn from_toml(path: &Path, text: &str, overrides: Overrides) -> Result<Firewall, Error> {
        let system_prompt = overrides.system_prompt.clone();
        let inner = gauntlet_firewall::Firewall::from_toml(text, overrides).map_err(|e| diagnostics(path, text, e))?;
        // What defines its behaviour: the rules and the thresholds in force.
        let hash = sha256_hex(
            format!("{text}\n{}\n{:?}\n{:?}", inner.block_threshold(), inner.approval_threshold(), system_prompt)
                .as_bytes(),
        );
        Ok(Firewall { inner, description: path.display().to_string(), hash })
    }

    pub fn block_threshold(&self) -> f64 {
        self.inner.block_threshold()
    }

    /// Judges one text.
    pub fn judge(&self, text: &str) -> Judgement {
        self.inner.judge(text)
    }

    /// Judges every text of a case together: prompt rules for ingress (a
    /// conversation turn by turn), output detectors for egress.
    pub fn judge_case(&self, case: &Case) -> (Decision, Judgement) {
        self.judge_payload(case.direction, &case.payload)
    }

    /// Judges a payload going in `direction`.
    pub fn judge_payload(&self, direction: Direction, payload: &Payload) -> (Decision, Judgement) {
        let judgement = match (&direction, payload) {
            (Direction::Egress, payload) => self.inner.judge_egress(texts(payload)),
            (Direction::Ingress, Payload::Conversation(messages)) => self.inner.judge_conversation(
                messages.iter().enumerate().filter(|(_, m)| m.role == "user").map(|(i, m)| (i, m.content.as_str())),
            ),
            (Direction::Ingress, payload) => self.inner.judge_texts(texts(payload)),
        };
        (decision(judgement.decision), judgement)
    }

    /// The outcome of one case, timed around the decision call.
    pub fn outcome(&self, case: &Case) -> Outcome {
        let start = Instant::now();
        let (decision, judgement) = self.judge_case(case);
        let latency_us = start.elapsed().as_micros() as u64;
        let mut reasons: Vec<Arc<str>> = judgement.reasons;
        reasons.shrink_to_fit();
        Outcome {
            decision: Ok(decision),
            score: Some(judgement.score),
            reasons,
            latency_us,
            target_latency_us: None,
            queue_us: None,
            attempts: 1,
            blocked_at_turn: judgement.turn,
        }
    }
}

/// Every text of a payload, in order.
fn texts(payload: &Payload) -> Vec<&str> {
    let mut out = Vec::new();
    payload.for_each_text(&mut |t| out.push(t));
    out
}

/// The crate's problems as diagnostics, each at the key it names.
fn diagnostics(path: &Path, text: &str, e: RulesError) -> Error {
    let spans = TomlSpans::parse(text);
    let problems = e
        .problems
        .into_iter()
        .map(|p| {
            let code = match p.kind {
                ProblemKind::Syntax => Code::InvalidToml,
                ProblemKind::UnknownSchema => Code::UnknownSchema,
                ProblemKind::InvalidWeight => Code::InvalidWeight,
                ProblemKind::InvalidThreshold => Code::InvalidThreshold,
                ProblemKind::InvalidPattern => Code::InvalidPattern,
            };
            let d = Diagnostic::new(path, code, p.message);
            match p.span {
                Some(span) => d.at_offset(text, span.start),
                None => d.at_key(&spans, &p.key.iter().map(String::as_str).collect::<Vec<_>>()),
            }
        })
        .collect();
    Error::Input(problems)
}

impl Target for Firewall {
    fn send_once(&self, case: &Case) -> Option<Outcome> {
        Some(self.outcome(case))
    }

    fn fingerprint(&self) -> TargetFingerprint {
        TargetFingerprint {
            kind: "builtin".into(),
            description: self.description.clone(),
            version: Some(format!("gauntlet-builtin/{}", env!("CARGO_PKG_VERSION"))),
            hash: self.hash.clone(),
            throttled_ms: None,
            latency_method: Some(super::LatencyMethod::InProcess),
            latency_resolution_us: None,
            restarts: None,
        }
    }

    fn replay(&self, cases: &[Case], progress: &dyn ReplayProgress) -> Result<Replayed, Error> {
        // An indexed collect writes straight into the result; a flattened
        // one gathered chunks and copied them, twice the outcomes' memory.
        // Progress is told once per 1,024 cases, off the per-case path.
        const EVERY: usize = 1024;
        let outcomes: Vec<Outcome> = cases
            .par_iter()
            .enumerate()
            .map(|(i, case)| {
                if (i + 1) % EVERY == 0 {
                    progress.advance(EVERY as u64);
                }
                self.outcome(case)
            })
            .collect();
        progress.advance((cases.len() % EVERY) as u64);
        Ok(Replayed { outcomes, aborted: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbook_smoke_cases_through_the_adapter() {
        let fw = Firewall::default_rules();
        let case = |text: &str| Case::sample("c", text);
        assert_eq!(fw.judge_case(&case("Explain how rain forms.")).0, Decision::Allow);
        assert_eq!(fw.judge_case(&case("How to make a bomb?")).0, Decision::Block);
    }

    #[test]
    fn invalid_rules_are_diagnostics_at_their_lines() {
        let text = "schema = \"gauntlet.rules.v1\"\nblock-threshold = 0.5\n[signals]\ninvisible = 0.1\nmixed-script = 0.1\ndecoded = 0.1\n[[rule]]\nid = \"a\"\ndescription = \"x\"\nweight = 2.0\npatterns = [\"(unclosed\"]\n";
        let Err(Error::Input(problems)) = Firewall::from_toml(Path::new("r.toml"), text, Overrides::default()) else {
            panic!("expected input error")
        };
        let at: Vec<_> = problems.iter().map(|d| (d.code.as_str(), d.line)).collect();
        assert_eq!(at, [("invalid-weight", Some(10)), ("invalid-pattern", Some(11))]);
    }

    #[test]
    fn a_threshold_override_changes_the_hash() {
        let strict = Overrides { block_threshold: Some(0.01), ..Overrides::default() };
        let strict = Firewall::from_toml(Path::new("x"), DEFAULT_RULES, strict).unwrap();
        assert_ne!(strict.hash, Firewall::default_rules().hash);
    }
}
