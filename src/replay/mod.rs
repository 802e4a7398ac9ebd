//! Replay: cases through a target, one [`CaseResult`] per case, in corpus order.
//!
//! `CaseResult` is also the line format of `results.jsonl`, so everything
//! downstream (metrics, reports, merge, calibration) reads the same record
//! whether it comes from a live replay or a saved file.

pub mod journal;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::corpus::{Case, Decision, Direction, Label, Payload};
use crate::errors::Error;
use crate::targets::{CaseError, Outcome, Progress, Replayed, Target};

/// One case's ground truth and outcome. A line of `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CaseResult {
    pub id: String,
    pub label: Label,
    pub category: Arc<str>,
    pub source: Arc<str>,
    /// The dataset (corpus.toml `name`, or file stem) the case came from.
    pub dataset: Arc<str>,
    /// The tenant the case was sent for (`context.tenant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Arc<str>>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Decision>,
    pub input: Payload,
    /// `null` when the target failed for this case (see `error`).
    pub decision: Option<Decision>,
    pub score: Option<f64>,
    pub reasons: Vec<Arc<str>>,
    pub latency_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_latency_us: Option<u64>,
    /// Time the request waited in the target's queue before the target was
    /// free to start it; never part of `latency_us`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_us: Option<u64>,
    #[serde(default = "one")]
    pub attempts: u32,
    /// Boxed, like `repeats`: rare, and a million results carry the field.
    pub error: Option<Box<CaseError>>,
    /// With `--repeat N`: how the N answers split (the decision above is the majority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Box<RepeatSummary>>,
    /// For a conversation: the message index at which the target blocked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_at_turn: Option<u32>,
    /// For an attack conversation: the first message that had to be blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_first_block: Option<u32>,
    /// For a robustness variant: the transform chain that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Arc<str>>,
    /// For a robustness variant: the original case's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Position in the whole corpus; only in shard results, so a merge can
    /// restore corpus order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// The answers of a case replayed several times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RepeatSummary {
    pub n: u32,
    pub allow: u32,
    pub block: u32,
    pub require_approval: u32,
    pub error: u32,
}

impl RepeatSummary {
    /// The answers disagreed (the case "flipped" between replays).
    pub fn flipped(&self) -> bool {
        [self.allow, self.block, self.require_approval, self.error].iter().filter(|&&c| c > 0).count() > 1
    }
}

fn one() -> u32 {
    1
}

impl CaseResult {
    pub fn new(case: Case, outcome: Outcome) -> Self {
        let (decision, error) = match outcome.decision {
            Ok(d) => (Some(d), None),
            Err(e) => (None, Some(Box::new(e))),
        };
        let tenant = crate::targets::tenants::tenant_of(&case).map(Arc::from);
        // Reasons are pushed one by one (capacity 4 for one reason); a
        // result lives until the run ends, a million of them at once.
        let mut reasons = outcome.reasons;
        reasons.shrink_to_fit();
        CaseResult {
            id: case.id,
            tenant,
            label: case.label,
            category: case.category,
            source: case.source,
            dataset: case.dataset,
            tags: case.tags,
            direction: case.direction,
            expected: case.expected,
            input: case.payload,
            decision,
            score: outcome.score,
            reasons,
            latency_us: outcome.latency_us,
            target_latency_us: outcome.target_latency_us,
            queue_us: outcome.queue_us,
            attempts: outcome.attempts,
            error,
            repeats: None,
            blocked_at_turn: outcome.blocked_at_turn,
            expected_first_block: case.expected_first_block,
            transform: case.transform,
            origin: case.variant_of,
            seq: None,
        }
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| &**t == tag)
    }
}

#[cfg(test)]
impl CaseResult {
    /// A minimal result for unit tests: text input equal to the id, no score.
    pub(crate) fn sample(id: &str, label: Label, decision: Option<Decision>) -> CaseResult {
        CaseResult {
            id: id.into(),
            label,
            category: Arc::from("c"),
            source: Arc::from("s"),
            dataset: Arc::from("d"),
            tenant: None,
            tags: vec![],
            direction: Direction::Ingress,
            expected: None,
            input: Payload::Text(id.into()),
            decision,
            score: None,
            reasons: vec![],
            latency_us: 1,
            target_latency_us: None,
            queue_us: None,
            attempts: 1,
            error: None,
            repeats: None,
            blocked_at_turn: None,
            expected_first_block: None,
            transform: None,
            origin: None,
            seq: None,
        }
    }
}

/// The abort rule: once at least `share` of at least `min_cases` cases
/// ended in errors that say the target is broken (it crashed, refused,
/// answered garbage or its own error), the pessimistically counted rates
/// would judge the breakage, not the gate, so the run has no honest verdict
/// (exit 3). A timeout of a live target is its slowness, judged by the
/// `error-rate` and latency gates, and does not count here; a target that
/// stops answering altogether is caught by its hang and restart limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AbortRule {
    pub share: f64,
    pub min_cases: u64,
}

