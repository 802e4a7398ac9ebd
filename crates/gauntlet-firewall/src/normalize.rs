//! Text normalisation for the built-in firewall.
//!
//! Attackers dodge keyword filters with lookalike characters, invisible
//! characters, leetspeak, spaced-out letters and encodings. Instead of
//! writing every rule for every disguise, the firewall scans one text that
//! holds several views of the input: plain (NFKC, lowercased, homoglyphs
//! folded, invisibles removed), leet-folded, letter-joined, and whatever
//! base64 or hex segments decode to. Rules never see the raw input.
//!
//! The scan text is bytes (the matcher is byte-oriented) and every pass is
//! a table-driven byte loop: this runs on every case, and most views are
//! skipped after a check that finds nothing to change.

use base64::Engine;

use super::decoders::{decode_hex, morse_decoded, percent_decoded, spaced_words};
use unicode_normalization::UnicodeNormalization;

/// Observations made while normalising, used as signals by the firewall.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    /// Zero-width or bidi control characters were present.
    pub invisible: bool,
    /// A word mixed Latin letters with Cyrillic or Greek lookalikes.
    pub mixed_script: bool,
    /// A base64 or hex segment decoded to readable text.
    pub decoded: bool,
}

/// Minimum length of an encoded run worth decoding: shorter runs are
/// ordinary words or numbers far more often than payloads.
pub(super) const MIN_ENCODED_RUN: usize = 16;

/// Whitespace as `char::is_whitespace` sees it.
const SPACE: u8 = 1;
const LETTER: u8 = 2;
/// Digits and symbols read as letters in leetspeak.
const LEET: u8 = 4;
/// Separators of spaced-out letters ("b.o.m.b").
const JOIN_SEP: u8 = 8;
/// The base64 and hex alphabets, with `\` for `\xNN` escapes.
const ENCODED: u8 = 16;

const fn byte_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        if matches!(c, b' ' | b'\t'..=b'\r') {
            class |= SPACE;
        }
        if c.is_ascii_alphabetic() {
            class |= LETTER;
        }
        if matches!(c, b'0' | b'1' | b'!' | b'|' | b'3' | b'4' | b'@' | b'5' | b'$' | b'7' | b'+' | b'8' | b'9') {
            class |= LEET;
        }
        if matches!(c, b' ' | b'.' | b'-' | b'_' | b'*' | b'/') {
            class |= JOIN_SEP;
        }
        if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'-' | b'_' | b'\\') {
            class |= ENCODED;
        }
        t[b] = class;
        b += 1;
    }
    t
}

static CLASS: [u8; 256] = byte_classes();

