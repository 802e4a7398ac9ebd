//! Decoders for the firewall's extra views: text a filter reading the
//! surface would miss because it arrives spaced out, in Morse code or
//! URL-encoded. Each returns `None` quickly for ordinary text, since every
//! case passes through them.

use super::normalize::MIN_ENCODED_RUN;

/// Words rebuilt from letters spaced one apart with wider gaps between
/// words; `None` when no gap-separated chunk is made of single letters.
pub(super) fn spaced_words(input: &str) -> Option<String> {
    let mut changed = false;
    let words: Vec<String> = input
        .split("  ")
        .map(str::trim)
        .filter(|chunk| !chunk.is_empty())
        .map(|chunk| {
            let tokens: Vec<&str> = chunk.split(' ').collect();
            if tokens.len() >= 2 && tokens.iter().all(|t| t.chars().count() == 1) {
                changed = true;
                tokens.concat()
            } else {
                chunk.to_string()
            }
        })
        .collect();
    changed.then(|| words.join(" "))
}

const MORSE: &[(&str, char)] = &[
    (".-", 'a'),
    ("-...", 'b'),
    ("-.-.", 'c'),
    ("-..", 'd'),
    (".", 'e'),
    ("..-.", 'f'),
    ("--.", 'g'),
    ("....", 'h'),
    ("..", 'i'),
    (".---", 'j'),
    ("-.-", 'k'),
    (".-..", 'l'),
    ("--", 'm'),
    ("-.", 'n'),
    ("---", 'o'),
    (".--.", 'p'),
    ("--.-", 'q'),
    (".-.", 'r'),
    ("...", 's'),
    ("-", 't'),
    ("..-", 'u'),
    ("...-", 'v'),
    (".--", 'w'),
    ("-..-", 'x'),
    ("-.--", 'y'),
    ("--..", 'z'),
    ("-----", '0'),
    (".----", '1'),
    ("..---", '2'),
    ("...--", '3'),
    ("....-", '4'),
    (".....", '5'),
    ("-....", '6'),
    ("--...", '7'),
    ("---..", '8'),
    ("----.", '9'),
    (".-.-.-", '.'),
    ("--..--", ','),
    ("..--..", '?'),
];

/// Morse code: at least ten symbols, and dots, dashes, `/` and spaces
/// making up nearly all of the text; `None` otherwise (cheap first check).
pub(super) fn morse_decoded(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    // Most text fails here without a pass over it.
    if !matches!(input.trim_start().as_bytes().first(), Some(b'.' | b'-')) {
        return None;
    }
    let symbols = bytes.iter().filter(|&&b| b == b'.' || b == b'-').count();
    if symbols < 10 || symbols * 10 < bytes.len() * 6 {
        return None;
    }
    let morse = bytes.iter().filter(|&&b| matches!(b, b'.' | b'-' | b'/' | b' ')).count();
    if morse * 10 < bytes.len() * 9 {
        return None;
    }
    let words: Vec<String> = input
        .split('/')
        .map(|word| {
            word.split_whitespace()
                .map(|code| MORSE.iter().find(|(m, _)| *m == code).map(|(_, c)| *c).unwrap_or('?'))
                .collect()
        })
        .collect();
    Some(words.join(" "))
}

/// The input with `%XX` escapes decoded, when it holds at least three of
/// them (URL-encoded text); `None` otherwise.
pub(super) fn percent_decoded(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let escapes =
        bytes.windows(3).filter(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit()).count();
    if escapes < 3 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(h)) if h.iter().all(u8::is_ascii_hexdigit) => {
                out.push(u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Hex, optionally as `\xNN` escapes.
pub(super) fn decode_hex(segment: &str) -> Option<Vec<u8>> {
    let digits: String = if segment.contains("\\x") { segment.split("\\x").collect() } else { segment.to_string() };
    if digits.len() < MIN_ENCODED_RUN
        || !digits.len().is_multiple_of(2)
        || !digits.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok()).collect()
}