impl AbortRule {
    /// `abort-error-share` and `abort-min-cases` when not configured.
    pub const DEFAULT: AbortRule = AbortRule { share: 0.5, min_cases: 50 };

    /// Whether an error of this kind says the target is broken.
    pub fn counts(kind: crate::targets::ErrorKind) -> bool {
        kind != crate::targets::ErrorKind::Timeout
    }

    /// Whether `broken` errors among `cases` outcomes break the rule.
    pub fn holds(&self, broken: u64, cases: u64) -> bool {
        cases > 0 && cases >= self.min_cases && broken as f64 >= self.share * cases as f64
    }

    /// Why the run stops, when it must.
    pub fn reason(&self, broken: u64, cases: u64, first: &str) -> String {
        format!(
            "{broken} of {cases} cases ended in target errors (abort-error-share {}); the first: {first}",
            self.share
        )
    }

    /// The rule over finished results.
    pub fn judge(&self, results: &[CaseResult]) -> Option<String> {
        let broken: Vec<&CaseError> =
            results.iter().filter_map(|r| r.error.as_deref()).filter(|e| Self::counts(e.kind)).collect();
        let n = results.len() as u64;
        self.holds(broken.len() as u64, n)
            .then(|| self.reason(broken.len() as u64, n, broken.first().map(|e| e.message.as_str()).unwrap_or("")))
    }
}

/// The abort rule applied while a replay runs: fed every outcome as it is
/// known, it says the moment the rule holds, so a broken target does not
/// cost the rest of the corpus.
pub struct AbortWatch {
    rule: AbortRule,
    cases: usize,
    state: std::sync::Mutex<WatchState>,
}

#[derive(Default)]
struct WatchState {
    /// Per case and round: 0 unseen, 1 an answer or a timeout, 2 broken.
    seen: Vec<u8>,
    outcomes: u64,
    broken: u64,
    first: Option<String>,
    holds: Option<String>,
}

impl AbortWatch {
    pub fn new(rule: AbortRule, cases: usize, rounds: u32) -> AbortWatch {
        let seen = vec![0; cases * rounds.max(1) as usize];
        AbortWatch { rule, cases, state: std::sync::Mutex::new(WatchState { seen, ..WatchState::default() }) }
    }

    /// The outcome of `case` (its index in the run) in `round`; a later
    /// call for the same case replaces the earlier one.
    pub fn observe(&self, round: u32, case: usize, outcome: &Outcome) {
        let slot = round as usize * self.cases + case;
        let mut s = self.state.lock().expect("abort watch lock");
        let broken = matches!(&outcome.decision, Err(e) if AbortRule::counts(e.kind));
        let slot_state = s.seen.get(slot).copied().unwrap_or(0);
        match slot_state {
            0 => s.outcomes += 1,
            2 => s.broken -= 1,
            _ => {}
        }
        if broken {
            s.broken += 1;
            if s.first.is_none() {
                s.first = outcome.decision.as_ref().err().map(|e| e.message.clone());
            }
        }
        if let Some(v) = s.seen.get_mut(slot) {
            *v = if broken { 2 } else { 1 };
        }
        if s.holds.is_none() && self.rule.holds(s.broken, s.outcomes) {
            let reason = self.rule.reason(s.broken, s.outcomes, s.first.as_deref().unwrap_or(""));
            s.holds = Some(format!("stopped mid-run: {reason}"));
        }
    }

    /// `Some(why)` once the rule holds.
    pub fn holds(&self) -> Option<String> {
        self.state.lock().expect("abort watch lock").holds.clone()
    }
}

/// What a replay produced.
#[derive(Debug)]
pub struct ReplayOutput {
    pub results: Vec<CaseResult>,
    /// Set when the target gave up before every case got an honest attempt.
    pub aborted: Option<String>,
}

/// How much an answer counts against the target for a case of this label
/// (lower: worse for the target). The caller derives it from the run's
/// counting policy (`CountingPolicy::severity`), so ties follow the same
/// rule as every rate; this stage does not know the policy itself.
pub type Severity<'a> = &'a (dyn Fn(Label, Option<Decision>) -> u8 + Sync);

/// Replays `cases` `n` times and keeps, per case, the majority answer; ties
/// go to the answer that counts worst for the target under the counting
/// policy (then: a failure, the answer a pessimist fears), so disagreement
/// can never flatter the target. The summary is kept for `flip-rate`.
pub fn replay_repeated(
    target: &dyn Target,
    cases: Vec<Case>,
    n: u32,
    severity: Severity,
    progress: &dyn Progress,
) -> Result<ReplayOutput, Error> {
    let progress = crate::targets::Unmetered(progress);
    replay_rounds(cases, n, severity, &mut |_, cases| target.replay(cases, &progress))
}

