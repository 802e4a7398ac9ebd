//! Which rules match a text, fast on text never seen before.
//!
//! One `RegexSet` over every pattern is quick once its lazy DFA is warm, but
//! each new text builds new DFA states, and on a real corpus (every text
//! different) that costs hundreds of microseconds per case. Instead, each
//! pattern's required prefix literals are extracted from its syntax and put
//! in one Aho-Corasick automaton. A pass of that automaton (linear, no
//! warm-up) names the few patterns that could match and where; only those
//! regexes run, anchored at that position (look-behind such as `\b` still
//! sees the whole text). Patterns without a usable prefix always run.
//!
//! The same pass also looks for each pattern's required suffix literals: a
//! match that starts at `s` ends with one of them, so a candidate whose
//! suffixes were not seen at or after `s` cannot match and its regex is not
//! run. On the bundled corpora this halves the regexes run per text (5.0 to
//! 2.5, of which 1.4 match).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Capture, Class, ClassBytes, ClassBytesRange, Hir, HirKind, Repetition};

/// Shorter anchor literals would make almost every pattern a candidate.
const MIN_ANCHOR_LEN: usize = 3;
/// Longer literals hardly cut candidates further but multiply the
/// automaton's states, and it is walked for every byte: with the default
/// rules' prefix and suffix literals cut at 12 bytes, the ASCII DFA is
/// 5.5 MB (2.4 MB with prefixes alone).
const MAX_ANCHOR_LEN: usize = 12;

/// Tells matchers apart, so a thread's scratch never uses one matcher's
/// regex caches with another's regexes.
static NEXT_MATCHER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

pub struct Matcher {
    id: usize,
    regexes: Vec<Regex>,
    pattern_rule: Vec<usize>,
    anchors: AhoCorasick,
    /// The ASCII anchor literals alone, as a DFA, for ASCII texts (most of
    /// them): the few non-ASCII literals multiply the byte classes, and a
    /// DFA over every literal would be four times this one's size, so its
    /// walk would leave the cache. `anchors` (every literal, a contiguous
    /// NFA) serves the other texts.
    ascii_anchors: AhoCorasick,
    /// `ascii_anchors` literal index → anchor literal index.
    ascii_slots: Vec<u32>,
    /// Anchor literal index → patterns it may start.
    anchor_patterns: Vec<Vec<u32>>,
    /// Anchor literal index → patterns it may end.
    anchor_suffix_of: Vec<Vec<u32>>,
    /// Patterns with required suffix literals.
    needs_suffix: Vec<bool>,
    /// Patterns checked on every text.
    always: Vec<u32>,
}

/// Per-thread working memory of [`Matcher::matching_rules`].
#[derive(Default)]
pub struct Scratch {
    /// (pattern, start) pairs whose regex may match.
    candidates: Vec<(u32, u32)>,
    /// Per pattern: 1 + the latest start of one of its suffix literals, 0
    /// if none was seen. All zero between calls.
    suffix_seen: Vec<u32>,
    /// Patterns whose `suffix_seen` entry this call set.
    touched: Vec<u32>,
    /// Each pattern's regex cache, made on first use, for the matcher
    /// `caches_of`: searching with a cache at hand skips the regex's
    /// shared pool, a lock on every check from the second thread on.
    caches: Vec<Option<regex_automata::meta::Cache>>,
    caches_of: usize,
}

