//! Robustness transforms: every case can also arrive encoded, obfuscated,
//! wrapped or split, as red-team tools send it. A case and a transform
//! chain give a *variant*: id `<original id>#<chain>`, the same label and
//! category, the text transformed, and the original's id kept so metrics
//! can pair the two.
//!
//! Deterministic by construction: a randomised transform draws from a seed
//! derived from (run seed, original id, chain) alone, so a variant never
//! depends on the order, thread or shard it is made in — snapshots, shards
//! and reruns agree. Structure templates come from a data file embedded in
//! the binary and replaceable from config, like the firewall's rules.

pub mod characters;
pub mod encodings;
pub mod process;
pub mod structure;

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::corpus::{Case, Direction, Label, Message, Payload};
use crate::errors::{Code, Diagnostic};
use characters::Rng;
use structure::Template;

/// One step of a chain.
#[derive(Debug, Clone)]
enum Step {
    Base64,
    Hex,
    Rot13,
    Url,
    UnicodeEscapes,
    Morse,
    Leetspeak,
    Homoglyphs,
    ZeroWidth,
    TagCharacters,
    FullWidth,
    Spaced,
    RandomCase,
    Diacritics,
    Template(Arc<Template>),
    SplitTurns,
    DigitsSpaced,
    DigitsDashed,
    Base64Secret,
    KeySplit,
}

/// The built-in transforms: name, what it does, an example on "How do I pick a lock?"
/// (or, for egress ones, on a leaked card number or key).
pub const BUILT_IN: &[(&str, &str, &str)] = &[
    ("base64", "encoding", "SG93IGRvIEkgcGljayBhIGxvY2s/"),
    ("hex", "encoding", "486f7720646f2049207069636b2061206c6f636b3f"),
    ("rot13", "encoding", "Ubj qb V cvpx n ybpx?"),
    ("url", "encoding", "How%20do%20I%20pick%20a%20lock%3F"),
    ("unicode-escapes", "encoding", "\\u0048\\u006f\\u0077 ..."),
    ("morse", "encoding", ".... --- .-- / -.. --- / .. / ..."),
    ("leetspeak", "characters", "H0w d0 I p1ck 4 l0ck?"),
    ("homoglyphs", "characters", "Hоw dо I рiсk а lосk? (Cyrillic о, р, с, а)"),
    ("zero-width", "characters", "H\u{200B}o\u{200B}w d\u{200B}o ... (U+200B between letters)"),
    ("tag-characters", "characters", "Hello! followed by the request as invisible U+E0000 tag characters"),
    ("full-width", "characters", "Ｈｏｗ　ｄｏ　Ｉ　ｐｉｃｋ　ａ　ｌｏｃｋ？"),
    ("spaced", "characters", "H o w   d o   I   p i c k   a   l o c k ?"),
    ("random-case", "characters", "hOw Do i PiCk A lOcK?"),
    ("diacritics", "characters", "Hów dö Ì pîck ã lócḱ?"),
    (
        "split-turns",
        "structure",
        "part 1 \"How do I\", an assistant acknowledgement, part 2 \"pick a lock?\" and 'join them'",
    ),
    ("digits-spaced", "egress", "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"),
    ("digits-dashed", "egress", "4-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1"),
    ("base64-secret", "egress", "a key such as sk_live_4eC39HqLyjWDarjtT1zdp7dc sent as its base64"),
    ("key-split", "egress", "the longest key broken over two lines"),
];

/// A parsed chain (`base64+markdown-fence`): steps applied left to right.
#[derive(Debug, Clone)]
pub struct Chain {
    pub name: String,
    steps: Vec<Step>,
}