/// Replays round `k` of a repeated replay over the given cases.
pub type RoundReplay<'a> = dyn FnMut(u32, &[Case]) -> Result<Replayed, Error> + 'a;

/// [`replay_repeated`] with each round's replay given by the caller (a
/// resumed run replays only what its journal lacks).
pub fn replay_rounds(
    cases: Vec<Case>,
    n: u32,
    severity: Severity,
    round: &mut RoundReplay,
) -> Result<ReplayOutput, Error> {
    let mut clock = crate::stage_clock::StageClock::new("replay");
    let mut runs: Vec<Vec<Outcome>> = Vec::with_capacity(n as usize);
    let mut aborted = None;
    for k in 0..n.max(1) {
        let replayed = round(k, &cases)?;
        if replayed.outcomes.len() != cases.len() {
            return Err(Error::Target(format!(
                "target returned {} outcomes for {} cases",
                replayed.outcomes.len(),
                cases.len()
            )));
        }
        aborted = aborted.or(replayed.aborted);
        runs.push(replayed.outcomes);
    }
    if n <= 1 {
        // The common case: no majority to take.
        clock.mark("target");
        let results = into_results(cases, runs.pop().expect("one run"));
        clock.mark("results");
        return Ok(ReplayOutput { results, aborted });
    }
    let mut columns: Vec<std::vec::IntoIter<Outcome>> = runs.into_iter().map(|r| r.into_iter()).collect();
    let mut results = Vec::with_capacity(cases.len());
    for case in cases {
        let answers: Vec<Outcome> = columns.iter_mut().map(|c| c.next().expect("same length")).collect();
        let mut summary = RepeatSummary { n: answers.len() as u32, allow: 0, block: 0, require_approval: 0, error: 0 };
        for a in &answers {
            match a.decision {
                Ok(Decision::Allow) => summary.allow += 1,
                Ok(Decision::Block) => summary.block += 1,
                Ok(Decision::RequireApproval) => summary.require_approval += 1,
                Err(_) => summary.error += 1,
            }
        }
        // Candidates from worst to best for this label under the policy (a
        // pessimist's order breaks its ties); the first with the top count wins.
        let mut order: [Option<Decision>; 4] = match case.label {
            Label::Benign => [None, Some(Decision::Block), Some(Decision::RequireApproval), Some(Decision::Allow)],
            Label::Adversarial => [None, Some(Decision::Allow), Some(Decision::RequireApproval), Some(Decision::Block)],
        };
        order.sort_by_key(|&d| severity(case.label, d));
        let count = |d: Option<Decision>| match d {
            None => summary.error,
            Some(Decision::Allow) => summary.allow,
            Some(Decision::Block) => summary.block,
            Some(Decision::RequireApproval) => summary.require_approval,
        };
        let top = order.iter().map(|&d| count(d)).max().unwrap_or(0);
        let winner = order.into_iter().find(|&d| count(d) == top).expect("some answer");
        let chosen = answers
            .into_iter()
            .find(|a| a.decision.as_ref().ok().copied() == winner || (winner.is_none() && a.decision.is_err()))
            .expect("the winner was answered");
        let mut result = CaseResult::new(case, chosen);
        result.repeats = Some(Box::new(summary));
        results.push(result);
    }
    Ok(ReplayOutput { results, aborted })
}

/// Cases and their outcomes as results, converted in parallel a block at a
/// time from the end while the inputs shrink behind: holding a million
/// cases, their outcomes and their results at once was a third of a run's
/// peak memory.
fn into_results(mut cases: Vec<Case>, mut outcomes: Vec<Outcome>) -> Vec<CaseResult> {
    use rayon::prelude::*;
    const BLOCK: usize = 1 << 16;
    let mut blocks: Vec<Vec<CaseResult>> = Vec::new();
    while !cases.is_empty() {
        let at = cases.len().saturating_sub(BLOCK);
        blocks.push(cases.par_drain(at..).zip(outcomes.par_drain(at..)).map(|(c, o)| CaseResult::new(c, o)).collect());
        cases.shrink_to_fit();
        outcomes.shrink_to_fit();
    }
    let mut results = Vec::with_capacity(blocks.iter().map(Vec::len).sum());
    while let Some(block) = blocks.pop() {
        results.extend(block);
    }
    results
}

