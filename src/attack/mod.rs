//! Adaptive evasion search (`gauntlet attack`): how many queries an
//! attacker needs to get a blocked request past the gate.
//!
//! Static transforms answer "is this attack stopped in base64?". An
//! attacker does not stop at a list: they send a variant, read the answer
//! (and the score, where the API returns one) and try again. For every
//! adversarial original the target blocks at rest, the search spends at
//! most `budget` queries on variants that keep the request's meaning
//! (`edits`, and the project's transforms composed up to three deep), and
//! reports the evasion rate against the number of queries.
//!
//! Two strategies, both deterministic for a seed and the target's answers:
//! *guided* when the target returns a score (build on the variants that
//! lowered the score most, beside exploring), *random* when it returns
//! only a decision. Every evasion is re-sent once
//! at the end and kept only if allowed again.
//!
//! Pure: the searches never send anything; [`search_all`] drives them
//! through a function the caller gives (a live target, a journal's
//! recorded answers, a test).

pub mod edits;
mod report;
mod search;
#[cfg(test)]
mod tests;

pub use report::{
    summarise, AttackReport, BudgetPoint, CaseRecord, CategoryRow, EditCount, Originals, Queries, ATTACK_SCHEMA,
};
pub use search::{Answer, Candidate, Found, Search};

use crate::corpus::{Case, Payload};
use crate::transform::Chain;

/// How the search chooses its next variants (`--strategy`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Guided where the original's answer carried a score, random elsewhere.
    Auto,
    /// Score-guided (falls back to random for an answer without a score).
    Guided,
    /// Seeded random search, scores ignored.
    Random,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Auto => "auto",
            Strategy::Guided => "guided",
            Strategy::Random => "random",
        }
    }
}

/// The search's knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackSettings {
    /// Variants per original, at most.
    pub budget: usize,
    pub seed: u64,
    pub strategy: Strategy,
    /// Share of an original's letters and digits the edits may change.
    pub max_edit_share: f64,
}

/// Default `--max-edit-share`: about one character in seven.
pub const DEFAULT_MAX_EDIT_SHARE: f64 = 0.15;

/// One original to search: the case and its score at rest.
pub struct Original<'a> {
    pub case: &'a Case,
    pub score_at_rest: Option<f64>,
}

/// One search's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub index: usize,
    pub guided: bool,
    pub sent: usize,
    pub errors: usize,
    pub found: Option<Found>,
    /// The edit chain of `found`.
    pub chain: Option<String>,
    pub score_path: Vec<Option<f64>>,
}

/// A query of one round: which original, and the variant to send.
pub struct Query {
    pub original: usize,
    pub payload: Payload,
}

/// Runs every search to its end, a round at a time: each round gathers
/// every running search's next variants and asks them all at once (one
/// batch to the target, as parallel as the target allows), then hands each
/// search its answers.
pub fn search_all<E>(
    originals: &[Original<'_>],
    singles: &[Chain],
    settings: &AttackSettings,
    mut ask: impl FnMut(&[Query]) -> Result<Vec<Answer>, E>,
) -> Result<Vec<Outcome>, E> {
    let guided = settings.strategy != Strategy::Random;
    let mut searches: Vec<Search> = originals
        .iter()
        .map(|o| {
            Search::new(
                &o.case.id,
                &o.case.payload,
                o.score_at_rest,
                singles,
                settings.budget,
                settings.max_edit_share,
                settings.seed,
                guided,
            )
        })
        .collect();
    loop {
        let mut batch = Vec::new();
        for (i, s) in searches.iter_mut().enumerate() {
            batch.extend(s.propose().into_iter().map(|payload| Query { original: i, payload }));
        }
        if batch.is_empty() {
            break;
        }
        let answers = ask(&batch)?;
        let mut at = 0;
        while at < batch.len() {
            let i = batch[at].original;
            let end = at + batch[at..].iter().take_while(|q| q.original == i).count();
            searches[i].observe(&answers[at..end]);
            at = end;
        }
    }
    Ok(searches
        .iter()
        .enumerate()
        .map(|(index, s)| Outcome {
            index,
            guided: s.guided(),
            sent: s.sent,
            errors: s.errors,
            chain: s.found.as_ref().map(|f| s.describe(&f.candidate)),
            found: s.found.clone(),
            score_path: s.score_path.clone(),
        })
        .collect())
}

/// The single transform steps the search composes: the lane's configured
/// chains split into steps, else every built-in transform that applies to
/// prompts (the egress ones would never make a variant of a request).
pub fn search_steps(configured: Option<&crate::transform::TransformPlan>) -> Vec<Chain> {
    let mut steps: Vec<Chain> = Vec::new();
    let mut push = |c: Chain| {
        if !steps.iter().any(|s| s.name == c.name) {
            steps.push(c);
        }
    };
    match configured {
        Some(plan) => plan.chains.iter().flat_map(|(c, _)| c.single_steps()).for_each(&mut push),
        None => crate::transform::BUILT_IN
            .iter()
            .filter(|(_, group, _)| *group != "egress")
            .filter_map(|(name, _, _)| Chain::parse(name, &[]).ok())
            .for_each(&mut push),
    }
    steps
}