fn is(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

/// Appends the views of `input` to `out`, each on its own line.
///
/// The result keeps one invariant the matcher relies on: every whitespace
/// run is a single byte, a space inside a view or a newline between two
/// non-empty views. So no view is empty, none starts or ends with a space.
pub fn scan_text(input: &str, out: &mut Vec<u8>, scratch: &mut Vec<u8>) -> Signals {
    let mut signals = Signals::default();
    let view = begin_view(out);
    let hints = plain_view(input, out, &mut signals);
    if let Some(plain) = end_view(out, view) {
        // Leet and letter-joined views only when they differ from the plain one.
        scratch.clear();
        if hints.leet && leet_view(&out[plain.clone()], scratch) {
            out.push(b'\n');
            out.extend_from_slice(scratch);
        }
        // Diacritics folded on Latin letters ("bómb" reads "bomb") as a view
        // of its own: rules written with accents still see them in the plain one.
        scratch.clear();
        if out[plain.clone()].iter().any(|&b| b >= 0x80) && accent_folded_view(&out[plain.clone()], scratch) {
            out.push(b'\n');
            out.extend_from_slice(scratch);
        }
        // A ROT13 cipher of English, read back (its signal stays off: a
        // harmless puzzle in ROT13 is not an attack for being one).
        if let Some(turned) = super::decoders::rot13_view(&out[plain.clone()]) {
            out.push(b'\n');
            out.extend_from_slice(&turned);
            // ROT13 leaves digits alone, so leetspeak under it folds after.
            scratch.clear();
            if hints.leet && leet_view(&turned, scratch) {
                out.push(b'\n');
                out.extend_from_slice(scratch);
            }
        }
        scratch.clear();
        if hints.spaced && joined_view(&out[plain], scratch) {
            let joined = std::mem::take(scratch);
            if !leet_view(&joined, scratch) {
                *scratch = joined;
            }
            out.push(b'\n');
            out.extend_from_slice(scratch);
        }
    }

    // Letters spaced out with wider gaps between words ("h o w   t o"):
    // the plain view collapses the gaps, so the words are rebuilt from the
    // raw input.
    if hints.spaced && input.contains("  ") {
        if let Some(text) = spaced_words(input) {
            derived_view(&text, out, scratch, true);
        }
    }
    // Morse code (dots, dashes, `/` between words), decoded as a view.
    if let Some(text) = morse_decoded(input) {
        signals.decoded |= derived_view(&text, out, scratch, true);
    }
    // URL-encoded text, decoded once and normalised as its own view.
    if input.as_bytes().contains(&b'%') {
        if let Some(text) = percent_decoded(input) {
            signals.decoded |= derived_view(&text, out, scratch, true);
        }
    }
    // Decoded segments, normalised in turn. Full-width letters are folded
    // first: base64 is case-sensitive, so the plain view cannot serve.
    if hints.encoded {
        let folded = (!input.is_ascii()).then(|| fold_full_width(input));
        for segment in encoded_segments(folded.as_deref().unwrap_or(input)) {
            if let Some(text) = decode_segment(segment) {
                signals.decoded |= derived_view(&text, out, scratch, true);
            }
        }
    }
    signals
}

/// A decoded or rebuilt text as views of its own: its plain view, its
/// leetspeak-folded view, and (when `nested`) one more level of decoding,
/// so an encoding wrapped in another (URL-encoded leetspeak, Morse of
/// base64) is read too, while hostile nesting stays bounded. True when a
/// view was added.
fn derived_view(text: &str, out: &mut Vec<u8>, scratch: &mut Vec<u8>, nested: bool) -> bool {
    let view = begin_view(out);
    let hints = plain_view(text, out, &mut Signals::default());
    let Some(plain) = end_view(out, view) else { return false };
    scratch.clear();
    if hints.leet && leet_view(&out[plain], scratch) {
        out.push(b'\n');
        out.extend_from_slice(scratch);
    }
    if nested && hints.encoded {
        for segment in encoded_segments(text) {
            if let Some(inner) = decode_segment(segment) {
                derived_view(&inner, out, scratch, false);
            }
        }
    }
    true
}

/// Full-width ASCII forms (U+FF01..U+FF5E) as ASCII, everything else kept.
fn fold_full_width(input: &str) -> String {
    input
        .chars()
        .map(|c| match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            0x3000 => ' ',
            _ => c,
        })
        .collect()
}

/// Where a view starts: (length before its separator, start of its text).
fn begin_view(out: &mut Vec<u8>) -> (usize, usize) {
    let before = out.len();
    if !out.is_empty() {
        out.push(b'\n');
    }
    (before, out.len())
}

/// The view's byte range, or `None` (and its separator removed) when it is empty.
fn end_view(out: &mut Vec<u8>, (before, start): (usize, usize)) -> Option<std::ops::Range<usize>> {
    if out.len() == start {
        out.truncate(before);
        None
    } else {
        Some(start..out.len())
    }
}

/// `plain` with combining marks dropped and precomposed Latin letters
/// reduced to their base; true only when that changed something.
fn accent_folded_view(plain: &[u8], out: &mut Vec<u8>) -> bool {
    let Ok(text) = std::str::from_utf8(plain) else { return false };
    let mut changed = false;
    let mut utf8 = [0u8; 4];
    for c in text.chars() {
        if is_combining_mark(c) {
            changed = true;
        } else if let Some(base) = latin_base(c) {
            out.push(base.to_ascii_lowercase());
            changed = true;
        } else {
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        }
    }
    changed
}

/// Combining diacritical marks (the common block and its extensions).
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}')
}

/// The ASCII letter under a precomposed Latin letter with diacritics
/// ("é" → 'e'), from its canonical decomposition.
fn latin_base(c: char) -> Option<u8> {
    if !('\u{00C0}'..='\u{024F}').contains(&c) && !('\u{1E00}'..='\u{1EFF}').contains(&c) {
        return None;
    }
    let mut base = None;
    unicode_normalization::char::decompose_canonical(c, |d| {
        if base.is_none() && d.is_ascii_alphabetic() {
            base = Some(d as u8);
        }
    });
    base
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}')
}