/// Replays `cases` through `target` once. Every case gets exactly one result.
pub fn replay(target: &dyn Target, cases: Vec<Case>, progress: &dyn Progress) -> Result<ReplayOutput, Error> {
    replay_repeated(target, cases, 1, &|_, _| 0, progress)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::targets::{ErrorKind, Replayed, TargetFingerprint};

    /// Answers from a script: call k gives `script[k]` for every case.
    struct Scripted {
        script: Vec<Result<Decision, ErrorKind>>,
        calls: AtomicU32,
    }

    impl Target for Scripted {
        fn fingerprint(&self) -> TargetFingerprint {
            TargetFingerprint {
                kind: "test".into(),
                description: String::new(),
                version: None,
                hash: String::new(),
                throttled_ms: None,
                latency_method: None,
                latency_resolution_us: None,
                restarts: None,
            }
        }

        fn replay(&self, cases: &[Case], _: &dyn crate::targets::ReplayProgress) -> Result<Replayed, Error> {
            let k = self.calls.fetch_add(1, Ordering::SeqCst) as usize;
            let outcomes = cases
                .iter()
                .map(|_| match self.script[k] {
                    Ok(d) => Outcome {
                        decision: Ok(d),
                        score: None,
                        reasons: vec![],
                        latency_us: 1,
                        target_latency_us: None,
                        queue_us: None,
                        attempts: 1,
                        blocked_at_turn: None,
                    },
                    Err(kind) => Outcome::error(kind, "scripted", 1),
                })
                .collect();
            Ok(Replayed { outcomes, aborted: None })
        }
    }

    fn case(label: Label) -> Case {
        Case { label, ..Case::sample("c", "x") }
    }

    fn majority(label: Label, script: Vec<Result<Decision, ErrorKind>>) -> CaseResult {
        majority_under(crate::metrics::CountingPolicy::default(), label, script)
    }

    fn majority_under(
        policy: crate::metrics::CountingPolicy,
        label: Label,
        script: Vec<Result<Decision, ErrorKind>>,
    ) -> CaseResult {
        let n = script.len() as u32;
        let target = Scripted { script, calls: AtomicU32::new(0) };
        replay_repeated(&target, vec![case(label)], n, &|l, d| policy.severity(l, d), &()).unwrap().results.remove(0)
    }

    /// Regression: the tie order ignored the counting policy, so under
    /// `errors = "exclude"` a tie between a block and an error on a benign
    /// case went to the error, which the rates then left out: the false
    /// positive vanished.
    #[test]
    fn ties_follow_the_counting_policy_so_exclude_cannot_hide_a_false_positive() {
        use crate::metrics::{CountingPolicy, ErrorCounting};
        let exclude = CountingPolicy { errors: ErrorCounting::Exclude, ..CountingPolicy::default() };
        let r = majority_under(exclude, Label::Benign, vec![Err(ErrorKind::Timeout), Ok(Decision::Block)]);
        assert_eq!(r.decision, Some(Decision::Block));
        // Pessimistic counting: the error counts against the target and wins the tie.
        let r = majority(Label::Benign, vec![Ok(Decision::Block), Err(ErrorKind::Timeout)]);
        assert_eq!(r.decision, None);
    }

    #[test]
    fn results_keep_corpus_order_across_conversion_blocks() {
        let n = 3 * (1 << 16) + 5;
        let cases: Vec<Case> = (0..n).map(|i| Case::sample(&i.to_string(), "x")).collect();
        let outcomes: Vec<Outcome> = (0..n).map(|i| Outcome::error(ErrorKind::Timeout, "t", i as u64)).collect();
        let results = into_results(cases, outcomes);
        assert_eq!(results.len(), n);
        assert!(results.iter().enumerate().all(|(i, r)| r.id == i.to_string() && r.latency_us == i as u64));
    }

    #[test]
    fn majority_wins_and_disagreement_is_recorded() {
        use Decision::*;
        let r = majority(Label::Benign, vec![Ok(Allow), Ok(Block), Ok(Allow)]);
        assert_eq!(r.decision, Some(Allow));
        let rep = r.repeats.unwrap();
        assert_eq!((rep.n, rep.allow, rep.block), (3, 2, 1));
        assert!(rep.flipped());
        let r = majority(Label::Benign, vec![Ok(Allow), Ok(Allow)]);
        assert!(!r.repeats.unwrap().flipped());
    }

    #[test]
    fn ties_go_the_pessimistic_way() {
        use Decision::*;
        assert_eq!(majority(Label::Benign, vec![Ok(Allow), Ok(Block)]).decision, Some(Block));
        assert_eq!(majority(Label::Adversarial, vec![Ok(Block), Ok(Allow)]).decision, Some(Allow));
        let r = majority(Label::Adversarial, vec![Ok(Block), Err(ErrorKind::Timeout)]);
        assert_eq!(r.decision, None, "an error ties pessimistically too");
        assert_eq!(r.error.unwrap().kind, ErrorKind::Timeout);
    }
}