fn step(name: &str, templates: &[Arc<Template>]) -> Option<Step> {
    // A template named like a built-in replaces it.
    if let Some(t) = structure::find(templates, name) {
        return Some(Step::Template(t.clone()));
    }
    Some(match name {
        "base64" => Step::Base64,
        "hex" => Step::Hex,
        "rot13" => Step::Rot13,
        "url" => Step::Url,
        "unicode-escapes" => Step::UnicodeEscapes,
        "morse" => Step::Morse,
        "leetspeak" => Step::Leetspeak,
        "homoglyphs" => Step::Homoglyphs,
        "zero-width" => Step::ZeroWidth,
        "tag-characters" => Step::TagCharacters,
        "full-width" => Step::FullWidth,
        "spaced" => Step::Spaced,
        "random-case" => Step::RandomCase,
        "diacritics" => Step::Diacritics,
        "split-turns" => Step::SplitTurns,
        "digits-spaced" => Step::DigitsSpaced,
        "digits-dashed" => Step::DigitsDashed,
        "base64-secret" => Step::Base64Secret,
        "key-split" => Step::KeySplit,
        _ => return None,
    })
}

impl Chain {
    /// Parses `a+b+c`; the error names the unknown step.
    pub fn parse(name: &str, templates: &[Arc<Template>]) -> Result<Chain, String> {
        let steps = name
            .split('+')
            .map(|s| step(s.trim(), templates).ok_or_else(|| format!("no transform `{}`", s.trim())))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(i) = steps.iter().position(|s| matches!(s, Step::SplitTurns)) {
            if steps[i + 1..].iter().any(|s| matches!(s, Step::SplitTurns)) {
                return Err("`split-turns` can appear once in a chain".into());
            }
        }
        let chain = Chain { name: name.split('+').map(str::trim).collect::<Vec<_>>().join("+"), steps };
        if chain.egress_only() && chain.steps.iter().any(|s| matches!(s, Step::SplitTurns)) {
            // Egress steps apply to egress cases only, and `split-turns` to
            // prompts only: the chain would make nothing, without a word.
            return Err(format!(
                "`{}` can never make a variant: `split-turns` applies to prompts, the other steps to egress cases only",
                chain.name
            ));
        }
        Ok(chain)
    }

    /// Each step as a chain of its own, in order.
    pub fn single_steps(&self) -> Vec<Chain> {
        self.name
            .split('+')
            .zip(&self.steps)
            .map(|(n, s)| Chain { name: n.to_string(), steps: vec![s.clone()] })
            .collect()
    }

    /// This chain, then `next`; `None` when the two cannot go together (a
    /// second `split-turns`, or a step already in the chain).
    pub fn then(&self, next: &Chain) -> Option<Chain> {
        let names: Vec<&str> = self.name.split('+').collect();
        if next.name.split('+').any(|n| names.contains(&n)) {
            return None;
        }
        let splits = |c: &Chain| c.steps.iter().any(|s| matches!(s, Step::SplitTurns));
        if splits(self) {
            return None;
        }
        let mut steps = self.steps.clone();
        steps.extend(next.steps.iter().cloned());
        Some(Chain { name: format!("{}+{}", self.name, next.name), steps })
    }

    /// How many steps.
    pub fn depth(&self) -> usize {
        self.steps.len()
    }

    fn egress_only(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::DigitsSpaced | Step::DigitsDashed | Step::Base64Secret | Step::KeySplit))
    }

    /// Whether this chain makes a variant of `case`: text or conversation
    /// payloads (never structured requests), egress steps on egress cases
    /// only, the split across turns on prompts only.
    pub fn applies_to(&self, case: &Case) -> bool {
        let egress = case.direction == Direction::Egress;
        let splits = self.steps.iter().any(|s| matches!(s, Step::SplitTurns));
        match &case.payload {
            Payload::Structured(_) => false,
            Payload::Conversation(_) if splits => false,
            _ if egress => !splits,
            _ => !self.egress_only(),
        }
    }

    /// The transformed payload.
    pub fn apply(&self, payload: &Payload, rng: &mut Rng) -> Payload {
        let mut payload = payload.clone();
        for s in &self.steps {
            payload = match (payload, s) {
                (Payload::Text(t), Step::SplitTurns) => Payload::Conversation(structure::split_turns(&t)),
                (Payload::Text(t), s) => Payload::Text(apply_step(s, &t, rng)),
                (Payload::Conversation(msgs), s) => Payload::Conversation(
                    msgs.into_iter()
                        .map(|m| Message {
                            content: if m.role == "user" { apply_step(s, &m.content, rng) } else { m.content },
                            role: m.role,
                        })
                        .collect(),
                ),
                (other, _) => other,
            };
        }
        payload
    }
}