/// Cyrillic and Greek letters that look like Latin ones.
fn fold_homoglyph(c: char) -> Option<char> {
    Some(match c {
        'а' | 'А' | 'α' | 'Α' => 'a',
        'в' | 'В' | 'β' | 'Β' => 'b',
        'с' | 'С' | 'ϲ' => 'c',
        'е' | 'Е' | 'ε' | 'Ε' => 'e',
        'һ' | 'Н' | 'Η' => 'h',
        'і' | 'І' | 'ι' | 'Ι' => 'i',
        'ј' | 'Ј' => 'j',
        'к' | 'К' | 'κ' | 'Κ' => 'k',
        'м' | 'М' | 'Μ' => 'm',
        'п' | 'η' | 'Ν' => 'n',
        'о' | 'О' | 'ο' | 'Ο' => 'o',
        'р' | 'Р' | 'ρ' | 'Ρ' => 'p',
        'ѕ' | 'Ѕ' => 's',
        'т' | 'Т' | 'τ' | 'Τ' => 't',
        'у' | 'У' | 'υ' | 'Υ' => 'y',
        'х' | 'Х' | 'χ' | 'Χ' => 'x',
        'ԁ' => 'd',
        'ɡ' => 'g',
        'ⅼ' | 'ӏ' => 'l',
        'ѡ' | 'ԝ' => 'w',
        _ => return None,
    })
}

/// NFKC, invisibles removed, lowercased, whitespace collapsed; lookalike
/// letters folded to Latin only inside words that also hold Latin letters,
/// so Russian or Greek text stays itself while "bоmb" (Cyrillic о) is caught.
/// Which of the other views can differ from the plain one; `true` means
/// "check", so a hint may be wrong only in the costly direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hints {
    /// A word holds both letters and leetspeak digits or symbols.
    leet: bool,
    /// Three single-character tokens in a row.
    spaced: bool,
    /// A run of base64/hex characters long enough to decode.
    encoded: bool,
}

const CHECK_ALL: Hints = Hints { leet: true, spaced: true, encoded: true };

fn plain_view(input: &str, out: &mut Vec<u8>, signals: &mut Signals) -> Hints {
    // NFKC costs tens of nanoseconds a character; most text is already in
    // NFKC (all ASCII is), which the quick check confirms cheaply.
    use unicode_normalization::{is_nfkc_quick, IsNormalized};
    if input.is_ascii() {
        return plain_view_ascii(input.as_bytes(), out);
    }
    if is_nfkc_quick(input.chars().filter(|c| !c.is_ascii())) == IsNormalized::Yes {
        // (ASCII is NFKC with combining class 0; leaving it out can turn a
        // Yes into a No, which only costs the slow path, never the reverse.)
        plain_view_chars(input.chars(), out, signals)
    } else {
        plain_view_chars(input.nfkc(), out, signals)
    }
    CHECK_ALL
}

/// ASCII has no invisibles and no lookalikes: lowercase and collapse
/// whitespace. The same pass notes which other views could differ, so the
/// common text needs no further pass.
///
/// Word at a time: the byte loop only lowercases, copies and gathers the
/// word's byte classes; the hints are worked out per word from those, and
/// only the rare word with a separator or a long encoded-looking run is
/// looked at again.
fn plain_view_ascii(bytes: &[u8], out: &mut Vec<u8>) -> Hints {
    // Written by index into room made up front: no capacity check per byte.
    let start = out.len();
    out.resize(start + bytes.len(), 0);
    let dst = &mut out[start..];
    let mut len = 0;
    let mut hints = Hints { leet: false, spaced: false, encoded: false };
    let mut single_tokens = 0; // single-character tokens in a row
    let mut i = 0;
    while i < bytes.len() {
        if CLASS[bytes[i] as usize] & SPACE != 0 {
            i += 1;
            continue;
        }
        if len > 0 {
            dst[len] = b' ';
            len += 1;
        }
        let word_start = i;
        let mut word = 0u8; // classes seen in the word
        while let Some(&b) = bytes.get(i) {
            let class = CLASS[b as usize];
            if class & SPACE != 0 {
                break;
            }
            word |= class;
            dst[len] = b.to_ascii_lowercase();
            len += 1;
            i += 1;
        }
        let text = &bytes[word_start..i];
        hints.leet |= word & (LETTER | LEET) == LETTER | LEET;
        if text.len() >= MIN_ENCODED_RUN && word & ENCODED != 0 {
            hints.encoded |= longest_run(text, ENCODED) >= MIN_ENCODED_RUN;
        }
        // Tokens are split by spaces and join separators; a run of three
        // single-character tokens may letter-join.
        if word & JOIN_SEP == 0 {
            single_tokens = if text.len() == 1 { single_tokens + 1 } else { 0 };
        } else {
            for token in text.split(|&b| is(b, JOIN_SEP)).filter(|t| !t.is_empty()) {
                single_tokens = if token.len() == 1 { single_tokens + 1 } else { 0 };
                hints.spaced |= single_tokens >= 3;
            }
        }
        hints.spaced |= single_tokens >= 3;
    }
    out.truncate(start + len);
    hints
}