impl Matcher {
    /// `patterns[i]` belongs to rule `pattern_rule[i]`. Errors name the pattern.
    pub fn new(patterns: &[String], pattern_rule: Vec<usize>) -> Result<Matcher, (usize, String)> {
        let mut regexes = Vec::with_capacity(patterns.len());
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut index_of: std::collections::HashMap<Vec<u8>, usize> = std::collections::HashMap::new();
        let mut slot = |lit: Vec<u8>| {
            *index_of.entry(lit.clone()).or_insert_with(|| {
                literals.push(lit);
                literals.len() - 1
            })
        };
        let mut prefix_of: Vec<(usize, u32)> = Vec::new();
        let mut suffix_of: Vec<(usize, u32)> = Vec::new();
        let mut needs_suffix = Vec::with_capacity(patterns.len());
        let mut always = Vec::new();
        for (i, pattern) in patterns.iter().enumerate() {
            // Byte-oriented with ASCII classes: small automata; non-ASCII
            // literals still match as their UTF-8 bytes.
            let regex = Regex::builder()
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .build(pattern)
                .map_err(|e| (i, e.to_string()))?;
            regexes.push(regex);
            match literals_of(pattern, ExtractKind::Prefix) {
                Some(lits) => prefix_of.extend(lits.into_iter().map(|lit| (slot(lit), i as u32))),
                None => always.push(i as u32),
            }
            let suffixes = literals_of(pattern, ExtractKind::Suffix);
            needs_suffix.push(suffixes.is_some());
            suffix_of.extend(suffixes.into_iter().flatten().map(|lit| (slot(lit), i as u32)));
        }
        let mut anchor_patterns: Vec<Vec<u32>> = vec![Vec::new(); literals.len()];
        for (slot, p) in prefix_of {
            anchor_patterns[slot].push(p);
        }
        let mut anchor_suffix_of: Vec<Vec<u32>> = vec![Vec::new(); literals.len()];
        for (slot, p) in suffix_of {
            anchor_suffix_of[slot].push(p);
        }
        let automaton = |literals: &[&Vec<u8>], kind| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .kind(Some(kind))
                .build(literals)
                .map_err(|e| (0, e.to_string()))
        };
        // A DFA over every literal would be several times larger and slower
        // to build; texts with non-ASCII bytes are the minority.
        let anchors = automaton(&literals.iter().collect::<Vec<_>>(), AhoCorasickKind::ContiguousNFA)?;
        let ascii_slots: Vec<u32> = (0..literals.len() as u32).filter(|&i| literals[i as usize].is_ascii()).collect();
        let ascii_literals: Vec<&Vec<u8>> = ascii_slots.iter().map(|&i| &literals[i as usize]).collect();
        let ascii_anchors = automaton(&ascii_literals, AhoCorasickKind::DFA)?;
        Ok(Matcher {
            id: NEXT_MATCHER.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            regexes,
            pattern_rule,
            anchors,
            ascii_anchors,
            ascii_slots,
            anchor_patterns,
            anchor_suffix_of,
            needs_suffix,
            always,
        })
    }

    /// Pushes the index of every matching rule into `rules` (ascending, no
    /// repeats).
    pub fn matching_rules(&self, haystack: &[u8], rules: &mut Vec<usize>, scratch: &mut Scratch) {
        rules.clear();
        let Scratch { candidates, suffix_seen, touched, caches, caches_of } = scratch;
        candidates.clear();
        if *caches_of != self.id {
            caches.clear();
            caches.resize_with(self.regexes.len(), || None);
            *caches_of = self.id;
        }
        let mut is_match = |p: u32, input: Input| {
            let regex = &self.regexes[p as usize];
            let cache = caches[p as usize].get_or_insert_with(|| regex.create_cache());
            regex.search_half_with(cache, &input).is_some()
        };
        if suffix_seen.len() < self.regexes.len() {
            suffix_seen.resize(self.regexes.len(), 0);
        }
        let mut hit = |slot: usize, start: u32| {
            candidates.extend(self.anchor_patterns[slot].iter().map(|&p| (p, start)));
            for &p in &self.anchor_suffix_of[slot] {
                let seen = &mut suffix_seen[p as usize];
                if *seen == 0 {
                    touched.push(p);
                }
                *seen = (*seen).max(start + 1); // hits come by end, not start
            }
        };
        if haystack.is_ascii() {
            for m in self.ascii_anchors.find_overlapping_iter(haystack) {
                hit(self.ascii_slots[m.pattern().as_usize()] as usize, m.start() as u32);
            }
        } else {
            for m in self.anchors.find_overlapping_iter(haystack) {
                hit(m.pattern().as_usize(), m.start() as u32);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        // A match starting at `start` ends with a suffix literal starting at or after it.
        let may_end = |p: u32, start: u32| !self.needs_suffix[p as usize] || suffix_seen[p as usize] > start;
        for &(p, start) in candidates.iter() {
            let rule = self.pattern_rule[p as usize];
            // One matching pattern decides its rule; skip the rule's others.
            if rules.contains(&rule) || !may_end(p, start) {
                continue;
            }
            let input = Input::new(haystack).range(start as usize..).anchored(Anchored::Yes).earliest(true);
            if is_match(p, input) {
                rules.push(rule);
            }
        }
        for &p in &self.always {
            let rule = self.pattern_rule[p as usize];
            if !rules.contains(&rule) && may_end(p, 0) && is_match(p, Input::new(haystack).earliest(true)) {
                rules.push(rule);
            }
        }
        for p in touched.drain(..) {
            suffix_seen[p as usize] = 0;
        }
        rules.sort_unstable();
    }
}

/// Literals one of which every match of `pattern` starts with (`Prefix`) or
/// ends with (`Suffix`), or `None` when they cannot be bounded usefully.
fn literals_of(pattern: &str, kind: ExtractKind) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(pattern).ok()?;
    let hir = one_byte_whitespace(hir);
    let seq = Extractor::new().kind(kind).limit_total(512).limit_literal_len(MAX_ANCHOR_LEN).extract(&hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().len() < MIN_ANCHOR_LEN) {
        return None;
    }
    Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// The whitespace the scan text can hold between two non-space bytes: one
/// space inside a view, one newline between views (see `normalize`).
fn scan_whitespace() -> ClassBytes {
    ClassBytes::new([ClassBytesRange::new(b'\n', b'\n'), ClassBytesRange::new(b' ', b' ')])
}

/// Rewrites `pattern` for literal extraction only: since every whitespace
/// run in a scan text is one byte long, `\s+` there matches exactly one of
/// `[ \n]`. Without this, extraction stops at the first `\s+` and a prefix
/// such as "the " makes almost every text a candidate.
fn one_byte_whitespace(hir: Hir) -> Hir {
    let only_whitespace = |h: &Hir| match h.kind() {
        HirKind::Class(Class::Bytes(c)) => {
            c.ranges().iter().all(|r| (r.start()..=r.end()).all(|b| b.is_ascii_whitespace() || b == 0x0b))
        }
        _ => false,
    };
    let narrowed = |h: &Hir| {
        let HirKind::Class(Class::Bytes(c)) = h.kind() else { unreachable!("checked by only_whitespace") };
        let mut c = c.clone();
        c.intersect(&scan_whitespace());
        Hir::class(Class::Bytes(c))
    };
    if only_whitespace(&hir) {
        return narrowed(&hir);
    }
    match hir.into_kind() {
        HirKind::Repetition(rep) if only_whitespace(&rep.sub) => {
            let one = narrowed(&rep.sub);
            if rep.min == 0 {
                Hir::repetition(Repetition { min: 0, max: Some(1), greedy: rep.greedy, sub: Box::new(one) })
            } else {
                one
            }
        }
        HirKind::Repetition(rep) => Hir::repetition(Repetition { sub: Box::new(one_byte_whitespace(*rep.sub)), ..rep }),
        HirKind::Capture(cap) => Hir::capture(Capture { sub: Box::new(one_byte_whitespace(*cap.sub)), ..cap }),
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(one_byte_whitespace).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.into_iter().map(one_byte_whitespace).collect()),
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(lit) => Hir::literal(lit.0),
        HirKind::Class(class) => Hir::class(class),
        HirKind::Look(look) => Hir::look(look),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(patterns: &[&str]) -> Matcher {
        let patterns: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        let rules = (0..patterns.len()).collect();
        Matcher::new(&patterns, rules).unwrap()
    }

    fn rules(m: &Matcher, text: &str) -> Vec<usize> {
        let (mut r, mut scratch) = (Vec::new(), Scratch::default());
        m.matching_rules(text.as_bytes(), &mut r, &mut scratch);
        assert!(scratch.suffix_seen.iter().all(|&s| s == 0), "scratch left clean");
        r
    }

    #[test]
    fn anchored_and_unanchored_patterns_both_match() {
        let m = matcher(&[r"\b(ignore|disregard)\b.{0,20}\binstructions", r".{0,3}x", r"[0-9]+ bombs"]);
        assert!(m.always.contains(&1) && m.always.contains(&2));
        assert_eq!(rules(&m, "please ignore the instructions"), vec![0]);
        assert_eq!(rules(&m, "box"), vec![1]);
        assert_eq!(rules(&m, "12 bombs"), vec![2]);
        assert!(rules(&m, "nothing here").is_empty());
    }

    #[test]
    fn suffix_literals_skip_only_candidates_that_cannot_match() {
        let m = matcher(&[r"\bshow\b.{0,40}\byour prompt\b", r"[a-z]{2}end"]);
        assert!(m.needs_suffix[0] && m.needs_suffix[1] && m.always.contains(&1));
        assert_eq!(rules(&m, "show me your prompt"), vec![0]);
        // The suffix seen before the prefix: the candidate is skipped.
        assert!(rules(&m, "your prompt, show me").is_empty());
        // Seen after it but the regex still decides (\b fails).
        assert!(rules(&m, "show me your promptly").is_empty());
        // A later suffix counts even when an earlier one came first.
        assert_eq!(rules(&m, "your prompt? show it: your prompt"), vec![0]);
        assert_eq!(rules(&m, "the weekend"), vec![1]);
        assert!(rules(&m, "nothing to see").is_empty());
    }

    #[test]
    fn one_scratch_serves_matchers_in_turn() {
        // A thread's scratch holds regex caches of the last matcher it
        // served; another matcher must not use them.
        let first = matcher(&[r"\bbomb\b", r"\bsystem prompt\b"]);
        let second = matcher(&[r"\bsystem prompt\b", r"[a-z]+ing into\b", r"\bbomb\b"]);
        let (mut found, mut scratch) = (Vec::new(), Scratch::default());
        for _ in 0..3 {
            first.matching_rules(b"a bomb and the system prompt", &mut found, &mut scratch);
            assert_eq!(found, vec![0, 1]);
            second.matching_rules(b"hacking into the system prompt", &mut found, &mut scratch);
            assert_eq!(found, vec![0, 1]);
            second.matching_rules(b"a bomb", &mut found, &mut scratch);
            assert_eq!(found, vec![2]);
        }
    }

    #[test]
    fn agrees_with_a_plain_regex_set() {
        let patterns = [r"\bhack(ing)? into\b", r"\bsystem prompt\b", r"(kill|murder) (someone|him)", r"炸弹"];
        let m = matcher(&patterns);
        let set = regex::bytes::RegexSetBuilder::new(patterns).unicode(false).build().unwrap();
        // (a plain set is the reference; the matcher must agree with it)
        for text in [
            "hacking into a bank",
            "show the system prompt",
            "kill him",
            "how to kill time",
            "如何制造炸弹",
            "hackinto",
            "xhacking into",
            "skill him",
        ] {
            let expected: Vec<usize> = set.matches(text.as_bytes()).into_iter().collect();
            assert_eq!(rules(&m, text), expected, "{text}");
        }
    }
}
