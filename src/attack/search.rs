//! One original's search, as a state machine the driver feeds: `propose`
//! gives the next batch of variants, `observe` takes the target's answers
//! in the same order. Nothing here sends a request, so the same search runs
//! over a live target, a journal's recorded answers, or a test's closure.
//!
//! Queries are counted as an attacker sending them one after another would
//! count them: an evasion found at the k-th variant of a batch took the
//! queries before the batch plus k, even though the whole batch was sent.

use std::collections::HashSet;

use super::edits::{self, EditKind, Word, KINDS};
use crate::corpus::Payload;
use crate::transform::characters::Rng;
use crate::transform::{variant_seed, Chain};

/// A variant: edits on words of the original text, then transform steps
/// (indices into the search's single-step chains), at most three.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Candidate {
    pub edits: Vec<(usize, EditKind)>,
    pub chain: Vec<usize>,
}

/// What the target answered to one variant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Answer {
    pub allowed: bool,
    pub score: Option<f64>,
    pub error: bool,
}

/// An evasion the search found: the variant, its text (payload) and the
/// queries it took.
#[derive(Debug, Clone)]
pub struct Found {
    pub candidate: Candidate,
    pub payload: Payload,
    pub queries: usize,
}

const BEAM: usize = 3;
/// A score drop the guided search follows (scores are on 0..1).
const MEANINGFUL_DROP: f64 = 0.05;
/// Random search sends this many variants a round.
const RANDOM_BATCH: usize = 5;

pub struct Search<'a> {
    id: &'a str,
    payload: &'a Payload,
    chars: Vec<char>,
    words: Vec<Word>,
    allowance: usize,
    singles: &'a [Chain],
    seed: u64,
    rng: Rng,
    budget: usize,
    guided: bool,
    seen: HashSet<String>,
    pending: Vec<(Candidate, Payload)>,
    /// Variants sent so far.
    pub sent: usize,
    pub errors: usize,
    pub found: Option<Found>,
    /// Each answered variant's score, in order (guided search only).
    pub score_path: Vec<Option<f64>>,
    done: bool,
    /// The original's score at rest.
    base_score: f64,
    observed: Vec<(f64, Candidate)>,
    beam: Vec<(f64, Candidate)>,
}