/// The longest run of bytes of `class` in `bytes`.
fn longest_run(bytes: &[u8], class: u8) -> usize {
    let (mut longest, mut run) = (0, 0);
    for &b in bytes {
        run = if is(b, class) { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

fn plain_view_chars(chars: impl Iterator<Item = char>, out: &mut Vec<u8>, signals: &mut Signals) {
    let start = out.len();
    let mut last_space = true;
    let mut word_has_latin = false;
    let mut word_has_lookalike = false;
    let mut utf8 = [0u8; 4];
    for c in chars {
        if c.is_ascii() && !is(c as u8, SPACE) {
            word_has_latin |= c.is_ascii_alphabetic();
            out.push((c as u8).to_ascii_lowercase());
            last_space = false;
            continue;
        }
        // Unicode tag characters carry ASCII invisibly (U+E0020..E007E):
        // read them as the letters they hide.
        if ('\u{E0020}'..='\u{E007E}').contains(&c) {
            signals.invisible = true;
            let hidden = (c as u32 - 0xE0000) as u8;
            if hidden == b' ' {
                if !last_space {
                    out.push(b' ');
                    last_space = true;
                }
            } else {
                word_has_latin |= hidden.is_ascii_alphabetic();
                out.push(hidden.to_ascii_lowercase());
                last_space = false;
            }
            continue;
        }
        if is_invisible(c) || ('\u{E0000}'..='\u{E007F}').contains(&c) {
            signals.invisible = true;
            continue;
        }
        if c.is_whitespace() {
            if !last_space {
                out.push(b' ');
                last_space = true;
            }
            signals.mixed_script |= word_has_latin && word_has_lookalike;
            word_has_latin = false;
            word_has_lookalike = false;
            continue;
        }
        last_space = false;
        word_has_lookalike |= fold_homoglyph(c).is_some();
        for lower in c.to_lowercase() {
            out.extend_from_slice(lower.encode_utf8(&mut utf8).as_bytes());
        }
    }
    signals.mixed_script |= word_has_latin && word_has_lookalike;
    if last_space && out.len() > start {
        out.pop();
    }
    if signals.mixed_script {
        // Rare: rebuild the view, folding the mixed words only.
        let plain = String::from_utf8(out.split_off(start)).expect("the view was written from chars");
        for (i, word) in plain.split(' ').enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            let latin = word.bytes().any(|b| b.is_ascii_alphabetic());
            if latin && word.chars().any(|c| fold_homoglyph(c).is_some()) {
                for c in word.chars() {
                    out.extend_from_slice(fold_homoglyph(c).unwrap_or(c).encode_utf8(&mut utf8).as_bytes());
                }
            } else {
                out.extend_from_slice(word.as_bytes());
            }
        }
    }
}

/// Digits and symbols read as letters, only inside words that contain letters
/// (so "2024" and "3.14" stay numbers). Writes the view to `out` and returns
/// true only when it differs from `plain`. Only ASCII bytes change, so UTF-8
/// sequences pass through intact.
fn leet_view(plain: &[u8], out: &mut Vec<u8>) -> bool {
    let both = LETTER | LEET;
    let changes = |word: &[u8]| word.iter().fold(0, |seen, &b| seen | CLASS[b as usize]) & both == both;
    // One pass over the classes of each word's bytes; most texts stop here.
    let (mut seen, mut mixed, mut words) = (0, 0usize, 0usize);
    for &b in plain {
        if b == b' ' {
            mixed += usize::from(seen & both == both);
            words += 1;
            seen = 0;
        } else {
            seen |= CLASS[b as usize];
        }
    }
    mixed += usize::from(seen & both == both);
    words += 1;
    if mixed == 0 {
        return false;
    }
    // In text written mostly in leetspeak, short words come out as digits
    // only ("70" for "to", "4" for "a"); elsewhere such a token is a number.
    let heavy = mixed >= 3 && mixed * 10 >= words * 3;
    let short_number = |word: &[u8]| {
        let core = word.strip_suffix(b".").or_else(|| word.strip_suffix(b",")).unwrap_or(word);
        (1..=2).contains(&core.len()) && core.iter().all(u8::is_ascii_digit)
    };
    out.reserve(plain.len());
    for (i, word) in plain.split(|&b| b == b' ').enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let folds = changes(word) || (heavy && short_number(word));
        if !folds {
            out.extend_from_slice(word);
            continue;
        }
        out.extend(word.iter().map(|&b| match b {
            b'0' => b'o',
            b'1' | b'!' | b'|' => b'i',
            b'3' => b'e',
            b'4' | b'@' => b'a',
            b'5' | b'$' => b's',
            b'7' | b'+' => b't',
            b'8' => b'b',
            b'9' => b'g',
            _ => b,
        }));
    }
    true
}

/// Joins runs of three or more single characters split by separators
/// ("b o m b", "b.o.m.b", "b-o-m-b"); other separators become spaces.
/// Returns false when there was nothing to join.
fn joined_view(plain: &[u8], out: &mut Vec<u8>) -> bool {
    if !has_spaced_letters(plain) {
        return false;
    }
    let mut run_start = out.len();
    let mut run_len = 0;
    let flush = |out: &mut Vec<u8>, run_start: usize, run_len: &mut usize| {
        if *run_len >= 3 {
            // The run was written spaced ("b o m b "); join it.
            let joined: Vec<u8> = out[run_start..].iter().copied().filter(|&b| b != b' ').collect();
            out.truncate(run_start);
            out.extend_from_slice(&joined);
            out.push(b' ');
        }
        *run_len = 0;
    };
    for token in plain.split(|&b| is(b, JOIN_SEP)).filter(|t| !t.is_empty()) {
        if is_one_char(token) {
            if run_len == 0 {
                run_start = out.len();
            }
            run_len += 1;
        } else {
            flush(out, run_start, &mut run_len);
        }
        out.extend_from_slice(token);
        out.push(b' ');
    }
    flush(out, run_start, &mut run_len);
    if out.last() == Some(&b' ') {
        out.pop();
    }
    true
}

/// A token of one character: one byte, or one multi-byte UTF-8 sequence.
fn is_one_char(token: &[u8]) -> bool {
    token.len() == 1 || (token.len() <= 4 && token[1..].iter().all(|&b| b & 0xC0 == 0x80))
}

/// Whether `plain` holds three single-character tokens in a row, the only
/// case `joined_view` changes anything (checked first: it rarely does).
fn has_spaced_letters(plain: &[u8]) -> bool {
    let mut run = 0;
    for token in plain.split(|&b| is(b, JOIN_SEP)).filter(|t| !t.is_empty()) {
        run = if is_one_char(token) { run + 1 } else { 0 };
        if run >= 3 {
            return true;
        }
    }
    false
}

/// Candidate base64 / hex runs in the raw input.
fn encoded_segments(input: &str) -> impl Iterator<Item = &str> {
    let bytes = input.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() {
            let start = at + bytes[at..].iter().position(|&b| is(b, ENCODED))?;
            let end = bytes[start..].iter().position(|&b| !is(b, ENCODED)).map_or(bytes.len(), |n| start + n);
            at = end;
            if end - start >= MIN_ENCODED_RUN {
                // Runs are ASCII, so both ends are character boundaries.
                return Some(&input[start..end]);
            }
        }
        None
    })
}

