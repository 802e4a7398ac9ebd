//! The character edits the search makes inside words. Each keeps the
//! request readable as itself, to a person and to a model, while changing
//! the code points or tokens a filter matches:
//!
//! - `zero-width`: an invisible U+200B inside the word; it renders as the word.
//! - `homoglyph`: one letter swapped for a Cyrillic or Greek letter drawn the same.
//! - `diacritic`: a combining accent on one letter; it reads as the same letter.
//! - `case`: every other letter's case flipped (`bOmB`); case never changes a word.
//! - `split`: one space inside the word (`bo mb`); a reader joins it back.
//! - `leet`: one letter as the digit drawn like it (`b0mb`), read as the letter.
//!
//! Words are never deleted, added or reordered, and at most one edit
//! touches a word: an "evasion" that no longer asks for the same thing is
//! not one.

use serde::{Deserialize, Serialize};

use crate::transform::characters::{homoglyph_of, leet_of};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EditKind {
    ZeroWidth,
    Homoglyph,
    Diacritic,
    Case,
    Split,
    Leet,
}

pub const KINDS: [EditKind; 6] =
    [EditKind::Homoglyph, EditKind::ZeroWidth, EditKind::Split, EditKind::Leet, EditKind::Diacritic, EditKind::Case];

impl EditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EditKind::ZeroWidth => "zero-width",
            EditKind::Homoglyph => "homoglyph",
            EditKind::Diacritic => "diacritic",
            EditKind::Case => "case",
            EditKind::Split => "split",
            EditKind::Leet => "leet",
        }
    }
}

/// A word of the original text: its characters' range (in chars).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word {
    pub start: usize,
    pub len: usize,
}

/// The words (runs of letters and digits) of `chars`.
pub fn words(chars: &[char]) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in chars.iter().enumerate() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(Word { start: s, len: i - s });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(Word { start: s, len: chars.len() - s });
    }
    out
}

/// Letter positions of a word from its middle outwards: the middle of a
/// word is where an edit most often breaks the token a filter learned.
fn middle_out(word: &[char]) -> impl Iterator<Item = usize> + '_ {
    let mid = word.len() / 2;
    (0..word.len())
        .map(move |k| if k % 2 == 0 { mid + k / 2 } else { mid.wrapping_sub(k / 2 + 1) })
        .filter(|&i| i < word.len())
}

/// `word` with `kind` applied, and how many characters it changed; `None`
/// when the edit does not apply (no letter with a look-alike, a word too
/// short to split).
pub fn edit_word(word: &[char], kind: EditKind) -> Option<(Vec<char>, usize)> {
    let mut out = word.to_vec();
    match kind {
        EditKind::ZeroWidth if word.len() >= 2 => {
            out.insert(word.len() / 2, '\u{200B}');
            Some((out, 1))
        }
        EditKind::Split if word.len() >= 4 => {
            out.insert(word.len() / 2, ' ');
            Some((out, 1))
        }
        EditKind::Homoglyph => {
            let i = middle_out(word).find(|&i| homoglyph_of(word[i]).is_some())?;
            out[i] = homoglyph_of(word[i])?;
            Some((out, 1))
        }
        EditKind::Leet => {
            let i = middle_out(word).find(|&i| leet_of(word[i]).is_some())?;
            out[i] = leet_of(word[i])?;
            Some((out, 1))
        }
        EditKind::Diacritic => {
            let i = middle_out(word).find(|&i| word[i].is_alphabetic())?;
            out.insert(i + 1, '\u{0301}');
            Some((out, 1))
        }
        EditKind::Case if word.len() >= 2 => {
            let mut changed = 0;
            for (i, c) in out.iter_mut().enumerate().filter(|(i, _)| i % 2 == 1) {
                let flipped = if word[i].is_uppercase() { c.to_lowercase().next() } else { c.to_uppercase().next() };
                if let Some(f) = flipped.filter(|f| f != c) {
                    *c = f;
                    changed += 1;
                }
            }
            (changed > 0).then_some((out, changed))
        }
        _ => None,
    }
}

/// `chars` with `edits` (word index, kind) applied, at most one per word;
/// `None` if one does not apply.
pub fn apply(chars: &[char], words: &[Word], edits: &[(usize, EditKind)]) -> Option<String> {
    let mut sorted = edits.to_vec();
    sorted.sort_unstable();
    let mut out = String::with_capacity(chars.len() + edits.len() * 3);
    let mut at = 0;
    for (w, kind) in sorted {
        let word = words.get(w)?;
        if word.start < at {
            return None; // two edits on one word
        }
        out.extend(&chars[at..word.start]);
        let (edited, _) = edit_word(&chars[word.start..word.start + word.len], kind)?;
        out.extend(edited);
        at = word.start + word.len;
    }
    out.extend(&chars[at..]);
    Some(out)
}

/// Characters changed by `edits`.
pub fn cost(chars: &[char], words: &[Word], edits: &[(usize, EditKind)]) -> usize {
    edits
        .iter()
        .filter_map(|&(w, kind)| {
            words.get(w).and_then(|word| edit_word(&chars[word.start..word.start + word.len], kind))
        })
        .map(|(_, n)| n)
        .sum()
}

/// How many characters a variant of `chars` may change: `share` of its
/// letters and digits, at least one.
pub fn allowance(chars: &[char], share: f64) -> usize {
    let letters = chars.iter().filter(|c| c.is_alphanumeric()).count();
    ((letters as f64 * share).floor() as usize).max(1)
}
