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
    /// Each grown child's parent score and the edit it added.
    parents: std::collections::HashMap<Candidate, (f64, Option<(usize, EditKind)>)>,
    word_gain: Vec<f64>,
    word_tries: Vec<u32>,
    kind_gain: [f64; KINDS.len()],
    kind_tries: [u32; KINDS.len()],
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
        let n_words = words.len();
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
            parents: Default::default(),
            word_gain: vec![0.0; n_words],
            word_tries: vec![0; n_words],
            kind_gain: [0.0; KINDS.len()],
            kind_tries: [0; KINDS.len()],
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

    /// Score-guided: each round, half the variants grow one of the best
    /// few answered so far (the beam) by an edit on the word, and of the
    /// kind, whose edits lowered the score most (every word and kind is
    /// tried before any is preferred), or by a transform step; the other
    /// half explore as the random search does, so a target whose score
    /// barely moves is searched no worse than at random. The first round
    /// is all exploration, and so is every round until some variant has
    /// lowered the score: there is nothing to follow yet.
    fn guided_ideas(&mut self) -> Vec<Candidate> {
        self.learn();
        let mut out = self.random_ideas();
        // No variant has lowered the score yet: it gives nothing to follow.
        if self.beam[0].0 >= self.base_score {
            return out;
        }
        out.truncate(RANDOM_BATCH / 2);
        let parents = self.beam.clone();
        for i in 0..RANDOM_BATCH * 4 {
            if out.len() == RANDOM_BATCH {
                break;
            }
            let (parent_score, parent) = &parents[i % parents.len()];
            if let Some(child) = self.grow(parent) {
                self.parents.insert(child.clone(), (*parent_score, child_change(parent, &child)));
                out.push(child);
            }
        }
        out
    }

    /// Credits each answered child's change (the word and kind of its new
    /// edit) with how far it lowered its parent's score, and keeps the
    /// best `BEAM` variants.
    fn learn(&mut self) {
        for (score, c) in &self.observed {
            let Some((parent, change)) = self.parents.get(c) else { continue };
            let drop = if score.is_finite() { parent - score } else { 0.0 };
            if let Some((w, kind)) = change {
                let k = KINDS.iter().position(|x| x == kind).expect("a kind");
                self.word_gain[*w] += drop;
                self.word_tries[*w] += 1;
                self.kind_gain[k] += drop;
                self.kind_tries[k] += 1;
            }
        }
        let mut all = std::mem::take(&mut self.beam);
        all.append(&mut self.observed);
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        all.dedup_by(|a, b| a.1 == b.1);
        all.truncate(BEAM);
        self.beam = all;
    }

    /// `parent` with one more edit (on the most promising word, with the
    /// most promising kind) or one more transform step.
    fn grow(&mut self, parent: &Candidate) -> Option<Candidate> {
        let free: Vec<usize> = (0..self.words.len())
            .filter(|&w| self.words[w].len >= 2 && !parent.edits.iter().any(|(pw, _)| *pw == w))
            .collect();
        let chain_room = !self.singles.is_empty() && parent.chain.len() < 3;
        if free.is_empty() || (chain_room && self.rng.below(4) == 0) {
            if !chain_room {
                return None;
            }
            let mut chain = parent.chain.clone();
            chain.push(self.rng.below(self.singles.len()));
            return self.chain_of(&chain).map(|_| Candidate { edits: parent.edits.clone(), chain });
        }
        // Untried first, then by mean score drop; ties by position.
        let mean = |gain: f64, tries: u32| if tries == 0 { f64::INFINITY } else { gain / f64::from(tries) };
        let w = *free
            .iter()
            .max_by(|&&a, &&b| {
                mean(self.word_gain[a], self.word_tries[a])
                    .total_cmp(&mean(self.word_gain[b], self.word_tries[b]))
                    .then(b.cmp(&a))
            })
            .expect("a free word");
        let mut kinds: Vec<usize> = (0..KINDS.len()).collect();
        kinds.sort_by(|&a, &b| {
            mean(self.kind_gain[b], self.kind_tries[b]).total_cmp(&mean(self.kind_gain[a], self.kind_tries[a])).then(a.cmp(&b))
        });
        for k in kinds {
            let mut edits = parent.edits.clone();
            edits.push((w, KINDS[k]));
            if self.edit_applies(w, KINDS[k]) && edits::cost(&self.chars, &self.words, &edits) <= self.allowance {
                // Counted as tried now, so the next child looks elsewhere.
                self.word_tries[w] += 1;
                self.kind_tries[k] += 1;
                return Some(Candidate { edits, chain: parent.chain.clone() });
            }
        }
        self.word_tries[w] += 1;
        None
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
            let mut c = Candidate::default();
            let editable: Vec<usize> = (0..self.words.len()).filter(|&w| self.words[w].len >= 2).collect();
            if !editable.is_empty() && (self.singles.is_empty() || self.rng.below(3) > 0) {
                let most = self.allowance.min(editable.len());
                let wanted = 1 + self.rng.below(most);
                let mut pool = editable.clone();
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
            if !self.singles.is_empty() && (c.edits.is_empty() || self.rng.below(3) == 0) {
                let depth = 1 + self.rng.below(3);
                for _ in 0..depth {
                    let mut chain = c.chain.clone();
                    chain.push(self.rng.below(self.singles.len()));
                    if self.chain_of(&chain).is_some() {
                        c.chain = chain;
                    }
                }
            }
            if c.edits.is_empty() && c.chain.is_empty() {
                continue;
            }
            out.push(c);
        }
        out
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

/// The edit `child` adds to `parent` (`None`: it added a transform step).
fn child_change(parent: &Candidate, child: &Candidate) -> Option<(usize, EditKind)> {
    child.edits.iter().find(|e| !parent.edits.contains(e)).copied()
}