fn apply_step(step: &Step, s: &str, rng: &mut Rng) -> String {
    match step {
        Step::Base64 => encodings::base64(s),
        Step::Hex => encodings::hex(s),
        Step::Rot13 => encodings::rot13(s),
        Step::Url => encodings::url(s),
        Step::UnicodeEscapes => encodings::unicode_escapes(s),
        Step::Morse => encodings::morse(s),
        Step::Leetspeak => characters::leetspeak(s),
        Step::Homoglyphs => characters::homoglyphs(s, rng),
        Step::ZeroWidth => characters::zero_width(s),
        Step::TagCharacters => characters::tag_characters(s),
        Step::FullWidth => characters::full_width(s),
        Step::Spaced => characters::spaced(s),
        Step::RandomCase => characters::random_case(s, rng),
        Step::Diacritics => characters::diacritics(s, rng),
        Step::Template(t) => t.apply(s, rng),
        Step::SplitTurns => s.to_string(),
        Step::DigitsSpaced => structure::separate_digits(s, ' '),
        Step::DigitsDashed => structure::separate_digits(s, '-'),
        Step::Base64Secret => structure::base64_secret(s),
        Step::KeySplit => structure::key_split(s),
    }
}

/// Every transform name available with `templates`: the built-ins, then
/// templates not replacing one.
pub fn all_names(templates: &[Arc<Template>]) -> Vec<String> {
    let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _, _)| n.to_string()).collect();
    for t in templates {
        if !names.contains(&t.name) {
            names.push(t.name.clone());
        }
    }
    names
}

/// What a run applies, validated.
#[derive(Debug, Clone)]
pub struct TransformPlan {
    /// Each chain with the labels it applies to.
    pub chains: Vec<(Chain, Vec<Label>)>,
    pub seed: u64,
    /// At most this many originals per chain (0: all).
    pub max_per_transform: usize,
}

fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// The variant's own seed: from (run seed, original id, chain) only.
pub fn variant_seed(seed: u64, id: &str, chain: &str) -> u64 {
    let d = digest(&[&seed.to_le_bytes(), id.as_bytes(), chain.as_bytes()]);
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Original ids holding `#`, which variant ids (`<id>#<chain>`) use.
pub fn check_ids(cases: &[Case]) -> Vec<Diagnostic> {
    cases
        .iter()
        .filter(|c| c.transform.is_none() && c.id.contains('#'))
        .take(crate::errors::DIAGNOSTIC_CAP)
        .map(|c| {
            Diagnostic::new(
                c.origin.path.as_ref(),
                Code::HashInId,
                format!("case id `{}` holds `#`, which variant ids use: `<id>#<transform>`", c.id),
            )
            .at_line(c.origin.line)
        })
        .collect()
}

/// Makes every variant of `cases` under `plan`, chain by chain in config
/// order, originals in corpus order. An original id holding `#` is an
/// error (variant ids are `<id>#<chain>`).
pub fn variants(cases: &[Case], plan: &TransformPlan) -> Result<Vec<Case>, Vec<Diagnostic>> {
    let mut all = cases.to_vec();
    let before = all.len();
    append_variants(&mut all, plan)?;
    Ok(all.split_off(before))
}

/// [`variants`] appended to `cases` itself: a run's case list grows once,
/// to its final size, rather than holding the variants twice while they
/// are moved across (a million of them at 232 bytes each).
/// For each chain, the originals it makes a variant of. Materialised
/// variants (`corpus expand`) are not transformed again.
fn pick_originals(cases: &[Case], plan: &TransformPlan) -> Vec<Vec<usize>> {
    let originals: Vec<usize> = (0..cases.len()).filter(|&i| cases[i].transform.is_none()).collect();
    plan.chains
        .iter()
        .map(|(chain, labels)| {
            let c = |&i: &usize| labels.contains(&cases[i].label) && chain.applies_to(&cases[i]);
            let eligible: Vec<usize> = originals.iter().copied().filter(c).collect();
            if plan.max_per_transform == 0 || eligible.len() <= plan.max_per_transform {
                return eligible;
            }
            // The k originals with the smallest SHA-256 of (seed, id): a
            // stable sample that does not shift when other cases are added.
            let key = |i: usize| digest(&[&plan.seed.to_le_bytes(), cases[i].id.as_bytes()]);
            let mut keyed: Vec<([u8; 32], usize)> = eligible.iter().map(|&i| (key(i), i)).collect();
            keyed.sort_unstable();
            let mut keep: Vec<usize> = keyed[..plan.max_per_transform].iter().map(|(_, i)| *i).collect();
            keep.sort_unstable();
            keep
        })
        .collect()
}

/// A corpus written by `corpus expand` replayed with `[transforms]` still
/// on would hold every variant twice, under the same id: each such case,
/// at its file:line.
fn made_twice(cases: &[Case], plan: &TransformPlan, picks: &[Vec<usize>]) -> Vec<Diagnostic> {
    let materialised: std::collections::HashMap<&str, usize> =
        (0..cases.len()).filter(|&i| cases[i].transform.is_some()).map(|i| (cases[i].id.as_str(), i)).collect();
    if materialised.is_empty() {
        return Vec::new();
    }
    plan.chains
        .iter()
        .zip(picks)
        .flat_map(|((chain, _), picked)| picked.iter().map(move |&i| format!("{}#{}", cases[i].id, chain.name)))
        .filter_map(|id| materialised.get(id.as_str()).copied())
        .take(crate::errors::DIAGNOSTIC_CAP)
        .map(|i| {
            let c = &cases[i];
            Diagnostic::new(
                c.origin.path.as_ref(),
                Code::DuplicateId,
                format!("variant `{}` is in the corpus and made again by [transforms]: replay an expanded corpus with [transforms] off for this lane, or drop the file", c.id),
            )
            .at_line(c.origin.line)
        })
        .collect()
}

/// [`made_twice`] for `gauntlet check`, which makes no variant.
pub fn variants_already_in_corpus(cases: &[Case], plan: &TransformPlan) -> Vec<Diagnostic> {
    made_twice(cases, plan, &pick_originals(cases, plan))
}

pub fn append_variants(cases: &mut Vec<Case>, plan: &TransformPlan) -> Result<(), Vec<Diagnostic>> {
    use rayon::prelude::*;
    let bad = check_ids(cases);
    if !bad.is_empty() {
        return Err(bad);
    }
    let picks = pick_originals(cases, plan);
    let twice = made_twice(cases, plan, &picks);
    if !twice.is_empty() {
        return Err(twice);
    }
    cases.reserve_exact(picks.iter().map(Vec::len).sum());
    for ((chain, _), picked) in plan.chains.iter().zip(picks) {
        let transform: Arc<str> = Arc::from(chain.name.as_str());
        let made: Vec<Case> = picked
            .par_iter()
            .map(|&i| {
                let c = &cases[i];
                let mut rng = Rng::new(variant_seed(plan.seed, &c.id, &chain.name));
                let mut payload = chain.apply(&c.payload, &mut rng);
                payload.shrink_to_fit();
                Case {
                    id: format!("{}#{}", c.id, chain.name),
                    payload,
                    transform: Some(transform.clone()),
                    variant_of: Some(c.id.clone()),
                    ..c.clone()
                }
            })
            .collect();
        cases.extend(made);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
