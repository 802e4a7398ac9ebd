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

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Capture, Class, ClassBytes, ClassBytesRange, Hir, HirKind, Repetition};

/// Shorter anchor literals would make almost every pattern a candidate.
const MIN_ANCHOR_LEN: usize = 3;
/// Longer literals hardly cut candidates further but multiply the
/// automaton's states: the default rules' anchor DFA is 27 MB with whole
/// literals and 10 MB cut at 12 bytes, and it is walked for every byte.
const MAX_ANCHOR_LEN: usize = 12;

pub struct Matcher {
    regexes: Vec<Regex>,
    pattern_rule: Vec<usize>,
    anchors: AhoCorasick,
    /// Anchor literal index → patterns it may start.
    anchor_patterns: Vec<Vec<u32>>,
    /// Patterns checked on every text.
    always: Vec<u32>,
}

impl Matcher {
    /// `patterns[i]` belongs to rule `pattern_rule[i]`. Errors name the pattern.
    pub fn new(patterns: &[String], pattern_rule: Vec<usize>) -> Result<Matcher, (usize, String)> {
        let mut regexes = Vec::with_capacity(patterns.len());
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut anchor_patterns: Vec<Vec<u32>> = Vec::new();
        let mut index_of: std::collections::HashMap<Vec<u8>, usize> = std::collections::HashMap::new();
        let mut always = Vec::new();
        for (i, pattern) in patterns.iter().enumerate() {
            // Byte-oriented with ASCII classes: small automata; non-ASCII
            // literals still match as their UTF-8 bytes.
            let regex = Regex::builder()
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .build(pattern)
                .map_err(|e| (i, e.to_string()))?;
            regexes.push(regex);
            match prefix_literals(pattern) {
                Some(lits) => {
                    for lit in lits {
                        let slot = *index_of.entry(lit.clone()).or_insert_with(|| {
                            literals.push(lit);
                            anchor_patterns.push(Vec::new());
                            literals.len() - 1
                        });
                        anchor_patterns[slot].push(i as u32);
                    }
                }
                None => always.push(i as u32),
            }
        }
        let anchors = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&literals)
            .map_err(|e| (0, e.to_string()))?;
        Ok(Matcher { regexes, pattern_rule, anchors, anchor_patterns, always })
    }

    /// Pushes the index of every matching rule into `rules` (ascending, no
    /// repeats). `candidates` is scratch space: (pattern, start) pairs.
    pub fn matching_rules(&self, haystack: &[u8], rules: &mut Vec<usize>, candidates: &mut Vec<(u32, u32)>) {
        rules.clear();
        candidates.clear();
        for m in self.anchors.find_overlapping_iter(haystack) {
            let start = m.start() as u32;
            candidates.extend(self.anchor_patterns[m.pattern().as_usize()].iter().map(|&p| (p, start)));
        }
        candidates.sort_unstable();
        candidates.dedup();
        for &(p, start) in candidates.iter() {
            let rule = self.pattern_rule[p as usize];
            // One matching pattern decides its rule; skip the rule's others.
            if rules.contains(&rule) {
                continue;
            }
            let input = Input::new(haystack).range(start as usize..).anchored(Anchored::Yes).earliest(true);
            if self.regexes[p as usize].is_match(input) {
                rules.push(rule);
            }
        }
        for &p in &self.always {
            let rule = self.pattern_rule[p as usize];
            if !rules.contains(&rule) && self.regexes[p as usize].is_match(Input::new(haystack).earliest(true)) {
                rules.push(rule);
            }
        }
        rules.sort_unstable();
    }
}

/// Literals one of which every match of `pattern` starts with, or `None`
/// when they cannot be bounded usefully.
fn prefix_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(pattern).ok()?;
    let hir = one_byte_whitespace(hir);
    let seq =
        Extractor::new().kind(ExtractKind::Prefix).limit_total(512).limit_literal_len(MAX_ANCHOR_LEN).extract(&hir);
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
        let (mut r, mut c) = (Vec::new(), Vec::new());
        m.matching_rules(text.as_bytes(), &mut r, &mut c);
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