impl<'a> Search<'a> {
    /// `guided`: the original's at-rest score is `Some` and the search may
    /// rank variants by score; otherwise it searches at random.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: &'a str,
        payload: &'a Payload,
        score_at_rest: Option<f64>,
        singles: &'a [Chain],
        budget: usize,
        max_edit_share: f64,
        seed: u64,
        guided: bool,
    ) -> Search<'a> {
        let chars: Vec<char> = match payload {
            Payload::Text(t) => t.chars().collect(),
            _ => Vec::new(),
        };
        let words = edits::words(&chars);
        let allowance = edits::allowance(&chars, max_edit_share);
        let guided = guided && score_at_rest.is_some();
        Search {
            id,
            payload,
            allowance,
            words,
            chars,
            singles,
            seed,
            rng: Rng::new(variant_seed(seed, id, "search")),
            budget,
            guided,
            seen: HashSet::new(),
            pending: Vec::new(),
            sent: 0,
            errors: 0,
            found: None,
            score_path: Vec::new(),
            done: false,
            base_score: score_at_rest.unwrap_or(1.0),
            observed: Vec::new(),
            beam: vec![(score_at_rest.unwrap_or(1.0), Candidate::default())],
        }
    }

    pub fn guided(&self) -> bool {
        self.guided
    }

    /// The variant's payload: the edits on the text, then the chain.
    pub fn render(&self, c: &Candidate) -> Option<Payload> {
        let base = match (self.payload, c.edits.is_empty()) {
            (_, true) => self.payload.clone(),
            (Payload::Text(_), false) => Payload::Text(edits::apply(&self.chars, &self.words, &c.edits)?),
            _ => return None,
        };
        if c.chain.is_empty() {
            return Some(base);
        }
        let chain = self.chain_of(&c.chain)?;
        let mut rng = Rng::new(variant_seed(self.seed, self.id, &chain.name));
        Some(chain.apply(&base, &mut rng))
    }

    fn chain_of(&self, steps: &[usize]) -> Option<Chain> {
        let mut chain = self.singles.get(*steps.first()?)?.clone();
        for &s in &steps[1..] {
            chain = chain.then(self.singles.get(s)?)?;
        }
        Some(chain)
    }

    /// The edit chain as written in `evasions.jsonl` and attack.json:
    /// `homoglyph@3+leet@5` (kind @ word number, from 1), then the steps.
    pub fn describe(&self, c: &Candidate) -> String {
        let mut edits = c.edits.clone();
        edits.sort_unstable();
        let mut parts: Vec<String> = edits.iter().map(|(w, k)| format!("{}@{}", k.as_str(), w + 1)).collect();
        if let Some(chain) = self.chain_of(&c.chain) {
            parts.push(chain.name.clone());
        }
        parts.join("+")
    }

    /// The next variants to send (empty: the search is over).
    pub fn propose(&mut self) -> Vec<Payload> {
        self.pending.clear();
        let mut idle = 0;
        while self.pending.is_empty() && self.found.is_none() && self.sent < self.budget && !self.done {
            // Ideas that are all variants already sent, again and again:
            // the space is spent.
            idle += 1;
            if idle > 25 {
                self.done = true;
                break;
            }
            let ideas = if self.guided { self.guided_ideas() } else { self.random_ideas() };
            let room = self.budget - self.sent;
            for c in ideas {
                if self.pending.len() >= room {
                    break;
                }
                let Some(payload) = self.render(&c) else { continue };
                if payload == *self.payload || !self.seen.insert(payload_key(&payload)) {
                    continue;
                }
                self.pending.push((c, payload));
            }
        }
        self.pending.iter().map(|(_, p)| p.clone()).collect()
    }

    /// The answers to the last proposal, in its order.
    pub fn observe(&mut self, answers: &[Answer]) {
        let pending = std::mem::take(&mut self.pending);
        for ((candidate, payload), answer) in pending.into_iter().zip(answers) {
            self.sent += 1;
            if answer.error {
                self.errors += 1;
            }
            if self.guided {
                self.score_path.push(answer.score);
            }
            if answer.allowed && self.found.is_none() {
                self.found = Some(Found { candidate: candidate.clone(), payload, queries: self.sent });
            }
            let score = if answer.error { f64::INFINITY } else { answer.score.unwrap_or(f64::INFINITY) };
            self.observed.push((score, candidate));
        }
    }

    /// Score-guided: each round, some variants build on the best few
    /// answered so far (the beam: their edits and steps kept, more added
    /// where they leave room), the rest explore from the original as the
    /// random search does, so a target whose score barely moves is
    /// searched about as well as at random. The first round is all
    /// exploration, and so is every round until some variant has lowered
    /// the score by [`MEANINGFUL_DROP`]: there is nothing to follow yet.
    fn guided_ideas(&mut self) -> Vec<Candidate> {
        self.learn();
        let mut out = self.random_ideas();
        // No variant has lowered the score by a margin yet: a drop in the
        // second decimal is the score's noise, nothing to follow.
        if self.beam[0].0 > self.base_score - MEANINGFUL_DROP {
            return out;
        }
        out.truncate(RANDOM_BATCH / 2);
        let parents = self.beam.clone();
        for i in 0..RANDOM_BATCH * 4 {
            if out.len() == RANDOM_BATCH {
                break;
            }
            if let Some(child) = self.random_from(&parents[i % parents.len()].1) {
                out.push(child);
            }
        }
        out
    }

    /// Keeps the best `BEAM` variants answered so far.
    fn learn(&mut self) {
        let mut all = std::mem::take(&mut self.beam);
        all.append(&mut self.observed);
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        all.dedup_by(|a, b| a.1 == b.1);
        all.truncate(BEAM);
        self.beam = all;
    }

    fn edit_applies(&self, w: usize, kind: EditKind) -> bool {
        let word = self.words[w];
        edits::edit_word(&self.chars[word.start..word.start + word.len], kind).is_some()
    }

    /// Seeded random variants: a few edits on random words, sometimes a
    /// chain of up to three transforms. The sequence does not depend on the
    /// answers, so it is the same whatever the target says.
    fn random_ideas(&mut self) -> Vec<Candidate> {
        let mut out = Vec::new();
        for _ in 0..RANDOM_BATCH * 4 {
            if out.len() == RANDOM_BATCH {
                break;
            }
            if let Some(c) = self.random_from(&Candidate::default()) {
                out.push(c);
            }
        }
        out
    }

    /// `base` with random edits on words it leaves alone (as many as the
    /// allowance takes) and, sometimes, random transform steps after its own.
    fn random_from(&mut self, base: &Candidate) -> Option<Candidate> {
        let mut c = base.clone();
        let editable: Vec<usize> = (0..self.words.len())
            .filter(|&w| self.words[w].len >= 2 && !base.edits.iter().any(|(bw, _)| *bw == w))
            .collect();
        let chain_room = 3usize.saturating_sub(base.chain.len());
        if !editable.is_empty() && (self.singles.is_empty() || chain_room == 0 || self.rng.below(3) > 0) {
            let most = self.allowance.min(editable.len());
            let wanted = 1 + self.rng.below(most);
            let mut pool = editable;
            shuffle(&mut pool, &mut self.rng);
            for w in pool.into_iter().take(wanted) {
                let kind = KINDS[self.rng.below(KINDS.len())];
                let mut edits = c.edits.clone();
                edits.push((w, kind));
                if self.edit_applies(w, kind) && edits::cost(&self.chars, &self.words, &edits) <= self.allowance {
                    c.edits = edits;
                }
            }
        }
        if !self.singles.is_empty() && chain_room > 0 && (c.edits == base.edits || self.rng.below(3) == 0) {
            let depth = 1 + self.rng.below(chain_room);
            for _ in 0..depth {
                let mut chain = c.chain.clone();
                chain.push(self.rng.below(self.singles.len()));
                if self.chain_of(&chain).is_some() {
                    c.chain = chain;
                }
            }
        }
        (c != *base).then_some(c)
    }
}

/// A payload's identity for de-duplication.
fn payload_key(p: &Payload) -> String {
    match p {
        Payload::Text(t) => t.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Fisher-Yates with the search's own generator.
fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}