/// A base64, hex or `\\u` run decoded, when it decodes to readable text.
pub(super) fn decode_segment(segment: &str) -> Option<String> {
    if segment.contains("\\u") {
        return decode_unicode_escapes(segment).filter(|t| readable(t));
    }
    let bytes = if let Some(hex) = decode_hex(segment) {
        hex
    } else {
        let trimmed = segment.trim_end_matches('=');
        // Plain words of letters only are far likelier than base64.
        if !trimmed.bytes().any(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'+' || b == b'/') {
            return None;
        }
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
            .ok()?
    };
    let text = String::from_utf8(bytes).ok()?;
    readable(&text).then_some(text)
}

/// Decoded text worth scanning: printable, and at least half letters.
fn readable(text: &str) -> bool {
    let printable = text.chars().filter(|c| !c.is_control() || c.is_whitespace()).count();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    printable == text.chars().count() && letters * 2 >= text.chars().count()
}

/// `\uXXXX` escapes (UTF-16, as JSON and JavaScript write them); other
/// text in the run is kept as it is.
fn decode_unicode_escapes(segment: &str) -> Option<String> {
    let mut units: Vec<u16> = Vec::new();
    let mut out = String::new();
    let mut rest = segment;
    while let Some(at) = rest.find("\\u") {
        if units.is_empty() {
            out.push_str(&rest[..at]);
        } else if at > 0 {
            out.push_str(&String::from_utf16(&std::mem::take(&mut units)).ok()?);
            out.push_str(&rest[..at]);
        }
        let hex = rest.get(at + 2..at + 6)?;
        units.push(u16::from_str_radix(hex, 16).ok()?);
        rest = &rest[at + 6..];
    }
    out.push_str(&String::from_utf16(&units).ok()?);
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
